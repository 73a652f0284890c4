"""The HTTP convention on a real aiohttp server: declared access, readers, one error shape."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import BaseModel, Field

from callcenter.auth.identity import User
from callcenter.auth.permissions import Permission
from callcenter.component import Room
from callcenter.web import http
from callcenter.web.app import create_app
from callcenter.web.http import (
    LOGIN,
    PUBLIC,
    Route,
    needs,
    read_body,
    read_path,
    read_query,
    reply,
    request_user,
)

Client = TestClient[web.Request, web.Application]

AGENT = User(1, "zhang", "张三", "agent", ("PJSIP/1001",))
BOSS = User(2, "boss", "Boss", "supervisor")


class Body(BaseModel):
    name: str = Field(min_length=1, max_length=10)
    count: int = Field(ge=0, le=100)


class Query(BaseModel):
    limit: int = Field(default=5, ge=1, le=50)


class Path(BaseModel):
    id: int = Field(ge=1, le=2**63 - 1)


class Echo(BaseModel):
    user: str | None
    data: dict[str, Any]


class ExampleRoom(Room):
    name: ClassVar[str] = "example"

    def routes(self) -> Sequence[Route]:
        return [
            http.get("/api/open", self.open, access=PUBLIC, summary="open", response=Echo),
            http.get("/api/mine", self.mine, access=LOGIN, summary="any user", response=Echo),
            http.post(
                "/api/things/{id}",
                self.post,
                access=needs(Permission.QUEUES_CONTROL),
                summary="staff",
                body=Body,
                query=Query,
                path_params=Path,
                response=Echo,
            ),
        ]

    async def open(self, request: web.Request) -> web.Response:
        return reply({"user": None, "data": {}})

    async def mine(self, request: web.Request) -> web.Response:
        return reply({"user": request_user(request).username, "data": {}})

    async def post(self, request: web.Request) -> web.Response:
        path = read_path(request, Path)
        query = read_query(request, Query)
        body = await read_body(request, Body)
        return reply(
            {
                "user": request_user(request).username,
                "data": {"id": path.id, "limit": query.limit, **body.model_dump()},
            }
        )


async def _who(request: web.Request) -> User | None:
    """The test's stand-in for the auth room's session check: a header names the user."""
    return {"agent": AGENT, "boss": BOSS}.get(request.headers.get("X-Test-User", ""))


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    app = create_app([ExampleRoom()], _who)

    async def sneaked(request: web.Request) -> web.Response:
        return web.Response(text="served without a declaration")

    app.router.add_get("/api/sneaked", sneaked)  # behind register()'s back
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def _call(
    client: Client,
    method: str,
    path: str,
    user: str = "",
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> tuple[int, Any]:
    # Our own page's origin: other sites' requests are refused (tests/web/test_security.py).
    own = str(client.make_url("/")).rstrip("/")
    sent = {"X-Test-User": user, "Origin": own, **(headers or {})}
    async with client.request(method, path, headers=sent, **kwargs) as answer:
        return answer.status, await answer.json()


async def test_access_is_checked_before_the_handler(client: Client) -> None:
    assert (await _call(client, "GET", "/api/open"))[0] == 200
    status, body = await _call(client, "GET", "/api/mine")
    assert (status, body["error"]) == (401, "not-logged-in")
    assert (await _call(client, "GET", "/api/mine", "agent"))[1]["user"] == "zhang"
    status, body = await _call(client, "POST", "/api/things/7", "agent", json={})
    assert (status, body["error"], body["needs"]) == (403, "forbidden", "queues:control")
    status, body = await _call(
        client, "POST", "/api/things/7?limit=9", "boss", json={"name": "x", "count": 3}
    )
    assert status == 200
    assert body["data"] == {"id": 7, "limit": 9, "name": "x", "count": 3}


async def test_a_route_added_behind_the_registry_is_refused(client: Client) -> None:
    status, body = await _call(client, "GET", "/api/sneaked", "boss")
    assert (status, body["error"]) == (403, "forbidden")


def test_a_route_cannot_be_declared_without_access() -> None:
    with pytest.raises(TypeError):
        http.get("/api/x", ExampleRoom().open, summary="no access")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"{not json", "bad-json"),
        (b"\xff\xfe", "bad-json"),
        (b"[" * 200_000 + b"]" * 200_000, "bad-json"),
        (b'{"name": "x", "count": 101}', "invalid-body"),
        (b'{"name": "x"}', "invalid-body"),
        (b"[1, 2]", "invalid-body"),
    ],
)
async def test_bad_bodies_are_400_in_one_shape(
    client: Client,
    raw: bytes,
    error: str,
) -> None:
    status, body = await _call(
        client,
        "POST",
        "/api/things/7",
        "boss",
        data=raw,
        headers={"Content-Type": "application/json"},
    )
    assert (status, body["error"], body["status"]) == (400, error, 400)
    assert body["message"]


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/api/things/99999999999999999999999", "invalid-path"),
        ("/api/things/abc", "invalid-path"),
        ("/api/things/0", "invalid-path"),
        ("/api/things/7?limit=99999999999999999999", "invalid-query"),
        ("/api/things/7?limit=2&limit=3", "invalid-query"),
    ],
)
async def test_bad_urls_are_400_before_anything_runs(
    client: Client,
    path: str,
    error: str,
) -> None:
    status, body = await _call(client, "POST", path, "boss", json={"name": "x", "count": 1})
    assert (status, body["error"]) == (400, error)


async def test_unknown_routes_and_methods_answer_in_the_error_shape(
    client: Client,
) -> None:
    status, body = await _call(client, "GET", "/api/nothing-here")
    assert (status, body["error"]) == (404, "not-found")
    status, body = await _call(client, "DELETE", "/api/open")
    assert (status, body["error"]) == (405, "method-not-allowed")
    assert body["allowed"] == ["GET"]
