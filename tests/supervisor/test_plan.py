"""Pure decisions of the supervisor room: undo, desired state, re-apply plan, intervals."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from callcenter.live import MemberView
from callcenter.supervisor.intervals import CallSample, bucket_calls
from callcenter.supervisor.plan import (
    DesiredMember,
    MemberOp,
    desired_after,
    desired_following,
    is_already_done,
    plan_reapply,
    undo_of,
)

AT = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def member(
    queue: str = "support", interface: str = "PJSIP/1001", **overrides: object
) -> MemberView:
    values: dict[str, object] = dict(
        pbx="rig",
        queue=queue,
        interface=interface,
        name="Agent 1001",
        state_interface=interface,
        status=1,
        state="available",
        paused=False,
        paused_reason="",
        penalty=0,
        ringinuse=None,
        calls_taken=0,
        last_call=None,
        in_call=False,
        membership="dynamic",
        wrapup_seconds=0,
    )
    values.update(overrides)
    return MemberView(**values)  # type: ignore[arg-type]


def test_undo_of_remove_restores_the_member_as_it_was() -> None:
    before = member(
        penalty=3,
        paused=True,
        paused_reason="lunch",
        ringinuse=False,
        state_interface="Custom:1001",
    )
    undo = undo_of(MemberOp("remove", "support", "PJSIP/1001"), before)
    assert undo == [
        MemberOp(
            "add",
            "support",
            "PJSIP/1001",
            name="Agent 1001",
            state_interface="Custom:1001",
            penalty=3,
            paused=True,
            reason="lunch",
        ),
        MemberOp("ringinuse", "support", "PJSIP/1001", ringinuse=False),
    ]


def test_undo_of_each_setting_puts_back_the_previous_value() -> None:
    before = member(penalty=2, paused=True, paused_reason="training", ringinuse=True)
    op = MemberOp("pause", "support", "PJSIP/1001", paused=False)
    assert undo_of(op, before) == [
        MemberOp("pause", "support", "PJSIP/1001", paused=True, reason="training")
    ]
    assert undo_of(replace(op, kind="penalty", penalty=9), before)[0].penalty == 2
    assert undo_of(replace(op, kind="ringinuse"), before)[0].ringinuse is True
    assert undo_of(MemberOp("add", "support", "PJSIP/1001"), None) == [
        MemberOp("remove", "support", "PJSIP/1001")
    ]


def test_desired_state_follows_the_supervisor_actions() -> None:
    pause = MemberOp("pause", "support", "PJSIP/1002", paused=True, reason="meeting")
    desired = desired_after(None, "rig", pause, "sup", AT)
    assert (desired.present, desired.paused, desired.paused_reason) == (None, True, "meeting")
    desired = desired_after(desired, "rig", replace(pause, kind="penalty", penalty=4), "sup", AT)
    assert (desired.paused, desired.penalty) == (True, 4)
    removed = desired_after(desired, "rig", replace(pause, kind="remove"), "boss", AT)
    assert removed == DesiredMember(
        "rig", "support", "PJSIP/1002", present=False, set_by="boss", set_at=AT
    )
    added = desired_after(
        removed, "rig", MemberOp("add", "support", "PJSIP/1002", name="B", penalty=1), "boss", AT
    )
    assert (added.present, added.name, added.penalty, added.paused) == (True, "B", 1, False)


def test_reapply_restores_pauses_members_and_settings_a_restart_lost() -> None:
    desired = [
        DesiredMember("rig", "support", "PJSIP/1002", paused=True, paused_reason="meeting"),
        DesiredMember(
            "rig",
            "sales",
            "PJSIP/1003",
            present=True,
            name="C",
            penalty=2,
            paused=False,
            ringinuse=True,
        ),
        DesiredMember("rig", "support", "PJSIP/1004", present=False),
        DesiredMember("rig", "support", "PJSIP/1005", present=False),
        DesiredMember("rig", "support", "PJSIP/1006", penalty=5),
        DesiredMember("rig", "gone", "PJSIP/1007", paused=True, paused_reason="x"),
    ]
    members = {
        ("support", "PJSIP/1002"): member(interface="PJSIP/1002", membership="static"),
        ("support", "PJSIP/1004"): member(interface="PJSIP/1004"),
        ("support", "PJSIP/1005"): member(interface="PJSIP/1005", membership="static"),
        ("support", "PJSIP/1006"): member(interface="PJSIP/1006", penalty=5),
    }
    assert plan_reapply(desired, members) == [
        MemberOp("pause", "support", "PJSIP/1002", paused=True, reason="meeting"),
        MemberOp("add", "sales", "PJSIP/1003", name="C", penalty=2),
        MemberOp("ringinuse", "sales", "PJSIP/1003", ringinuse=True),
        MemberOp("remove", "support", "PJSIP/1004"),
    ]


def test_reapply_fixes_a_changed_pause_reason_and_leaves_matching_members_alone() -> None:
    desired = [DesiredMember("rig", "support", "PJSIP/1001", paused=True, paused_reason="a")]
    wrong = {("support", "PJSIP/1001"): member(paused=True, paused_reason="b")}
    right = {("support", "PJSIP/1001"): member(paused=True, paused_reason="a")}
    assert [op.reason for op in plan_reapply(desired, wrong)] == ["a"]
    assert plan_reapply(desired, right) == []


def test_refusals_that_mean_another_replica_was_first() -> None:
    add = MemberOp("add", "support", "PJSIP/1001")
    assert is_already_done(add, "QueueAdd: Unable to add interface: Already there")
    assert is_already_done(
        replace(add, kind="remove"), "QueueRemove: Unable to remove interface: Not there"
    )
    assert not is_already_done(replace(add, kind="remove"), "Member not dynamic")


def test_intervals_count_with_the_kpi_definitions() -> None:
    end = AT + timedelta(minutes=15)
    samples = [
        CallSample(AT + timedelta(minutes=1), "answered", False),
        CallSample(AT + timedelta(minutes=2), "transferred", False),
        CallSample(AT + timedelta(minutes=3), "abandoned", False),
        CallSample(AT + timedelta(minutes=4), "abandoned", True),
        CallSample(AT + timedelta(minutes=6), "timeout", False),
        CallSample(AT + timedelta(minutes=7), "overflowed", False),
        CallSample(AT + timedelta(minutes=8), "withdrawn", False),
        CallSample(AT - timedelta(seconds=1), "answered", False),  # before the first bar
        CallSample(end, "answered", False),  # after the last bar
    ]
    bars = bucket_calls(samples, end, 15, 5)
    assert [b.start for b in bars] == [AT, AT + timedelta(minutes=5), AT + timedelta(minutes=10)]
    first, second, third = bars
    assert (first.offered, first.answered, first.abandoned, first.short_abandons) == (3, 2, 1, 1)
    assert first.abandon_rate == 1 / 3 and first.answer_rate == 2 / 3
    assert (second.offered, second.timeouts, second.withdrawn) == (2, 2, 1)
    assert (third.offered, third.abandon_rate) == (0, None)


# --- the desired state follows live changes made outside the console -----------------------

SUPERVISOR_PAUSE = DesiredMember(
    "rig", "support", "PJSIP/1002", paused=True, paused_reason="QA", set_by="lead", set_at=AT
)
LATER = AT + timedelta(minutes=5)


def test_an_unpause_elsewhere_replaces_the_supervisors_pause() -> None:
    after = desired_following(
        SUPERVISOR_PAUSE, "QueueMemberPause", member(interface="PJSIP/1002"), LATER
    )
    assert after == replace(
        SUPERVISOR_PAUSE, paused=False, paused_reason="", set_by="pbx", set_at=LATER
    )
    # ...and a re-apply then leaves the unpaused member alone.
    assert plan_reapply([after], {("support", "PJSIP/1002"): member(interface="PJSIP/1002")}) == []


def test_a_pause_elsewhere_with_another_reason_is_followed() -> None:
    after = desired_following(
        replace(SUPERVISOR_PAUSE, paused=False, paused_reason=""),
        "QueueMemberPause",
        member(interface="PJSIP/1002", paused=True, paused_reason="午餐 lunch"),
        LATER,
    )
    assert after is not None and (after.paused, after.paused_reason) == (True, "午餐 lunch")


def test_only_settings_supervisors_set_follow() -> None:
    penalty_only = DesiredMember(
        "rig", "support", "PJSIP/1002", penalty=2, set_by="lead", set_at=AT
    )
    paused = member(interface="PJSIP/1002", paused=True, paused_reason="x", penalty=2)
    assert desired_following(penalty_only, "QueueMemberPause", paused, LATER) is penalty_only
    assert (
        desired_following(SUPERVISOR_PAUSE, "QueueMemberPenalty", member(penalty=5), LATER)
        is SUPERVISOR_PAUSE
    )
    moved = desired_following(penalty_only, "QueueMemberPenalty", replace(paused, penalty=5), LATER)
    assert moved is not None and moved.penalty == 5 and moved.paused is None
    # Device-state changes are not settings anyone chose.
    assert (
        desired_following(
            SUPERVISOR_PAUSE, "QueueMemberStatus", member(interface="PJSIP/1002"), LATER
        )
        is SUPERVISOR_PAUSE
    )


def test_the_same_value_coming_back_changes_nothing() -> None:
    echo = member(interface="PJSIP/1002", paused=True, paused_reason="QA")
    assert desired_following(SUPERVISOR_PAUSE, "QueueMemberPause", echo, LATER) is SUPERVISOR_PAUSE


def test_a_wrapup_pause_is_neither_stored_nor_undone() -> None:
    unpaused = replace(SUPERVISOR_PAUSE, paused=False, paused_reason="")
    wrapping = member(interface="PJSIP/1002", paused=True, paused_reason="wrap-up")
    assert desired_following(unpaused, "QueueMemberPause", wrapping, LATER) is unpaused
    assert plan_reapply([unpaused], {("support", "PJSIP/1002"): wrapping}) == []


def test_removal_elsewhere_drops_the_row_and_a_rejoin_drops_a_removal() -> None:
    added = DesiredMember(
        "rig",
        "overflow",
        "PJSIP/1005",
        present=True,
        penalty=3,
        paused=False,
        paused_reason="",
        set_by="lead",
        set_at=AT,
    )
    assert desired_following(added, "QueueMemberRemoved", None, LATER) is None
    removed = DesiredMember(
        "rig", "overflow", "PJSIP/1005", present=False, set_by="lead", set_at=AT
    )
    assert desired_following(removed, "QueueMemberRemoved", None, LATER) is removed
    assert (
        desired_following(removed, "QueueMemberAdded", member("overflow", "PJSIP/1005"), LATER)
        is None
    )
    assert (
        desired_following(added, "QueueMemberAdded", member("overflow", "PJSIP/1005"), LATER)
        is added
    )
