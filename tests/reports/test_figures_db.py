"""Every report figure against a small data set computed by hand, on SQLite and PostgreSQL:
raw rows written the way the rooms write them, roll-ups kept by the refresher (the database
triggers queue what changed), figures read back through the report engine."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.agents.scope import EVERYTHING, Scope, Team
from callcenter.reports.models import ReportDirty, ReportRun
from callcenter.reports.query import ReportRequest, ReportResult, Reports, TooFine, _Cells
from callcenter.reports.refresh import RollupRefresher
from callcenter.settings import ReportsSettings
from tests.reports.helpers import (
    ITEMS,
    SHANGHAI,
    add_call,
    add_item,
    add_state,
    add_survey,
    add_user,
    add_wrapup,
    local,
    snapshot,
)

DAY = date(2026, 11, 2)  # a Monday
SETTINGS = ReportsSettings(service_level_seconds=20, fcr_days=7)
RUNS: Table = ReportRun.__table__  # type: ignore[assignment]


async def _data(engine: AsyncEngine) -> dict[str, int]:
    ann = await add_user(engine, "ann")
    bob = await add_user(engine, "bob")
    c1, u1 = await add_call(
        engine, queue="sales", joined=local("2026-11-02T09:00"), outcome="answered",
        wait=10, talk=100, wrapup=20, user=ann, number="13800000001",
    )  # fmt: skip
    c2, u2 = await add_call(
        engine, queue="sales", joined=local("2026-11-02T09:05"), outcome="answered",
        wait=30, talk=200, wrapup=0, user=ann, number="13800000002",
    )  # fmt: skip
    # The same number again two days later: c2 was not resolved at first contact.
    await add_call(
        engine, queue="support", joined=local("2026-11-04T10:00"), outcome="answered",
        wait=5, talk=50, user=bob, number="13800000002",
    )  # fmt: skip
    # c1's caller comes back through an overflow leg of the same call: not a new contact.
    await add_call(
        engine, queue="support", joined=local("2026-11-02T09:10"), outcome="abandoned",
        wait=3, number="13800000001", uniqueid=u1,
    )  # fmt: skip
    await add_call(
        engine, queue="sales", joined=local("2026-11-02T09:20"), outcome="abandoned", wait=40
    )
    await add_call(
        engine, queue="sales", joined=local("2026-11-02T09:21"), outcome="abandoned",
        wait=2, short=True,
    )  # fmt: skip
    await add_call(
        engine, queue="sales", joined=local("2026-11-02T10:00"), outcome="timeout", wait=300
    )
    await add_call(
        engine, queue="sales", joined=local("2026-11-02T10:10"), outcome="overflowed", wait=25
    )
    c8, _ = await add_call(
        engine, queue="sales", joined=local("2026-11-02T23:50"), outcome="transferred",
        wait=15, talk=60, user=bob, number="13800000008",
    )  # fmt: skip
    # 00:10 local on the 3rd is still the 2nd in UTC: it belongs to the 3rd.
    await add_call(
        engine, queue="sales", joined=local("2026-11-03T00:10"), outcome="answered",
        wait=1, talk=10, user=bob,
    )  # fmt: skip
    await add_wrapup(engine, c1, "resolved", "consultation", local("2026-11-02T09:03"))
    await add_wrapup(engine, c8, "complaint-logged", "complaint", local("2026-11-03T00:01"))
    await add_survey(engine, u1, "sales", 5, local("2026-11-02T09:02"))
    await add_survey(engine, u2, "sales", 3, local("2026-11-02T09:09"))
    # Ann's day: ready 30 min, on a call 10, after-call work 5, lunch 60.
    await add_state(engine, ann, "ready", local("2026-11-02T09:00"), local("2026-11-02T09:30"))
    await add_state(engine, ann, "on-call", local("2026-11-02T09:30"), local("2026-11-02T09:40"))
    await add_state(engine, ann, "acw", local("2026-11-02T09:40"), local("2026-11-02T09:45"))
    await add_state(
        engine, ann, "not-ready", local("2026-11-02T09:45"), local("2026-11-02T10:45"), "lunch"
    )
    await add_state(engine, ann, "signed-out", local("2026-11-02T10:45"), local("2026-11-02T12:00"))
    return {"ann": ann, "bob": bob, "c2": c2}


async def _run(
    engine: AsyncEngine,
    request: ReportRequest,
    scope: Scope = EVERYTHING,
    teams: list[Team] | None = None,
) -> ReportResult:
    return await Reports(engine, SETTINGS, SHANGHAI).run(request, scope, teams or [])


@pytest.fixture
async def loaded(engine: AsyncEngine) -> dict[str, int]:
    ids = await _data(engine)
    refresher = RollupRefresher(engine, SETTINGS, SHANGHAI, clock=lambda: local("2026-11-10T00:00"))
    assert await refresher.refresh() > 0
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(ReportDirty)) == 0
    return ids


QUEUE_FIGURES = (
    "offered", "answered", "abandoned", "short_abandons", "timeouts", "overflowed",
    "transferred", "answer_rate", "abandon_rate", "service_level", "service_level_offered",
    "asa", "abandon_wait", "longest_wait", "aht", "fcr", "surveys", "survey_response_rate",
    "satisfaction", "satisfaction_mean", "wrapup_completion",
)  # fmt: skip


async def test_queue_figures_of_a_day_as_computed_by_hand(
    engine: AsyncEngine, loaded: dict[str, int]
) -> None:
    result = await _run(engine, ReportRequest(QUEUE_FIGURES, "queue", "total", DAY, DAY))
    rows = {r.key: r.values for r in result.rows}
    assert set(rows) == {"sales", "support"}
    sales = rows["sales"]
    # answered c1 c2 c8; abandoned c4 (+ c5 short); timeout c6; c7 overflowed (not offered)
    assert sales["offered"] == 5
    assert sales["answered"] == 3
    assert sales["abandoned"] == 1
    assert sales["short_abandons"] == 1
    assert sales["timeouts"] == 1
    assert sales["overflowed"] == 1
    assert sales["transferred"] == 1
    assert sales["answer_rate"] == pytest.approx(3 / 5)
    assert sales["abandon_rate"] == pytest.approx(1 / 5)
    assert sales["service_level"] == pytest.approx(2 / 3)  # waits 10 and 15 of 10, 30, 15
    assert sales["service_level_offered"] == pytest.approx(2 / 5)
    assert sales["asa"] == pytest.approx((10 + 30 + 15) / 3)
    assert sales["abandon_wait"] == pytest.approx((40 + 2) / 2)
    assert sales["longest_wait"] == 300
    assert sales["aht"] == pytest.approx((100 + 200 + 60 + 20) / 3)
    assert sales["fcr"] == pytest.approx(2 / 3)  # c2's caller called again on the 4th
    assert sales["surveys"] == 2
    assert sales["survey_response_rate"] == pytest.approx(2 / 3)
    assert sales["satisfaction"] == pytest.approx(1 / 2)
    assert sales["satisfaction_mean"] == pytest.approx(4)
    assert sales["wrapup_completion"] == pytest.approx(2 / 3)
    # Nothing answered in support that day: ratios over answered calls are empty, not 0.
    support = rows["support"]
    assert support["answered"] == 0
    assert support["service_level"] is None
    assert support["asa"] is None
    assert support["satisfaction"] is None
    # Satisfaction 50 % < 90 %, abandon rate 20 % > 5 %, SL 67 % < 80 %: marked.
    off = {r.key: r.off_target for r in result.rows}["sales"]
    assert {"satisfaction", "abandon_rate", "service_level"} <= set(off)


async def test_days_are_the_contact_centres_days(
    engine: AsyncEngine, loaded: dict[str, int]
) -> None:
    result = await _run(
        engine,
        ReportRequest(
            ("answered",), "none", "day", DAY, DAY + timedelta(days=2), frozenset({"sales"})
        ),
    )
    by_day = {r.period: r.values["answered"] for r in result.rows}
    assert by_day == {"2026-11-02": 3, "2026-11-03": 1}
    hours = await _run(engine, ReportRequest(("offered",), "hour", "total", DAY, DAY))
    assert {r.key: r.values["offered"] for r in hours.rows} == {"9": 4, "10": 1, "23": 1}
    week = await _run(
        engine, ReportRequest(("answered",), "weekday", "week", DAY, DAY + timedelta(days=6))
    )
    assert {(r.period, r.key): r.values["answered"] for r in week.rows} == {
        ("2026-11-02", "1"): 3,
        ("2026-11-02", "2"): 1,
        ("2026-11-02", "3"): 1,
    }
    slots = await _run(engine, ReportRequest(("offered",), "none", "15min", DAY, DAY))
    assert {r.period: r.values["offered"] for r in slots.rows}["2026-11-02 09:00"] == 3


async def test_agent_figures_and_states(engine: AsyncEngine, loaded: dict[str, int]) -> None:
    figures = ("answered", "talk_time", "aht", "occupancy", "utilisation", "pause_time")
    result = await _run(engine, ReportRequest(figures, "agent", "total", DAY, DAY))
    rows = {r.key: r.values for r in result.rows}
    ann = rows[str(loaded["ann"])]
    assert ann["answered"] == 2
    assert ann["talk_time"] == 300
    assert ann["aht"] == pytest.approx((100 + 200 + 20) / 2)
    # handling 15 min of (15 + 30 ready); signed in 105 min; lunch 60 min
    assert ann["occupancy"] == pytest.approx(900 / 2700)
    assert ann["utilisation"] == pytest.approx(900 / 6300)
    assert ann["pause_time"] == 3600
    bob = rows[str(loaded["bob"])]
    assert bob["answered"] == 1
    reasons = await _run(engine, ReportRequest(("pause_time",), "pause_code", "total", DAY, DAY))
    assert {r.key: r.values["pause_time"] for r in reasons.rows} == {"lunch": 3600}
    assert bob["occupancy"] is None  # no state history for Bob


async def test_dispositions(engine: AsyncEngine, loaded: dict[str, int]) -> None:
    result = await _run(
        engine,
        ReportRequest(("wrapped_calls", "wrapped_share"), "disposition", "total", DAY, DAY),
    )
    assert {r.key: (r.values["wrapped_calls"], r.values["wrapped_share"]) for r in result.rows} == {
        "resolved": (1, 0.5),
        "complaint-logged": (1, 0.5),
    }


async def test_a_late_wrapup_changes_the_rollups_and_equals_a_rebuild(
    engine: AsyncEngine, loaded: dict[str, int]
) -> None:
    refresher = RollupRefresher(engine, SETTINGS, SHANGHAI, clock=lambda: local("2026-11-10T00:00"))
    await add_wrapup(engine, loaded["c2"], "info-sent", "consultation", local("2026-11-05T09:00"))
    await refresher.refresh()
    result = await _run(engine, ReportRequest(("wrapup_completion",), "queue", "total", DAY, DAY))
    assert {r.key: r.values for r in result.rows}["sales"]["wrapup_completion"] == pytest.approx(1)
    kept = await snapshot(engine)
    rebuilt = await refresher.rebuild()
    assert rebuilt.calls == 10
    assert await snapshot(engine) == kept


async def test_scope_and_filters(engine: AsyncEngine, loaded: dict[str, int]) -> None:
    team = Team(
        7, "north", "北区", "North", frozenset({"support"}), frozenset({loaded["bob"]}), frozenset()
    )
    leader = Scope(everything=False, team_ids=frozenset({7}), queues=frozenset({"support"}),
                   user_ids=frozenset({loaded["bob"]}))  # fmt: skip
    result = await _run(
        engine,
        ReportRequest(("answered",), "queue", "total", DAY, DAY + timedelta(days=3)),
        leader,
        [team],
    )
    assert {r.key for r in result.rows} == {"support"}
    by_team = await _run(
        engine, ReportRequest(("offered",), "team", "total", DAY, DAY), EVERYTHING, [team]
    )
    assert {r.key: r.values["offered"] for r in by_team.rows} == {"north": 1}
    with pytest.raises(TooFine):
        await _run(engine, ReportRequest(("answered",), "agent", "hour", DAY, DAY))
    with pytest.raises(TooFine):
        await _run(
            engine, ReportRequest(("answered",), "none", "15min", DAY, DAY + timedelta(days=200))
        )


async def test_a_survey_counts_once_for_the_leg_its_agent_answered(engine: AsyncEngine) -> None:
    # Answered in sales by 1001, transferred back into sales and answered by 1002: one
    # caller, one uniqueid, two answered legs, one survey about 1002.
    _, uid = await add_call(
        engine, queue="sales", joined=local("2026-11-02T09:00"), outcome="transferred",
        wait=5, talk=60, answered_by="PJSIP/1001", number="13800000009",
    )  # fmt: skip
    await add_call(
        engine, queue="sales", joined=local("2026-11-02T09:02"), outcome="answered", wait=5,
        talk=60, answered_by="PJSIP/1002", number="13800000009", uniqueid=uid,
    )  # fmt: skip
    await add_survey(engine, uid, None, 2, local("2026-11-02T09:05"), agent="PJSIP/1002")
    await RollupRefresher(engine, SETTINGS, SHANGHAI).refresh()
    result = await _run(
        engine, ReportRequest(("surveys", "satisfaction_mean", "fcr"), "none", "total", DAY, DAY)
    )
    assert result.totals["surveys"] == 1
    assert result.totals["satisfaction_mean"] == 2
    # The second leg is the same call, not the caller calling again.
    assert result.totals["fcr"] == 1


async def test_withheld_numbers_are_no_customer_for_fcr(engine: AsyncEngine) -> None:
    for minute in ("09:00", "09:30"):
        await add_call(
            engine, queue="sales", joined=local(f"2026-11-02T{minute}"), outcome="answered",
            wait=5, talk=60, number="anonymous",
        )  # fmt: skip
    await add_call(
        engine, queue="sales", joined=local("2026-11-02T10:00"), outcome="answered",
        wait=5, talk=60, number="13800000010",
    )  # fmt: skip
    await RollupRefresher(engine, SETTINGS, SHANGHAI).refresh()
    result = await _run(engine, ReportRequest(("answered", "fcr"), "none", "total", DAY, DAY))
    assert result.totals["answered"] == 3
    assert result.totals["fcr"] == 1  # one identified call, not called again


async def test_overlapping_teams_count_a_call_once_in_the_totals(
    engine: AsyncEngine, loaded: dict[str, int]
) -> None:
    both = frozenset({"sales"})
    teams = [
        Team(1, "north", "北区", "North", both, frozenset(), frozenset()),
        Team(2, "vip", "贵宾", "VIP", both, frozenset(), frozenset()),
    ]
    result = await _run(
        engine, ReportRequest(("answered",), "team", "total", DAY, DAY), EVERYTHING, teams
    )
    assert {r.key: r.values["answered"] for r in result.rows} == {"north": 3, "vip": 3}
    assert result.totals["answered"] == 3
    leader = Scope(everything=False, team_ids=frozenset({1}), queues=both, user_ids=frozenset())
    mine = await _run(
        engine, ReportRequest(("answered",), "team", "total", DAY, DAY), leader, teams
    )
    assert {r.key for r in mine.rows} == {"north"}


async def test_nothing_is_refreshed_while_a_rebuild_runs(
    engine: AsyncEngine, loaded: dict[str, int]
) -> None:
    refresher = RollupRefresher(engine, SETTINGS, SHANGHAI, clock=lambda: local("2026-11-10T00:00"))
    async with engine.begin() as conn:
        await conn.execute(
            insert(RUNS).values(
                kind="rebuild", period_start=date(2000, 1, 1), path="", mailed_to=0,
                written_at=local("2026-11-09T23:00"),
            )
        )  # fmt: skip
    await add_wrapup(engine, loaded["c2"], "info-sent", "consultation", local("2026-11-05T09:00"))
    assert await refresher.refresh() == 0
    async with engine.begin() as conn:
        await conn.execute(delete(RUNS))
    assert await refresher.refresh() > 0
    result = await _run(engine, ReportRequest(("wrapup_completion",), "queue", "total", DAY, DAY))
    assert {r.key: r.values for r in result.rows}["sales"]["wrapup_completion"] == 1


async def test_complaint_and_work_item_figures(engine: AsyncEngine, loaded: dict[str, int]) -> None:
    ann = loaded["ann"]
    at = local("2026-11-02T12:00")
    done = local("2026-11-03T12:00")
    await add_item(engine, "complaint", "sales", at, owner=ann, resolved=done, on_time=True)
    await add_item(engine, "complaint", "sales", at, owner=ann, resolved=done, on_time=False)
    await add_item(engine, "complaint", "sales", at, owner=ann)
    await add_item(engine, "callback", "sales", at, resolved=done, on_time=True)
    await add_item(engine, "follow-up", "support", at)
    # Opened the day after: outside the period.
    await add_item(engine, "complaint", "sales", local("2026-11-03T09:00"))
    refresher = RollupRefresher(engine, SETTINGS, SHANGHAI, clock=lambda: local("2026-11-10T00:00"))
    await refresher.refresh()
    figures = (
        "complaints",
        "complaint_rate",
        "complaint_resolution_rate",
        "complaint_on_time_rate",
        "items_opened",
        "items_on_time_rate",
        "callbacks_completed",
    )
    result = await _run(engine, ReportRequest(figures, "queue", "total", DAY, DAY))
    sales = {r.key: r.values for r in result.rows}["sales"]
    assert sales["complaints"] == 3
    assert sales["complaint_rate"] == pytest.approx(3 / 3)  # 3 complaints, 3 answered calls
    assert sales["complaint_resolution_rate"] == pytest.approx(2 / 3)
    assert sales["complaint_on_time_rate"] == pytest.approx(1 / 2)
    assert sales["items_opened"] == 4
    assert sales["items_on_time_rate"] == pytest.approx(2 / 3)
    assert sales["callbacks_completed"] == 1
    assert "complaint_rate" in {r.key: r.off_target for r in result.rows}["sales"]
    assert result.totals["items_opened"] == 5
    by_agent = await _run(engine, ReportRequest(("complaints",), "agent", "total", DAY, DAY))
    assert {r.key: r.values["complaints"] for r in by_agent.rows}[str(ann)] == 3
    # Resolved later: the day it was opened is counted again.
    async with engine.begin() as conn:
        await conn.execute(
            update(ITEMS)
            .where(ITEMS.c.kind == "complaint", ITEMS.c.resolved_at.is_(None))
            .values(resolved_at=done, resolved_on_time=True, is_open=False)
        )
    await refresher.refresh()
    result = await _run(engine, ReportRequest(figures, "queue", "total", DAY, DAY))
    assert {r.key: r.values for r in result.rows}["sales"]["complaint_resolution_rate"] == 1
    kept = await snapshot(engine)
    await refresher.rebuild()
    assert await snapshot(engine) == kept


def test_a_report_of_too_many_rows_is_refused_before_it_is_built() -> None:
    cells = _Cells(limit=2)
    cells.at("2026-11-01", "a")
    cells.at("2026-11-01", "b")
    cells.at("2026-11-01", "a")  # an existing row is no new row
    with pytest.raises(TooFine, match="over 2 rows"):
        cells.at("2026-11-02", "a")
