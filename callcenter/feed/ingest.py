"""AMI fields → typed event → live model → changes to every consumer.

This is the hot path: it runs once per AMI event on the event loop, so it does no I/O
itself. Consumers (the WebSocket hub, later the call-record writer and the screen-pop)
receive each change synchronously and must only enqueue.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from callcenter.ami.protocol import Fields
from callcenter.live import Change, Correction, LiveModel, MalformedEvent, parse_event
from callcenter.live.events import (
    DEFAULT_VAR_PREFIX,
    CoreShowChannel,
    QueueEntry,
    QueueMember,
    QueueParams,
)
from callcenter.live.journal import ResyncJournal
from callcenter.metrics import ServiceMetrics, ami_event_label

log = logging.getLogger(__name__)

ChangeConsumer = Callable[[Change], None]
TIMING_SAMPLE = 8

# The events that follow one queue call; logged at debug level with its id for tracing.
TRACED_EVENTS = frozenset(
    {
        "QueueCallerJoin",
        "QueueCallerLeave",
        "QueueCallerAbandon",
        "AgentCalled",
        "AgentConnect",
        "AgentComplete",
        "AgentRingNoAnswer",
        "AgentDump",
    }
)


class Ingest:
    def __init__(
        self,
        model: LiveModel,
        metrics: ServiceMetrics,
        consumers: Sequence[ChangeConsumer] = (),
        *,
        var_prefix: str = DEFAULT_VAR_PREFIX,
    ) -> None:
        self.model = model
        self.var_prefix = var_prefix
        self._timed = 0
        self.metrics = metrics
        self.consumers = list(consumers)
        self._bad_kinds_logged: set[tuple[str, str]] = set()
        # prometheus-client's labels() costs a lock and a lookup per call: keep the children.
        self._event_counters: dict[tuple[str, str], Any] = {}

    def on_ami_event(self, pbx: str, fields: Fields, received_at: datetime) -> None:
        started = time.perf_counter()
        name = fields.get("Event", "")
        # Keyed by label, not name: unknown names share one child (and one cache entry).
        label = ami_event_label(name)
        counter = self._event_counters.get((pbx, label))
        if counter is None:
            counter = self._event_counters[(pbx, label)] = self.metrics.ami_events.labels(
                pbx, label
            )
        counter.inc()
        try:
            event = parse_event(pbx, fields, received_at, var_prefix=self.var_prefix)
        except MalformedEvent as exc:
            self._bad_event(pbx, name, str(exc))
            return
        if event is None:
            return
        if name in TRACED_EVENTS and log.isEnabledFor(logging.DEBUG):
            log.debug(
                "AMI %s pbx=%s uniqueid=%s queue=%s",
                name,
                pbx,
                fields.get("Uniqueid"),
                fields.get("Queue"),
            )
        self.publish(self.model.apply(event))
        # One event in TIMING_SAMPLE is timed: the histogram's lock and buckets would
        # otherwise cost more than the model itself; a sample gives the same percentiles.
        self._timed += 1
        if self._timed % TIMING_SAMPLE == 0:
            self.metrics.event_seconds.observe(time.perf_counter() - started)

    def begin_resync(self, pbx: str) -> ResyncJournal:
        """Before asking for the snapshot: events from now on win over it."""
        return self.model.begin_resync(pbx)

    def cancel_resync(self, pbx: str, journal: ResyncJournal) -> None:
        self.model.cancel_resync(pbx, journal)

    def resync(
        self,
        pbx: str,
        raw_records: Sequence[Fields],
        now: datetime,
        journal: ResyncJournal | None = None,
    ) -> list[Change]:
        """Rebuild ``pbx``'s part of the model from QueueStatus + CoreShowChannels."""
        records: list[QueueParams | QueueMember | QueueEntry | CoreShowChannel] = []
        for fields in raw_records:
            try:
                record = parse_event(pbx, fields, now, var_prefix=self.var_prefix)
            except MalformedEvent as exc:
                self._bad_event(pbx, fields.get("Event", ""), str(exc))
                continue
            if isinstance(record, QueueParams | QueueMember | QueueEntry | CoreShowChannel):
                records.append(record)
        changes = self.model.reconcile(pbx, records, now, journal)
        for change in changes:
            if isinstance(change, Correction):
                self.metrics.corrections.labels(pbx, change.kind).inc()
                log.info(
                    "PBX %s: corrected %s %s: %s -> %s",
                    pbx,
                    change.kind,
                    "/".join(change.key),
                    change.before,
                    change.after,
                )
        self.publish(changes)
        return changes

    def tick(self, now: datetime) -> None:
        self.publish(self.model.tick(now))

    def publish(self, changes: Sequence[Change]) -> None:
        for change in changes:
            for consumer in self.consumers:
                try:
                    consumer(change)
                except Exception:
                    log.exception("change consumer failed on %s", type(change).__name__)

    def _bad_event(self, pbx: str, name: str, reason: str) -> None:
        self.metrics.ami_bad_events.labels(pbx, ami_event_label(name)).inc()
        if (pbx, name) not in self._bad_kinds_logged:
            self._bad_kinds_logged.add((pbx, name))
            log.warning(
                "PBX %s: unusable %s event (%s); further ones are only counted", pbx, name, reason
            )
