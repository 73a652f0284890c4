"""The IVR room: the FastAGI server and its routes (no HTTP routes).

The lookup route answers from the customer directory's memory (``IndexedCustomerDirectory``
over the directory the customer directory room keeps): customers, their latest calls and
open follow-ups, so a lookup needs no database round trip.

Other rooms' FastAGI routes (``extra_routes``, e.g. the agents' phone sign-in) are served by
the same server, next to the IVR's own; a name both claim is refused when the room is built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import ClassVar

from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.component import Room
from callcenter.customers.directory import CustomerDirectory
from callcenter.ivr.agi import FastAgiServer, Handler, route_problem
from callcenter.ivr.directory import IndexedCustomerDirectory
from callcenter.ivr.routes import CallbackBook, IvrRoutes
from callcenter.settings import FastAgiSettings, IvrSettings


class IvrRoom(Room):
    name: ClassVar[str] = "ivr"

    def __init__(
        self,
        settings: IvrSettings,
        fastagi: FastAgiSettings,
        engine: AsyncEngine,
        directory: CustomerDirectory,
        *,
        pbx_names: Sequence[str],
        extra_routes: Mapping[str, Handler] = MappingProxyType({}),
        callbacks: CallbackBook | None = None,
    ) -> None:
        # An open complaint means the same to the hotline as on the agent's card: both read
        # the one directory, with its overdue window and calendar.
        # Callbacks callers book are dialled by the work-items room (``callbacks``).
        self.agi_routes = IvrRoutes(
            settings, engine, IndexedCustomerDirectory(directory), pbx_names, callbacks=callbacks
        )
        routes = self.agi_routes.handlers()
        clashes = sorted(set(routes) & set(extra_routes))
        if clashes:
            raise ValueError(f"FastAGI route(s) {', '.join(clashes)} already served by the IVR")
        for name in extra_routes:
            problem = route_problem(name)
            if problem is not None:
                raise ValueError(f"FastAGI {problem}: no dialplan could call it")
        routes.update(extra_routes)
        self.server = FastAgiServer(fastagi.host, fastagi.port, routes)

    async def start(self) -> None:
        # A port that cannot be bound fails the start-up: the hotline must not silently
        # lose its decisions.
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()
        await self.agi_routes.drain()
