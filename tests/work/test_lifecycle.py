"""A work item's life, pure: which status may follow which, and what each move does to the
promise (the deadline, the stopped clock of a wait, the escalation tiers still to come).

The calendar is the IVR's default week (Asia/Shanghai, Monday to Friday 09:00-18:00) with
Monday 7 December 2026 a holiday; instants are given as Shanghai wall-clock times.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from callcenter.settings import DEFAULT_WORK_CATEGORIES, IvrSettings, WorkSettings
from callcenter.work import lifecycle
from callcenter.work.calendar import BusinessCalendar
from callcenter.work.deadlines import Promise, promise
from callcenter.work.lifecycle import (
    KINDS,
    OPEN_STATUSES,
    STATUSES,
    TRANSITIONS,
    WAITING,
    Timing,
    allowed,
    escalated,
    is_open,
    move,
    priority_of,
    promised,
)

CALENDAR = BusinessCalendar.from_ivr(IvrSettings(holidays=[date(2026, 12, 7)]))
TIERS = WorkSettings().escalation  # 80 % owner, 100 % team leader, 150 % manager
CATEGORIES = {c.code: c for c in DEFAULT_WORK_CATEGORIES}
HOUR = 3600


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """December 2026, Shanghai wall clock, as UTC."""
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


T0 = local(3, 10)  # a Thursday


def wall_promise(start: datetime, hours: int = 24) -> Promise:
    return Promise(
        clock="wall",
        span_seconds=hours * HOUR,
        first_response_due=start + timedelta(hours=2),
        due_at=start + timedelta(hours=hours),
    )


def fresh(start: datetime) -> Timing:
    return promised(wall_promise(start), TIERS, CALENDAR)


# --- the table ---------------------------------------------------------------------------------

# docs/work-items.md, "Status machine".
DOCUMENTED = {
    "open": {"in-progress", "waiting-customer", "waiting-department", "resolved"},
    "in-progress": {"waiting-customer", "waiting-department", "resolved"},
    "waiting-customer": {"in-progress", "resolved"},
    "waiting-department": {"in-progress", "resolved"},
    "resolved": {"closed", "in-progress"},
    "closed": {"in-progress"},
}


def test_the_table_is_the_documented_one() -> None:
    assert {source: set(targets) for source, targets in TRANSITIONS.items()} == DOCUMENTED
    assert set(STATUSES) == set(TRANSITIONS)
    assert KINDS == ("follow-up", "callback", "complaint", "inquiry")


@pytest.mark.parametrize(("source", "target"), list(itertools.product(STATUSES, repeat=2)))
def test_allowed_answers_from_the_table(source: str, target: str) -> None:
    assert allowed(source, target) is (target in DOCUMENTED[source])


def test_nothing_moves_to_itself_and_unknown_statuses_go_nowhere() -> None:
    assert not any(allowed(status, status) for status in STATUSES)
    assert not allowed("archived", "open")
    assert not allowed("open", "archived")
    assert not any(allowed(status, "open") for status in STATUSES)  # nothing goes back to new


def test_closed_only_from_resolved_and_every_status_reachable() -> None:
    assert [s for s in STATUSES if allowed(s, "closed")] == ["resolved"]
    reachable = {"open"}
    while True:
        more = {t for s in reachable for t in TRANSITIONS[s]} - reachable
        if not more:
            break
        reachable |= more
    assert reachable == set(STATUSES)


def test_open_and_waiting_statuses() -> None:
    assert [s for s in STATUSES if is_open(s)] == list(OPEN_STATUSES)
    assert not is_open("resolved") and not is_open("closed")
    assert {"waiting-customer", "waiting-department"} == WAITING
    assert WAITING.issubset(OPEN_STATUSES)


@pytest.mark.parametrize(
    ("requested", "category", "expected"),
    [
        (None, None, "normal"),
        ("low", None, "low"),
        (None, "billing", "normal"),
        ("high", "billing", "high"),
        (None, "account-security", "urgent"),
        ("low", "account-security", "urgent"),
        ("normal", "major-complaint", "urgent"),
        ("urgent", "major-complaint", "urgent"),
    ],
)
def test_a_category_raises_the_priority_never_lowers_it(
    requested: str | None, category: str | None, expected: str
) -> None:
    found = CATEGORIES[category] if category is not None else None
    assert priority_of(requested, found) == expected


def test_a_floor_below_the_request_keeps_the_request() -> None:
    high_floor = CATEGORIES["billing"].model_copy(update={"priority": "high"})
    assert priority_of("urgent", high_floor) == "urgent"
    assert priority_of("low", high_floor) == "high"


# --- a fresh promise -------------------------------------------------------------------------


def test_a_fresh_promise_next_escalates_at_the_first_tier() -> None:
    timing = fresh(T0)
    assert (timing.clock, timing.span_seconds, timing.due_at) == (
        "wall",
        24 * HOUR,
        T0 + timedelta(hours=24),
    )
    assert timing.first_response_due == T0 + timedelta(hours=2)
    assert timing.next_escalation_at == T0 + timedelta(hours=24 * 0.8)
    assert (timing.escalation_tier, timing.paused_at, timing.remaining_seconds) == (0, None, None)


def test_a_working_promise_escalates_in_working_time() -> None:
    rules = WorkSettings().deadlines
    timing = promised(promise(rules, CALENDAR, "follow-up", "normal", T0), TIERS, CALENDAR)
    # 2wd from Thursday 10:00: Tuesday 18:00 (the weekend and Monday skipped): 8 + 9 + 9
    # working hours. 80 % of them is 20 % (5.2 h) before the close: Tuesday 12:48.
    assert (timing.clock, timing.due_at, timing.span_seconds) == (
        "working",
        local(8, 18),
        26 * HOUR,
    )
    assert timing.next_escalation_at == local(8, 12, 48)


# --- moves -------------------------------------------------------------------------------------


def test_a_move_between_working_statuses_keeps_the_promise() -> None:
    timing = fresh(T0)
    later = T0 + timedelta(hours=3)
    assert move(timing, "open", "in-progress", later, CALENDAR, TIERS, wall_promise(later)) == (
        timing
    )


@pytest.mark.parametrize("wait", sorted(WAITING))
def test_waiting_stops_the_clock_and_keeps_what_is_left(wait: str) -> None:
    timing = fresh(T0)
    now = T0 + timedelta(hours=2)
    paused = move(timing, "in-progress", wait, now, CALENDAR, TIERS, wall_promise(now))
    assert (paused.due_at, paused.paused_at, paused.remaining_seconds) == (None, now, 22 * HOUR)
    assert paused.next_escalation_at is None
    assert (paused.span_seconds, paused.first_response_due) == (
        timing.span_seconds,
        timing.first_response_due,
    )

    back = T0 + timedelta(hours=50)
    resumed = move(paused, wait, "in-progress", back, CALENDAR, TIERS, wall_promise(back))
    assert resumed.due_at == back + timedelta(hours=22)
    assert (resumed.paused_at, resumed.remaining_seconds) == (None, None)
    # The first tier is 80 % of the span before... measured from the new deadline.
    assert resumed.next_escalation_at == resumed.due_at - timedelta(hours=24 * 0.2)


def test_a_working_clock_stops_over_the_weekend_and_holiday() -> None:
    rules = WorkSettings().deadlines
    timing = promised(promise(rules, CALENDAR, "follow-up", "normal", T0), TIERS, CALENDAR)
    now = local(3, 12)  # 6 h left on Thursday, 9 on Friday, 9 on Tuesday
    paused = move(timing, "open", "waiting-customer", now, CALENDAR, TIERS, timing_promise(now))
    assert paused.remaining_seconds == 24 * HOUR
    back = local(9, 10)  # Wednesday: 8 h, Thursday 9 h, Friday 7 h
    resumed = move(
        paused, "waiting-customer", "in-progress", back, CALENDAR, TIERS, timing_promise(back)
    )
    assert resumed.due_at == local(11, 16)


def timing_promise(start: datetime) -> Promise:
    return promise(WorkSettings().deadlines, CALENDAR, "follow-up", "normal", start)


def test_a_wait_begun_overdue_resumes_as_overdue_as_it_was() -> None:
    timing = fresh(T0)
    now = T0 + timedelta(hours=30)  # 6 h late
    paused = move(timing, "open", "waiting-department", now, CALENDAR, TIERS, wall_promise(now))
    assert paused.remaining_seconds == -6 * HOUR
    back = now + timedelta(days=3)
    resumed = move(
        paused, "waiting-department", "in-progress", back, CALENDAR, TIERS, wall_promise(back)
    )
    assert resumed.due_at == back - timedelta(hours=6)
    # Resolved from the wait: late.
    done = move(paused, "waiting-department", "resolved", back, CALENDAR, TIERS, wall_promise(back))
    assert (done.resolved_at, done.resolved_on_time) == (back, False)


def test_resolved_from_a_wait_with_time_left_is_on_time() -> None:
    paused = move(fresh(T0), "open", "waiting-customer", T0, CALENDAR, TIERS, wall_promise(T0))
    back = T0 + timedelta(days=10)
    done = move(paused, "waiting-customer", "resolved", back, CALENDAR, TIERS, wall_promise(back))
    assert (done.resolved_on_time, done.next_escalation_at, done.paused_at) == (True, None, None)
    assert done.due_at == back + timedelta(hours=24)


@pytest.mark.parametrize(
    ("after", "on_time"),
    [
        (timedelta(hours=1), True),
        (timedelta(hours=24), True),
        (timedelta(hours=24, seconds=1), False),
    ],
)
def test_resolved_on_time_up_to_the_deadline(after: timedelta, on_time: bool) -> None:
    now = T0 + after
    done = move(fresh(T0), "in-progress", "resolved", now, CALENDAR, TIERS, wall_promise(now))
    assert (done.resolved_at, done.resolved_on_time, done.next_escalation_at) == (
        now,
        on_time,
        None,
    )
    assert done.due_at == T0 + timedelta(hours=24)  # the promise as it was, for reports


def test_closing_keeps_the_resolution_s_verdict() -> None:
    now = T0 + timedelta(hours=30)
    done = move(fresh(T0), "in-progress", "resolved", now, CALENDAR, TIERS, wall_promise(now))
    later = now + timedelta(days=1)
    closed = move(done, "resolved", "closed", later, CALENDAR, TIERS, wall_promise(later))
    assert (closed.closed_at, closed.resolved_at, closed.resolved_on_time) == (later, now, False)
    assert closed.next_escalation_at is None


@pytest.mark.parametrize("source", ["resolved", "closed"])
def test_reopening_gives_a_new_promise_and_the_tiers_again(source: str) -> None:
    reached = escalated(fresh(T0), 3, CALENDAR, TIERS)
    now = T0 + timedelta(days=5)
    done = move(reached, "in-progress", "resolved", now, CALENDAR, TIERS, wall_promise(now))
    if source == "closed":
        done = move(done, "resolved", "closed", now, CALENDAR, TIERS, wall_promise(now))
    later = now + timedelta(days=2)
    new = wall_promise(later, hours=8)
    reopened = move(done, source, "in-progress", later, CALENDAR, TIERS, new)
    assert reopened == promised(new, TIERS, CALENDAR)
    assert (reopened.due_at, reopened.escalation_tier) == (later + timedelta(hours=8), 0)
    assert (reopened.resolved_at, reopened.resolved_on_time, reopened.closed_at) == (
        None,
        None,
        None,
    )


# --- escalation tiers --------------------------------------------------------------------------


def test_each_tier_reached_names_the_next() -> None:
    timing = fresh(T0)
    due = T0 + timedelta(hours=24)
    first = escalated(timing, 1, CALENDAR, TIERS)
    assert (first.escalation_tier, first.next_escalation_at) == (1, due)
    second = escalated(first, 2, CALENDAR, TIERS)
    assert (second.escalation_tier, second.next_escalation_at) == (2, due + timedelta(hours=12))
    third = escalated(second, 3, CALENDAR, TIERS)
    assert (third.escalation_tier, third.next_escalation_at) == (3, None)


def test_resuming_a_wait_keeps_the_tiers_already_reached() -> None:
    first = escalated(fresh(T0), 1, CALENDAR, TIERS)
    now = T0 + timedelta(hours=20)
    paused = move(first, "in-progress", "waiting-customer", now, CALENDAR, TIERS, wall_promise(now))
    assert (paused.escalation_tier, paused.next_escalation_at) == (1, None)
    back = T0 + timedelta(hours=30)
    resumed = move(
        paused, "waiting-customer", "in-progress", back, CALENDAR, TIERS, wall_promise(back)
    )
    # 4 h were left: the leader's tier (100 %) is the new deadline, not the owner's again.
    assert resumed.due_at == back + timedelta(hours=4)
    assert (resumed.escalation_tier, resumed.next_escalation_at) == (1, resumed.due_at)


def test_a_promise_with_no_tiers_never_escalates() -> None:
    timing = promised(wall_promise(T0), (), CALENDAR)
    assert timing.next_escalation_at is None
    now = T0 + timedelta(hours=1)
    paused = move(timing, "open", "waiting-customer", now, CALENDAR, (), wall_promise(now))
    resumed = move(paused, "waiting-customer", "in-progress", now, CALENDAR, (), wall_promise(now))
    assert resumed.next_escalation_at is None
    assert lifecycle.escalated(resumed, 0, CALENDAR, ()).next_escalation_at is None
