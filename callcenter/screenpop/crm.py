"""The external CRM lookup: HTTP GET with a timeout, a circuit breaker and a small TTL cache.

The breaker and the cache are a few lines each, pure and driven by an injected clock, so
they are written here rather than pulled in as two more dependencies.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp

from callcenter.logs import mask_number

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class CrmUnavailable(Exception):
    """The CRM did not answer usefully (down, slow, bad reply, or the circuit is open)."""


class CircuitBreaker:
    """Closed until ``threshold`` failures in a row; then open for ``open_seconds``; then one
    trial call decides between closed (success) and open again (failure)."""

    def __init__(self, threshold: int, open_seconds: float, clock: Clock) -> None:
        self.threshold = threshold
        self.open_seconds = open_seconds
        self._clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self._trial = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self._clock() >= self.opened_at + self.open_seconds else "open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half-open" and not self._trial:
            self._trial = True
            return True
        return False

    def success(self) -> None:
        self.failures, self.opened_at, self._trial = 0, None, False

    def failure(self) -> None:
        self.failures += 1
        self._trial = False
        if self.opened_at is not None or self.failures >= self.threshold:
            self.opened_at = self._clock()


class TtlCache:
    def __init__(self, ttl_seconds: float, clock: Clock, max_entries: int = 10_000) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self.max_entries = max_entries
        self._entries: OrderedDict[Any, tuple[float, Any]] = OrderedDict()

    def get(self, key: Any) -> tuple[bool, Any]:
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        if self._clock() >= entry[0]:
            del self._entries[key]
            return False, None
        return True, entry[1]

    def put(self, key: Any, value: Any) -> None:
        if self.ttl_seconds <= 0:
            return
        self._entries[key] = (self._clock() + self.ttl_seconds, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


def crm_url(template: str, phone: str, account: str | None) -> str:
    return template.format(phone=quote(phone, safe="+"), account=quote(account or "", safe=""))


class CrmClient:
    def __init__(
        self,
        url_template: str,
        timeout: float,
        cache_seconds: float,
        breaker: CircuitBreaker,
        clock: Clock = time.monotonic,
    ) -> None:
        self.url_template = url_template
        self.timeout = timeout
        self.breaker = breaker
        self.cache = TtlCache(cache_seconds, clock)
        self._session: aiohttp.ClientSession | None = None

    def cached(self, phone: str, account: str | None) -> tuple[bool, Any]:
        return self.cache.get((phone, account))

    async def fetch(self, phone: str, account: str | None) -> dict[str, Any]:
        """The CRM's JSON object about this caller ({} when it knows nobody)."""
        hit, value = self.cached(phone, account)
        if hit:
            return dict(value)
        if not self.breaker.allow():
            raise CrmUnavailable("circuit open")
        if self._session is None:
            self._session = aiohttp.ClientSession()
        url = crm_url(self.url_template, phone, account)
        try:
            async with asyncio.timeout(self.timeout), self._session.get(url) as response:
                if response.status == 404:
                    data: Any = {}
                elif response.status != 200:
                    raise CrmUnavailable(f"HTTP {response.status}")
                else:
                    data = await response.json(content_type=None)
            if not isinstance(data, dict):
                raise CrmUnavailable("reply is not a JSON object")
        except (TimeoutError, aiohttp.ClientError, ValueError, CrmUnavailable) as exc:
            self.breaker.failure()
            reason = exc if isinstance(exc, CrmUnavailable) else type(exc).__name__
            log.warning(
                "CRM lookup for %s failed: %s (circuit %s)",
                mask_number(phone),
                reason,
                self.breaker.state,
            )
            raise CrmUnavailable(str(reason)) from None
        self.breaker.success()
        self.cache.put((phone, account), data)
        return dict(data)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
