"""`LiveModel`: typed AMI events in, frozen `Change`s out. See `state.py` for the theory."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from callcenter.live import ops
from callcenter.live.changes import (
    AgentView,
    CallConnected,
    CallerJoined,
    CallerLeft,
    CallRinging,
    CallRingNoAnswer,
    Change,
    Ignored,
    MemberChanged,
    ModelSnapshot,
    Outcome,
    QueueChanged,
    QueueView,
)
from callcenter.live.events import (
    QUEUESTATUS,
    SOFTHANGUP_SHUTDOWN,
    AgentCalled,
    AgentComplete,
    AgentConnect,
    AgentDump,
    AgentRingNoAnswer,
    Event,
    Hangup,
    MemberEvent,
    QueueCallerAbandon,
    QueueCallerJoin,
    QueueCallerLeave,
    QueueMember,
    QueueMemberAdded,
    QueueMemberPause,
    QueueMemberPenalty,
    QueueMemberRemoved,
    QueueMemberRinginuse,
    QueueMemberStatus,
    ResyncRecord,
    SoftHangupRequest,
    VarSet,
)
from callcenter.live.journal import ResyncJournal
from callcenter.live.reconcile import reconcile
from callcenter.live.restore import RestoredCall, restore
from callcenter.live.state import (
    Call,
    IllegalTransition,
    LiveConfig,
    LiveState,
    Phase,
    Trigger,
    transition,
)
from callcenter.live.views import (
    agent_views,
    call_view,
    caller_view,
    frozen_mapping,
    member_view,
    queue_snapshot,
    queue_view,
)

__all__ = ["LiveModel", "UnknownQueue"]

log = logging.getLogger(__name__)

# QUEUESTATUS values (app_queue set_queue_result) → outcome of an unanswered exit.
_STATUS_OUTCOMES: dict[str, Outcome] = {
    "TIMEOUT": "timeout",
    "LEAVEEMPTY": "timeout",
    "LEAVEUNAVAIL": "timeout",
    "WITHDRAW": "withdrawn",
}


# A caller who leaves a queue with a key of its context (queue_log EXITWITHKEY) gets neither an
# Abandon nor a QUEUESTATUS: app_queue sets none. The exits' dialplan (dialplan/exits.conf)
# names the exit on the caller's channel right after the Leave (CC_EXIT = voicemail, callback,
# operator; CC_EXIT_FROM = the queue, set just before): that VarSet is the evidence that ends
# the left call as "withdrawn" (the caller withdrew), evidence "exit_key", with both variables
# in its IVR data. (The name carries the IVR prefix, live.ivr_variable_prefix, as the dialplan
# sets it: "CC_".) A CC_EXIT the channel already had when it joined (the operator exit's
# queue) is data only: only one set while the call is LEFT ends it.
EXIT_VARIABLE = "CC_EXIT"
EXIT_EVIDENCE = "exit_key"


class UnknownQueue(KeyError):
    """queue_view() for a (pbx, queue) the model does not know."""


class LiveModel:
    """The live model of queues, members, waiting callers and calls of one or more PBXs."""

    def __init__(self, config: LiveConfig | None = None) -> None:
        self.config = config or LiveConfig()
        self._state = LiveState(self.config)
        self._handlers: dict[type, Callable[[Any], list[Change]]] = {
            QueueCallerJoin: self._on_join,
            QueueCallerLeave: self._on_leave,
            QueueCallerAbandon: self._on_abandon,
            AgentCalled: self._on_called,
            AgentRingNoAnswer: self._on_ring_no_answer,
            AgentDump: self._on_dump,
            AgentConnect: self._on_connect,
            AgentComplete: self._on_complete,
            QueueMemberAdded: self._on_member,
            QueueMemberStatus: self._on_member,
            QueueMemberPause: self._on_member,
            QueueMemberPenalty: self._on_member,
            QueueMemberRinginuse: self._on_member,
            QueueMember: self._on_member,
            QueueMemberRemoved: self._on_member_removed,
            Hangup: self._on_hangup,
            SoftHangupRequest: self._on_soft_hangup,
            VarSet: self._on_var_set,
        }

    # ------------------------------------------------------------------ public API

    @property
    def ignored_count(self) -> int:
        return self._state.ignored

    @property
    def corrections_count(self) -> int:
        return self._state.corrections

    def apply(self, event: Event) -> list[Change]:
        """Apply one event; never raises for unknown or out-of-order events."""
        changes = self._expire(event.pbx, event.at.timestamp(), event.at)
        handler = self._handlers.get(type(event))
        if handler is None:
            log.debug("not a live event: %s", type(event).__name__)
            return changes
        try:
            changes.extend(handler(event))
        except IllegalTransition as exc:
            changes.append(self._ignore(event, str(exc)))
        journals = self._state.journals.get(event.pbx)
        if journals:
            for journal in journals:
                journal.note(event)
        return changes

    def tick(self, now: datetime) -> list[Change]:
        """Decide the exits and hang-ups whose grace has passed by `now` (call it periodically,
        well within the grace: a hung-up call's record waits for it)."""
        changes: list[Change] = []
        for pbx in list(self._state.pending):
            changes.extend(self._expire(pbx, now.timestamp(), now))
        return changes

    def begin_resync(self, pbx: str) -> ResyncJournal:
        """Call before asking `pbx` for a snapshot, and hand the journal to reconcile(): what
        the stream says from now on is newer than the snapshot and wins over it."""
        journal = ResyncJournal()
        self._state.journals.setdefault(pbx, []).append(journal)
        return journal

    def cancel_resync(self, pbx: str, journal: ResyncJournal) -> None:
        """The snapshot begun with `journal` will not come (the action failed)."""
        self._end_journal(pbx, journal)

    def reconcile(
        self,
        pbx: str,
        records: Sequence[ResyncRecord],
        now: datetime,
        journal: ResyncJournal | None = None,
    ) -> list[Change]:
        """Make `pbx`'s part of the model match a QueueStatus + CoreShowChannels snapshot,
        except where events since begin_resync() (its `journal`) are newer."""
        if journal is None:
            journal = ResyncJournal()
        else:
            self._end_journal(pbx, journal)
        return reconcile(self._state, pbx, records, now, journal)

    def _end_journal(self, pbx: str, journal: ResyncJournal) -> None:
        journals = self._state.journals.get(pbx, [])
        if journal in journals:
            journals.remove(journal)
        if not journals:
            self._state.journals.pop(pbx, None)

    def restore(self, calls: Iterable[RestoredCall]) -> list[RestoredCall]:
        """Open calls persisted by a previous process (before the first resync); returns
        those not taken."""
        return restore(self._state, calls)

    def snapshot(self) -> ModelSnapshot:
        state = self._state
        return ModelSnapshot(
            queues=tuple(queue_snapshot(q) for q in state.queues.values()),
            calls=tuple(call_view(c) for c in state.calls.values()),
            ignored_events=state.ignored,
            corrections=state.corrections,
        )

    def queue_view(self, pbx: str, queue: str, now: datetime) -> QueueView:
        found = self._state.queues.get((pbx, queue))
        if found is None:
            raise UnknownQueue((pbx, queue))
        return queue_view(found, now, self.config)

    def queue_views(self, now: datetime) -> tuple[QueueView, ...]:
        return tuple(queue_view(q, now, self.config) for q in self._state.queues.values())

    def agents_view(self, now: datetime) -> tuple[AgentView, ...]:
        return agent_views(self._state.queues.values(), now)

    # ------------------------------------------------------------------ helpers

    def _ignore(self, event: Event, reason: str, key: tuple[str, ...] = ()) -> Ignored:
        self._state.ignored += 1
        kind = type(event).__name__
        if not key:
            key = (event.pbx, getattr(event, "uniqueid", "") or getattr(event, "queue", ""))
        log.debug("ignored %s %s: %s", kind, key, reason)
        return Ignored(event.at, event.pbx, kind, key, reason)

    def _call_for(self, event: Any) -> Call | None:
        """The open call an Agent*/QueueCaller* event refers to, if it is in the same queue."""
        call = self._state.calls.get((event.pbx, event.uniqueid))
        if call is None or call.queue != event.queue:
            return None
        return call

    def _expire(self, pbx: str, now_ts: float, now: datetime) -> list[Change]:
        pending = self._state.pending.get(pbx)
        if not pending or pending[0][0] > now_ts:
            return []
        changes: list[Change] = []
        while pending and pending[0][0] <= now_ts:
            _, seq, key, phase = pending.popleft()
            call = self._state.calls.get(key)
            if call is None or call.seq != seq or call.phase is not phase:
                continue  # decided (or moved on) meanwhile: the entry is stale
            if phase is Phase.HUNG_UP:
                # No AgentComplete within the grace after the caller's Hangup: ended then,
                # as answered, without knowing who ended it.
                transition(call, Trigger.EXPIRE)
                changes.append(ops.close_hung_up(self._state, call))
                continue
            # No QUEUESTATUS after an Abandon means app_queue had no reason to set one: the
            # caller hung up. Without an Abandon the caller was leaving to be connected.
            outcome: Outcome = "abandoned" if call.abandon_seen else "unknown"
            transition(call, Trigger.EXPIRE)
            changes.append(ops.close_call(self._state, call, outcome, now, "grace"))
        return changes

    def _end_unanswered(self, call: Call, at: datetime, evidence: str) -> Change:
        """Close a call that was LEFT (already moved to ENDED) from the evidence gathered so
        far."""
        outcome: Outcome = "unknown"
        if call.queue_status is not None:
            outcome = _STATUS_OUTCOMES.get(call.queue_status, "unknown")
        elif call.abandon_seen:
            outcome = "abandoned" if evidence == "hangup" else "timeout"
        return ops.close_call(self._state, call, outcome, at, evidence)

    # ------------------------------------------------------------------ callers

    def _on_join(self, event: QueueCallerJoin) -> list[Change]:
        state = self._state
        changes: list[Change] = []
        previous = state.calls.get((event.pbx, event.uniqueid))
        if previous is not None:
            changes.extend(self._close_for_rejoin(previous, event.at))
        state.ended.pop((event.pbx, event.uniqueid), None)
        queue, created = state.queue(event.pbx, event.queue)
        if created:
            changes.append(QueueChanged(event.at, event.pbx, event.queue, "added", None))
        state.next_seq += 1
        call = Call(
            state.next_seq, event.pbx, event.uniqueid, event.queue, event.at, event.position
        )
        call.linkedid = event.linkedid
        call.channel = event.channel
        call.caller_num = event.caller_num
        call.caller_name = event.caller_name
        call.ivr = self._ivr_for(event.pbx, event.uniqueid, event.linkedid)
        position = ops.insert_caller(queue, call, event.position)
        state.calls[(event.pbx, event.uniqueid)] = call
        changes.append(CallerJoined(event.at, caller_view(call, position), len(queue.waiting)))
        return changes

    def _ivr_for(self, pbx: str, uniqueid: str, linkedid: str) -> dict[str, str]:
        # Variables set on the first channel of the call (linkedid) are seen through Local
        # channel chains; the queued channel's own variables win.
        ivr = self._state.ivr
        merged = dict(ivr.get((pbx, linkedid), {})) if linkedid and linkedid != uniqueid else {}
        merged.update(ivr.get((pbx, uniqueid), {}))
        return merged

    def _close_for_rejoin(self, call: Call, at: datetime) -> list[Change]:
        """The same channel joins again: its previous call is over (it was alive: no abandon)."""
        was = call.phase
        transition(call, Trigger.REJOIN)
        changes: list[Change] = []
        if was is Phase.WAITING:
            queue = self._state.queues.get((call.pbx, call.queue))
            position = ops.remove_caller(queue, call)
            call.left_at, call.position_at_exit = at, position
            changes.append(self._left(call, position or 0, at, "rejoin"))
            changes.append(ops.close_call(self._state, call, "unknown", at, "rejoin"))
        elif was is Phase.CONNECTED:
            talk = _seconds_since(call.answered_at, at)
            changes.append(
                ops.close_call(self._state, call, "answered", at, "rejoin", talk_seconds=talk)
            )
        elif was is Phase.HUNG_UP:
            # It ended at its hang-up; the join only says no AgentComplete is coming for it.
            changes.append(ops.close_hung_up(self._state, call))
        else:
            changes.append(self._end_unanswered(call, at, "rejoin"))
        return changes

    def _left(self, call: Call, position: int, at: datetime, reason: str) -> CallerLeft:
        queue = self._state.queues.get((call.pbx, call.queue))
        return CallerLeft(
            at,
            call.pbx,
            call.queue,
            call.uniqueid,
            position,
            max(0.0, (at - call.joined_at).total_seconds()),
            reason,
            len(queue.waiting) if queue is not None else 0,
        )

    def _on_leave(self, event: QueueCallerLeave) -> list[Change]:
        call = self._call_for(event)
        if call is None:
            return [self._ignore(event, "unknown caller")]
        queue = self._state.queues.get((call.pbx, call.queue))
        was = call.phase
        transition(call, Trigger.LEAVE)
        if was is Phase.CONNECTED or was is Phase.HUNG_UP:
            # AgentConnect (or even the Hangup) overtook the Leave (the table keeps the phase):
            # only the waiting list needs fixing.
            position = ops.remove_caller(queue, call)
            return [] if position is None else [self._left(call, position, event.at, "connect")]
        position = ops.remove_caller(queue, call)
        call.left_at = event.at
        if call.position_at_exit is None:
            call.position_at_exit = position or event.position
        changes: list[Change] = [self._left(call, position or event.position, event.at, "leave")]
        if call.queue_status is not None and call.queue_status in _STATUS_OUTCOMES:
            # The QUEUESTATUS raced ahead of the Leave and was kept as evidence; it decides
            # the exit now, as it would had it come after the Leave.
            transition(call, Trigger.STATUS)
            changes.append(self._end_unanswered(call, event.at, "queuestatus"))
        else:
            ops.schedule_exit(self._state, call, event.at)
        return changes

    def _on_abandon(self, event: QueueCallerAbandon) -> list[Change]:
        call = self._call_for(event)
        if call is None:
            return [self._ignore(event, "unknown caller")]
        transition(call, Trigger.ABANDON)
        call.abandon_seen = True
        call.abandon_hold = event.hold_time
        call.position_at_exit = event.position
        return []  # evidence only: the outcome is decided after the Leave

    # ------------------------------------------------------------------ agents ringing

    def _on_called(self, event: AgentCalled) -> list[Change]:
        call = self._call_for(event)
        waited: float | None = None
        ivr = self._ivr_for(event.pbx, event.uniqueid, event.linkedid)
        if call is not None:
            transition(call, Trigger.CALLED)
            if event.interface not in call.agents_rung:
                call.agents_rung.append(event.interface)
            waited = max(0.0, (event.at - call.joined_at).total_seconds())
            ivr = call.ivr
        # Emitted even for a call we did not see join (e.g. right after a restart): the
        # screen-pop needs only what the event itself carries.
        return [
            CallRinging(
                event.at,
                event.pbx,
                event.queue,
                event.uniqueid,
                event.interface,
                event.member_name or event.interface,
                event.dest_channel,
                event.caller_num,
                event.caller_name,
                event.channel,
                event.linkedid,
                frozen_mapping(ivr),
                waited,
            )
        ]

    def _on_ring_no_answer(self, event: AgentRingNoAnswer) -> list[Change]:
        call = self._call_for(event)
        if call is not None:
            transition(call, Trigger.RING_NO_ANSWER)
            call.ring_no_answer_count += 1
        return [
            CallRingNoAnswer(
                event.at,
                event.pbx,
                event.queue,
                event.uniqueid,
                event.interface,
                event.member_name or event.interface,
                event.ring_time_ms / 1000,
                dumped=False,
            )
        ]

    def _on_dump(self, event: AgentDump) -> list[Change]:
        call = self._call_for(event)
        if call is not None:
            transition(call, Trigger.RING_NO_ANSWER)
        return [
            CallRingNoAnswer(
                event.at,
                event.pbx,
                event.queue,
                event.uniqueid,
                event.interface,
                event.member_name or event.interface,
                None,
                dumped=True,
            )
        ]

    def _on_connect(self, event: AgentConnect) -> list[Change]:
        state = self._state
        changes: list[Change] = []
        call = self._call_for(event)
        if call is None:
            call = self._adopt(event, event.at - timedelta(seconds=event.hold_time), changes)
        was = call.phase
        transition(call, Trigger.CONNECT)
        if was is Phase.WAITING:  # Connect overtook the Leave (an adopted call waits nowhere)
            position = ops.remove_caller(state.queues.get((call.pbx, call.queue)), call)
            if position is not None:
                call.position_at_exit = position
                changes.append(self._left(call, position, event.at, "connect"))
        if event.interface not in call.agents_rung:
            call.agents_rung.append(event.interface)
        member_name = event.member_name or event.interface
        ops.record_answer(
            state, call, event.interface, member_name, float(event.hold_time), event.at
        )
        changes.append(
            CallConnected(
                event.at,
                event.pbx,
                event.queue,
                event.uniqueid,
                event.interface,
                member_name,
                event.dest_channel,
                event.dest_uniqueid,
                event.caller_num,
                event.caller_name,
                float(event.hold_time),
                event.ring_time,
                frozen_mapping(call.ivr),
            )
        )
        return changes

    def _adopt(
        self, event: AgentConnect | AgentComplete, joined_at: datetime, changes: list[Change]
    ) -> Call:
        """A connect or complete for a caller we never saw join (service restarted): keep
        its record."""
        state = self._state
        stale = state.calls.get((event.pbx, event.uniqueid))
        if stale is not None:  # it was in another queue: that call is over
            changes.extend(self._close_for_rejoin(stale, event.at))
        state.queue(event.pbx, event.queue)
        state.next_seq += 1
        call = Call(state.next_seq, event.pbx, event.uniqueid, event.queue, joined_at, 0)
        call.linkedid = event.linkedid
        call.channel = event.channel
        call.caller_num = event.caller_num
        call.caller_name = event.caller_name
        call.ivr = self._ivr_for(event.pbx, event.uniqueid, event.linkedid)
        state.calls[(event.pbx, event.uniqueid)] = call
        return call

    def _on_complete(self, event: AgentComplete) -> list[Change]:
        call = self._call_for(event)
        changes: list[Change] = []
        if call is None:
            if (event.pbx, event.uniqueid) in self._state.ended:
                return [self._ignore(event, "call already ended")]
            # Answered while no process listened (it joined after the last stop): the
            # complete says all the record needs.
            talk = timedelta(seconds=event.talk_time)
            call = self._adopt(event, event.at - talk - timedelta(seconds=event.hold_time), changes)
            # The complete proves the AgentConnect we missed: the call goes the table's way
            # through CONNECTED rather than a row that would also end calls still WAITING.
            transition(call, Trigger.CONNECT)
        transition(call, Trigger.COMPLETE)
        if call.answered_by is None:  # the AgentConnect was missed
            ops.record_answer(
                self._state,
                call,
                event.interface,
                event.member_name or event.interface,
                float(event.hold_time),
                event.at - timedelta(seconds=event.talk_time),
            )
        changes.append(
            ops.close_call(
                self._state,
                call,
                "answered",
                event.at,
                "agent_complete",
                talk_seconds=float(event.talk_time),
                completed_by=event.reason,
            )
        )
        return changes

    # ------------------------------------------------------------------ channels

    def _on_hangup(self, event: Hangup) -> list[Change]:
        key = (event.pbx, event.uniqueid)
        self._state.ivr.pop(key, None)
        call = self._state.calls.get(key)
        if call is None:
            return []  # most hang-ups are of channels that never queued: not worth a Change
        was = call.phase
        transition(call, Trigger.HANGUP)
        if was is Phase.WAITING:
            position = ops.remove_caller(self._state.queues.get((call.pbx, call.queue)), call)
            call.left_at = event.at
            call.position_at_exit = position
            left = self._left(call, position or 0, event.at, "hangup")
            return [left, ops.close_call(self._state, call, "abandoned", event.at, "hangup")]
        if was is Phase.CONNECTED:
            # Now HUNG_UP: the AgentComplete (who ended it, Asterisk's talk time) comes through
            # another stasis subscription and may be behind this Hangup. Decided by it, or at
            # the deadline as ended at this hang-up.
            call.hung_up_at = event.at
            ops.schedule_exit(self._state, call, event.at)
            return []
        return [self._end_unanswered(call, event.at, "hangup")]

    def _on_soft_hangup(self, event: SoftHangupRequest) -> list[Change]:
        call = self._state.calls.get((event.pbx, event.uniqueid))
        if call is not None and event.cause is not None and event.cause & SOFTHANGUP_SHUTDOWN:
            call.pbx_shutdown = True
        return []

    def _on_var_set(self, event: VarSet) -> list[Change]:
        key = (event.pbx, event.uniqueid)
        call = self._state.calls.get(key)
        if event.variable == QUEUESTATUS:
            if call is None:
                return []
            # The table ends only a LEFT call on its QUEUESTATUS; before the Leave (or after an
            # answer) it is kept as evidence.
            ended = transition(call, Trigger.STATUS) is Phase.ENDED
            call.queue_status = event.value
            if ended:
                return [self._end_unanswered(call, event.at, "queuestatus")]
            return []
        self._remember_ivr(key, event.variable, event.value)
        if call is not None:
            call.ivr[event.variable] = event.value
            if event.variable == EXIT_VARIABLE and event.value and call.phase is Phase.LEFT:
                # The caller pressed an exit key: decided now, as a QUEUESTATUS would decide
                # it (the table's LEFT --queuestatus--> ENDED).
                transition(call, Trigger.STATUS)
                return [ops.close_call(self._state, call, "withdrawn", event.at, EXIT_EVIDENCE)]
        return []

    def _remember_ivr(self, key: tuple[str, str], name: str, value: str) -> None:
        ivr = self._state.ivr
        values = ivr.get(key)
        if values is None:
            if len(ivr) >= self.config.ivr_cache_limit:
                # Hang-ups keep this small; the limit only guards against missed ones.
                del ivr[next(iter(ivr))]
            values = ivr[key] = {}
        values[name] = value

    # ------------------------------------------------------------------ members

    def _on_member(self, event: MemberEvent) -> list[Change]:
        changes: list[Change] = []
        queue, created = self._state.queue(event.pbx, event.queue)
        if created:
            changes.append(QueueChanged(event.at, event.pbx, event.queue, "added", None))
        before, after = ops.merge_member(queue, event)
        if before != after:
            changes.append(
                MemberChanged(
                    event.at,
                    event.pbx,
                    event.queue,
                    event.interface,
                    after,
                    before,
                    type(event).__name__,
                )
            )
        return changes

    def _on_member_removed(self, event: QueueMemberRemoved) -> list[Change]:
        queue = self._state.queues.get((event.pbx, event.queue))
        member = None if queue is None else queue.members.pop(event.interface, None)
        if queue is None or member is None:
            return [
                self._ignore(event, "unknown member", (event.pbx, event.queue, event.interface))
            ]
        # A call this member is on goes on: its record already holds the member's name.
        return [
            MemberChanged(
                event.at,
                event.pbx,
                event.queue,
                event.interface,
                None,
                member_view(queue, member),
                type(event).__name__,
            )
        ]


def _seconds_since(start: datetime | None, end: datetime) -> float | None:
    return None if start is None else max(0.0, (end - start).total_seconds())
