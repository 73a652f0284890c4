"""Background tasks owned by the host: named, tracked, cancelled in reverse order, never lost.

Every room and the service itself start their background work through one ``Tasks``: a task
that ends with an exception is logged once with its name and counted in
``callcenter_task_crashes_total{task}`` (an asyncio task whose exception nobody reads would
otherwise vanish until garbage collection, if ever). ``Tasks.group(owner)`` gives a room its own
``TaskGroup``, so the service can stop each room's tasks right after that room stopped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter

log = logging.getLogger(__name__)


class Spawn(Protocol):
    """The one way a room starts background work (``TaskGroup.spawn``)."""

    def __call__(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]: ...


class TaskGroup:
    """The tasks of one owner (a room, or the service), in the order they were started."""

    def __init__(self, owner: str, crashes: Counter | None = None) -> None:
        self.owner = owner
        self._crashes = crashes
        # A dict keeps start order (for the reverse-order cancel) and removes in O(1).
        self._running: dict[asyncio.Task[None], None] = {}

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        task.set_name(f"{self.owner}:{name}")
        self._running[task] = None
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task, None)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        if self._crashes is not None:
            self._crashes.labels(task.get_name()).inc()
        log.error("task %s crashed", task.get_name(), exc_info=exc)

    def __len__(self) -> int:
        return len(self._running)

    def names(self) -> list[str]:
        return [task.get_name() for task in self._running]

    async def cancel(self) -> None:
        """Cancel every running task, newest first, and wait for each to finish."""
        for task in reversed(list(self._running)):
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # we are being cancelled ourselves: do not swallow it
            except Exception:
                pass  # already logged by _finished


class Tasks:
    """Every owner's ``TaskGroup``; the host cancels them in reverse order of creation."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self._crashes = Counter(
            "callcenter_task_crashes",
            "Background tasks that ended with an exception, by task name",
            ["task"],
            registry=registry,
        )
        self._groups: dict[str, TaskGroup] = {}

    def group(self, owner: str) -> TaskGroup:
        group = self._groups.get(owner)
        if group is None:
            group = self._groups[owner] = TaskGroup(owner, self._crashes)
        return group

    async def cancel_all(self) -> None:
        for group in reversed(list(self._groups.values())):
            await group.cancel()


async def every(seconds: float, job: Callable[[], Awaitable[None]], what: str) -> None:
    """Run ``job`` every ``seconds`` until cancelled; a failing run is logged and the next
    one comes as planned (a periodic job must not die of one bad turn)."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await job()
        except Exception:
            log.exception("%s failed", what)
