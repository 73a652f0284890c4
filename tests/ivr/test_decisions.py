"""Pure IVR decisions: business hours, priority, language, digits."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

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
