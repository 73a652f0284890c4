"""The audit log's writer: the port rooms use to write down a security-relevant act.

Each act is written in its own short transaction, after the act and whatever its outcome; a
write that fails is logged (the act is not undone: refusing a login because the audit table
is away would lock everyone out).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.audit.models import AuditEntry
from callcenter.auth.clients import Network, client_address
from callcenter.auth.identity import User

log = logging.getLogger(__name__)


class Audit(Protocol):
    """What a room needs to write an act down."""

    async def record(
        self,
        request: web.Request,
        user: User | None,
        action: str,
        target: str,
        *,
        ok: bool = True,
        parameters: Mapping[str, Any] | None = None,
        message: str = "",
        username: str | None = None,
    ) -> None: ...


class AuditLog:
    def __init__(
        self,
        engine: AsyncEngine,
        trusted_proxies: Sequence[Network] = (),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.trusted_proxies = tuple(trusted_proxies)
        self._clock = clock

    def address_of(self, request: web.Request) -> str:
        return client_address(
            request.remote, request.headers.getall("X-Forwarded-For", []), self.trusted_proxies
        )[:64]

    async def record(
        self,
        request: web.Request,
        user: User | None,
        action: str,
        target: str,
        *,
        ok: bool = True,
        parameters: Mapping[str, Any] | None = None,
        message: str = "",
        username: str | None = None,
    ) -> None:
        entry = AuditEntry(
            at=self._clock(),
            username=(username or (user.username if user else ""))[:80],
            user_id=user.id if user else None,
            action=action[:40],
            pbx="",
            queue=None,
            target=target[:200],
            parameters=dict(parameters or {}),
            ok=ok,
            message=message[:500],
            address=self.address_of(request),
        )
        try:
            async with AsyncSession(self.engine) as session, session.begin():
                session.add(entry)
        except Exception as exc:
            log.error(
                "audit entry %s of %r not written (%s)", action, entry.username, type(exc).__name__
            )
