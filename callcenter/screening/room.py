"""The screening room: blocked numbers, withheld numbers, the agent's abusive-caller button.

- ``screen``, a FastAGI route served by the IVR room's server (``agi_routes``): the dialplan's
  Gosub ``callcenter-screen`` (dialplan/screening.conf) asks it about each caller and turns
  away blocked ones, tells or queues apart withheld ones (``route.py``, rules in ``rules.py``);
- the blocked-numbers list and the screening log over HTTP (``api.py``); the list is kept in
  memory for the route (``blocklist.py``) and re-read when another replica changed it;
- the abusive-caller button (``abusive.py``): it follows which caller each phone talks to
  from the live model's changes (``calls.py``) and uses the agents room's desk for the
  break (``AgentBreaks``).

Built from its settings (``settings.screening``), the Host, the agents room's
``AgentBreaks``, the audit log and the region numbers are read in (``screenpop.default_region``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

from callcenter.audit.log import Audit
from callcenter.clock import Clock, utc_now
from callcenter.component import Host, Room
from callcenter.ivr.agi import Handler
from callcenter.live import Change
from callcenter.live.connected import AgentCalls
from callcenter.screening.abusive import AbusiveButton, AgentBreaks
from callcenter.screening.api import ScreeningApi
from callcenter.screening.blocklist import BlockList
from callcenter.screening.recorder import EventRecorder
from callcenter.screening.route import ScreenRoute
from callcenter.settings import ScreeningSettings
from callcenter.tasks import every

if TYPE_CHECKING:
    from callcenter.web.http import Route

# Seconds stop() waits for queued screening events to be stored.
DRAIN_SECONDS = 5.0


class ScreeningRoom(Room):
    name: ClassVar[str] = "screening"

    def __init__(
        self,
        host: Host,
        settings: ScreeningSettings,
        agents: AgentBreaks,
        *,
        audit: Audit,
        region: str,
        pbx_names: Sequence[str],
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings
        self._spawn = host.spawner(self.name)
        self.blocked = BlockList(host.engine)
        self.recorder = EventRecorder(host.engine, host.registry)
        self.calls = AgentCalls()
        self.route = ScreenRoute(
            settings, self.blocked, self.recorder, region=region, pbx_names=pbx_names, clock=clock
        )
        self.button = AbusiveButton(
            settings,
            host.engine,
            host.live,
            host.links,
            agents,
            self.calls,
            self.recorder,
            self._spawn,
            clock,
        )
        self.api = ScreeningApi(
            host.engine, self.blocked, self.button, audit, region=region, clock=clock
        )

    def agi_routes(self) -> Mapping[str, Handler]:
        return {"screen": self.route.screen}

    def routes(self) -> Sequence[Route]:
        return self.api.routes()

    def on_change(self, change: Change) -> None:
        self.calls.on_change(change)

    async def start(self) -> None:
        await self.blocked.load()
        self._spawn(self.recorder.run(), "events")
        self._spawn(
            every(self.settings.refresh_seconds, self.blocked.refresh, "blocked numbers refresh"),
            "refresh",
        )
        await self.button.restore()

    async def stop(self) -> None:
        await self.recorder.drain(DRAIN_SECONDS)
