"""What the live model makes of a caller who leaves a queue with an exit key (the sequence
Asterisk 22 sends, as seen on the rig: Leave, no Abandon, no QUEUESTATUS, then the exit's
CC_EXIT_FROM and CC_EXIT on the caller's channel)."""

from __future__ import annotations

from callcenter.live import CallEnded, CallRecord, Change, LiveConfig, LiveModel
from callcenter.records.rows import record_row
from tests.live import amitrace as ami

Q = "support"


def records(changes: list[Change]) -> list[CallRecord]:
    return [c.record for c in changes if isinstance(c, CallEnded)]


def pbx() -> ami.Pbx:
    return ami.Pbx(LiveModel(LiveConfig(exit_grace_seconds=2)), "rig")


def test_the_voicemail_exit_ends_the_call_as_withdrawn_with_the_exit() -> None:
    p = pbx()
    at = p.at
    caller = ami.Caller("1796220785.5", "7002")
    changes = p.send_all(
        ami.join(at(0), Q, caller, 1, 1),
        ami.leave(at(4), Q, caller, 1, 0),
        ami.var_set(at(4), caller, "CC_EXIT_FROM", Q),
    )
    assert records(changes) == []  # the Leave alone decides nothing yet
    (record,) = records(p.send(ami.var_set(at(4), caller, "CC_EXIT", "voicemail")))
    assert (record.outcome, record.evidence, record.queue_status) == ("withdrawn", "exit_key", None)
    assert dict(record.ivr) == {"CC_EXIT_FROM": Q, "CC_EXIT": "voicemail"}
    assert record.left_at == at(4) and record.wait_seconds == 4
    row = record_row(record)
    assert (row["outcome"], row["evidence"]) == ("withdrawn", "exit_key")
    assert row["ivr_data"] == {"CC_EXIT_FROM": Q, "CC_EXIT": "voicemail"}
    # The caller records the message and hangs up: nothing twice.
    assert records(p.send(ami.hangup(at(20), caller))) == []
    assert p.model.queue_view("rig", Q, at(21)).stats.withdrawn == 1


def test_the_operator_exit_ends_this_join_and_the_next_queue_keeps_the_exit_as_data() -> None:
    p = pbx()
    at = p.at
    caller = ami.Caller("1796220785.7", "7003")
    changes = p.send_all(
        ami.join(at(0), Q, caller, 1, 1),
        ami.leave(at(3), Q, caller, 1, 0),
        ami.var_set(at(3), caller, "CC_EXIT_FROM", Q),
        ami.var_set(at(3), caller, "CC_EXIT", "operator"),
        ami.join(at(3), "operator", caller, 1, 1),
    )
    (first,) = records(changes)
    assert (first.queue, first.outcome, first.ivr["CC_EXIT"]) == (Q, "withdrawn", "operator")
    # In the operator queue the caller hangs up while waiting: abandoned, not an exit.
    changes = p.send_all(
        ami.abandon(at(9), "operator", caller, 1, 1, 6),
        ami.leave(at(9), "operator", caller, 1, 0),
        ami.hangup(at(9), caller),
    )
    (second,) = records(changes)
    assert (second.queue, second.outcome, second.evidence) == ("operator", "abandoned", "hangup")
    assert second.ivr["CC_EXIT"] == "operator"


def test_an_emptied_exit_or_one_set_while_waiting_decides_nothing() -> None:
    p = pbx()
    at = p.at
    caller = ami.Caller("1796220785.9", "7004")
    changes = p.send_all(
        ami.join(at(0), Q, caller, 1, 1),
        ami.var_set(at(1), caller, "CC_EXIT", "voicemail"),  # still waiting: data only
        ami.leave(at(2), Q, caller, 1, 0),
        ami.var_set(at(2), caller, "CC_EXIT", ""),  # back into the queue: emptied
    )
    assert records(changes) == []
    (record,) = records(p.model.tick(at(5)))
    assert (record.outcome, record.evidence) == ("unknown", "grace")
