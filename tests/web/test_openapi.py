"""The OpenAPI description is generated from the route declarations: every /api route is in
it with its request and response models and its access."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from callcenter.web.http import ROUTES
from callcenter.web.openapi import ApiDocsRoom, _openapi_path
from tests.web.service_app import service_app


def _spec(tmp_path: Path) -> tuple[dict[str, Any], list[Any]]:
    service, app = service_app(tmp_path)
    docs = next(room for room in service.rooms if isinstance(room, ApiDocsRoom))
    return docs.spec, app[ROUTES]


def test_every_api_route_is_described_with_models_and_access(tmp_path: Path) -> None:
    spec, routes = _spec(tmp_path)
    assert spec["openapi"].startswith("3.1")
    api = [r for r in routes if r.path.startswith("/api/")]
    assert len(api) > 30
    for route in api:
        op = spec["paths"][_openapi_path(route.path)][route.method.lower()]
        assert op["x-access"] == str(route.access), route.key
        assert op["summary"], route.key
        success = op["responses"][str(route.status)]
        content = success.get("content", {})
        assert content, f"{route.key}: no response model"
        if route.kind == "api":
            assert content["application/json"]["schema"], route.key
        if route.body is not None:
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            assert schema, route.key
        else:
            assert "requestBody" not in op, route.key
        for name in ("401", "403") if str(route.access) != "public" else ():
            assert name in op["responses"], f"{route.key}: {name} not described"


def test_schemas_referenced_are_defined(tmp_path: Path) -> None:
    spec, _ = _spec(tmp_path)
    defined = set(spec["components"]["schemas"])
    referenced: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                referenced.add(ref.rsplit("/", 1)[-1])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    assert referenced <= defined, referenced - defined
