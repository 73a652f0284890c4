"""The reports' roll-ups, computed from raw facts. Pure: facts in, roll-up rows out.

A roll-up row is a `Tally` (sums and counts, never ratios: ratios do not add up) under a key.
The refresher (``refresh.py``) feeds one queue's calls of one local day, or one agent's state
history of one local day, and stores what comes out in place of what was there: so a roll-up
always equals a full recomputation, however late a wrap-up or a correction came.

Days, hours and weekdays are the contact centre's (``[ivr] timezone``): a call is counted in
the local day, hour and 15-minute slot it joined the queue in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from callcenter.clock import local_day_bounds
from callcenter.work.callbacks import REACHED

__all__ = [
    "ANSWERED_OUTCOMES",
    "MEASURES",
    "SATISFIED_SCORES",
    "CallFact",
    "CallRollup",
    "Contact",
    "Slot",
    "StateSpan",
    "Tally",
    "aware",
    "identifies_caller",
    "local_day_bounds",
    "period_starts",
    "repeated",
    "roll_calls",
    "roll_states",
    "slot_of",
]

ANSWERED_OUTCOMES = frozenset({"answered", "transferred"})
# An outbound call (the callback dialler's) is answered when the customer was reached: the
# dialler writes the attempt's outcome on its record (the callbacks' REACHED).
OUTBOUND_ANSWERED_OUTCOMES = ANSWERED_OUTCOMES | {REACHED}
# Survey answers that count as satisfied (满意): 4 or 5 of 5.
SATISFIED_SCORES = frozenset({4, 5})
SLOT_MINUTES = 15


@dataclass(slots=True)
class Tally:
    """What one roll-up row adds up. Every field sums, but `wait_max`, which takes the max."""

    answered: int = 0
    abandoned: int = 0
    short_abandons: int = 0
    timeouts: int = 0
    withdrawn: int = 0
    overflowed: int = 0
    transferred: int = 0
    unknown: int = 0
    # Answered within the queue's service-level threshold T (wait ≤ T).
    answered_within: int = 0
    wait_answered_sum: float = 0.0
    wait_abandoned_sum: float = 0.0
    wait_max: float = 0.0
    talk_sum: float = 0.0
    wrapup_sum: float = 0.0
    # Answered calls with a saved wrap-up form.
    wrapups: int = 0
    # Answered calls from a number that identifies a caller (FCR's denominator), and those
    # the same number called again about within the FCR window.
    identified: int = 0
    repeats: int = 0
    surveys: int = 0
    surveys_satisfied: int = 0
    survey_score_sum: int = 0
    outbound: int = 0
    outbound_answered: int = 0

    def add(self, other: Tally) -> None:
        for name in MEASURES:
            if name == "wait_max":
                self.wait_max = max(self.wait_max, other.wait_max)
            else:
                setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in MEASURES}

    def empty(self) -> bool:
        return all(not getattr(self, name) for name in MEASURES)


MEASURES: tuple[str, ...] = tuple(f.name for f in fields(Tally))


@dataclass(frozen=True, slots=True)
class CallFact:
    """One call record with what was noted about it, as the roll-ups need it."""

    queue: str
    joined_at: datetime
    outcome: str
    direction: str = "inbound"
    short_abandon: bool = False
    wait_seconds: float | None = None
    talk_seconds: float | None = None
    wrapup_seconds: float | None = None
    answered_by_user: int | None = None
    category: str | None = None
    disposition: str | None = None
    survey_score: int | None = None
    # The caller's number identifies them (not withheld): the call counts for FCR.
    identified: bool = False
    # The same caller called again (any queue) within the FCR window after this call.
    repeated: bool = False


@dataclass(frozen=True, slots=True)
class Slot:
    """Where a moment falls in the contact centre's calendar."""

    start: datetime  # the 15-minute slot's start, UTC
    day: date  # the local day
    hour: int  # the local hour of day, 0..23
    weekday: int  # ISO: 1 Monday .. 7 Sunday


def slot_of(moment: datetime, tz: ZoneInfo) -> Slot:
    local = moment.astimezone(tz)
    floor = local.replace(
        minute=local.minute - local.minute % SLOT_MINUTES, second=0, microsecond=0
    )
    return Slot(floor.astimezone(UTC), local.date(), local.hour, local.isoweekday())


def period_starts(day: date) -> dict[str, date]:
    """The first day of each calendar period the day is in (weeks start on Monday, as in
    China and ISO 8601)."""
    quarter_month = 1 + 3 * ((day.month - 1) // 3)
    return {
        "day": day,
        "week": day - timedelta(days=day.weekday()),
        "month": day.replace(day=1),
        "quarter": day.replace(month=quarter_month, day=1),
        "year": day.replace(month=1, day=1),
    }


def _tally_of(call: CallFact, threshold_seconds: float) -> Tally:
    t = Tally()
    if call.direction != "inbound":
        t.outbound = 1
        if call.outcome in OUTBOUND_ANSWERED_OUTCOMES:
            t.outbound_answered = 1
            t.talk_sum = call.talk_seconds or 0.0
            t.wrapup_sum = call.wrapup_seconds or 0.0
            t.wrapups = int(call.disposition is not None)
        return t
    wait = call.wait_seconds or 0.0
    if call.outcome in ANSWERED_OUTCOMES:
        t.answered = 1
        t.transferred = int(call.outcome == "transferred")
        t.answered_within = int(wait <= threshold_seconds)
        t.wait_answered_sum = wait
        t.wait_max = wait
        t.talk_sum = call.talk_seconds or 0.0
        t.wrapup_sum = call.wrapup_seconds or 0.0
        t.wrapups = int(call.disposition is not None)
        t.identified = int(call.identified)
        t.repeats = int(call.identified and call.repeated)
    elif call.outcome == "abandoned":
        t.abandoned = 1
        t.short_abandons = int(call.short_abandon)
        t.wait_abandoned_sum = wait
        t.wait_max = wait
    elif call.outcome == "timeout":
        t.timeouts = 1
        t.wait_max = wait
    elif call.outcome == "overflowed":
        t.overflowed = 1
    elif call.outcome == "withdrawn":
        t.withdrawn = 1
    else:
        t.unknown = 1
    if call.survey_score is not None:
        t.surveys = 1
        t.surveys_satisfied = int(call.survey_score in SATISFIED_SCORES)
        t.survey_score_sum = call.survey_score
    return t


@dataclass
class CallRollup:
    """One queue-day's roll-up rows."""

    slots: dict[Slot, Tally] = field(default_factory=dict)
    days: dict[date, Tally] = field(default_factory=dict)
    # (day, user id) -> the calls that user answered (or dialled) in the queue
    agents: dict[tuple[date, int], Tally] = field(default_factory=dict)
    # (day, user id or 0, category, disposition) -> calls wrapped up so
    wrapups: dict[tuple[date, int, str, str], int] = field(default_factory=dict)


def roll_calls(calls: Iterable[CallFact], tz: ZoneInfo, threshold_seconds: float) -> CallRollup:
    """The roll-up rows of a set of calls (usually one queue's calls of one local day)."""
    out = CallRollup()
    for call in calls:
        tally = _tally_of(call, threshold_seconds)
        slot = slot_of(call.joined_at, tz)
        out.slots.setdefault(slot, Tally()).add(tally)
        out.days.setdefault(slot.day, Tally()).add(tally)
        if call.answered_by_user is not None and (
            call.outcome in ANSWERED_OUTCOMES or call.direction != "inbound"
        ):
            out.agents.setdefault((slot.day, call.answered_by_user), Tally()).add(tally)
        if call.disposition is not None:
            key = (slot.day, call.answered_by_user or 0, call.category or "", call.disposition)
            out.wrapups[key] = out.wrapups.get(key, 0) + 1
    return out


@dataclass(frozen=True, slots=True)
class StateSpan:
    """One row of an agent's state history; ``ended`` None: still in that state."""

    state: str
    code: str
    started: datetime
    ended: datetime | None


def roll_states(
    spans: Sequence[StateSpan], day: date, tz: ZoneInfo, now: datetime
) -> Mapping[tuple[str, str], float]:
    """Seconds spent in each (state, not-ready code) within one local day.

    A state still held counts up to ``now``; the refresher recomputes today's rows each round.
    Signed-out time is not counted.
    """
    start, end = local_day_bounds(day, tz)
    seconds: dict[tuple[str, str], float] = {}
    for span in spans:
        if span.state == "signed-out":
            continue
        stop = min(span.ended or now, end)
        begin = max(span.started, start)
        if stop > begin:
            key = (span.state, span.code)
            seconds[key] = seconds.get(key, 0.0) + (stop - begin).total_seconds()
    return seconds


# A number that identifies a caller: digits, perhaps a leading +, at least five of them.
# "anonymous", "<unknown>", "" and short internal extensions are not one customer.
_CALLER_NUMBER = re.compile(r"\+?[0-9]{5,}")


def identifies_caller(number: str | None) -> bool:
    return number is not None and _CALLER_NUMBER.fullmatch(number) is not None


@dataclass(frozen=True, slots=True)
class Contact:
    """An inbound call as the first-contact-resolution check sees it."""

    number: str
    uniqueid: str
    joined_at: datetime


def repeated(
    calls: Iterable[tuple[int, Contact]], later: Iterable[Contact], window: timedelta
) -> set[int]:
    """The ids of the calls the same number called again about within ``window`` after them.

    Another leg of the same call (an overflow, a transfer into a queue: the same caller
    channel, so the same uniqueid) is not a new contact.
    """
    by_number: dict[str, list[Contact]] = {}
    for contact in later:
        by_number.setdefault(contact.number, []).append(contact)
    out: set[int] = set()
    for call_id, call in calls:
        for other in by_number.get(call.number, ()):
            if (
                other.uniqueid != call.uniqueid
                and call.joined_at < other.joined_at <= call.joined_at + window
            ):
                out.add(call_id)
                break
    return out


def aware(moment: Any) -> datetime:
    """A timestamp read back from the database as an aware UTC datetime: UtcDateTime gives
    one, but SQLite's min() and max() of a column come back as its stored text."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if not isinstance(moment, datetime):
        raise TypeError(f"not a timestamp: {moment!r}")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
