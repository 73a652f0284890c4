"""What the live stream said about one PBX while a resync snapshot was being taken.

QueueStatus and CoreShowChannels are answered over a few hundred milliseconds while events keep
arriving and are applied at once. A snapshot taken before those events is older than the model
for whatever they touched: re-adding a caller who left meanwhile would turn their timeout into an
abandon, and dropping one who joined meanwhile would lose them. The journal names what the
stream touched so the reconcile leaves exactly that to the events.
"""

from __future__ import annotations

from callcenter.live.events import (
    AgentComplete,
    AgentConnect,
    Event,
    Hangup,
    MemberEvent,
    QueueCallerAbandon,
    QueueCallerLeave,
)

__all__ = ["ResyncJournal"]

# Events after which the caller is no longer waiting, whatever an older snapshot says.
_LEAVING = (QueueCallerLeave, QueueCallerAbandon, AgentConnect, AgentComplete, Hangup)


class ResyncJournal:
    """Call ids and queue members the stream touched since the snapshot began."""

    __slots__ = ("calls", "left", "members")

    def __init__(self) -> None:
        self.calls: set[str] = set()
        self.left: set[str] = set()
        self.members: set[tuple[str, str]] = set()

    def note(self, event: Event) -> None:
        if isinstance(event, MemberEvent):
            self.members.add((event.queue, event.interface))
            return
        uniqueid: str | None = getattr(event, "uniqueid", None)
        if not uniqueid:
            return
        self.calls.add(uniqueid)
        if isinstance(event, _LEAVING):
            self.left.add(uniqueid)
