"""The supervisor room: live queue control, the audit log, interval bars, the wallboard.

A user without ``teams:all`` steers only their teams' queues and agents (``scopes``, a
``callcenter.agents.scope.TeamScopes``; see ``control.py``).

Besides its routes it keeps the stored desired state of queue members in step with the
PBX: member changes made outside the console (a phone's pause key, the Asterisk CLI) are
followed into the database after a short delay, and after every (re)connect the stored
state is re-applied to the PBX.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy.exc import SQLAlchemyError

from callcenter.agents.scope import TeamScopes
from callcenter.component import Host, PbxLink, Room
from callcenter.live import CallConnected, CallEnded, Change, MemberChanged
from callcenter.settings import SupervisorSettings
from callcenter.supervisor.api import SupervisorApi
from callcenter.supervisor.control import Control
from callcenter.supervisor.plan import FOLLOWED_CAUSES

if TYPE_CHECKING:
    from callcenter.web.http import Route

log = logging.getLogger(__name__)

# Member changes waiting for the database; far more than a whole floor logging out at once.
FOLLOW_BACKLOG = 10_000
# Seconds a followed change waits before it is stored: long enough for the transaction of
# a supervisor action whose echo it may be (on this replica or another) to commit first,
# so the stored row is newer than the change and wins.
FOLLOW_DELAY = 2.0


class SupervisorRoom(Room):
    name: ClassVar[str] = "supervisor"

    def __init__(self, host: Host, settings: SupervisorSettings, scopes: TeamScopes) -> None:
        # The service adds its links after building the rooms: they are looked up when needed.
        self.links = host.links
        self.control = Control(
            host.live,
            host.links.get,
            host.engine,
            host.publish,
            host.resync,
            scopes=scopes,
            move_context=settings.move_context,
            spy_caller_id=settings.spy_caller_id,
        )
        self.api = SupervisorApi(self.control, host.engine)
        self._spawn = host.spawner(self.name)
        # PBX name -> the link session (PbxLink.reconnects) whose desired state was
        # re-applied: only its live member changes are followed, never the transient state
        # of a PBX that is going down, coming back or not yet re-applied.
        self._following: dict[str, int] = {}
        self._followed: asyncio.Queue[tuple[float, MemberChanged]] = asyncio.Queue(FOLLOW_BACKLOG)
        self._follower: asyncio.Task[None] | None = None

    def routes(self) -> Sequence[Route]:
        return self.api.routes()

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
        link = self.links.get(change.pbx)
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
        self._follower = self._spawn(self._follow_changes(), "follow")

    async def stop(self) -> None:
        """Let the follower store what is queued; the service cancels it right after."""
        if self._follower is None:
            return
        self._follower = None
        try:
            await asyncio.wait_for(self._followed.join(), FOLLOW_DELAY + 5.0)
        except TimeoutError:
            log.warning("%d member change(s) not followed before stopping", self._followed.qsize())

    async def on_pbx_ready(self, link: PbxLink) -> None:
        # A restarted PBX forgets dynamic members and pauses; a reconnect may have missed
        # changes. Either way the model was just resynced, so compare and re-apply.
        self._following.pop(link.name, None)
        try:
            await self.control.reapply(link)
        finally:
            self._following[link.name] = link.reconnects
