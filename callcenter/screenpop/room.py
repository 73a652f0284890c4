"""The screen-pop room: the change queue, the pop worker, agent sockets, the agent's state
API and the console page.

Cards are built from the customer directory (``callcenter.customers.room``), which the
service hands over as a ``CustomerDirectory``; the directory room keeps it in step with the
database and with every ended call, this room only reads it. Which phones are an agent's
comes from the agents room's ``Seats`` (fixed phones and the one they signed in at), so pops
follow an agent to any desk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Literal

from aiohttp import web
from pydantic import BaseModel

from callcenter.agents.seats import SeatsView
from callcenter.auth import users
from callcenter.auth.identity import User
from callcenter.auth.permissions import Permission as P
from callcenter.auth.room import UserData, user_data
from callcenter.component import Host, Room
from callcenter.customers.api import CustomerData
from callcenter.customers.directory import REFRESH_OVERLAP, CustomerDirectory
from callcenter.feed.serialize import dumps, to_data
from callcenter.live import AgentView, Change
from callcenter.live.changes import (
    CallConnected,
    CallEnded,
    CallerLeft,
    CallRinging,
    CallRingNoAnswer,
    MemberChanged,
)
from callcenter.logs import mask_number
from callcenter.screenpop.crm import CircuitBreaker, CrmClient, CrmUnavailable
from callcenter.screenpop.desk import CardRules, Delivery, Found, PopDesk
from callcenter.settings import Disposition, ScreenPopSettings
from callcenter.tasks import every
from callcenter.web import http
from callcenter.web.http import PUBLIC, Route, needs, reply, request_user
from callcenter.web.sockets import open_socket, pump

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parents[1] / "web" / "static" / "agent"
POP_CHANGES = (CallRinging, CallConnected, CallRingNoAnswer, CallerLeft, CallEnded, MemberChanged)
# Pops whose end never arrived are dropped after this long.
POP_MAX_AGE = timedelta(hours=6)
SOCKET_QUEUE = 200


@dataclass(eq=False)
class AgentSocket:
    user: User
    queue: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(SOCKET_QUEUE))
    # The phones the socket is indexed under (the user's seats when it was last indexed).
    phones: tuple[str, ...] = ()


# --- the card as the agent API answers it (built by callcenter.screenpop.desk) -----------


class CallerCard(BaseModel):
    number: str
    name: str


class CallCard(BaseModel):
    queue: str
    joined_at: datetime
    outcome: str
    disposition: str | None
    disposition_label: dict[str, str] | None
    answered_by: str | None
    wait_seconds: float | None
    talk_seconds: float | None


class OpenItemCard(BaseModel):
    kind: Literal["follow-up"]
    call_id: int
    pbx: str
    uniqueid: str
    due: date
    overdue: bool
    days_overdue: int
    disposition: str
    disposition_label: dict[str, str] | None
    category: str
    notes: str
    notes_clipped: bool
    call_at: datetime
    answered_by: str | None
    wrapped_up_by: str | None


class PopCard(BaseModel):
    pop_id: str
    pbx: str
    queue: str
    uniqueid: str
    interface: str
    rung_at: datetime
    waited_seconds: float | None
    caller: CallerCard
    known: bool
    matched_by: Literal["account", "phone"] | None
    customer: CustomerData | None
    vip_level: int | None
    account: str | None
    ivr: dict[str, str]
    calls: list[CallCard]
    open_items: list[OpenItemCard]
    open_items_total: int
    open_items_tracked: list[str]
    incomplete: bool
    crm: dict[str, Any] | None
    state: Literal["ringing", "connected"]
    connected_at: datetime | None


class AgentState(BaseModel):
    user: UserData
    members: list[AgentView]
    pops: list[PopCard]


def disposition_labels(
    dispositions: Sequence[Disposition],
) -> MappingProxyType[str, MappingProxyType[str, str]]:
    return MappingProxyType(
        {d.code: MappingProxyType({"zh": d.label_zh, "en": d.label_en}) for d in dispositions}
    )


class ScreenPopRoom(Room):
    name: ClassVar[str] = "screenpop"

    def __init__(
        self,
        host: Host,
        settings: ScreenPopSettings,
        directory: CustomerDirectory,
        *,
        dispositions: Sequence[Disposition],
        zone: tzinfo,
        seats: SeatsView,
    ) -> None:
        self.host = host
        self.seats = seats
        self.settings = settings
        self.directory = directory
        # Follow-up dates are days of the contact centre's calendar (`zone`).
        self.desk = PopDesk(
            self._lookup,
            settings.account_variable,
            settings.history_size,
            CardRules(
                follow_up_overdue_days=settings.follow_up_overdue_days,
                zone=zone,
                labels=disposition_labels(dispositions),
            ),
        )
        self.crm: CrmClient | None = None
        if settings.crm_url_template:
            self.crm = CrmClient(
                settings.crm_url_template,
                settings.crm_timeout_seconds,
                settings.crm_cache_seconds,
                CircuitBreaker(
                    settings.crm_failure_threshold, settings.crm_open_seconds, time.monotonic
                ),
            )
        self._spawn = host.spawner(self.name)
        self._changes: asyncio.Queue[Change] = asyncio.Queue(50_000)
        self._sockets: set[AgentSocket] = set()
        self._by_interface: dict[str, set[AgentSocket]] = {}
        self._by_user: dict[int, set[AgentSocket]] = {}
        seats.follow(self._moved, self._told)
        self._dropped_changes = 0
        self._users_seen_at = datetime.now(UTC)

    # --- life cycle --------------------------------------------------------------------

    def routes(self) -> Sequence[Route]:
        agent = needs(P.AGENT_SELF)
        return [
            http.get(
                "/ws/agent",
                self.agent_socket,
                access=agent,
                kind="socket",
                tag="agent",
                summary="WebSocket: the user, their cards and members, then every pop for "
                "their phone(s)",
            ),
            http.get(
                "/api/agent/state",
                self.agent_state,
                access=agent,
                tag="agent",
                summary="The user, their phone's queue memberships and their open cards",
                response=AgentState,
            ),
            http.get(
                "/agent",
                self.console_page,
                access=PUBLIC,
                kind="page",
                content_type="text/html",
                tag="agent",
                summary="The agent console",
            ),
            http.static(
                "/agent/static", STATIC_DIR, access=PUBLIC, summary="The agent console's files"
            ),
        ]

    async def start(self) -> None:
        self._spawn(self._work(), "worker")
        self._spawn(
            every(self.settings.refresh_seconds, self.refresh, "screen-pop refresh"), "refresh"
        )

    async def stop(self) -> None:
        for socket in list(self._sockets):
            self._close_socket(socket)
        # Pops still in the worker's queue go out without the CRM from here on.
        crm, self.crm = self.crm, None
        if crm is not None:
            await crm.close()

    def on_change(self, change: Change) -> None:
        if not isinstance(change, POP_CHANGES):
            return
        if isinstance(change, MemberChanged) and change.interface not in self._by_interface:
            return
        try:
            self._changes.put_nowait(change)
        except asyncio.QueueFull:
            self._dropped_changes += 1
            if self._dropped_changes % 1000 == 1:
                log.warning("screen-pop queue full; %d change(s) dropped", self._dropped_changes)

    # --- the pop worker ------------------------------------------------------------------

    def _lookup(self, caller_num: str, account: str | None) -> Found:
        customer, matched_by = self.directory.find(caller_num, account)
        if customer is None:
            return Found(
                None,
                None,
                self.directory.calls_of(caller_num),
                self.directory.follow_ups_of(caller_num),
            )
        return Found(
            customer,
            matched_by,
            self.directory.calls_of_customer(customer),
            self.directory.follow_ups_of_customer(customer),
        )

    async def _work(self) -> None:
        while True:
            change = await self._changes.get()
            try:
                self._handle(change)
            except Exception:
                log.exception("screen-pop failed on %s", type(change).__name__)

    def _handle(self, change: Change) -> None:
        deliveries = self.desk.handle(change)
        if isinstance(change, CallRinging):
            log.info(
                "pop for %s on %s (%s/%s)",
                mask_number(change.caller_num),
                change.agent_interface,
                change.pbx,
                change.queue,
            )
            if self.crm is not None and deliveries:
                self._spawn(self._pop_with_crm(self.crm, change, deliveries), "crm")
                return
        for delivery in deliveries:
            self._deliver(delivery)

    async def _pop_with_crm(
        self, crm_client: CrmClient, change: CallRinging, deliveries: list[Delivery]
    ) -> None:
        key = (change.pbx, change.uniqueid, change.agent_interface)
        account = self.desk.account_of(change.ivr)
        phone = self.directory.key(change.caller_num)
        # The pop waits `crm_pop_wait_seconds` at most; the fetch goes on for a pop_update.
        fetch = asyncio.ensure_future(crm_client.fetch(phone, account))
        crm: dict[str, Any] | None = None
        with contextlib.suppress(TimeoutError, CrmUnavailable):
            crm = await asyncio.wait_for(asyncio.shield(fetch), self.settings.crm_pop_wait_seconds)
        card = self.desk.card(key)
        if card is None:
            fetch.cancel()
            return  # withdrawn while we waited
        card["crm"], card["incomplete"] = crm, crm is None
        for delivery in deliveries:
            if delivery.message.get("type") == "pop":
                delivery.message["pop"].update(crm=crm, incomplete=crm is None)
            self._deliver(delivery)
        if crm is not None:
            return
        try:
            crm = await fetch
        except CrmUnavailable:
            return
        card = self.desk.card(key)
        if card is not None:
            card["crm"], card["incomplete"] = crm, False
            self._deliver(
                Delivery(
                    change.agent_interface,
                    {
                        "type": "pop_update",
                        "pop_id": card["pop_id"],
                        "crm": crm,
                        "incomplete": False,
                    },
                )
            )

    def _deliver(self, delivery: Delivery) -> None:
        sockets = self._by_interface.get(delivery.interface)
        if not sockets:
            return
        text = dumps(delivery.message)
        for socket in list(sockets):
            try:
                socket.queue.put_nowait(text)
            except asyncio.QueueFull:
                log.warning("agent %s's page too slow; closing its socket", socket.user.username)
                self._close_socket(socket)

    # --- agent sockets -------------------------------------------------------------------

    def _register(self, socket: AgentSocket) -> None:
        self._sockets.add(socket)
        self._by_user.setdefault(socket.user.id, set()).add(socket)
        self._index(socket)

    def _unregister(self, socket: AgentSocket) -> None:
        if socket in self._sockets:
            self._sockets.discard(socket)
            mine = self._by_user.get(socket.user.id)
            if mine is not None:
                mine.discard(socket)
                if not mine:
                    del self._by_user[socket.user.id]
            self._unindex(socket)

    def _moved(self, user_id: int) -> None:
        """The agent signed in or out somewhere: their pops follow, their page is told."""
        for socket in list(self._by_user.get(user_id, ())):
            self._unindex(socket)
            self._index(socket)
            self._send(socket, {"type": "members", "members": self._members_of(socket.user)})

    def _told(self, user_id: int, message: Mapping[str, Any]) -> None:
        for socket in list(self._by_user.get(user_id, ())):
            self._send(socket, message)

    def _send(self, socket: AgentSocket, message: Mapping[str, Any]) -> None:
        try:
            socket.queue.put_nowait(dumps(message))
        except asyncio.QueueFull:
            log.warning("agent %s's page too slow; closing its socket", socket.user.username)
            self._close_socket(socket)

    def _close_socket(self, socket: AgentSocket) -> None:
        self._unregister(socket)
        while not socket.queue.empty():
            socket.queue.get_nowait()
        socket.queue.put_nowait(None)

    def _index(self, socket: AgentSocket) -> None:
        socket.phones = self.seats.phones(socket.user)
        for interface in socket.phones:
            self._by_interface.setdefault(interface, set()).add(socket)

    def _unindex(self, socket: AgentSocket) -> None:
        for interface in socket.phones:
            sockets = self._by_interface.get(interface)
            if sockets is not None:
                sockets.discard(socket)
                if not sockets:
                    del self._by_interface[interface]

    async def agent_socket(self, request: web.Request) -> web.WebSocketResponse:
        user = request_user(request)
        response = await open_socket(request)
        socket = AgentSocket(user)
        self._register(socket)
        try:
            await response.send_str(
                dumps(
                    {
                        "type": "hello",
                        "user": user_data(user),
                        "pops": self.desk.active_for(self.seats.phones(user)),
                        "members": self._members_of(user),
                    }
                )
            )
            await pump(response, socket.queue)
        finally:
            self._unregister(socket)
            with contextlib.suppress(Exception):
                await response.close()
        return response

    async def refresh(self) -> None:
        """Pick up users changed elsewhere (CLI, other replicas): their phones, or their
        being disabled; and drop pops whose end never arrived.

        Reads only rows changed since the last refresh (customers and wrap-ups are the
        directory room's own refresh)."""
        started = datetime.now(UTC)
        changed = await users.users_changed_since(
            self.host.engine, self._users_seen_at - REFRESH_OVERLAP
        )
        self._users_seen_at = started
        fresh = {user.id: (user, disabled) for user, disabled in changed}
        for socket in list(self._sockets):
            if socket.user.id not in fresh:
                continue
            user, disabled = fresh[socket.user.id]
            if disabled:
                self._close_socket(socket)
            elif user != socket.user:
                self._unindex(socket)
                socket.user = user
                self._index(socket)
        self.desk.prune(started, POP_MAX_AGE)

    # --- agent API -----------------------------------------------------------------------

    def _members_of(self, user: User) -> list[dict[str, Any]]:
        views = self.host.live.agents_view(datetime.now(UTC))
        phones = self.seats.phones(user)
        mine = [v for v in views if v.interface in phones]
        return [to_data(v) for v in mine]

    async def agent_state(self, request: web.Request) -> web.Response:
        user = request_user(request)
        return reply(
            {
                "user": user_data(user),
                "members": self._members_of(user),
                "pops": self.desk.active_for(self.seats.phones(user)),
            }
        )

    # --- the page ------------------------------------------------------------------------

    async def console_page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "agent.html", headers={"Cache-Control": "no-cache"})
