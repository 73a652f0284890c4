"""Promises by the rules and the calendar; a wait that stops the clock and restarts it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from callcenter.settings import DEFAULT_DEADLINES, DeadlineRule
from callcenter.work.deadlines import (
    Duration,
    Promise,
    clock_of,
    parse_duration,
    promise,
    remaining,
    resume,
    rule_for,
    shift_in,
)
from tests.work.test_calendar import ALWAYS_BERLIN, GOLDEN_WEEK, berlin, bj

HOUR = 3600

# --- durations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", Duration(30, "m")),
        ("2h", Duration(2, "h")),
        ("3d", Duration(3, "d")),
        ("4wh", Duration(4, "wh")),
        ("2wd", Duration(2, "wd")),
        ("99999m", Duration(99999, "m")),
    ],
)
def test_parse_duration(text: str, expected: Duration) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "h", "0m", "02h", "2", "2w", "2hw", "2wdx", " 2h", "2h ", "2H", "1.5h", "-1h", "123456m"],
)
def test_parse_duration_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_working_units_run_on_the_working_clock() -> None:
    assert [clock_of(parse_duration(t)) for t in ("30m", "2h", "3d", "4wh", "2wd")] == [
        "wall",
        "wall",
        "wall",
        "working",
        "working",
    ]


# --- rules -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "priority", "first_response", "resolution"),
    [
        ("complaint", "urgent", "2h", "24h"),
        ("complaint", "high", "4wh", "2wd"),
        ("complaint", "normal", "1wd", "3wd"),  # kind matches, priority "*"
        ("callback", "urgent", None, "1h"),
        ("callback", "low", None, "4wh"),
        ("inquiry", "urgent", "2h", "8wh"),  # kind "*", priority matches
        ("follow-up", "high", None, "1wd"),
        ("follow-up", "low", None, "2wd"),  # the "*"/"*" rule
    ],
)
def test_the_first_matching_rule_wins(
    kind: str, priority: str, first_response: str | None, resolution: str
) -> None:
    rule = rule_for(DEFAULT_DEADLINES, kind, priority)
    assert (rule.first_response, rule.resolution) == (first_response, resolution)


def test_order_decides_not_specificity() -> None:
    rules = [DeadlineRule(resolution="1d"), DeadlineRule(kind="complaint", resolution="1h")]
    assert rule_for(rules, "complaint", "high").resolution == "1d"


def test_no_matching_rule_is_a_lookup_error() -> None:
    with pytest.raises(LookupError):
        rule_for([DeadlineRule(kind="callback", resolution="1h")], "complaint", "high")


# --- promises --------------------------------------------------------------------------------


def test_an_urgent_complaint_runs_on_the_wall_clock() -> None:
    # Friday 20:00, after hours: 24h is Saturday 20:00 all the same.
    made = promise(DEFAULT_DEADLINES, GOLDEN_WEEK, "complaint", "urgent", bj(10, 16, 20))
    assert made == Promise(
        clock="wall",
        span_seconds=24 * HOUR,
        first_response_due=bj(10, 16, 22),
        due_at=bj(10, 17, 20),
    )


def test_a_high_complaint_counts_working_days_over_the_golden_week() -> None:
    # Wednesday 30 September 17:00: 2wd is the close of the make-up Saturday, past the holidays;
    # the first response (4wh) is 1h on Wednesday and 3h on Friday 9 October.
    made = promise(DEFAULT_DEADLINES, GOLDEN_WEEK, "complaint", "high", bj(9, 30, 17))
    assert made.clock == "working"
    assert made.due_at == bj(10, 10, 18)
    assert made.first_response_due == bj(10, 9, 12)
    assert made.span_seconds == (1 + 9 + 9) * HOUR  # working seconds, not wall seconds


def test_a_callback_4wh_from_friday_afternoon_is_monday_morning() -> None:
    made = promise(DEFAULT_DEADLINES, GOLDEN_WEEK, "callback", "normal", bj(10, 16, 16))
    assert made == Promise("working", 4 * HOUR, None, bj(10, 19, 11))


def test_wall_and_working_first_response_mix() -> None:
    # An urgent inquiry: first response 2h of wall time, resolution 8 working hours.
    made = promise(DEFAULT_DEADLINES, GOLDEN_WEEK, "inquiry", "urgent", bj(10, 16, 17))
    assert made.first_response_due == bj(10, 16, 19)
    assert made.due_at == bj(10, 19, 16)
    assert (made.clock, made.span_seconds) == ("working", 8 * HOUR)


def test_wall_days_are_elapsed_time_across_dst() -> None:
    rules = [DeadlineRule(resolution="1d")]
    made = promise(rules, ALWAYS_BERLIN, "inquiry", "low", berlin(3, 28, 12))
    assert made.due_at - berlin(3, 28, 12) == timedelta(hours=24)
    assert made.due_at == berlin(3, 29, 13)  # the clock jumped an hour on the way
    assert made.span_seconds == 24 * HOUR


def test_promises_are_in_utc() -> None:
    made = promise(DEFAULT_DEADLINES, GOLDEN_WEEK, "complaint", "high", bj(9, 30, 17))
    assert made.due_at.utcoffset() == timedelta(0)
    assert made.first_response_due is not None
    assert made.first_response_due.utcoffset() == timedelta(0)


# --- shift_in, remaining, resume ------------------------------------------------------------------


def test_shift_in_each_clock() -> None:
    assert shift_in(GOLDEN_WEEK, "wall", bj(10, 16, 17), 2 * HOUR) == bj(10, 16, 19)
    assert shift_in(GOLDEN_WEEK, "working", bj(10, 16, 17), 2 * HOUR) == bj(10, 19, 10)
    assert shift_in(GOLDEN_WEEK, "working", bj(10, 19, 10), -2 * HOUR) == bj(10, 16, 17)


def test_a_wait_over_the_weekend_on_the_working_clock() -> None:
    due = bj(10, 19, 11)  # the callback's 4wh from Friday 16:00
    left = remaining(GOLDEN_WEEK, "working", bj(10, 16, 16), due)
    assert left == 4 * HOUR
    # The customer answers on Saturday: the clock restarts at Monday's open.
    assert resume(GOLDEN_WEEK, "working", bj(10, 17, 12), left) == bj(10, 19, 13)
    # ...or on Monday at 10:00.
    assert resume(GOLDEN_WEEK, "working", bj(10, 19, 10), left) == bj(10, 19, 14)


def test_a_wait_over_the_weekend_on_the_wall_clock() -> None:
    due = bj(10, 17, 20)  # the urgent complaint's 24h from Friday 20:00
    left = remaining(GOLDEN_WEEK, "wall", bj(10, 16, 20), due)
    assert left == 24 * HOUR
    assert resume(GOLDEN_WEEK, "wall", bj(10, 19, 9), left) == bj(10, 20, 9)


def test_overdue_remaining_is_negative_and_resumes_overdue() -> None:
    due = bj(10, 16, 17)  # Friday 17:00
    now = bj(10, 19, 10)  # Monday 10:00: 1h Friday + 1h Monday overdue
    left = remaining(GOLDEN_WEEK, "working", now, due)
    assert left == -2 * HOUR
    later = bj(10, 20, 10)
    resumed = resume(GOLDEN_WEEK, "working", later, left)
    assert resumed == bj(10, 19, 17)
    assert remaining(GOLDEN_WEEK, "working", later, resumed) == left
    assert remaining(GOLDEN_WEEK, "wall", now, due) == -(65 * HOUR)


def test_remaining_at_the_deadline_is_zero() -> None:
    for clock in ("wall", "working"):
        assert remaining(GOLDEN_WEEK, clock, bj(10, 16, 17), bj(10, 16, 17)) == 0


def test_remaining_then_resume_at_once_keeps_the_deadline() -> None:
    made = promise(DEFAULT_DEADLINES, GOLDEN_WEEK, "complaint", "high", bj(9, 30, 17))
    for now in (bj(9, 30, 17, 30), bj(10, 3, 12), bj(10, 9, 17)):
        left = remaining(GOLDEN_WEEK, made.clock, now, made.due_at)
        assert resume(GOLDEN_WEEK, made.clock, now, left) == made.due_at
