"""The customer directory room: every customer, their latest calls and open follow-ups in
memory, kept in step with the database, and the customer API.

The screen-pop reads the directory for each card and the IVR for each lookup (the service
hands them ``room.directory``); the records room names each call's customer and reports each
stored wrap-up through ``callcenter.records.customers.CustomerRoom``, which this room is.

Each ended call goes into the history by a worker, not on the event path: reading the
caller's number into its look-up key (libphonenumber) costs tens of microseconds, so
``on_change`` only enqueues, as the screen-pop's worker did before the directory had a room
of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import ClassVar

from callcenter.audit.log import Audit
from callcenter.component import Host, Room
from callcenter.customers.api import CustomerApi
from callcenter.customers.directory import CustomerDirectory
from callcenter.customers.index import account_of
from callcenter.customers.repo import past_call
from callcenter.live import Change
from callcenter.live.changes import CallEnded
from callcenter.records.customers import SavedWrapup
from callcenter.settings import ScreenPopSettings
from callcenter.tasks import every
from callcenter.web.http import Route

log = logging.getLogger(__name__)

# Ended calls waiting for the worker; beyond this the newest are dropped (and counted).
CALLS_QUEUE = 50_000


class CustomerDirectoryRoom(Room):
    name: ClassVar[str] = "customers"

    def __init__(
        self, host: Host, settings: ScreenPopSettings, *, zone: tzinfo, audit: Audit | None = None
    ) -> None:
        self.settings = settings
        # Follow-up dates are days of the contact centre's calendar (`zone`).
        self.directory = CustomerDirectory(
            host.engine,
            settings.default_region,
            settings.history_size,
            follow_up_overdue_days=settings.follow_up_overdue_days,
            zone=zone,
        )
        self.api = CustomerApi(self.directory, audit)
        self._spawn = host.spawner(self.name)
        self._ended: asyncio.Queue[CallEnded] = asyncio.Queue(CALLS_QUEUE)
        self._dropped = 0

    def routes(self) -> Sequence[Route]:
        return self.api.routes()

    async def start(self) -> None:
        await self.directory.load()
        self._spawn(self._record_calls(), "history")
        self._spawn(
            every(self.settings.refresh_seconds, self.refresh, "customer directory refresh"),
            "refresh",
        )

    # --- the records room's partner (callcenter.records.customers.CustomerRoom) ----------

    def customer_id(self, caller_number: str | None, ivr: Mapping[str, str]) -> int | None:
        """The customer a pop finds for this caller: the records writer stores it on the
        call record."""
        account = account_of(ivr, self.settings.account_variable)
        customer, _ = self.directory.find(caller_number or "", account)
        return None if customer is None else customer.id

    def wrapup_saved(self, wrapup: SavedWrapup) -> None:
        """A wrap-up was stored on this replica: the next card shows its disposition and
        follow-up at once."""
        self.directory.wrapup_saved(wrapup)

    # --- the call history ------------------------------------------------------------------

    def on_change(self, change: Change) -> None:
        if not isinstance(change, CallEnded):
            return
        try:
            self._ended.put_nowait(change)
        except asyncio.QueueFull:
            self._dropped += 1
            if self._dropped % 1000 == 1:
                log.warning("call history queue full; %d ended call(s) dropped", self._dropped)

    async def _record_calls(self) -> None:
        while True:
            change = await self._ended.get()
            record = change.record
            try:
                self.directory.record_call(record.caller_num, past_call(record))
            except Exception:
                log.exception("call %s/%s not kept in the history", record.pbx, record.uniqueid)

    # --- changes made elsewhere --------------------------------------------------------------

    async def refresh(self) -> None:
        """Take in customers and wrap-ups changed elsewhere (CLI, other replicas).

        Reads only rows changed since the last refresh: a full reload of every customer
        would hold the event loop for hundreds of milliseconds and delay pops."""
        await self.directory.refresh()
        await self.directory.refresh_wrapups()
