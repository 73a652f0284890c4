"""Enforced wrap-up decisions with a controlled clock."""

from __future__ import annotations

from datetime import timedelta

from callcenter.records.wrapup import WrapupHold, WrapupTimers
from tests.records.helpers import call_record


def test_an_answered_call_in_an_enforced_queue_holds_its_agent_until_time_or_submit() -> None:
    timers = WrapupTimers({"support": 30})
    first = call_record(1)
    hold = timers.call_ended(first)
    assert hold == WrapupHold(
        "rig", "PJSIP/1001", first.uniqueid, first.ended_at + timedelta(seconds=30)
    )
    assert timers.due(first.ended_at + timedelta(seconds=29)) == []
    assert timers.due(first.ended_at + timedelta(seconds=30)) == [hold]
    assert timers.due(first.ended_at + timedelta(seconds=31)) == []  # only once

    second = call_record(2)
    timers.call_ended(second)
    assert timers.submitted("rig", "PJSIP/1001") is not None
    assert timers.submitted("rig", "PJSIP/1001") is None  # a second submit unpauses nothing
    assert timers.due(second.ended_at + timedelta(hours=1)) == []


def test_no_hold_without_an_answer_or_outside_enforced_queues() -> None:
    timers = WrapupTimers({"support": 30})
    assert timers.call_ended(call_record(1, queue="complaints")) is None
    assert (
        timers.call_ended(call_record(2, outcome="abandoned", answered_by=None, answered_at=None))
        is None
    )
    assert len(timers) == 0


def test_a_later_call_extends_the_hold_and_restart_restores_running_holds() -> None:
    timers = WrapupTimers({"support": 30})
    early, late = call_record(1), call_record(50)
    timers.call_ended(early)
    timers.call_ended(late)
    assert len(timers) == 1
    assert timers.due(early.ended_at + timedelta(seconds=31)) == []

    restarted = WrapupTimers({"support": 30})
    now = late.ended_at + timedelta(seconds=10)
    holds = [h for h in (restarted.hold_for(early), restarted.hold_for(late)) if h]
    running = restarted.restore(holds, now)
    assert [h.uniqueid for h in running] == [late.uniqueid]
    assert restarted.held("rig") == running and restarted.held("other") == []
