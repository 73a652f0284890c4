"""The rota in memory (pure): spans in the centre's zone, nights across midnight and across a
change of daylight saving time, weekdays a shift starts on, members through teams, disabled
users, and the answers the handover room reads (current, next, last ended, successors,
ending between)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from callcenter.agents.scope import Team
from callcenter.handover.ports import RotaView, ShiftSpan
from callcenter.shifts.rota import ShiftBoard, ShiftDef, parse_hhmm

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
WEEKDAYS = frozenset({MON, TUE, WED, THU, FRI})

# Users: 1 early, 5 and 6 late, 2 night (named), 3 and 4 night through team 10 (4 disabled).
EARLY = ShiftDef("early", "早班 / Early", time(8), time(16), WEEKDAYS, frozenset({1}))
LATE = ShiftDef("late", "中班 / Late", time(16), time(0), WEEKDAYS, frozenset({5, 6}))
NIGHT = ShiftDef(
    "night", "夜班 / Night", time(22), time(6), frozenset({MON}), frozenset({2}), frozenset({10})
)
FRONT = Team(10, "front", "一线", "Front", frozenset(), frozenset({3, 4}), frozenset())
DAY_TEAM = Team(20, "day", "白班组", "Day", frozenset(), frozenset({1, 5, 6}), frozenset())
ACTIVE = {1, 2, 3, 5, 6}


def local(
    zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone).astimezone(UTC)


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return local(SHANGHAI, year, month, day, hour, minute)


def board(
    shifts: list[ShiftDef] | None = None,
    teams: list[Team] | None = None,
    active: set[int] | None = None,
    zone: ZoneInfo = SHANGHAI,
) -> ShiftBoard:
    rota = ShiftBoard(zone)
    rota.load(
        [EARLY, LATE, NIGHT] if shifts is None else shifts,
        [FRONT, DAY_TEAM] if teams is None else teams,
        ACTIVE if active is None else active,
    )
    return rota


def test_the_board_is_a_rota_view_and_empty_until_loaded() -> None:
    empty: RotaView = ShiftBoard(SHANGHAI)
    assert not empty.has_shifts()
    assert empty.current(1, sh(2026, 11, 30, 9)) is None
    assert empty.successors(1, sh(2026, 11, 30, 9)) == []
    assert board().has_shifts()


def test_a_night_shift_is_one_span_starting_on_its_day() -> None:
    rota = board()
    # Monday 30 November 2026, 22:00 to Tuesday 06:00 in Shanghai (UTC+8).
    span = ShiftSpan("night", "夜班 / Night", 2, sh(2026, 11, 30, 22), sh(2026, 12, 1, 6))
    assert span.start == datetime(2026, 11, 30, 14, tzinfo=UTC)
    assert rota.current(2, sh(2026, 12, 1, 2)) == span
    assert rota.current(2, sh(2026, 11, 30, 22)) == span
    assert rota.current(2, sh(2026, 12, 1, 6)) is None  # the end is not in the span
    # Only Monday nights: Tuesday night is free, Sunday night too.
    assert rota.current(2, sh(2026, 12, 1, 23)) is None
    assert rota.current(2, sh(2026, 11, 30, 2)) is None
    assert rota.spans(2, sh(2026, 11, 29), sh(2026, 12, 7)) == [span]


def test_days_are_the_weekdays_a_shift_starts_on() -> None:
    rota = board()
    week = rota.spans(1, sh(2026, 11, 30), sh(2026, 12, 7))
    monday = datetime(2026, 11, 30, 8, tzinfo=SHANGHAI)
    assert [(s.start, s.end) for s in week] == [
        (monday + timedelta(days=d), monday + timedelta(days=d, hours=8)) for d in range(5)
    ]
    # A late shift ending at midnight (00:00 is the next day) on Friday ends Saturday 00:00.
    friday_late = rota.current(5, sh(2026, 12, 4, 23, 59))
    assert friday_late is not None
    assert friday_late.end == sh(2026, 12, 5, 0)
    # Overlapping the window is enough: the night running at the window's start is there.
    assert rota.spans(2, sh(2026, 12, 1, 5), sh(2026, 12, 1, 7))[0].shift == "night"


def test_members_come_from_users_and_teams_and_disabled_users_are_on_no_shift() -> None:
    rota = board()
    at = sh(2026, 11, 30, 23)
    # By start, then user.
    assert [(s.user_id, s.shift) for s in rota.on_shift(at)] == [
        (5, "late"),
        (6, "late"),
        (2, "night"),
        (3, "night"),
    ]
    assert rota.current(4, at) is None  # a member of team 10, but disabled
    assert rota.members("night") == {2, 3}
    assert rota.spans(4, sh(2026, 11, 1), sh(2026, 12, 31)) == []


def test_a_night_across_the_autumn_change_is_nine_hours_and_spring_seven() -> None:
    night = ShiftDef("night", "Nacht", time(22), time(6), frozenset({SAT}), frozenset({1}))
    rota = board([night], [], {1}, zone=BERLIN)
    # Summer time ends Sunday 25 October 2026 at 03:00 CEST (back to 02:00 CET).
    autumn = rota.current(1, local(BERLIN, 2026, 10, 25, 1))
    assert autumn is not None
    assert autumn.start == datetime(2026, 10, 24, 20, tzinfo=UTC)  # 22:00 CEST
    assert autumn.end == datetime(2026, 10, 25, 5, tzinfo=UTC)  # 06:00 CET
    assert autumn.end - autumn.start == timedelta(hours=9)
    # Summer time starts Sunday 29 March 2026 at 02:00 CET (on to 03:00 CEST).
    spring = rota.current(1, local(BERLIN, 2026, 3, 29, 4))
    assert spring is not None
    assert spring.start == datetime(2026, 3, 28, 21, tzinfo=UTC)  # 22:00 CET
    assert spring.end == datetime(2026, 3, 29, 4, tzinfo=UTC)  # 06:00 CEST
    assert spring.end - spring.start == timedelta(hours=7)
    # Every Saturday night is one span, whatever the offset.
    spans = rota.spans(1, datetime(2026, 10, 17, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
    assert [s.start.astimezone(BERLIN).hour for s in spans] == [22, 22, 22]
    assert [s.end.astimezone(BERLIN).hour for s in spans] == [6, 6, 6]


def test_next_and_last_ended_look_two_weeks_away() -> None:
    rota = board()
    at = sh(2026, 12, 1, 12)  # Tuesday noon
    nxt = rota.next_shift(2, at)
    assert nxt is not None and nxt.start == sh(2026, 12, 7, 22)
    last = rota.last_ended(2, at)
    assert last is not None and last.end == sh(2026, 12, 1, 6)
    # During Monday's night, the last ended is the Monday before's.
    last = rota.last_ended(2, sh(2026, 11, 30, 23))
    assert last is not None and last.end == sh(2026, 11, 24, 6)
    # The early shift: during one, the next is tomorrow's; the last ended is yesterday's.
    nxt = rota.next_shift(1, at)
    assert nxt is not None and nxt.start == sh(2026, 12, 2, 8)
    last = rota.last_ended(1, at)
    assert last is not None and last.end == sh(2026, 11, 30, 16)
    # Nothing within two weeks: a shift on no weekday the user works.
    assert rota.next_shift(99, at) is None
    lone = board([NIGHT], [], {2})
    assert lone.next_shift(2, sh(2026, 12, 8, 0)) is not None
    assert lone.last_ended(2, sh(2026, 12, 15, 7)) == lone.current(2, sh(2026, 12, 15, 5))
    assert lone.next_shift(2, sh(2026, 12, 1, 7)) == lone.current(2, sh(2026, 12, 7, 23))


def test_ending_between_takes_ends_in_the_half_open_window() -> None:
    rota = board()
    ends = rota.ending_between(sh(2026, 12, 1, 5, 30), sh(2026, 12, 1, 6))
    assert [(s.user_id, s.shift) for s in ends] == [(2, "night"), (3, "night")]
    assert rota.ending_between(sh(2026, 12, 1, 6), sh(2026, 12, 1, 7)) == []
    ends = rota.ending_between(sh(2026, 11, 30, 15), sh(2026, 12, 1, 0))
    assert [(s.user_id, s.shift, s.end) for s in ends] == [
        (1, "early", sh(2026, 11, 30, 16)),
        (5, "late", sh(2026, 12, 1, 0)),
        (6, "late", sh(2026, 12, 1, 0)),
    ]


def test_successors_are_the_team_mates_starting_first_after_the_span() -> None:
    rota = board()
    # The early agent's team mates 5 and 6 start at 16:00 together: both, by id.
    assert rota.successors(1, sh(2026, 11, 30, 15)) == [5, 6]
    # After the early shift ended the last one ended counts.
    assert rota.successors(1, sh(2026, 11, 30, 17)) == [5, 6]
    # From the late shift: 5's mates are 1 and 6; 6 starts with 5 (not a successor), so the
    # next morning's early agent takes over.
    assert rota.successors(5, sh(2026, 11, 30, 20)) == [1]
    # Nobody in no shift, and nobody for a user who works none.
    assert rota.successors(99, sh(2026, 11, 30, 20)) == []
    # On Friday late, the next early is Monday: more than 24 h after, so nobody.
    assert rota.successors(5, sh(2026, 12, 4, 20)) == []


def test_successors_without_a_team_are_the_same_shifts_members() -> None:
    mon = ShiftDef("a", "A", time(22), time(6), frozenset({MON}), frozenset({7}))
    tue = ShiftDef("b", "B", time(22), time(6), frozenset({TUE}), frozenset({8}))
    both = ShiftDef("c", "C", time(9), time(17), frozenset({MON, TUE}), frozenset({7, 8}))
    rota = board([mon, tue, both], [], {7, 8})
    # 7 has no team: the members of 7's span's shift ("a": only 7) -> nobody.
    assert rota.successors(7, sh(2026, 11, 30, 23)) == []
    # On shift c (Monday), c's other member 8 starts first next: Tuesday 09:00 (c), before
    # Tuesday 22:00 (b).
    assert rota.successors(7, sh(2026, 11, 30, 10)) == [8]
    # Disabled successors are on no shift.
    rota.load([mon, tue, both], [], {7})
    assert rota.successors(7, sh(2026, 11, 30, 10)) == []


def test_parse_hhmm() -> None:
    assert parse_hhmm("06:05") == time(6, 5)
    for bad in ("6:05", "24:00", "12:60", "ab:cd", "1200"):
        try:
            parse_hhmm(bad)
        except ValueError:
            continue
        raise AssertionError(bad)
