"""Promises: when a work item must first be answered and resolved, by the rules of
``work.deadlines`` and the business calendar.

Pure: the start instant is passed in; every instant is aware UTC. A promise runs on one of
two clocks, chosen by its resolution's unit: ``wall`` (30m, 2h, 3d: time as it passes) or
``working`` (4wh, 2wd: the calendar's open hours only). The item keeps the span of its
promise in that clock, so a wait can stop the clock and a resume restart it with what was
left (``remaining`` then ``resume``), and escalation can measure shares of it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, cast

from callcenter.settings import DeadlineRule
from callcenter.work.calendar import BusinessCalendar

Unit = Literal["m", "h", "d", "wh", "wd"]
Clock = Literal["wall", "working"]

# The settings' own pattern, anchored at both ends: "2wdx" is a typing error, not 2wd.
_DURATION = re.compile(r"([1-9][0-9]{0,4})(m|h|d|wh|wd)")
_WALL_SECONDS = {"m": 60, "h": 3600, "d": 86_400}
_WORKING_HOUR = 3600


@dataclass(frozen=True)
class Duration:
    amount: int
    unit: Unit


def parse_duration(text: str) -> Duration:
    """``"30m"``, ``"2h"``, ``"3d"``, ``"4wh"``, ``"2wd"``; ValueError for anything else."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration (30m, 2h, 3d, 4wh, 2wd)")
    return Duration(int(match.group(1)), cast(Unit, match.group(2)))


def clock_of(duration: Duration) -> Clock:
    return "working" if duration.unit in ("wh", "wd") else "wall"


def rule_for(rules: Sequence[DeadlineRule], kind: str, priority: str) -> DeadlineRule:
    """The first rule matching kind and priority ("*" matches any). The settings insist on
    a "*"/"*" rule, so LookupError means rules that did not come through the settings."""
    for rule in rules:
        if rule.kind in ("*", kind) and rule.priority in ("*", priority):
            return rule
    raise LookupError(f"no deadline rule for kind {kind!r} and priority {priority!r}")


@dataclass(frozen=True)
class Promise:
    """A fresh promise. ``span_seconds`` is the resolution's span in ``clock`` (wall seconds,
    or working seconds from start to ``due_at``): the measure escalation shares are of."""

    clock: Clock
    span_seconds: int
    first_response_due: datetime | None
    due_at: datetime


def due_after(calendar: BusinessCalendar, duration: Duration, start: datetime) -> datetime:
    """When a duration that starts at ``start`` runs out."""
    if duration.unit == "wd":
        return calendar.end_of_working_day(start, duration.amount)
    if duration.unit == "wh":
        return calendar.shift(start, duration.amount * _WORKING_HOUR)
    return shift_in(calendar, "wall", start, duration.amount * _WALL_SECONDS[duration.unit])


def promise(
    rules: Sequence[DeadlineRule],
    calendar: BusinessCalendar,
    kind: str,
    priority: str,
    start: datetime,
) -> Promise:
    """The promise of the first rule matching (kind, priority), made at ``start``."""
    rule = rule_for(rules, kind, priority)
    resolution = parse_duration(rule.resolution)
    clock = clock_of(resolution)
    due_at = due_after(calendar, resolution, start)
    first_response_due = (
        None
        if rule.first_response is None
        else due_after(calendar, parse_duration(rule.first_response), start)
    )
    return Promise(
        clock=clock,
        # Measured, not computed from the amount: "2wd" is as many working seconds as the
        # days really hold (and "3d" across a DST change is still 72 hours of wall time).
        span_seconds=round(_elapsed(calendar, clock, start, due_at)),
        first_response_due=first_response_due,
        due_at=due_at,
    )


def shift_in(calendar: BusinessCalendar, clock: Clock, at: datetime, seconds: float) -> datetime:
    """``at`` moved by ``seconds`` of the clock (backward when negative)."""
    if clock == "working":
        return calendar.shift(at, seconds)
    return at + timedelta(seconds=seconds)


def remaining(calendar: BusinessCalendar, clock: Clock, now: datetime, due: datetime) -> int:
    """Seconds of the clock left until ``due``; negative when overdue (by that much).

    Whole seconds, rounded down: a deadline at a day's close, resumed with a fraction of a
    second too much, would otherwise move to the next working day's opening."""
    if now <= due:
        return math.floor(_elapsed(calendar, clock, now, due))
    return -math.ceil(_elapsed(calendar, clock, due, now))


def resume(
    calendar: BusinessCalendar, clock: Clock, now: datetime, remaining_seconds: int
) -> datetime:
    """The new deadline when a wait ends at ``now`` with ``remaining_seconds`` left (an item
    that went to wait overdue comes back as overdue as it was)."""
    return shift_in(calendar, clock, now, remaining_seconds)


def _elapsed(calendar: BusinessCalendar, clock: Clock, start: datetime, end: datetime) -> float:
    if clock == "working":
        return calendar.working_seconds(start, end)
    return (end - start).total_seconds()
