"""The rota in memory: which user works which shift when, in the contact centre's time zone.
Pure: no I/O, every answer from what the room last loaded and the time asked about.

A shift is a local time of day to a local time of day on some weekdays ("days" are the
weekdays on which it STARTS): ``22:00-06:00`` on Monday is one span from Monday 22:00 to
Tuesday 06:00 local time. Local times become UTC through ``zoneinfo`` on each day, so a
night across a change of daylight saving time is an hour shorter or longer in UTC, as the
people working it see on the wall clock; a local time that does not exist that day (the hour
skipped in spring) is read as zoneinfo reads it (the offset before the change).

Members of a shift are its named users plus the members of its named teams, minus disabled
users (not in ``active``). A user in two shifts has the spans of both.

``ShiftBoard`` is the ``RotaView`` (``callcenter/handover/ports.py``) other rooms hold: it is
one object from the room's construction on, and ``load`` swaps what it knows in one
assignment, so a reader never sees half a rota.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from callcenter.agents.scope import Team
from callcenter.handover.ports import ShiftSpan

__all__ = ["WEEKDAYS", "ShiftBoard", "ShiftDef", "members_of", "parse_hhmm"]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# How far next_shift and last_ended look: the contract's two weeks.
HORIZON = timedelta(days=14)
# successors: a span starting with the user's own (within a minute) is a colleague on the
# same shift, not a successor; one starting more than a day after it ended is not taking over.
SAME_START = timedelta(minutes=1)
TAKEOVER_WINDOW = timedelta(hours=24)
# [t, t + _TICK) is "the instant t" for the half-open overlap test.
_TICK = timedelta(microseconds=1)


def parse_hhmm(value: str) -> time:
    """``"HH:MM"`` (00:00..23:59) as a time; ValueError otherwise."""
    hours, sep, minutes = value.partition(":")
    if not (sep and len(hours) == 2 and len(minutes) == 2 and hours.isdigit()):
        raise ValueError(f"{value!r} is not HH:MM")
    if not minutes.isdigit() or int(hours) > 23 or int(minutes) > 59:
        raise ValueError(f"{value!r} is not a time of day (00:00-23:59)")
    return time(int(hours), int(minutes))


@dataclass(frozen=True, slots=True)
class ShiftDef:
    """One shift as stored: times are local, ``days`` are weekdays 0 (Monday) .. 6."""

    name: str
    label: str
    start: time
    end: time  # end <= start: ends the next day (never equal)
    days: frozenset[int]
    user_ids: frozenset[int] = frozenset()
    team_ids: frozenset[int] = frozenset()
    version: int = 1
    updated_by: str = ""
    updated_at: datetime | None = None

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    def day_names(self) -> list[str]:
        return [WEEKDAYS[d] for d in sorted(self.days)]

    def span_on(self, day: date, user_id: int, zone: ZoneInfo) -> ShiftSpan | None:
        """The span starting on local ``day`` (None when the shift does not start that
        weekday, or when a daylight-saving change leaves nothing of it)."""
        if day.weekday() not in self.days:
            return None
        start = datetime.combine(day, self.start, tzinfo=zone).astimezone(UTC)
        end_day = day + timedelta(days=1) if self.overnight else day
        end = datetime.combine(end_day, self.end, tzinfo=zone).astimezone(UTC)
        if end <= start:
            return None
        return ShiftSpan(self.name, self.label, user_id, start, end)


def members_of(shift: ShiftDef, teams: Iterable[Team], active: Collection[int]) -> frozenset[int]:
    """The shift's named users and its teams' members, those not disabled."""
    ids = set(shift.user_ids)
    for team in teams:
        if team.id in shift.team_ids:
            ids |= team.members
    return frozenset(i for i in ids if i in active)


@dataclass(frozen=True, slots=True)
class _Plan:
    shifts: tuple[ShiftDef, ...] = ()
    # user id -> the shifts the user works (by name)
    by_user: dict[int, tuple[ShiftDef, ...]] = field(default_factory=dict)
    # shift name -> its members
    members: dict[str, frozenset[int]] = field(default_factory=dict)
    # user id -> the users sharing a team with them (themselves excluded); none: no team
    mates: dict[int, frozenset[int]] = field(default_factory=dict)
    active: frozenset[int] = frozenset()


class ShiftBoard:
    """The rota as a ``RotaView``: empty until ``load``."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._plan = _Plan()

    def load(
        self, shifts: Sequence[ShiftDef], teams: Sequence[Team], active: Iterable[int]
    ) -> None:
        """Replace what the board knows: the shifts, every team, the users not disabled."""
        active_ids = frozenset(active)
        members = {s.name: members_of(s, teams, active_ids) for s in shifts}
        by_user: dict[int, list[ShiftDef]] = {}
        for shift in shifts:
            for user_id in members[shift.name]:
                by_user.setdefault(user_id, []).append(shift)
        mates: dict[int, set[int]] = {}
        for team in teams:
            people = (team.members | team.leaders) & active_ids
            for user_id in people:
                mates.setdefault(user_id, set()).update(people - {user_id})
        self._plan = _Plan(
            shifts=tuple(sorted(shifts, key=lambda s: (s.start, s.name))),
            by_user={u: tuple(s) for u, s in by_user.items()},
            members=members,
            mates={u: frozenset(m) for u, m in mates.items()},
            active=active_ids,
        )

    # --- what the room and its API read --------------------------------------------------

    @property
    def shifts(self) -> tuple[ShiftDef, ...]:
        return self._plan.shifts

    def members(self, name: str) -> frozenset[int]:
        return self._plan.members.get(name, frozenset())

    def starting_between(self, start: datetime, end: datetime) -> list[ShiftSpan]:
        """Every span whose start is in (start, end], in time order."""
        found = [
            span
            for user_id in self._plan.by_user
            for span in self._spans(user_id, start, end + _TICK)
            if start < span.start <= end
        ]
        return sorted(found, key=_order)

    # --- RotaView --------------------------------------------------------------------------

    def has_shifts(self) -> bool:
        return bool(self._plan.shifts)

    def current(self, user_id: int, at: datetime) -> ShiftSpan | None:
        holding = [s for s in self._spans(user_id, at, at + _TICK) if s.start <= at < s.end]
        if not holding:
            return None
        # Two overlapping shifts: the one ending last is when the user really leaves.
        return max(holding, key=lambda s: (s.end, s.start, s.shift))

    def next_shift(self, user_id: int, at: datetime) -> ShiftSpan | None:
        until = at + HORIZON
        later = [s for s in self._spans(user_id, at, until + _TICK) if at < s.start <= until]
        return min(later, key=_order, default=None)

    def last_ended(self, user_id: int, at: datetime) -> ShiftSpan | None:
        since = at - HORIZON
        ended = [s for s in self._spans(user_id, since, at) if s.end <= at]
        return max(ended, key=lambda s: (s.end, s.start, s.shift), default=None)

    def successors(self, user_id: int, at: datetime) -> Sequence[int]:
        plan = self._plan
        own = self.current(user_id, at) or self.last_ended(user_id, at)
        if own is None:
            return []
        candidates = plan.mates.get(user_id)
        if not candidates:
            candidates = plan.members.get(own.shift, frozenset())
        first, last = own.start + SAME_START, own.end + TAKEOVER_WINDOW
        earliest: dict[int, datetime] = {}
        for other in candidates:
            if other == user_id or other not in plan.active:
                continue
            spans = self._spans(other, first, last + _TICK)
            starts = [s.start for s in spans if first <= s.start <= last]
            if starts:
                earliest[other] = min(starts)
        if not earliest:
            return []
        soonest = min(earliest.values())
        return sorted(u for u, start in earliest.items() if start == soonest)

    def spans(self, user_id: int, start: datetime, end: datetime) -> Sequence[ShiftSpan]:
        return self._spans(user_id, start, end)

    def on_shift(self, at: datetime) -> Sequence[ShiftSpan]:
        found = [
            span
            for user_id in self._plan.by_user
            for span in self._spans(user_id, at, at + _TICK)
            if span.start <= at < span.end
        ]
        return sorted(found, key=_order)

    def ending_between(self, start: datetime, end: datetime) -> Sequence[ShiftSpan]:
        found = [
            span
            for user_id in self._plan.by_user
            for span in self._spans(user_id, start, end + _TICK)
            if start < span.end <= end
        ]
        return sorted(found, key=lambda s: (s.end, s.user_id, s.start, s.shift))

    # --- the one place spans are made --------------------------------------------------------

    def _spans(self, user_id: int, start: datetime, end: datetime) -> list[ShiftSpan]:
        """The user's spans overlapping [start, end), in time order."""
        shifts = self._plan.by_user.get(user_id, ())
        if not shifts or end <= start:
            return []
        # A span starts on its local day and lasts under two days: look one day before the
        # window's first local day (a night shift still running) to its last.
        first = start.astimezone(self.zone).date() - timedelta(days=1)
        last = end.astimezone(self.zone).date()
        found: list[ShiftSpan] = []
        day = first
        while day <= last:
            for shift in shifts:
                span = shift.span_on(day, user_id, self.zone)
                if span is not None and span.start < end and span.end > start:
                    found.append(span)
            day += timedelta(days=1)
        return sorted(found, key=_order)


def _order(span: ShiftSpan) -> tuple[datetime, int, datetime, str]:
    return (span.start, span.user_id, span.end, span.shift)
