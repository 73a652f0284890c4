"""The work-log room through its HTTP API, on SQLite and on PostgreSQL: the draft's figures
against a hand-made day of records, the states of a log and the refusals, the signing race,
the review list, the roll-up and the completion figures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.audit.models import AuditEntry
from callcenter.reports.ports import LogDay
from callcenter.settings import WorklogSettings
from callcenter.worklog.models import WorklogCommentRow, WorklogRow
from tests.worklog.centre import DAY, Centre, local, open_centre


@pytest.fixture
async def centre(engine: AsyncEngine) -> AsyncIterator[Centre]:
    async with open_centre(engine) as centre:
        yield centre


async def a_day_of_wang(centre: Centre) -> None:
    """Wednesday 2 December 2026 of Wang Fang (no rota: the day is midnight to midnight)."""
    await centre.add_call("wang", local(2, 9, 10), 120, "resolved")
    await centre.add_call("wang", local(2, 11, 0), 300, "resolved")
    await centre.add_call("wang", local(2, 15, 0), 60, "info-sent")
    await centre.add_call("wang", local(1, 23, 30), 999, "resolved")  # the day before
    await centre.add_call("wang", local(3, 0, 30), 999)  # the day after
    await centre.add_call("li", local(2, 10, 0), 100, "resolved")  # someone else
    await centre.add_call("wang", local(2, 16, 0), 90, direction="outbound")  # a callback
    mine = await centre.add_item("wang", local(2, 9, 20), owner="wang")
    older = await centre.add_item("wang", local(1, 9, 0), owner="wang")
    other = await centre.add_item("li", local(2, 9, 0))
    await centre.add_event(
        older, "wang", "status", local(2, 13, 0), before="open", after="resolved"
    )
    await centre.add_event(
        mine, "wang", "status", local(2, 9, 30), before="open", after="in-progress"
    )
    await centre.add_event(mine, None, "escalated", local(2, 17, 0), tier="leader")
    await centre.add_event(other, None, "escalated", local(2, 17, 0), tier="leader")
    await centre.add_attempt("wang", older, local(2, 16, 0), "reached")
    await centre.add_attempt("wang", older, local(2, 16, 30), "no-answer")
    # Not callbacks made: one her phone did not take, one still running.
    await centre.add_attempt("wang", older, local(2, 17, 0), "agent-missed", taken=False)
    await centre.add_attempt("wang", older, local(2, 23, 59), None)
    await centre.add_state("wang", "not-ready", local(1, 23, 50), local(2, 0, 10), code="break")
    await centre.add_state("wang", "ready", local(2, 9, 0), local(2, 11, 5))
    await centre.add_state("wang", "acw", local(2, 11, 5), local(2, 11, 6))
    await centre.add_state("wang", "not-ready", local(2, 12, 0), local(2, 12, 45), code="lunch")
    await centre.add_state("wang", "signed-out", local(2, 18, 0), None)


def body(version: int, day: date = DAY, **extra: Any) -> dict[str, Any]:
    return {
        "day": day.isoformat(),
        "version": version,
        "summary": "今天来电较多，系统有一次卡顿。",  # noqa: RUF001
        "entries": [
            {"kind": "problem", "category": "system", "text": "工单页面 11 点左右打开很慢"},
            {"kind": "suggestion", "category": "process", "text": "发票问题可以增加自助查询"},
            {"kind": "note", "category": "other", "text": "下午培训"},
        ],
        **extra,
    }


async def stored(centre: Centre) -> tuple[int, int, int]:
    async with AsyncSession(centre.engine) as session:
        logs = await session.scalar(select(func.count()).select_from(WorklogRow))
        comments = await session.scalar(select(func.count()).select_from(WorklogCommentRow))
        audit = await session.scalar(select(func.count()).select_from(AuditEntry))
    return int(logs or 0), int(comments or 0), int(audit or 0)


async def test_the_draft_shows_the_figures_of_the_agents_day(centre: Centre) -> None:
    await a_day_of_wang(centre)

    log = await centre.ok("wang", "GET", "/api/worklog/day", day=DAY.isoformat())

    assert (log["id"], log["state"], log["version"], log["figures_frozen"]) == (
        None,
        "draft",
        0,
        False,
    )
    assert log["covers_start"] == local(2, 0).isoformat()
    assert log["covers_end"] == local(3, 0).isoformat()
    assert log["deadline"] == local(3, 12).isoformat()
    f = log["figures"]
    assert (f["calls"], f["talk_seconds"]) == (3, 480)
    assert [(d["code"], d["count"], d["label_zh"]) for d in f["dispositions"]] == [
        ("resolved", 2, "已解答"),
        ("info-sent", 1, "已发送资料"),
    ]
    assert (f["callbacks"], f["callbacks_reached"], f["callback_talk_seconds"]) == (2, 1, 90)
    assert (f["items_opened"], f["items_resolved"], f["items_escalated"]) == (1, 1, 1)
    assert [(p["reason"], p["seconds"]) for p in f["pauses"]] == [
        ("lunch", 2700),
        ("break", 600),
        ("acw", 60),
    ]
    assert f["pause_seconds"] == 3360
    assert (f["handovers_given"], f["handovers_taken"]) == (2, 1)
    assert centre.handovers.asked[-1] == (centre.id("wang"), local(2, 0), local(3, 0))
    # Nothing is stored by reading.
    assert (await stored(centre))[0] == 0


async def test_a_log_is_saved_submitted_sent_back_resubmitted_and_signed(centre: Centre) -> None:
    await a_day_of_wang(centre)

    saved = await centre.ok("wang", "PUT", "/api/worklog/day", body(0))
    assert (saved["state"], saved["version"], saved["figures_frozen"]) == ("draft", 1, False)
    assert [e["kind"] for e in saved["entries"]] == ["problem", "suggestion", "note"]

    submitted = await centre.ok("wang", "POST", "/api/worklog/day/submit", body(1))
    assert (submitted["state"], submitted["version"], submitted["on_time"]) == (
        "submitted",
        2,
        True,
    )
    assert submitted["figures_frozen"] and submitted["figures"]["calls"] == 3
    # The figures are frozen: a call written later does not change what was submitted.
    await centre.add_call("wang", local(2, 20, 0), 50)
    again = await centre.ok("wang", "GET", "/api/worklog/day", day=DAY.isoformat())
    assert again["figures"]["calls"] == 3

    # The supervisor's check lists it; a comment, then sent back.
    review = await centre.ok("boss", "GET", "/api/worklog/review")
    assert [(r["id"], r["user_name"]) for r in review["logs"]] == [(submitted["id"], "Wang Fang")]
    log_id = submitted["id"]
    await centre.ok("boss", "POST", f"/api/worklogs/{log_id}/comment", {"text": "很好"})
    back = await centre.ok(
        "boss",
        "POST",
        f"/api/worklogs/{log_id}/return",
        {"version": 2, "comment": "请补充下午的情况"},
    )
    assert (back["state"], back["version"], back["return_comment"]) == (
        "returned",
        3,
        "请补充下午的情况",
    )
    assert [c["kind"] for c in back["comments"]] == ["comment", "returned"]
    assert [m["event"] for m in centre.told_to("wang")] == ["commented", "returned"]

    # The agent sees it returned, edits and resubmits late: on time stays the first's.
    centre.clock.set(local(4, 9))
    mine = await centre.ok("wang", "GET", "/api/worklog/day", day=DAY.isoformat())
    assert (mine["state"], mine["return_comment"]) == ("returned", "请补充下午的情况")
    edited = await centre.ok(
        "wang",
        "PUT",
        "/api/worklog/day",
        body(3, summary="补充：下午培训两小时"),  # noqa: RUF001
    )
    resubmitted = await centre.ok(
        "wang", "POST", "/api/worklog/day/submit", body(edited["version"])
    )
    assert (resubmitted["state"], resubmitted["on_time"]) == ("submitted", True)
    assert resubmitted["figures"]["calls"] == 4  # frozen again at the resubmission

    signed = await centre.ok(
        "chief", "POST", f"/api/worklogs/{log_id}/sign", {"version": resubmitted["version"]}
    )
    assert (signed["state"], signed["signed_by_name"]) == ("signed", "Chief")
    history = await centre.ok("wang", "GET", "/api/worklogs", first="2026-11-20", last="2026-12-04")
    assert [(h["day"], h["state"]) for h in history["logs"]] == [("2026-12-02", "signed")]
    actions = await _audit_actions(centre)
    assert actions == ["worklog.submit", "worklog.return", "worklog.submit", "worklog.sign"]

    # Signed off: nothing changes it any more.
    before = await stored(centre)
    status, answer = await centre.call("wang", "PUT", "/api/worklog/day", body(signed["version"]))
    assert (status, answer["error"]) == (409, "already-signed")
    status, answer = await centre.call(
        "wang", "POST", "/api/worklog/day/submit", body(signed["version"])
    )
    assert (status, answer["error"]) == (409, "already-signed")
    status, answer = await centre.call(
        "boss", "POST", f"/api/worklogs/{log_id}/sign", {"version": signed["version"]}
    )
    assert (status, answer["error"], answer["signed_by"]) == (409, "already-signed", "Chief")
    assert await stored(centre) == before


async def _audit_actions(centre: Centre) -> list[str]:
    async with AsyncSession(centre.engine) as session:
        rows = await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))
        return [a for a in rows if a.startswith("worklog.")]


async def test_bad_requests_are_refused_and_change_nothing(centre: Centre) -> None:
    first = await centre.ok("wang", "POST", "/api/worklog/day/submit", body(0))
    before = await stored(centre)

    async def refused(
        who: str, method: str, path: str, payload: Any, want: tuple[int, str], **q: Any
    ) -> None:
        status, answer = await centre.call(who, method, path, payload, **q)
        assert (status, answer["error"]) == want, answer

    # Submitted twice; edited while submitted.
    await refused(
        "wang",
        "POST",
        "/api/worklog/day/submit",
        body(first["version"]),
        (409, "already-submitted"),
    )
    await refused(
        "wang", "PUT", "/api/worklog/day", body(first["version"]), (409, "already-submitted")
    )
    # A future day, a day too far back.
    tomorrow = date(2026, 12, 4)
    await refused("wang", "PUT", "/api/worklog/day", body(0, tomorrow), (400, "future-day"))
    await refused("wang", "GET", "/api/worklog/day", None, (400, "future-day"), day="2026-12-04")
    old = DAY - timedelta(days=40)
    await refused("wang", "PUT", "/api/worklog/day", body(0, old), (400, "day-too-old"))
    # A stale version; a first save that names a version; a category nobody configured.
    await refused("wang", "PUT", "/api/worklog/day", body(5, date(2026, 12, 1)), (409, "stale-log"))
    odd = body(0, date(2026, 12, 1))
    odd["entries"] = [{"kind": "problem", "category": "weather", "text": "下雨"}]
    await refused("wang", "PUT", "/api/worklog/day", odd, (400, "unknown-category"))
    long = body(0, date(2026, 12, 1))
    long["entries"] = [{"kind": "problem", "category": "system", "text": "x" * 2001}]
    await refused("wang", "PUT", "/api/worklog/day", long, (400, "invalid-body"))
    # Another agent's log: not there for them; the review is not theirs.
    await refused("li", "GET", f"/api/worklogs/{first['id']}", None, (404, "no-such-log"))
    await refused("li", "GET", "/api/worklogs", None, (403, "not-your-log"), user=centre.id("wang"))
    await refused(
        "li", "POST", f"/api/worklogs/{first['id']}/sign", {"version": 2}, (403, "forbidden")
    )
    await refused("zhao", "GET", "/api/worklog/review", None, (403, "forbidden"))
    # A team leader checks their own team's logs (主管定期检查), not another team's.
    lead_view = await centre.ok("lin", "GET", "/api/worklog/review")
    assert [r["id"] for r in lead_view["logs"]] == [first["id"]]
    # A supervisor does not sign a stale version, nor their own log.
    await refused(
        "boss", "POST", f"/api/worklogs/{first['id']}/sign", {"version": 7}, (409, "stale-log")
    )
    own = await centre.ok("boss", "POST", "/api/worklog/day/submit", body(0))
    before = await stored(centre)
    await refused(
        "boss",
        "POST",
        f"/api/worklogs/{own['id']}/sign",
        {"version": own["version"]},
        (403, "own-log"),
    )
    # A draft is not signed.
    draft = await centre.ok("li", "PUT", "/api/worklog/day", body(0))
    before = await stored(centre)
    await refused(
        "boss", "POST", f"/api/worklogs/{draft['id']}/sign", {"version": 1}, (409, "not-submitted")
    )
    await refused(
        "boss",
        "GET",
        "/api/worklog/rollup",
        None,
        (400, "bad-period"),
        first="2026-12-02",
        last="2026-12-01",
    )
    await refused("boss", "GET", "/api/worklog/rollup", None, (404, "no-such-team"), team=999)
    assert await stored(centre) == before


async def test_two_supervisors_sign_at_once_one_wins_the_other_is_told(centre: Centre) -> None:
    log = await centre.ok("wang", "POST", "/api/worklog/day/submit", body(0))
    path = f"/api/worklogs/{log['id']}/sign"

    answers = await asyncio.gather(
        centre.call("boss", "POST", path, {"version": log["version"]}),
        centre.call("chief", "POST", path, {"version": log["version"]}),
    )

    statuses = sorted(status for status, _ in answers)
    assert statuses == [200, 409]
    (winner,) = [a for s, a in answers if s == 200]
    (loser,) = [a for s, a in answers if s == 409]
    assert loser["error"] == "already-signed"
    assert loser["signed_by"] == winner["signed_by_name"]
    async with AsyncSession(centre.engine) as session:
        kinds = list(await session.scalars(select(WorklogCommentRow.kind)))
    assert kinds == ["signed"]


async def test_a_night_shift_call_is_in_the_log_of_the_day_it_started(centre: Centre) -> None:
    zhao = centre.id("zhao")
    centre.rota.add(zhao, local(1, 22), local(2, 6))
    await centre.add_call("zhao", local(2, 2, 0), 200, "resolved")
    await centre.add_call("zhao", local(2, 9, 0), 50, "resolved")  # after the shift: the 2nd
    centre.clock.set(local(2, 3))

    log = await centre.ok("zhao", "GET", "/api/worklog/day")

    assert log["day"] == "2026-12-01"
    # The 1st covers from its midnight to the end of its night shift.
    assert (log["covers_start"], log["covers_end"]) == (
        local(1, 0).isoformat(),
        local(2, 6).isoformat(),
    )
    assert (log["figures"]["calls"], log["figures"]["talk_seconds"]) == (1, 200)
    options = await centre.ok("zhao", "GET", "/api/worklog/options")
    assert (options["today"], options["current_day"]) == ("2026-12-02", "2026-12-01")
    centre.clock.set(local(2, 10))
    second = await centre.ok("zhao", "GET", "/api/worklog/day")
    assert second["day"] == "2026-12-02"
    assert second["covers_start"] == local(2, 6).isoformat()
    assert second["figures"]["calls"] == 1
    figures = await centre.room.logs.day_figures(zhao, local(2, 2, 30))
    assert (figures["day"], figures["calls"]) == ("2026-12-01", 1)


async def test_completion_figures_and_the_team_roll_up(centre: Centre) -> None:
    wang, li, zhao = centre.id("wang"), centre.id("li"), centre.id("zhao")
    # Wang (no rota): calls on the 1st and the 2nd; the 2nd's log on time and signed.
    await centre.add_call("wang", local(1, 10), 60)
    await centre.add_call("wang", local(2, 10), 60)
    centre.clock.set(local(2, 19))
    log = await centre.ok("wang", "POST", "/api/worklog/day/submit", body(0))
    await centre.ok("boss", "POST", f"/api/worklogs/{log['id']}/sign", {"version": log["version"]})
    # Zhao (rota): the night of the 1st (signed in for it) and the day of the 2nd (absent:
    # on leave, never signed in): only the 1st is owed. A call on the 3rd at 01:00 is the
    # 3rd's (no night shift on the 2nd), whose deadline has not passed.
    centre.rota.add(zhao, local(1, 22), local(2, 6))
    centre.rota.add(zhao, local(2, 14), local(2, 22))
    await centre.add_state("zhao", "ready", local(1, 21, 55), local(2, 5, 50))
    await centre.add_call("zhao", local(3, 1), 60)
    # Li: a call today, whose deadline has not passed.
    await centre.add_call("li", local(3, 9), 60)
    # Li's log of the 1st, written late and returned.
    centre.clock.set(local(3, 9, 30))
    late = await centre.ok("li", "POST", "/api/worklog/day/submit", body(0, date(2026, 12, 1)))
    assert late["on_time"] is False
    await centre.ok(
        "boss",
        "POST",
        f"/api/worklogs/{late['id']}/return",
        {"version": late["version"], "comment": "补充"},
    )
    centre.clock.set(local(3, 14))

    days = await centre.room.logs.log_days([wang, li, zhao], date(2026, 12, 1), date(2026, 12, 3))

    assert list(days) == sorted(
        [
            LogDay(wang, date(2026, 12, 1), on_time=False, signed=False),
            LogDay(wang, date(2026, 12, 2), on_time=True, signed=True),
            LogDay(li, date(2026, 12, 1), on_time=False, signed=False),
            LogDay(zhao, date(2026, 12, 1), on_time=False, signed=False),
        ],
        key=lambda d: (d.user_id, d.day),
    )
    everyone = await centre.room.logs.log_days(None, date(2026, 12, 1), date(2026, 12, 3))
    assert {d.user_id for d in everyone} == {wang, li, zhao}

    front = next(t for t in centre.agents.teams() if t.name == "front")
    rollup = await centre.ok(
        "boss", "GET", "/api/worklog/rollup", first="2026-12-01", last="2026-12-03", team=front.id
    )
    t = rollup["totals"]
    assert (t["due"], t["missing"], t["submitted"], t["on_time"], t["signed"], t["returned"]) == (
        3,
        1,
        2,
        1,
        1,
        1,
    )
    assert t["calls"] == 1  # li's log of the 1st: no calls; wang's of the 2nd: one
    # The team's leader is in the roll-up too (and owed nothing: no sign of work).
    assert [(a["name"], a["due"]) for a in rollup["agents"]] == [
        ("Li Na", 1),
        ("Lin (lead)", 0),
        ("Wang Fang", 2),
    ]
    system = next(c for c in rollup["categories"] if c["code"] == "system")
    assert sorted(p["name"] for p in system["problems"]) == ["Li Na", "Wang Fang"]
    process = next(c for c in rollup["categories"] if c["code"] == "process")
    assert process["label_zh"] == "流程" and len(process["suggestions"]) == 2
    # Notes stay in the log: only problems and suggestions are rolled up.
    assert all(c["code"] != "other" for c in rollup["categories"])
    # Every team: the same "due" as the reports' log_days for every writer.
    whole = await centre.ok(
        "boss", "GET", "/api/worklog/rollup", first="2026-12-01", last="2026-12-03"
    )
    assert whole["totals"]["due"] == len(everyone) == 4


async def test_the_check_takes_a_share_of_the_logs(engine: AsyncEngine) -> None:
    settings = WorklogSettings(review_share=0.0)
    async with open_centre(engine, settings) as centre:
        await centre.ok("wang", "POST", "/api/worklog/day/submit", body(0))
        review = await centre.ok("boss", "GET", "/api/worklog/review")
        assert review["logs"] == []


async def _submit_days(centre: Centre, who: str, days: list[date]) -> list[int]:
    ids = []
    for day in days:
        log = await centre.ok(who, "POST", "/api/worklog/day/submit", body(0, day))
        ids.append(log["id"])
    return ids


@pytest.mark.parametrize("period", ["week", "day"])
async def test_half_of_each_agents_logs_per_period_are_checked(
    engine: AsyncEngine, period: str
) -> None:
    settings = WorklogSettings(review_share=0.5, review_period=period)
    async with open_centre(engine, settings) as centre:
        # Week 49 (30 Nov - 6 Dec): wang writes Mon..Thu (4 logs), li Mon..Wed (3).
        monday = date(2026, 11, 30)
        week = [monday + timedelta(days=n) for n in range(4)]
        wang = await _submit_days(centre, "wang", week)
        li = await _submit_days(centre, "li", week[:3])
        review = await centre.ok("boss", "GET", "/api/worklog/review")
        picked = {r["id"] for r in review["logs"]}
        if period == "week":
            # ceil(0.5 x 4) = 2 of wang's, ceil(0.5 x 3) = 2 of li's.
            assert (len(picked & set(wang)), len(picked & set(li))) == (2, 2)
            # Last week is in the default window (from the previous ISO week's Monday).
            assert (review["first"], review["last"]) == ("2026-11-23", "2026-12-03")
        else:
            # One log a day each: ceil(0.5 x 1) = 1, every log is checked.
            assert picked == set(wang) | set(li)
            assert (review["first"], review["last"]) == ("2026-11-27", "2026-12-03")
        assert (review["share"], review["period"]) == (0.5, period)
        # Every replica and every reload picks the same.
        again = await centre.ok("boss", "GET", "/api/worklog/review")
        assert [r["id"] for r in again["logs"]] == [r["id"] for r in review["logs"]]
        # A narrower window still counts the whole week's logs.
        one = await centre.ok("boss", "GET", "/api/worklog/review", first="2026-12-01")
        assert {r["id"] for r in one["logs"]} == {
            r["id"] for r in review["logs"] if r["day"] >= "2026-12-01"
        }
        # Signing a picked log does not pull another one in.
        first = review["logs"][0]
        await centre.ok(
            "boss", "POST", f"/api/worklogs/{first['id']}/sign", {"version": first["version"]}
        )
        after = await centre.ok("boss", "GET", "/api/worklog/review")
        assert {r["id"] for r in after["logs"]} == picked - {first["id"]}
