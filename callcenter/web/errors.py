"""API errors with one machine-readable shape: ``{"status", "error", "message", ...}``."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def api_error(status: int, error: str, message: str, **details: Any) -> web.HTTPException:
    body = {"status": status, "error": error, "message": message, **details}
    text = json.dumps(body, ensure_ascii=False)
    exception = web.HTTPException(text=text, content_type="application/json")
    exception.set_status(status)
    return exception


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
            "%s %s: database unreachable (%s)", request.method, request.path, type(exc).__name__
        )
        raise api_error(
            503,
            "database-unavailable",
            "the database cannot be reached right now; try again shortly",
        ) from None
