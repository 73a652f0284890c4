"""The composition root: the one place that builds every room and wires them together.

Each room gets its settings section, the ``Host`` (what any room may use of the service) and
the named ports of the sibling rooms it needs; nothing else. ``docs/architecture.md`` draws
the result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from callcenter import __version__
from callcenter.agents.room import AgentsRoom
from callcenter.ami import actions
from callcenter.ami.errors import AmiRefused
from callcenter.ami.filters import event_filters
from callcenter.ami.link import AmiLink, LinkState
from callcenter.audit.log import AuditLog
from callcenter.auth.room import AuthRoom
from callcenter.component import Host, PbxLinks, Room
from callcenter.customers.room import CustomerDirectoryRoom
from callcenter.feed.hub import Hub
from callcenter.feed.ingest import Ingest
from callcenter.feed.publisher import FeedPublisher
from callcenter.feed.room import LiveViewRoom
from callcenter.feed.serialize import dumps
from callcenter.handover.room import HandoverRoom
from callcenter.health import HealthRoom, MetricsRoom
from callcenter.ivr.room import IvrRoom
from callcenter.live import LiveConfig, LiveModel
from callcenter.loopwatch import GcPauses, settle_collector, watch_loop
from callcenter.metrics import LiveCollector, ServiceMetrics
from callcenter.queueconf.room import QueueConfRoom
from callcenter.records.room import RecordsRoom
from callcenter.reports.room import ReportsRoom
from callcenter.routing.room import RoutingRoom
from callcenter.screening.room import ScreeningRoom
from callcenter.screenpop.room import ScreenPopRoom
from callcenter.settings import Settings
from callcenter.shifts.room import ShiftsRoom
from callcenter.store.db import create_engine
from callcenter.store.migrate import upgrade_to_head
from callcenter.supervisor.room import SupervisorRoom
from callcenter.tasks import Tasks, every
from callcenter.transfers.room import TransfersRoom
from callcenter.voicemail.room import VoicemailRoom
from callcenter.web.app import create_app
from callcenter.web.assets import SharedAssetsRoom
from callcenter.web.openapi import ApiDocsRoom
from callcenter.web.sockets import TIMEOUT_CEIL_THRESHOLD, SocketRegistry
from callcenter.work.calendar import BusinessCalendar
from callcenter.work.departments import Mailer
from callcenter.work.room import WorkRoom
from callcenter.worklog.room import WorklogRoom

log = logging.getLogger(__name__)

# The live model decides exits whose grace passed (a hang-up waiting for its AgentComplete,
# a leave waiting for its QUEUESTATUS) on each tick when the PBX is quiet.
TICK_SECONDS = 0.5
# A room slower than this to stop is named in the log (a stop should be quick and bounded).
SLOW_STOP_SECONDS = 2.0
HTTP_SHUTDOWN_SECONDS = 5.0


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
        self.tasks = Tasks(self.metrics.registry)
        self._own = self.tasks.group("service")
        self.links: PbxLinks[AmiLink] = PbxLinks()
        self.host = Host(
            engine=self.engine,
            live=self.model,
            publish=self.hub.publish,
            links=self.links,
            resync=self.resync,
            registry=self.metrics.registry,
            tasks=self.tasks,
        )
        self.sockets = SocketRegistry()
        self.audit = AuditLog(self.engine, settings.auth.trusted_proxies)
        self.auth = AuthRoom(
            self.engine,
            settings.auth,
            sockets=self.sockets,
            spawn=self.host.spawner(AuthRoom.name),
            audit=self.audit,
        )
        self.rooms = self._build_rooms()
        self.ingest = Ingest(
            self.model,
            self.metrics,
            [self.feed, *(room.on_change for room in self.rooms)],
            var_prefix=live.ivr_variable_prefix,
        )
        for pbx in settings.pbx:
            self.links.add(
                AmiLink(
                    pbx,
                    self._on_ami_event,
                    on_ready=self.on_pbx_ready,
                    on_state=self.on_link_state,
                    event_filters=event_filters(live.ivr_variable_prefix),
                )
            )
        self._runners: list[web.AppRunner] = []

    def _build_rooms(self) -> list[Room]:
        """One line per room, in start order (they stop in reverse)."""
        settings, host = self.settings, self.host
        # Days of the contact centre's calendar (follow-up dates, opening hours): one zone.
        zone = ZoneInfo(settings.ivr.timezone)
        directory = CustomerDirectoryRoom(host, settings.screenpop, zone=zone, audit=self.audit)
        agents = AgentsRoom(
            host,
            settings.agents,
            pbx_names=[p.name for p in settings.pbx],
            users_with_sessions=self.auth.sessions.users_with_sessions,
            required_codes=[settings.screening.abusive_code],
        )
        shifts = ShiftsRoom(host, settings.shifts, agents, zone=zone, audit=self.audit)
        work = WorkRoom(
            host,
            settings.work,
            BusinessCalendar.from_ivr(settings.ivr),
            agents,
            audit=self.audit,
        )
        handover = HandoverRoom(
            host,
            settings.handover,
            rota=shifts.rota,
            ledger=work.ledger,
            people=agents,
            audit=self.audit,
            zone=zone,
        )
        worklog = WorklogRoom(
            host,
            settings.worklog,
            people=agents,
            rota=shifts.rota,
            handovers=handover,
            zone=zone,
            dispositions=settings.records.dispositions,
            audit=self.audit,
        )
        # The day's figures in a handover draft (the work log's own figures).
        handover.attach_figures(worklog.logs)
        spools = {p.name: p.voicemail_spool for p in settings.pbx if p.voicemail_spool}
        voicemail = VoicemailRoom(
            host, settings.voicemail, spools=spools, work=work, audit=self.audit
        )
        records = RecordsRoom(
            host,
            settings.records,
            customers=directory,
            queue_logs={p.name: p.queue_log for p in settings.pbx if p.queue_log is not None},
            short_abandon_seconds=settings.live.short_abandon_seconds,
            restore_into=self.model,
            audit=self.audit,
            seats=agents.seats,
        )
        screening = ScreeningRoom(
            host,
            settings.screening,
            agents.desk,
            audit=self.audit,
            region=settings.screenpop.default_region,
            pbx_names=[p.name for p in settings.pbx],
        )
        transfers = TransfersRoom(
            host,
            settings.transfers,
            agents,
            directory.directory,
            audit=self.audit,
            work=work,
            pbx_names=[p.name for p in settings.pbx],
            var_prefix=settings.live.ivr_variable_prefix,
        )
        self.metrics_room = MetricsRoom(self.metrics.registry, settings.http.metrics_token)
        rooms: list[Room] = [
            self.auth,
            LiveViewRoom(self.model, self.hub, agents),
            HealthRoom(self.links, self.engine, self.metrics),
            SharedAssetsRoom(),
            *([self.metrics_room] if settings.http.metrics_port == 0 else []),
            directory,
            agents,
            shifts,
            work,
            handover,
            worklog,
            voicemail,
            ScreenPopRoom(
                host,
                settings.screenpop,
                directory.directory,
                dispositions=settings.records.dispositions,
                zone=zone,
                seats=agents.seats,
            ),
            IvrRoom(
                settings.ivr,
                settings.fastagi,
                self.engine,
                directory.directory,
                pbx_names=[p.name for p in settings.pbx],
                extra_routes={
                    **agents.agi_routes(),
                    **work.agi_routes(settings.ivr.route_timeout_ms),
                    **voicemail.agi_routes(),
                    **screening.agi_routes(),
                    **transfers.agi_routes(),
                },
                callbacks=work,
            ),
            records,
            # After records: its wrap-up pause at a call's end comes before the abusive break.
            screening,
            transfers,
            SupervisorRoom(host, settings.supervisor, agents),
            QueueConfRoom(
                host,
                settings.queueconf,
                settings.pbx,
                voicemail_context=settings.voicemail.context,
                audit=self.audit,
            ),
            RoutingRoom(
                host,
                settings.routing,
                surge_db_family=settings.ivr.surge_db_family,
                pbx_names=[p.name for p in settings.pbx],
                overflow=records,
            ),
            ReportsRoom(
                host,
                settings.reports,
                agents,
                dispositions=settings.records.dispositions,
                zone=zone,
                mailer=Mailer(settings.work.smtp),
                sender=settings.work.smtp.sender,
                worklog=worklog.logs,
            ),
        ]
        routes = [route for room in rooms for route in room.routes()]
        rooms.append(ApiDocsRoom(routes, version=__version__))
        return rooms

    async def start(self) -> None:
        await upgrade_to_head(self.engine)
        for room in self.rooms:
            await room.start()
        for link in self.links:
            self.metrics.ami_link_up.labels(link.name).set(0)
            self._own.spawn(link.run(), f"ami-{link.name}")
            self._own.spawn(
                every(
                    self.settings.live.resync_interval,
                    self._periodic_resync(link),
                    f"periodic resync of PBX {link.name}",
                ),
                f"resync-{link.name}",
            )
        self._own.spawn(every(TICK_SECONDS, self._tick, "tick"), "tick")
        self._own.spawn(watch_loop(self.metrics), "loop-watch")
        http = self.settings.http
        main = create_app(self.rooms, self.auth.authenticate, http.public_origins, self.sockets)
        await self._listen(main, http.host, http.port)
        log.info("HTTP on http://%s:%s (health /healthz)", http.host, http.port)
        if http.metrics_port:
            # Its own listener: an address the operator can keep off the agents' network.
            metrics = create_app([self.metrics_room], _nobody)
            await self._listen(metrics, http.metrics_host, http.metrics_port)
            log.info("metrics on http://%s:%s/metrics", http.metrics_host, http.metrics_port)
        settle_collector()
        self.gc_pauses.install()

    async def stop(self) -> None:
        started = time.monotonic()
        for link in self.links:
            await link.stop()
        await self._own.cancel()
        for room in reversed(self.rooms):
            begun = time.monotonic()
            try:
                await room.stop()
            except Exception:
                log.exception("%s did not stop cleanly", room.name)
            await self.tasks.group(room.name).cancel()
            took = time.monotonic() - begun
            if took > SLOW_STOP_SECONDS:
                log.warning("room %s took %.1f s to stop", room.name, took)
        await self.tasks.cancel_all()  # anything spawned under another name
        self.gc_pauses.remove()
        self.feed.close()
        self.hub.close()
        for runner in reversed(self._runners):
            await runner.cleanup()
        await self.engine.dispose()
        log.info("stopped in %.1f s", time.monotonic() - started)

    async def _listen(self, app: web.Application, host: str, port: int) -> None:
        runner = web.AppRunner(
            app,
            handle_signals=False,
            timeout_ceil_threshold=TIMEOUT_CEIL_THRESHOLD,
            # Requests still running at stop get this long (aiohttp's default is a minute).
            shutdown_timeout=HTTP_SHUTDOWN_SECONDS,
        )
        await runner.setup()
        self._runners.append(runner)
        await web.TCPSite(runner, host, port).start()

    async def _tick(self) -> None:
        self.ingest.tick(datetime.now(UTC))

    # --- AMI ---------------------------------------------------------------------------

    def _on_ami_event(self, pbx: str, fields: dict[str, str], received_at: datetime) -> None:
        """Every event: the live model first, then the rooms' raw taps (enqueue only)."""
        self.ingest.on_ami_event(pbx, fields, received_at)
        self.host.ami_taps(pbx, fields, received_at)

    async def resync(self, pbx: str) -> None:
        """Rebuild this PBX's part of the model from the PBX's own view."""
        link = self.links.get(pbx)
        if link is None:
            raise KeyError(f"no PBX named {pbx!r}")
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
        for room in self.rooms:
            try:
                await room.on_pbx_ready(link)
            except Exception:
                log.exception("%s failed after PBX %s came up", room.name, link.name)

    async def _resync_once_booted(self, link: AmiLink, attempts: int = 60) -> None:
        # Right after a PBX restart the AMI answers before app_queue is loaded and refuses
        # QueueStatus ("Invalid/unknown command"): wait for it rather than give up, or the
        # rooms would never re-apply their state after a restart.
        for attempt in range(1, attempts + 1):
            try:
                await self.resync(link.name)
                return
            except AmiRefused as exc:
                if attempt == attempts or not link.connected:
                    raise
                log.info("PBX %s: not ready yet (%s); retrying", link.name, exc.message)
                await asyncio.sleep(0.5)

    def _periodic_resync(self, link: AmiLink) -> Callable[[], Awaitable[None]]:
        async def job() -> None:
            if link.connected:
                await self.resync(link.name)

        return job

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


async def _nobody(request: web.Request) -> None:
    """The metrics listener has no logins: its one route is guarded by its token."""
    return None


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
