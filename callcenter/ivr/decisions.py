"""What the hotline does with a caller: pure functions of the facts and the configuration.

The FastAGI routes gather facts (customer record, clock, digits) and hand them here; the
answers are plain values turned into channel variables by the routes. Every decision has a
safe default that the routes answer when the facts do not arrive in time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo

LANGUAGES = ("zh", "en")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Queue names and AGI arguments end up in SET VARIABLE lines and AstDB keys.
_SAFE_VALUE = re.compile(r"[^0-9A-Za-z_@/.:+#*\-]")
_DIGITS = re.compile(r"[0-9]{1,32}")


class Hours(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    HOLIDAY = "holiday"


@dataclass(frozen=True)
class Schedule:
    """Business hours in local time: open spans per weekday, closed whole days (holidays),
    and make-up working days (调休) open with their own spans whatever their weekday."""

    zone: ZoneInfo
    spans: Mapping[str, Sequence[tuple[time, time | None]]]  # end None = midnight
    holidays: frozenset[date]
    # Defaults keep schedules built before make-up days existed meaning what they meant.
    make_up_days: frozenset[date] = frozenset()
    make_up_spans: Sequence[tuple[time, time | None]] = ()

    @classmethod
    def from_config(
        cls,
        timezone: str,
        hours: Mapping[str, Sequence[str]],
        holidays: Sequence[date],
        make_up_days: Sequence[date] = (),
        make_up_hours: Sequence[str] = (),
    ) -> Schedule:
        spans = {
            day: tuple(_parse_span(span) for span in day_spans) for day, day_spans in hours.items()
        }
        return cls(
            ZoneInfo(timezone),
            spans,
            frozenset(holidays),
            frozenset(make_up_days),
            tuple(_parse_span(span) for span in make_up_hours),
        )

    def spans_on(self, day: date) -> Sequence[tuple[time, time | None]]:
        """The local open spans of a date: none on a holiday, the make-up spans on a make-up
        day, else its weekday's. A holiday wins over a make-up day (the settings refuse a
        date that is both, but a closed answer is the safer one for a hand-built schedule)."""
        if day in self.holidays:
            return ()
        if day in self.make_up_days:
            return self.make_up_spans
        return self.spans.get(WEEKDAYS[day.weekday()], ())


def _parse_span(span: str) -> tuple[time, time | None]:
    start, end = span.split("-")
    return time.fromisoformat(start), None if end == "24:00" else time.fromisoformat(end)


def hours_at(now: datetime, schedule: Schedule) -> Hours:
    """Open, closed or holiday at the aware instant ``now``. A make-up day (调休) is open in
    the make-up hours whatever its weekday, so a worked Saturday is not answered "closed"."""
    local = now.astimezone(schedule.zone)
    if local.date() in schedule.holidays:
        return Hours.HOLIDAY
    clock = local.time().replace(tzinfo=None)
    for start, end in schedule.spans_on(local.date()):
        if start <= clock and (end is None or clock < end):
            return Hours.OPEN
    return Hours.CLOSED


# Unknown hours must not turn callers away: the dialplan's default is "open" too.
DEFAULT_HOURS = Hours.OPEN


@dataclass(frozen=True)
class CustomerFacts:
    """What the service knows about a caller (from the customer table, records...)."""

    customer_id: str | None = None
    vip_level: int = 0
    language: str | None = None
    open_complaint: bool = False
    # Interface of the agent who last served the caller (PJSIP/1001), if any.
    last_agent: str | None = None


@dataclass(frozen=True)
class PriorityPolicy:
    vip_priorities: Mapping[int, int]
    complaint_priority: int
    default_language: str


@dataclass(frozen=True)
class LookupAnswer:
    # "known" (a customer record), "unknown" (no record) or "default" (facts not available).
    result: str
    priority: int
    language: str
    vip_level: int = 0
    customer_id: str = ""
    sticky_agent: str = ""
    open_complaint: bool = False

    def variables(self) -> dict[str, str]:
        """Channel variables: IVR_* steer the dialplan; CC_* also reach the pop and record."""
        return {
            "IVR_LOOKUP": self.result,
            "IVR_PRIORITY": str(self.priority),
            "IVR_LANG": self.language,
            "CC_VIP": str(self.vip_level),
            "CC_CUSTOMER": self.customer_id,
            "CC_STICKY_AGENT": self.sticky_agent,
            "CC_COMPLAINT": "1" if self.open_complaint else "0",
        }


def default_lookup(policy: PriorityPolicy) -> LookupAnswer:
    return LookupAnswer("default", 0, policy.default_language)


def vip_priority(level: int, table: Mapping[int, int]) -> int:
    """Priority of a VIP level: its own entry, else the highest configured level below it."""
    if level <= 0:
        return 0
    below = [lvl for lvl in table if lvl <= level]
    return table[max(below)] if below else 0


def decide_lookup(
    facts: CustomerFacts | None, policy: PriorityPolicy, chosen_language: str | None = None
) -> LookupAnswer:
    """Queue priority, language and sticky agent for a caller (None = no record)."""
    language = chosen_language if chosen_language in LANGUAGES else None
    if facts is None:
        return LookupAnswer("unknown", 0, language or policy.default_language)
    priority = vip_priority(facts.vip_level, policy.vip_priorities)
    if facts.open_complaint:
        priority = max(priority, policy.complaint_priority)
    record_language = facts.language if facts.language in LANGUAGES else None
    return LookupAnswer(
        "known" if facts.customer_id else "unknown",
        priority,
        language or record_language or policy.default_language,
        vip_level=max(facts.vip_level, 0),
        customer_id=facts.customer_id or "",
        sticky_agent=facts.last_agent or "",
        open_complaint=facts.open_complaint,
    )


def parse_score(text: str) -> int | None:
    """A survey digit 1-5, or None for anything else (timeout, *, #, 0, 6...)."""
    text = text.strip()
    return int(text) if len(text) == 1 and text in "12345" else None


def parse_account(text: str) -> str | None:
    """Digits keyed by the caller (the # terminator already stripped by Read)."""
    text = text.strip()
    return text if _DIGITS.fullmatch(text) else None


def safe_value(text: str, limit: int = 80) -> str:
    """A value fit for a SET VARIABLE line and a log: no quotes, spaces or newlines."""
    return _SAFE_VALUE.sub("", text)[:limit]


def normalise_language(text: str) -> str | None:
    text = text.strip().lower()
    return text if text in LANGUAGES else None
