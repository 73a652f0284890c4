"""Login throttling per username and address, on SQLite and PostgreSQL, with a controlled clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.auth.models import LoginFailureRow
from callcenter.auth.passwords import hash_password, verify_password
from callcenter.auth.ratelimit import LoginLimiter


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def test_five_failures_block_that_username_from_that_address_for_the_window(
    engine: AsyncEngine,
) -> None:
    clock = Clock()
    limiter = LoginLimiter(engine, 5, 300, clock)
    key = limiter.key("Zhang ", "10.0.0.1")
    for _ in range(4):
        await limiter.failed(key)
        clock.advance(10)
    assert await limiter.retry_after(key) is None
    await limiter.failed(key)
    assert await limiter.retry_after(key) == 300 - 40
    assert await limiter.retry_after(limiter.key("zhang", "10.0.0.2")) is None
    assert await limiter.retry_after(limiter.key("li", "10.0.0.1")) is None
    assert await limiter.retry_after(limiter.key("ZHANG", "10.0.0.1")) is not None
    clock.advance(261)
    assert await limiter.retry_after(key) is None  # the first failure fell out of the window


async def test_success_clears_the_count(engine: AsyncEngine) -> None:
    limiter = LoginLimiter(engine, 2, 60, Clock())
    key = limiter.key("a", "b")
    await limiter.failed(key)
    await limiter.succeeded(key)
    await limiter.failed(key)
    assert await limiter.retry_after(key) is None


async def test_replicas_count_the_same_failures_and_old_ones_are_forgotten(
    engine: AsyncEngine,
) -> None:
    clock = Clock()
    first, second = LoginLimiter(engine, 3, 60, clock), LoginLimiter(engine, 3, 60, clock)
    key = first.key("wang", "203.0.113.9")
    await first.failed(key)
    await second.failed(key)
    await first.failed(key)
    assert await second.retry_after(key) == 60
    clock.advance(61)
    assert await first.purge() == 3
    async with engine.connect() as connection:
        left = (
            await connection.execute(select(func.count()).select_from(LoginFailureRow.__table__))
        ).scalar_one()
    assert left == 0


def test_passwords_are_argon2_and_verify() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$") and "correct" not in stored
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "wrong horse")
    assert not verify_password(None, "correct horse battery")
    assert not verify_password("not-a-hash", "x")
