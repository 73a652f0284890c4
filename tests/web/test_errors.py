"""The database-away middleware: one clear 503 for an unreachable database, nothing else."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.exc import IntegrityError, OperationalError

from callcenter.web.errors import api_errors, database_unavailable


def _raising(exc: BaseException) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        raise exc

    return handler


async def test_unreachable_database_is_503_and_a_failing_statement_is_not() -> None:
    app = web.Application(middlewares=[api_errors, database_unavailable])
    app.router.add_get("/away", _raising(OperationalError("SELECT secret", {}, OSError())))
    app.router.add_get("/refused", _raising(ConnectionRefusedError(111, "refused")))
    app.router.add_get("/bug", _raising(IntegrityError("INSERT x", {}, ValueError())))
    app.router.add_get("/fine", _ok)
    async with TestClient(TestServer(app)) as client:
        for path in ("/away", "/refused"):
            response = await client.get(path)
            body = await response.json()
            assert (response.status, body["error"]) == (503, "database-unavailable"), path
            assert "SELECT" not in str(body)
        assert (await client.get("/bug")).status == 500
        assert (await client.get("/fine")).status == 200


async def _ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})
