"""How long the event loop is held, and by the garbage collector: a stall delays every pop.

Both go to Prometheus; a stall of 100 ms or more is also logged, with the collector's part.
Measured with bench/screenpop.py (2,000 agent sockets, 100 calls/s): with the default
thresholds, full collections over ~200,000 live objects ran every few seconds and held the
loop for 110-290 ms each; they were the p99 of the pop latency.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any

from callcenter.metrics import ServiceMetrics

log = logging.getLogger(__name__)

WATCH_SECONDS = 0.05
STALL_WARNING_SECONDS = 0.1


# Objects of a call live a few seconds; with the default gen-0 threshold (700) they survive
# enough young collections to reach the old generation, which then fills fast enough for a
# full collection every few seconds. With 50,000 most die young; the old generation is then
# collected at most every 100 middle collections (the interpreter's own 25 % rule still
# applies), which keeps cyclic garbage bounded without stalling every few seconds.
GC_THRESHOLDS = (50_000, 20, 100)


def settle_collector() -> None:
    """Call once start-up has loaded what lives as long as the process (customer index,
    call history, users): it is frozen out of the collector's passes for good."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class GcPauses:
    """Times each collection through ``gc.callbacks`` (installed while the service runs)."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self.metrics = metrics
        self.started = 0.0
        self.last: tuple[int, float, int] = (0, 0.0, 0)  # generation, seconds, collected

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
            return
        seconds = time.perf_counter() - self.started
        generation = int(info.get("generation", 0))
        self.metrics.gc_pause.labels(str(generation)).observe(seconds)
        if seconds >= STALL_WARNING_SECONDS:
            log.warning(
                "garbage collector (generation %d: %d objects freed, %d left in it) "
                "held the loop for %.0f ms",
                generation,
                info.get("collected", 0),
                len(gc.get_objects(generation)),
                seconds * 1000,
            )

    def install(self) -> None:
        gc.callbacks.append(self)

    def remove(self) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)


async def watch_loop(metrics: ServiceMetrics) -> None:
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + WATCH_SECONDS
        await asyncio.sleep(WATCH_SECONDS)
        lag = max(0.0, loop.time() - due)
        metrics.loop_lag.observe(lag)
        if lag >= STALL_WARNING_SECONDS:
            log.warning("event loop held for %.0f ms: events and pops waited", lag * 1000)
