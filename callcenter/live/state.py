"""Internal, mutable state of the live model, and the call lifecycle as data.

Theory of operation
===================

The live model is a pure function of the AMI event sequence: it reads no clock (time is each
event's `at`) and does no I/O, so a recorded trace replays to the same states and changes.
Internally it mutates plain slotted objects in place (the hot path must stay cheap); nothing
mutable ever leaves it — the views in `changes.py` are frozen copies.

Keys always include the PBX: queues by (pbx, queue), members by (pbx, queue, interface), open
calls by (pbx, uniqueid) where uniqueid is the *caller* channel's (QueueCallerJoin.Uniqueid =
AgentConnect.Uniqueid = the caller's Hangup.Uniqueid = queue_log callid). Two PBXs may use the
same queue names and even the same uniqueids without ever touching each other.

A queue's waiting callers are an ordered list; a caller's position is its index + 1. Asterisk
renumbers silently (no event) when someone leaves or a higher priority caller is inserted, so
the model does the same: insert at the Join's Position (clamped to 1..n+1), remove on leave. That
keeps positions 1..n without gaps by construction.

Call lifecycle (one `Call` per join; the same channel may join another queue later)::

      join ─▶ WAITING ──leave──▶ LEFT ──connect──▶ CONNECTED ──complete──▶ ENDED
                │  ▲ called,        │ QUEUESTATUS,   ▲    │ hangup
                │  │ ring-no-answer,│ hangup, grace  │    ▼
                │  │ abandon mark   │ expired,       │   HUNG_UP ──complete, grace expired──▶ ENDED
                │  │                │ rejoin ─▶ ENDED│
                └──┴──connect───────┼────────────────┘
                   hangup ─▶ ENDED  └ (answered: AgentConnect may come before or after Leave)

    (a rejoin of the channel, or a resync that no longer sees it, ends a call in any phase)

Why LEFT exists: app_queue emits QueueCallerAbandon not only when the caller hangs up but also on
a Queue() timeout, leave-when-empty and withdraw, and it emits QueueCallerLeave *before* it sets
QUEUESTATUS and before the caller's Hangup (the channel may even live on in the dialplan). So an
unanswered exit is decided by the evidence that follows the Leave:

* QUEUESTATUS=TIMEOUT / LEAVEEMPTY / LEAVEUNAVAIL → timeout; WITHDRAW → withdrawn;
* Hangup of the caller channel → abandoned (a real hang-up ends the channel within ms);
* the channel joins a queue again → timeout (it was alive and routed on);
* none of these within `exit_grace_seconds` of event time → abandoned when an Abandon was seen
  (app_queue sets QUEUESTATUS right after the Leave for every reason *except* a hang-up, so its
  absence is the evidence; the Hangup itself may lag behind a slow `h` extension), otherwise
  unknown. The AMI adapter must therefore let `VarSet` of QUEUESTATUS through its filters.
  The grace is checked on each later event of the same PBX and by `LiveModel.tick(now)`.

A Leave *without* a prior Abandon means the caller was connected: AgentConnect follows.

Why HUNG_UP exists: app_queue publishes AgentComplete (who ended the call, Asterisk's own talk
time) from its own stasis subscription when the bridge ends, while the Hangup of the caller's
channel reaches AMI through another subscriber; under load the Hangup can come first. So the
Hangup of a CONNECTED caller does not end the call: it notes the hang-up time and waits
`exit_grace_seconds` (the same deadline queue as LEFT) for the AgentComplete, which then ends
the call as it would have without the race (its reason → completed_by, its talk time). None
by the deadline: ended as answered, evidence "hangup", talk from the answer to the hang-up,
ended at the hang-up (not at the deadline). A rejoin of the same uniqueid or a resync that
no longer sees the channel ends it the same way, at its hang-up time. Outside the model the
call shows as phase "hung_up" meanwhile (no longer someone's connected call), for at most the
grace plus one tick.

Transitions are data (`TRANSITIONS`), and `transition(call, trigger)` is the only code that
changes a call's phase after it is built (as h11's `_state.py` does for a connection). A handler
fires it before it mutates anything else, so an illegal transition raises `IllegalTransition`
and leaves the state untouched (the model turns it into an `Ignored` change); the handler
branches on the phase the call had before. Unknown callers/queues/members never raise: an
unknown queue is created on first mention, an event about an unknown caller becomes `Ignored`.

Memory stays flat: ended calls are dropped (only the emitted `CallEnded` keeps them), IVR data of
channels that never queue is dropped on their Hangup or when the cache limit is reached, and the
rolling windows keep only samples younger than the window.
"""

from __future__ import annotations

import enum
from collections import OrderedDict, deque
from datetime import datetime

from callcenter.live.changes import MemberState, QueueParamsView
from callcenter.live.journal import ResyncJournal
from callcenter.live.window import RollingWindow

__all__ = [
    "TRANSITIONS",
    "Call",
    "IllegalTransition",
    "LiveConfig",
    "LiveState",
    "Member",
    "Phase",
    "Queue",
    "Trigger",
    "member_state",
    "next_phase",
    "transition",
]


class Phase(enum.Enum):
    WAITING = "waiting"
    LEFT = "left"
    CONNECTED = "connected"
    HUNG_UP = "hung_up"  # the caller's channel hung up; its AgentComplete may still follow
    ENDED = "ended"


class Trigger(enum.Enum):
    CALLED = "called"
    RING_NO_ANSWER = "ring_no_answer"
    ABANDON = "abandon"
    LEAVE = "leave"
    CONNECT = "connect"
    COMPLETE = "complete"
    STATUS = "queuestatus"
    HANGUP = "hangup"
    EXPIRE = "expire"
    REJOIN = "rejoin"
    RESYNC_CLOSE = "resync_close"
    RESYNC_DETACH = "resync_detach"


_W, _L, _C, _H, _E = Phase.WAITING, Phase.LEFT, Phase.CONNECTED, Phase.HUNG_UP, Phase.ENDED

TRANSITIONS: dict[tuple[Phase, Trigger], Phase] = {
    (_W, Trigger.CALLED): _W,
    (_W, Trigger.RING_NO_ANSWER): _W,
    (_W, Trigger.ABANDON): _W,
    (_W, Trigger.STATUS): _W,  # QUEUESTATUS racing ahead of the Leave: kept as evidence
    (_W, Trigger.LEAVE): _L,
    (_W, Trigger.CONNECT): _C,
    (_W, Trigger.HANGUP): _E,
    (_W, Trigger.REJOIN): _E,
    (_W, Trigger.RESYNC_CLOSE): _E,
    (_W, Trigger.RESYNC_DETACH): _L,
    (_L, Trigger.ABANDON): _L,  # tolerated out of order: it is only evidence
    (_L, Trigger.CONNECT): _C,
    (_L, Trigger.COMPLETE): _E,  # connect missed (e.g. during a reconnect): still answered
    (_L, Trigger.STATUS): _E,
    (_L, Trigger.HANGUP): _E,
    (_L, Trigger.EXPIRE): _E,
    (_L, Trigger.REJOIN): _E,
    (_L, Trigger.RESYNC_CLOSE): _E,
    (_C, Trigger.LEAVE): _C,
    (_C, Trigger.STATUS): _C,  # QUEUESTATUS=CONTINUE after an answered call
    (_C, Trigger.COMPLETE): _E,
    (_C, Trigger.HANGUP): _H,  # the AgentComplete may still be on its way: wait the grace
    (_C, Trigger.REJOIN): _E,
    (_C, Trigger.RESYNC_CLOSE): _E,
    (_H, Trigger.LEAVE): _H,  # a late Leave: only the waiting list needs fixing
    (_H, Trigger.STATUS): _H,  # QUEUESTATUS after the answered call: kept as evidence
    (_H, Trigger.COMPLETE): _E,  # the AgentComplete the Hangup overtook
    (_H, Trigger.EXPIRE): _E,  # none within the grace: ended at the hang-up
    (_H, Trigger.REJOIN): _E,
    (_H, Trigger.RESYNC_CLOSE): _E,
}


class IllegalTransition(Exception):
    """A call event that does not fit the call's phase; the state is left untouched."""

    def __init__(self, phase: Phase, trigger: Trigger) -> None:
        super().__init__(f"{trigger.value} while {phase.value}")
        self.phase = phase
        self.trigger = trigger


def next_phase(phase: Phase, trigger: Trigger) -> Phase:
    """The table's phase after `trigger` in `phase`; raises `IllegalTransition` if none."""
    try:
        return TRANSITIONS[(phase, trigger)]
    except KeyError:
        raise IllegalTransition(phase, trigger) from None


class LiveConfig:
    """Tunables of the model; defaults suit a typical contact centre."""

    __slots__ = (
        "exit_grace_seconds",
        "ivr_cache_limit",
        "service_level_seconds",
        "short_abandon_seconds",
        "window_seconds",
    )

    def __init__(
        self,
        *,
        window_seconds: float = 900.0,
        service_level_seconds: int = 20,
        short_abandon_seconds: float = 5.0,
        exit_grace_seconds: float = 2.0,
        ivr_cache_limit: int = 100_000,
    ) -> None:
        if window_seconds <= 0 or exit_grace_seconds < 0 or ivr_cache_limit < 1:
            raise ValueError("window_seconds > 0, exit_grace_seconds >= 0, ivr_cache_limit >= 1")
        self.window_seconds = window_seconds
        #: used when the queue's own ServiceLevel (from QueueParams) is unknown or 0
        self.service_level_seconds = service_level_seconds
        self.short_abandon_seconds = short_abandon_seconds
        self.exit_grace_seconds = exit_grace_seconds
        self.ivr_cache_limit = ivr_cache_limit


class Member:
    __slots__ = (
        "calls_taken",
        "in_call",
        "interface",
        "last_call",
        "membership",
        "name",
        "paused",
        "paused_reason",
        "penalty",
        "ringinuse",
        "state_interface",
        "status",
        "wrapup_seconds",
    )

    def __init__(self, interface: str) -> None:
        self.interface = interface
        self.name = interface
        self.state_interface = interface
        self.status = 0
        self.paused = False
        self.paused_reason = ""
        self.penalty = 0
        self.ringinuse: bool | None = None
        self.calls_taken = 0
        self.last_call: datetime | None = None
        self.in_call = False
        self.membership = "dynamic"
        self.wrapup_seconds = 0


# Asterisk device states (include/asterisk/devicestate.h) grouped for people.
_UNAVAILABLE_STATUSES = frozenset({4, 5})  # invalid, unavailable
_BUSY_STATUSES = frozenset({2, 3, 7, 8})  # in use, busy, ring in use, on hold
_RINGING_STATUS = 6


def member_state(status: int, paused: bool, in_call: bool) -> MemberState:
    """The readable state; order matters: a paused agent on a call is busy, not paused."""
    if status in _UNAVAILABLE_STATUSES:
        return "unavailable"
    if status in _BUSY_STATUSES or in_call:
        return "busy"
    if status == _RINGING_STATUS:
        return "ringing"
    if paused:
        return "paused"
    # 0 (unknown) counts as available: app_queue rings members in an unknown state too.
    return "available"


class Call:
    """One queue call from join to end."""

    __slots__ = (
        "abandon_hold",
        "abandon_seen",
        "agents_rung",
        "answered_at",
        "answered_by",
        "answered_name",
        "caller_name",
        "caller_num",
        "channel",
        "hung_up_at",
        "ivr",
        "joined_at",
        "left_at",
        "linkedid",
        "pbx",
        "pbx_shutdown",
        "phase",
        "position_at_exit",
        "position_at_join",
        "priority",
        "queue",
        "queue_status",
        "ring_no_answer_count",
        "seq",
        "uniqueid",
        "wait_seconds",
        "wrapup_seconds",
    )

    def __init__(
        self,
        seq: int,
        pbx: str,
        uniqueid: str,
        queue: str,
        joined_at: datetime,
        position_at_join: int,
    ) -> None:
        self.seq = seq  # tells this join apart from a later join of the same channel
        self.pbx = pbx
        self.uniqueid = uniqueid
        self.queue = queue
        self.joined_at = joined_at
        self.position_at_join = position_at_join
        self.linkedid = ""
        self.channel = ""
        self.caller_num = ""
        self.caller_name = ""
        self.priority: int | None = None
        self.ivr: dict[str, str] = {}
        self.phase = Phase.WAITING
        self.agents_rung: list[str] = []
        self.ring_no_answer_count = 0
        self.abandon_seen = False
        self.abandon_hold: int | None = None
        # The PBX hung the caller up because it was shutting down: not the caller's doing.
        self.pbx_shutdown = False
        self.queue_status: str | None = None
        self.answered_by: str | None = None
        self.answered_name: str | None = None
        self.answered_at: datetime | None = None
        # When the caller's channel hung up while CONNECTED (phase HUNG_UP): the call's end
        # if no AgentComplete follows within the grace.
        self.hung_up_at: datetime | None = None
        self.wait_seconds: float | None = None
        self.wrapup_seconds = 0
        self.left_at: datetime | None = None
        self.position_at_exit: int | None = None


def transition(call: Call, trigger: Trigger) -> Phase:
    """Move `call` to the table's phase for `trigger` and return it.

    The lookup happens before the assignment, so an illegal transition raises
    `IllegalTransition` with the call exactly as it was.
    """
    call.phase = next_phase(call.phase, trigger)
    return call.phase


class Queue:
    __slots__ = ("completions", "exits", "members", "name", "params", "pbx", "waiting")

    def __init__(self, pbx: str, name: str, window_seconds: float) -> None:
        self.pbx = pbx
        self.name = name
        self.params: QueueParamsView | None = None
        self.members: dict[str, Member] = {}
        self.waiting: list[Call] = []  # index + 1 = position
        # Queue exits (answered/abandoned/timeout/withdrawn) for SL, ASA and abandon rate.
        self.exits = RollingWindow(window_seconds, EXIT_SAMPLE_WIDTH)
        # Completed answered calls for AHT.
        self.completions = RollingWindow(window_seconds, COMPLETION_SAMPLE_WIDTH)


# Layout of the integer samples kept in the windows (integers: running sums never drift).
EXIT_ANSWERED, EXIT_WITHIN_SL, EXIT_ABANDONED, EXIT_SHORT, EXIT_TIMEOUT, EXIT_WITHDRAWN = range(6)
EXIT_WAIT_MS = 6  # wait of answered calls only, for ASA
EXIT_SAMPLE_WIDTH = 7
DONE_HANDLED, DONE_TALK_MS, DONE_WRAP_MS = range(3)
COMPLETION_SAMPLE_WIDTH = 3


class LiveState:
    """All the mutable state, grouped so handlers and the resync share one place."""

    __slots__ = (
        "calls",
        "config",
        "corrections",
        "ended",
        "ignored",
        "ivr",
        "journals",
        "next_seq",
        "pending",
        "queues",
    )

    def __init__(self, config: LiveConfig) -> None:
        self.config = config
        self.queues: dict[tuple[str, str], Queue] = {}
        self.calls: dict[tuple[str, str], Call] = {}  # open calls only
        # The latest ended calls, oldest first: a late AgentComplete of one is not a new call.
        self.ended: OrderedDict[tuple[str, str], None] = OrderedDict()
        # Calls in LEFT or HUNG_UP awaiting evidence, per pbx, in deadline order:
        # (deadline, seq, key, the phase it was set for). A LEFT call answered and hung up
        # within its grace has both; only the HUNG_UP one decides it then.
        self.pending: dict[str, deque[tuple[float, int, tuple[str, str], Phase]]] = {}
        # IVR variables by (pbx, channel uniqueid), set before the channel joins a queue.
        self.ivr: dict[tuple[str, str], dict[str, str]] = {}
        # Per pbx, one per resync snapshot being taken (see journal.py); two can overlap
        # (the periodic one and one a supervisor's action asked for).
        self.journals: dict[str, list[ResyncJournal]] = {}
        self.next_seq = 0
        self.ignored = 0
        self.corrections = 0

    def queue(self, pbx: str, name: str) -> tuple[Queue, bool]:
        """The queue, created on first mention; the flag says it was just created."""
        key = (pbx, name)
        found = self.queues.get(key)
        if found is not None:
            return found, False
        created = self.queues[key] = Queue(pbx, name, self.config.window_seconds)
        return created, True
