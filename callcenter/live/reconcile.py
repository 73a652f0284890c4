"""Resync: make one PBX's part of the model match a QueueStatus + CoreShowChannels snapshot.

Run after every (re)connect. The snapshot is the truth: queues not listed are removed, members
are added/fixed/removed, waiting callers are added/reordered, and open calls the PBX no longer
knows are closed — each fix reported once as a `Correction`. Idempotent: reconciling twice with
the same snapshot changes nothing the second time.

A caller that is no longer in any QueueEntry but whose channel is still up (CoreShowChannel) is
not closed: it left the queue while we were not listening and may still be connected or routed
on, so it is detached (phase LEFT, no deadline) and closed by its next Hangup/AgentComplete or by
a later resync that no longer sees its channel.

A call whose caller hung up while connected (HUNG_UP, awaiting its AgentComplete) needs no fix:
a snapshot without its channel closes it as its deadline would (ended at the hang-up, evidence
"hangup"), with no `Correction`; one the stream touched since is left to its deadline.

Events that arrive while the snapshot is being taken are newer than it: whatever they touched
(named by the `ResyncJournal`) is left as the events made it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from callcenter.live import ops
from callcenter.live.changes import CallerView, Change, Correction, QueueParamsView
from callcenter.live.events import (
    CoreShowChannel,
    QueueEntry,
    QueueMember,
    QueueParams,
    ResyncRecord,
)
from callcenter.live.journal import ResyncJournal
from callcenter.live.state import Call, LiveState, Phase, Queue, Trigger, transition
from callcenter.live.views import call_view, caller_view, member_view, queue_snapshot

__all__ = ["reconcile"]


class _Snapshot:
    """The records of one PBX, split by kind."""

    __slots__ = ("alive", "entries", "members", "params")

    def __init__(self, pbx: str, records: Sequence[ResyncRecord]) -> None:
        self.params: dict[str, QueueParams] = {}
        self.members: dict[str, dict[str, QueueMember]] = {}
        self.entries: dict[str, list[QueueEntry]] = {}
        self.alive: set[str] = set()
        for record in records:
            if record.pbx != pbx:
                continue
            if isinstance(record, QueueParams):
                self.params[record.queue] = record
            elif isinstance(record, QueueMember):
                self.members.setdefault(record.queue, {})[record.interface] = record
            elif isinstance(record, QueueEntry):
                self.entries.setdefault(record.queue, []).append(record)
            elif isinstance(record, CoreShowChannel):
                self.alive.add(record.uniqueid)
        for entries in self.entries.values():
            entries.sort(key=lambda entry: entry.position)

    def queues(self) -> set[str]:
        return set(self.params) | set(self.members) | set(self.entries)

    def entry_uniqueids(self) -> set[str]:
        return {e.uniqueid for entries in self.entries.values() for e in entries}


def reconcile(
    state: LiveState,
    pbx: str,
    records: Sequence[ResyncRecord],
    now: datetime,
    journal: ResyncJournal | None = None,
) -> list[Change]:
    snap = _Snapshot(pbx, records)
    newer = journal or ResyncJournal()
    listed = snap.queues()
    changes: list[Change] = []
    changes += _sync_queues(state, pbx, snap, listed, now)
    changes += _sync_members(state, pbx, snap, listed, now, newer)
    changes += _close_vanished_calls(state, pbx, snap, now, newer)
    changes += _sync_waiting(state, pbx, snap, now, newer)
    changes += _remove_unlisted_queues(state, pbx, listed, now)
    _drop_dead_ivr(state, pbx, snap.alive)
    state.corrections += sum(1 for change in changes if isinstance(change, Correction))
    return changes


def _sync_queues(
    state: LiveState, pbx: str, snap: _Snapshot, listed: set[str], now: datetime
) -> list[Change]:
    changes: list[Change] = []
    for name in sorted(listed):
        queue, created = state.queue(pbx, name)
        if created:
            changes.append(Correction(now, pbx, "queue_added", (pbx, name), None, None))
        record = snap.params.get(name)
        if record is None:
            continue
        params = QueueParamsView(record.strategy, record.max, record.service_level, record.weight)
        if params != queue.params:
            changes.append(Correction(now, pbx, "queue_params", (pbx, name), queue.params, params))
            queue.params = params
    return changes


def _sync_members(
    state: LiveState,
    pbx: str,
    snap: _Snapshot,
    listed: set[str],
    now: datetime,
    newer: ResyncJournal,
) -> list[Change]:
    changes: list[Change] = []
    for name in sorted(listed):
        queue = state.queues[(pbx, name)]
        desired = {
            interface: record
            for interface, record in snap.members.get(name, {}).items()
            if (name, interface) not in newer.members
        }
        for interface in [
            i for i in queue.members if i not in desired and (name, i) not in newer.members
        ]:
            removed = member_view(queue, queue.members.pop(interface))
            changes.append(
                Correction(now, pbx, "member_removed", (pbx, name, interface), removed, None)
            )
        for interface, record in desired.items():
            before, after = ops.merge_member(queue, record)
            if before is None:
                changes.append(
                    Correction(now, pbx, "member_added", (pbx, name, interface), None, after)
                )
            elif before != after:
                changes.append(
                    Correction(now, pbx, "member_fixed", (pbx, name, interface), before, after)
                )
    return changes


def _close(state: LiveState, call: Call, now: datetime, kind: str) -> list[Change]:
    """Close an open call the PBX no longer knows: once, with a Correction and its record."""
    before = call_view(call)  # first: a view has no ENDED phase
    was = call.phase
    transition(call, Trigger.RESYNC_CLOSE)
    if was is Phase.WAITING:
        position = ops.remove_caller(state.queues.get((call.pbx, call.queue)), call)
        call.left_at, call.position_at_exit = now, position
    if was is Phase.CONNECTED:
        talk = None if call.answered_at is None else (now - call.answered_at).total_seconds()
        ended = ops.close_call(state, call, "answered", now, "reconcile", talk_seconds=talk)
    elif was is Phase.HUNG_UP:
        ended = ops.close_hung_up(state, call)  # its Hangup was seen: it ended then
    else:
        ended = ops.close_call(state, call, "unknown", now, "reconcile")
    key = (call.pbx, call.uniqueid)
    return [Correction(now, call.pbx, kind, key, before, ended.record), ended]


def _close_vanished_calls(
    state: LiveState, pbx: str, snap: _Snapshot, now: datetime, newer: ResyncJournal
) -> list[Change]:
    queued = snap.entry_uniqueids()
    changes: list[Change] = []
    for call in [c for c in state.calls.values() if c.pbx == pbx]:
        if call.uniqueid in queued or call.uniqueid in newer.calls:
            continue  # _sync_waiting decides, or the events are newer than the snapshot
        alive = call.uniqueid in snap.alive
        if call.phase is Phase.WAITING and alive:
            changes.append(_detach(state, call, now))
        elif call.phase is Phase.HUNG_UP and not alive:
            # The model already knew it ended (only its AgentComplete was awaited, and one
            # that missed the snapshot is unlikely to come): no fix, closed as at its deadline.
            transition(call, Trigger.RESYNC_CLOSE)
            changes.append(ops.close_hung_up(state, call))
        elif not alive:
            changes += _close(state, call, now, "call_closed")
    return changes


def _detach(state: LiveState, call: Call, now: datetime) -> Correction:
    transition(call, Trigger.RESYNC_DETACH)
    queue = state.queues.get((call.pbx, call.queue))
    position = ops.remove_caller(queue, call)
    before = caller_view(call, position or 0)
    call.left_at, call.position_at_exit = now, position
    return Correction(now, call.pbx, "caller_detached", (call.pbx, call.uniqueid), before, None)


def _sync_waiting(
    state: LiveState, pbx: str, snap: _Snapshot, now: datetime, newer: ResyncJournal
) -> list[Change]:
    changes: list[Change] = []
    for name in sorted(snap.entries):
        queue = state.queues[(pbx, name)]
        entries = snap.entries[name]
        _learn_priorities(state, pbx, name, entries)
        before = {c.seq: caller_view(c, i) for i, c in enumerate(queue.waiting, start=1)}
        order: list[Call] = []
        for entry in entries:
            call = state.calls.get((pbx, entry.uniqueid))
            waiting_here = call is not None and call.queue == name and call.phase is Phase.WAITING
            if not waiting_here and _events_are_newer(newer, entry.uniqueid, call):
                continue  # it left (or moved on) after the snapshot was taken
            if call is not None and not waiting_here:
                changes += _close(state, call, now, "call_closed")  # it left and came back
                call = None
            if call is None:
                call = _add_caller(state, pbx, entry, now)
            elif call in order:
                continue  # a duplicated entry: keep the first
            _copy_entry(call, entry)
            order.append(call)
        # Those who joined after the snapshot was taken keep their place at the back.
        order += [c for c in queue.waiting if c not in order and c.uniqueid in newer.calls]
        queue.waiting = order
        changes += _caller_corrections(queue, before, now)
    return changes


def _events_are_newer(newer: ResyncJournal, uniqueid: str, call: Call | None) -> bool:
    # A known call the stream moved on, or an unknown one the stream saw leave.
    return uniqueid in newer.left or (call is not None and uniqueid in newer.calls)


def _learn_priorities(state: LiveState, pbx: str, name: str, entries: list[QueueEntry]) -> None:
    # QueueCallerJoin carries no priority: learning it is not a fix.
    for entry in entries:
        call = state.calls.get((pbx, entry.uniqueid))
        if call is not None and call.queue == name and call.priority is None:
            call.priority = entry.priority


def _add_caller(state: LiveState, pbx: str, entry: QueueEntry, now: datetime) -> Call:
    state.next_seq += 1
    joined_at = now - timedelta(seconds=entry.wait)
    call = Call(state.next_seq, pbx, entry.uniqueid, entry.queue, joined_at, entry.position)
    call.linkedid = entry.uniqueid
    call.ivr = dict(state.ivr.get((pbx, entry.uniqueid), {}))
    state.calls[(pbx, entry.uniqueid)] = call
    return call


def _copy_entry(call: Call, entry: QueueEntry) -> None:
    call.channel = entry.channel
    call.caller_num = entry.caller_num
    call.caller_name = entry.caller_name
    call.priority = entry.priority


def _caller_corrections(queue: Queue, before: dict[int, CallerView], now: datetime) -> list[Change]:
    changes: list[Change] = []
    for position, call in enumerate(queue.waiting, start=1):
        after = caller_view(call, position)
        previous = before.get(call.seq)
        key = (queue.pbx, call.uniqueid)
        if previous is None:
            changes.append(Correction(now, queue.pbx, "caller_added", key, None, after))
        elif previous != after:
            changes.append(Correction(now, queue.pbx, "caller_fixed", key, previous, after))
    return changes


def _remove_unlisted_queues(
    state: LiveState, pbx: str, listed: set[str], now: datetime
) -> list[Change]:
    changes: list[Change] = []
    for key in [k for k in state.queues if k[0] == pbx and k[1] not in listed]:
        queue = state.queues[key]
        for call in list(queue.waiting):
            changes += _close(state, call, now, "call_closed")
        del state.queues[key]
        changes.append(Correction(now, pbx, "queue_removed", key, queue_snapshot(queue), None))
    return changes


def _drop_dead_ivr(state: LiveState, pbx: str, alive: set[str]) -> None:
    for key in [k for k in state.ivr if k[0] == pbx and k[1] not in alive]:
        del state.ivr[key]
