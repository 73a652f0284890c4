"""Live-model changes → JSON messages on the hub, in short batches.

A wallboard needs each member's latest state, not every device-state flip in between, and a
queue call makes several member changes within a fraction of a second. So changes are held
for ``interval`` seconds: a newer ``MemberChanged`` of the same member replaces the one
waiting, every other change is sent, in order, and each is serialised once, off the AMI
event path. With nobody subscribed nothing is kept or serialised at all.

Whoever is subscribed, a change is still serialised once. When a subscriber follows only
some queues (a team leader's), the hub is also told which queue each change is about, read
from the change itself (``queue_of``), so that no text is parsed back.
"""

from __future__ import annotations

import asyncio

from callcenter.feed.hub import Hub
from callcenter.feed.serialize import change_json
from callcenter.live import CallEnded, CallerJoined, Change, Correction, MemberChanged

DEFAULT_INTERVAL = 0.05


class FeedPublisher:
    def __init__(self, hub: Hub, interval: float = DEFAULT_INTERVAL) -> None:
        self._hub = hub
        self._interval = interval
        self._pending: list[Change] = []
        self._member_slots: dict[tuple[str, str, str], int] = {}
        self._timer: asyncio.TimerHandle | None = None

    def __call__(self, change: Change) -> None:
        if not len(self._hub):
            return
        if isinstance(change, MemberChanged):
            key = (change.pbx, change.queue, change.interface)
            slot = self._member_slots.get(key)
            if slot is not None:
                self._pending[slot] = change
                return
            self._member_slots[key] = len(self._pending)
        self._pending.append(change)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._interval, self.flush)

    def flush(self) -> None:
        self._timer = None
        pending, self._pending = self._pending, []
        self._member_slots.clear()
        publish = self._hub.publish
        if self._hub.narrowed:
            for change in pending:
                publish(change_json(change), queue_of(change))
        else:
            for change in pending:
                publish(change_json(change))

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending.clear()
        self._member_slots.clear()


def queue_of(change: Change) -> str | None:
    """The queue a change is about; None for one about no queue (an ignored event)."""
    if isinstance(change, CallerJoined):
        return change.caller.queue
    if isinstance(change, CallEnded):
        return change.record.queue
    if isinstance(change, Correction):
        # A correction's state before or after it names its queue (a member, a caller, a
        # call); a queue's own corrections and member ones also hold it in their key.
        for state in (change.after, change.before):
            queue = getattr(state, "queue", None)
            if isinstance(queue, str):
                return queue
        if change.kind.startswith(("queue_", "member_")) and len(change.key) > 1:
            return change.key[1]
        return None
    queue = getattr(change, "queue", None)
    return queue if isinstance(queue, str) else None
