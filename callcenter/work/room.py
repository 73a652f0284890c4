"""The work-items room: follow-ups, callbacks, complaints and inquiries (docs/work-items.md).

Needs: the Host, its settings, the business calendar (the IVR's hours, holidays and make-up
days), the agents room's ``WorkForce`` and the audit log. Offers the work items to the IVR
(callbacks booked by callers, tickets keyed by callers).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from prometheus_client import Counter

from callcenter.audit.log import Audit
from callcenter.clock import Clock, utc_now
from callcenter.component import Host, Room
from callcenter.feed.serialize import dumps, to_data
from callcenter.ivr.agi import Handler
from callcenter.ivr.routes import CallbackBooking
from callcenter.settings import WorkSettings
from callcenter.tasks import every
from callcenter.work.api import WorkApi
from callcenter.work.calendar import BusinessCalendar
from callcenter.work.callback_api import CallbackApi
from callcenter.work.department_api import DepartmentApi
from callcenter.work.departments import Departments
from callcenter.work.dialer import CallbackDialer
from callcenter.work.items import WorkItems
from callcenter.work.phone import DEFAULT_BUDGET_MS, TicketRoutes
from callcenter.work.ports import WorkForce

if TYPE_CHECKING:
    from callcenter.ami.link import AmiLink
    from callcenter.web.http import Route

log = logging.getLogger(__name__)


class WorkRoom(Room):
    name: ClassVar[str] = "work"

    def __init__(
        self,
        host: Host,
        settings: WorkSettings,
        calendar: BusinessCalendar,
        workforce: WorkForce,
        *,
        audit: Audit | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings
        self._publish = host.publish
        self.escalations = Counter(
            "callcenter_work_escalations",
            "Work items escalated, by tier reached",
            ["tier"],
            registry=host.registry,
        )
        self.items = WorkItems(
            host.engine,
            settings,
            calendar,
            workforce,
            tell=workforce.tell,
            publish=self._publish_message,
            clock=clock,
        )
        self.api = WorkApi(self.items, audit)
        self.departments = DepartmentApi(Departments(self.items), audit)
        # Callbacks: the dialler (its schedule, offers, dials) and its routes.
        self.dialer = CallbackDialer(host, settings.callbacks, self.items, calendar, clock=clock)
        self.callbacks = CallbackApi(self.dialer, audit)
        self._spawn = host.spawner(self.name)

    def _publish_message(self, message: Mapping[str, Any]) -> None:
        self._publish(dumps(to_data(message)))

    def routes(self) -> Sequence[Route]:
        return [*self.api.routes(), *self.departments.routes(), *self.callbacks.routes()]

    def agi_routes(self, budget_ms: int = DEFAULT_BUDGET_MS) -> Mapping[str, Handler]:
        """FastAGI routes for the IVR room's server: ``ticket-lookup`` (a caller keys a ticket
        number); ``budget_ms`` is the IVR's route budget (``ivr.route_timeout_ms``)."""
        return TicketRoutes(self.items.engine, self.items.workforce, budget_ms=budget_ms).handlers()

    async def book_callback(self, booking: CallbackBooking) -> str:
        """The IVR's ``CallbackBook``: a callback item and its schedule; its ticket."""
        return await self.dialer.book(booking)

    async def start(self) -> None:
        self._spawn(
            every(self.settings.sweep_seconds, self.sweep, "work escalation sweep"), "sweep"
        )
        if self.settings.callbacks.enabled:
            self.dialer.start(self._spawn)

    async def on_pbx_ready(self, link: AmiLink) -> None:
        if self.settings.callbacks.enabled:
            await self.dialer.pbx_ready(link.name)

    async def sweep(self) -> None:
        for escalation in await self.items.sweep():
            self.escalations.labels(escalation.tier).inc()
