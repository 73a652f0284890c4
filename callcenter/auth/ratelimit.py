"""Login throttling per (username, client address), counted in the database.

Every replica reads and writes the same failures, so guesses spread over replicas (or over a
restart) are counted together. Failures older than the window are deleted as the key fails
again and at each start. The clock is injected for tests.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.auth.models import LoginFailureRow
from callcenter.clock import Clock, utc_now

__all__ = ["LoginLimiter"]

_TABLE: Table = LoginFailureRow.__table__  # type: ignore[assignment]


class LoginLimiter:
    def __init__(
        self, engine: AsyncEngine, max_failures: int, window_seconds: float, clock: Clock = utc_now
    ) -> None:
        self.engine = engine
        self.max_failures = max_failures
        self.window = timedelta(seconds=window_seconds)
        self._clock = clock

    @staticmethod
    def key(username: str, address: str) -> str:
        text = f"{username.strip().lower()}\0{address}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    async def retry_after(self, key: str) -> float | None:
        """Seconds until another attempt is allowed, or None when allowed now."""
        now = self._clock()
        statement = (
            select(_TABLE.c.failed_at)
            .where(_TABLE.c.key_hash == key, _TABLE.c.failed_at > now - self.window)
            .order_by(_TABLE.c.failed_at.desc())
            .limit(self.max_failures)
        )
        async with self.engine.connect() as connection:
            recent: list[datetime] = list((await connection.execute(statement)).scalars())
        if len(recent) < self.max_failures:
            return None
        # The oldest of the last max_failures failures leaves the window first.
        return max(0.0, (recent[-1] + self.window - now).total_seconds())

    async def failed(self, key: str) -> None:
        now = self._clock()
        async with self.engine.begin() as connection:
            await connection.execute(insert(_TABLE).values(key_hash=key, failed_at=now))
            await connection.execute(
                delete(_TABLE).where(
                    _TABLE.c.key_hash == key, _TABLE.c.failed_at <= now - self.window
                )
            )

    async def succeeded(self, key: str) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(delete(_TABLE).where(_TABLE.c.key_hash == key))

    async def purge(self) -> int:
        """Forget every failure older than the window (at start); the number removed."""
        async with self.engine.begin() as connection:
            result = await connection.execute(
                delete(_TABLE).where(_TABLE.c.failed_at <= self._clock() - self.window)
            )
        return int(result.rowcount or 0)
