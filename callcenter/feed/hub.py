"""Fan-out of live changes to WebSocket subscribers, each behind its own bounded queue.

A slow browser must never slow the event path: publishing only appends to queues, and a
subscriber whose queue is full is dropped (its page reconnects and reloads the state).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Subscriber:
    queue: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(10_000))
    dropped: bool = False


class Hub:
    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()

    def subscribe(self) -> Subscriber:
        subscriber = Subscriber()
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def publish(self, text: str) -> None:
        for subscriber in list(self._subscribers):
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
        self._subscribers.discard(subscriber)
        while not subscriber.queue.empty():
            subscriber.queue.get_nowait()
        subscriber.queue.put_nowait(None)  # wakes the sender, which closes the socket

    def __len__(self) -> int:
        return len(self._subscribers)
