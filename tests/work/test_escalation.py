"""Escalation tiers at shares of the promised span, measured from the deadline."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from callcenter.settings import DEFAULT_DEADLINES, EscalationTier, WorkSettings
from callcenter.work.deadlines import promise, remaining, resume
from callcenter.work.escalation import escalation_instant, next_tier, tiers_due
from tests.work.test_calendar import GOLDEN_WEEK, bj

HOUR = 3600
TIERS = WorkSettings().escalation  # 80 % owner, 100 % team leader, 150 % manager


def test_the_default_tiers() -> None:
    assert [(t.share, t.to) for t in TIERS] == [
        (0.8, "owner"),
        (1.0, "team-leader"),
        (1.5, "manager"),
    ]


@pytest.mark.parametrize(
    ("share", "expected"),
    [
        (0.8, bj(10, 19, 16, 24)),  # 1h36m of working time before the deadline
        (1.0, bj(10, 19, 18)),  # the deadline itself, though 18:00 is the close
        (1.5, bj(10, 20, 13)),  # 4 working hours past it: into Tuesday morning
    ],
)
def test_instants_of_a_working_clock_span(share: float, expected: datetime) -> None:
    # An urgent inquiry made Monday 10:00: 8 working hours, due at Monday's close.
    made = promise(DEFAULT_DEADLINES, GOLDEN_WEEK, "inquiry", "urgent", bj(10, 19, 10))
    assert (made.clock, made.span_seconds, made.due_at) == ("working", 8 * HOUR, bj(10, 19, 18))
    assert escalation_instant(GOLDEN_WEEK, "working", made.due_at, 8 * HOUR, share) == expected


def test_instants_of_a_span_over_the_golden_week() -> None:
    # 2wd from Wednesday 30 September 17:00: due the make-up Saturday's close, 19 working hours.
    made = promise(DEFAULT_DEADLINES, GOLDEN_WEEK, "complaint", "high", bj(9, 30, 17))
    instants = [
        escalation_instant(GOLDEN_WEEK, made.clock, made.due_at, made.span_seconds, t.share)
        for t in TIERS
    ]
    # 80 %: 3h48m before Saturday 18:00; 150 %: 9.5h on, a whole Monday and half an hour.
    assert instants == [bj(10, 10, 14, 12), bj(10, 10, 18), bj(10, 13, 9, 30)]


def test_instants_of_a_wall_clock_span() -> None:
    due = bj(10, 17, 20)  # the urgent complaint's 24h from Friday 20:00
    assert escalation_instant(GOLDEN_WEEK, "wall", due, 24 * HOUR, 0.8) == bj(10, 17, 15, 12)
    assert escalation_instant(GOLDEN_WEEK, "wall", due, 24 * HOUR, 1.0) == due
    assert escalation_instant(GOLDEN_WEEK, "wall", due, 24 * HOUR, 1.5) == bj(10, 18, 8)


def test_a_wait_moves_every_tier_with_the_deadline() -> None:
    made = promise(DEFAULT_DEADLINES, GOLDEN_WEEK, "inquiry", "urgent", bj(10, 19, 10))
    left = remaining(GOLDEN_WEEK, made.clock, bj(10, 19, 12), made.due_at)  # waits at noon
    due = resume(GOLDEN_WEEK, made.clock, bj(10, 21, 10), left)  # back Wednesday 10:00
    assert due == bj(10, 21, 16)
    found = [
        escalation_instant(GOLDEN_WEEK, made.clock, due, made.span_seconds, t.share) for t in TIERS
    ]
    assert found == [bj(10, 21, 14, 24), bj(10, 21, 16), bj(10, 22, 11)]


def test_next_tier_walks_the_tiers_in_order() -> None:
    due, span = bj(10, 19, 18), 8 * HOUR
    assert next_tier(TIERS, 0, GOLDEN_WEEK, "working", due, span) == (1, bj(10, 19, 16, 24))
    assert next_tier(TIERS, 1, GOLDEN_WEEK, "working", due, span) == (2, due)
    assert next_tier(TIERS, 2, GOLDEN_WEEK, "working", due, span) == (3, bj(10, 20, 13))
    assert next_tier(TIERS, 3, GOLDEN_WEEK, "working", due, span) is None
    assert next_tier((), 0, GOLDEN_WEEK, "working", due, span) is None


@pytest.mark.parametrize(
    ("reached", "now", "expected"),
    [
        (0, bj(10, 19, 16), []),  # before 80 %
        (0, bj(10, 19, 16, 24), [1]),  # at 80 % exactly
        (0, bj(10, 19, 17), [1]),
        (1, bj(10, 19, 17), []),  # already warned
        (1, bj(10, 19, 18), [2]),  # overdue
        (1, bj(10, 19, 23), [2]),  # overdue in the evening: 150 % is Tuesday
        (0, bj(10, 20, 13), [1, 2, 3]),  # a sweep that ran late: all at once, in order
        (1, bj(10, 25, 0), [2, 3]),
        (3, bj(10, 25, 0), []),  # nothing left
    ],
)
def test_tiers_due(reached: int, now: datetime, expected: list[int]) -> None:
    due, span = bj(10, 19, 18), 8 * HOUR
    assert tiers_due(TIERS, reached, GOLDEN_WEEK, "working", due, span, now) == expected


def test_tiers_due_on_the_wall_clock() -> None:
    due = bj(10, 17, 20)
    at = due + timedelta(hours=12)  # Sunday 08:00: 150 % exactly
    assert tiers_due(TIERS, 0, GOLDEN_WEEK, "wall", due, 24 * HOUR, at) == [1, 2, 3]
    assert tiers_due(TIERS, 0, GOLDEN_WEEK, "wall", due, 24 * HOUR, at - timedelta(seconds=1)) == [
        1,
        2,
    ]


def test_custom_tiers() -> None:
    tiers = (EscalationTier(share=0.5, to="owner"), EscalationTier(share=2.0, to="manager"))
    due, span = bj(10, 19, 18), 8 * HOUR
    assert next_tier(tiers, 0, GOLDEN_WEEK, "working", due, span) == (1, bj(10, 19, 14))
    assert next_tier(tiers, 1, GOLDEN_WEEK, "working", due, span) == (2, bj(10, 20, 17))
