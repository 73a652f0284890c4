"""Loop stalls and collector pauses are measured and logged (they delay every pop)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time

import pytest

from callcenter.loopwatch import GC_THRESHOLDS, GcPauses, settle_collector, watch_loop
from callcenter.metrics import ServiceMetrics


def observed(metrics: ServiceMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return value or 0.0


def test_a_held_loop_is_measured_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    metrics = ServiceMetrics()

    async def hold_the_loop() -> None:
        watcher = asyncio.ensure_future(watch_loop(metrics))
        await asyncio.sleep(0.12)
        time.sleep(0.25)  # noqa: ASYNC251 - the synchronous step that holds every task
        await asyncio.sleep(0.12)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher

    with caplog.at_level(logging.WARNING, logger="callcenter.loopwatch"):
        asyncio.run(hold_the_loop())
    assert observed(metrics, "callcenter_event_loop_lag_seconds_count") >= 3
    assert observed(metrics, "callcenter_event_loop_lag_seconds_bucket", le="0.1") < observed(
        metrics, "callcenter_event_loop_lag_seconds_count"
    )
    assert any("event loop held for" in r.getMessage() for r in caplog.records)


def test_collector_pauses_are_timed_by_generation() -> None:
    metrics = ServiceMetrics()
    pauses = GcPauses(metrics)
    pauses.install()
    try:
        gc.collect(0)
        gc.collect(2)
    finally:
        pauses.remove()
    assert pauses not in gc.callbacks
    assert observed(metrics, "callcenter_gc_pause_seconds_count", generation="0") >= 1
    assert observed(metrics, "callcenter_gc_pause_seconds_count", generation="2") >= 1


def test_settling_freezes_start_up_objects_and_raises_the_young_threshold() -> None:
    before = gc.get_threshold()
    try:
        kept = [{"customer": n} for n in range(1000)]
        settle_collector()
        assert gc.get_freeze_count() >= len(kept)
        assert gc.get_threshold() == GC_THRESHOLDS
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
