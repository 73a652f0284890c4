"""The transfers room: the console's transfers, escalation tiers, hold, mute and conference,
the transfer directory, and the legs of the calls it takes part in (docs/transfers.md)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import ClassVar, Protocol

from callcenter.audit.log import Audit
from callcenter.clock import Clock, utc_now
from callcenter.component import Host, Room
from callcenter.ivr.agi import Handler
from callcenter.live import Change
from callcenter.settings import TransfersSettings
from callcenter.tasks import every
from callcenter.transfers.agi import TransferRoutes
from callcenter.transfers.api import TransfersApi
from callcenter.transfers.desk import CallerCards, TransferDesk, TransferPeople
from callcenter.transfers.targets import load_targets, seed_targets
from callcenter.transfers.targets_api import TargetsApi
from callcenter.web.http import Route
from callcenter.work.ports import CallParts

log = logging.getLogger(__name__)

# Seconds between re-reads of the directory (another replica's admin may have changed it).
DIRECTORY_REFRESH_SECONDS = 30.0
# Seconds between sweeps for transfers whose report was lost (desk.sweep).
SWEEP_SECONDS = 30.0


class CallPartsTaker(Protocol):
    """The work-items room: told who took a part of a call (``CallParts``)."""

    def attach_call_parts(self, parts: CallParts) -> None: ...


class TransfersRoom(Room):
    name: ClassVar[str] = "transfers"

    def __init__(
        self,
        host: Host,
        settings: TransfersSettings,
        people: TransferPeople,
        cards: CallerCards,
        *,
        audit: Audit,
        work: CallPartsTaker | None = None,
        pbx_names: Sequence[str],
        var_prefix: str,
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings
        self._engine = host.engine
        self._clock = clock
        self._spawn = host.spawner(self.name)
        self.desk = TransferDesk(
            settings,
            host.engine,
            host.links,
            host.live,
            people,
            cards,
            var_prefix=var_prefix,
            clock=clock,
        )
        self.agi = TransferRoutes(self.desk, pbx_names)
        self.api = TransfersApi(self.desk, audit, clock)
        self.targets_api = TargetsApi(host.engine, audit, self.reload_targets, clock)
        host.ami_taps.add(self.desk.on_ami_event)
        if work is not None:
            # A work item filed on any leg belongs to the whole call.
            work.attach_call_parts(self.desk)

    def agi_routes(self) -> Mapping[str, Handler]:
        return self.agi.handlers()

    def routes(self) -> Sequence[Route]:
        return [*self.api.routes(), *self.targets_api.routes()]

    def on_change(self, change: Change) -> None:
        self.desk.on_change(change)

    async def reload_targets(self) -> None:
        self.desk.targets = await load_targets(self._engine)

    async def start(self) -> None:
        # The configuration seeds an empty directory (the first start); afterwards the
        # admins' edits are the truth, and a target they deleted stays deleted.
        if not await load_targets(self._engine):
            added = await seed_targets(self._engine, self.settings.target, self._clock())
            if added:
                log.info("transfer directory: added %s from the configuration", ", ".join(added))
        await self.reload_targets()
        await self.desk.load()
        self._spawn(self.desk.work(), "jobs")
        self._spawn(
            every(DIRECTORY_REFRESH_SECONDS, self.reload_targets, "transfer directory refresh"),
            "directory",
        )
        self._spawn(every(SWEEP_SECONDS, self.desk.sweep, "transfers sweep"), "sweep")
