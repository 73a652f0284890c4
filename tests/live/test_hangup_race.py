"""The caller's Hangup overtaking the AgentComplete of its answered call (app_queue publishes the
complete from its own stasis subscription): the call waits the exit grace for it (HUNG_UP)."""

from __future__ import annotations

import pytest

from callcenter.live import (
    CallEnded,
    CallRecord,
    Change,
    Correction,
    Ignored,
    LiveConfig,
    LiveModel,
)
from callcenter.live.connected import AgentCalls
from callcenter.live.restore import RestoredCall
from tests.live import amitrace as ami

Q = "support"
ALICE = ami.Agent("PJSIP/8001", "Alice")
CALLER = ami.Caller("1741000000.81", "13800138081", "李四")
LEG = ALICE.leg()


def records(changes: list[Change]) -> list[CallRecord]:
    return [c.record for c in changes if isinstance(c, CallEnded)]


@pytest.fixture
def model() -> LiveModel:
    return LiveModel(LiveConfig(exit_grace_seconds=2))


@pytest.fixture
def pbx(model: LiveModel) -> ami.Pbx:
    """Alice (wrap-up 10 s) answered CALLER at 10 s after 8 s in the queue."""
    p = ami.Pbx(model, "pbx-a")
    at = p.at
    p.send_all(
        ami.member("QueueMemberAdded", at(0), Q, ALICE, wrapup=10),
        ami.join(at(2), Q, CALLER, 1, 1),
        ami.called(at(3), Q, CALLER, ALICE, LEG),
        ami.leave(at(10), Q, CALLER, 1, 0),
        ami.connect(at(10), Q, CALLER, ALICE, LEG, hold=8, ring=7),
    )
    return p


def phases(model: LiveModel) -> list[str]:
    return [c.phase for c in model.snapshot().calls]


def test_a_hangup_before_the_complete_waits_for_it_and_the_complete_ends_the_call(
    model: LiveModel, pbx: ami.Pbx
) -> None:
    at = pbx.at
    assert pbx.send(ami.hangup(at(70), CALLER)) == []  # not decided yet
    # Nobody is talking on it any more: it is no one's connected call in the snapshot.
    assert phases(model) == ["hung_up"]
    assert model.queue_view("pbx-a", Q, at(70)).callers_waiting == 0

    changes = pbx.send(
        ami.complete(at(70.01), Q, CALLER, ALICE, LEG, hold=8, talk=59, reason="caller")
    )
    (record,) = records(changes)
    assert (record.outcome, record.evidence, record.completed_by) == (
        "answered",
        "agent_complete",
        "caller",
    )
    # Asterisk's own talk time (what the queue_log says too), not our clocks' 60 s.
    assert (record.talk_seconds, record.wait_seconds, record.wrapup_seconds) == (59.0, 8.0, 10)
    assert record.ended_at == at(70.01) and record.answered_at == at(10)
    assert model.snapshot().calls == ()
    stats = model.queue_view("pbx-a", Q, at(71)).stats
    assert (stats.answered, stats.handled, stats.aht_seconds) == (1, 1, 69.0)
    # The deadline passes later: nothing twice.
    assert model.tick(at(80)) == []


def test_a_hangup_without_a_complete_is_ended_at_the_grace_with_the_hangup_time(
    model: LiveModel, pbx: ami.Pbx
) -> None:
    at = pbx.at
    assert pbx.send(ami.hangup(at(70), CALLER)) == []
    assert model.tick(at(71.9)) == []
    assert phases(model) == ["hung_up"]

    (record,) = records(model.tick(at(72.4)))
    assert (record.outcome, record.evidence, record.completed_by) == ("answered", "hangup", None)
    # Ended when the channel hung up, not when the grace ran out.
    assert (record.talk_seconds, record.ended_at) == (60.0, at(70))
    assert (record.answered_by, record.answered_by_name, record.wait_seconds) == (
        "PJSIP/8001",
        "Alice",
        8.0,
    )
    assert model.snapshot().calls == ()
    stats = model.queue_view("pbx-a", Q, at(73)).stats
    assert (stats.handled, stats.aht_seconds) == (1, 70.0)

    # A complete later than the grace does not make a second record.
    (late,) = pbx.send(ami.complete(at(75), Q, CALLER, ALICE, LEG, hold=8, talk=60, reason="agent"))
    assert isinstance(late, Ignored) and late.reason == "call already ended"


def test_a_later_event_of_the_same_pbx_decides_the_grace_and_one_of_another_pbx_does_not(
    model: LiveModel, pbx: ami.Pbx
) -> None:
    at = pbx.at
    pbx.send(ami.hangup(at(70), CALLER))
    other = ami.Pbx(model, "pbx-b")
    assert records(other.send(ami.member("QueueMemberAdded", at(73), Q, ALICE))) == []
    changes = pbx.send(ami.member("QueueMemberStatus", at(73), Q, ALICE, status=1, wrapup=10))
    (record,) = records(changes)
    assert (record.evidence, record.ended_at) == ("hangup", at(70))
    assert isinstance(changes[0], CallEnded)  # decided before the event itself is applied


def test_evidence_after_the_hangup_is_kept_and_a_second_hangup_is_ignored(
    model: LiveModel, pbx: ami.Pbx
) -> None:
    at = pbx.at
    pbx.send(ami.hangup(at(70), CALLER))
    assert pbx.send(ami.var_set(at(70.01), CALLER, "QUEUESTATUS", "CONTINUE")) == []
    (ignored,) = pbx.send(ami.hangup(at(71), CALLER))
    assert isinstance(ignored, Ignored) and ignored.reason == "hangup while hung_up"
    (record,) = records(model.tick(at(72)))  # the first hang-up's deadline
    assert (record.ended_at, record.queue_status, record.talk_seconds) == (
        at(70),
        "CONTINUE",
        60.0,
    )


def test_the_same_channel_joining_again_ends_the_hung_up_call_at_its_hangup(
    model: LiveModel, pbx: ami.Pbx
) -> None:
    at = pbx.at
    pbx.send(ami.hangup(at(70), CALLER))
    changes = pbx.send(ami.join(at(71), "overflow", CALLER, 1, 1))
    (record,) = records(changes)
    assert (record.queue, record.outcome, record.evidence, record.ended_at) == (
        Q,
        "answered",
        "hangup",
        at(70),
    )
    assert record.talk_seconds == 60.0
    assert [(c.queue, c.phase) for c in model.snapshot().calls] == [("overflow", "waiting")]
    assert model.tick(at(80)) == []  # the old deadline is stale: the new call waits on


def test_a_resync_without_the_channel_ends_it_at_the_hangup_without_a_correction(
    model: LiveModel, pbx: ami.Pbx
) -> None:
    at = pbx.at
    pbx.send(ami.hangup(at(70), CALLER))
    snapshot = (ami.queue_params(Q), ami.queue_member(Q, ALICE))
    changes = pbx.resync(*snapshot, now=71)
    (record,) = records(changes)
    assert (record.outcome, record.evidence, record.ended_at, record.talk_seconds) == (
        "answered",
        "hangup",
        at(70),
        60.0,
    )
    # The model knew the call had ended: closing it is no fix of the model.
    fixed = [c.key for c in changes if isinstance(c, Correction)]
    assert fixed and ("pbx-a", CALLER.uniqueid) not in fixed
    assert pbx.resync(*snapshot, now=72) == []
    assert model.tick(at(80)) == []


def test_a_hangup_the_resync_journal_saw_is_left_to_its_complete(
    model: LiveModel, pbx: ami.Pbx
) -> None:
    at = pbx.at
    pbx.send(ami.member("QueueMemberStatus", at(60), Q, ALICE, status=2, in_call=True))
    journal = model.begin_resync("pbx-a")  # the snapshot is taken while the caller hangs up
    pbx.send(ami.hangup(at(70), CALLER))
    snapshot = (ami.queue_params(Q), ami.queue_member(Q, ALICE, status=2))
    assert records(pbx.resync(*snapshot, now=70.2, journal=journal)) == []
    assert phases(model) == ["hung_up"]
    changes = pbx.send(
        ami.complete(at(70.3), Q, CALLER, ALICE, LEG, hold=8, talk=60, reason="agent")
    )
    (record,) = records(changes)
    assert (record.evidence, record.completed_by) == ("agent_complete", "agent")


def test_a_restored_connected_call_whose_caller_hangs_up_is_ended_at_the_grace() -> None:
    model = LiveModel(LiveConfig(exit_grace_seconds=2))
    pbx = ami.Pbx(model)
    restored = RestoredCall(
        pbx="pbx-a",
        uniqueid=CALLER.uniqueid,
        queue=Q,
        joined_at=pbx.at(2),
        answered_by="PJSIP/8001",
        answered_by_name="Alice",
        answered_at=pbx.at(10),
        wait_seconds=8.0,
    )
    assert model.restore([restored]) == []
    assert pbx.send(ami.hangup(pbx.at(40), CALLER)) == []
    (record,) = records(model.tick(pbx.at(42)))
    assert (record.outcome, record.evidence, record.talk_seconds, record.ended_at) == (
        "answered",
        "hangup",
        30.0,
        pbx.at(40),
    )


def test_the_agents_connected_call_is_forgotten_when_the_hung_up_call_ends(
    model: LiveModel, pbx: ami.Pbx
) -> None:
    # AgentCalls follows the changes: the Hangup alone emits none, the end within the grace
    # does (for at most the grace the transfers/screening rooms may still see the call).
    calls = AgentCalls()
    at = pbx.at
    caller = ami.Caller("1741000000.82", "13800138082")
    leg = ALICE.leg()
    for change in pbx.send_all(
        ami.join(at(100), Q, caller, 1, 1),
        ami.called(at(101), Q, caller, ALICE, leg),
        ami.leave(at(105), Q, caller, 1, 0),
        ami.connect(at(105), Q, caller, ALICE, leg, hold=5, ring=4),
        ami.hangup(at(130), caller),
    ):
        calls.on_change(change)
    found = calls.connected("pbx-a", "PJSIP/8001")
    assert found is not None and found.uniqueid == caller.uniqueid
    for change in model.tick(at(132)):
        calls.on_change(change)
    assert calls.connected("pbx-a", "PJSIP/8001") is None


def test_a_short_calls_leave_deadline_does_not_cut_the_hangup_grace_short(
    model: LiveModel,
) -> None:
    # Leave at 20 (its deadline 22), answered, hung up at 21.9: the complete at 22.05 is
    # within the hang-up's grace (23.9) and still decides the call.
    pbx = ami.Pbx(model)
    at = pbx.at
    caller = ami.Caller("1741000000.83", "13800138083")
    leg = ALICE.leg()
    pbx.send_all(
        ami.join(at(15), Q, caller, 1, 1),
        ami.called(at(16), Q, caller, ALICE, leg),
        ami.leave(at(20), Q, caller, 1, 0),
        ami.connect(at(20), Q, caller, ALICE, leg, hold=5, ring=4),
        ami.hangup(at(21.9), caller),
    )
    changes = pbx.send(
        ami.complete(at(22.05), Q, caller, ALICE, leg, hold=5, talk=2, reason="agent")
    )
    (record,) = records(changes)
    assert (record.evidence, record.completed_by, record.talk_seconds) == (
        "agent_complete",
        "agent",
        2.0,
    )
