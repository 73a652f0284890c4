"""The work room's FastAGI route: a caller keys a ticket number (工单号) in the IVR.

The hotline's menu key 8 (``dialplan/tickets.conf``) reads eight digits and calls

  ticket-lookup   PBX, keyed digits

and the route answers with channel variables (every one set on every answer, so nothing a
dialplan set before stays behind):

  TICKET_RESULT       ``found``; ``unknown`` (a valid number no item has); ``invalid`` (not
                      eight digits, or the check digit is wrong: a mistyped key); ``default``
                      (the database did not answer within the budget, or failed)
  TICKET_STATUS       the item's status (``open``, ``in-progress``, ... ``closed``), found only
  TICKET_KIND         the item's kind (``complaint``, ``follow-up``, ...), found only
  TICKET_OWNER_IFACE  the owner's phone (``PJSIP/1003``) when the item is open and its owner
                      can take the call now: signed in at a phone of this PBX and ready, or
                      else the owner's fixed phone (``users.interfaces``); empty otherwise
  TICKET_QUEUE        where to send the caller otherwise: the item's queue, else the first
                      queue (by name) of the item's team, else of the owner's first team;
                      empty when there is none (the dialplan then uses its general line)

The answer comes within the route budget (the IVR's ``ivr.route_timeout_ms``, 200 ms by
default), the way the IVR's own routes keep theirs: the database read runs as a task that is
abandoned (cancelled) when the budget runs out, and the caller moves on with ``default``.

Nothing of the customer's leaves here: not the item's title, customer or number. Logs show
the caller's number masked (``mask_number``), the keyed digits masked (the last two kept) and
the item's id.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.ivr.agi import AgiBadValue, AgiChannel, AgiRequest, Handler, shown
from callcenter.logs import mask_number
from callcenter.work.models import WorkItemRow
from callcenter.work.ports import WorkForce
from callcenter.work.tickets import valid_ticket

log = logging.getLogger(__name__)

ROUTE = "ticket-lookup"
# The IVR's default route budget (ivr.route_timeout_ms); the service passes the configured one.
DEFAULT_BUDGET_MS = 200

FOUND, UNKNOWN, INVALID, DEFAULT = "found", "unknown", "invalid", "default"
VARIABLES = (
    "TICKET_RESULT",
    "TICKET_STATUS",
    "TICKET_KIND",
    "TICKET_OWNER_IFACE",
    "TICKET_QUEUE",
)

# [[pbx]] name in the settings (as the agents' phone routes check it).
_PBX_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
# A phone for Dial(): technology and resource, nothing that could split a dialplan argument.
_INTERFACE = re.compile(r"[A-Za-z][A-Za-z0-9]{0,15}/[A-Za-z0-9_.@+/-]{1,100}")
# A queue name for Queue() and a dialplan extension.
_QUEUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}")
_WORD = re.compile(r"[a-z][a-z-]{0,23}")
_KEYED_LIMIT = 32


@dataclass(frozen=True, slots=True)
class TicketAnswer:
    result: str
    status: str = ""
    kind: str = ""
    owner_interface: str = ""
    queue: str = ""
    item_id: int | None = None

    def variables(self) -> dict[str, str]:
        return dict(
            zip(
                VARIABLES,
                (self.result, self.status, self.kind, self.owner_interface, self.queue),
                strict=True,
            )
        )


@dataclass(frozen=True, slots=True)
class _Item:
    id: int
    status: str
    kind: str
    is_open: bool
    owner_id: int | None
    team_id: int | None
    queue: str | None


def masked_ticket(keyed: str) -> str:
    """Keyed digits fit for a log line: their length shows, only the last two stay."""
    if len(keyed) <= 2:
        return "*" * len(keyed)
    return "*" * (len(keyed) - 2) + keyed[-2:]


class TicketRoutes:
    """The FastAGI route ``ticket-lookup`` over the work items' table and the ``WorkForce``."""

    def __init__(
        self, engine: AsyncEngine, workforce: WorkForce, *, budget_ms: int = DEFAULT_BUDGET_MS
    ) -> None:
        self._engine = engine
        self._workforce = workforce
        self._budget_ms = budget_ms
        # Reads that outlived the budget (cancelled): kept referenced until they are done.
        self._abandoned: set[asyncio.Task[_Item | None]] = set()

    def handlers(self) -> dict[str, Handler]:
        return {ROUTE: self.lookup}

    async def lookup(self, request: AgiRequest, channel: AgiChannel) -> None:
        pbx = _pbx(request.arg(0))
        keyed = request.arg(1)[:_KEYED_LIMIT]
        answer = await self.answer(pbx, keyed)
        log.info(
            "ticket lookup pbx=%s caller=%s ticket=%s: %s item=%s owner_phone=%s queue=%s",
            pbx or "-",
            mask_number(request.get("agi_callerid")) or "-",
            shown(masked_ticket(keyed)),
            answer.result,
            answer.item_id if answer.item_id is not None else "-",
            answer.owner_interface or "-",
            answer.queue or "-",
        )
        await channel.set_variables(answer.variables())

    async def answer(self, pbx: str | None, keyed: str) -> TicketAnswer:
        """What the dialplan is told for ``keyed`` on ``pbx`` (None: any PBX)."""
        if not valid_ticket(keyed):
            return TicketAnswer(INVALID)
        task = asyncio.create_task(self._read(keyed))
        # A task, not asyncio.timeout(): cancelling a database call waits for its clean-up,
        # which would blow the budget again (as the IVR's lookup does).
        done, _ = await asyncio.wait([task], timeout=self._budget_ms / 1000)
        if not done:
            task.cancel()
            self._abandoned.add(task)
            task.add_done_callback(self._forget)
            log.warning("ticket lookup over its %d ms budget: default answer", self._budget_ms)
            return TicketAnswer(DEFAULT)
        try:
            item = task.result()
        except Exception as exc:
            log.warning("ticket lookup failed (%s): default answer", type(exc).__name__)
            return TicketAnswer(DEFAULT)
        if item is None:
            return TicketAnswer(UNKNOWN)
        return TicketAnswer(
            FOUND,
            status=_word(item.status),
            kind=_word(item.kind),
            owner_interface=self._owner_interface(item, pbx),
            queue=self._queue(item),
            item_id=item.id,
        )

    async def _read(self, ticket: str) -> _Item | None:
        async with AsyncSession(self._engine) as session:
            row = (
                await session.execute(
                    select(
                        WorkItemRow.id,
                        WorkItemRow.status,
                        WorkItemRow.kind,
                        WorkItemRow.is_open,
                        WorkItemRow.owner_id,
                        WorkItemRow.team_id,
                        WorkItemRow.queue,
                    ).where(WorkItemRow.ticket == ticket)
                )
            ).one_or_none()
        return None if row is None else _Item(*row)

    def _forget(self, task: asyncio.Task[_Item | None]) -> None:
        self._abandoned.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("abandoned ticket lookup failed: %s", type(task.exception()).__name__)

    def _owner_interface(self, item: _Item, pbx: str | None) -> str:
        """The owner's phone if the item is open and the owner can take the call now."""
        if not item.is_open or item.owner_id is None:
            return ""
        user = self._workforce.active_user(item.owner_id)
        if user is None:  # disabled, or no such account any more
            return ""
        for agent in self._workforce.ready_agents():
            if agent.user_id == item.owner_id:
                # Signed in and ready; a phone of another PBX cannot be dialled from this one.
                if pbx is None or agent.pbx == pbx:
                    return _interface(agent.interface)
                return ""
        # Not ready at a signed-in phone: the owner's own fixed phone, if they have one.
        for interface in user.interfaces:
            checked = _interface(interface)
            if checked:
                return checked
        return ""

    def _queue(self, item: _Item) -> str:
        if item.queue and _QUEUE.fullmatch(item.queue):
            return item.queue
        teams = list(self._workforce.teams())
        team = next((t for t in teams if t.id == item.team_id), None)
        if team is None and item.owner_id is not None:
            team = next((t for t in teams if t.has(item.owner_id) and t.queues), None)
        if team is None:
            return ""
        return next((q for q in sorted(team.queues) if _QUEUE.fullmatch(q)), "")


def _pbx(given: str) -> str | None:
    if not given:
        return None
    if not _PBX_NAME.fullmatch(given):
        # The dialplan's ${IVR_PBX}, not the caller's input: a misconfiguration, refused.
        raise AgiBadValue(f"PBX name {shown(given)} is not a [[pbx]] name")
    return given


def _interface(interface: str) -> str:
    return interface if _INTERFACE.fullmatch(interface) else ""


def _word(value: str) -> str:
    return value if _WORD.fullmatch(value) else ""
