"""The CRM's circuit breaker and TTL cache with a controlled clock."""

from __future__ import annotations

from callcenter.screenpop.crm import CircuitBreaker, TtlCache, crm_url


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_the_threshold_and_tries_once_after_the_pause() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=3, open_seconds=30, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.failure()
    assert breaker.state == "closed"
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    clock.now += 30
    assert breaker.allow() and not breaker.allow()  # one trial only
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    clock.now += 30
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed" and breaker.allow() and breaker.allow()


def test_cache_forgets_after_its_ttl_and_stays_bounded() -> None:
    clock = Clock()
    cache = TtlCache(10, clock, max_entries=2)
    cache.put("a", {"x": 1})
    assert cache.get("a") == (True, {"x": 1})
    clock.now += 10
    assert cache.get("a") == (False, None)
    for key in "bcd":
        cache.put(key, key)
    assert cache.get("b") == (False, None) and cache.get("d") == (True, "d")


def test_url_template_quotes_values() -> None:
    url = crm_url("http://crm/c?phone={phone}&acct={account}", "+8613800138000", "A 1/2")
    assert url == "http://crm/c?phone=+8613800138000&acct=A%201%2F2"
