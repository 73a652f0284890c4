"""Open calls of a killed process put back into a fresh model: the first resync closes them."""

from __future__ import annotations

from callcenter.live import CallEnded, Change, LiveModel
from callcenter.live.restore import RestoredCall
from tests.live import amitrace as ami

Q = "support"
ALICE = ami.Agent("PJSIP/8001", "Alice")
BOB = ami.Agent("PJSIP/8002", "Bob")


def ended(changes: list[Change]) -> dict[str, CallEnded]:
    return {c.record.uniqueid: c for c in changes if isinstance(c, CallEnded)}


def restored(
    caller: ami.Caller, joined: float, answered: float | None = None, agent: ami.Agent | None = None
) -> RestoredCall:
    pbx = ami.Pbx
    return RestoredCall(
        pbx="pbx-a",
        uniqueid=caller.uniqueid,
        queue=Q,
        joined_at=pbx.at(joined),
        linkedid=caller.linkedid,
        channel=caller.channel,
        caller_num=caller.num,
        position_at_join=1,
        agents_rung=() if agent is None else (agent.interface,),
        answered_by=None if agent is None else agent.interface,
        answered_by_name=None if agent is None else agent.name,
        answered_at=None if answered is None else pbx.at(answered),
        wait_seconds=None if answered is None else answered - joined,
        ivr={"CC_MENU": "2"},
    )


def test_the_first_resync_closes_restored_calls_that_ended_while_no_process_ran() -> None:
    model = LiveModel()
    pbx = ami.Pbx(model)
    waited_out = ami.Caller("1741000000.1", "111")  # was waiting, gone now
    talked = ami.Caller("1741000000.2", "222")  # was answered, gone now
    talking = ami.Caller("1741000000.3", "333")  # answered, still connected
    queued = ami.Caller("1741000000.4", "444")  # still waiting
    assert (
        model.restore(
            [
                restored(waited_out, 1),
                restored(talked, 2, 6, ALICE),
                restored(talking, 3, 5, BOB),
                restored(queued, 4),
            ]
        )
        == []
    )
    snapshot = (
        ami.queue_params(Q),
        ami.queue_member(Q, ALICE),
        ami.queue_member(Q, BOB, status=2),
        ami.queue_entry(Q, queued, 1, 56),
        ami.core_show_channel(queued),
        ami.core_show_channel(talking, application="AppQueue"),
    )
    closed = ended(pbx.resync(*snapshot, now=60))
    assert set(closed) == {waited_out.uniqueid, talked.uniqueid}
    first, second = closed[waited_out.uniqueid].record, closed[talked.uniqueid].record
    assert (first.outcome, first.evidence, first.joined_at) == ("unknown", "reconcile", pbx.at(1))
    assert (
        second.outcome,
        second.answered_by,
        second.answered_by_name,
        second.wait_seconds,
        second.ivr,
    ) == ("answered", "PJSIP/8001", "Alice", 4.0, {"CC_MENU": "2"})
    # The caller still queued keeps the join time the killed process saw.
    view = model.queue_view("pbx-a", Q, pbx.at(60))
    assert [(c.uniqueid, c.joined_at) for c in view.callers] == [(queued.uniqueid, pbx.at(4))]
    assert pbx.resync(*snapshot, now=61) == []

    # The connected call ends with its own AgentComplete: the real outcome, once.
    done = ended(pbx.send(ami.complete(pbx.at(90), Q, talking, BOB, BOB.leg(), 2, 85, "caller")))
    record = done[talking.uniqueid].record
    assert (record.outcome, record.evidence, record.talk_seconds, record.joined_at) == (
        "answered",
        "agent_complete",
        85.0,
        pbx.at(3),
    )
    assert pbx.send(ami.hangup(pbx.at(91), talking)) == []


def test_an_older_join_of_a_restored_channel_and_a_call_already_open_are_left_out() -> None:
    model = LiveModel()
    pbx = ami.Pbx(model)
    caller, other = ami.Caller("1741000000.5", "555"), ami.Caller("1741000000.6", "666")
    pbx.send(ami.join(pbx.at(10), Q, other, 1, 1))
    older, later = restored(caller, 1), restored(caller, 8)
    stale_other = restored(other, 2)
    assert model.restore([later, stale_other, older]) == [older, stale_other]
    assert sorted(c.uniqueid for c in model.snapshot().calls) == [caller.uniqueid, other.uniqueid]
    assert model.restore([later]) == []  # the same join again: already open, not twice
    assert len(model.snapshot().calls) == 2
