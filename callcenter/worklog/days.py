"""Which day a work log is of, what span of time it covers, its deadline, and which logs
the supervisors check. Pure: every answer from its arguments (the clock is one of them).

A log is of one of the contact centre's local days (``[ivr] timezone``). The logs of one
user partition time: no instant is in two logs, none is in no log. Day D covers
``[boundary(D), boundary(D + 1))`` where ``boundary(D)`` is

- the latest end of the user's shifts that START on D - 1 and run past D's local midnight
  (a 22:00-06:00 night shift begun on D - 1 puts 02:00 on D - 1), if there is one;
- else D's local midnight.

So early log-ins and overtime land in the day they belong to, and without shifts a log is
midnight to midnight (23 or 25 hours on a day the clocks change: the zone's own midnights,
never 24 hours). The rota only shapes the span; whether a day is owed at all is decided by
evidence of work (``book.py``).

A stored log keeps the span frozen into it; a draft's span takes a stored neighbour's frozen
edge where there is one (``before``/``after``), so a rota edited later never opens a gap or
an overlap next to a stored log.

The supervisors' check (主管定期检查) takes, per agent and period (day or ISO week), the
ceiling of the configured share of that agent's submitted logs, at least one when the share
is above 0, ranked by a stable hash of the log's id (every replica picks the same).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from callcenter.clock import local_day_bounds
from callcenter.handover.ports import ShiftSpan

ReviewPeriod = Literal["day", "week"]
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Covered:
    """The span of UTC time one day's log covers, start <= end."""

    day: date
    start: datetime
    end: datetime
    # Whether a night shift (or a stored neighbour) moved an edge off midnight.
    by_shift: bool

    def holds(self, at: datetime) -> bool:
        return self.start <= at < self.end


@lru_cache(maxsize=16384)
def midnight(day: date, zone: ZoneInfo) -> datetime:
    """The start of the centre's local ``day``, in UTC (kept: the completion figures of a
    year ask for every day's, for every agent)."""
    return local_day_bounds(day, zone)[0]


def local_day(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


def boundary(day: date, zone: ZoneInfo, spans: Iterable[ShiftSpan]) -> datetime:
    """Where ``day``'s log starts (and the day before's ends): the latest end of the shifts
    that start the day before and run past ``day``'s midnight, else that midnight. A shift
    lasts under a day, but the edge is kept before the next midnight whatever the rota says
    (a log never ends before it starts)."""
    start = midnight(day, zone)
    before = day - ONE_DAY
    ends = [s.end for s in spans if s.end > start and local_day(s.start, zone) == before]
    if not ends:
        return start
    return min(max(ends), midnight(day + ONE_DAY, zone))


def covered(
    day: date,
    zone: ZoneInfo,
    spans: Sequence[ShiftSpan],
    *,
    before: datetime | None = None,
    after: datetime | None = None,
) -> Covered:
    """The span ``day``'s log covers, given the user's shift spans around it (those starting
    the day before and on the day matter) and the frozen edges of stored neighbours:
    ``before`` the previous day's ``covers_end``, ``after`` the next day's ``covers_start``."""
    start = before if before is not None else boundary(day, zone, spans)
    end = after if after is not None else boundary(day + ONE_DAY, zone, spans)
    end = max(start, end)
    shaped = start != midnight(day, zone) or end != midnight(day + ONE_DAY, zone)
    return Covered(day, start, end, shaped)


def day_holding(
    at: datetime, zone: ZoneInfo, spans: Sequence[ShiftSpan], cut: datetime | None = None
) -> date:
    """The day whose log holds ``at``: the previous local day while ``at`` is before today's
    boundary (in a night shift begun yesterday), else ``at``'s local day. ``cut``: today's
    boundary as a stored log froze it."""
    today = local_day(at, zone)
    edge = cut if cut is not None else boundary(today, zone, spans)
    return today - ONE_DAY if at < edge else today


def deadline(covers_end: datetime, due_hours: float) -> datetime:
    """A log is on time when submitted before this."""
    return covers_end + timedelta(hours=due_hours)


def period_key(day: date, period: ReviewPeriod) -> str:
    if period == "day":
        return day.isoformat()
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def period_start(day: date, period: ReviewPeriod) -> date:
    """The first day of the period holding ``day`` (itself, or the ISO week's Monday)."""
    return day if period == "day" else day - timedelta(days=day.weekday())


def rank(log_id: int) -> bytes:
    """A stable pseudo-random rank of a log (the same on every replica)."""
    return hashlib.sha256(f"worklog:{log_id}".encode()).digest()[:8]


@dataclass(frozen=True, slots=True)
class Submitted:
    """A log the check draws from: submitted at least once."""

    id: int
    user_id: int
    day: date
    # Signed off or sent back already: it was checked, and counts toward the share first.
    checked: bool


def picked(logs: Iterable[Submitted], share: float, period: ReviewPeriod) -> set[int]:
    """The ids of the logs the supervisors check: per agent and period, the ceiling of
    ``share`` times the agent's submitted logs of the period (at least one when ``share`` is
    above 0). Logs already checked are taken first (a sign-off never pulls another log in),
    then by a stable hash of the id."""
    if share <= 0.0:
        return set()
    groups: dict[tuple[int, str], list[Submitted]] = {}
    for log in logs:
        groups.setdefault((log.user_id, period_key(log.day, period)), []).append(log)
    out: set[int] = set()
    for group in groups.values():
        want = max(1, math.ceil(share * len(group) - 1e-9))
        ordered = sorted(group, key=lambda g: (not g.checked, rank(g.id), g.id))
        out.update(g.id for g in ordered[:want])
    return out


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def offsets(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """The zone's UTC offsets (seconds) over [start, end): ``[(from, offset), ...]``, the
    first from ``start``, one more at each change (clocks going forward or back). Found by
    looking at each local day and, where the offset differs from the day before, bisecting
    to the second: a year is a few hundred ``utcoffset`` calls."""

    def offset(at: datetime) -> int:
        delta = at.astimezone(zone).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    out = [(start, offset(start))]
    at = start
    while at < end:
        step = min(at + ONE_DAY, end)
        if offset(step) != out[-1][1]:
            low, high = at, step  # offset(low) is the last one, offset(high) the new one
            while (high - low) > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if offset(middle) == out[-1][1]:
                    low = middle
                else:
                    high = middle
            changed = high.replace(microsecond=0)
            if offset(changed) == out[-1][1]:
                changed += timedelta(seconds=1)
            out.append((changed, offset(changed)))
        at = step
    return out
