"""Login throttling per (username, client address): pure, with an injected clock.

Kept in process memory: each replica counts its own failures, and a restart forgets them.
Moving the counters to the database (or a shared cache) is the step for several replicas.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

Key = tuple[str, str]


class LoginLimiter:
    def __init__(self, max_failures: int, window_seconds: float,
                 clock: Callable[[], float], max_keys: int = 100_000) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self._clock = clock
        self._max_keys = max_keys
        self._failures: dict[Key, deque[float]] = {}

    @staticmethod
    def key(username: str, address: str) -> Key:
        return username.strip().lower(), address

    def retry_after(self, key: Key) -> float | None:
        """Seconds until another attempt is allowed, or None when allowed now."""
        failures = self._recent(key)
        if len(failures) < self.max_failures:
            return None
        return max(0.0, failures[0] + self.window_seconds - self._clock())

    def failed(self, key: Key) -> None:
        if key not in self._failures and len(self._failures) >= self._max_keys:
            # A flood of distinct keys must not grow memory for ever: forget the oldest.
            del self._failures[next(iter(self._failures))]
        self._failures.setdefault(key, deque()).append(self._clock())
        self._recent(key)

    def succeeded(self, key: Key) -> None:
        self._failures.pop(key, None)

    def _recent(self, key: Key) -> deque[float]:
        failures = self._failures.get(key)
        if failures is None:
            return deque()
        cutoff = self._clock() - self.window_seconds
        while failures and failures[0] <= cutoff:
            failures.popleft()
        while len(failures) > self.max_failures:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return failures
