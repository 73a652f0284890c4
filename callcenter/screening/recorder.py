"""Writes screening events off the caller's path: the FastAGI route only enqueues, one writer
stores what is queued in batches. A full queue or a database away loses events (logged and
counted), never delays a caller."""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import CollectorRegistry, Counter
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.screening import store
from callcenter.screening.store import Event

log = logging.getLogger(__name__)

QUEUE_LIMIT = 10_000
BATCH = 200
RETRY_SECONDS = 1.0
RETRIES = 5


class EventRecorder:
    def __init__(self, engine: AsyncEngine, registry: CollectorRegistry) -> None:
        self._engine = engine
        self._queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_LIMIT)
        self._used = Counter(
            "callcenter_screening_total",
            "Callers turned away or sent aside by screening, and abusive-caller buttons",
            ["pbx", "kind"],
            registry=registry,
        )
        self._lost = Counter(
            "callcenter_screening_events_lost_total",
            "Screening events not stored (queue full or database away)",
            registry=registry,
        )

    def count(self, event: Event) -> None:
        """Count an event stored elsewhere (the abusive-caller button writes its own)."""
        self._used.labels(event.pbx, event.kind).inc()

    def submit(self, event: Event) -> None:
        """Count and enqueue one event (never blocks)."""
        self.count(event)
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self._lost.inc()
            log.error("screening event %s of PBX %s not stored: queue full", event.kind, event.pbx)

    async def run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[Event]) -> None:
        for attempt in range(1, RETRIES + 1):
            try:
                await store.write_events(self._engine, batch)
                return
            except (SQLAlchemyError, OSError) as exc:
                if attempt == RETRIES:
                    self._lost.inc(len(batch))
                    log.error(
                        "%d screening event(s) not stored (database: %s)",
                        len(batch),
                        type(exc).__name__,
                    )
                    return
                await asyncio.sleep(RETRY_SECONDS)

    async def drain(self, timeout: float) -> None:
        """Wait (at most ``timeout``) for what is queued to be stored."""
        if self._queue.empty():
            return
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
        except TimeoutError:
            log.warning("%d screening event(s) not stored before stopping", self._queue.qsize())
