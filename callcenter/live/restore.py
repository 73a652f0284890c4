"""Open calls a previous process persisted, put back into a fresh model after a restart.

Called once at start-up, before the PBX links connect. The first resync then treats them like
calls the model had open across an AMI outage: those the PBX no longer knows are closed (an
answered one as answered, a waiting one as unknown), a caller still queued keeps its real join
time, and a call still connected is closed by its own AgentComplete/Hangup. Without this, a
call that ended while no process was listening would get no record at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from callcenter.live import ops
from callcenter.live.state import Call, LiveState, Trigger, transition

__all__ = ["RestoredCall", "restore"]


@dataclass(frozen=True, slots=True)
class RestoredCall:
    pbx: str
    uniqueid: str
    queue: str
    joined_at: datetime
    linkedid: str = ""
    channel: str = ""
    caller_num: str = ""
    caller_name: str = ""
    position_at_join: int = 0
    agents_rung: tuple[str, ...] = ()
    answered_by: str | None = None
    answered_by_name: str | None = None
    answered_at: datetime | None = None
    wait_seconds: float | None = None
    ivr: Mapping[str, str] = field(default_factory=dict)


def restore(state: LiveState, calls: Iterable[RestoredCall]) -> list[RestoredCall]:
    """Put `calls` back as open calls; returns those not taken (an older join of a channel
    restored with a later one, or a channel the model already has open with another join)."""
    latest: dict[tuple[str, str], RestoredCall] = {}
    left_out: list[RestoredCall] = []
    for restored in sorted(calls, key=lambda c: c.joined_at):
        key = (restored.pbx, restored.uniqueid)
        if key in latest:
            left_out.append(latest[key])
        latest[key] = restored
    for key, restored in latest.items():
        known = state.calls.get(key)
        if known is not None:
            if known.joined_at != restored.joined_at:
                left_out.append(restored)
            continue
        state.calls[key] = _call(state, restored)
    return left_out


def _call(state: LiveState, restored: RestoredCall) -> Call:
    state.next_seq += 1
    call = Call(
        state.next_seq,
        restored.pbx,
        restored.uniqueid,
        restored.queue,
        restored.joined_at,
        restored.position_at_join,
    )
    call.linkedid = restored.linkedid
    call.channel = restored.channel
    call.caller_num = restored.caller_num
    call.caller_name = restored.caller_name
    call.ivr = dict(restored.ivr)
    call.agents_rung = list(restored.agents_rung)
    if restored.answered_at is not None:
        # Its answer was counted in the windows by the process that saw it; the call takes
        # the table's path from WAITING, as it did in that process.
        transition(call, Trigger.CONNECT)
        call.answered_at = restored.answered_at
        call.answered_by = restored.answered_by
        call.answered_name = restored.answered_by_name or restored.answered_by
        call.wait_seconds = restored.wait_seconds
    else:
        queue, _ = state.queue(restored.pbx, restored.queue)
        ops.insert_caller(queue, call, len(queue.waiting) + 1)
    return call
