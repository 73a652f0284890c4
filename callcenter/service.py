"""The composition root: builds every piece from the settings and runs them together."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import datetime

from aiohttp import web

from callcenter.ami.link import AmiLink, LinkState
from callcenter.ami.protocol import Fields
from callcenter.metrics import ServiceMetrics
from callcenter.settings import Settings
from callcenter.store.db import create_engine
from callcenter.store.migrate import upgrade_to_head
from callcenter.web.app import create_app

log = logging.getLogger(__name__)

# Events that identify a queue call; logged at debug level with their ids for tracing.
TRACED_EVENTS = frozenset({
    "QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "AgentCalled",
    "AgentConnect", "AgentComplete", "AgentRingNoAnswer", "AgentDump",
})


class Service:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = ServiceMetrics()
        self.engine = create_engine(settings.database.url.get_secret_value(),
                                    echo=settings.database.echo)
        self.links = [
            AmiLink(pbx, self.on_ami_event, on_ready=self.on_pbx_ready,
                    on_state=self.on_link_state)
            for pbx in settings.pbx
        ]
        self._link_tasks: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        await upgrade_to_head(self.engine)
        for link in self.links:
            self.metrics.ami_link_up.labels(link.name).set(0)
            self._link_tasks.append(asyncio.create_task(link.run(), name=f"ami-{link.name}"))
        self._runner = web.AppRunner(create_app(self), handle_signals=False)
        await self._runner.setup()
        http = self.settings.http
        await web.TCPSite(self._runner, http.host, http.port).start()
        log.info("HTTP on http://%s:%s (health /healthz, metrics /metrics)", http.host, http.port)

    async def stop(self) -> None:
        for link in self.links:
            await link.stop()
        if self._link_tasks:
            await asyncio.gather(*self._link_tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        await self.engine.dispose()
        log.info("stopped")

    # --- AMI ---------------------------------------------------------------------------

    def on_ami_event(self, pbx: str, fields: Fields, received_at: datetime) -> None:
        name = fields.get("Event", "")
        self.metrics.ami_events.labels(pbx, name).inc()
        if name in TRACED_EVENTS:
            log.debug("AMI %s pbx=%s uniqueid=%s queue=%s", name, pbx, fields.get("Uniqueid"),
                      fields.get("Queue"))

    async def on_pbx_ready(self, link: AmiLink) -> None:
        log.info("PBX %s: ready", link.name)

    def on_link_state(self, link: AmiLink) -> None:
        self.metrics.ami_link_up.labels(link.name).set(1 if link.connected else 0)
        if link.state is LinkState.CONNECTED and link.reconnects > 1:
            self.metrics.ami_reconnects.labels(link.name).inc()


async def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT, then stop cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    service = Service(settings)
    try:
        await service.start()
        await stop.wait()
        log.info("stop requested")
    finally:
        await service.stop()
