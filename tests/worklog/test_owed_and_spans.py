"""What the reviewer of issue 18's work log found, as tests, on SQLite and PostgreSQL:
which days are owed (evidence of work, not the rota), logs that partition time (no call in
no log, none in two), escalations counted for the owner at the time, whose logs are
reviewed, the limits on periods and on a log's age, a log frozen again at sign-off, and the
callbacks an agent really made."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.reports.ports import LogDay
from callcenter.settings import WorklogSettings
from callcenter.shifts.rota import ShiftBoard, ShiftDef
from callcenter.work.models import WorkItemRow
from callcenter.worklog.book import Worklogs
from tests.worklog.centre import DAY, ZONE, Centre, local, open_centre
from tests.worklog.test_api import body

EVERY_DAY = frozenset(range(7))


@pytest.fixture
async def centre(engine: AsyncEngine) -> AsyncIterator[Centre]:
    async with open_centre(engine) as centre:
        yield centre


def board(centre: Centre, *shifts: ShiftDef) -> ShiftBoard:
    """The shifts room's real rota, put in place of the fake one."""
    rota = ShiftBoard(ZONE)
    rota.load(list(shifts), centre.agents.teams(), [u.id for u in centre.agents.active_users()])
    centre.room.logs.rota = rota
    return rota


async def calls_per_day(centre: Centre, who: str, days: list[str]) -> dict[str, int]:
    found = {}
    for day in days:
        log = await centre.ok(who, "GET", "/api/worklog/day", day=day)
        found[day] = log["figures"]["calls"]
    return found


# --- the spans partition time ---------------------------------------------------------------


async def test_calls_before_and_after_a_shift_are_in_the_days_log(centre: Centre) -> None:
    zhao = centre.id("zhao")
    centre.rota.add(zhao, local(2, 14), local(2, 22))
    await centre.add_call("zhao", local(2, 9, 0), 100)  # early, before the shift
    await centre.add_call("zhao", local(2, 15, 0), 100)  # in the shift
    await centre.add_call("zhao", local(2, 22, 30), 100)  # overtime
    centre.clock.set(local(3, 15))

    found = await calls_per_day(centre, "zhao", ["2026-12-01", "2026-12-02", "2026-12-03"])

    assert found == {"2026-12-01": 0, "2026-12-02": 3, "2026-12-03": 0}


async def test_a_night_and_a_morning_shift_that_overlap_count_a_call_once(
    centre: Centre,
) -> None:
    zhao = centre.id("zhao")
    centre.rota.add(zhao, local(1, 22), local(2, 7))
    centre.rota.add(zhao, local(2, 6), local(2, 14))
    await centre.add_call("zhao", local(2, 6, 30), 100)  # in both shifts: the night's
    await centre.add_call("zhao", local(2, 7, 30), 100)
    centre.clock.set(local(3, 15))

    found = await calls_per_day(centre, "zhao", ["2026-12-01", "2026-12-02"])

    assert found == {"2026-12-01": 1, "2026-12-02": 1}


async def test_a_stored_log_keeps_its_span_and_its_neighbour_follows_it(centre: Centre) -> None:
    zhao = centre.id("zhao")
    centre.rota.add(zhao, local(1, 22), local(2, 7))
    await centre.add_call("zhao", local(2, 6, 30), 100)
    centre.clock.set(local(2, 8))
    first = await centre.ok("zhao", "PUT", "/api/worklog/day", body(0, date(2026, 12, 1)))
    assert first["covers_end"] == local(2, 7).isoformat()
    # The night shift leaves the rota: the 1st keeps its span; the 2nd starts where it ends.
    centre.rota.given.clear()
    second = await centre.ok("zhao", "GET", "/api/worklog/day", day="2026-12-02")
    assert second["covers_start"] == local(2, 7).isoformat()
    assert second["figures"]["calls"] == 0
    assert (await centre.ok("zhao", "GET", "/api/worklog/day"))["day"] == "2026-12-02"
    centre.clock.set(local(2, 6, 45))
    assert (await centre.ok("zhao", "GET", "/api/worklog/options"))["current_day"] == ("2026-12-01")


# --- the days owed ------------------------------------------------------------------------


async def test_a_rota_made_today_makes_no_past_day_owed(centre: Centre) -> None:
    wang = centre.id("wang")
    board(centre, ShiftDef("day", "Day", time(9), time(17), EVERY_DAY, frozenset({wang})))

    days = await centre.room.logs.log_days([wang], date(2026, 11, 3), date(2026, 12, 2))

    assert days == []


async def test_leave_is_not_owed_and_signed_in_time_is(centre: Centre) -> None:
    wang, zhao = centre.id("wang"), centre.id("zhao")
    board(
        centre,
        ShiftDef("day", "Day", time(9), time(17), EVERY_DAY, frozenset({wang})),
        ShiftDef("night", "Night", time(22), time(6), EVERY_DAY, frozenset({zhao})),
    )
    # Wang: signed in on the 30th and the 2nd; on leave the 1st (rota says work).
    await centre.add_state("wang", "ready", local(30, 8, 55, month=11), local(30, 17, month=11))
    await centre.add_state("wang", "not-ready", local(2, 9), local(2, 9, 30), code="break")
    await centre.add_state("wang", "signed-out", local(2, 9, 30), local(2, 10))
    # Zhao: the night of the 1st, signed in 21:55 to 05:50 on the 2nd: the 1st only.
    await centre.add_state("zhao", "ready", local(1, 21, 55), local(2, 5, 50))
    # Zhao's state still open since the night of the 2nd (signed in now): the 2nd (its
    # span ends at 06:00 on the 3rd, its deadline at 18:00), and the 3rd, not yet due.
    await centre.add_state("zhao", "on-call", local(2, 22), None)
    centre.clock.set(local(3, 19))

    days = await centre.room.logs.log_days([wang, zhao], date(2026, 11, 25), date(2026, 12, 3))

    assert [(d.user_id, d.day) for d in days] == [
        (wang, date(2026, 11, 30)),
        (wang, date(2026, 12, 2)),
        (zhao, date(2026, 12, 1)),
        (zhao, date(2026, 12, 2)),
    ]


async def test_completion_with_the_real_rota_and_a_night_shift(centre: Centre) -> None:
    zhao = centre.id("zhao")
    board(centre, ShiftDef("night", "Night", time(22), time(6), EVERY_DAY, frozenset({zhao})))
    # Calls at 02:00 on the 2nd and on the 3rd: the nights of the 1st and the 2nd.
    await centre.add_call("zhao", local(2, 2), 60)
    await centre.add_call("zhao", local(3, 2), 60)
    centre.clock.set(local(2, 8))
    log = await centre.ok("zhao", "POST", "/api/worklog/day/submit", body(0, date(2026, 12, 1)))
    # Every night is a shift: the 1st runs from the end of the night of the 30th.
    assert (log["covers_start"], log["covers_end"]) == (
        local(1, 6).isoformat(),
        local(2, 6).isoformat(),
    )
    assert (log["figures"]["calls"], log["on_time"]) == (1, True)
    centre.clock.set(local(4, 12))

    days = await centre.room.logs.log_days(None, date(2026, 12, 1), date(2026, 12, 3))

    assert days == [
        LogDay(zhao, date(2026, 12, 1), on_time=True, signed=False),
        LogDay(zhao, date(2026, 12, 2), on_time=False, signed=False),
    ]


async def test_the_reports_ask_for_years_and_the_roll_up_is_told_its_limit(
    centre: Centre,
) -> None:
    await centre.add_call("wang", local(2, 10), 60)
    centre.clock.set(local(3, 13))
    days = await centre.room.logs.log_days(None, date(2016, 12, 3), date(2026, 12, 3))
    assert [(d.user_id, d.day) for d in days] == [(centre.id("wang"), DAY)]
    status, answer = await centre.call(
        "boss", "GET", "/api/worklog/rollup", first="2025-01-01", last="2026-12-03"
    )
    assert (status, answer["error"], answer["max_days"]) == (400, "bad-period", 400)
    assert answer["message"] == "2025-01-01..2026-12-03 is 702 days: ask for at most 400 at once"
    status, answer = await centre.call(
        "boss", "GET", "/api/worklog/rollup", first="2026-12-03", last="2026-12-01"
    )
    assert answer["message"] == "the period ends (2026-12-01) before it starts (2026-12-03)"


async def test_calls_are_on_the_right_local_day_across_the_clock_changes(
    engine: AsyncEngine,
) -> None:
    berlin = ZoneInfo("Europe/Berlin")

    def at(month: int, day: int, hour: int, minute: int) -> datetime:
        return datetime(2026, month, day, hour, minute, tzinfo=berlin).astimezone(UTC)

    async with open_centre(engine) as centre:
        wang = centre.id("wang")
        # Just after midnight and just before it, on the 23- and 25-hour days and around.
        for when in (
            at(3, 28, 23, 50),
            at(3, 29, 0, 10),
            at(3, 29, 23, 50),
            at(10, 25, 0, 10),
            at(10, 25, 23, 50),
            at(10, 26, 0, 5),
        ):
            await centre.add_call("wang", when, 30)
        logs = Worklogs(
            engine, WorklogSettings(), berlin, clock=lambda: datetime(2027, 1, 1, tzinfo=UTC)
        )
        days = await logs.log_days([wang], date(2026, 1, 1), date(2026, 12, 31))
        assert [d.day for d in days] == [
            date(2026, 3, 28),
            date(2026, 3, 29),
            date(2026, 10, 25),
            date(2026, 10, 26),
        ]


# --- the figures ----------------------------------------------------------------------------


async def test_an_escalation_counts_for_the_owner_when_it_escalated(centre: Centre) -> None:
    item = await centre.add_item("wang", local(2, 9), owner="wang")
    await centre.add_event(
        item, None, "escalated", local(2, 17), tier="leader", owner_id=centre.id("wang")
    )
    # An event written before the owner was in its data: the item's owner now.
    legacy = await centre.add_item("li", local(2, 9), owner="li")
    await centre.add_event(legacy, None, "escalated", local(2, 17), tier="leader")
    # One escalated while nobody owned it: nobody's, even once someone takes it.
    pool = await centre.add_item("li", local(2, 9))
    await centre.add_event(pool, None, "escalated", local(2, 18), tier="leader", owner_id=None)
    # The next day the item moves to Li (a handover), the pool item to Wang.
    async with centre.engine.begin() as conn:
        await conn.execute(
            update(WorkItemRow).where(WorkItemRow.id == item).values(owner_id=centre.id("li"))
        )
        await conn.execute(
            update(WorkItemRow).where(WorkItemRow.id == pool).values(owner_id=centre.id("wang"))
        )
    centre.clock.set(local(3, 15))

    wang = await centre.ok("wang", "GET", "/api/worklog/day", day="2026-12-02")
    li = await centre.ok("li", "GET", "/api/worklog/day", day="2026-12-02")

    assert (wang["figures"]["items_escalated"], li["figures"]["items_escalated"]) == (1, 1)


async def test_callbacks_made_are_the_attempts_the_agent_took(centre: Centre) -> None:
    item = await centre.add_item("wang", local(1, 9), owner="wang")
    await centre.add_attempt("wang", item, local(2, 10), "reached")
    await centre.add_attempt("wang", item, local(2, 11), "busy")
    await centre.add_attempt("wang", item, local(2, 12), "failed")  # taken, nobody dialled
    await centre.add_attempt("wang", item, local(2, 13), "agent-missed", taken=False)
    await centre.add_attempt("wang", item, local(2, 14), "failed", taken=False)  # PBX refused
    await centre.add_attempt("wang", item, local(2, 23, 58), None)  # still running
    centre.clock.set(local(3, 9))

    log = await centre.ok("wang", "GET", "/api/worklog/day", day="2026-12-02")

    assert (log["figures"]["callbacks"], log["figures"]["callbacks_reached"]) == (3, 1)


async def test_a_log_submitted_before_its_day_ended_is_frozen_again_at_sign_off(
    centre: Centre,
) -> None:
    await centre.add_call("wang", local(2, 10), 60)
    centre.clock.set(local(2, 17))
    log = await centre.ok("wang", "POST", "/api/worklog/day/submit", body(0))
    assert log["figures"]["calls"] == 1
    await centre.add_call("wang", local(2, 20), 60)  # after the submission, same day
    centre.clock.set(local(3, 9))
    signed = await centre.ok(
        "boss", "POST", f"/api/worklogs/{log['id']}/sign", {"version": log["version"]}
    )
    assert (signed["state"], signed["figures"]["calls"], signed["figures_frozen"]) == (
        "signed",
        2,
        True,
    )
    # Once signed, nothing moves it.
    await centre.add_call("wang", local(2, 21), 60)
    again = await centre.ok("wang", "GET", "/api/worklogs/" + str(log["id"]))
    assert again["figures"]["calls"] == 2


async def test_a_log_submitted_after_its_day_keeps_what_the_agent_submitted(
    centre: Centre,
) -> None:
    await centre.add_call("wang", local(2, 10), 60)
    log = await centre.ok("wang", "POST", "/api/worklog/day/submit", body(0))
    await centre.add_call("wang", local(2, 11), 60)  # written late by a replica
    signed = await centre.ok(
        "boss", "POST", f"/api/worklogs/{log['id']}/sign", {"version": log["version"]}
    )
    assert signed["figures"]["calls"] == 1


# --- whose logs are reviewed --------------------------------------------------------------


async def test_leaders_and_people_in_no_team_are_reviewed_not_by_themselves(
    centre: Centre,
) -> None:
    lin = await centre.ok("lin", "POST", "/api/worklog/day/submit", body(0))
    boss = await centre.ok("boss", "POST", "/api/worklog/day/submit", body(0))  # in no team
    wang = await centre.ok("wang", "POST", "/api/worklog/day/submit", body(0))

    by_boss = await centre.ok("boss", "GET", "/api/worklog/review")
    by_chief = await centre.ok("chief", "GET", "/api/worklog/review")
    by_lin = await centre.ok("lin", "GET", "/api/worklog/review")

    assert {r["id"] for r in by_boss["logs"]} == {lin["id"], wang["id"]}
    assert {r["id"] for r in by_chief["logs"]} == {lin["id"], boss["id"], wang["id"]}
    assert {r["id"] for r in by_lin["logs"]} == {wang["id"]}
    roll = await centre.ok("chief", "GET", "/api/worklog/rollup", first="2026-12-02")
    assert {a["name"] for a in roll["agents"]} == {
        "Boss",
        "Chief",
        "Lin (lead)",
        "Wang Fang",
        "Li Na",
        "Zhao Lei",
    }
    options = await centre.ok("lin", "GET", "/api/worklog/options")
    assert {a["name"] for a in options["agents"]} == {"Lin (lead)", "Wang Fang", "Li Na"}
    assert options["timezone"] == "Asia/Shanghai"


# --- the age limit applies to creating a log only -----------------------------------------


async def test_a_returned_log_older_than_the_limit_is_resubmitted(centre: Centre) -> None:
    log = await centre.ok("wang", "POST", "/api/worklog/day/submit", body(0))
    back = await centre.ok(
        "boss",
        "POST",
        f"/api/worklogs/{log['id']}/return",
        {"version": log["version"], "comment": "请补充"},
    )
    centre.clock.set(local(3, 10) + timedelta(days=35))
    mine = await centre.ok("wang", "GET", "/api/worklog/day", day=DAY.isoformat())
    assert mine["state"] == "returned"
    again = await centre.ok("wang", "POST", "/api/worklog/day/submit", body(back["version"]))
    assert again["state"] == "submitted"
    # A new log that old is still refused.
    status, answer = await centre.call(
        "wang", "PUT", "/api/worklog/day", body(0, date(2026, 12, 1))
    )
    assert (status, answer["error"]) == (400, "day-too-old")
    status, answer = await centre.call("wang", "GET", "/api/worklog/day", day="2026-12-01")
    assert (status, answer["error"]) == (400, "day-too-old")
