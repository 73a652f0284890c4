"""The work-items room: follow-ups, callbacks, complaints and inquiries (docs/work-items.md).

Needs: the Host, its settings, the business calendar (the IVR's hours, holidays and make-up
days), the agents room's ``WorkForce`` and the audit log. Offers the work items to the IVR
(callbacks booked by callers, tickets keyed by callers) and to the voicemail room (messages
left through a queue's exit, filed as items; who may hear them).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from prometheus_client import Counter

from callcenter.audit.log import Audit
from callcenter.auth.identity import User
from callcenter.clock import Clock, utc_now
from callcenter.component import Host, Room
from callcenter.feed.serialize import dumps, to_data
from callcenter.ivr.agi import Handler
from callcenter.ivr.routes import CallbackBooking
from callcenter.settings import WorkSettings
from callcenter.tasks import every
from callcenter.voicemail.ports import VoicemailFiling
from callcenter.web.errors import ApiError
from callcenter.work.api import WorkApi
from callcenter.work.calendar import BusinessCalendar
from callcenter.work.callback_api import CallbackApi
from callcenter.work.department_api import DepartmentApi
from callcenter.work.departments import Departments
from callcenter.work.dialer import CallbackDialer
from callcenter.work.items import Actor, NewItem, WorkItems
from callcenter.work.ledger import WorkLedgerStore
from callcenter.work.phone import DEFAULT_BUDGET_MS, TicketRoutes
from callcenter.work.ports import CallParts, VoicemailOfItem, WorkForce
from callcenter.work.problems import NO_SUCH_ITEM

if TYPE_CHECKING:
    from callcenter.ami.link import AmiLink
    from callcenter.web.http import Route

log = logging.getLogger(__name__)

VOICEMAIL = Actor(None, "voicemail")
# A number the dialler can call (the items API's phone pattern).
_PHONE = re.compile(r"\+?[0-9]{1,39}")


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
        # The handover room's WorkLedger: what an agent owns, moved to a successor or a pool.
        self.ledger = WorkLedgerStore(self.items)
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

    # --- the voicemail room's WorkDesk -----------------------------------------------------

    async def file_voicemail(self, filing: VoicemailFiling) -> int:
        """A callback item for a message left through a queue's voicemail exit (an inquiry
        when the caller's number is unknown: nobody to call), in the pool of the team serving
        the queue, as the IVR's callbacks are; scheduled for the dialler like any callback
        item. Idempotent per message. Its id."""
        items = self.items
        phone = filing.caller if filing.caller and _PHONE.fullmatch(filing.caller) else None
        category = "callback" if "callback" in items.categories else next(iter(items.categories))
        minutes, seconds = divmod(max(0, filing.duration_seconds), 60)
        length = f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
        who = filing.caller or "a caller whose number is not known"
        row = await items.create(
            VOICEMAIL,
            NewItem(
                kind="callback" if phone else "inquiry",
                title=f"Voicemail left in queue {filing.queue}"[:200],
                category=category,
                phone=phone,
                team_id=items.team_for_queue(filing.queue),
                note=(
                    f"{who} left a voicemail of {length} in queue {filing.queue} "
                    f"(mailbox {filing.mailbox}, message {filing.msg_id}). "
                    f"Listen on this item's page, or at {filing.audio_url}."
                ),
                source="voicemail",
                source_key=f"voicemail:{filing.pbx}:{filing.mailbox}:{filing.msg_id}",
                pbx=filing.pbx,
                queue=filing.queue,
                owner_is_creator=False,
            ),
        )
        return row.id

    async def may_hear(self, user: User, item_id: int) -> bool:
        """Whether the user handles the item (``WorkItems.handles``); False for no such item."""
        try:
            row = await self.items.load(item_id)
        except ApiError as exc:
            if exc.error == NO_SUCH_ITEM.error:
                return False
            raise
        return self.items.handles(user, row)

    def attach_voicemail(self, voicemails: VoicemailOfItem) -> None:
        self.items.voicemails = voicemails

    def attach_call_parts(self, parts: CallParts) -> None:
        self.items.call_parts = parts

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
