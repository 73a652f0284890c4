"""The per-queue Prometheus gauges (`callcenter.metrics.LiveCollector`) read from a real live
model fed with parsed AMI events, checked against hand-computed figures."""

from __future__ import annotations

import math
from datetime import datetime

import pytest
from prometheus_client import CollectorRegistry

from callcenter.live import LiveConfig, LiveModel
from callcenter.metrics import LiveCollector
from tests.live import amitrace as ami

PBX = "pbx-a"
BUSY, IDLE = "support", "sales"
ALICE = ami.Agent("PJSIP/8001", "Alice")
BOB = ami.Agent("PJSIP/8002", "Bob")

SL_ANSWERED = "callcenter_queue_service_level_answered_ratio"
SL_OFFERED = "callcenter_queue_service_level_offered_ratio"
ABANDON = "callcenter_queue_abandon_ratio"
ANSWER = "callcenter_queue_answer_ratio"
WAITING = "callcenter_queue_callers_waiting"
LONGEST = "callcenter_queue_longest_wait_seconds"
RATIOS = (SL_ANSWERED, SL_OFFERED, ABANDON, ANSWER)


class Scrape:
    """A registry holding only the collector, read at a chosen model time."""

    def __init__(self, model: LiveModel) -> None:
        self.now = ami.T0
        self.registry = CollectorRegistry()
        self.registry.register(LiveCollector(model, clock=self.clock))

    def clock(self) -> datetime:
        return self.now

    def value(self, name: str, queue: str) -> float | None:
        return self.registry.get_sample_value(name, {"pbx": PBX, "queue": queue})


@pytest.fixture
def model() -> LiveModel:
    return LiveModel(
        LiveConfig(
            window_seconds=900,
            service_level_seconds=20,
            short_abandon_seconds=5,
            exit_grace_seconds=2,
        )
    )


@pytest.fixture
def pbx(model: LiveModel) -> ami.Pbx:
    p = ami.Pbx(model, PBX)
    p.send_all(
        ami.member("QueueMemberAdded", p.at(0), BUSY, ALICE),
        ami.member("QueueMemberAdded", p.at(0), BUSY, BOB),
        ami.member("QueueMemberAdded", p.at(0), IDLE, BOB),
    )
    return p


def answered(pbx: ami.Pbx, uniqueid: str, joined: float, hold: int) -> None:
    at, caller, leg = pbx.at, ami.Caller(uniqueid, "13800138000"), ALICE.leg()
    pbx.send_all(
        ami.join(at(joined), BUSY, caller, 1, 1),
        ami.called(at(joined + 1), BUSY, caller, ALICE, leg),
        ami.leave(at(joined + hold), BUSY, caller, 1, 0),
        ami.connect(at(joined + hold), BUSY, caller, ALICE, leg, hold=hold, ring=hold - 1),
    )


def feed_busy_queue(pbx: ami.Pbx) -> None:
    """3 answered (waits 8 s and 15 s within the 20 s threshold, 30 s outside), 1 abandoned
    after 30 s (decided by the caller's hang-up), and one caller still waiting since 200 s."""
    answered(pbx, "1741000000.1", 0, hold=8)
    answered(pbx, "1741000000.2", 50, hold=15)
    answered(pbx, "1741000000.3", 100, hold=30)
    at, gone = pbx.at, ami.Caller("1741000000.4", "13900139000")
    pbx.send_all(
        ami.join(at(150), BUSY, gone, 1, 1),
        ami.abandon(at(180), BUSY, gone, 1, 1, 30),
        ami.leave(at(180), BUSY, gone, 1, 0),
        ami.hangup(at(180.05), gone),
    )
    pbx.send(ami.join(at(200), BUSY, ami.Caller("1741000000.5", "13700137000"), 1, 1))


def test_gauges_match_hand_computed_figures(model: LiveModel, pbx: ami.Pbx) -> None:
    feed_busy_queue(pbx)
    scrape = Scrape(model)
    scrape.now = pbx.at(245)

    assert scrape.value(SL_ANSWERED, BUSY) == pytest.approx(2 / 3)
    assert scrape.value(SL_OFFERED, BUSY) == pytest.approx(2 / 4)
    assert scrape.value(ABANDON, BUSY) == pytest.approx(1 / 4)
    assert scrape.value(ANSWER, BUSY) == pytest.approx(3 / 4)
    assert scrape.value(WAITING, BUSY) == 1
    assert scrape.value(LONGEST, BUSY) == pytest.approx(45.0)


def test_gauges_are_the_wallboards_figures(model: LiveModel, pbx: ami.Pbx) -> None:
    """The same kpi functions over the same window: what `/ws/live` shows for each queue."""
    feed_busy_queue(pbx)
    scrape = Scrape(model)
    scrape.now = pbx.at(300)
    stats = model.queue_view(PBX, BUSY, scrape.now).stats
    assert (
        scrape.value(SL_ANSWERED, BUSY),
        scrape.value(SL_OFFERED, BUSY),
        scrape.value(ABANDON, BUSY),
        scrape.value(ANSWER, BUSY),
    ) == (
        stats.service_level_answered,
        stats.service_level_offered,
        stats.abandon_rate,
        stats.answer_rate,
    )


def test_an_idle_queue_exports_no_ratio(model: LiveModel, pbx: ami.Pbx) -> None:
    """Nothing to divide by: no sample at all, neither 0 (an alert on "SL < 80 %" would fire)
    nor NaN; the counts that are truly zero are 0."""
    feed_busy_queue(pbx)
    scrape = Scrape(model)
    scrape.now = pbx.at(245)
    for name in RATIOS:
        assert scrape.value(name, IDLE) is None, name
    assert scrape.value(WAITING, IDLE) == 0
    assert scrape.value(LONGEST, IDLE) == 0
    for family in scrape.registry.collect():
        for sample in family.samples:
            assert not math.isnan(sample.value), sample


def test_ratios_leave_with_the_rolling_window(model: LiveModel, pbx: ami.Pbx) -> None:
    """Past the window (900 s) every call has left it: the ratios go absent, the waiting
    caller is still counted."""
    feed_busy_queue(pbx)
    scrape = Scrape(model)
    scrape.now = pbx.at(180 + 900 + 1)
    for name in RATIOS:
        assert scrape.value(name, BUSY) is None, name
    assert scrape.value(WAITING, BUSY) == 1


def test_only_an_answered_call_gives_the_answered_basis(model: LiveModel, pbx: ami.Pbx) -> None:
    """One abandon alone: offered-basis figures exist (SL 0, abandon 1), the answered basis
    has nothing to divide by."""
    at, gone = pbx.at, ami.Caller("1741000000.9", "100")
    pbx.send_all(
        ami.join(at(0), BUSY, gone, 1, 1),
        ami.abandon(at(30), BUSY, gone, 1, 1, 30),
        ami.leave(at(30), BUSY, gone, 1, 0),
        ami.hangup(at(30.05), gone),
    )
    scrape = Scrape(model)
    scrape.now = pbx.at(31)
    assert scrape.value(SL_ANSWERED, BUSY) is None
    assert scrape.value(SL_OFFERED, BUSY) == 0.0
    assert scrape.value(ABANDON, BUSY) == 1.0
    assert scrape.value(ANSWER, BUSY) == 0.0


def test_one_series_per_queue(model: LiveModel, pbx: ami.Pbx) -> None:
    feed_busy_queue(pbx)
    scrape = Scrape(model)
    scrape.now = pbx.at(245)
    for family in scrape.registry.collect():
        if family.name in (*RATIOS, WAITING, LONGEST):
            keys = [tuple(sorted(s.labels.items())) for s in family.samples]
            assert len(keys) == len(set(keys)), family.name
            assert all(set(s.labels) == {"pbx", "queue"} for s in family.samples)
