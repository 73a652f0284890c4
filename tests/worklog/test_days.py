"""The day rules of a work log: which day, what span, the deadline, the check's sample."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from callcenter.handover.ports import ShiftSpan
from callcenter.worklog import days as rules

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


def local(zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone).astimezone(UTC)


def span(start: datetime, end: datetime, user_id: int = 7) -> ShiftSpan:
    return ShiftSpan("night", "夜班 / Night", user_id, start, end)


def test_a_day_without_shifts_is_local_midnight_to_midnight() -> None:
    cover = rules.covered(date(2026, 12, 2), SHANGHAI, ())
    assert cover.start == local(SHANGHAI, 2026, 12, 2, 0, 0)
    assert cover.end == local(SHANGHAI, 2026, 12, 3, 0, 0)
    assert cover.start == datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    assert not cover.by_shift


def test_a_night_shift_belongs_to_the_day_it_starts() -> None:
    night = span(local(SHANGHAI, 2026, 12, 2, 22, 0), local(SHANGHAI, 2026, 12, 3, 6, 0))
    cover = rules.covered(date(2026, 12, 2), SHANGHAI, [night])
    assert (cover.start, cover.end, cover.by_shift) == (night.start, night.end, True)
    # A call at 02:00 on the 3rd is in the 2nd's log.
    two_am = local(SHANGHAI, 2026, 12, 3, 2, 0)
    assert rules.day_holding(two_am, SHANGHAI, [night]).day == date(2026, 12, 2)
    # The 3rd (no shift of its own) starts when the night shift ended: never two logs.
    third = rules.covered(date(2026, 12, 3), SHANGHAI, [night])
    assert (third.start, third.end) == (night.end, local(SHANGHAI, 2026, 12, 4, 0, 0))
    later = local(SHANGHAI, 2026, 12, 3, 7, 0)
    assert rules.day_holding(later, SHANGHAI, [night]).day == date(2026, 12, 3)


def test_a_split_shift_day_covers_first_start_to_last_end() -> None:
    morning = span(local(SHANGHAI, 2026, 12, 2, 8, 0), local(SHANGHAI, 2026, 12, 2, 12, 0))
    evening = span(local(SHANGHAI, 2026, 12, 2, 17, 0), local(SHANGHAI, 2026, 12, 2, 21, 0))
    cover = rules.covered(date(2026, 12, 2), SHANGHAI, [evening, morning])
    assert (cover.start, cover.end) == (morning.start, evening.end)
    # Between the two shifts it is still that day's log.
    lunch = local(SHANGHAI, 2026, 12, 2, 14, 0)
    assert rules.day_holding(lunch, SHANGHAI, [morning, evening]).day == date(2026, 12, 2)


def test_days_when_the_clocks_change_are_23_and_25_hours() -> None:
    spring = rules.covered(date(2026, 3, 29), BERLIN, ())
    autumn = rules.covered(date(2026, 10, 25), BERLIN, ())
    assert spring.end - spring.start == timedelta(hours=23)
    assert autumn.end - autumn.start == timedelta(hours=25)
    assert spring.start == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    # A night shift across the change is its own length, in real hours.
    night = span(local(BERLIN, 2026, 3, 28, 22, 0), local(BERLIN, 2026, 3, 29, 6, 0))
    cover = rules.covered(date(2026, 3, 28), BERLIN, [night])
    assert cover.end - cover.start == timedelta(hours=7)


def test_the_deadline_is_hours_after_the_span() -> None:
    end = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)
    assert rules.deadline(end, 12) == datetime(2026, 12, 3, 4, 0, tzinfo=UTC)


def test_the_review_sample_is_a_fixed_share_the_same_everywhere() -> None:
    day = date(2026, 12, 2)
    assert all(rules.to_review(n, day, 1.0, "day") for n in range(1, 50))
    assert not any(rules.to_review(n, day, 0.0, "day") for n in range(1, 50))
    picked = [n for n in range(1, 2001) if rules.to_review(n, day, 0.25, "day")]
    assert 400 < len(picked) < 600
    # The same answer every time (every replica), and a week's draw is the week's.
    assert picked == [n for n in range(1, 2001) if rules.to_review(n, day, 0.25, "day")]
    monday, sunday = date(2026, 11, 30), date(2026, 12, 6)
    assert rules.period_key(monday, "week") == rules.period_key(sunday, "week") == "2026-W49"
    assert [rules.to_review(n, monday, 0.3, "week") for n in range(200)] == [
        rules.to_review(n, sunday, 0.3, "week") for n in range(200)
    ]
