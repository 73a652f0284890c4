"""Other sites' pages are refused, every answer carries the security headers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callcenter.web.app import create_app
from callcenter.web.security import CONTENT_SECURITY_POLICY
from tests.web.test_http import ExampleRoom, _who

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    app = create_app([ExampleRoom()], _who, ["https://cc.example.com"])
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


def _own(client: Client) -> str:
    return str(client.make_url("/")).rstrip("/")


async def _post(client: Client, headers: dict[str, str], data: bytes | str) -> tuple[int, str]:
    sent = {"X-Test-User": "boss", **headers}
    async with client.post("/api/things/1", headers=sent, data=data) as answer:
        return answer.status, (await answer.json())["error"] if answer.status >= 400 else ""


@pytest.mark.parametrize(
    ("headers", "status", "error"),
    [
        (
            {"Origin": "http://evil.example", "Content-Type": "application/json"},
            403,
            "cross-site-refused",
        ),
        (
            {"Referer": "http://evil.example/x", "Content-Type": "application/json"},
            403,
            "cross-site-refused",
        ),
        ({"Origin": "null", "Content-Type": "application/json"}, 403, "cross-site-refused"),
        ({"Content-Type": "application/json"}, 403, "cross-site-refused"),
        ({"Origin": "OWN", "Content-Type": "text/plain"}, 415, "not-json"),
        ({"Origin": "OWN", "Content-Type": "application/x-www-form-urlencoded"}, 415, "not-json"),
        ({"Origin": "OWN", "Content-Type": "application/json"}, 200, ""),
        ({"Referer": "OWN/wallboard", "Content-Type": "application/json"}, 200, ""),
        ({"Origin": "https://cc.example.com", "Content-Type": "application/json"}, 200, ""),
    ],
)
async def test_state_changes_need_our_origin_and_json(
    client: Client, headers: dict[str, str], status: int, error: str
) -> None:
    sent = {k: v.replace("OWN", _own(client)) for k, v in headers.items()}
    assert await _post(client, sent, '{"name": "x", "count": 1}') == (status, error)


async def test_a_websocket_from_another_site_is_refused(client: Client) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/api/open", headers={"Origin": "http://evil.example"})
    assert refused.value.status == 403


@pytest.mark.parametrize("path", ["/api/open", "/api/mine", "/api/nothing"])
async def test_every_answer_carries_the_security_headers(client: Client, path: str) -> None:
    async with client.get(path) as answer:
        assert answer.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
        assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "same-origin"
        assert answer.headers["Server"] == "callcenter"
