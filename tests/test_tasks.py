"""The host's background tasks: a crash is logged and counted, stop cancels newest first."""

from __future__ import annotations

import asyncio
import logging

import pytest
from prometheus_client import CollectorRegistry

from callcenter.tasks import Tasks


async def test_a_crashed_task_is_logged_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    tasks = Tasks(registry)

    async def crash() -> None:
        raise RuntimeError("boom")

    task = tasks.group("records").spawn(crash(), "writer")
    with caplog.at_level(logging.ERROR):
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0)
    assert "task records:writer crashed" in caplog.text
    assert (
        registry.get_sample_value("callcenter_task_crashes_total", {"task": "records:writer"})
        == 1.0
    )
    assert len(tasks.group("records")) == 0


async def test_cancel_stops_newest_first_and_forgets_finished_ones() -> None:
    tasks = Tasks(CollectorRegistry())
    stopped: list[str] = []

    async def wait(name: str) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            stopped.append(name)

    async def quick() -> None:
        return None

    group = tasks.group("routing")
    group.spawn(wait("first"), "first")
    done = group.spawn(quick(), "quick")
    tasks.group("supervisor").spawn(wait("other room"), "follow")
    group.spawn(wait("last"), "last")
    await done
    await asyncio.sleep(0)  # its done-callback runs on the next turn of the loop
    assert group.names() == ["routing:first", "routing:last"]
    await tasks.cancel_all()
    assert stopped == ["other room", "last", "first"]
    assert len(group) == 0
