"""The IVR room in the service: the FastAGI server and its routes."""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from callcenter.component import Component
from callcenter.customers.directory import CustomerDirectory as ScreenPopDirectory
from callcenter.ivr.agi import FastAgiServer
from callcenter.ivr.directory import (
    CustomerDirectory,
    IndexedCustomerDirectory,
    SqlCustomerDirectory,
)
from callcenter.ivr.routes import IvrRoutes

if TYPE_CHECKING:
    from callcenter.service import Service


class IvrComponent(Component):
    name = "ivr"

    def __init__(self, service: Service, directory: CustomerDirectory | None = None) -> None:
        settings = service.settings
        self._service = service
        self._explicit_directory = directory
        # The screen-pop's calendar and overdue window: an open complaint means the same
        # to the hotline as on the agent's card.
        sql_directory = SqlCustomerDirectory(
            service.engine,
            zone=ZoneInfo(settings.ivr.timezone),
            follow_up_overdue_days=settings.screenpop.follow_up_overdue_days,
        )
        self.routes = IvrRoutes(
            settings.ivr,
            service.engine,
            directory or sql_directory,
            [pbx.name for pbx in settings.pbx],
        )
        self.server = FastAgiServer(
            settings.fastagi.host, settings.fastagi.port, self.routes.handlers()
        )

    async def start(self) -> None:
        if self._explicit_directory is None:
            index = self._screenpop_index()
            if index is not None:
                # The screen-pop keeps customers, their latest calls and open follow-ups in
                # memory: a lookup needs no database round trip.
                self.routes.use_directory(IndexedCustomerDirectory(index))
        # A port that cannot be bound fails the start-up: the hotline must not silently
        # lose its decisions.
        await self.server.start()

    def _screenpop_index(self) -> ScreenPopDirectory | None:
        for component in self._service.components:
            index = getattr(component, "directory", None)
            if isinstance(index, ScreenPopDirectory):
                return index
        return None

    async def stop(self) -> None:
        await self.server.stop()
        await self.routes.drain()
