"""State mutations shared by the event handlers and the resync.

Each function changes the internal state in one consistent step and returns what happened, so
the invariants (positions 1..n, a call closed once, windows updated once) live in one place.
"""

from __future__ import annotations

import logging
from collections import deque
from datetime import UTC, datetime

from callcenter import kpi
from callcenter.live.changes import CallEnded, CallRecord, CompletedBy, MemberView, Outcome
from callcenter.live.events import MemberEvent
from callcenter.live.state import (
    Call,
    LiveState,
    Member,
    Queue,
)
from callcenter.live.views import frozen_mapping, member_view, service_level_seconds

__all__ = [
    "close_call",
    "close_hung_up",
    "epoch_ms",
    "insert_caller",
    "merge_member",
    "record_answer",
    "remove_caller",
    "schedule_exit",
]

log = logging.getLogger(__name__)

_COMPLETED_BY: dict[str, CompletedBy] = {
    "caller": "caller",
    "agent": "agent",
    "transfer": "transfer",
}


# How many ended calls the model remembers, so a late event of one is not taken for a new call.
ENDED_KEPT = 10_000


def epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def insert_caller(queue: Queue, call: Call, position: int) -> int:
    """Insert at `position` (clamped to 1..n+1, as app_queue shifts the others); returns it."""
    index = min(max(position, 1), len(queue.waiting) + 1) - 1
    queue.waiting.insert(index, call)
    return index + 1


def remove_caller(queue: Queue | None, call: Call) -> int | None:
    """Remove from the waiting list; returns the position it had, None if it was not there."""
    if queue is None:
        return None
    waiting = queue.waiting
    for index, waiting_call in enumerate(waiting):
        if waiting_call is call:
            del waiting[index]
            return index + 1
    return None


def schedule_exit(state: LiveState, call: Call, at: datetime) -> None:
    """Decide this LEFT (or HUNG_UP) call at `at + grace` unless evidence arrives first; the
    entry holds only while the call is still in the phase it has now."""
    deadline = at.timestamp() + state.config.exit_grace_seconds
    pending = state.pending.get(call.pbx)
    if pending is None:
        pending = state.pending[call.pbx] = deque()
    pending.append((deadline, call.seq, (call.pbx, call.uniqueid), call.phase))


def record_answer(
    state: LiveState, call: Call, interface: str, name: str, wait: float, at: datetime
) -> None:
    """Mark the call answered and count it in its queue's exit window (SL, ASA)."""
    call.answered_by = interface
    call.answered_name = name or interface
    call.answered_at = at
    call.wait_seconds = wait
    queue = state.queues.get((call.pbx, call.queue))
    if queue is None:
        return
    member = queue.members.get(interface)
    call.wrapup_seconds = member.wrapup_seconds if member is not None else 0
    within = 1 if wait <= service_level_seconds(queue, state.config) else 0
    queue.exits.add(epoch_ms(at), (1, within, 0, 0, 0, 0, int(wait * 1000)))


def close_call(
    state: LiveState,
    call: Call,
    outcome: Outcome,
    at: datetime,
    evidence: str,
    *,
    talk_seconds: float | None = None,
    completed_by: str | None = None,
) -> CallEnded:
    """End the call exactly once: drop it from the open calls, feed the windows, emit its record.

    The caller has already moved the call to ENDED with `state.transition()` (its trigger is
    the reason the call ends), so that an illegal end raised before anything changed. Not
    asserted here: `LiveModel.apply` must never raise; the property tests check it instead.
    """
    if call.pbx_shutdown and outcome in ("abandoned", "timeout"):
        # Asterisk reports the callers it drops on shutdown as abandons: they are not.
        outcome, evidence = "unknown", "pbx_shutdown"
    key = (call.pbx, call.uniqueid)
    if state.calls.get(key) is call:
        del state.calls[key]
    state.ended[key] = None
    if len(state.ended) > ENDED_KEPT:
        state.ended.popitem(last=False)
    queue = state.queues.get((call.pbx, call.queue))
    wait = _wait_seconds(call, at)
    short = outcome == "abandoned" and kpi.is_short_abandon(
        wait, state.config.short_abandon_seconds
    )
    ended_at = at if outcome == "answered" or call.left_at is None else call.left_at
    if queue is not None:
        _count_end(queue, call, outcome, short, talk_seconds, evidence, ended_at)
    record = CallRecord(
        pbx=call.pbx,
        uniqueid=call.uniqueid,
        linkedid=call.linkedid,
        channel=call.channel,
        queue=call.queue,
        caller_num=call.caller_num,
        caller_name=call.caller_name,
        joined_at=call.joined_at,
        position_at_join=call.position_at_join,
        agents_rung=tuple(call.agents_rung),
        ring_no_answer_count=call.ring_no_answer_count,
        answered_by=call.answered_by,
        answered_by_name=call.answered_name,
        answered_at=call.answered_at,
        left_at=call.left_at,
        ended_at=ended_at,
        wait_seconds=wait,
        talk_seconds=talk_seconds,
        wrapup_seconds=call.wrapup_seconds,
        outcome=outcome,
        completed_by=_COMPLETED_BY.get(completed_by or ""),
        position_at_exit=call.position_at_exit,
        queue_status=call.queue_status,
        short_abandon=short,
        evidence=evidence,
        ivr=frozen_mapping(call.ivr),
    )
    log.debug("call %s/%s ended: %s (%s)", call.pbx, call.uniqueid, outcome, evidence)
    return CallEnded(record)


def close_hung_up(state: LiveState, call: Call) -> CallEnded:
    """End a HUNG_UP call (already moved to ENDED) whose AgentComplete did not come: answered,
    ended when its channel hung up, talk from the answer to the hang-up (our clocks)."""
    # Set with the HUNG_UP phase; the fallbacks only keep `apply` from ever raising.
    hung_up_at = call.hung_up_at or call.answered_at or call.joined_at
    talk = None
    if call.answered_at is not None:
        talk = max(0.0, (hung_up_at - call.answered_at).total_seconds())
    return close_call(state, call, "answered", hung_up_at, "hangup", talk_seconds=talk)


def _wait_seconds(call: Call, at: datetime) -> float:
    """Asterisk's own integer hold time when we have it (agrees with queue_log), else clocks."""
    if call.wait_seconds is not None:
        return call.wait_seconds
    if call.abandon_hold is not None:
        return float(call.abandon_hold)
    exit_at = call.left_at or at
    return max(0.0, (exit_at - call.joined_at).total_seconds())


_EXIT_SAMPLES: dict[str, tuple[int, int, int, int, int, int, int]] = {
    "abandoned": (0, 0, 1, 0, 0, 0, 0),
    "short_abandoned": (0, 0, 1, 1, 0, 0, 0),
    "timeout": (0, 0, 0, 0, 1, 0, 0),
    "withdrawn": (0, 0, 0, 0, 0, 1, 0),
}


def _count_end(
    queue: Queue,
    call: Call,
    outcome: Outcome,
    short: bool,
    talk_seconds: float | None,
    evidence: str,
    ended_at: datetime,
) -> None:
    if outcome == "answered":
        # The answer itself was counted at connect time; here only the handling time.
        if talk_seconds is not None and evidence != "reconcile":
            sample = (1, int(talk_seconds * 1000), call.wrapup_seconds * 1000)
            queue.completions.add(epoch_ms(ended_at), sample)
        return
    name = "short_abandoned" if short else outcome
    exit_sample = _EXIT_SAMPLES.get(name)
    if exit_sample is not None:
        queue.exits.add(epoch_ms(ended_at), exit_sample)


def merge_member(queue: Queue, event: MemberEvent) -> tuple[MemberView | None, MemberView]:
    """Create or update a member from an event's snapshot; fields the event lacks are kept."""
    member = queue.members.get(event.interface)
    before = None if member is None else member_view(queue, member)
    if member is None:
        member = queue.members[event.interface] = Member(event.interface)
    _merge_config(member, event)
    _merge_activity(member, event)
    _merge_pause(member, event)
    return before, member_view(queue, member)


def _merge_config(member: Member, event: MemberEvent) -> None:
    """What the queue configuration says about the member (changes rarely)."""
    if event.member_name is not None:
        member.name = event.member_name
    if event.state_interface is not None:
        member.state_interface = event.state_interface
    if event.membership is not None:
        member.membership = event.membership
    if event.penalty is not None:
        member.penalty = event.penalty
    if event.ringinuse is not None:
        member.ringinuse = event.ringinuse
    if event.wrapup_time is not None:
        member.wrapup_seconds = event.wrapup_time


def _merge_activity(member: Member, event: MemberEvent) -> None:
    """The device state and the calls taken (change with every call)."""
    if event.calls_taken is not None:
        member.calls_taken = event.calls_taken
    if event.last_call is not None:
        member.last_call = _epoch_to_datetime(event.last_call)
    if event.in_call is not None:
        member.in_call = event.in_call
    if event.status is not None:
        member.status = event.status


def _merge_pause(member: Member, event: MemberEvent) -> None:
    # Paused before reason: a reason only means something while paused, and an unpause
    # forgets the old one even when the event repeats it.
    if event.paused is not None:
        member.paused = event.paused
        if not event.paused:
            member.paused_reason = ""
    if event.paused_reason is not None and member.paused:
        member.paused_reason = event.paused_reason


def _epoch_to_datetime(seconds: int) -> datetime | None:
    if seconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None
