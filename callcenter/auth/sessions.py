"""Login sessions in the database, so that every replica of the service honours them.

The cookie carries a 256-bit random token; the table keeps only its SHA-256, so a copy of
the database opens no session. Signing the token would add nothing: it is looked up anyway.
A short in-process cache spares the database one query per request.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.auth.identity import User
from callcenter.auth.models import SessionRow, UserRow
from callcenter.auth.users import user_from_row

COOKIE_NAME = "cc_session"
# How long a replica may go on trusting a session it has looked up (logout elsewhere,
# disable from the CLI): a few seconds.
CACHE_SECONDS = 5.0
CACHE_LIMIT = 20_000


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


class SessionStore:
    def __init__(
        self,
        engine: AsyncEngine,
        lifetime: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.lifetime = lifetime
        self._clock = clock
        self._cache: dict[str, tuple[User, datetime, datetime]] = {}

    async def create(self, user: User) -> str:
        token = new_token()
        now = self._clock()
        async with AsyncSession(self.engine) as session, session.begin():
            session.add(
                SessionRow(
                    token_hash=token_hash(token),
                    user_id=user.id,
                    created_at=now,
                    expires_at=now + self.lifetime,
                )
            )
        return token

    async def user_for(self, token: str) -> User | None:
        if not token or len(token) > 128:
            return None
        key = token_hash(token)
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None:
            user, expires_at, checked_at = cached
            if now < expires_at and (now - checked_at).total_seconds() < CACHE_SECONDS:
                return user
            del self._cache[key]
        async with AsyncSession(self.engine) as session:
            found = (
                await session.execute(
                    select(UserRow, SessionRow.expires_at)
                    .join(SessionRow, SessionRow.user_id == UserRow.id)
                    .where(
                        SessionRow.token_hash == key,
                        SessionRow.expires_at > now,
                        UserRow.disabled.is_(False),
                    )
                )
            ).first()
        if found is None:
            return None
        user = user_from_row(found[0])
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = (user, found[1], now)
        return user

    async def ended(self, tokens: Iterable[str], page: int = 500) -> set[str]:
        """Of ``tokens``, those whose session is over (logged out, expired, user disabled):
        one query per page of tokens, whatever the number of open sockets."""
        by_hash = {token_hash(t): t for t in tokens if t and len(t) <= 128}
        hashes = list(by_hash)
        alive: set[str] = set()
        now = self._clock()
        for start in range(0, len(hashes), page):
            chunk = hashes[start : start + page]
            async with AsyncSession(self.engine) as session:
                rows = await session.execute(
                    select(SessionRow.token_hash)
                    .join(UserRow, SessionRow.user_id == UserRow.id)
                    .where(
                        SessionRow.token_hash.in_(chunk),
                        SessionRow.expires_at > now,
                        UserRow.disabled.is_(False),
                    )
                )
                alive.update(row[0] for row in rows)
        ended = {by_hash[h] for h in hashes if h not in alive}
        for token in ended:
            self._cache.pop(token_hash(token), None)
        return ended

    async def users_with_sessions(self, user_ids: Iterable[int]) -> set[int]:
        """Of these users, those with at least one session open now (enabled users)."""
        wanted = list(set(user_ids))
        alive: set[int] = set()
        now = self._clock()
        for start in range(0, len(wanted), 500):
            async with AsyncSession(self.engine) as session:
                rows = await session.execute(
                    select(SessionRow.user_id)
                    .join(UserRow, SessionRow.user_id == UserRow.id)
                    .where(
                        SessionRow.user_id.in_(wanted[start : start + 500]),
                        SessionRow.expires_at > now,
                        UserRow.disabled.is_(False),
                    )
                    .distinct()
                )
                alive.update(row[0] for row in rows)
        return alive

    def forget_user(self, user_id: int) -> None:
        """Drop the cached sessions of a user whose rows were just deleted."""
        for key in [k for k, (user, _, _) in self._cache.items() if user.id == user_id]:
            del self._cache[key]

    async def end(self, token: str) -> None:
        key = token_hash(token)
        self._cache.pop(key, None)
        async with AsyncSession(self.engine) as session, session.begin():
            await session.execute(delete(SessionRow).where(SessionRow.token_hash == key))

    async def purge_expired(self) -> int:
        async with AsyncSession(self.engine) as session, session.begin():
            result = await session.execute(
                delete(SessionRow).where(SessionRow.expires_at <= self._clock())
            )
        return int(getattr(result, "rowcount", 0) or 0)
