"""The session middleware and the login API: POST /api/login, POST /api/logout, GET /api/me."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from callcenter.auth import users
from callcenter.auth.clients import client_address
from callcenter.auth.identity import USER, User, require_user
from callcenter.auth.passwords import verify_password
from callcenter.auth.ratelimit import LoginLimiter
from callcenter.auth.sessions import COOKIE_NAME, SessionStore
from callcenter.component import Component
from callcenter.feed.serialize import dumps
from callcenter.settings import AuthSettings
from callcenter.web.errors import api_error

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SESSIONS: web.AppKey[SessionStore] = web.AppKey("sessions")


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


def user_data(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "interfaces": list(user.interfaces),
        "language": user.language,
    }


async def read_json(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise api_error(400, "bad-json", "the request body must be JSON") from None


def validation_error(exc: ValidationError) -> web.HTTPException:
    problems = [
        {"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]}
        for e in exc.errors(include_input=False, include_url=False)
    ]
    first = problems[0] if problems else {"field": "", "problem": "invalid"}
    return api_error(
        400, "invalid-body", f"{first['field']}: {first['problem']}", problems=problems
    )


class AuthComponent(Component):
    name = "auth"

    def __init__(self, engine: Any, settings: AuthSettings) -> None:
        self.engine = engine
        self.settings = settings
        self.sessions = SessionStore(engine, timedelta(hours=settings.session_hours))
        self.limiter = LoginLimiter(
            engine, settings.login_max_failures, settings.login_window_seconds
        )

    def add_routes(self, app: web.Application) -> None:
        app[SESSIONS] = self.sessions
        # Every route, whichever room registered it, gets request[USER].
        app.middlewares.append(self.session_middleware)
        app.router.add_post("/api/login", self.login)
        app.router.add_post("/api/logout", self.logout)
        app.router.add_get("/api/me", self.me)

    async def start(self) -> None:
        purged = await self.sessions.purge_expired()
        if purged:
            log.info("removed %d expired session(s)", purged)
        await self.limiter.purge()

    @web.middleware
    async def session_middleware(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        token = request.cookies.get(COOKIE_NAME, "")
        user: User | None = None
        if token:
            try:
                user = await self.sessions.user_for(token)
            except Exception:
                log.exception("session lookup failed")
                raise api_error(
                    503, "database-unavailable", "cannot check the session now; try again"
                ) from None
        request[USER] = user
        return await handler(request)

    def _client_address(self, request: web.Request) -> str:
        return client_address(
            request.remote,
            request.headers.getall("X-Forwarded-For", []),
            self.settings.trusted_proxies,
        )

    async def login(self, request: web.Request) -> web.Response:
        try:
            body = LoginBody.model_validate(await read_json(request))
        except ValidationError as exc:
            raise validation_error(exc) from None
        address = self._client_address(request)
        key = self.limiter.key(body.username, address)
        wait = await self.limiter.retry_after(key)
        if wait is not None:
            retry = max(1, math.ceil(wait))
            error = api_error(
                429,
                "too-many-attempts",
                f"too many failed logins; try again in {retry} s",
                retry_after=retry,
            )
            error.headers["Retry-After"] = str(retry)
            raise error
        found = await users.find_login(self.engine, body.username)
        # Argon2 takes tens of milliseconds of CPU: keep it off the event loop.
        ok = await asyncio.to_thread(verify_password, found[1] if found else None, body.password)
        if found is None or not ok:
            await self.limiter.failed(key)
            log.info("failed login for %r from %s", body.username, address)
            raise api_error(401, "bad-credentials", "wrong username or password")
        await self.limiter.succeeded(key)
        user = found[0]
        token = await self.sessions.create(user)
        log.info("user %s logged in from %s", user.username, address)
        response = web.json_response({"user": user_data(user)}, dumps=dumps)
        response.set_cookie(
            COOKIE_NAME,
            token,
            httponly=True,
            samesite="Lax",
            path="/",
            secure=self.settings.cookie_secure,
            max_age=int(self.settings.session_hours * 3600),
        )
        return response

    async def logout(self, request: web.Request) -> web.Response:
        token = request.cookies.get(COOKIE_NAME, "")
        if token:
            await self.sessions.end(token)
        response = web.json_response({"logged_out": True}, dumps=dumps)
        response.del_cookie(COOKIE_NAME, path="/")
        return response

    async def me(self, request: web.Request) -> web.Response:
        return web.json_response({"user": user_data(require_user(request))}, dumps=dumps)
