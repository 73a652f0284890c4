"""The composition root: builds every piece from the settings and runs them together."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web

from callcenter.ami import actions
from callcenter.ami.errors import AmiRefused
from callcenter.ami.filters import event_filters
from callcenter.ami.link import AmiLink, LinkState
from callcenter.auth.web import AuthComponent
from callcenter.component import Component
from callcenter.feed.hub import Hub
from callcenter.feed.ingest import Ingest
from callcenter.feed.publisher import FeedPublisher
from callcenter.feed.serialize import dumps
from callcenter.ivr.component import IvrComponent
from callcenter.live import LiveConfig, LiveModel
from callcenter.loopwatch import GcPauses, settle_collector, watch_loop
from callcenter.metrics import LiveCollector, ServiceMetrics
from callcenter.records.component import RecordsComponent
from callcenter.routing.component import RoutingComponent
from callcenter.screenpop.component import ScreenPopComponent
from callcenter.settings import Settings
from callcenter.store.db import create_engine
from callcenter.store.migrate import upgrade_to_head
from callcenter.supervisor.component import SupervisorComponent
from callcenter.web.app import create_app
from callcenter.web.sockets import TIMEOUT_CEIL_THRESHOLD

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0


class Service:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = ServiceMetrics()
        self.gc_pauses = GcPauses(self.metrics)
        self.engine = create_engine(
            settings.database.url.get_secret_value(), echo=settings.database.echo
        )
        live = settings.live
        self.model = LiveModel(
            LiveConfig(
                window_seconds=live.window_minutes * 60,
                service_level_seconds=live.service_level_seconds,
                short_abandon_seconds=live.short_abandon_seconds,
            )
        )
        self.metrics.registry.register(LiveCollector(self.model))
        self.hub = Hub()
        self.feed = FeedPublisher(self.hub)
        self.components = self._build_components()
        self.ingest = Ingest(
            self.model,
            self.metrics,
            [self.feed, *(c.on_change for c in self.components)],
            var_prefix=live.ivr_variable_prefix,
        )
        self.links = [
            AmiLink(
                pbx,
                self.ingest.on_ami_event,
                on_ready=self.on_pbx_ready,
                on_state=self.on_link_state,
                event_filters=event_filters(live.ivr_variable_prefix),
            )
            for pbx in settings.pbx
        ]
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None

    def _build_components(self) -> list[Component]:
        """One line per room that plugs into the service (see callcenter/component.py)."""
        screenpop = ScreenPopComponent(self)  # its customer index also names the records'
        return [
            AuthComponent(self.engine, self.settings.auth),
            screenpop,
            IvrComponent(self),
            RecordsComponent(
                self.settings.records,
                self.engine,
                self.metrics.registry,
                model=self.model,
                pbx_names=[p.name for p in self.settings.pbx],
                customers=screenpop,
                queue_logs={
                    p.name: p.queue_log for p in self.settings.pbx if p.queue_log is not None
                },
                short_abandon_seconds=self.settings.live.short_abandon_seconds,
            ),
            SupervisorComponent(self),
            RoutingComponent(self),
        ]

    async def start(self) -> None:
        await upgrade_to_head(self.engine)
        for component in self.components:
            await component.start()
        for link in self.links:
            self.metrics.ami_link_up.labels(link.name).set(0)
            self._spawn(link.run(), f"ami-{link.name}")
            self._spawn(
                self._every(
                    self.settings.live.resync_interval,
                    functools.partial(self._periodic_resync, link),
                ),
                f"resync-{link.name}",
            )
        self._spawn(self._every(TICK_SECONDS, self._tick), "tick")
        self._spawn(watch_loop(self.metrics), "loop-watch")
        self._runner = web.AppRunner(
            create_app(self), handle_signals=False, timeout_ceil_threshold=TIMEOUT_CEIL_THRESHOLD
        )
        await self._runner.setup()
        http = self.settings.http
        await web.TCPSite(self._runner, http.host, http.port).start()
        log.info("HTTP on http://%s:%s (health /healthz, metrics /metrics)", http.host, http.port)
        settle_collector()
        self.gc_pauses.install()

    async def stop(self) -> None:
        for link in self.links:
            await link.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for component in reversed(self.components):
            try:
                await component.stop()
            except Exception:
                log.exception("%s did not stop cleanly", component.name)
        self.gc_pauses.remove()
        self.feed.close()
        self.hub.close()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.engine.dispose()
        log.info("stopped")

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        self._tasks.append(asyncio.ensure_future(coro))
        self._tasks[-1].set_name(name)

    @staticmethod
    async def _every(seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except Exception:
                log.exception("periodic job failed")

    async def _tick(self) -> None:
        self.ingest.tick(datetime.now(UTC))

    # --- AMI ---------------------------------------------------------------------------

    async def resync(self, link: AmiLink) -> None:
        """Rebuild this PBX's part of the model from the PBX's own view."""
        journal = self.ingest.begin_resync(link.name)
        try:
            records = await actions.queue_status(link, timeout=30)
            records += await actions.core_show_channels(link, timeout=30)
        except BaseException:
            self.ingest.cancel_resync(link.name, journal)
            raise
        changes = self.ingest.resync(link.name, records, datetime.now(UTC), journal)
        log.info(
            "PBX %s: resynced from %d records (%d changes)", link.name, len(records), len(changes)
        )

    async def on_pbx_ready(self, link: AmiLink) -> None:
        """After every (re)connect: resync the model, then let each room re-apply its state."""
        await self._resync_once_booted(link)
        for component in self.components:
            try:
                await component.on_pbx_ready(link)
            except Exception:
                log.exception("%s failed after PBX %s came up", component.name, link.name)

    async def _resync_once_booted(self, link: AmiLink, attempts: int = 60) -> None:
        # Right after a PBX restart the AMI answers before app_queue is loaded and refuses
        # QueueStatus ("Invalid/unknown command"): wait for it rather than give up, or the
        # rooms would never re-apply their state after a restart.
        for attempt in range(1, attempts + 1):
            try:
                await self.resync(link)
                return
            except AmiRefused as exc:
                if attempt == attempts or not link.connected:
                    raise
                log.info("PBX %s: not ready yet (%s); retrying", link.name, exc.message)
                await asyncio.sleep(0.5)

    async def _periodic_resync(self, link: AmiLink) -> None:
        if link.connected:
            await self.resync(link)

    def on_link_state(self, link: AmiLink) -> None:
        self.metrics.ami_link_up.labels(link.name).set(1 if link.connected else 0)
        if link.state is LinkState.CONNECTED and link.reconnects > 1:
            self.metrics.ami_reconnects.labels(link.name).inc()
        self.hub.publish(
            dumps(
                {
                    "type": "PbxLink",
                    "pbx": link.name,
                    "state": link.state.value,
                    "error": link.last_error,
                }
            )
        )


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
        with contextlib.suppress(Exception):
            await service.stop()
