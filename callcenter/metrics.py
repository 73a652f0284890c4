"""Prometheus metrics, on a registry owned by one service instance (tests run several)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from callcenter.live import LiveModel, WindowStats

# The AMI events the service reads (the live model's parsers, the link's FullyBooted and
# Shutdown, the IVR's VarSets): only these get their own `event` label value. Anything else,
# which a PBX or a peer posing as one can name at will, is counted as OTHER_EVENT; a label
# per name would add a series per name, never freed, and slow every scrape.
KNOWN_AMI_EVENTS = frozenset(
    {
        "QueueCallerJoin",
        "QueueCallerLeave",
        "QueueCallerAbandon",
        "AgentCalled",
        "AgentRingNoAnswer",
        "AgentDump",
        "AgentConnect",
        "AgentComplete",
        "QueueMemberAdded",
        "QueueMemberRemoved",
        "QueueMemberStatus",
        "QueueMemberPause",
        "QueueMemberPenalty",
        "QueueMemberRinginuse",
        "QueueParams",
        "QueueMember",
        "QueueEntry",
        "CoreShowChannel",
        "Hangup",
        "SoftHangupRequest",
        "VarSet",
        "FullyBooted",
        "Shutdown",
    }
)
OTHER_EVENT = "other"


def ami_event_label(name: str) -> str:
    """The `event` label value for an AMI event name: itself if known, else OTHER_EVENT."""
    return name if name in KNOWN_AMI_EVENTS else OTHER_EVENT


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.ami_link_up = Gauge(
            "callcenter_ami_link_up",
            "1 while the AMI link to the PBX is logged in",
            ["pbx"],
            registry=self.registry,
        )
        self.ami_events = Counter(
            "callcenter_ami_events",
            "AMI events received, by type (types the service does not read: other)",
            ["pbx", "event"],
            registry=self.registry,
        )
        self.ami_reconnects = Counter(
            "callcenter_ami_reconnects",
            "AMI logins after the first one",
            ["pbx"],
            registry=self.registry,
        )
        self.ami_bad_events = Counter(
            "callcenter_ami_bad_events",
            "AMI events that could not be used, by type (unknown types: other)",
            ["pbx", "event"],
            registry=self.registry,
        )
        self.event_seconds = Histogram(
            "callcenter_event_handling_seconds",
            "Time from AMI bytes parsed to model updated",
            buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05),
            registry=self.registry,
        )
        self.corrections = Counter(
            "callcenter_live_corrections",
            "Fixes made by a resync to match the PBX, by kind",
            ["pbx", "kind"],
            registry=self.registry,
        )
        self.loop_lag = Histogram(
            "callcenter_event_loop_lag_seconds",
            "How late the event loop woke a 50 ms timer: while it is late, events and pops wait",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=self.registry,
        )
        self.gc_pause = Histogram(
            "callcenter_gc_pause_seconds",
            "Cyclic garbage collector pauses, by generation",
            ["generation"],
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=self.registry,
        )
        self.database_up = Gauge(
            "callcenter_database_up",
            "1 when the last database check succeeded",
            registry=self.registry,
        )


# Per-queue ratios over the live rolling window, from the WindowStats the wallboard shows (the
# same `kpi` functions, the same window). A ratio with nothing to divide by has NO sample: a
# queue without calls is not a queue at "0 % service level", and an absent sample leaves a gap
# in a graph and is ignored by avg()/min() and by alert rules, where 0 would fire an alert and
# NaN would poison every aggregation it enters.
_WINDOW_RATIOS: tuple[tuple[str, str, Callable[[WindowStats], float | None]], ...] = (
    (
        "callcenter_queue_service_level_answered_ratio",
        "Service level, answered basis: answered within the queue's threshold / answered, "
        "over the live window (0..1; absent when nothing was answered)",
        lambda s: s.service_level_answered,
    ),
    (
        "callcenter_queue_service_level_offered_ratio",
        "Service level, offered basis: answered within the queue's threshold / offered, "
        "over the live window (0..1; absent when nothing was offered)",
        lambda s: s.service_level_offered,
    ),
    (
        "callcenter_queue_abandon_ratio",
        "Abandon rate: (abandoned - short abandons) / offered, over the live window "
        "(0..1; absent when nothing was offered)",
        lambda s: s.abandon_rate,
    ),
    (
        "callcenter_queue_answer_ratio",
        "Answer rate: answered / offered, over the live window "
        "(0..1; absent when nothing was offered)",
        lambda s: s.answer_rate,
    ),
)


class LiveCollector(Collector):
    """Per-queue figures read from the live model at scrape time (nothing kept twice).

    One series per (pbx, queue) for each figure (per state for the members). The clock is the
    one the wallboard reads the model with, so both show the same window.
    """

    def __init__(self, model: LiveModel, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self._model = model
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        waiting = GaugeMetricFamily(
            "callcenter_queue_callers_waiting", "Callers waiting", labels=["pbx", "queue"]
        )
        longest = GaugeMetricFamily(
            "callcenter_queue_longest_wait_seconds",
            "Longest current wait (0 when nobody waits)",
            labels=["pbx", "queue"],
        )
        members = GaugeMetricFamily(
            "callcenter_queue_members", "Queue members by state", labels=["pbx", "queue", "state"]
        )
        ratios = [
            (GaugeMetricFamily(name, doc, labels=["pbx", "queue"]), figure)
            for name, doc, figure in _WINDOW_RATIOS
        ]
        for view in self._model.queue_views(self._clock()):
            labels = [view.pbx, view.queue]
            waiting.add_metric(labels, view.callers_waiting)
            longest.add_metric(labels, view.longest_wait_seconds or 0.0)
            for state, count in (
                ("available", view.agents_available),
                ("busy", view.agents_busy),
                ("ringing", view.agents_ringing),
                ("paused", view.agents_paused),
                ("unavailable", view.agents_unavailable),
            ):
                members.add_metric([*labels, state], count)
            for family, figure in ratios:
                value = figure(view.stats)
                if value is not None:
                    family.add_metric(labels, value)
        yield from (waiting, longest, members)
        yield from (family for family, _ in ratios)
