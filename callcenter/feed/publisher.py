"""Live-model changes → JSON messages on the hub, in short batches.

A wallboard needs each member's latest state, not every device-state flip in between, and a
queue call makes several member changes within a fraction of a second. So changes are held
for ``interval`` seconds: a newer ``MemberChanged`` of the same member replaces the one
waiting, every other change is sent, in order, and each is serialised once, off the AMI
event path. With nobody subscribed nothing is kept or serialised at all.
"""

from __future__ import annotations

import asyncio

from callcenter.feed.hub import Hub
from callcenter.feed.serialize import change_json
from callcenter.live import Change, MemberChanged

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
        for change in pending:
            self._hub.publish(change_json(change))

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending.clear()
        self._member_slots.clear()
