"""The aiohttp application factory: every room's declared routes behind one middleware stack."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aiohttp import web

from callcenter.component import Room
from callcenter.web.errors import api_errors, database_unavailable
from callcenter.web.http import Authenticate, access_middleware, register
from callcenter.web.security import add_security_headers, csrf_middleware
from callcenter.web.sockets import SocketRegistry, track_sockets


def create_app(
    rooms: Sequence[Room],
    authenticate: Authenticate,
    public_origins: Iterable[str] = (),
    sockets: SocketRegistry | None = None,
) -> web.Application:
    app = web.Application(
        middlewares=[
            # Outermost: every ApiError (and aiohttp's 404/405 under /api) in one shape.
            api_errors,
            # Other sites' pages change nothing and open no socket, logged in or not.
            csrf_middleware(public_origins),
            # Whatever room's handler met the database away answers the same 503.
            database_unavailable,
            # Who is calling, and may they call this route? Deny by default.
            access_middleware(authenticate),
        ]
    )
    app.on_response_prepare.append(add_security_headers)
    track_sockets(app, sockets if sockets is not None else SocketRegistry())
    for room in rooms:
        register(app, room.routes())
    return app
