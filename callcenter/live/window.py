"""A time window of integer samples with running sums.

Samples are kept only while younger than the window, so memory is bounded by the traffic of one
window whatever the run length. Sums are integers (milliseconds, counts) so adding and removing
millions of samples never drifts.
"""

from __future__ import annotations

from collections import deque

__all__ = ["RollingWindow"]


class RollingWindow:
    __slots__ = ("_samples", "sums", "width", "window_ms")

    def __init__(self, window_seconds: float, width: int) -> None:
        self.window_ms = int(window_seconds * 1000)
        self.width = width
        self.sums = [0] * width
        self._samples: deque[tuple[int, tuple[int, ...]]] = deque()

    def __len__(self) -> int:
        return len(self._samples)

    def add(self, at_ms: int, sample: tuple[int, ...]) -> None:
        """Add a sample; samples may arrive slightly out of order (evicted by age anyway)."""
        self._samples.append((at_ms, sample))
        sums = self.sums
        for index, value in enumerate(sample):
            sums[index] += value
        self.evict(at_ms)

    def evict(self, now_ms: int) -> None:
        """Drop samples at or before `now_ms - window`."""
        horizon = now_ms - self.window_ms
        samples = self._samples
        sums = self.sums
        while samples and samples[0][0] <= horizon:
            _, sample = samples.popleft()
            for index, value in enumerate(sample):
                sums[index] -= value

    def totals(self, now_ms: int) -> tuple[int, ...]:
        """Sums over (now - window, now]; older samples are evicted first."""
        self.evict(now_ms)
        return tuple(self.sums)
