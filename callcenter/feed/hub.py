"""Fan-out of live changes to WebSocket subscribers, each behind its own bounded queue.

A slow browser must never slow the event path: publishing only appends to queues, and a
subscriber whose queue is full is dropped (its page reconnects and reloads the state).

A subscriber may be narrowed to some queues (a team leader: their teams' queues). It then
gets the messages about those queues and the messages about no queue (a PBX link's state,
a re-apply); the others are skipped for it. While nobody narrowed is subscribed, publishing
is the plain loop it always was.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

log = logging.getLogger(__name__)

# Whether a narrowed subscriber follows a queue (``Scope.has_queue``).
QueueFilter = Callable[[str], bool]


class _Unread:
    """``publish``'s default: which queue the text is about is read from the text itself."""


UNREAD: Final = _Unread()


@dataclass(eq=False)
class Subscriber:
    queue: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(10_000))
    dropped: bool = False
    # None: every message. Otherwise the queues followed (messages about no queue: all).
    follows: QueueFilter | None = None


def queue_of_text(text: str) -> str | None:
    """The queue a published JSON message is about: its top-level ``queue``, if any."""
    try:
        data: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    queue = data.get("queue") if isinstance(data, dict) else None
    return queue if isinstance(queue, str) else None


class Hub:
    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()
        self._narrowed: set[Subscriber] = set()

    def subscribe(self, follows: QueueFilter | None = None) -> Subscriber:
        """A new subscriber; ``follows`` narrows it to the queues it accepts."""
        subscriber = Subscriber(follows=follows)
        self._subscribers.add(subscriber)
        if follows is not None:
            self._narrowed.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)
        self._narrowed.discard(subscriber)

    @property
    def narrowed(self) -> bool:
        """Whether any subscriber follows only some queues (publishers then say which)."""
        return bool(self._narrowed)

    def publish(self, text: str, queue: str | _Unread | None = UNREAD) -> None:
        """Send ``text`` on. ``queue``: the queue it is about (None: no queue); when not
        given and somebody is narrowed, it is read from the text's top-level ``queue``."""
        if self._narrowed:
            self._publish_narrowed(text, queue)
            return
        for subscriber in list(self._subscribers):
            try:
                subscriber.queue.put_nowait(text)
            except asyncio.QueueFull:
                log.warning("live-feed subscriber too slow; dropping it")
                self._drop(subscriber)

    def _publish_narrowed(self, text: str, queue: str | _Unread | None) -> None:
        about = queue_of_text(text) if isinstance(queue, _Unread) else queue
        for subscriber in list(self._subscribers):
            follows = subscriber.follows
            if about is not None and follows is not None and not follows(about):
                continue
            try:
                subscriber.queue.put_nowait(text)
            except asyncio.QueueFull:
                log.warning("live-feed subscriber too slow; dropping it")
                self._drop(subscriber)

    def close(self) -> None:
        for subscriber in list(self._subscribers):
            self._drop(subscriber)

    def _drop(self, subscriber: Subscriber) -> None:
        subscriber.dropped = True
        self.unsubscribe(subscriber)
        while not subscriber.queue.empty():
            subscriber.queue.get_nowait()
        subscriber.queue.put_nowait(None)  # wakes the sender, which closes the socket

    def __len__(self) -> int:
        return len(self._subscribers)
