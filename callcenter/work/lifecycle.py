"""A work item's life: which status may follow which, and what each move does to the promise.

Pure: the clock's reading and the business calendar are passed in. The room turns the returned
``Timing`` into the row's columns in the same transaction as the timeline event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from callcenter.settings import WORK_PRIORITIES, EscalationTier, WorkCategory
from callcenter.work.calendar import BusinessCalendar
from callcenter.work.deadlines import Clock, Promise, remaining, resume
from callcenter.work.escalation import next_tier

WAITING = frozenset({"waiting-customer", "waiting-department"})
OPEN_STATUSES = ("open", "in-progress", "waiting-customer", "waiting-department")
STATUSES = (*OPEN_STATUSES, "resolved", "closed")
KINDS = ("follow-up", "callback", "complaint", "inquiry")

TRANSITIONS: Mapping[str, frozenset[str]] = {
    "open": frozenset({"in-progress", "waiting-customer", "waiting-department", "resolved"}),
    "in-progress": frozenset({"waiting-customer", "waiting-department", "resolved"}),
    "waiting-customer": frozenset({"in-progress", "resolved"}),
    "waiting-department": frozenset({"in-progress", "resolved"}),
    "resolved": frozenset({"closed", "in-progress"}),
    "closed": frozenset({"in-progress"}),
}


def allowed(source: str, target: str) -> bool:
    return target in TRANSITIONS.get(source, frozenset())


def is_open(status: str) -> bool:
    return status in OPEN_STATUSES


def priority_of(requested: str | None, category: WorkCategory | None) -> str:
    """The requested priority (normal if none), raised to the category's least priority."""
    chosen = requested or "normal"
    floor = category.priority if category is not None else None
    if floor is not None and WORK_PRIORITIES.index(floor) < WORK_PRIORITIES.index(chosen):
        return floor
    return chosen


@dataclass(frozen=True, slots=True)
class Timing:
    """The promise as the row keeps it."""

    clock: Clock
    span_seconds: int
    due_at: datetime | None
    first_response_due: datetime | None
    paused_at: datetime | None = None
    remaining_seconds: int | None = None
    escalation_tier: int = 0
    next_escalation_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_on_time: bool | None = None
    closed_at: datetime | None = None


def promised(
    promise: Promise, tiers: Sequence[EscalationTier], calendar: BusinessCalendar
) -> Timing:
    """A fresh promise (a new item, a reopened one, a deadline set by hand)."""
    return Timing(
        clock=promise.clock,
        span_seconds=promise.span_seconds,
        due_at=promise.due_at,
        first_response_due=promise.first_response_due,
        next_escalation_at=_next_at(tiers, 0, calendar, promise.clock, promise.due_at, promise),
    )


def _next_at(
    tiers: Sequence[EscalationTier],
    reached: int,
    calendar: BusinessCalendar,
    clock: Clock,
    due_at: datetime | None,
    promise: Promise | Timing,
) -> datetime | None:
    if due_at is None:
        return None
    found = next_tier(tiers, reached, calendar, clock, due_at, promise.span_seconds)
    return None if found is None else found[1]


def move(
    timing: Timing,
    source: str,
    target: str,
    now: datetime,
    calendar: BusinessCalendar,
    tiers: Sequence[EscalationTier],
    fresh: Promise,
) -> Timing:
    """The promise after a status move (``allowed`` was checked). ``fresh`` is the promise a
    reopened item gets (the rule's, from now)."""
    if source in ("resolved", "closed") and target not in ("resolved", "closed"):
        return promised(fresh, tiers, calendar)  # reopened: a new promise, tiers again
    timing = _leave_wait(timing, source, target, now, calendar, tiers)
    if target in WAITING and source not in WAITING:
        assert timing.due_at is not None
        left = remaining(calendar, timing.clock, now, timing.due_at)
        return replace(
            timing, due_at=None, paused_at=now, remaining_seconds=left, next_escalation_at=None
        )
    if target == "resolved":
        on_time = timing.due_at is None or now <= timing.due_at
        return replace(timing, resolved_at=now, resolved_on_time=on_time, next_escalation_at=None)
    if target == "closed":
        return replace(timing, closed_at=now, next_escalation_at=None)
    return timing


def _leave_wait(
    timing: Timing,
    source: str,
    target: str,
    now: datetime,
    calendar: BusinessCalendar,
    tiers: Sequence[EscalationTier],
) -> Timing:
    """Leaving a wait starts the clock again with the time that was left when it stopped."""
    if source not in WAITING or target in WAITING:
        return timing
    left = timing.remaining_seconds or 0
    due = resume(calendar, timing.clock, now, left)
    return replace(
        timing,
        due_at=due,
        paused_at=None,
        remaining_seconds=None,
        next_escalation_at=_next_at(
            tiers, timing.escalation_tier, calendar, timing.clock, due, timing
        ),
    )


def escalated(
    timing: Timing,
    reached: int,
    calendar: BusinessCalendar,
    tiers: Sequence[EscalationTier],
) -> Timing:
    """The promise after the sweep took the item to tier ``reached``."""
    return replace(
        timing,
        escalation_tier=reached,
        next_escalation_at=_next_at(tiers, reached, calendar, timing.clock, timing.due_at, timing),
    )
