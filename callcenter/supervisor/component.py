"""How the supervisor room plugs into the service."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from callcenter.component import Component
from callcenter.live import CallConnected, CallEnded, Change
from callcenter.supervisor.api import SupervisorApi
from callcenter.supervisor.control import Control

if TYPE_CHECKING:
    from callcenter.ami.link import AmiLink
    from callcenter.service import Service

log = logging.getLogger(__name__)


class SupervisorComponent(Component):
    name = "supervisor"

    def __init__(self, service: Service) -> None:
        self.engine = service.engine
        settings = service.settings.supervisor
        # The service builds its links after its components: look them up when needed.
        self.control = Control(
            service.model,
            lambda name: next((link for link in service.links if link.name == name), None),
            service.engine,
            service.hub.publish,
            service.resync,
            move_context=settings.move_context,
            spy_caller_id=settings.spy_caller_id,
        )
        self.api = SupervisorApi(self)

    def add_routes(self, app: web.Application) -> None:
        self.api.add_routes(app)

    def on_change(self, change: Change) -> None:
        # Which channel each agent talks on: what ChanSpy needs to listen in.
        channels = self.control.agent_channels
        if isinstance(change, CallConnected) and change.agent_channel:
            channels[(change.pbx, change.agent_interface)] = change.agent_channel
        elif isinstance(change, CallEnded) and change.record.answered_by:
            channels.pop((change.record.pbx, change.record.answered_by), None)

    async def on_pbx_ready(self, link: AmiLink) -> None:
        # A restarted PBX forgets dynamic members and pauses; a reconnect may have missed
        # changes. Either way the model was just resynced, so compare and re-apply.
        await self.control.reapply(link)
