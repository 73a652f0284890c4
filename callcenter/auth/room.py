"""The auth room: who holds a session cookie, and the login API (login, logout, me)."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, ClassVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.audit.log import Audit
from callcenter.auth import users
from callcenter.auth.admin import UsersAdminApi
from callcenter.auth.clients import client_address
from callcenter.auth.identity import USER, User
from callcenter.auth.passwords import verify_password
from callcenter.auth.ratelimit import LoginLimiter
from callcenter.auth.sessions import COOKIE_NAME, SessionStore
from callcenter.component import Room
from callcenter.settings import AuthSettings
from callcenter.tasks import Spawn
from callcenter.web import http
from callcenter.web.errors import DATABASE_UNAVAILABLE, Problem
from callcenter.web.http import LOGIN, PUBLIC, Route, read_body, reply, request_user
from callcenter.web.sockets import SocketRegistry

log = logging.getLogger(__name__)

# How often open sockets' sessions are checked: one query per 500 sockets each time.
SOCKET_CHECK_SECONDS = 5.0

TOO_MANY_ATTEMPTS = Problem(429, "too-many-attempts", "too many failed logins; wait")
BAD_CREDENTIALS = Problem(401, "bad-credentials", "wrong username or password")


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class UserData(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    permissions: list[str]
    interfaces: list[str]
    language: str


class UserAnswer(BaseModel):
    user: UserData


class LoggedOut(BaseModel):
    logged_out: bool


def user_data(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "permissions": sorted(user.permissions),
        "interfaces": list(user.interfaces),
        "language": user.language,
    }


class AuthRoom(Room):
    name: ClassVar[str] = "auth"

    def __init__(
        self,
        engine: AsyncEngine,
        settings: AuthSettings,
        *,
        sockets: SocketRegistry | None = None,
        spawn: Spawn | None = None,
        audit: Audit | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        # Browser sockets opened under a session: closed when the session ends.
        self.sockets = sockets
        self._spawn = spawn
        self.audit = audit
        self.sessions = SessionStore(engine, timedelta(hours=settings.session_hours))
        self.limiter = LoginLimiter(
            engine, settings.login_max_failures, settings.login_window_seconds
        )
        self.address_limiter = LoginLimiter(
            engine, settings.login_max_failures_per_address, settings.login_window_seconds
        )

    def routes(self) -> Sequence[Route]:
        return [
            *UsersAdminApi(self.sessions, self.audit).routes(),
            http.post(
                "/api/login",
                self.login,
                access=PUBLIC,
                tag="auth",
                summary="Log in: sets the session cookie",
                body=LoginBody,
                response=UserAnswer,
                errors=(TOO_MANY_ATTEMPTS, BAD_CREDENTIALS),
            ),
            http.post(
                "/api/logout",
                self.logout,
                access=PUBLIC,
                tag="auth",
                summary="Log out: ends the session of the cookie, if any",
                response=LoggedOut,
            ),
            http.get(
                "/api/me",
                self.me,
                access=LOGIN,
                tag="auth",
                summary="The logged-in user, with their permissions",
                response=UserAnswer,
            ),
        ]

    async def start(self) -> None:
        purged = await self.sessions.purge_expired()
        if purged:
            log.info("removed %d expired session(s)", purged)
        await self.limiter.purge()
        if self.sockets is not None and self._spawn is not None:
            self._spawn(self._close_ended_sessions(), "socket-sessions")

    async def _close_ended_sessions(self) -> None:
        """Sockets stay open for hours: every few seconds, those whose session ended
        elsewhere (logout on another replica, expiry, the user disabled) are closed."""
        assert self.sockets is not None
        while True:
            await asyncio.sleep(SOCKET_CHECK_SECONDS)
            try:
                ended = await self.sessions.ended(self.sockets.sessions())
            except Exception:
                log.warning("session check of open sockets failed; retrying", exc_info=True)
                continue
            for token in ended:
                closed = await self.sockets.close_session(token, "session ended")
                log.info("closed %d socket(s) of an ended session", closed)

    async def authenticate(self, request: web.Request) -> User | None:
        """The user of the request's session cookie (None: no cookie, or no live session)."""
        token = request.cookies.get(COOKIE_NAME, "")
        if not token:
            return None
        try:
            return await self.sessions.user_for(token)
        except Exception:
            log.exception("session lookup failed")
            raise DATABASE_UNAVAILABLE("cannot check the session now; try again") from None

    def _client_address(self, request: web.Request) -> str:
        return client_address(
            request.remote,
            request.headers.getall("X-Forwarded-For", []),
            self.settings.trusted_proxies,
        )

    async def login(self, request: web.Request) -> web.Response:
        body = await read_body(request, LoginBody)
        address = self._client_address(request)
        key = self.limiter.key(body.username, address)
        # The address alone: an empty username is no username anyone can have.
        address_key = self.address_limiter.key("", address)
        wait = await self.limiter.retry_after(key)
        if wait is None:
            wait = await self.address_limiter.retry_after(address_key)
        if wait is not None:
            retry = max(1, math.ceil(wait))
            error = TOO_MANY_ATTEMPTS(
                f"too many failed logins; try again in {retry} s", retry_after=retry
            )
            error.headers["Retry-After"] = str(retry)
            raise error
        found = await users.find_login(self.engine, body.username)
        # Argon2 takes tens of milliseconds of CPU: keep it off the event loop.
        ok = await asyncio.to_thread(verify_password, found[1] if found else None, body.password)
        if found is None or not ok:
            await self.limiter.failed(key)
            await self.address_limiter.failed(address_key)
            log.info("failed login for %r from %s", body.username, address)
            if self.audit is not None:
                await self.audit.record(
                    request,
                    found[0] if found else None,
                    "login",
                    body.username,
                    ok=False,
                    username=body.username,
                    message="wrong username or password",
                )
            raise BAD_CREDENTIALS("wrong username or password")
        await self.limiter.succeeded(key)
        user = found[0]
        token = await self.sessions.create(user)
        log.info("user %s logged in from %s", user.username, address)
        if self.audit is not None:
            await self.audit.record(request, user, "login", user.username)
        response = reply({"user": user_data(user)})
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
            user = request.get(USER)  # the access middleware looked the session up already
            await self.sessions.end(token)
            if self.audit is not None and user is not None:
                await self.audit.record(request, user, "logout", user.username)
            if self.sockets is not None:
                await self.sockets.close_session(token, "logged out")
        response = reply({"logged_out": True})
        response.del_cookie(COOKIE_NAME, path="/")
        return response

    async def me(self, request: web.Request) -> web.Response:
        return reply({"user": user_data(request_user(request))})
