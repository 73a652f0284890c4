"""docs/grafana-dashboard.json: every PromQL query it holds (panel targets and templating
queries) names only metrics the service really exposes on /metrics."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from callcenter.live import LiveModel, parse_event
from callcenter.service import Service
from callcenter.settings import Settings
from tests.live import amitrace as ami
from tests.service_proc import ServiceProcess

DASHBOARD = Path(__file__).resolve().parent.parent / "docs" / "grafana-dashboard.json"

# PromQL words that are not metric names (functions and aggregations are told by their "(").
_KEYWORDS = frozenset(
    {"bool", "offset", "and", "or", "unless", "by", "without", "on", "ignoring", "inf", "nan"}
    | {"group_left", "group_right", "start", "end", "atan2"}
)
_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+|\[\[[^\]]*\]\]")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_NAME = re.compile(r"(?<![\w.:])[a-zA-Z_:][a-zA-Z0-9_:]*")
# Grafana's Prometheus variable functions, whose first argument is a PromQL selector.
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<expr>.*?)\s*,\s*)?\w+\s*\)\s*$", re.S)
_QUERY_RESULT = re.compile(r"^\s*query_result\(\s*(?P<expr>.*)\)\s*$", re.S)
_METRICS_FN = re.compile(r"^\s*metrics\(\s*(?P<expr>.*)\)\s*$", re.S)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression (or a Grafana variable query) reads."""
    for function in (_LABEL_VALUES, _QUERY_RESULT, _METRICS_FN):
        match = function.match(expr)
        if match:
            expr = match["expr"] or ""  # label_values(label) reads no metric
            break
    text = _GRAFANA_VARIABLE.sub("x", expr)
    text = _STRING.sub('""', text)
    names = set(re.findall(r'__name__\s*=\s*"([^"]+)"', _GRAFANA_VARIABLE.sub("x", expr)))
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    for match in _NAME.finditer(text):
        name = match.group()
        if name in _KEYWORDS or re.match(r"\s*\(", text[match.end() :]):
            continue  # a keyword, or a function / aggregation being called
        names.add(name)
    return names


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # a collapsed row holds its panels


def dashboard_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, query) for every panel target's expr and every query variable's query."""
    found: list[tuple[str, str]] = []
    for panel in _panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if "expr" in target:
                found.append(
                    (f"panel {panel.get('title')!r} {target.get('refId')}", target["expr"])
                )
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        text = query.get("query", "") if isinstance(query, dict) else query
        for what, value in (("query", text), ("definition", variable.get("definition"))):
            if value:
                found.append((f"variable {variable['name']!r} {what}", value))
    return found


def missing_metrics(dashboard: dict[str, Any], exposed: set[str]) -> dict[str, set[str]]:
    """Each query naming no metric, or a metric not in `exposed`, with what is missing."""
    missing: dict[str, set[str]] = {}
    for where, query in dashboard_queries(dashboard):
        names = metric_names(query)
        if not names:
            missing[where] = {f"<no metric in {query!r}>"}
        elif names - exposed:
            missing[where] = names - exposed
    return missing


def exposed_names(text: str, with_samples: bool = False) -> set[str]:
    """Metric names in a /metrics text: the families (with their HELP/TYPE lines) and their
    samples' names (`_total`, `_bucket`, ...); only those with a sample if `with_samples`."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        if family.samples or not with_samples:
            names.add(family.name)
        names.update(sample.name for sample in family.samples)
    return names


def load_dashboard() -> dict[str, Any]:
    data = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_the_dashboard_is_a_grafana_dashboard_with_a_queue_variable() -> None:
    dashboard = load_dashboard()
    assert dashboard["schemaVersion"] >= 39 and dashboard["uid"] and dashboard["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert "label_values(" in variables["queue"]["definition"]
    kinds = {panel["type"] for panel in _panels(dashboard["panels"])}
    assert {"timeseries", "stat"} <= kinds
    ids = [panel["id"] for panel in _panels(dashboard["panels"])]
    assert len(ids) == len(set(ids))
    for panel in _panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            assert "$queue" in target["expr"], (panel["title"], target["expr"])


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'callcenter_queue_abandon_ratio{pbx=~"$pbx",queue=~"$queue"}',
            {"callcenter_queue_abandon_ratio"},
        ),
        (
            'sum by (queue) (rate(callcenter_ami_events_total{event!~"a|b"}[$__rate_interval]))'
            " / on (queue) group_left max without (pbx) (up offset 5m)",
            {"callcenter_ami_events_total", "up"},
        ),
        (
            'label_values(callcenter_queue_callers_waiting{pbx=~"$pbx"}, queue)',
            {"callcenter_queue_callers_waiting"},
        ),
        ("label_values(queue)", set()),
        ('{__name__="callcenter_database_up"} > bool 0.5e1', {"callcenter_database_up"}),
        (
            "histogram_quantile(0.99, sum by (le) (callcenter_gc_pause_seconds_bucket))",
            {"callcenter_gc_pause_seconds_bucket"},
        ),
    ],
)
def test_metric_names_are_pulled_out_of_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_a_query_on_a_metric_not_exposed_is_reported() -> None:
    dashboard = {
        "panels": [{"title": "p", "targets": [{"refId": "A", "expr": "max(callcenter_nope)"}]}],
        "templating": {"list": [{"type": "query", "name": "q", "query": "label_values(q)"}]},
    }
    assert missing_metrics(dashboard, {"callcenter_queue_callers_waiting"}) == {
        "panel 'p' A": {"callcenter_nope"},
        "variable 'q' query": {"<no metric in 'label_values(q)'>"},
    }


def test_every_dashboard_query_reads_metrics_of_the_real_service(tmp_path: Path) -> None:
    """Against `callcenter serve`'s own /metrics listener (no PBX: the queue families are
    there, with their HELP and TYPE, and no sample yet)."""
    dashboard = load_dashboard()
    assert len(dashboard_queries(dashboard)) >= 8
    process = ServiceProcess(tmp_path, pbx=[], log_level="INFO")
    process.start()
    try:
        exposed = exposed_names(process.scrape_metrics())
    finally:
        process.stop()
    assert "callcenter_event_loop_lag_seconds" in exposed  # the scrape is the real one
    assert missing_metrics(dashboard, exposed) == {}


def test_every_dashboard_metric_has_a_sample_per_queue_once_calls_came(tmp_path: Path) -> None:
    """The registry built as the service builds it (`Service(settings)`, nothing started), its
    live model fed with one answered call and one waiting caller timed just now: every metric
    the dashboard reads has a sample for that queue."""
    settings = Settings.model_validate(
        {
            "database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}"},
            "records": {"spool_dir": str(tmp_path / "spool")},
            "pbx": [{"name": "rig", "username": "callcenter", "secret": "not-a-real-secret-123"}],
        }
    )
    service = Service(settings)
    feed_now(service.model, "rig", "support")
    text = generate_latest(service.metrics.registry).decode()
    with_samples = exposed_names(text, with_samples=True)
    dashboard = load_dashboard()
    assert missing_metrics(dashboard, with_samples) == {}
    queues = {
        sample.name: sample.labels.get("queue")
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    for _, query in dashboard_queries(dashboard):
        for name in metric_names(query):
            assert queues[name] == "support", name


def feed_now(model: LiveModel, pbx: str, queue: str) -> None:
    """One call answered after 5 s and one caller waiting, a minute ago (the collector reads
    the model at the wall clock's time, so the calls must be inside the rolling window)."""
    start = datetime.now(UTC) - timedelta(seconds=60)

    def at(seconds: float) -> datetime:
        return start + timedelta(seconds=seconds)

    agent = ami.Agent("PJSIP/8001", "Alice")
    caller, leg = ami.Caller("1741000000.1", "13800138000"), agent.leg()
    for fields in (
        ami.member("QueueMemberAdded", at(0), queue, agent),
        ami.join(at(1), queue, caller, 1, 1),
        ami.called(at(2), queue, caller, agent, leg),
        ami.leave(at(6), queue, caller, 1, 0),
        ami.connect(at(6), queue, caller, agent, leg, hold=5, ring=4),
        ami.join(at(10), queue, ami.Caller("1741000000.2", "13700137000"), 1, 1),
    ):
        event = parse_event(pbx, fields, at(0))
        assert event is not None
        model.apply(event)
