"""The business calendar: which instants are working time, and arithmetic in working time.

Pure: every instant is passed in, and every instant handed back is an aware UTC datetime.
The calendar is the IVR's schedule (``ivr.timezone``, ``ivr.hours``, ``ivr.holidays``,
``ivr.make_up_days`` with ``ivr.make_up_hours``), so "are we open" means the same to a caller
in the IVR and to a deadline.

Theory of operation: a local date has open spans (local wall-clock times); ``open_spans``
turns them into UTC instants through ``zoneinfo``, so a day with a DST change has the length
its clock really has (a 24/7 day in Berlin on the last Sunday of March lasts 23 hours). Every
other method walks those per-day spans forwards or backwards. A day with no spans costs one
dictionary look-up, and a walk that meets ``MAX_CLOSED_DAYS`` closed days in a row gives up
with ``ValueError``: a calendar with no open hours at all must not loop forever.

DST edges, chosen to agree with ``hours_at`` (which compares the local wall clock):

- a span that starts (or ends) at a local time the spring change skips starts (or ends) at
  the change itself, the first moment the clock shows a later time;
- a span whose start is repeated by the autumn change starts at its first showing, and one
  whose end is repeated ends at its last showing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from callcenter.ivr.decisions import Schedule
from callcenter.settings import IvrSettings

Span = tuple[datetime, datetime]

# Closed days in a row after which a walk gives up: three years, leap days included. No real
# contact centre is closed that long, so only a calendar without open hours gets there.
MAX_CLOSED_DAYS = 3 * 366
_DAY = timedelta(days=1)
_MICROSECOND = timedelta(microseconds=1)
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class BusinessCalendar:
    """Working time by the contact centre's schedule."""

    schedule: Schedule

    @classmethod
    def from_ivr(cls, ivr: IvrSettings) -> BusinessCalendar:
        return cls(
            Schedule.from_config(
                ivr.timezone, ivr.hours, ivr.holidays, ivr.make_up_days, ivr.make_up_hours
            )
        )

    @property
    def zone(self) -> ZoneInfo:
        return self.schedule.zone

    def open_spans(self, day: date) -> list[Span]:
        """The working spans of a local date as UTC instants, in order, start inclusive and
        end exclusive; spans that overlap or touch are merged (09:00-12:00 and 12:00-18:00 is
        one span). A holiday has none; a make-up day has the make-up spans."""
        spans: list[Span] = []
        for start, end in sorted(self.schedule.spans_on(day), key=lambda span: span[0]):
            begin = _instant(day, start, self.zone, fold=0)
            if end is None:
                finish = _instant(day + _DAY, time(0), self.zone, fold=0)
            else:
                finish = _instant(day, end, self.zone, fold=1)
            if finish <= begin:
                continue  # wholly inside a skipped hour: the clock never shows it
            if spans and begin <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(spans[-1][1], finish))
            else:
                spans.append((begin, finish))
        return spans

    def is_open(self, at: datetime) -> bool:
        at = _utc(at)
        return any(begin <= at < finish for begin, finish in self.open_spans(self._day_of(at)))

    def next_open(self, at: datetime) -> datetime:
        """``at`` itself when open, else the start of the next working span."""
        at = _utc(at)
        begin, _ = next(self._spans_after(at))
        return max(begin, at)

    def shift(self, at: datetime, seconds: float) -> datetime:
        """The instant ``seconds`` working seconds after ``at`` (before it, when negative).

        From a closed moment the count starts at the next open moment (going forward) or the
        previous close (going backward). A forward shift that uses up a span exactly ends at
        the span's close (4 working hours from 14:00 is 18:00, not 09:00 the next day), and a
        backward one at the span's open. Zero seconds is no move at all, even from a closed
        moment: a deadline at 18:00 shifted by 0 stays at 18:00. Microsecond precision."""
        at = _utc(at)
        amount = round(abs(seconds) * 1_000_000)  # whole microseconds: no drift over spans
        if amount == 0:
            return at
        if seconds > 0:
            for begin, finish in self._spans_after(at):
                begin = max(begin, at)
                length = (finish - begin) // _MICROSECOND
                if amount <= length:
                    return begin + timedelta(microseconds=amount)
                amount -= length
        else:
            for begin, finish in self._spans_before(at):
                finish = min(finish, at)
                length = (finish - begin) // _MICROSECOND
                if amount <= length:
                    return finish - timedelta(microseconds=amount)
                amount -= length
        raise AssertionError("unreachable: the span walks raise rather than ending")

    def working_seconds(self, start: datetime, end: datetime) -> float:
        """Working seconds between two instants; 0 when ``end`` is not after ``start``."""
        start, end = _utc(start), _utc(end)
        if end <= start:
            return 0.0
        total = timedelta(0)  # summed exactly, as a timedelta, then turned into seconds once
        day, last = self._day_of(start), self._day_of(end)
        while day <= last:
            for begin, finish in self.open_spans(day):
                overlap = min(finish, end) - max(begin, start)
                if overlap > timedelta(0):
                    total += overlap
            day += _DAY
        return total.total_seconds()

    def end_of_working_day(self, start: datetime, days: int) -> datetime:
        """The close (end of the last span) of the working day ``days`` working days after
        ``start``'s. Day 0 is ``start``'s own day when ``start`` is before its close, else the
        next working day: an item that arrives after hours counts as arriving at the next
        open, so "1wd" from Friday 19:00 is Tuesday's close, as from Monday 09:00."""
        if days < 0:
            raise ValueError(f"days must not be negative, got {days}")
        start = _utc(start)
        counted = -1
        for _, spans in self._working_days(self._day_of(start), 1):
            if counted < 0 and spans[-1][1] <= start:
                continue  # closed already: tomorrow's working day is day 0
            counted += 1
            if counted == days:
                return spans[-1][1]
        raise AssertionError("unreachable: _working_days raises rather than ending")

    def _day_of(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    def _working_days(self, first: date, step: int) -> Iterator[tuple[date, list[Span]]]:
        """Days from ``first`` on (``step`` 1 or -1) that have open spans, with them; raises
        ValueError after MAX_CLOSED_DAYS closed days in a row."""
        day, closed = first, 0
        while True:
            spans = self.open_spans(day)
            if spans:
                closed = 0
                yield day, spans
            else:
                closed += 1
                if closed > MAX_CLOSED_DAYS:
                    raise ValueError(
                        f"no working time within {MAX_CLOSED_DAYS} days of {first.isoformat()}"
                    )
            day += step * _DAY

    def _spans_after(self, at: datetime) -> Iterator[Span]:
        """Working spans that end after ``at``, in order (the first may contain ``at``)."""
        for _, spans in self._working_days(self._day_of(at), 1):
            yield from (span for span in spans if span[1] > at)

    def _spans_before(self, at: datetime) -> Iterator[Span]:
        """Working spans that start before ``at``, latest first (the first may contain it)."""
        for _, spans in self._working_days(self._day_of(at), -1):
            yield from (span for span in reversed(spans) if span[0] < at)


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"a naive datetime has no place in working time: {at.isoformat()}")
    return at.astimezone(UTC)


def _instant(day: date, clock: time, zone: ZoneInfo, fold: int) -> datetime:
    """The UTC instant the local ``clock`` is shown on ``day``; ``fold`` picks the first (0)
    or last (1) showing of a time the autumn change repeats. A time the spring change skips
    maps to the change itself."""
    naive = datetime.combine(day, clock)
    instant = naive.replace(tzinfo=zone, fold=fold).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == naive:
        return instant
    return _clock_passes(naive, zone)


def _clock_passes(naive: datetime, zone: ZoneInfo) -> datetime:
    """The first instant the local clock shows a time at or after ``naive``, which it skips.

    zoneinfo maps a skipped time with either offset; the change lies between the two
    instants, and tz changes fall on whole seconds, so a bisection finds it in ~12 steps."""
    low, high = sorted(naive.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))
    # Whole seconds from ``low``: the clock is before ``naive`` at below, past it at above.
    below, above = 0, int((high - low) / _SECOND)
    while above - below > 1:
        middle = (below + above) // 2
        if (low + middle * _SECOND).astimezone(zone).replace(tzinfo=None) >= naive:
            above = middle
        else:
            below = middle
    return low + above * _SECOND
