"""OpenAPI 3.1 from the declared routes, and a plain page that reads it.

Generated here from the route table rather than by a library: the ones that fit aiohttp
(aiohttp-pydantic, aiohttp-apispec) want their own handler classes or decorators and
marshmallow or pydantic 1, while our routes already carry everything the description needs
(models, access, problems). Pydantic writes every schema; this module only assembles them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import orjson
from aiohttp import web
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from callcenter.component import Room
from callcenter.web import http
from callcenter.web.errors import (
    BAD_JSON,
    DATABASE_UNAVAILABLE,
    FORBIDDEN,
    INVALID_BODY,
    INVALID_PATH,
    INVALID_QUERY,
    NOT_LOGGED_IN,
    Problem,
)
from callcenter.web.http import PUBLIC, Route

REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}")


class ErrorBody(BaseModel):
    """The one error shape of every route."""

    status: int
    error: str
    message: str


def _schema_of(kind: Any, defs: dict[str, Any], mode: str) -> dict[str, Any]:
    """The JSON schema of a model or dataclass type, its definitions moved to ``defs``."""
    schema = TypeAdapter(kind).json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
    for name, definition in schema.pop("$defs", {}).items():
        # Two rooms' models of one name would share one schema: each route's answer would be
        # checked against the other's (two rooms once both had a ``Person``).
        if defs.setdefault(name, definition) != definition:
            raise ValueError(f"two different models are named {name}: rename one")
    return schema


def _openapi_path(path: str) -> str:
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def _parameters(route: Route, defs: dict[str, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for place, model in (("path", route.path_params), ("query", route.query)):
        names = set(_PARAM.findall(route.path)) if place == "path" else set()
        if model is not None:
            schema = _schema_of(model, defs, "validation")
            required = set(schema.get("required", ()))
            for name, prop in schema.get("properties", {}).items():
                names.discard(name)
                params.append(
                    {
                        "name": name,
                        "in": place,
                        "schema": prop,
                        "required": place == "path" or name in required,
                    }
                )
        # A path parameter no model describes is a plain string.
        params += [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
            for n in sorted(names)
        ]
    return params


def _problems(route: Route) -> list[Problem]:
    implied: list[Problem] = [DATABASE_UNAVAILABLE]
    if route.access is not PUBLIC:
        implied += [NOT_LOGGED_IN, FORBIDDEN]
    if route.body is not None:
        implied += [BAD_JSON, INVALID_BODY]
    if route.query is not None:
        implied.append(INVALID_QUERY)
    if route.path_params is not None:
        implied.append(INVALID_PATH)
    return [*implied, *route.errors]


def _responses(route: Route, defs: dict[str, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    if route.response is not None:
        content = {
            "application/json": {"schema": _schema_of(route.response, defs, "serialization")}
        }
        responses[str(route.status)] = {"description": "done", "content": content}
    elif route.content_type is not None:
        responses[str(route.status)] = {
            "description": "done",
            "content": {route.content_type: {"schema": {}}},
        }
    else:
        responses[str(route.status)] = {"description": "done"}
    by_status: dict[int, list[Problem]] = {}
    for problem in _problems(route):
        by_status.setdefault(problem.status, []).append(problem)
    for status, problems in sorted(by_status.items()):
        listed = ", ".join(
            f"`{p.error}`" + (f" ({p.summary})" if p.summary else "") for p in problems
        )
        responses[str(status)] = {
            "description": listed,
            "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorBody")}}},
        }
    return responses


def operation(route: Route, defs: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": route.summary,
        "operationId": f"{route.method.lower()}_{route.path}",
        "tags": [route.tag] if route.tag else [],
        "x-access": str(route.access),
        "responses": _responses(route, defs),
    }
    if route.description:
        op["description"] = route.description
    if route.access is not PUBLIC:
        op["security"] = [{"session": []}]
    params = _parameters(route, defs)
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema_of(route.body, defs, "validation")}},
        }
    return op


def build_spec(routes: Iterable[Route], *, title: str, version: str) -> dict[str, Any]:
    """OpenAPI 3.1 for every declared route except static files."""
    _, error_defs = models_json_schema([(ErrorBody, "serialization")], ref_template=REF)
    defs: dict[str, Any] = dict(error_defs.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if route.kind == "static":
            continue
        item = paths.setdefault(_openapi_path(route.path), {})
        item[route.method.lower()] = operation(route, defs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Access: every operation names who may call it in "
            "`x-access`: `public`, `login` (any logged-in user) or the permissions "
            "of which the user needs one.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(defs.items())),
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "cc_session"}
            },
        },
    }


def _model_name(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref")
    return str(ref).rsplit("/", 1)[-1] if ref else str(schema.get("title", ""))


def docs_page(spec: dict[str, Any]) -> str:
    """The API as one plain page: every operation, who may call it, what it takes."""
    rows: list[str] = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            params = ", ".join(f"{p['name']} ({p['in']})" for p in op.get("parameters", []))
            statuses = ", ".join(op["responses"])
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            rows.append(
                "<tr>"
                f"<td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(op['summary'])}</td>"
                f"<td><code>{html.escape(op['x-access'])}</code></td>"
                f"<td>{html.escape(params)}</td>"
                f"<td>{html.escape(_model_name(body.get('schema', {})))}"
                f"</td><td>{html.escape(statuses)}</td></tr>"
            )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(spec['info']['title'])} API</title>"
        '<link rel="stylesheet" href="/static/common/docs.css"></head><body>'
        f"<h1>{html.escape(spec['info']['title'])} API 接口</h1>"
        '<p>The whole description: <a href="/api/openapi.json">/api/openapi.json</a> '
        "(OpenAPI 3.1). 完整描述见 openapi.json。</p>"
        "<table><thead><tr><th>Method</th><th>Path 路径</th><th>What 说明</th>"
        "<th>Access 权限</th><th>Parameters 参数</th><th>Body 请求体</th>"
        "<th>Statuses 状态码</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></body></html>"
    )


class ApiDocsRoom(Room):
    """Serves the description of every route the other rooms declared."""

    name: ClassVar[str] = "api-docs"

    def __init__(self, routes: Sequence[Route], *, version: str) -> None:
        own = self._own_routes()
        self.spec = build_spec([*routes, *own], title="callcenter", version=version)
        self._json = orjson.dumps(self.spec)
        self._page = docs_page(self.spec)
        self._routes = own

    def _own_routes(self) -> list[Route]:
        return [
            http.get(
                "/api/openapi.json",
                self.openapi,
                access=PUBLIC,
                tag="api",
                kind="text",
                summary="This API's OpenAPI 3.1 description",
                content_type="application/json",
            ),
            http.get(
                "/api/docs",
                self.docs,
                access=PUBLIC,
                kind="page",
                tag="api",
                summary="This API as a readable page",
                content_type="text/html",
            ),
        ]

    def routes(self) -> Sequence[Route]:
        return self._routes

    async def openapi(self, request: web.Request) -> web.Response:
        return web.Response(body=self._json, content_type="application/json")

    async def docs(self, request: web.Request) -> web.Response:
        return web.Response(text=self._page, content_type="text/html")
