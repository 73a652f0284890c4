"""When an open work item escalates: tiers at shares of its promised span (``work.escalation``:
80 % warns the owner, 100 % the team's leader, 150 % the managers, by default).

Pure: the calendar, the clock and the instants are passed in. Every instant is measured from
the deadline (``due_at``) rather than from the start: a wait that moved the deadline moves
every tier with it, and the item's row needs no start column. A tier's instant runs on the
promise's clock, so 150 % of a working-hours promise falls in working hours.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from callcenter.settings import EscalationTier
from callcenter.work.calendar import BusinessCalendar
from callcenter.work.deadlines import Clock, shift_in


def escalation_instant(
    calendar: BusinessCalendar,
    clock: Clock,
    due_at: datetime,
    span_seconds: int,
    share: float,
) -> datetime:
    """The instant an item reaches ``share`` of its span (1.0 is ``due_at`` itself)."""
    return shift_in(calendar, clock, due_at, (share - 1) * span_seconds)


def next_tier(
    tiers: Sequence[EscalationTier],
    reached: int,
    calendar: BusinessCalendar,
    clock: Clock,
    due_at: datetime,
    span: int,
) -> tuple[int, datetime] | None:
    """The next tier after the ``reached`` ones (1-based index) and its instant; None when
    every tier has been reached."""
    if reached >= len(tiers):
        return None
    index = max(reached, 0) + 1
    return index, escalation_instant(calendar, clock, due_at, span, tiers[index - 1].share)


def tiers_due(
    tiers: Sequence[EscalationTier],
    reached: int,
    calendar: BusinessCalendar,
    clock: Clock,
    due_at: datetime,
    span: int,
    now: datetime,
) -> list[int]:
    """1-based indexes of the tiers past ``reached`` whose instant has come, in order. A sweep
    that ran late (the service was down) escalates through all of them at once rather than
    one per sweep."""
    return [
        index
        for index in range(max(reached, 0) + 1, len(tiers) + 1)
        if escalation_instant(calendar, clock, due_at, span, tiers[index - 1].share) <= now
    ]
