"""Hand-written Asterisk 22 event sequences through the live model: states AND changes."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from callcenter.live import (
    CallConnected,
    CallEnded,
    CallerJoined,
    CallerLeft,
    CallRecord,
    CallRinging,
    CallRingNoAnswer,
    Change,
    Ignored,
    LiveConfig,
    LiveModel,
    MemberChanged,
    QueueChanged,
    UnknownQueue,
)
from callcenter.live.replay import load_trace, replay
from tests.live import amitrace as ami

Q = "support"
ALICE = ami.Agent("PJSIP/8001", "Alice")
BOB = ami.Agent("PJSIP/8002", "Bob")


def kinds(changes: list[Change]) -> list[str]:
    return [type(c).__name__ for c in changes]


def records(changes: list[Change]) -> list[CallRecord]:
    return [c.record for c in changes if isinstance(c, CallEnded)]


@pytest.fixture
def model() -> LiveModel:
    return LiveModel(
        LiveConfig(
            window_seconds=900,
            service_level_seconds=20,
            short_abandon_seconds=5,
            exit_grace_seconds=2,
        )
    )


@pytest.fixture
def pbx(model: LiveModel) -> ami.Pbx:
    p = ami.Pbx(model, "pbx-a")
    p.send_all(
        ami.member("QueueMemberAdded", p.at(0), Q, ALICE, wrapup=10),
        ami.member("QueueMemberAdded", p.at(0), Q, BOB),
    )
    return p


def test_answered_call(model: LiveModel, pbx: ami.Pbx) -> None:
    at = pbx.at
    caller = ami.Caller("1741000000.11", "13800138000", "张三")
    leg = ALICE.leg()
    changes = pbx.send_all(
        ami.var_set(at(1), caller, "CC_ACCOUNT", "A-1001"),
        ami.join(at(2), Q, caller, 1, 1),
        ami.called(at(3), Q, caller, ALICE, leg),
        ami.member("QueueMemberStatus", at(3), Q, ALICE, status=6, wrapup=10),
    )
    assert kinds(changes) == ["CallerJoined", "CallRinging", "MemberChanged"]
    joined, ringing = changes[0], changes[1]
    assert isinstance(joined, CallerJoined)
    assert joined.caller.position == 1 and joined.count == 1
    assert dict(joined.caller.ivr) == {"CC_ACCOUNT": "A-1001"}
    assert isinstance(ringing, CallRinging)
    assert ringing == CallRinging(
        at(3),
        "pbx-a",
        Q,
        caller.uniqueid,
        "PJSIP/8001",
        "Alice",
        leg[0],
        "13800138000",
        "张三",
        caller.channel,
        caller.uniqueid,
        ringing.ivr,
        1.0,
    )
    assert dict(ringing.ivr) == {"CC_ACCOUNT": "A-1001"}
    assert model.queue_view("pbx-a", Q, at(3)).agents_ringing == 1

    changes = pbx.send_all(
        ami.leave(at(10), Q, caller, 1, 0),
        ami.connect(at(10), Q, caller, ALICE, leg, hold=8, ring=7),
        ami.member("QueueMemberStatus", at(10), Q, ALICE, status=2, in_call=True, wrapup=10),
    )
    assert kinds(changes) == ["CallerLeft", "CallConnected", "MemberChanged"]
    left, connected = changes[0], changes[1]
    assert isinstance(left, CallerLeft) and (left.reason, left.position, left.count) == (
        "leave",
        1,
        0,
    )
    assert isinstance(connected, CallConnected)
    assert (connected.agent_interface, connected.waited_seconds, connected.ring_seconds) == (
        "PJSIP/8001",
        8.0,
        7,
    )
    view = model.queue_view("pbx-a", Q, at(11))
    assert view.callers_waiting == 0 and view.agents_busy == 1
    assert [c.phase for c in model.snapshot().calls] == ["connected"]

    changes = pbx.send_all(
        ami.complete(at(70), Q, caller, ALICE, leg, hold=8, talk=60, reason="caller"),
        ami.member(
            "QueueMemberStatus",
            at(70),
            Q,
            ALICE,
            status=1,
            calls=1,
            last_call=int(at(70).timestamp()),
            wrapup=10,
        ),
        ami.hangup(at(70.1), caller),
    )
    assert kinds(changes) == ["CallEnded", "MemberChanged"]
    (record,) = records(changes)
    assert record.outcome == "answered" and record.completed_by == "caller"
    assert (record.wait_seconds, record.talk_seconds, record.wrapup_seconds) == (8.0, 60.0, 10)
    assert record.agents_rung == ("PJSIP/8001",)
    assert (record.answered_by, record.answered_by_name) == ("PJSIP/8001", "Alice")
    assert (record.joined_at, record.answered_at, record.ended_at) == (at(2), at(10), at(70))
    assert (record.position_at_join, record.position_at_exit) == (1, 1)
    assert record.evidence == "agent_complete"
    assert dict(record.ivr) == {"CC_ACCOUNT": "A-1001"}
    assert model.snapshot().calls == ()

    stats = model.queue_view("pbx-a", Q, at(71)).stats
    assert (stats.offered, stats.answered, stats.answered_within_sl) == (1, 1, 1)
    assert stats.service_level_answered == 1.0 and stats.asa_seconds == 8.0
    assert stats.aht_seconds == 70.0  # 60 s talk + 10 s configured wrap-up
    assert stats.abandon_rate == 0.0


def test_abandon_is_decided_by_the_hangup(model: LiveModel, pbx: ami.Pbx) -> None:
    at = pbx.at
    caller = ami.Caller("1741000000.12", "13900139000")
    leg = BOB.leg()
    changes = pbx.send_all(
        ami.join(at(0), Q, caller, 1, 1),
        ami.called(at(1), Q, caller, BOB, leg),
        ami.ring_no_answer(at(16), Q, caller, BOB, leg, 15000),
        ami.abandon(at(30), Q, caller, 1, 1, 30),
        ami.leave(at(30), Q, caller, 1, 0),
    )
    assert kinds(changes) == ["CallerJoined", "CallRinging", "CallRingNoAnswer", "CallerLeft"]
    rna = changes[2]
    assert isinstance(rna, CallRingNoAnswer) and rna.ring_seconds == 15.0 and not rna.dumped
    assert [c.phase for c in model.snapshot().calls] == ["left"]  # not decided yet

    changes = pbx.send(ami.hangup(at(30.05), caller))
    (record,) = records(changes)
    assert (record.outcome, record.evidence, record.completed_by) == ("abandoned", "hangup", None)
    assert record.wait_seconds == 30.0 and record.ring_no_answer_count == 1
    assert record.ended_at == at(30) and record.position_at_exit == 1
    assert not record.short_abandon
    stats = model.queue_view("pbx-a", Q, at(31)).stats
    assert (stats.abandoned, stats.offered, stats.abandon_rate) == (1, 1, 1.0)
    assert stats.service_level_answered is None  # nothing answered: not 0 %
    assert stats.service_level_offered == 0.0


def test_abandon_without_queuestatus_is_decided_after_the_grace(
    model: LiveModel, pbx: ami.Pbx
) -> None:
    at = pbx.at
    caller = ami.Caller("1741000000.13", "100")
    pbx.send_all(
        ami.join(at(0), Q, caller, 1, 1),
        ami.abandon(at(3), Q, caller, 1, 1, 3),
        ami.leave(at(3), Q, caller, 1, 0),
    )
    assert model.tick(at(4)) == []
    (record,) = records(model.tick(at(5.5)))
    assert (record.outcome, record.evidence, record.short_abandon) == ("abandoned", "grace", True)
    stats = model.queue_view("pbx-a", Q, at(6)).stats
    # A short abandon is neither offered nor abandoned in the rates.
    assert (stats.abandoned, stats.short_abandons, stats.offered) == (1, 1, 0)
    assert stats.abandon_rate is None
    assert pbx.send(ami.hangup(at(9), caller)) == []  # already decided, nothing twice


def test_timeout_then_overflow_queue(model: LiveModel, pbx: ami.Pbx) -> None:
    at = pbx.at
    caller = ami.Caller("1741000000.14", "200")
    changes = pbx.send_all(
        ami.join(at(0), Q, caller, 1, 1),
        ami.abandon(at(60), Q, caller, 1, 1, 60),
        ami.leave(at(60), Q, caller, 1, 0),
        ami.var_set(at(60), caller, "QUEUESTATUS", "TIMEOUT"),
    )
    assert kinds(changes) == ["CallerJoined", "CallerLeft", "CallEnded"]
    (first,) = records(changes)
    assert (first.outcome, first.queue_status, first.evidence) == (
        "timeout",
        "TIMEOUT",
        "queuestatus",
    )
    changes = pbx.send_all(
        ami.join(at(61), "overflow", caller, 1, 1),
        ami.abandon(at(70), "overflow", caller, 1, 1, 9),
        ami.leave(at(70), "overflow", caller, 1, 0),
        ami.hangup(at(70), caller),
    )
    assert kinds(changes) == ["QueueChanged", "CallerJoined", "CallerLeft", "CallEnded"]
    (second,) = records(changes)
    assert (second.queue, second.outcome, second.joined_at) == ("overflow", "abandoned", at(61))
    stats = model.queue_view("pbx-a", Q, at(71)).stats
    assert (stats.timeouts, stats.offered, stats.answer_rate) == (1, 1, 0.0)


def test_withdraw(pbx: ami.Pbx) -> None:
    at = pbx.at
    caller = ami.Caller("1741000000.15", "300")
    changes = pbx.send_all(
        ami.join(at(0), Q, caller, 1, 1),
        ami.abandon(at(20), Q, caller, 1, 1, 20),
        # QUEUESTATUS racing ahead of the Leave is kept as evidence.
        ami.var_set(at(20), caller, "QUEUESTATUS", "WITHDRAW"),
        ami.leave(at(20), Q, caller, 1, 0),
    )
    (record,) = records(changes)
    assert record.outcome == "withdrawn"


def test_ring_no_answer_then_answered_by_another_agent(model: LiveModel, pbx: ami.Pbx) -> None:
    at = pbx.at
    caller = ami.Caller("1741000000.16", "400")
    leg_a, leg_b = ALICE.leg(), BOB.leg()
    changes = pbx.send_all(
        ami.join(at(0), Q, caller, 1, 1),
        ami.called(at(0.5), Q, caller, ALICE, leg_a),
        ami.ring_no_answer(at(15.5), Q, caller, ALICE, leg_a, 15012),
        ami.called(at(20), Q, caller, BOB, leg_b),
        ami.called(at(20), Q, caller, ALICE, ALICE.leg()),  # rung again: listed once
        ami.connect(at(24), Q, caller, BOB, leg_b, hold=24, ring=4),  # before its Leave
        ami.leave(at(24), Q, caller, 1, 0),
        ami.complete(at(84), Q, caller, BOB, leg_b, hold=24, talk=60, reason="agent"),
    )
    assert kinds(changes) == [
        "CallerJoined",
        "CallRinging",
        "CallRingNoAnswer",
        "CallRinging",
        "CallRinging",
        "CallerLeft",
        "CallConnected",
        "CallEnded",
    ]
    left = changes[5]
    assert isinstance(left, CallerLeft) and left.reason == "connect"
    (record,) = records(changes)
    assert record.agents_rung == ("PJSIP/8001", "PJSIP/8002")
    assert record.ring_no_answer_count == 1
    assert (record.answered_by, record.completed_by) == ("PJSIP/8002", "agent")
    stats = model.queue_view("pbx-a", Q, at(85)).stats
    assert (stats.answered, stats.answered_within_sl, stats.service_level_answered) == (1, 0, 0.0)


def test_member_paused_and_removed_mid_call(model: LiveModel, pbx: ami.Pbx) -> None:
    at = pbx.at
    caller = ami.Caller("1741000000.17", "500")
    leg = ALICE.leg()
    pbx.send_all(
        ami.join(at(0), Q, caller, 1, 1),
        ami.called(at(1), Q, caller, ALICE, leg),
        ami.leave(at(3), Q, caller, 1, 0),
        ami.connect(at(3), Q, caller, ALICE, leg, hold=3, ring=2),
    )
    changes = pbx.send(
        ami.member(
            "QueueMemberPause",
            at(5),
            Q,
            ALICE,
            status=2,
            paused=True,
            reason="supervisor",
            in_call=True,
            wrapup=10,
        )
    )
    (changed,) = changes
    assert isinstance(changed, MemberChanged) and changed.member is not None
    assert changed.member.paused and changed.member.paused_reason == "supervisor"
    assert changed.member.state == "busy"  # on a call, even though paused
    assert changed.previous is not None and not changed.previous.paused

    changes = pbx.send(
        ami.member("QueueMemberRemoved", at(6), Q, ALICE, status=2, paused=True, in_call=True)
    )
    (removed,) = changes
    assert isinstance(removed, MemberChanged) and removed.member is None
    assert [m.interface for m in model.queue_view("pbx-a", Q, at(6)).members] == ["PJSIP/8002"]

    (record,) = records(pbx.send(ami.complete(at(50), Q, caller, ALICE, leg, 3, 44, "caller")))
    assert (record.outcome, record.answered_by, record.answered_by_name) == (
        "answered",
        "PJSIP/8001",
        "Alice",
    )
    assert record.talk_seconds == 44.0


def test_two_pbxs_never_mix(model: LiveModel) -> None:
    a, b = ami.Pbx(model, "pbx-a"), ami.Pbx(model, "pbx-b")
    at = a.at
    same = ami.Caller("1741000000.18", "600")  # same uniqueid on both PBXs
    a.send_all(ami.member("QueueMemberAdded", at(0), Q, ALICE))
    b.send_all(ami.member("QueueMemberAdded", at(0), Q, ALICE, paused=True, reason="break"))
    a.send(ami.join(at(1), Q, same, 1, 1))
    b.send(ami.join(at(2), Q, same, 1, 1))
    changes = a.send_all(
        ami.abandon(at(5), Q, same, 1, 1, 4),
        ami.leave(at(5), Q, same, 1, 0),
        ami.hangup(at(5), same),
    )
    (record,) = records(changes)
    assert record.pbx == "pbx-a"
    assert model.queue_view("pbx-a", Q, at(6)).callers_waiting == 0
    view_b = model.queue_view("pbx-b", Q, at(6))
    assert view_b.callers_waiting == 1 and view_b.callers[0].joined_at == at(2)
    assert view_b.agents_paused == 1
    assert model.queue_view("pbx-a", Q, at(6)).agents_available == 1
    assert [(c.pbx, c.uniqueid) for c in model.snapshot().calls] == [("pbx-b", same.uniqueid)]
    agents = {(v.pbx, v.interface): v.state for v in model.agents_view(at(6))}
    assert agents == {("pbx-a", "PJSIP/8001"): "available", ("pbx-b", "PJSIP/8001"): "paused"}


def test_positions_follow_app_queue(model: LiveModel, pbx: ami.Pbx) -> None:
    at = pbx.at
    c1, c2, c3, vip = (ami.Caller(f"1741000000.2{i}", f"70{i}") for i in range(4))
    pbx.send_all(
        ami.join(at(0), Q, c1, 1, 1),
        ami.join(at(1), Q, c2, 2, 2),
        ami.join(at(2), Q, c3, 3, 3),
        ami.join(at(3), Q, vip, 1, 4),  # higher priority: inserted ahead, others shift
    )
    view = model.queue_view("pbx-a", Q, at(4))
    assert [(c.caller_num, c.position) for c in view.callers] == [
        ("703", 1),
        ("700", 2),
        ("701", 3),
        ("702", 4),
    ]
    assert view.longest_wait_seconds == 4.0
    changes = pbx.send_all(ami.abandon(at(5), Q, c2, 3, 2, 4), ami.leave(at(5), Q, c2, 3, 3))
    left = changes[0]
    assert isinstance(left, CallerLeft) and (left.position, left.count) == (3, 3)
    view = model.queue_view("pbx-a", Q, at(6))
    assert [(c.caller_num, c.position) for c in view.callers] == [
        ("703", 1),
        ("700", 2),
        ("702", 3),
    ]


def test_unknown_and_illegal_events_are_ignored(model: LiveModel, pbx: ami.Pbx) -> None:
    at = pbx.at
    ghost = ami.Caller("1741000000.31", "800")
    (ignored,) = pbx.send(ami.leave(at(1), Q, ghost, 1, 0))
    assert isinstance(ignored, Ignored) and ignored.reason == "unknown caller"
    assert ignored.key == ("pbx-a", ghost.uniqueid)
    assert pbx.send(ami.hangup(at(1), ghost)) == []  # hang-ups of other channels are silent
    (ignored,) = pbx.send(ami.member("QueueMemberRemoved", at(1), "nosuch", ALICE))
    assert isinstance(ignored, Ignored)

    caller = ami.Caller("1741000000.32", "801")
    leg = ALICE.leg()
    pbx.send_all(
        ami.join(at(2), Q, caller, 1, 1),
        ami.leave(at(3), Q, caller, 1, 0),
        ami.connect(at(3), Q, caller, ALICE, leg, 1, 1),
    )
    before = model.snapshot()
    (ignored,) = pbx.send(ami.abandon(at(4), Q, caller, 1, 1, 2))  # abandon after answer
    assert isinstance(ignored, Ignored) and "abandon while connected" in ignored.reason
    after = model.snapshot()
    assert (after.queues, after.calls) == (before.queues, before.calls)  # untouched
    assert after.ignored_events == model.ignored_count == 3


def test_member_status_for_unknown_queue_creates_it(model: LiveModel) -> None:
    pbx = ami.Pbx(model, "pbx-c")
    changes = pbx.send(ami.member("QueueMemberStatus", pbx.at(0), "sales", BOB, status=5))
    assert kinds(changes) == ["QueueChanged", "MemberChanged"]
    assert isinstance(changes[0], QueueChanged) and changes[0].kind == "added"
    assert model.queue_view("pbx-c", "sales", pbx.at(0)).agents_unavailable == 1
    assert pbx.send(ami.member("QueueMemberStatus", pbx.at(1), "sales", BOB, status=5)) == []
    with pytest.raises(UnknownQueue):
        model.queue_view("pbx-c", "nosuch", pbx.at(0))


def test_connect_for_a_caller_seen_before_a_restart_still_gets_a_record(
    model: LiveModel, pbx: ami.Pbx
) -> None:
    at = pbx.at
    caller = ami.Caller("1741000000.33", "900")
    leg = BOB.leg()
    changes = pbx.send_all(
        ami.called(at(0), Q, caller, BOB, leg),
        ami.connect(at(2), Q, caller, BOB, leg, hold=40, ring=2),
        ami.complete(at(30), Q, caller, BOB, leg, hold=40, talk=28, reason="transfer"),
    )
    assert kinds(changes) == ["CallRinging", "CallConnected", "CallEnded"]
    ringing = changes[0]
    assert isinstance(ringing, CallRinging) and ringing.waited_seconds is None
    (record,) = records(changes)
    assert record.joined_at == at(2) - timedelta(seconds=40)
    assert record.completed_by == "transfer"


def test_caller_hangs_up_while_waiting_without_abandon(model: LiveModel, pbx: ami.Pbx) -> None:
    at = pbx.at
    caller = ami.Caller("1741000000.34", "901")
    changes = pbx.send_all(ami.join(at(0), Q, caller, 1, 1), ami.hangup(at(12), caller))
    assert kinds(changes) == ["CallerJoined", "CallerLeft", "CallEnded"]
    (record,) = records(changes)
    assert (record.outcome, record.wait_seconds) == ("abandoned", 12.0)
    assert model.queue_view("pbx-a", Q, at(13)).callers_waiting == 0


def test_window_forgets_old_calls(model: LiveModel, pbx: ami.Pbx) -> None:
    at = pbx.at
    caller = ami.Caller("1741000000.35", "902")
    pbx.send_all(
        ami.join(at(0), Q, caller, 1, 1),
        ami.abandon(at(9), Q, caller, 1, 1, 9),
        ami.leave(at(9), Q, caller, 1, 0),
        ami.hangup(at(9), caller),
    )
    assert model.queue_view("pbx-a", Q, at(100)).stats.abandoned == 1
    late = model.queue_view("pbx-a", Q, at(9 + 901)).stats
    assert (late.abandoned, late.offered, late.abandon_rate) == (0, 0, None)


def test_replay_of_a_jsonl_trace_matches_direct_feeding(tmp_path: Path) -> None:
    caller = ami.Caller("1741000000.40", "13700137000", "王五")
    leg = ALICE.leg()
    messages = [
        ami.member("QueueMemberAdded", ami.T0, Q, ALICE),
        {"Event": "Newexten", "Channel": caller.channel},  # unused: skipped
        ami.var_set(ami.T0, caller, "CC_MENU", "2"),
        ami.join(ami.T0, Q, caller, 1, 1),
        ami.called(ami.T0, Q, caller, ALICE, leg),
        ami.leave(ami.T0, Q, caller, 1, 0),
        ami.connect(ami.T0, Q, caller, ALICE, leg, 0, 1),
        {"Event": "AgentComplete", "Queue": Q},  # malformed: skipped
        ami.complete(ami.T0, Q, caller, ALICE, leg, 0, 30, "caller"),
    ]
    path = tmp_path / "answered.jsonl"
    lines = ["# recorded by hand"] + [
        json.dumps({"received_at": ami.T0.isoformat(), "fields": m}, ensure_ascii=False)
        for m in messages
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    trace = list(load_trace(path))
    assert len(trace) == len(messages)
    replayed = replay(LiveModel(), "pbx-a", trace)
    direct = ami.Pbx(LiveModel(), "pbx-a")
    expected: list[Change] = []
    for m in messages:
        if m["Event"] != "Newexten" and m != {"Event": "AgentComplete", "Queue": Q}:
            expected.extend(direct.send(m))
    assert replayed == expected
    (record,) = records(replayed)
    assert record.caller_name == "王五" and dict(record.ivr) == {"CC_MENU": "2"}


def test_a_call_connected_while_nobody_listened_is_recorded_from_its_complete() -> None:
    # Joined and answered while the service was stopped, hung up after it started again.
    model = LiveModel()
    pbx = ami.Pbx(model)
    caller = ami.Caller("1741000000.71", "13800000771", "王五")
    alice = ami.Agent("PJSIP/8001", "Alice")
    changes = pbx.send(
        ami.complete(pbx.at(100), "support", caller, alice, alice.leg(), 4, 30, "caller")
    )
    (done,) = [c for c in changes if isinstance(c, CallEnded)]
    record = done.record
    assert (record.outcome, record.answered_by, record.answered_by_name) == (
        "answered",
        "PJSIP/8001",
        "Alice",
    )
    assert (record.caller_num, record.caller_name) == ("13800000771", "王五")
    assert record.joined_at == pbx.at(66) and record.answered_at == pbx.at(70)
    assert (record.wait_seconds, record.talk_seconds, record.evidence) == (
        4.0,
        30.0,
        "agent_complete",
    )
    # The same complete again, or a late one of a call already ended, is no second call.
    again = pbx.send(
        ami.complete(pbx.at(100), "support", caller, alice, alice.leg(), 4, 30, "caller")
    )
    assert [c for c in again if isinstance(c, CallEnded)] == []
    assert model.snapshot().calls == ()
