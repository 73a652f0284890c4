"""How the supervisor room plugs into the service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from callcenter.component import Component
from callcenter.live import CallConnected, CallEnded, Change, MemberChanged
from callcenter.supervisor.api import SupervisorApi
from callcenter.supervisor.control import Control
from callcenter.supervisor.plan import FOLLOWED_CAUSES

if TYPE_CHECKING:
    from callcenter.ami.link import AmiLink
    from callcenter.service import Service

log = logging.getLogger(__name__)

# Member changes waiting for the database; far more than a whole floor logging out at once.
FOLLOW_BACKLOG = 10_000
# Seconds a followed change waits before it is stored: long enough for the transaction of
# a supervisor action whose echo it may be (on this replica or another) to commit first,
# so the stored row is newer than the change and wins.
FOLLOW_DELAY = 2.0


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
        self._service = service
        # PBX name -> the link session (AmiLink.reconnects) whose desired state was
        # re-applied: only its live member changes are followed, never the transient state
        # of a PBX that is going down, coming back or not yet re-applied.
        self._following: dict[str, int] = {}
        self._followed: asyncio.Queue[tuple[float, MemberChanged]] = asyncio.Queue(FOLLOW_BACKLOG)
        self._follower: asyncio.Task[None] | None = None

    def add_routes(self, app: web.Application) -> None:
        self.api.add_routes(app)

    def on_change(self, change: Change) -> None:
        # Which channel each agent talks on: what ChanSpy needs to listen in.
        channels = self.control.agent_channels
        if isinstance(change, CallConnected) and change.agent_channel:
            channels[(change.pbx, change.agent_interface)] = change.agent_channel
        elif isinstance(change, CallEnded) and change.record.answered_by:
            channels.pop((change.record.pbx, change.record.answered_by), None)
        elif isinstance(change, MemberChanged) and change.cause in FOLLOWED_CAUSES:
            self._follow(change)

    def _follow(self, change: MemberChanged) -> None:
        link = next((link for link in self._service.links if link.name == change.pbx), None)
        # last_error is set from the moment a PBX announces its shutdown until the next login.
        if (
            link is None
            or not link.connected
            or link.last_error
            or self._following.get(change.pbx) != link.reconnects
            or self.control.acting[(change.pbx, change.queue, change.interface)]
        ):
            log.debug(
                "PBX %s: %s of %s not followed (not re-applied yet, or a supervisor's own action)",
                change.pbx,
                change.cause,
                change.interface,
            )
            return
        try:
            self._followed.put_nowait((asyncio.get_running_loop().time(), change))
        except asyncio.QueueFull:
            log.error(
                "PBX %s: %s of %s in %s not followed (backlog full): a restart may "
                "re-apply an older setting",
                change.pbx,
                change.cause,
                change.interface,
                change.queue,
            )

    async def _follow_changes(self) -> None:
        while True:
            received, change = await self._followed.get()
            try:
                await asyncio.sleep(received + FOLLOW_DELAY - asyncio.get_running_loop().time())
                await self.control.follow(change)
            except (SQLAlchemyError, OSError) as exc:
                log.error(
                    "PBX %s: desired state of %s in %s did not follow %s (database: %s)",
                    change.pbx,
                    change.interface,
                    change.queue,
                    change.cause,
                    type(exc).__name__,
                )
            except Exception:
                log.exception("following %s of %s failed", change.cause, change.interface)
            finally:
                self._followed.task_done()

    async def start(self) -> None:
        self._follower = asyncio.ensure_future(self._follow_changes())
        self._follower.set_name("supervisor-follow")

    async def stop(self) -> None:
        if self._follower is None:
            return
        try:
            await asyncio.wait_for(self._followed.join(), FOLLOW_DELAY + 5.0)
        except TimeoutError:
            log.warning("%d member change(s) not followed before stopping", self._followed.qsize())
        self._follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._follower
        self._follower = None

    async def on_pbx_ready(self, link: AmiLink) -> None:
        # A restarted PBX forgets dynamic members and pauses; a reconnect may have missed
        # changes. Either way the model was just resynced, so compare and re-apply.
        self._following.pop(link.name, None)
        try:
            await self.control.reapply(link)
        finally:
            self._following[link.name] = link.reconnects
