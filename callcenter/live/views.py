"""Frozen views built from the internal state (the only way state leaves the model)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from types import MappingProxyType

from callcenter import kpi
from callcenter.live.changes import (
    AgentView,
    CallerView,
    CallView,
    MemberView,
    QueueSnapshot,
    QueueView,
    WindowStats,
)
from callcenter.live.state import (
    DONE_HANDLED,
    DONE_TALK_MS,
    DONE_WRAP_MS,
    EXIT_ABANDONED,
    EXIT_ANSWERED,
    EXIT_SHORT,
    EXIT_TIMEOUT,
    EXIT_WAIT_MS,
    EXIT_WITHDRAWN,
    EXIT_WITHIN_SL,
    Call,
    LiveConfig,
    Member,
    Phase,
    Queue,
    member_state,
)

__all__ = [
    "agent_views",
    "call_view",
    "caller_view",
    "frozen_mapping",
    "member_view",
    "queue_snapshot",
    "queue_view",
    "service_level_seconds",
]

_EMPTY: MappingProxyType[str, str] = MappingProxyType({})


def frozen_mapping(data: dict[str, str]) -> MappingProxyType[str, str]:
    """A read-only *copy*: later changes to the internal dict never show through."""
    return MappingProxyType(dict(data)) if data else _EMPTY


def member_view(queue: Queue, member: Member) -> MemberView:
    return MemberView(
        pbx=queue.pbx,
        queue=queue.name,
        interface=member.interface,
        name=member.name,
        state_interface=member.state_interface,
        status=member.status,
        state=member_state(member.status, member.paused, member.in_call),
        paused=member.paused,
        paused_reason=member.paused_reason,
        penalty=member.penalty,
        ringinuse=member.ringinuse,
        calls_taken=member.calls_taken,
        last_call=member.last_call,
        in_call=member.in_call,
        membership=member.membership,
        wrapup_seconds=member.wrapup_seconds,
    )


def caller_view(call: Call, position: int) -> CallerView:
    return CallerView(
        pbx=call.pbx,
        queue=call.queue,
        uniqueid=call.uniqueid,
        linkedid=call.linkedid,
        channel=call.channel,
        caller_num=call.caller_num,
        caller_name=call.caller_name,
        position=position,
        joined_at=call.joined_at,
        priority=call.priority,
        ivr=frozen_mapping(call.ivr),
    )


_PHASE_NAMES = {
    Phase.WAITING: "waiting",
    Phase.LEFT: "left",
    Phase.CONNECTED: "connected",
    Phase.HUNG_UP: "hung_up",
}


def call_view(call: Call) -> CallView:
    return CallView(
        pbx=call.pbx,
        uniqueid=call.uniqueid,
        queue=call.queue,
        phase=_PHASE_NAMES[call.phase],  # type: ignore[arg-type]
        caller_num=call.caller_num,
        caller_name=call.caller_name,
        joined_at=call.joined_at,
        agents_rung=tuple(call.agents_rung),
        answered_by=call.answered_by,
        answered_at=call.answered_at,
    )


def service_level_seconds(queue: Queue | None, config: LiveConfig) -> int:
    """The queue's own `servicelevel` when the PBX told us, else the configured default."""
    if queue is not None and queue.params is not None and queue.params.service_level_seconds:
        return queue.params.service_level_seconds
    return config.service_level_seconds


def window_stats(queue: Queue, now: datetime, config: LiveConfig) -> WindowStats:
    now_ms = int(now.timestamp() * 1000)
    exits = queue.exits.totals(now_ms)
    done = queue.completions.totals(now_ms)
    answered, within = exits[EXIT_ANSWERED], exits[EXIT_WITHIN_SL]
    abandoned, short, timeouts = exits[EXIT_ABANDONED], exits[EXIT_SHORT], exits[EXIT_TIMEOUT]
    handled = done[DONE_HANDLED]
    return WindowStats(
        window_seconds=config.window_seconds,
        service_level_seconds=service_level_seconds(queue, config),
        offered=kpi.offered(answered, abandoned, timeouts, short),
        answered=answered,
        answered_within_sl=within,
        abandoned=abandoned,
        short_abandons=short,
        timeouts=timeouts,
        withdrawn=exits[EXIT_WITHDRAWN],
        handled=handled,
        service_level_answered=kpi.service_level_of_answered(within, answered),
        service_level_offered=kpi.service_level_of_offered(
            within, answered, abandoned, timeouts, short
        ),
        abandon_rate=kpi.abandon_rate(abandoned, answered, timeouts, short),
        answer_rate=kpi.answer_rate(answered, abandoned, timeouts, short),
        asa_seconds=kpi.asa(exits[EXIT_WAIT_MS] / 1000, answered),
        aht_seconds=kpi.aht(done[DONE_TALK_MS] / 1000, done[DONE_WRAP_MS] / 1000, handled),
    )


def queue_snapshot(queue: Queue) -> QueueSnapshot:
    return QueueSnapshot(
        pbx=queue.pbx,
        queue=queue.name,
        params=queue.params,
        members=tuple(member_view(queue, m) for m in queue.members.values()),
        callers=tuple(caller_view(c, i) for i, c in enumerate(queue.waiting, start=1)),
    )


def queue_view(queue: Queue, now: datetime, config: LiveConfig) -> QueueView:
    members = tuple(member_view(queue, m) for m in queue.members.values())
    counts = {"available": 0, "busy": 0, "ringing": 0, "paused": 0, "unavailable": 0}
    for member in members:
        counts[member.state] += 1
    longest = max(((now - c.joined_at).total_seconds() for c in queue.waiting), default=None)
    return QueueView(
        pbx=queue.pbx,
        queue=queue.name,
        params=queue.params,
        callers_waiting=len(queue.waiting),
        longest_wait_seconds=None if longest is None else max(0.0, longest),
        agents_available=counts["available"],
        agents_busy=counts["busy"],
        agents_ringing=counts["ringing"],
        agents_paused=counts["paused"],
        agents_unavailable=counts["unavailable"],
        # Instant occupancy: agents on a call (or being rung) over agents able to take one.
        occupancy_now=kpi.occupancy(counts["busy"] + counts["ringing"], counts["available"]),
        members=members,
        callers=tuple(caller_view(c, i) for i, c in enumerate(queue.waiting, start=1)),
        stats=window_stats(queue, now, config),
    )


def agent_views(queues: Iterable[Queue], now: datetime) -> tuple[AgentView, ...]:
    """One view per (pbx, interface), merging its memberships in every queue."""
    grouped: dict[tuple[str, str], list[tuple[Queue, Member]]] = {}
    for queue in queues:
        for member in queue.members.values():
            grouped.setdefault((queue.pbx, member.interface), []).append((queue, member))
    return tuple(
        _agent_view(pbx, interface, rows, now) for (pbx, interface), rows in grouped.items()
    )


def _agent_view(
    pbx: str, interface: str, rows: list[tuple[Queue, Member]], now: datetime
) -> AgentView:
    first = rows[0][1]
    # Pauses are per queue: the agent counts as paused only when paused everywhere.
    paused = all(m.paused for _, m in rows)
    reasons = [m.paused_reason for _, m in rows if m.paused and m.paused_reason]
    in_call = any(m.in_call for _, m in rows)
    last_calls = [m.last_call for _, m in rows if m.last_call is not None]
    last_call = max(last_calls) if last_calls else None
    return AgentView(
        pbx=pbx,
        interface=interface,
        name=first.name,
        state=member_state(first.status, paused, in_call),
        status=first.status,
        paused=paused,
        paused_reason=reasons[0] if reasons else "",
        in_call=in_call,
        queues=tuple(q.name for q, _ in rows),
        calls_taken=sum(m.calls_taken for _, m in rows),
        last_call=last_call,
        idle_seconds=None if last_call is None else max(0.0, (now - last_call).total_seconds()),
    )
