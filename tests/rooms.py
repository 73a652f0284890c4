"""Rooms built for tests from real small parts: a real engine, a real live model, a real
metrics registry and task group; only the feed is a list that collects what was published."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.component import Host, LinkDirectory, LiveReader, PbxLinks
from callcenter.live import LiveConfig, LiveModel
from callcenter.tasks import Tasks


async def _no_resync(pbx: str) -> None:
    raise AssertionError(f"unexpected resync of PBX {pbx}")


def make_host(
    engine: AsyncEngine,
    *,
    live: LiveReader | None = None,
    links: LinkDirectory | None = None,
    published: list[str] | None = None,
    resync: Callable[[str], Awaitable[None]] = _no_resync,
) -> Host:
    """A ``Host`` whose ``publish`` appends to ``published`` (when given)."""
    sink = published if published is not None else []
    registry = CollectorRegistry()
    return Host(
        engine=engine,
        live=live if live is not None else LiveModel(LiveConfig()),
        publish=sink.append,
        links=links if links is not None else PbxLinks(),
        resync=resync,
        registry=registry,
        tasks=Tasks(registry),
    )
