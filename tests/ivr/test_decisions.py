"""Pure IVR decisions: business hours, priority, language, digits."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from callcenter.ivr.decisions import (
    CustomerFacts,
    Hours,
    PriorityPolicy,
    Schedule,
    decide_lookup,
    default_lookup,
    hours_at,
    parse_account,
    parse_score,
    safe_value,
    vip_priority,
)
from callcenter.settings import IvrSettings

SCHEDULE = Schedule.from_config(
    "Asia/Shanghai",
    {"mon": ["09:00-12:00", "13:00-18:00"], "sat": ["10:00-24:00"]},
    [date(2026, 10, 1)],
)
POLICY = PriorityPolicy({1: 5, 2: 10, 3: 20}, complaint_priority=8, default_language="zh")


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        (datetime(2026, 11, 23, 1, 0, tzinfo=UTC), Hours.OPEN),  # Mon 09:00 Beijing
        (datetime(2026, 11, 23, 0, 59, tzinfo=UTC), Hours.CLOSED),  # Mon 08:59
        (datetime(2026, 11, 23, 4, 30, tzinfo=UTC), Hours.CLOSED),  # lunch 12:30
        (datetime(2026, 11, 23, 9, 59, tzinfo=UTC), Hours.OPEN),  # 17:59
        (datetime(2026, 11, 23, 10, 0, tzinfo=UTC), Hours.CLOSED),  # 18:00: end is exclusive
        (datetime(2026, 11, 24, 2, 0, tzinfo=UTC), Hours.CLOSED),  # Tuesday: not listed
        (datetime(2026, 11, 28, 15, 59, tzinfo=UTC), Hours.OPEN),  # Sat 23:59 ("24:00")
        (datetime(2026, 11, 28, 16, 0, tzinfo=UTC), Hours.CLOSED),  # Sun 00:00
        (datetime(2026, 9, 30, 17, 0, tzinfo=UTC), Hours.HOLIDAY),  # 1 Oct 01:00 Beijing
    ],
)
def test_hours_follow_the_local_clock(utc: datetime, expected: Hours) -> None:
    assert hours_at(utc, SCHEDULE) is expected


def test_a_holiday_on_an_open_weekday_is_closed() -> None:
    schedule = Schedule.from_config("Asia/Shanghai", {"thu": ["00:00-24:00"]}, [date(2026, 10, 1)])
    assert hours_at(datetime(2026, 10, 1, 4, 0, tzinfo=UTC), schedule) is Hours.HOLIDAY
    assert hours_at(datetime(2026, 10, 8, 4, 0, tzinfo=UTC), schedule) is Hours.OPEN


# Make-up working days (调休): weekdays 09:00-18:00, National Day (Thursday 1 October 2026) a
# holiday, Saturday 10 October worked with its own hours.
MAKE_UP = Schedule.from_config(
    "Asia/Shanghai",
    {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
    [date(2026, 10, 1)],
    make_up_days=[date(2026, 10, 10), date(2026, 10, 12)],
    make_up_hours=["09:30-12:00", "13:00-17:00"],
)


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        (datetime(2026, 10, 10, 1, 30, tzinfo=UTC), Hours.OPEN),  # Sat 09:30 Beijing
        (datetime(2026, 10, 10, 1, 29, tzinfo=UTC), Hours.CLOSED),  # Sat 09:29
        (datetime(2026, 10, 10, 4, 30, tzinfo=UTC), Hours.CLOSED),  # Sat 12:30, make-up lunch
        (datetime(2026, 10, 10, 8, 59, tzinfo=UTC), Hours.OPEN),  # Sat 16:59
        (datetime(2026, 10, 10, 9, 0, tzinfo=UTC), Hours.CLOSED),  # Sat 17:00: end exclusive
        (datetime(2026, 10, 3, 2, 0, tzinfo=UTC), Hours.CLOSED),  # an ordinary Saturday
        (datetime(2026, 10, 11, 2, 0, tzinfo=UTC), Hours.CLOSED),  # the Sunday after
        (datetime(2026, 10, 1, 2, 0, tzinfo=UTC), Hours.HOLIDAY),
        # A make-up day on a weekday has the make-up hours, not the weekday's.
        (datetime(2026, 10, 12, 1, 15, tzinfo=UTC), Hours.CLOSED),  # Mon 09:15
        (datetime(2026, 10, 12, 9, 30, tzinfo=UTC), Hours.CLOSED),  # Mon 17:30
        (datetime(2026, 10, 13, 9, 30, tzinfo=UTC), Hours.OPEN),  # Tue 17:30: a plain Tuesday
    ],
)
def test_a_make_up_day_is_open_in_the_make_up_hours(utc: datetime, expected: Hours) -> None:
    assert hours_at(utc, MAKE_UP) is expected


def test_schedules_without_make_up_days_still_build() -> None:
    by_position = Schedule.from_config("Asia/Shanghai", {"sat": ["10:00-24:00"]}, [])
    assert by_position.make_up_days == frozenset() and by_position.make_up_spans == ()
    direct = Schedule(SCHEDULE.zone, SCHEDULE.spans, SCHEDULE.holidays)
    assert hours_at(datetime(2026, 11, 23, 1, 0, tzinfo=UTC), direct) is Hours.OPEN
    assert direct.spans_on(date(2026, 10, 10)) == SCHEDULE.spans["sat"]


def test_a_make_up_day_without_make_up_hours_stays_closed() -> None:
    schedule = Schedule.from_config(
        "Asia/Shanghai", {"mon": ["09:00-18:00"]}, [], make_up_days=[date(2026, 10, 10)]
    )
    assert hours_at(datetime(2026, 10, 10, 2, 0, tzinfo=UTC), schedule) is Hours.CLOSED


def test_a_holiday_wins_over_a_make_up_day_built_by_hand() -> None:
    day = date(2026, 10, 10)
    schedule = Schedule(
        MAKE_UP.zone, MAKE_UP.spans, frozenset({day}), frozenset({day}), MAKE_UP.make_up_spans
    )
    assert schedule.spans_on(day) == ()
    assert hours_at(datetime(2026, 10, 10, 2, 0, tzinfo=UTC), schedule) is Hours.HOLIDAY


def test_ivr_settings_make_up_days_reach_the_schedule() -> None:
    ivr = IvrSettings(holidays=[date(2026, 10, 1)], make_up_days=[date(2026, 10, 10)])
    assert ivr.make_up_hours == ["09:00-18:00"]  # the default: an ordinary working day
    schedule = Schedule.from_config(
        ivr.timezone, ivr.hours, ivr.holidays, ivr.make_up_days, ivr.make_up_hours
    )
    assert hours_at(datetime(2026, 10, 10, 1, 0, tzinfo=UTC), schedule) is Hours.OPEN


def test_ivr_settings_refuse_a_date_both_holiday_and_make_up_day() -> None:
    with pytest.raises(ValidationError, match="both in holidays and make_up_days: 2026-10-10"):
        IvrSettings(holidays=[date(2026, 10, 10)], make_up_days=[date(2026, 10, 10)])


@pytest.mark.parametrize(
    ("spans", "problem"),
    [
        (["9:00-18:00"], "is not HH:MM-HH:MM"),
        (["09:00-24:30"], "is not HH:MM-HH:MM"),
        (["09:00"], "is not HH:MM-HH:MM"),
        (["18:00-09:00"], "ends before it starts"),
        (["09:00-09:00"], "ends before it starts"),
    ],
)
def test_ivr_settings_check_make_up_hours_like_hours(spans: list[str], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        IvrSettings(make_up_hours=spans)
    with pytest.raises(ValidationError, match=problem):
        IvrSettings(hours={"mon": spans})


def test_vip_priority_uses_the_highest_level_at_or_below() -> None:
    table = {1: 5, 3: 20}
    assert [vip_priority(level, table) for level in (0, 1, 2, 3, 9, -1)] == [0, 5, 5, 20, 20, 0]


def test_unknown_caller_gets_default_priority_and_language() -> None:
    answer = decide_lookup(None, POLICY)
    assert (answer.result, answer.priority, answer.language) == ("unknown", 0, "zh")
    assert decide_lookup(None, POLICY, "en").language == "en"


def test_vip_with_open_complaint_gets_the_higher_priority() -> None:
    vip1 = CustomerFacts(
        customer_id="7", vip_level=1, language="en", open_complaint=True, last_agent="PJSIP/1001"
    )
    answer = decide_lookup(vip1, POLICY)
    assert answer.priority == 8  # complaint (8) beats VIP level 1 (5)
    assert answer.language == "en"  # from the record when the caller did not choose
    assert decide_lookup(vip1, POLICY, "zh").language == "zh"  # the caller's choice wins
    variables = answer.variables()
    assert variables["CC_VIP"] == "1" and variables["CC_CUSTOMER"] == "7"
    assert variables["CC_STICKY_AGENT"] == "PJSIP/1001" and variables["CC_COMPLAINT"] == "1"
    vip3 = CustomerFacts(customer_id="8", vip_level=3, open_complaint=True)
    assert decide_lookup(vip3, POLICY).priority == 20


def test_default_answer_is_safe() -> None:
    answer = default_lookup(POLICY)
    assert answer.result == "default" and answer.priority == 0
    assert answer.variables()["IVR_PRIORITY"] == "0"


def test_digits_and_values() -> None:
    assert [parse_score(s) for s in ("1", "5", " 3 ", "0", "6", "", "12", "*")] == [
        1,
        5,
        3,
        None,
        None,
        None,
        None,
        None,
    ]
    assert parse_account("12345678") == "12345678"
    assert parse_account("12a") is None and parse_account("") is None
    assert safe_value('a"b c\nd;e') == "abcde"
