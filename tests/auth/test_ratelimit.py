"""Login throttling per username and address, with a controlled clock."""

from __future__ import annotations

from callcenter.auth.passwords import hash_password, verify_password
from callcenter.auth.ratelimit import LoginLimiter


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_five_failures_block_that_username_from_that_address_for_the_window() -> None:
    clock = Clock()
    limiter = LoginLimiter(5, 300, clock)
    key = limiter.key("Zhang ", "10.0.0.1")
    for _ in range(4):
        limiter.failed(key)
        clock.now += 10
    assert limiter.retry_after(key) is None
    limiter.failed(key)
    assert limiter.retry_after(key) == 300 - 40
    assert limiter.retry_after(limiter.key("zhang", "10.0.0.2")) is None
    assert limiter.retry_after(limiter.key("li", "10.0.0.1")) is None
    assert limiter.retry_after(limiter.key("ZHANG", "10.0.0.1")) is not None
    clock.now += 261
    assert limiter.retry_after(key) is None  # the first failure fell out of the window


def test_success_clears_the_count() -> None:
    limiter = LoginLimiter(2, 60, Clock())
    key = limiter.key("a", "b")
    limiter.failed(key)
    limiter.succeeded(key)
    limiter.failed(key)
    assert limiter.retry_after(key) is None


def test_passwords_are_argon2_and_verify() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2id$") and "correct" not in stored
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "wrong horse")
    assert not verify_password(None, "correct horse")
    assert not verify_password("not-a-hash", "x")
