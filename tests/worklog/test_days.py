"""The day rules of a work log: which day, what span, the deadline, the check's sample, and
the zone's offsets over a period. Pure."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from callcenter.handover.ports import ShiftSpan
from callcenter.worklog import days as rules
from callcenter.worklog.book import DayCovers

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
D1, D2, D3, D4 = (date(2026, 12, n) for n in (1, 2, 3, 4))


def local(zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone).astimezone(UTC)


def sh(day: int, hour: int, minute: int = 0) -> datetime:
    return local(SHANGHAI, 2026, 12, day, hour, minute)


def span(start: datetime, end: datetime, user_id: int = 7) -> ShiftSpan:
    return ShiftSpan("night", "夜班 / Night", user_id, start, end)


def partition(zone: ZoneInfo, spans: list[ShiftSpan], first: date, last: date) -> None:
    """The days first..last meet edge to edge: no gap, no overlap, each start <= end."""
    covers = [rules.covered(d, zone, spans) for d in rules.days_between(first, last)]
    for a, b in pairwise(covers):
        assert a.end == b.start, (a, b)
    assert all(c.start <= c.end for c in covers)


def holder(at: datetime, zone: ZoneInfo, spans: list[ShiftSpan]) -> date:
    """The day whose span holds ``at``, found by looking at every span around it."""
    around = rules.days_between(
        rules.local_day(at, zone) - timedelta(days=1), rules.local_day(at, zone)
    )
    (day,) = [d for d in around if rules.covered(d, zone, spans).holds(at)]
    assert rules.day_holding(at, zone, spans) == day
    return day


def test_a_day_without_shifts_is_local_midnight_to_midnight() -> None:
    cover = rules.covered(D2, SHANGHAI, ())
    assert cover.start == sh(2, 0) == datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    assert cover.end == sh(3, 0)
    assert not cover.by_shift


def test_calls_before_and_after_a_day_shift_are_in_that_days_log() -> None:
    # The reviewer's gap: a 14-22 shift; a call at 09:00 and one at 22:30 (overtime).
    spans = [span(sh(2, 14), sh(2, 22))]
    cover = rules.covered(D2, SHANGHAI, spans)
    assert (cover.start, cover.end, cover.by_shift) == (sh(2, 0), sh(3, 0), False)
    assert holder(sh(2, 9), SHANGHAI, spans) == D2
    assert holder(sh(2, 22, 30), SHANGHAI, spans) == D2
    partition(SHANGHAI, spans, D1, D4)


def test_a_night_shift_puts_the_small_hours_on_the_day_it_started() -> None:
    night = span(sh(2, 22), sh(3, 6))
    second = rules.covered(D2, SHANGHAI, [night])
    third = rules.covered(D3, SHANGHAI, [night])
    assert (second.start, second.end, second.by_shift) == (sh(2, 0), sh(3, 6), True)
    assert (third.start, third.end) == (sh(3, 6), sh(4, 0))
    assert holder(sh(3, 2), SHANGHAI, [night]) == D2
    assert holder(sh(3, 6), SHANGHAI, [night]) == D3
    # An early log-in for the night shift is the 2nd's too.
    assert holder(sh(2, 21, 30), SHANGHAI, [night]) == D2
    partition(SHANGHAI, [night], D1, D4)


def test_a_night_and_a_morning_shift_that_overlap_count_each_instant_once() -> None:
    # 22:00-07:00 from the 1st and 06:00-14:00 on the 2nd: 06:30 is the night's (the 1st).
    spans = [span(sh(1, 22), sh(2, 7)), span(sh(2, 6), sh(2, 14))]
    first = rules.covered(D1, SHANGHAI, spans)
    second = rules.covered(D2, SHANGHAI, spans)
    assert first.end == second.start == sh(2, 7)
    assert holder(sh(2, 6, 30), SHANGHAI, spans) == D1
    assert holder(sh(2, 7), SHANGHAI, spans) == D2
    partition(SHANGHAI, spans, date(2026, 11, 30), D4)


def test_two_night_shifts_the_latest_end_is_the_boundary() -> None:
    spans = [span(sh(1, 20), sh(2, 2)), span(sh(1, 23), sh(2, 5))]
    assert rules.boundary(D2, SHANGHAI, spans) == sh(2, 5)
    # A shift ending exactly at midnight moves nothing.
    assert rules.boundary(D2, SHANGHAI, [span(sh(1, 16), sh(2, 0))]) == sh(2, 0)
    # A shift starting on the day itself never moves its own start.
    assert rules.boundary(D2, SHANGHAI, [span(sh(2, 0, 30), sh(2, 8))]) == sh(2, 0)


def test_a_split_shift_day_is_one_log() -> None:
    morning = span(sh(2, 8), sh(2, 12))
    evening = span(sh(2, 17), sh(2, 21))
    cover = rules.covered(D2, SHANGHAI, [evening, morning])
    assert (cover.start, cover.end) == (sh(2, 0), sh(3, 0))
    assert holder(sh(2, 14), SHANGHAI, [morning, evening]) == D2
    partition(SHANGHAI, [morning, evening], D1, D3)


def test_days_when_the_clocks_change_are_23_and_25_hours() -> None:
    spring = rules.covered(date(2026, 3, 29), BERLIN, ())
    autumn = rules.covered(date(2026, 10, 25), BERLIN, ())
    assert spring.end - spring.start == timedelta(hours=23)
    assert autumn.end - autumn.start == timedelta(hours=25)
    assert spring.start == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    # A night shift across the change: the 28th ends when it ends, in real hours.
    night = span(local(BERLIN, 2026, 3, 28, 22, 0), local(BERLIN, 2026, 3, 29, 6, 0))
    cover = rules.covered(date(2026, 3, 28), BERLIN, [night])
    assert cover.end == night.end
    assert night.end - night.start == timedelta(hours=7)
    partition(BERLIN, [night], date(2026, 3, 27), date(2026, 3, 30))
    partition(BERLIN, [], date(2026, 10, 24), date(2026, 10, 26))


def test_stored_neighbours_edges_keep_the_partition_when_the_rota_changes() -> None:
    # The 1st was stored while a 22-07 night shift was on the rota; the rota lost it since.
    stored = {D1: (sh(1, 0), sh(2, 7))}
    covers = DayCovers(SHANGHAI, [], stored)
    assert covers.of(D2).start == sh(2, 7)  # not midnight: no overlap with the 1st
    assert covers.holding(sh(2, 6, 30)) == D1
    # The 3rd stored with a start of 05:00 (a night shift since dropped): the 2nd ends there.
    covers = DayCovers(SHANGHAI, [], {D3: (sh(3, 5), sh(4, 0))})
    assert covers.of(D2).end == sh(3, 5)
    assert covers.holding(sh(3, 4)) == D2
    assert covers.of(D3) == rules.Covered(D3, sh(3, 5), sh(4, 0), True)


def test_the_deadline_is_hours_after_the_span() -> None:
    end = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)
    assert rules.deadline(end, 12) == datetime(2026, 12, 3, 4, 0, tzinfo=UTC)


def test_the_check_takes_a_share_per_agent_and_period_the_same_everywhere() -> None:
    week = rules.days_between(date(2026, 11, 30), date(2026, 12, 6))  # ISO week 49
    logs = [
        rules.Submitted(100 * user + n, user, day, False)
        for user in (1, 2, 3)
        for n, day in enumerate(week[: 2 + user])
    ]
    assert rules.picked(logs, 0.0, "week") == set()
    assert rules.picked(logs, 1.0, "week") == {g.id for g in logs}
    half = rules.picked(logs, 0.5, "week")
    for user in (1, 2, 3):
        mine = [g.id for g in logs if g.user_id == user]
        assert len(half & set(mine)) == math.ceil(0.5 * len(mine))
    # By day: one log per agent per day, so at least one of each is picked.
    assert rules.picked(logs, 0.1, "day") == {g.id for g in logs}
    # A small share still picks one per agent and week.
    assert len(rules.picked(logs, 0.01, "week")) == 3
    # Stable: the same answer in any order; a checked log counts first.
    assert rules.picked(list(reversed(logs)), 0.5, "week") == half
    one = [g for g in logs if g.user_id == 3]
    unpicked = next(g for g in one if g.id not in half)
    marked = [rules.Submitted(g.id, g.user_id, g.day, g.id == unpicked.id) for g in logs]
    again = rules.picked(marked, 0.5, "week")
    assert unpicked.id in again
    assert len(again & {g.id for g in one}) == math.ceil(0.5 * len(one))
    assert rules.period_key(date(2026, 11, 30), "week") == "2026-W49"
    assert rules.period_start(date(2026, 12, 6), "week") == date(2026, 11, 30)


def test_the_zones_offsets_change_only_where_the_clocks_do() -> None:
    year = rules.offsets(BERLIN, datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert year == [
        (datetime(2026, 1, 1, tzinfo=UTC), 3600),
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), 7200),
        (datetime(2026, 10, 25, 1, 0, tzinfo=UTC), 3600),
    ]
    ten = rules.offsets(
        SHANGHAI, datetime(2017, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    )
    assert ten == [(datetime(2017, 1, 1, tzinfo=UTC), 8 * 3600)]
