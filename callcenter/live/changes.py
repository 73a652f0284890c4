"""Everything that leaves the live model: frozen views, the call record, and `Change` types.

These are the model's output port. The WebSocket hub, the screen-pop, the call-record writer and
metrics consume them, so each one is self-contained (it carries the pbx, the keys and the data
the consumer needs) and immutable: mappings are read-only copies, sequences are tuples.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

__all__ = [
    "AgentView",
    "CallConnected",
    "CallEnded",
    "CallRecord",
    "CallRingNoAnswer",
    "CallRinging",
    "CallView",
    "CallerJoined",
    "CallerLeft",
    "CallerView",
    "Change",
    "CompletedBy",
    "Correction",
    "Ignored",
    "MemberChanged",
    "MemberState",
    "MemberView",
    "ModelSnapshot",
    "Outcome",
    "QueueChanged",
    "QueueParamsView",
    "QueueSnapshot",
    "QueueView",
    "WindowStats",
]

Outcome = Literal["answered", "abandoned", "timeout", "withdrawn", "unknown"]
CompletedBy = Literal["caller", "agent", "transfer"]
MemberState = Literal["available", "busy", "ringing", "paused", "unavailable"]
# "hung_up": the caller hung up while connected; the call ends within the exit grace (when its
# AgentComplete comes, or at the hang-up time without one). Nobody is talking on it any more.
CallPhase = Literal["waiting", "left", "connected", "hung_up"]


# --------------------------------------------------------------------------- views


@dataclass(frozen=True, slots=True)
class QueueParamsView:
    strategy: str
    max_callers: int
    service_level_seconds: int
    weight: int


@dataclass(frozen=True, slots=True)
class MemberView:
    pbx: str
    queue: str
    interface: str
    name: str
    state_interface: str
    status: int  # Asterisk device state 0..8
    state: MemberState
    paused: bool
    paused_reason: str
    penalty: int
    ringinuse: bool | None
    calls_taken: int
    last_call: datetime | None
    in_call: bool
    membership: str  # static | dynamic | realtime
    wrapup_seconds: int


@dataclass(frozen=True, slots=True)
class CallerView:
    pbx: str
    queue: str
    uniqueid: str
    linkedid: str
    channel: str
    caller_num: str
    caller_name: str
    position: int
    joined_at: datetime
    priority: int | None
    ivr: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class CallView:
    """An open call (joined, not yet ended)."""

    pbx: str
    uniqueid: str
    queue: str
    phase: CallPhase
    caller_num: str
    caller_name: str
    joined_at: datetime
    agents_rung: tuple[str, ...]
    answered_by: str | None
    answered_at: datetime | None


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One queue call from join to end: what the call-record writer stores.

    Keyed by (pbx, uniqueid, joined_at): the same caller channel may join several queues in turn
    (a timeout then an overflow queue), each join is its own record.
    """

    pbx: str
    uniqueid: str
    linkedid: str
    channel: str
    queue: str
    caller_num: str
    caller_name: str
    joined_at: datetime
    position_at_join: int
    agents_rung: tuple[str, ...]
    ring_no_answer_count: int
    answered_by: str | None
    answered_by_name: str | None
    answered_at: datetime | None
    left_at: datetime | None  # when it left the waiting list
    ended_at: datetime
    wait_seconds: float
    talk_seconds: float | None
    wrapup_seconds: int  # configured wrap-up of the answering member (live AHT proxy)
    outcome: Outcome
    completed_by: CompletedBy | None
    position_at_exit: int | None
    queue_status: str | None  # raw QUEUESTATUS when Asterisk set one
    short_abandon: bool
    evidence: str  # why this outcome: agent_complete, hangup, queuestatus, grace, reconcile…
    ivr: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class WindowStats:
    """Rolling-window figures of one queue; rates are None when there is nothing to divide."""

    window_seconds: float
    service_level_seconds: int
    offered: int
    answered: int
    answered_within_sl: int
    abandoned: int
    short_abandons: int
    timeouts: int
    withdrawn: int
    handled: int
    service_level_answered: float | None
    service_level_offered: float | None
    abandon_rate: float | None
    answer_rate: float | None
    asa_seconds: float | None
    aht_seconds: float | None


@dataclass(frozen=True, slots=True)
class QueueView:
    pbx: str
    queue: str
    params: QueueParamsView | None
    callers_waiting: int
    longest_wait_seconds: float | None
    agents_available: int
    agents_busy: int
    agents_ringing: int
    agents_paused: int
    agents_unavailable: int
    occupancy_now: float | None
    members: tuple[MemberView, ...]
    callers: tuple[CallerView, ...]
    stats: WindowStats


@dataclass(frozen=True, slots=True)
class AgentView:
    """One agent (pbx, interface) across all the queues it is a member of."""

    pbx: str
    interface: str
    name: str
    state: MemberState
    status: int
    paused: bool
    paused_reason: str
    in_call: bool
    queues: tuple[str, ...]
    calls_taken: int
    last_call: datetime | None
    idle_seconds: float | None  # since last call, given `now`


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    pbx: str
    queue: str
    params: QueueParamsView | None
    members: tuple[MemberView, ...]
    callers: tuple[CallerView, ...]


@dataclass(frozen=True, slots=True)
class ModelSnapshot:
    queues: tuple[QueueSnapshot, ...]
    calls: tuple[CallView, ...]
    ignored_events: int
    corrections: int


# --------------------------------------------------------------------------- changes


@dataclass(frozen=True, slots=True)
class CallerJoined:
    at: datetime
    caller: CallerView
    count: int  # callers waiting in that queue after the join


@dataclass(frozen=True, slots=True)
class CallerLeft:
    at: datetime
    pbx: str
    queue: str
    uniqueid: str
    position: int
    waited_seconds: float
    reason: str  # leave | connect | hangup | rejoin | reconcile
    count: int  # callers still waiting in that queue


@dataclass(frozen=True, slots=True)
class MemberChanged:
    at: datetime
    pbx: str
    queue: str
    interface: str
    member: MemberView | None  # None: removed
    previous: MemberView | None  # None: added
    cause: str  # the event kind that caused it


@dataclass(frozen=True, slots=True)
class QueueChanged:
    at: datetime
    pbx: str
    queue: str
    kind: Literal["added", "removed", "params"]
    params: QueueParamsView | None


@dataclass(frozen=True, slots=True)
class CallRinging:
    """An agent's phone rings for a caller: the screen-pop trigger (only that agent)."""

    at: datetime
    pbx: str
    queue: str
    uniqueid: str
    agent_interface: str
    member_name: str
    agent_channel: str
    caller_num: str
    caller_name: str
    channel: str
    linkedid: str
    ivr: Mapping[str, str]
    waited_seconds: float | None  # None when the model did not see the caller join


@dataclass(frozen=True, slots=True)
class CallRingNoAnswer:
    at: datetime
    pbx: str
    queue: str
    uniqueid: str
    agent_interface: str
    member_name: str
    ring_seconds: float | None
    dumped: bool  # AgentDump: the agent hung up during the announcement


@dataclass(frozen=True, slots=True)
class CallConnected:
    at: datetime
    pbx: str
    queue: str
    uniqueid: str
    agent_interface: str
    member_name: str
    agent_channel: str
    agent_uniqueid: str
    caller_num: str
    caller_name: str
    waited_seconds: float
    ring_seconds: int
    ivr: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class CallEnded:
    record: CallRecord


@dataclass(frozen=True, slots=True)
class Ignored:
    """An event that referred to something unknown or would be an illegal transition."""

    at: datetime
    pbx: str
    event: str
    key: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Correction:
    """One fix made by a resync so the model matches the PBX again."""

    at: datetime
    pbx: str
    kind: str  # queue_added, queue_removed, queue_params, member_added, member_removed,
    #            member_fixed, caller_added, caller_moved, caller_detached, call_closed
    key: tuple[str, ...]
    before: object | None
    after: object | None


Change = (
    CallerJoined
    | CallerLeft
    | MemberChanged
    | QueueChanged
    | CallRinging
    | CallRingNoAnswer
    | CallConnected
    | CallEnded
    | Ignored
    | Correction
)
