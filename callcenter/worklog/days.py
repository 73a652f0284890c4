"""Which day a work log is of, what span of time it covers, its deadline, and which logs
the supervisors check. Pure: every answer from its arguments (the clock is one of them).

A log is of one of the contact centre's local days (``[ivr] timezone``). It covers:

- the agent's shifts of that day, when the rota has any: from the first shift starting that
  day to the end of the last one (a 22:00-06:00 night shift belongs to the day it starts, so
  a call at 02:00 is in the previous day's log);
- otherwise local midnight to the next midnight, starting later when the previous day's night
  shift ran past midnight (a call is never in two logs).

A day on which clocks change is 23 or 25 hours long: the span is computed from the zone's
own midnights, never as 24 hours.

The supervisors' check (主管定期检查) takes a share of the submitted logs: which ones is a
hash of the log's id and the period (day or ISO week), so every replica picks the same and a
log does not move in or out of the sample when the page is reloaded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from callcenter.handover.ports import ShiftSpan

ReviewPeriod = Literal["day", "week"]


@dataclass(frozen=True, slots=True)
class Covered:
    """The span of UTC time one day's log covers, start < end."""

    day: date
    start: datetime
    end: datetime
    # Whether the rota's shifts made it (False: the calendar day).
    by_shift: bool

    def holds(self, at: datetime) -> bool:
        return self.start <= at < self.end


def midnight(day: date, zone: ZoneInfo) -> datetime:
    """The start of the centre's local ``day``, in UTC."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def local_day(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


def covered(day: date, zone: ZoneInfo, spans: Sequence[ShiftSpan]) -> Covered:
    """The span ``day``'s log covers, given the user's shift spans around it (any that start
    the day before, on the day or after: the others are ignored)."""
    own = [s for s in spans if local_day(s.start, zone) == day]
    if own:
        return Covered(day, min(s.start for s in own), max(s.end for s in own), True)
    start, end = midnight(day, zone), midnight(day + timedelta(days=1), zone)
    before = [s.end for s in spans if local_day(s.start, zone) == day - timedelta(days=1)]
    if before and start < max(before) < end:
        start = max(before)
    return Covered(day, start, end, False)


def day_holding(at: datetime, zone: ZoneInfo, spans: Sequence[ShiftSpan]) -> Covered:
    """The log whose span holds ``at``: the previous day's when ``at`` is in a night shift
    that started then, else the local day of ``at``."""
    today = local_day(at, zone)
    yesterday = covered(today - timedelta(days=1), zone, spans)
    if yesterday.by_shift and yesterday.holds(at):
        return yesterday
    return covered(today, zone, spans)


def deadline(covers_end: datetime, due_hours: float) -> datetime:
    """A log is on time when submitted before this."""
    return covers_end + timedelta(hours=due_hours)


def period_key(day: date, period: ReviewPeriod) -> str:
    if period == "day":
        return day.isoformat()
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def to_review(log_id: int, day: date, share: float, period: ReviewPeriod) -> bool:
    """Whether the supervisors check this log: a fixed share of the logs, the same on every
    replica (a hash of the id and the period, not a random draw)."""
    if share >= 1.0:
        return True
    if share <= 0.0:
        return False
    digest = hashlib.sha256(f"{log_id}:{period_key(day, period)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
