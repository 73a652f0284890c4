"""The handover room's pure decisions."""

from __future__ import annotations

from datetime import timedelta

from callcenter.handover import rules
from callcenter.handover.ports import LedgerItem
from tests.handover.helpers import FakeRota, local


def item(item_id: int, promised: bool) -> LedgerItem:
    return LedgerItem(
        id=item_id,
        ticket=f"{item_id:08d}",
        title="t",
        kind="follow-up",
        status="open",
        priority="normal",
        due_at=None,
        last_note="",
        customer_id=None,
        customer_name=None,
        phone=None,
        owner_id=1,
        team_id=1,
        version=1,
        promised=promised,
        callback_at=None,
    )


def test_promised_items_come_first_and_only_the_others_go_to_the_pool() -> None:
    items = [item(1, False), item(2, True), item(3, False), item(4, True)]
    assert [i.id for i in rules.promised_first(items)] == [2, 4, 1, 3]
    assert rules.to_pool_at_end_of_shift(items, pending=[3]) == [1]


def test_moves_by_state() -> None:
    assert rules.may("accept", "pending") and rules.may("accept", "asked")
    assert not rules.may("accept", "refused") and rules.may("reassign", "refused")
    assert rules.may("answer", "asked") and not rules.may("answer", "pending")
    assert not any(rules.may(m, "accepted") for m in rules.MOVES)
    assert rules.is_done(["accepted", "reassigned", "withdrawn"])
    assert not rules.is_done(["accepted", "refused"])
    assert rules.is_done([])


def test_off_shift_needs_a_rota_a_shift_of_ones_own_and_one_ended() -> None:
    rota = FakeRota()
    assert not rules.off_shift(rota, 1, local(3, 17))  # no rota at all
    rota.add(1, "early", local(3, 8), local(3, 16))
    assert not rules.off_shift(rota, 2, local(3, 17))  # user 2 works no shifts
    assert not rules.off_shift(rota, 1, local(3, 7))  # before the first shift
    assert not rules.off_shift(rota, 1, local(3, 12))  # at work
    assert rules.off_shift(rota, 1, local(3, 16))  # the shift just ended
    assert rules.ownerless_why(True, rota, 1, local(3, 17)) == ("off-shift", local(3, 16))
    assert rules.ownerless_why(False, rota, 2, local(3, 12)) == ("disabled", local(3, 12))
    assert rules.ownerless_why(True, rota, 1, local(3, 12)) is None


def test_a_break_between_two_shifts_is_not_the_end_of_the_day() -> None:
    rota = FakeRota()
    rota.add(1, "am", local(3, 8), local(3, 12))
    rota.add(1, "pm", local(3, 13), local(3, 17))
    gap = timedelta(minutes=180)
    for at in (local(3, 12), local(3, 12, 30), local(3, 12, 59)):
        assert rules.off_shift_since(rota, 1, at, gap) is None
    # A shorter gap setting: the lunch break is going home (since noon).
    assert rules.off_shift_since(rota, 1, local(3, 12, 30), timedelta(minutes=30)) == local(3, 12)
    # After the last shift of the day (the next one is tomorrow): gone since 17:00.
    rota.add(1, "am", local(4, 8), local(4, 12))
    assert rules.off_shift_since(rota, 1, local(3, 17, 1), gap) == local(3, 17)
    assert rules.ownerless_why(True, rota, 1, local(3, 12, 30), gap) is None


def test_a_handover_nobody_will_take_is_stuck() -> None:
    grace, at = timedelta(minutes=30), local(3, 16)
    assert rules.stuck_why(False, 0, True, at, grace, at) == "successor-disabled"
    assert rules.stuck_why(None, 0, True, at, grace, at) == "successor-disabled"  # the pool's
    assert rules.stuck_why(None, 2, True, at, grace, at) is None
    assert rules.stuck_why(True, 1, True, at, grace, local(3, 20)) is None
    assert rules.stuck_why(True, 1, False, at, grace, local(3, 16, 29)) is None
    assert rules.stuck_why(True, 1, False, at, grace, local(3, 16, 30)) == "giver-disabled"


def test_the_grace_time_and_the_successor_checks() -> None:
    seen = local(3, 16)
    assert not rules.pool_due(seen, timedelta(minutes=30), local(3, 16, 29))
    assert rules.pool_due(seen, timedelta(minutes=30), local(3, 16, 30))
    assert rules.successor_problem(1, 1, True, False) == "self"
    assert rules.successor_problem(1, 2, False, False) == "no-such-user"
    assert rules.successor_problem(1, 2, True, True) == "disabled"
    assert rules.successor_problem(1, 2, True, False, agent=False) == "not-an-agent"
    assert rules.successor_problem(1, 2, True, False) is None
