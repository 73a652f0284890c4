"""API errors with one machine-readable shape: ``{"status", "error", "message", ...}``.

A room names each way a request can fail once, as a ``Problem`` (status and error id), and
raises it with the message of the moment: ``raise NO_SUCH_CALL(f"there is no call {id}",
id=id)``. What it raises is an ``ApiError``; the ``api_errors`` middleware turns every one into
the JSON shape, so no handler builds an error response itself. Routes list the problems they
may answer with, and the OpenAPI description shows them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """A request refused with a status, an error id a program can test and a message a
    person can read; ``details`` go into the body beside them."""

    def __init__(self, status: int, error: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.details = details
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, Any]:
        return {"status": self.status, "error": self.error, "message": self.message, **self.details}

    def response(self) -> web.Response:
        return web.Response(
            body=orjson.dumps(self.body(), option=orjson.OPT_NON_STR_KEYS),
            status=self.status,
            content_type="application/json",
            headers=self.headers,
        )


@dataclass(frozen=True, slots=True)
class Problem:
    """One way a request can fail, named once: ``raise NO_SUCH_CALL("...", id=7)``."""

    status: int
    error: str
    summary: str = ""

    def __call__(self, message: str, **details: Any) -> ApiError:
        return ApiError(self.status, self.error, message, **details)


# Problems every route may answer with (the HTTP layer raises them, not the rooms).
NOT_LOGGED_IN = Problem(401, "not-logged-in", "nobody is logged in")
FORBIDDEN = Problem(403, "forbidden", "the user's role does not allow this")
INVALID_BODY = Problem(400, "invalid-body", "the body does not match the request model")
INVALID_QUERY = Problem(400, "invalid-query", "a query parameter is not valid")
INVALID_PATH = Problem(400, "invalid-path", "a part of the URL is not valid")
BAD_JSON = Problem(400, "bad-json", "the body is not JSON, or nested too deeply")
NOT_FOUND = Problem(404, "not-found", "no such route")
METHOD_NOT_ALLOWED = Problem(405, "method-not-allowed", "the route has no such method")
DATABASE_UNAVAILABLE = Problem(503, "database-unavailable", "the database cannot be reached")


@web.middleware
async def api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every ``ApiError`` becomes the JSON shape; so do aiohttp's own 404 and 405 under /api,
    so a program always reads one shape."""
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPNotFound:
        if not request.path.startswith("/api/"):
            raise
        return NOT_FOUND(f"no route {request.path}").response()
    except web.HTTPMethodNotAllowed as exc:
        if not request.path.startswith("/api/"):
            raise
        error = METHOD_NOT_ALLOWED(
            f"{request.method} is not allowed on {request.path}",
            allowed=sorted(exc.allowed_methods),
        )
        error.headers["Allow"] = ",".join(sorted(exc.allowed_methods))
        return error.response()


def _database_unreachable(exc: BaseException) -> bool:
    """A failure to reach the database (not a bug in a statement): refused or lost
    connections, a full pool, a locked SQLite file."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated)
    # asyncpg raises a refused connect as the OS error itself.
    return isinstance(exc, ConnectionRefusedError | ConnectionResetError)


@web.middleware
async def database_unavailable(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Any request that finds the database away gets one clear 503, not a bare 500."""
    try:
        return await handler(request)
    except (DBAPIError, PoolTimeout, ConnectionError) as exc:
        if not _database_unreachable(exc):
            raise
        # The exception's text can carry SQL and parameters: only its type is logged.
        log.warning(
            "%s %s: database unreachable (%s)",
            request.method,
            request.path,
            type(exc).__name__,
        )
        raise DATABASE_UNAVAILABLE(
            "the database cannot be reached right now; try again shortly"
        ) from None
