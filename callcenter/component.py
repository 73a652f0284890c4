"""How a room plugs into the service: the ports it may use, and the hooks it may offer.

A room (records, screen-pop, IVR, routing...) is a ``Room``: it offers its routes, its share
of live changes and its life cycle. It is built in the composition root (``service.py``) from
its settings section, a ``Host`` (what every room may use of the service) and the named ports
of the sibling rooms it needs (a Protocol each, e.g. ``records.customers.CustomerRoom``). No
room imports ``service.py`` or reaches into another room. See ``docs/architecture.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.live import AgentView, Change, ModelSnapshot, QueueView
from callcenter.tasks import Spawn, Tasks

if TYPE_CHECKING:
    from callcenter.ami.link import AmiLink
    from callcenter.web.http import Route

log = logging.getLogger(__name__)


class LiveReader(Protocol):
    """Read access to the live model (only the service's ingest writes to it)."""

    def queue_view(self, pbx: str, queue: str, now: datetime) -> QueueView: ...

    def queue_views(self, now: datetime) -> tuple[QueueView, ...]: ...

    def agents_view(self, now: datetime) -> tuple[AgentView, ...]: ...

    def snapshot(self) -> ModelSnapshot: ...


class PbxLink(Protocol):
    """What rooms use of one PBX's AMI link (``callcenter.ami.link.AmiLink`` in the service;
    tests may give an in-memory stand-in)."""

    @property
    def name(self) -> str: ...

    @property
    def connected(self) -> bool: ...

    @property
    def reconnects(self) -> int:
        """Logins so far: tells one link session from the next."""

    @property
    def last_error(self) -> str: ...

    async def send(
        self, fields: Mapping[str, str], *, as_list: bool = False, timeout: float | None = None
    ) -> Any: ...


class LinkDirectory(Protocol):
    """The PBX links by name: the read side of ``PbxLinks`` that rooms get."""

    def get(self, name: str) -> PbxLink | None: ...

    def connected(self, name: str) -> PbxLink | None: ...

    def names(self) -> list[str]: ...

    def __iter__(self) -> Iterator[PbxLink]: ...


L = TypeVar("L", bound=PbxLink)


class PbxLinks(Generic[L]):
    """The AMI links by PBX name, in configuration order."""

    def __init__(self, links: Sequence[L] = ()) -> None:
        self._links: dict[str, L] = {}
        for link in links:
            self.add(link)

    def add(self, link: L) -> None:
        if link.name in self._links:
            raise ValueError(f"two links for PBX {link.name!r}")
        self._links[link.name] = link

    def get(self, name: str) -> L | None:
        return self._links.get(name)

    def connected(self, name: str) -> L | None:
        """The PBX's link while it is logged in, else None."""
        link = self._links.get(name)
        return link if link is not None and link.connected else None

    def names(self) -> list[str]:
        return list(self._links)

    def __iter__(self) -> Iterator[L]:
        return iter(list(self._links.values()))


Publish = Callable[[str], None]
Resync = Callable[[str], Awaitable[None]]
# (PBX name, the event's fields, when it was received): on the event path, enqueue only.
AmiTap = Callable[[str, Mapping[str, str], datetime], None]


class AmiTaps:
    """Raw AMI events for the rooms that need more than the live model's changes (the
    callback dialler follows its own channels). Every event of every PBX passes through each
    tap, on the event path: a tap checks cheaply whether the event is its own and only
    enqueues. A tap that raises is logged and the others still get the event."""

    def __init__(self) -> None:
        self._taps: list[AmiTap] = []

    def add(self, tap: AmiTap) -> None:
        self._taps.append(tap)

    def __call__(self, pbx: str, fields: Mapping[str, str], received_at: datetime) -> None:
        for tap in self._taps:
            try:
                tap(pbx, fields, received_at)
            except Exception:
                log.exception("AMI tap %r failed on %s", tap, fields.get("Event"))


@dataclass(frozen=True)
class Host:
    """What any room may use of the service, and nothing more."""

    engine: AsyncEngine
    live: LiveReader
    # Send one message (JSON text) to every /ws/live subscriber.
    publish: Publish
    links: LinkDirectory
    # Rebuild one PBX's part of the live model from the PBX's own view (by PBX name).
    resync: Resync
    registry: CollectorRegistry
    tasks: Tasks
    # Raw AMI events (the service calls them after the live model's ingest).
    ami_taps: AmiTaps = field(default_factory=AmiTaps)

    def spawner(self, room: str) -> Spawn:
        """The room's own ``spawn``: its tasks are tracked, logged on a crash, and
        cancelled by the service right after the room stopped."""
        return self.tasks.group(room).spawn


class Room:
    """One concern of the service. The defaults do nothing: a room overrides what it uses."""

    name: ClassVar[str] = "room"

    def routes(self) -> Sequence[Route]:
        """The room's HTTP and WebSocket routes, each with its declared access."""
        return ()

    def on_change(self, change: Change) -> None:
        """Receive each live-model change, on the event path: enqueue only, never block."""

    async def on_pbx_ready(self, link: AmiLink) -> None:
        """After a PBX (re)connected and the model was resynced (re-apply desired state...)."""

    async def start(self) -> None:
        """Called after migrations, before the AMI links connect."""

    async def stop(self) -> None:
        """Called after the AMI links stopped: flush what is pending. The room's tasks are
        cancelled right after."""
