"""The ``ticket-lookup`` FastAGI route over a real FastAGI connection and a real database.

Each test serves the route on a real ``FastAgiServer`` (a socket on 127.0.0.1) and talks to it
the way res_agi does (tests/ivr/agi_client.py), against work items stored in SQLite and in
PostgreSQL. Only the agents room is replaced, by a ``WorkForce`` of fixed teams, users and
ready agents (what the agents room would answer).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.agents.scope import EVERYTHING, Scope, Team
from callcenter.auth.identity import User
from callcenter.ivr.agi import FastAgiServer
from callcenter.settings import IvrSettings, WorkSettings
from callcenter.store.db import create_engine
from callcenter.work.calendar import BusinessCalendar
from callcenter.work.models import WorkItemRow
from callcenter.work.phone import VARIABLES, TicketRoutes, masked_ticket
from callcenter.work.ports import ReadyAgent
from callcenter.work.room import WorkRoom
from callcenter.work.tickets import luhn_digit, valid_ticket
from tests.ivr.agi_client import AgiCall, call_route
from tests.rooms import make_host

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
LI, WU, ZHAO, GONE = 11, 12, 13, 14
LI_PHONE, WU_FIXED_PHONE = "PJSIP/1003", "PJSIP/1004"
CALLER = "13800138000"
TITLE = "Refund of order 5521 not received"
CUSTOMER_PHONE = "+8613912345678"


def ticket(body: str) -> str:
    return body + luhn_digit(body)


FOUND_LI = ticket("4827193")  # Li's open complaint, queue complaints
LI_RESOLVED = ticket("4827194")
POOL = ticket("5100001")  # the after-sales team's pool, no queue of its own
WU_ITEM = ticket("5100002")  # Wu: not signed in, a fixed phone
ZHAO_ITEM = ticket("5100003")  # Zhao: signed in at another PBX
GONE_ITEM = ticket("5100004")  # an owner whose account is disabled
NOBODY = ticket("7654321")  # valid, but no item has it


@dataclass
class Floor:
    """What the agents room answers about teams, users and who is ready where."""

    users: dict[int, User] = field(default_factory=dict)
    disabled: set[int] = field(default_factory=set)
    ready: list[ReadyAgent] = field(default_factory=list)
    team_list: list[Team] = field(default_factory=list)
    told: list[tuple[int, Mapping[str, Any]]] = field(default_factory=list)

    def scope_of(self, user: User) -> Scope:
        return EVERYTHING

    def teams(self) -> Sequence[Team]:
        return self.team_list

    def active_user(self, user_id: int) -> User | None:
        return None if user_id in self.disabled else self.users.get(user_id)

    def active_users(self) -> Sequence[User]:
        return [u for i, u in self.users.items() if i not in self.disabled]

    def ready_agents(self) -> Sequence[ReadyAgent]:
        return self.ready

    def tell(self, user_id: int, message: Mapping[str, Any]) -> None:
        self.told.append((user_id, message))


def floor() -> Floor:
    return Floor(
        users={
            LI: User(LI, "li", "Li Lei", "agent"),
            WU: User(WU, "wu", "Wu Fei", "agent", interfaces=(WU_FIXED_PHONE,)),
            ZHAO: User(ZHAO, "zhao", "Zhao Min", "agent"),
            GONE: User(GONE, "gone", "Gone", "agent", interfaces=("PJSIP/1009",)),
        },
        disabled={GONE},
        ready=[
            ReadyAgent(LI, "rig", LI_PHONE, NOW),
            ReadyAgent(ZHAO, "branch", "PJSIP/2001", NOW),
        ],
        team_list=[
            Team(1, "first-line", "一线", "First line", frozenset({"support"}), frozenset({LI}),
                 frozenset()),
            Team(2, "after-sales", "售后", "After-sales",
                 frozenset({"aftersales", "aftersales-en"}), frozenset({WU, ZHAO}), frozenset()),
        ],
    )  # fmt: skip


def item(ticket: str, **values: Any) -> WorkItemRow:
    row: dict[str, Any] = dict(
        ticket=ticket,
        kind="complaint",
        status="open",
        is_open=True,
        priority="high",
        category="billing",
        title=TITLE,
        customer_id=None,
        phone=CUSTOMER_PHONE,
        pbx="rig",
        queue=None,
        owner_id=None,
        team_id=None,
        source="agent",
        created_at=NOW,
        updated_at=NOW,
        version=1,
        clock="wall",
        clock_start=NOW,
        span_seconds=86400,
        due_at=NOW,
        escalation_tier=0,
        escalations=0,
    )
    row.update(values)
    return WorkItemRow(**row)


async def store_items(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as session, session.begin():
        session.add_all(
            [
                item(FOUND_LI, owner_id=LI, team_id=1, queue="complaints"),
                item(LI_RESOLVED, owner_id=LI, team_id=1, status="resolved", is_open=False),
                item(POOL, kind="follow-up", team_id=2),
                item(WU_ITEM, kind="callback", status="waiting-customer", owner_id=WU),
                item(ZHAO_ITEM, kind="inquiry", status="in-progress", owner_id=ZHAO, team_id=2),
                item(GONE_ITEM, owner_id=GONE, team_id=2, queue="aftersales"),
            ]
        )


@pytest.fixture
async def served(engine: AsyncEngine) -> AsyncIterator[int]:
    """The route on a real FastAGI server over the test database; yields its port."""
    await store_items(engine)
    server = FastAgiServer(
        "127.0.0.1", 0, TicketRoutes(engine, floor(), budget_ms=3000).handlers(), 0.5
    )
    await server.start()
    try:
        yield server.bound_port
    finally:
        await server.stop()


async def lookup(port: int, *args: str) -> AgiCall:
    return await call_route(port, "ticket-lookup", list(args), callerid=CALLER)


def answer(call: AgiCall) -> tuple[str, ...]:
    """The five variables, in VARIABLES order; every answer sets all of them."""
    assert set(call.variables) == set(VARIABLES), call.commands
    assert call.closed_by_server
    return tuple(call.variables[name] for name in VARIABLES)


def test_the_test_tickets_are_what_they_claim() -> None:
    for number in (FOUND_LI, LI_RESOLVED, POOL, WU_ITEM, ZHAO_ITEM, GONE_ITEM, NOBODY):
        assert valid_ticket(number), number


async def test_an_open_item_whose_owner_is_ready_here_gives_the_owners_phone(served: int) -> None:
    call = await lookup(served, "rig", FOUND_LI)
    assert answer(call) == ("found", "open", "complaint", LI_PHONE, "complaints")


async def test_without_a_pbx_name_a_ready_owner_anywhere_counts(served: int) -> None:
    # A dialplan without IVR_PBX (one PBX): the owner's phone whatever PBX it is named on.
    call = await lookup(served, "", ZHAO_ITEM)
    assert answer(call) == ("found", "in-progress", "inquiry", "PJSIP/2001", "aftersales")


async def test_an_owner_ready_at_another_pbx_is_not_dialled_from_this_one(served: int) -> None:
    call = await lookup(served, "rig", ZHAO_ITEM)
    # The item's team's first queue by name: the caller is queued there.
    assert answer(call) == ("found", "in-progress", "inquiry", "", "aftersales")


async def test_an_owner_who_is_not_signed_in_is_rung_at_their_fixed_phone(served: int) -> None:
    call = await lookup(served, "rig", WU_ITEM)
    # No team on the item: the owner's team gives the queue.
    assert answer(call) == ("found", "waiting-customer", "callback", WU_FIXED_PHONE, "aftersales")


async def test_an_owner_not_ready_and_without_a_fixed_phone_is_not_rung(
    engine: AsyncEngine,
) -> None:
    await store_items(engine)
    paused = floor()
    paused.ready = []  # Li signed in but not ready (on a call, paused), or signed out
    server = FastAgiServer("127.0.0.1", 0, TicketRoutes(engine, paused).handlers(), 0.5)
    await server.start()
    try:
        call = await lookup(server.bound_port, "rig", FOUND_LI)
    finally:
        await server.stop()
    assert answer(call) == ("found", "open", "complaint", "", "complaints")


async def test_a_resolved_item_and_a_disabled_owner_ring_nobody(served: int) -> None:
    call = await lookup(served, "rig", LI_RESOLVED)
    assert answer(call) == ("found", "resolved", "complaint", "", "support")
    call = await lookup(served, "rig", GONE_ITEM)
    assert answer(call) == ("found", "open", "complaint", "", "aftersales")


async def test_a_pool_item_goes_to_its_teams_queue(served: int) -> None:
    call = await lookup(served, "rig", POOL)
    assert answer(call) == ("found", "open", "follow-up", "", "aftersales")


async def test_a_valid_number_no_item_has_is_unknown(served: int) -> None:
    call = await lookup(served, "rig", NOBODY)
    assert answer(call) == ("unknown", "", "", "", "")


@pytest.mark.parametrize(
    "keyed",
    [
        FOUND_LI[:7] + str((int(FOUND_LI[7]) + 1) % 10),  # a wrong check digit
        FOUND_LI[:6] + FOUND_LI[7] + FOUND_LI[6],  # two keys swapped
        FOUND_LI[:7],  # a key short
        FOUND_LI + "1",  # a key too many
        "",
        "4827*935",
        "".join(chr(0xFF10 + int(d)) for d in FOUND_LI),  # full-width digits: no phone keys
    ],
)
async def test_what_is_not_a_ticket_number_is_invalid_without_a_database_read(
    served: int, keyed: str
) -> None:
    call = await lookup(served, "rig", keyed)
    assert answer(call) == ("invalid", "", "", "", "")


async def test_a_bad_pbx_name_is_refused_and_nothing_is_answered(
    served: int, caplog: pytest.LogCaptureFixture
) -> None:
    call = await lookup(served, "rig;x", FOUND_LI)
    assert call.variables == {}
    # The PBX console hears "refused" (never the value); the service's log says why.
    assert any(c.startswith("VERBOSE") and "refused" in c for c in call.commands)
    assert "PBX name 'rig;x' is not a [[pbx]] name" in caplog.text


async def test_the_log_shows_masked_numbers_and_no_customer_data(
    served: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="callcenter.work.phone"):
        await lookup(served, "rig", FOUND_LI)
        await lookup(served, "rig", "13912345678")  # a caller keying their own number
    text = caplog.text
    assert f"ticket='******{FOUND_LI[-2:]}'" in text and FOUND_LI not in text
    assert "caller=138****8000" in text and CALLER not in text
    assert "13912345678" not in text and "'*********78'" in text
    assert TITLE not in text and CUSTOMER_PHONE not in text
    assert "found item=1 owner_phone=PJSIP/1003 queue=complaints" in text
    assert masked_ticket("12") == "**" and masked_ticket("123") == "*23"


# --- the budget: a database that does not answer -------------------------------------------


@pytest.fixture
def silent_database() -> Iterator[str]:
    """A PostgreSQL URL whose server takes connections (the kernel's backlog) and never
    says a word: the client waits for the server's first message."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        yield f"postgresql+asyncpg://cc:cc@127.0.0.1:{port}/cc"


async def test_a_database_that_does_not_answer_gives_the_default_within_the_budget(
    silent_database: str,
) -> None:
    engine = create_engine(silent_database)
    server = FastAgiServer(
        "127.0.0.1", 0, TicketRoutes(engine, floor(), budget_ms=200).handlers(), 0.5
    )
    await server.start()
    try:
        started = time.monotonic()
        call = await lookup(server.bound_port, "rig", FOUND_LI)
        elapsed = time.monotonic() - started
        assert answer(call) == ("default", "", "", "", "")
        assert elapsed < 0.45, f"answered after {elapsed:.3f} s"
    finally:
        await server.stop()
        await engine.dispose()


async def test_a_database_that_is_down_gives_the_default(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Nothing listens on port 1: the connection is refused at once.
    engine = create_engine("postgresql+asyncpg://cc:cc@127.0.0.1:1/cc")
    server = FastAgiServer("127.0.0.1", 0, TicketRoutes(engine, floor()).handlers(), 0.5)
    await server.start()
    try:
        call = await lookup(server.bound_port, "rig", FOUND_LI)
        assert answer(call) == ("default", "", "", "", "")
    finally:
        await server.stop()
        await engine.dispose()
    assert "ticket lookup failed" in caplog.text and "Traceback" not in caplog.text


# --- the room offers the route -------------------------------------------------------------


async def test_the_work_room_offers_the_route_for_the_ivr_server(engine: AsyncEngine) -> None:
    await store_items(engine)
    room = WorkRoom(
        make_host(engine),
        WorkSettings(),
        BusinessCalendar.from_ivr(IvrSettings()),
        floor(),
    )
    routes = room.agi_routes(3000)
    assert set(routes) == {"ticket-lookup"}
    server = FastAgiServer("127.0.0.1", 0, dict(routes), 0.5)
    await server.start()
    try:
        call = await lookup(server.bound_port, "rig", FOUND_LI)
    finally:
        await server.stop()
    assert answer(call) == ("found", "open", "complaint", LI_PHONE, "complaints")
