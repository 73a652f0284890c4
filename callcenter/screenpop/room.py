"""The screen-pop room in the service: the change queue, the pop worker, agent sockets,
the agent API (pause, state) and the console page."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from callcenter.ami import actions
from callcenter.ami.errors import AmiError, AmiRefused
from callcenter.auth import users
from callcenter.auth.identity import User, require_user
from callcenter.auth.web import read_json, user_data, validation_error
from callcenter.component import Component
from callcenter.customers import api as customers_api
from callcenter.customers.directory import REFRESH_OVERLAP, CustomerDirectory
from callcenter.customers.repo import past_call
from callcenter.feed.serialize import dumps, to_data
from callcenter.live import Change
from callcenter.live.changes import (
    CallConnected,
    CallEnded,
    CallerLeft,
    CallRinging,
    CallRingNoAnswer,
    MemberChanged,
)
from callcenter.logs import mask_number
from callcenter.records.customers import SavedWrapup
from callcenter.screenpop.crm import CircuitBreaker, CrmClient, CrmUnavailable
from callcenter.screenpop.desk import CardRules, Delivery, Found, PopDesk
from callcenter.web.errors import api_error
from callcenter.web.sockets import open_socket, pump

if TYPE_CHECKING:
    from callcenter.service import Service

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


class PauseBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    paused: bool
    # It becomes an AMI header: a CR/LF would let the request add headers of its own.
    reason: Annotated[str, Field(max_length=80, pattern=r"^[^\x00-\x1f\x7f]*$")] = ""


class ScreenPopComponent(Component):
    name = "screenpop"

    def __init__(self, service: Service) -> None:
        self.service = service
        settings = service.settings.screenpop
        self.settings = settings
        # Follow-up dates are days of the contact centre's calendar: the IVR's time zone.
        zone = ZoneInfo(service.settings.ivr.timezone)
        self.directory = CustomerDirectory(
            service.engine,
            settings.default_region,
            settings.history_size,
            follow_up_overdue_days=settings.follow_up_overdue_days,
            zone=zone,
        )
        labels = MappingProxyType(
            {
                d.code: MappingProxyType({"zh": d.label_zh, "en": d.label_en})
                for d in service.settings.records.dispositions
            }
        )
        self.desk = PopDesk(
            self._lookup,
            settings.account_variable,
            settings.history_size,
            CardRules(
                follow_up_overdue_days=settings.follow_up_overdue_days, zone=zone, labels=labels
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
        self._changes: asyncio.Queue[Change] = asyncio.Queue(50_000)
        self._sockets: set[AgentSocket] = set()
        self._by_interface: dict[str, set[AgentSocket]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._dropped_changes = 0
        self._users_seen_at = datetime.now(UTC)

    # --- life cycle --------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        customers_api.add_routes(app, self.directory)
        app.router.add_get("/ws/agent", self.agent_socket)
        app.router.add_post("/api/agent/pause", self.pause)
        app.router.add_get("/api/agent/state", self.agent_state)
        app.router.add_get("/agent", self.console_page)
        app.router.add_static("/agent/static", STATIC_DIR, append_version=True)

    async def start(self) -> None:
        await self.directory.load()
        self._spawn(self._work(), "screenpop-worker")
        self._spawn(self._refresh_loop(), "screenpop-refresh")

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for socket in list(self._sockets):
            self._close_socket(socket)
        if self.crm is not None:
            await self.crm.close()

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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

    def customer_id(self, caller_number: str | None, ivr: Mapping[str, str]) -> int | None:
        """The customer a pop finds for this caller: the records writer stores it on the
        call record (`callcenter.records.customers.CustomerLookup`)."""
        customer, _ = self.directory.find(caller_number or "", self.desk.account_of(ivr))
        return None if customer is None else customer.id

    def wrapup_saved(self, wrapup: SavedWrapup) -> None:
        """A wrap-up was stored on this replica (`callcenter.records.customers.WrapupListener`):
        the next card shows its disposition and follow-up at once."""
        self.directory.wrapup_saved(wrapup)

    async def _work(self) -> None:
        while True:
            change = await self._changes.get()
            try:
                self._handle(change)
            except Exception:
                log.exception("screen-pop failed on %s", type(change).__name__)

    def _handle(self, change: Change) -> None:
        deliveries = self.desk.handle(change)
        if isinstance(change, CallEnded):
            record = change.record
            self.directory.record_call(record.caller_num, past_call(record))
        if isinstance(change, CallRinging):
            log.info(
                "pop for %s on %s (%s/%s)",
                mask_number(change.caller_num),
                change.agent_interface,
                change.pbx,
                change.queue,
            )
            if self.crm is not None and deliveries:
                self._spawn(self._pop_with_crm(change, deliveries), "screenpop-crm")
                return
        for delivery in deliveries:
            self._deliver(delivery)

    async def _pop_with_crm(self, change: CallRinging, deliveries: list[Delivery]) -> None:
        assert self.crm is not None
        key = (change.pbx, change.uniqueid, change.agent_interface)
        account = self.desk.account_of(change.ivr)
        phone = self.directory.key(change.caller_num)
        fetch = asyncio.ensure_future(self.crm.fetch(phone, account))
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
        self._index(socket)

    def _unregister(self, socket: AgentSocket) -> None:
        if socket in self._sockets:
            self._sockets.discard(socket)
            self._unindex(socket)

    def _close_socket(self, socket: AgentSocket) -> None:
        self._unregister(socket)
        while not socket.queue.empty():
            socket.queue.get_nowait()
        socket.queue.put_nowait(None)

    def _index(self, socket: AgentSocket) -> None:
        for interface in socket.user.interfaces:
            self._by_interface.setdefault(interface, set()).add(socket)

    def _unindex(self, socket: AgentSocket) -> None:
        for interface in socket.user.interfaces:
            sockets = self._by_interface.get(interface)
            if sockets is not None:
                sockets.discard(socket)
                if not sockets:
                    del self._by_interface[interface]

    async def agent_socket(self, request: web.Request) -> web.WebSocketResponse:
        user = require_user(request)
        response = await open_socket(request)
        socket = AgentSocket(user)
        self._register(socket)
        try:
            await response.send_str(
                dumps(
                    {
                        "type": "hello",
                        "user": user_data(user),
                        "pops": self.desk.active_for(user.interfaces),
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

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.refresh_seconds)
            try:
                await self.refresh()
            except Exception:
                log.exception("screen-pop refresh failed")

    async def refresh(self) -> None:
        """Pick up changes made elsewhere (CLI, other replicas): customers, wrap-ups (the
        calls' dispositions and follow-ups), users' phones.

        Reads only rows changed since the last refresh: a full reload of every customer
        would hold the event loop for hundreds of milliseconds and delay pops."""
        started = datetime.now(UTC)
        await self.directory.refresh()
        await self.directory.refresh_wrapups()
        changed = await users.users_changed_since(
            self.service.engine, self._users_seen_at - REFRESH_OVERLAP
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
        views = self.service.model.agents_view(datetime.now(UTC))
        mine = [v for v in views if v.interface in user.interfaces]
        return [to_data(v) for v in mine]

    async def agent_state(self, request: web.Request) -> web.Response:
        user = require_user(request)
        return web.json_response(
            {
                "user": user_data(user),
                "members": self._members_of(user),
                "pops": self.desk.active_for(user.interfaces),
            },
            dumps=dumps,
        )

    async def pause(self, request: web.Request) -> web.Response:
        user = require_user(request)
        try:
            body = PauseBody.model_validate(await read_json(request))
        except ValidationError as exc:
            raise validation_error(exc) from None
        if not user.interfaces:
            raise api_error(409, "no-phone", "this user has no phone interface to pause")
        links = {link.name: link for link in self.service.links}
        views = self.service.model.agents_view(datetime.now(UTC))
        targets = sorted({(v.pbx, v.interface) for v in views if v.interface in user.interfaces})
        if not targets:
            raise api_error(
                409,
                "not-a-member",
                "your phone is in no queue on any PBX",
                interfaces=list(user.interfaces),
            )
        for pbx, interface in targets:
            link = links.get(pbx)
            if link is None:
                raise api_error(502, "pbx-unknown", f"PBX {pbx!r} is not configured", pbx=pbx)
            try:
                await actions.queue_pause(link, interface, body.paused, reason=body.reason)
            except AmiRefused as exc:
                raise api_error(
                    502, "pbx-refused", exc.message or str(exc), pbx=pbx, interface=interface
                ) from None
            except AmiError as exc:
                raise api_error(
                    502, "pbx-unavailable", str(exc), pbx=pbx, interface=interface
                ) from None
        log.info(
            "user %s %s %s (%s)",
            user.username,
            "paused" if body.paused else "unpaused",
            ", ".join(i for _, i in targets),
            body.reason or "no reason",
        )
        return web.json_response(
            {
                "paused": body.paused,
                "reason": body.reason,
                "targets": [{"pbx": p, "interface": i} for p, i in targets],
            }
        )

    # --- the page ------------------------------------------------------------------------

    async def console_page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "agent.html", headers={"Cache-Control": "no-cache"})
