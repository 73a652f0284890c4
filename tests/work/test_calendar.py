"""The business calendar: open spans, working-time shifts and sums, working days.

Most cases use the contact centre's zone (Asia/Shanghai, no DST) and a golden week: weekdays
09:00-18:00, holidays Thursday 1 to Thursday 8 October 2026, make-up working days Sunday
27 September and Saturday 10 October. The DST cases use Europe/Berlin around its changes of
29 March 2026 (02:00 CET -> 03:00 CEST) and 25 October 2026 (03:00 CEST -> 02:00 CET).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.ivr.decisions import Hours, Schedule, hours_at
from callcenter.settings import IvrSettings
from callcenter.work.calendar import MAX_CLOSED_DAYS, BusinessCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

GOLDEN_WEEK = BusinessCalendar.from_ivr(
    IvrSettings(
        timezone="Asia/Shanghai",
        hours={day: ["09:00-18:00"] for day in WEEKDAYS},
        holidays=[date(2026, 10, 1) + timedelta(days=n) for n in range(8)],
        make_up_days=[date(2026, 9, 27), date(2026, 10, 10)],
        make_up_hours=["09:00-18:00"],
    )
)
ALWAYS_BERLIN = BusinessCalendar(
    Schedule.from_config("Europe/Berlin", {day: ["00:00-24:00"] for day in EVERY_DAY}, [])
)
ALWAYS_UTC = BusinessCalendar(
    Schedule.from_config("UTC", {day: ["00:00-24:00"] for day in EVERY_DAY}, [])
)
# Every day with a lunch break, so the DST days have open hours on both sides of the change.
BERLIN_DAYS = BusinessCalendar(
    Schedule.from_config(
        "Europe/Berlin", {d: ["09:00-12:00", "13:00-18:00"] for d in EVERY_DAY}, []
    )
)
# Night hours on the DST Sundays: starts and ends inside the hour spring skips or autumn repeats.
BERLIN_NIGHTS = BusinessCalendar(
    Schedule.from_config(
        "Europe/Berlin", {"sun": ["01:00-02:30", "02:45-04:00", "22:00-24:00"]}, []
    )
)
NEVER = BusinessCalendar(Schedule.from_config("Asia/Shanghai", {}, []))


def bj(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    """A Beijing wall-clock time as the UTC instant the calendar speaks."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def berlin(month: int, day: int, hour: int, minute: int = 0, fold: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN, fold=fold).astimezone(UTC)


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


# --- open spans ------------------------------------------------------------------------------


def test_open_spans_of_a_working_day_are_utc_instants() -> None:
    assert GOLDEN_WEEK.open_spans(date(2026, 9, 30)) == [(utc(9, 30, 1), utc(9, 30, 10))]


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 10, 1),
        date(2026, 10, 5),
        date(2026, 10, 8),
        date(2026, 9, 26),
        date(2026, 10, 11),
    ],
    ids=["holiday-thu", "holiday-mon", "last-holiday", "saturday", "sunday"],
)
def test_holidays_and_weekends_have_no_open_spans(day: date) -> None:
    assert GOLDEN_WEEK.open_spans(day) == []


def test_make_up_days_have_the_make_up_spans_whatever_their_weekday() -> None:
    assert GOLDEN_WEEK.open_spans(date(2026, 9, 27)) == [(utc(9, 27, 1), utc(9, 27, 10))]  # Sun
    assert GOLDEN_WEEK.open_spans(date(2026, 10, 10)) == [(utc(10, 10, 1), utc(10, 10, 10))]  # Sat


def test_make_up_hours_replace_the_weekday_hours() -> None:
    calendar = BusinessCalendar(
        Schedule.from_config(
            "Asia/Shanghai",
            {"mon": ["09:00-18:00"]},
            [],
            make_up_days=[date(2026, 10, 12)],  # a Monday
            make_up_hours=["10:00-12:00"],
        )
    )
    assert calendar.open_spans(date(2026, 10, 12)) == [(bj(10, 12, 10), bj(10, 12, 12))]


def test_touching_and_overlapping_spans_merge_and_gaps_stay() -> None:
    calendar = BusinessCalendar(
        Schedule.from_config(
            "Asia/Shanghai",
            {"mon": ["13:00-15:00", "09:00-12:00", "11:00-12:30", "15:00-18:00"]},
            [],
        )
    )
    assert calendar.open_spans(date(2026, 10, 12)) == [
        (bj(10, 12, 9), bj(10, 12, 12, 30)),
        (bj(10, 12, 13), bj(10, 12, 18)),
    ]
    # Merged spans are counted once.
    assert calendar.working_seconds(bj(10, 12, 0), bj(10, 13, 0)) == 8.5 * 3600


def test_spans_follow_the_dst_change() -> None:
    before, after = date(2026, 3, 28), date(2026, 3, 30)
    assert BERLIN_DAYS.open_spans(before)[0] == (utc(3, 28, 8), utc(3, 28, 11))  # CET, +1
    assert BERLIN_DAYS.open_spans(after)[0] == (utc(3, 30, 7), utc(3, 30, 10))  # CEST, +2
    # A day open around the clock is as long as its clock: 23 hours in spring, 25 in autumn.
    ((start, end),) = ALWAYS_BERLIN.open_spans(date(2026, 3, 29))
    assert end - start == timedelta(hours=23)
    ((start, end),) = ALWAYS_BERLIN.open_spans(date(2026, 10, 25))
    assert end - start == timedelta(hours=25)


def test_a_span_starting_in_the_skipped_hour_starts_at_the_change() -> None:
    spans = BERLIN_NIGHTS.open_spans(date(2026, 3, 29))
    # 01:00-02:30 ends, and 02:45-04:00 starts, at 03:00 CEST (01:00 UTC): they touch, one span.
    assert spans[0] == (berlin(3, 29, 1), utc(3, 29, 2))
    assert spans[0][0] == utc(3, 29, 0)


@pytest.mark.parametrize(
    ("calendar", "day"),
    [
        (BERLIN_NIGHTS, date(2026, 3, 29)),
        (BERLIN_DAYS, date(2026, 3, 29)),
        (BERLIN_DAYS, date(2026, 10, 25)),
        (ALWAYS_BERLIN, date(2026, 3, 29)),
        (ALWAYS_BERLIN, date(2026, 10, 25)),
        (GOLDEN_WEEK, date(2026, 9, 27)),
        (GOLDEN_WEEK, date(2026, 10, 1)),
    ],
)
def test_is_open_agrees_with_the_ivr_minute_by_minute(
    calendar: BusinessCalendar, day: date
) -> None:
    """The IVR and the deadlines share one answer to "are we open", DST days included."""
    first = datetime.combine(day, datetime.min.time(), calendar.zone).astimezone(UTC)
    for minute in range(-60, 26 * 60):
        at = first + timedelta(minutes=minute)
        assert calendar.is_open(at) == (hours_at(at, calendar.schedule) is Hours.OPEN), at


def test_autumn_repeated_hour_is_worked_twice() -> None:
    calendar = BusinessCalendar(Schedule.from_config("Europe/Berlin", {"sun": ["01:00-04:00"]}, []))
    assert calendar.working_seconds(utc(10, 24, 0), utc(10, 26, 0)) == 4 * 3600


# --- is_open, next_open ------------------------------------------------------------------------


def test_is_open_bounds_are_start_inclusive_end_exclusive() -> None:
    assert GOLDEN_WEEK.is_open(bj(9, 30, 9))
    assert not GOLDEN_WEEK.is_open(bj(9, 30, 8, 59))
    assert GOLDEN_WEEK.is_open(bj(9, 30, 18) - timedelta(microseconds=1))
    assert not GOLDEN_WEEK.is_open(bj(9, 30, 18))
    assert not GOLDEN_WEEK.is_open(bj(10, 1, 10))  # holiday
    assert GOLDEN_WEEK.is_open(bj(10, 10, 10))  # make-up Saturday


def test_is_open_takes_any_aware_zone() -> None:
    assert GOLDEN_WEEK.is_open(datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI))
    assert GOLDEN_WEEK.is_open(datetime(2026, 9, 30, 2, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (bj(9, 30, 10), bj(9, 30, 10)),  # open: itself
        (bj(9, 30, 7), bj(9, 30, 9)),  # before the open
        (bj(9, 30, 18), bj(10, 9, 9)),  # the close: after the holidays
        (bj(10, 16, 19), bj(10, 19, 9)),  # Friday evening: Monday
        (bj(9, 26, 12), bj(9, 27, 9)),  # Saturday: the make-up Sunday
    ],
)
def test_next_open(at: datetime, expected: datetime) -> None:
    assert GOLDEN_WEEK.next_open(at) == expected


# --- shift -----------------------------------------------------------------------------------

HOUR = 3600.0


@pytest.mark.parametrize(
    ("start", "seconds", "expected"),
    [
        (bj(10, 16, 16), 4 * HOUR, bj(10, 19, 11)),  # 4wh from Friday 16:00: Monday 11:00
        (bj(9, 25, 16), 4 * HOUR, bj(9, 27, 11)),  # ...the make-up Sunday when there is one
        (bj(10, 9, 16), 4 * HOUR, bj(10, 10, 11)),  # ...the make-up Saturday
        (bj(9, 30, 17), 2 * HOUR, bj(10, 9, 10)),  # across the golden week
        (bj(10, 12, 14), 4 * HOUR, bj(10, 12, 18)),  # using up a span ends at its close
        (bj(10, 17, 12), HOUR, bj(10, 19, 10)),  # from a closed Saturday: from Monday 09:00
        (bj(10, 12, 7), 30.5, bj(10, 12, 9) + timedelta(seconds=30.5)),  # before the open
        (bj(10, 12, 9), 9 * 5 * HOUR, bj(10, 16, 18)),  # a working week
        (bj(10, 12, 9), 9 * 5 * HOUR + 1, bj(10, 19, 9) + timedelta(seconds=1)),
    ],
)
def test_shift_forward(start: datetime, seconds: float, expected: datetime) -> None:
    assert GOLDEN_WEEK.shift(start, seconds) == expected


@pytest.mark.parametrize(
    ("start", "seconds", "expected"),
    [
        (bj(10, 19, 10), -2 * HOUR, bj(10, 16, 17)),  # Monday 10:00 back 2h: Friday 17:00
        (bj(10, 19, 10), -HOUR, bj(10, 19, 9)),  # back to the open, not the Friday close
        (bj(10, 17, 12), -HOUR, bj(10, 16, 17)),  # from a closed Saturday: from Friday 18:00
        (bj(10, 9, 10), -2 * HOUR, bj(9, 30, 17)),  # back across the golden week
        (bj(9, 28, 10), -2 * HOUR, bj(9, 27, 17)),  # ...and the make-up Sunday
    ],
)
def test_shift_backward(start: datetime, seconds: float, expected: datetime) -> None:
    assert GOLDEN_WEEK.shift(start, seconds) == expected


def test_shift_by_zero_is_no_move_even_when_closed() -> None:
    assert GOLDEN_WEEK.shift(bj(9, 30, 18), 0) == bj(9, 30, 18)
    assert GOLDEN_WEEK.shift(bj(10, 17, 12), 0.0) == bj(10, 17, 12)


def test_shift_answers_utc_whatever_the_zone_given() -> None:
    moved = GOLDEN_WEEK.shift(datetime(2026, 10, 16, 16, 0, tzinfo=SHANGHAI), 4 * HOUR)
    assert moved.tzinfo is UTC and moved == bj(10, 19, 11)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        GOLDEN_WEEK.shift(datetime(2026, 10, 16, 16, 0), HOUR)
    with pytest.raises(ValueError, match="naive"):
        GOLDEN_WEEK.is_open(datetime(2026, 10, 16, 16, 0))


def test_a_calendar_open_around_the_clock_is_the_wall_clock() -> None:
    start = utc(3, 28, 11)  # Saturday 12:00 CET, the day before the change
    for calendar in (ALWAYS_UTC, ALWAYS_BERLIN):
        assert calendar.shift(start, 24 * HOUR) == start + timedelta(hours=24)
        assert calendar.shift(start, -100 * HOUR) == start - timedelta(hours=100)
        assert calendar.working_seconds(start, start + timedelta(days=3)) == 72 * HOUR
    # Through the 23-hour Sunday: 24 real hours later the Berlin clock shows 13:00, not 12:00.
    assert ALWAYS_BERLIN.shift(start, 24 * HOUR) == berlin(3, 29, 13)
    # 23 working hours from Sunday's midnight is Monday's midnight.
    assert ALWAYS_BERLIN.shift(berlin(3, 29, 0), 23 * HOUR) == berlin(3, 30, 0)
    assert ALWAYS_BERLIN.shift(berlin(10, 25, 0), 25 * HOUR) == berlin(10, 26, 0)


def test_shift_across_the_spring_change() -> None:
    # Saturday 17:00 CET + 2 working hours: 1h Saturday, 1h Sunday from 09:00 CEST.
    assert BERLIN_DAYS.shift(berlin(3, 28, 17), 2 * HOUR) == berlin(3, 29, 10)
    assert BERLIN_DAYS.shift(berlin(3, 28, 17), 2 * HOUR) == utc(3, 29, 8)
    assert BERLIN_DAYS.shift(berlin(3, 29, 10), -2 * HOUR) == berlin(3, 28, 17)
    # Lunch is skipped on either side of the change.
    assert BERLIN_DAYS.shift(berlin(3, 29, 11), 2 * HOUR) == berlin(3, 29, 14)
    assert BERLIN_DAYS.working_seconds(berlin(3, 28, 0), berlin(3, 30, 0)) == 16 * HOUR


def test_shift_in_the_night_of_the_changes() -> None:
    # Spring: 01:00-02:30 and 02:45-04:00 are 00:00-02:00 UTC, two hours.
    assert BERLIN_NIGHTS.working_seconds(utc(3, 28, 12), utc(3, 29, 12)) == 2 * HOUR
    assert BERLIN_NIGHTS.shift(berlin(3, 29, 0, 30), 90 * 60) == utc(3, 29, 1, 30)


def test_a_calendar_without_open_hours_gives_up_instead_of_looping() -> None:
    with pytest.raises(ValueError, match="no working time"):
        NEVER.shift(bj(10, 1, 10), HOUR)
    with pytest.raises(ValueError, match="no working time"):
        NEVER.shift(bj(10, 1, 10), -HOUR)
    with pytest.raises(ValueError, match="no working time"):
        NEVER.next_open(bj(10, 1, 10))
    with pytest.raises(ValueError, match="no working time"):
        NEVER.end_of_working_day(bj(10, 1, 10), 1)
    assert NEVER.working_seconds(bj(10, 1, 10), bj(10, 8, 10)) == 0.0
    assert NEVER.shift(bj(10, 1, 10), 0) == bj(10, 1, 10)


def test_open_time_within_the_bound_is_found_and_beyond_it_is_not() -> None:
    start = bj(10, 1, 0)

    def only_on(day: date) -> BusinessCalendar:
        return BusinessCalendar(
            Schedule.from_config("Asia/Shanghai", {}, [], [day], ["09:00-10:00"])
        )

    near = only_on(date(2026, 10, 1) + timedelta(days=MAX_CLOSED_DAYS - 1))
    assert near.shift(start, HOUR) == near.shift(start, 1) + timedelta(seconds=HOUR - 1)
    assert near.working_seconds(start, near.shift(start, HOUR)) == HOUR
    far = only_on(date(2026, 10, 1) + timedelta(days=MAX_CLOSED_DAYS + 1))
    with pytest.raises(ValueError, match="no working time"):
        far.shift(start, HOUR)


def test_a_long_shift_walks_whole_years() -> None:
    # About two years of working hours (2 x 250 days x 9h) still answers, and exactly.
    start = bj(1, 5, 9)
    moved = GOLDEN_WEEK.shift(start, 4500 * HOUR)
    assert GOLDEN_WEEK.working_seconds(start, moved) == 4500 * HOUR


# --- working_seconds ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (bj(9, 30, 10), bj(9, 30, 10), 0.0),
        (bj(9, 30, 12), bj(9, 30, 10), 0.0),  # end before start
        (bj(9, 30, 10), bj(9, 30, 11, 30), 1.5 * HOUR),
        (bj(10, 16, 17), bj(10, 19, 10), 2 * HOUR),  # over a weekend
        (bj(9, 30, 17), bj(10, 9, 10), 2 * HOUR),  # over the golden week
        (bj(9, 25, 0), bj(9, 28, 0), 18 * HOUR),  # Friday and the make-up Sunday
        (bj(10, 17, 0), bj(10, 18, 23, 59), 0.0),  # a plain weekend
    ],
)
def test_working_seconds(start: datetime, end: datetime, expected: float) -> None:
    assert GOLDEN_WEEK.working_seconds(start, end) == expected


# --- end_of_working_day --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # 2wd from Wednesday 17:00: Wednesday is day 0, the holidays are skipped, Friday 9
        # October is day 1 and the make-up Saturday day 2.
        (bj(9, 30, 17), 2, bj(10, 10, 18)),
        (bj(9, 30, 17), 0, bj(9, 30, 18)),
        (bj(9, 30, 7), 1, bj(10, 9, 18)),  # before the open: the day still counts
        (bj(9, 30, 18), 1, bj(10, 10, 18)),  # at the close: Friday 9 is day 0
        (bj(9, 30, 19), 2, bj(10, 12, 18)),
        (bj(10, 17, 12), 1, bj(10, 20, 18)),  # from a Saturday: Monday is day 0
        (bj(10, 16, 17), 1, bj(10, 19, 18)),
        (bj(9, 25, 17), 1, bj(9, 27, 18)),  # the make-up Sunday is a working day
    ],
)
def test_end_of_working_day(start: datetime, days: int, expected: datetime) -> None:
    assert GOLDEN_WEEK.end_of_working_day(start, days) == expected


def test_end_of_working_day_is_the_last_span_close() -> None:
    assert BERLIN_DAYS.end_of_working_day(berlin(3, 28, 10), 1) == berlin(3, 29, 18)
    assert ALWAYS_BERLIN.end_of_working_day(berlin(3, 28, 10), 1) == berlin(3, 30, 0)


def test_negative_working_days_are_refused() -> None:
    with pytest.raises(ValueError):
        GOLDEN_WEEK.end_of_working_day(bj(9, 30, 10), -1)


# --- properties -----------------------------------------------------------------------------------

CALENDARS = st.sampled_from([GOLDEN_WEEK, BERLIN_DAYS, BERLIN_NIGHTS, ALWAYS_BERLIN, ALWAYS_UTC])
INSTANTS = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
SECONDS = st.floats(min_value=0, max_value=4e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(calendar=CALENDARS, start=INSTANTS, seconds=SECONDS)
def test_shift_moves_by_exactly_that_much_working_time(
    calendar: BusinessCalendar, start: datetime, seconds: float
) -> None:
    moved = calendar.shift(start, seconds)
    assert moved >= start
    assert calendar.working_seconds(start, moved) == pytest.approx(seconds, abs=1e-6)
    back = calendar.shift(start, -seconds)
    assert back <= start
    assert calendar.working_seconds(back, start) == pytest.approx(seconds, abs=1e-6)


@settings(max_examples=300, deadline=None)
@given(calendar=CALENDARS, start=INSTANTS, seconds=SECONDS)
def test_shifting_there_and_back_is_no_working_time_from_the_next_open(
    calendar: BusinessCalendar, start: datetime, seconds: float
) -> None:
    there_and_back = calendar.shift(calendar.shift(start, seconds), -seconds)
    first_open = calendar.next_open(start)
    low, high = sorted((there_and_back, first_open))
    assert calendar.working_seconds(low, high) == pytest.approx(0, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(calendar=CALENDARS, start=INSTANTS, days=st.integers(min_value=0, max_value=30))
def test_after_hours_counts_as_the_next_open(
    calendar: BusinessCalendar, start: datetime, days: int
) -> None:
    end = calendar.end_of_working_day(start, days)
    assert end > start
    assert end == calendar.end_of_working_day(calendar.next_open(start), days)
    assert calendar.is_open(end - timedelta(microseconds=1))  # a close, not any instant
