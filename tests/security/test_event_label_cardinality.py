"""Item 2: AMI event names the service does not read share one `other` series.

50,000 distinct event names once made 50,012 Prometheus series (memory never freed, an 8 MB
scrape holding the event loop for half a second). The `event` label now takes only the names
the service reads; everything else is counted as `other`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import generate_latest

from callcenter.feed.ingest import Ingest
from callcenter.live import LiveModel
from callcenter.live import events as live_events
from callcenter.metrics import KNOWN_AMI_EVENTS, OTHER_EVENT, ServiceMetrics

AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
UNKNOWN_NAMES = 5_000


def _series(metrics: ServiceMetrics, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in metrics.registry.collect()
        if family.name == name
        for sample in family.samples
        if sample.name == f"{name}_total"
    }


def test_many_unknown_event_names_stay_in_one_series() -> None:
    metrics = ServiceMetrics()
    ingest = Ingest(LiveModel(), metrics)
    for i in range(UNKNOWN_NAMES):
        ingest.on_ami_event("main", {"Event": f"UserEvent{i:05d}"}, AT)
    ingest.on_ami_event("main", {"Event": "FullyBooted"}, AT)
    ingest.on_ami_event("main", {"Event": "Hangup", "Uniqueid": "1.1", "Channel": "x"}, AT)

    series = _series(metrics, "callcenter_ami_events")
    assert len(series) == 3
    assert series[(("event", OTHER_EVENT), ("pbx", "main"))] == UNKNOWN_NAMES
    assert series[(("event", "FullyBooted"), ("pbx", "main"))] == 1
    assert series[(("event", "Hangup"), ("pbx", "main"))] == 1
    assert len(generate_latest(metrics.registry)) < 20_000  # the scrape stays small


def test_every_event_the_live_model_parses_keeps_its_own_label() -> None:
    # The live model's parsers are the list of names the service reads; a name added there
    # and forgotten in KNOWN_AMI_EVENTS would silently vanish into `other`.
    parsed = set(live_events._FIXED_BUILDERS) | {"VarSet"}
    assert parsed <= KNOWN_AMI_EVENTS
