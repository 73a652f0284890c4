"""The work-items room through its HTTP API, on SQLite and on PostgreSQL.

Real parts: the database (migrated to head), the auth room's sessions (each person logs in
with a session cookie the session store made), the agents room with its teams read from the
database (the ``WorkForce`` the work room asks: who exists, who is disabled, the teams and
their leaders, the consoles), the audit log, the HTTP stack and the Prometheus registry. The
feed is a list of what was published; what a console is told is caught where the agents room
tells its seats. The work room's clock is moved by hand.

The calendar is the IVR's: Asia/Shanghai, Monday to Friday 09:00-18:00, Monday 7 December
2026 a holiday. The clock starts on Thursday 3 December 2026 at 10:00 local (02:00 UTC).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.agents import store as agents_store
from callcenter.agents.room import AgentsRoom
from callcenter.audit.log import AuditLog
from callcenter.audit.models import AuditEntry
from callcenter.auth.identity import Role, User
from callcenter.auth.models import UserRow
from callcenter.auth.room import AuthRoom
from callcenter.auth.sessions import COOKIE_NAME
from callcenter.auth.users import user_from_row
from callcenter.customers.models import CustomerRow
from callcenter.records.models import CallRecord
from callcenter.settings import AgentsSettings, AuthSettings, IvrSettings, WorkSettings
from callcenter.store.base import Base
from callcenter.store.db import create_engine
from callcenter.web.app import create_app
from callcenter.work.calendar import BusinessCalendar
from callcenter.work.items import WorkItems
from callcenter.work.models import (
    WorkItemCallRow,
    WorkItemEventRow,
    WorkItemLinkRow,
    WorkItemRow,
)
from callcenter.work.room import WorkRoom
from callcenter.work.tickets import valid_ticket
from tests.rooms import make_host

ORIGIN = "http://console.test"
PBX = "rig"
SHANGHAI = timedelta(hours=8)
# Thursday 3 December 2026, 10:00 in Shanghai.
T0 = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
HOLIDAY = date(2026, 12, 7)  # the Monday after
CALENDAR = BusinessCalendar.from_ivr(IvrSettings(holidays=[HOLIDAY]))
HOUR = 3600

# username: (display name, role, phone interfaces)
PEOPLE: dict[str, tuple[str, Role, list[str]]] = {
    "root": ("Root", "admin", []),
    "boss": ("Boss", "supervisor", []),
    "lin": ("Lin (front lead)", "team_leader", []),
    "mei": ("Mei (back lead)", "team_leader", []),
    "wang": ("Wang Fang", "agent", ["PJSIP/1001"]),
    "li": ("Li Na", "agent", ["PJSIP/1002"]),
    "zhao": ("Zhao Lei", "agent", ["PJSIP/1003"]),
    "gone": ("Gone Soon", "agent", ["PJSIP/1004"]),
}
# name: (queues, leaders, members)
TEAMS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "front": (("support", "sales"), ("lin",), ("wang", "li", "gone")),
    "back": (("billing",), ("mei",), ("zhao",)),
}


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """December 2026, Shanghai wall clock, as UTC."""
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC) - SHANGHAI


def at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class HandClock:
    """Moved by hand; with ``tick`` set, each reading is that much later (time passes while
    a request runs)."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.tick = timedelta(0)

    def __call__(self) -> datetime:
        self.now += self.tick
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def set(self, when: datetime) -> datetime:
        self.now = when
        return when


class Centre:
    """The rooms behind HTTP, a session per person, and what they publish and tell."""

    client: TestClient[web.Request, web.Application]

    def __init__(
        self,
        engine: AsyncEngine,
        users: dict[str, User],
        teams: dict[str, int],
        settings: WorkSettings,
    ) -> None:
        self.engine = engine
        self.users = users
        self.teams = teams
        self.clock = HandClock(T0)
        self.published: list[str] = []
        self.host = make_host(engine, published=self.published)
        self.audit_log = AuditLog(engine)
        self.auth = AuthRoom(engine, AuthSettings(), audit=self.audit_log)
        self.agents = AgentsRoom(
            self.host,
            AgentsSettings(check_seconds=300),
            pbx_names=[PBX],
            users_with_sessions=self.auth.sessions.users_with_sessions,
        )
        self.told: list[tuple[int, dict[str, Any]]] = []
        self.agents.seats.follow(lambda user_id: None, self._told)
        self.work = WorkRoom(
            self.host, settings, CALENDAR, self.agents, audit=self.audit_log, clock=self.clock
        )
        self.tokens: dict[str, str] = {}
        self._calls = 0

    def _told(self, user_id: int, message: Mapping[str, Any]) -> None:
        self.told.append((user_id, json.loads(json.dumps(message, default=str))))

    def id(self, who: str) -> int:
        return self.users[who].id

    # --- asking like the consoles and pages do ------------------------------------------

    async def call(
        self, who: str, method: str, path: str, body: Any = None, **query: Any
    ) -> tuple[int, Any]:
        headers = {"Origin": ORIGIN}
        if who in self.tokens:
            headers["Cookie"] = f"{COOKIE_NAME}={self.tokens[who]}"
        params = {
            key: (str(value).lower() if isinstance(value, bool) else str(value))
            for key, value in query.items()
            if value is not None
        }
        async with self.client.request(
            method, path, json=body, headers=headers, params=params
        ) as response:
            return response.status, await response.json()

    async def create(self, who: str, **body: Any) -> dict[str, Any]:
        body.setdefault("kind", "follow-up")
        body.setdefault("title", "Call the customer back about the invoice")
        body.setdefault("category", "billing")
        status, answer = await self.call(who, "POST", "/api/work/items", body)
        assert status == 201, answer
        return dict(answer)

    async def item(self, item_id: int, who: str = "boss") -> dict[str, Any]:
        status, answer = await self.call(who, "GET", f"/api/work/items/{item_id}")
        assert status == 200, answer
        return dict(answer)

    async def move(
        self, who: str, item: Mapping[str, Any], status: str, **extra: Any
    ) -> tuple[int, Any]:
        version = extra.pop("version", item["version"])
        return await self.call(
            who,
            "POST",
            f"/api/work/items/{item['id']}/status",
            {"version": version, "status": status, **extra},
        )

    async def moved(
        self, who: str, item: Mapping[str, Any], status: str, **extra: Any
    ) -> dict[str, Any]:
        code, answer = await self.move(who, item, status, **extra)
        assert code == 200, answer
        return dict(answer)

    async def listed(self, who: str = "boss", **query: Any) -> list[dict[str, Any]]:
        status, answer = await self.call(who, "GET", "/api/work/items", **query)
        assert status == 200, answer
        return list(answer["items"])

    async def counts(self, who: str = "boss", **query: Any) -> dict[str, int]:
        status, answer = await self.call(who, "GET", "/api/work/counts", **query)
        assert status == 200, answer
        return dict(answer)

    async def mine(self, who: str) -> dict[str, Any]:
        status, answer = await self.call(who, "GET", "/api/work/mine")
        assert status == 200, answer
        return dict(answer)

    # --- what happened -------------------------------------------------------------------

    def feed(self, kind: str) -> list[dict[str, Any]]:
        messages = [json.loads(text) for text in self.published]
        return [m for m in messages if m.get("type") == kind]

    def told_to(self, who: str) -> list[dict[str, Any]]:
        return [message for uid, message in self.told if uid == self.id(who)]

    async def audit(self, action: str | None = None) -> list[AuditEntry]:
        query = select(AuditEntry).order_by(AuditEntry.id)
        if action is not None:
            query = query.where(AuditEntry.action == action)
        async with AsyncSession(self.engine) as session:
            return list((await session.scalars(query)).all())

    async def stored(self) -> dict[str, int]:
        """Rows of every table a change of work could write."""
        tables: list[type[Base]] = [
            WorkItemRow,
            WorkItemEventRow,
            WorkItemCallRow,
            WorkItemLinkRow,
            AuditEntry,
        ]
        found: dict[str, int] = {}
        async with AsyncSession(self.engine) as session:
            for table in tables:
                count = await session.scalar(select(func.count()).select_from(table))
                found[table.__tablename__] = int(count or 0)
        return found

    def escalations_counted(self, tier: str) -> float:
        value = self.host.registry.get_sample_value(
            "callcenter_work_escalations_total", {"tier": tier}
        )
        return 0.0 if value is None else value

    # --- the rest of the world ---------------------------------------------------------

    async def add_customer(self, name: str, phone: str) -> int:
        row = CustomerRow(name=name, phones=[phone], created_at=T0, updated_at=T0)
        async with (
            AsyncSession(self.engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            session.add(row)
        return row.id

    async def add_call(
        self, answered_by: str, number: str = "+8613800000001", customer_id: int | None = None
    ) -> int:
        """A queue call answered (and ended) a moment ago at the agent's phone."""
        self._calls += 1
        user = self.users[answered_by]
        row = CallRecord(
            pbx=PBX,
            uniqueid=f"1764720000.{self._calls}",
            queue="support",
            caller_number=number,
            joined_at=self.clock() - timedelta(minutes=10),
            answered_at=self.clock() - timedelta(minutes=9),
            ended_at=self.clock() - timedelta(minutes=1),
            answered_by=user.interfaces[0],
            answered_by_name=user.display_name,
            answered_by_user=user.id,
            outcome="answered",
            customer_id=customer_id,
        )
        async with (
            AsyncSession(self.engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            session.add(row)
        return row.id

    async def disable(self, who: str) -> None:
        """An administrator disables the account; the agents room picks it up."""
        async with AsyncSession(self.engine) as session, session.begin():
            await session.execute(
                update(UserRow)
                .where(UserRow.username == who)
                .values(disabled=True, updated_at=datetime.now(UTC))
            )
        await self.agents.desk.refresh()
        assert self.agents.active_user(self.id(who)) is None


async def _add_people(engine: AsyncEngine) -> dict[str, User]:
    now = datetime.now(UTC)
    rows = [
        UserRow(
            username=username,
            display_name=name,
            role=role,
            password_hash="-",  # nobody logs in with a password here
            interfaces=interfaces,
            language="zh",
            disabled=False,
            created_at=now,
            updated_at=now,
        )
        for username, (name, role, interfaces) in PEOPLE.items()
    ]
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        session.add_all(rows)
    return {row.username: user_from_row(row) for row in rows}


async def _add_teams(engine: AsyncEngine, users: dict[str, User]) -> dict[str, int]:
    ids: dict[str, int] = {}
    async with AsyncSession(engine) as session, session.begin():
        for name, (queues, leaders, members) in TEAMS.items():
            ids[name] = await agents_store.save_team(
                session,
                None,
                name=name,
                label_zh=name,
                label_en=name.title(),
                queues=queues,
                members=[users[u].id for u in members],
                leaders=[users[u].id for u in leaders],
                at=datetime.now(UTC),
            )
    return ids


@asynccontextmanager
async def open_centre(
    engine: AsyncEngine, settings: WorkSettings | None = None
) -> AsyncIterator[Centre]:
    users = await _add_people(engine)
    teams = await _add_teams(engine, users)
    centre = Centre(engine, users, teams, settings or WorkSettings())
    await centre.agents.start()
    try:
        for who, user in users.items():
            if who != "gone":
                centre.tokens[who] = await centre.auth.sessions.create(user)
        app = create_app(
            [centre.auth, centre.agents, centre.work],
            centre.auth.authenticate,
            public_origins=[ORIGIN],
        )
        async with TestClient(TestServer(app)) as client:
            centre.client = client
            yield centre
    finally:
        await centre.agents.stop()
        await centre.host.tasks.cancel_all()


@pytest.fixture
async def centre(engine: AsyncEngine) -> AsyncIterator[Centre]:
    async with open_centre(engine) as centre:
        yield centre


def kinds(item: Mapping[str, Any]) -> list[str]:
    return [entry["kind"] for entry in item["timeline"]]


# --- creating from a wrap-up ----------------------------------------------------------------


async def test_an_item_from_a_wrap_up_has_a_ticket_its_call_and_a_created_line(
    centre: Centre,
) -> None:
    customer = await centre.add_customer("王芳", "+8613800000001")
    call = await centre.add_call("wang", customer_id=customer)

    item = await centre.create(
        "wang",
        kind="follow-up",
        title="发票没有收到",
        category="billing",
        customer_id=customer,
        phone="+8613800000001",
        call_ids=[call],
        note="客户要求重新开具发票",
    )

    assert len(item["ticket"]) == 8 and item["ticket"].isdigit()
    assert valid_ticket(item["ticket"])
    assert (item["kind"], item["status"], item["priority"], item["category"]) == (
        "follow-up",
        "open",
        "normal",
        "billing",
    )
    # Nobody named: the item is the creator's, in the creator's team.
    assert (item["owner_id"], item["owner_name"]) == (centre.id("wang"), "Wang Fang")
    assert (item["team_id"], item["team_name"]) == (centre.teams["front"], "front")
    assert (item["customer_id"], item["customer_name"], item["phone"]) == (
        customer,
        "王芳",
        "+8613800000001",
    )
    assert [(c["id"], c["role"]) for c in item["calls"]] == [(call, "origin")]
    assert item["calls"][0]["answered_by_name"] == "Wang Fang"
    (created,) = item["timeline"]
    assert (created["kind"], created["actor"], created["actor_id"], created["text"]) == (
        "created",
        "Wang Fang",
        centre.id("wang"),
        "客户要求重新开具发票",
    )
    assert item["version"] == 1 and item["overdue"] is False and item["waiting"] is False

    # Found again by its ticket (what a caller reads out), by anyone who works items.
    status, again = await centre.call("li", "GET", f"/api/work/tickets/{item['ticket']}")
    assert (status, again["id"]) == (200, item["id"])
    # The creator owns it: nobody else's console was told.
    assert centre.told == []
    (entry,) = await centre.audit("work.create")
    assert (entry.username, entry.target, entry.ok) == ("wang", f"work-item:{item['ticket']}", True)


@pytest.mark.parametrize(
    ("kind", "category", "asked", "priority", "first_response", "due"),
    [
        # An urgent complaint: first response 2 h, resolution 24 h of wall clock.
        ("complaint", "service", "urgent", "urgent", T0 + timedelta(hours=2), T0 + timedelta(1)),
        # A major complaint is urgent whatever was asked.
        (
            "complaint",
            "major-complaint",
            None,
            "urgent",
            T0 + timedelta(hours=2),
            T0 + timedelta(1),
        ),
        # Account security is urgent, even asked as low: 8 working hours from Thursday 10:00.
        ("follow-up", "account-security", "low", "urgent", T0 + timedelta(hours=2), local(3, 18)),
        # A normal follow-up: 2 working days, skipping the weekend and Monday's holiday.
        ("follow-up", "billing", None, "normal", None, local(8, 18)),
        # A high complaint: 4 working hours, 2 working days.
        ("complaint", "billing", "high", "high", local(3, 14), local(8, 18)),
        # A normal complaint: 1 working day, 3 working days.
        ("complaint", "billing", "normal", "normal", local(4, 18), local(9, 18)),
    ],
)
async def test_the_deadline_comes_from_the_rule_table_and_the_calendar(
    centre: Centre,
    kind: str,
    category: str,
    asked: str | None,
    priority: str,
    first_response: datetime | None,
    due: datetime,
) -> None:
    item = await centre.create("wang", kind=kind, category=category, priority=asked)
    assert item["priority"] == priority
    assert at(item["first_response_due"]) == first_response
    assert at(item["due_at"]) == due
    (created,) = item["timeline"]
    assert at(created["data"]["due_at"]) == due


async def test_a_deadline_promised_by_hand_replaces_the_rules(centre: Centre) -> None:
    promised = T0 + timedelta(days=3, hours=4)
    item = await centre.create("wang", due_at=promised.isoformat())
    assert at(item["due_at"]) == promised


async def test_a_deadline_promised_by_hand_brings_the_first_response_forward(
    centre: Centre,
) -> None:
    # An urgent complaint's first response is due in 2 h; promised a resolution in 1 h,
    # the first response cannot come later than that.
    promised = T0 + timedelta(hours=1)
    item = await centre.create(
        "wang", kind="complaint", category="service", priority="urgent", due_at=promised.isoformat()
    )
    assert at(item["due_at"]) == promised
    assert at(item["first_response_due"]) == promised


# --- bad input: a clear 4xx and nothing stored ----------------------------------------------


async def test_bad_creations_are_refused_and_store_nothing(centre: Centre) -> None:
    customer = await centre.add_customer("王芳", "+8613800000001")
    mine = await centre.add_call("wang", customer_id=customer)
    zhaos = await centre.add_call("zhao")
    await centre.disable("gone")
    good: dict[str, Any] = {
        "kind": "follow-up",
        "title": "Invoice",
        "category": "billing",
        "customer_id": customer,
        "call_ids": [mine],
    }
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("unknown customer", {"customer_id": customer + 100}, 404, "no-such-customer"),
        ("unknown call", {"call_ids": [mine, mine + 100]}, 404, "no-such-call"),
        ("another agent's call", {"call_ids": [mine, zhaos]}, 403, "not-your-call"),
        (
            "a deadline in the past",
            {"due_at": (T0 - timedelta(minutes=1)).isoformat()},
            400,
            "due-in-past",
        ),
        ("a deadline of now", {"due_at": T0.isoformat()}, 400, "due-in-past"),
        ("unknown category", {"category": "astrology"}, 400, "unknown-category"),
        ("a disabled owner", {"owner_id": centre.id("gone")}, 404, "no-such-user"),
        ("an unknown owner", {"owner_id": 99_999}, 404, "no-such-user"),
        ("an unknown team", {"team_id": 99_999}, 404, "no-such-team"),
        ("a callback with no number", {"kind": "callback"}, 400, "nobody-to-call"),
        ("a title with NUL", {"title": "In\x00voice"}, 400, "invalid-body"),
        ("a note with NUL", {"note": "a\x00b"}, 400, "invalid-body"),
        ("an unknown kind", {"kind": "wish"}, 400, "invalid-body"),
        ("a deadline with no zone", {"due_at": "2026-12-10T10:00:00"}, 400, "invalid-body"),
    ]
    before = await centre.stored()
    for name, change, status, error in cases:
        code, answer = await centre.call("wang", "POST", "/api/work/items", {**good, **change})
        assert (code, answer["error"]) == (status, error), (name, answer)
        assert await centre.stored() == before, name
    assert centre.told == [] and centre.published == []

    # The same body without the fault is stored: the faults were what was refused.
    assert (await centre.create("wang", **good))["calls"][0]["id"] == mine


async def test_an_agent_may_not_list_everyone_s_items(centre: Centre) -> None:
    for path in ("/api/work/items", "/api/work/counts"):
        status, answer = await centre.call("wang", "GET", path)
        assert (status, answer["error"]) == (403, "forbidden"), path
    status, answer = await centre.call("wang", "POST", "/api/work/bulk-assign", {"ids": [1]})
    assert (status, answer["error"]) == (403, "forbidden")
    status, answer = await centre.call("nobody", "GET", "/api/work/mine")
    assert status == 401, answer


async def test_forbidden_jumps_stale_versions_and_bad_notes_change_nothing(
    centre: Centre,
) -> None:
    item = await centre.create("wang")
    before = await centre.stored()

    # open -> closed skips resolved: refused, with the moves that are allowed.
    status, answer = await centre.move("wang", item, "closed")
    assert (status, answer["error"]) == (409, "forbidden-transition"), answer
    assert answer["status"] == 409
    assert sorted(answer["allowed"]) == [
        "in-progress",
        "resolved",
        "waiting-customer",
        "waiting-department",
    ]
    assert await centre.stored() == before
    again = await centre.item(item["id"])
    assert (again["status"], again["version"], kinds(again)) == ("open", 1, ["created"])

    # Someone else changed it meanwhile: the version wanted is stale.
    moved = await centre.moved("wang", item, "in-progress")
    assert moved["version"] == 2
    before = await centre.stored()
    status, answer = await centre.move("wang", item, "resolved", version=1)
    assert (status, answer["error"]) == (409, "stale-item"), answer
    assert (answer["item"]["version"], answer["item"]["status"]) == (2, "in-progress")
    status, answer = await centre.call(
        "wang", "POST", f"/api/work/items/{item['id']}/assign", {"version": 1, "owner_id": 1}
    )
    assert (status, answer["error"]) == (409, "stale-item"), answer
    assert await centre.stored() == before

    # in-progress -> closed is no better.
    status, answer = await centre.move("wang", moved, "closed")
    assert (status, answer["error"]) == (409, "forbidden-transition")
    # A note with a NUL in it, an empty note.
    for text in ("bad\x00note", ""):
        status, answer = await centre.call(
            "wang", "POST", f"/api/work/items/{item['id']}/notes", {"text": text}
        )
        assert (status, answer["error"]) == (400, "invalid-body"), answer
    # An item that does not exist.
    status, answer = await centre.call(
        "wang", "POST", "/api/work/items/99999/status", {"version": 1, "status": "resolved"}
    )
    assert (status, answer["error"]) == (404, "no-such-item")
    status, answer = await centre.call("wang", "GET", "/api/work/tickets/12345678")
    assert (status, answer["error"]) == (400, "not-a-ticket")
    assert await centre.stored() == before
    final = await centre.item(item["id"])
    assert (final["status"], final["version"]) == ("in-progress", 2)


async def test_a_reassign_to_a_disabled_user_changes_nothing(centre: Centre) -> None:
    first = await centre.create("wang")
    second = await centre.create("li")
    await centre.disable("gone")
    before = await centre.stored()

    status, answer = await centre.call(
        "boss",
        "POST",
        "/api/work/bulk-assign",
        {"ids": [first["id"], second["id"]], "owner_id": centre.id("gone")},
    )
    assert (status, answer["error"]) == (404, "no-such-user"), answer
    status, answer = await centre.call(
        "wang",
        "POST",
        f"/api/work/items/{first['id']}/assign",
        {"version": first["version"], "owner_id": centre.id("gone")},
    )
    assert (status, answer["error"]) == (404, "no-such-user"), answer
    status, answer = await centre.call(
        "boss", "POST", "/api/work/bulk-assign", {"ids": [first["id"]]}
    )
    assert (status, answer["error"]) == (400, "no-owner"), answer

    assert await centre.stored() == before
    assert (await centre.item(first["id"]))["owner_id"] == centre.id("wang")
    assert (await centre.item(second["id"]))["owner_id"] == centre.id("li")
    assert centre.told == []


# --- the status machine ---------------------------------------------------------------------


async def test_waiting_stops_the_wall_clock_and_resuming_gives_what_was_left(
    centre: Centre,
) -> None:
    item = await centre.create("wang", kind="complaint", category="service", priority="urgent")
    assert at(item["due_at"]) == T0 + timedelta(hours=24)

    centre.clock.advance(2 * HOUR)
    waiting = await centre.moved("wang", item, "waiting-customer", note="客户查找凭证")
    assert waiting["due_at"] is None
    assert (waiting["waiting"], waiting["overdue"]) == (True, False)
    assert waiting["remaining_seconds"] == 22 * HOUR
    assert (await centre.mine("wang"))["counts"]["waiting"] == 1

    # Long past the first deadline: a waiting item is not overdue and does not escalate.
    centre.clock.advance(30 * HOUR)
    await centre.work.sweep()
    still = await centre.item(item["id"])
    assert (still["overdue"], still["escalations"], still["due_at"]) == (False, 0, None)
    assert (await centre.counts())["overdue"] == 0

    resumed = await centre.moved("wang", waiting, "in-progress")
    assert at(resumed["due_at"]) == centre.clock() + timedelta(hours=22)
    assert (resumed["waiting"], resumed["remaining_seconds"]) == (False, None)
    statuses = [(e["data"]["before"], e["data"]["after"]) for e in resumed["timeline"][1:]]
    assert statuses == [("open", "waiting-customer"), ("waiting-customer", "in-progress")]
    assert resumed["timeline"][1]["text"] == "客户查找凭证"


async def test_waiting_stops_the_working_clock_and_resumes_by_the_calendar(
    centre: Centre,
) -> None:
    item = await centre.create("wang")  # normal follow-up: Tuesday 8th, 18:00
    assert at(item["due_at"]) == local(8, 18)
    # Thursday 12:00: left are 6 h on Thursday, 9 h on Friday, 9 h on Tuesday.
    centre.clock.set(local(3, 12))
    waiting = await centre.moved("wang", item, "waiting-department")
    assert (waiting["due_at"], waiting["remaining_seconds"]) == (None, 24 * HOUR)
    # Back on Wednesday 9th at 10:00: 8 h on Wednesday, 9 h on Thursday, 7 h on Friday.
    centre.clock.set(local(9, 10))
    resumed = await centre.moved("wang", waiting, "in-progress")
    assert at(resumed["due_at"]) == local(11, 16)


async def test_resolve_on_time_and_late_then_close_and_reopen(centre: Centre) -> None:
    early = await centre.create("wang", kind="complaint", category="service", priority="urgent")
    late = await centre.create("wang", kind="complaint", category="service", priority="urgent")

    centre.clock.advance(HOUR)
    resolved = await centre.moved("wang", early, "resolved", resolution="退款已到账")
    assert (resolved["status"], resolved["resolved_on_time"]) == ("resolved", True)
    assert at(resolved["resolved_at"]) == centre.clock()
    assert resolved["resolution"] == "退款已到账"
    assert resolved["overdue"] is False

    centre.clock.advance(24 * HOUR)  # T0 + 25 h: an hour late
    assert (await centre.item(late["id"]))["overdue"] is True
    late_resolved = await centre.moved("wang", late, "resolved")
    assert late_resolved["resolved_on_time"] is False
    counts = await centre.counts()
    assert (counts["resolved"], counts["resolved_on_time"], counts["resolved_late"]) == (2, 1, 1)
    assert (counts["open"], counts["overdue"]) == (0, 0)

    # Reopened: a new promise from now, tiers from the start, no resolution.
    reopened = await centre.moved("wang", late_resolved, "in-progress")
    assert reopened["status"] == "in-progress"
    assert at(reopened["due_at"]) == centre.clock() + timedelta(hours=24)
    assert at(reopened["first_response_due"]) == centre.clock() + timedelta(hours=2)
    assert (reopened["resolved_at"], reopened["resolved_on_time"], reopened["resolution"]) == (
        None,
        None,
        None,
    )
    assert reopened["escalation_tier"] == 0 and reopened["overdue"] is False

    # Closed only from resolved; a closed item may be reopened.
    closed = await centre.moved("wang", resolved, "closed")
    assert closed["status"] == "closed" and at(closed["closed_at"]) == centre.clock()
    status, answer = await centre.move("wang", closed, "resolved")
    assert (status, answer["error"]) == (409, "forbidden-transition")
    again = await centre.moved("wang", closed, "in-progress")
    assert (again["status"], again["closed_at"]) == ("in-progress", None)
    assert at(again["due_at"]) == centre.clock() + timedelta(hours=24)


async def test_only_the_owner_or_a_supervisor_of_the_team_moves_an_item(centre: Centre) -> None:
    item = await centre.create("wang")
    for who in ("li", "zhao", "mei"):  # a colleague, another team's agent and its leader
        status, answer = await centre.move(who, item, "resolved")
        assert (status, answer["error"]) == (403, "not-your-item"), (who, answer)
    led = await centre.moved("lin", item, "in-progress")  # wang's team leader
    assert led["status"] == "in-progress"
    assert led["first_response_at"] is None  # the owner has not answered yet
    centre.clock.advance(600)
    done = await centre.moved("boss", led, "resolved")  # the floor's supervisor
    assert done["status"] == "resolved"


# --- take and reassign ---------------------------------------------------------------------


async def test_an_agent_takes_from_the_own_team_s_pool_not_another_team_s(
    centre: Centre,
) -> None:
    front_pool = await centre.create("lin", team_id=centre.teams["front"], title="Front pool")
    back_pool = await centre.create("mei", team_id=centre.teams["back"], title="Back pool")
    assert (front_pool["owner_id"], front_pool["team_id"]) == (None, centre.teams["front"])
    assert [i["id"] for i in (await centre.mine("wang"))["pool"]] == [front_pool["id"]]
    assert [i["id"] for i in (await centre.mine("zhao"))["pool"]] == [back_pool["id"]]

    before = await centre.stored()
    status, answer = await centre.call(
        "wang", "POST", f"/api/work/items/{back_pool['id']}/take", {"version": 1}
    )
    assert (status, answer["error"]) == (403, "not-your-item"), answer
    assert await centre.stored() == before

    centre.clock.advance(300)
    status, taken = await centre.call(
        "wang", "POST", f"/api/work/items/{front_pool['id']}/take", {"version": 1}
    )
    assert status == 200, taken
    assert (taken["owner_id"], taken["status"]) == (centre.id("wang"), "in-progress")
    assert at(taken["first_response_at"]) == centre.clock()  # taking is the first response
    assert kinds(taken) == ["created", "owner", "status"]
    assert taken["timeline"][1]["data"] == {"before": None, "after": centre.id("wang")}
    mine = await centre.mine("wang")
    assert ([i["id"] for i in mine["items"]], mine["pool"]) == ([front_pool["id"]], [])

    # A colleague cannot take it from wang; the same version again is stale.
    status, answer = await centre.call(
        "li", "POST", f"/api/work/items/{front_pool['id']}/take", {"version": taken["version"]}
    )
    assert (status, answer["error"]) == (403, "not-your-item"), answer
    status, answer = await centre.call(
        "li", "POST", f"/api/work/items/{front_pool['id']}/take", {"version": 1}
    )
    assert (status, answer["error"]) == (409, "stale-item"), answer
    # Another team's agent takes their own pool's item.
    status, answer = await centre.call(
        "zhao", "POST", f"/api/work/items/{back_pool['id']}/take", {"version": 1}
    )
    assert (status, answer["owner_id"]) == (200, centre.id("zhao"))
    assert [e.target for e in await centre.audit("work.take")] == [
        f"work-item:{front_pool['ticket']}",
        f"work-item:{back_pool['ticket']}",
    ]


async def test_two_agents_taking_one_item_at_once_one_wins(centre: Centre) -> None:
    pooled = await centre.create("lin", team_id=centre.teams["front"])
    path = f"/api/work/items/{pooled['id']}/take"
    answers = await asyncio.gather(
        centre.call("wang", "POST", path, {"version": 1}),
        centre.call("li", "POST", path, {"version": 1}),
    )
    assert sorted(status for status, _ in answers) == [200, 409], answers
    ((_, won),) = [a for a in answers if a[0] == 200]
    ((_, lost),) = [a for a in answers if a[0] == 409]
    assert lost["error"] == "stale-item"
    assert lost["item"]["owner_id"] == won["owner_id"]
    final = await centre.item(pooled["id"])
    assert (final["owner_id"], final["version"]) == (won["owner_id"], 2)
    assert kinds(final) == ["created", "owner", "status"]
    assert len(await centre.audit("work.take")) == 1


async def test_reassign_to_a_colleague_and_to_a_pool_tells_the_new_owner(
    centre: Centre,
) -> None:
    item = await centre.create("wang", title="Reassigned")
    status, given = await centre.call(
        "wang",
        "POST",
        f"/api/work/items/{item['id']}/assign",
        {"version": 1, "owner_id": centre.id("li"), "note": "李娜负责这个客户"},
    )
    assert status == 200, given
    assert (given["owner_id"], given["owner_name"], given["team_id"]) == (
        centre.id("li"),
        "Li Na",
        centre.teams["front"],
    )
    (message,) = centre.told_to("li")
    assert (message["type"], message["event"], message["item"]["id"]) == (
        "work_item",
        "assigned",
        item["id"],
    )
    assert message["item"]["owner_id"] == centre.id("li")
    assert centre.told_to("wang") == []
    owner_line = given["timeline"][-1]
    assert (owner_line["kind"], owner_line["text"]) == ("owner", "李娜负责这个客户")
    assert (owner_line["data"]["before"], owner_line["data"]["after"]) == (
        centre.id("wang"),
        centre.id("li"),
    )
    assert [i["id"] for i in (await centre.mine("li"))["items"]] == [item["id"]]
    assert (await centre.mine("wang"))["items"] == []

    # li hands it to the back office's pool: nobody owns it, zhao sees it in his pool.
    status, pooled = await centre.call(
        "li",
        "POST",
        f"/api/work/items/{item['id']}/assign",
        {"version": given["version"], "team_id": centre.teams["back"]},
    )
    assert status == 200, pooled
    assert (pooled["owner_id"], pooled["team_id"]) == (None, centre.teams["back"])
    assert [i["id"] for i in (await centre.mine("zhao"))["pool"]] == [item["id"]]
    # wang no longer may give it away; nobody new was told.
    status, answer = await centre.call(
        "wang",
        "POST",
        f"/api/work/items/{item['id']}/assign",
        {"version": pooled["version"], "owner_id": centre.id("wang")},
    )
    assert (status, answer["error"]) == (403, "not-your-item"), answer
    assert len(centre.told) == 1

    # The supervisor gives it, and another, to zhao at once.
    other = await centre.create("li", title="Another")
    status, answer = await centre.call(
        "boss",
        "POST",
        "/api/work/bulk-assign",
        {"ids": [item["id"], other["id"], 99_999], "owner_id": centre.id("zhao")},
    )
    assert status == 200, answer
    assert answer["assigned"] == [item["id"], other["id"]]
    assert [(r["id"], r["error"]) for r in answer["refused"]] == [(99_999, "no-such-item")]
    assert sorted(m["item"]["id"] for m in centre.told_to("zhao")) == sorted(
        [item["id"], other["id"]]
    )
    # The back office's leader may not take the front's items in bulk.
    third = await centre.create("wang", title="Third")
    status, answer = await centre.call(
        "mei",
        "POST",
        "/api/work/bulk-assign",
        {"ids": [third["id"]], "owner_id": centre.id("zhao")},
    )
    assert status == 200, answer
    assert (answer["assigned"], answer["refused"][0]["error"]) == ([], "not-your-item")
    assert [e.action for e in await centre.audit() if e.action.startswith("work.")] == [
        "work.create",
        "work.assign",
        "work.assign",
        "work.create",
        "work.bulk-assign",
        "work.create",
        "work.bulk-assign",
    ]


async def test_an_item_made_for_a_colleague_is_on_the_colleague_s_console(
    centre: Centre,
) -> None:
    item = await centre.create("wang", owner_id=centre.id("li"), title="For Li")
    assert (item["owner_id"], item["team_id"]) == (centre.id("li"), centre.teams["front"])
    (message,) = centre.told_to("li")
    assert (message["type"], message["event"], message["item"]["id"]) == (
        "work_item",
        "assigned",
        item["id"],
    )
    assert [i["id"] for i in (await centre.mine("li"))["items"]] == [item["id"]]


# --- escalation --------------------------------------------------------------------------


async def test_escalation_goes_owner_then_leader_then_manager_each_once(
    centre: Centre,
) -> None:
    item = await centre.create("wang", kind="complaint", category="service", priority="urgent")
    calm = await centre.create("li", title="Not due for days")
    span = 24 * HOUR

    centre.clock.advance(0.8 * span - 60)
    await centre.work.sweep()
    assert centre.feed("work_escalated") == []

    expected = [(0.8, "owner", "wang"), (1.0, "team-leader", "lin"), (1.5, "manager", "boss")]
    for tier_number, (share, tier, who) in enumerate(expected, start=1):
        centre.clock.set(T0 + timedelta(seconds=share * span + 1))
        await centre.work.sweep()
        await centre.work.sweep()  # a second sweep finds nothing more to do

        escalated = await centre.item(item["id"])
        assert (escalated["escalation_tier"], escalated["escalations"]) == (
            tier_number,
            tier_number,
        )
        lines = [e for e in escalated["timeline"] if e["kind"] == "escalated"]
        assert [e["data"]["tier"] for e in lines] == [t for _, t, _ in expected[:tier_number]]
        assert lines[-1]["data"]["notified"] == [centre.id(who)]
        assert lines[-1]["actor"] == "system"

        feed = centre.feed("work_escalated")
        assert [(m["tier"], m["notified"]) for m in feed] == [
            (t, [centre.id(w)]) for _, t, w in expected[:tier_number]
        ]
        assert feed[-1]["item"]["id"] == item["id"]
        (told,) = [m for m in centre.told_to(who) if m.get("event") == "escalated"]
        assert (told["type"], told["tier"], told["item"]["id"]) == ("work_item", tier, item["id"])
        assert centre.escalations_counted(tier) == 1.0
        assert escalated["overdue"] is (share >= 1.0)

    assert (await centre.item(calm["id"]))["escalations"] == 0
    counts = await centre.counts()
    assert (counts["open"], counts["overdue"], counts["escalations"]) == (2, 1, 3)
    overdue = await centre.listed(overdue=True)
    assert [i["id"] for i in overdue] == [item["id"]]
    # Every tier reached: later sweeps leave it alone.
    centre.clock.advance(10 * span)
    await centre.work.sweep()
    assert (await centre.item(item["id"]))["escalations"] == 3
    assert [m["item"]["id"] for m in centre.feed("work_escalated")].count(item["id"]) == 3


async def test_a_late_sweep_escalates_through_every_tier_due_at_once(centre: Centre) -> None:
    item = await centre.create("wang", kind="complaint", category="service", priority="urgent")
    centre.clock.advance(2 * 24 * HOUR)  # the service was down: 200 % of the span
    await centre.work.sweep()
    await centre.work.sweep()
    escalated = await centre.item(item["id"])
    assert escalated["escalations"] == 3
    assert [m["tier"] for m in centre.feed("work_escalated")] == [
        "owner",
        "team-leader",
        "manager",
    ]
    for tier in ("owner", "team-leader", "manager"):
        assert centre.escalations_counted(tier) == 1.0


async def test_a_wait_moves_the_tiers_still_to_come(centre: Centre) -> None:
    item = await centre.create("wang", kind="complaint", category="service", priority="urgent")
    centre.clock.set(T0 + timedelta(hours=19, minutes=13))
    await centre.work.sweep()
    warned = await centre.item(item["id"])
    assert warned["escalation_tier"] == 1

    centre.clock.set(T0 + timedelta(hours=20))
    waiting = await centre.moved("wang", warned, "waiting-customer")
    assert waiting["remaining_seconds"] == 4 * HOUR
    centre.clock.set(T0 + timedelta(hours=30))
    await centre.work.sweep()
    resumed = await centre.moved("wang", waiting, "in-progress")
    assert at(resumed["due_at"]) == T0 + timedelta(hours=34)

    # The leader's tier comes at the new deadline, not the old one; the owner is not
    # warned again.
    centre.clock.set(T0 + timedelta(hours=34) - timedelta(seconds=1))
    await centre.work.sweep()
    assert (await centre.item(item["id"]))["escalation_tier"] == 1
    centre.clock.set(T0 + timedelta(hours=34, seconds=1))
    await centre.work.sweep()
    assert [m["tier"] for m in centre.feed("work_escalated")] == ["owner", "team-leader"]
    # The manager's at 150 % of the span after the new deadline.
    centre.clock.set(T0 + timedelta(hours=46, seconds=1))
    await centre.work.sweep()
    assert [m["tier"] for m in centre.feed("work_escalated")] == [
        "owner",
        "team-leader",
        "manager",
    ]


async def test_a_pool_item_warns_the_team_s_leaders(centre: Centre) -> None:
    pooled = await centre.create(
        "mei",
        team_id=centre.teams["back"],
        kind="complaint",
        category="service",
        priority="urgent",
    )
    centre.clock.advance(0.8 * 24 * HOUR + 1)
    await centre.work.sweep()
    (message,) = centre.feed("work_escalated")
    assert (message["tier"], message["notified"]) == ("owner", [centre.id("mei")])
    assert [m["event"] for m in centre.told_to("mei")] == ["escalated"]
    assert (await centre.item(pooled["id"]))["escalations"] == 1


async def test_a_resolved_item_does_not_escalate(centre: Centre) -> None:
    item = await centre.create("wang", kind="complaint", category="service", priority="urgent")
    centre.clock.advance(HOUR)
    await centre.moved("wang", item, "resolved")
    centre.clock.advance(3 * 24 * HOUR)
    await centre.work.sweep()
    assert centre.feed("work_escalated") == []
    assert (await centre.item(item["id"]))["escalations"] == 0


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_replicas_sweeping_at_once_escalate_each_item_once(
    centre: Centre, database_url: str
) -> None:
    items = [
        await centre.create("wang", kind="complaint", category="service", priority="urgent")
        for _ in range(30)
    ]
    second_engine = create_engine(database_url)
    published: list[Mapping[str, Any]] = []
    other = WorkItems(
        second_engine,
        centre.work.settings,
        CALENDAR,
        centre.agents,
        tell=lambda user_id, message: None,
        publish=published.append,
        clock=centre.clock,
    )
    try:
        centre.clock.advance(0.8 * 24 * HOUR + 1)
        here, there = await asyncio.gather(centre.work.items.sweep(), other.sweep())
    finally:
        await second_engine.dispose()
    assert len(here) + len(there) == len(items)
    assert len(centre.feed("work_escalated")) + len(published) == len(items)
    for item in items:
        found = await centre.item(item["id"])
        assert (found["escalations"], found["escalation_tier"]) == (1, 1)
        assert kinds(found).count("escalated") == 1


# --- the supervisor's list ---------------------------------------------------------------


async def _floor_of_items(centre: Centre) -> dict[str, dict[str, Any]]:
    """Items of both teams, of every kind and several priorities."""
    made = {
        "invoice": await centre.create("wang", title="Invoice missing", category="billing"),
        "refund": await centre.create(
            "wang", kind="complaint", title="Refund late", category="service", priority="urgent"
        ),
        "password": await centre.create("li", title="Password reset", category="account-security"),
        "question": await centre.create("li", kind="inquiry", title="Opening hours"),
        "parcel": await centre.create(
            "zhao", kind="complaint", title="Parcel lost", category="delivery", priority="high"
        ),
        "pool": await centre.create("mei", team_id=centre.teams["back"], title="Back pool item"),
    }
    return made


async def test_the_supervisor_filters_every_item(centre: Centre) -> None:
    made = await _floor_of_items(centre)
    ids = {name: item["id"] for name, item in made.items()}

    def names(items: list[dict[str, Any]]) -> set[str]:
        back = {item_id: name for name, item_id in ids.items()}
        return {back[i["id"]] for i in items}

    assert names(await centre.listed()) == set(ids)
    assert names(await centre.listed(kind="complaint")) == {"refund", "parcel"}
    assert names(await centre.listed(priority="urgent")) == {"refund", "password"}
    assert names(await centre.listed(owner=centre.id("li"))) == {"password", "question"}
    assert names(await centre.listed(team=centre.teams["back"])) == {"parcel", "pool"}
    assert names(await centre.listed(q=made["parcel"]["ticket"])) == {"parcel"}
    assert names(await centre.listed(q="refund")) == {"refund"}  # words of the title
    assert names(await centre.listed(q="100%")) == set()  # a wildcard is a character
    await centre.moved("li", made["question"], "resolved")
    assert names(await centre.listed(status="resolved")) == {"question"}
    assert names(await centre.listed(status="open")) == set(ids) - {"question"}

    # Thursday 18:01: the account-security item (8 working hours) is overdue.
    centre.clock.set(local(3, 18, 1))
    assert names(await centre.listed(overdue=True)) == {"password"}
    assert names(await centre.listed(overdue=False)) == set(ids) - {"password"}
    assert names(await centre.listed(overdue=True, team=centre.teams["back"])) == set()
    # Bad filters are a 400, not an empty list.
    for query in ({"kind": "wish"}, {"limit": 0}, {"cursor": "not-ours"}, {"colour": "red"}):
        status, answer = await centre.call("boss", "GET", "/api/work/items", **query)
        assert status == 400, (query, answer)


async def test_paging_by_cursor_has_no_duplicates_or_gaps(centre: Centre) -> None:
    made = [await centre.create("wang", title=f"Same deadline {n}") for n in range(5)]
    made += [
        await centre.create(
            "li", title=f"By hand {n}", due_at=(T0 + timedelta(hours=n + 1)).isoformat()
        )
        for n in range(4)
    ]
    waiting = [await centre.create("zhao", title=f"Waiting {n}") for n in range(3)]
    for item in waiting:
        await centre.moved("zhao", item, "waiting-customer")
    everything = made + waiting

    for size in (1, 2, 5, 11, 12, 50):
        pages: list[list[int]] = []
        cursor: str | None = None
        while True:
            status, answer = await centre.call(
                "boss", "GET", "/api/work/items", limit=size, cursor=cursor
            )
            assert status == 200, answer
            pages.append([i["id"] for i in answer["items"]])
            cursor = answer["next_cursor"]
            if cursor is None:
                break
        seen = [item_id for page in pages for item_id in page]
        assert len(seen) == len(set(seen)), size
        assert sorted(seen) == sorted(i["id"] for i in everything), size
        assert all(0 < len(page) <= size for page in pages), size
    # One order: by deadline, then id; waiting items (no deadline) last.
    listed = await centre.listed(limit=200)
    dues = [at(i["due_at"]) for i in listed]
    timed = [d for d in dues if d is not None]
    assert timed == sorted(timed) and dues[-3:] == [None, None, None]


async def test_a_team_leader_sees_only_the_own_teams_items(centre: Centre) -> None:
    made = await _floor_of_items(centre)
    front = {made[n]["id"] for n in ("invoice", "refund", "password", "question")}
    back = {made[n]["id"] for n in ("parcel", "pool")}
    assert {i["id"] for i in await centre.listed("lin")} == front
    assert {i["id"] for i in await centre.listed("mei")} == back
    assert {i["id"] for i in await centre.listed("lin", team=centre.teams["back"])} == set()
    assert (await centre.counts("lin"))["open"] == 4
    assert (await centre.counts("mei"))["open"] == 2
    assert (await centre.counts("boss"))["open"] == 6
    assert (await centre.counts("boss", team=centre.teams["back"]))["open"] == 2


async def test_the_counts_reports_use(centre: Centre) -> None:
    made = await _floor_of_items(centre)
    centre.clock.advance(HOUR)
    await centre.moved("li", made["question"], "resolved")  # on time
    await centre.moved("li", made["password"], "waiting-customer")
    centre.clock.set(local(8, 18, 1))  # Tuesday evening: the 2wd items are overdue
    await centre.moved("wang", made["refund"], "resolved")  # late (due Friday 10:00)
    counts = await centre.counts()
    assert counts == {
        "open": 4,
        "overdue": 3,  # invoice, parcel and the pool item; the waiting one is not
        "waiting": 1,
        "resolved": 2,
        "resolved_on_time": 1,
        "resolved_late": 1,
        "escalations": 0,
    }
    since = (centre.clock() - timedelta(minutes=1)).isoformat()
    later = await centre.counts(since=since)
    assert (later["resolved"], later["resolved_late"], later["open"]) == (1, 1, 4)


# --- my work and the customer panel --------------------------------------------------------


async def test_my_work_lists_overdue_first_then_by_deadline_with_counts(centre: Centre) -> None:
    follow_up = await centre.create("wang", title="Normal follow-up")  # Tuesday 18:00
    complaint = await centre.create(
        "wang", kind="complaint", category="service", priority="urgent", title="Complaint"
    )  # Friday 10:00
    soon = await centre.create(
        "wang", title="Call at eleven", due_at=(T0 + timedelta(hours=1)).isoformat()
    )
    today = await centre.create(
        "wang", title="Later today", due_at=(T0 + timedelta(hours=5)).isoformat()
    )
    waiting = await centre.create("wang", title="Waiting")
    await centre.moved("wang", waiting, "waiting-customer")
    await centre.create("li", title="Someone else's")
    done = await centre.create("wang", title="Done")
    await centre.moved("wang", done, "resolved")

    centre.clock.advance(2 * HOUR)  # 12:00: "Call at eleven" is overdue
    mine = await centre.mine("wang")
    assert [i["id"] for i in mine["items"]] == [
        soon["id"],
        today["id"],
        complaint["id"],
        follow_up["id"],
        waiting["id"],
    ]
    assert [i["overdue"] for i in mine["items"]] == [True, False, False, False, False]
    assert mine["counts"] == {"open": 5, "overdue": 1, "due_today": 1, "waiting": 1}
    assert mine["pool"] == []


async def test_the_customer_panel_shows_the_caller_s_open_items(centre: Centre) -> None:
    fang = await centre.add_customer("王芳", "+8613800000001")
    lei = await centre.add_customer("李雷", "+8613800000002")
    first = await centre.create("wang", customer_id=fang, phone="+8613800000001")
    second = await centre.create(
        "zhao",
        kind="complaint",
        category="service",
        priority="urgent",
        customer_id=fang,
        title="Complaint",
    )
    closed = await centre.create("wang", customer_id=fang)
    await centre.moved("wang", closed, "resolved")
    await centre.create("wang", customer_id=lei)
    by_number = await centre.create("li", phone="+8613800000001", title="Number only")

    status, panel = await centre.call("li", "GET", "/api/work/customer", customer_id=fang)
    assert status == 200, panel
    assert [i["id"] for i in panel["items"]] == [second["id"], first["id"]]  # by deadline
    assert [i["owner_name"] for i in panel["items"]] == ["Zhao Lei", "Wang Fang"]
    status, panel = await centre.call(
        "boss", "GET", "/api/work/customer", customer_id=fang, phone="+8613800000001"
    )
    assert status == 200, panel
    assert {i["id"] for i in panel["items"]} == {first["id"], second["id"], by_number["id"]}
    status, panel = await centre.call("wang", "GET", "/api/work/customer")
    assert (status, panel["items"]) == (200, [])


# --- satisfaction return calls ---------------------------------------------------------------


async def test_a_resolved_complaint_gets_a_satisfaction_call_in_the_pool(
    engine: AsyncEngine,
) -> None:
    async with open_centre(engine, WorkSettings(satisfaction_share=1.0)) as centre:
        customer = await centre.add_customer("王芳", "+8613800000001")
        complaint = await centre.create(
            "wang",
            kind="complaint",
            category="service",
            title="Rude on the phone",
            customer_id=customer,
            phone="+8613800000001",
        )
        follow_up = await centre.create("wang", title="Not a complaint")
        before = (await centre.stored())["work_items"]
        await centre.moved("wang", follow_up, "resolved")
        assert (await centre.stored())["work_items"] == before

        await centre.moved("wang", complaint, "resolved", resolution="道歉并赔偿")
        assert (await centre.stored())["work_items"] == before + 1
        detail = await centre.item(complaint["id"])
        (link,) = detail["links"]
        assert (link["relation"], link["kind"], link["status"]) == (
            "satisfaction",
            "follow-up",
            "open",
        )
        call = await centre.item(link["id"])
        assert (call["owner_id"], call["team_id"], call["source"]) == (
            None,
            centre.teams["front"],
            "satisfaction",
        )
        assert (call["category"], call["customer_id"], call["phone"]) == (
            "satisfaction",
            customer,
            "+8613800000001",
        )
        assert [(x["relation"], x["id"], x["direction"]) for x in call["links"]] == [
            ("satisfaction", complaint["id"], "from")
        ]
        # In the team's pool, for wang and li to take.
        assert [i["id"] for i in (await centre.mine("li"))["pool"]] == [call["id"]]


async def test_the_answer_to_a_resolve_with_a_satisfaction_call_is_current(
    engine: AsyncEngine,
) -> None:
    async with open_centre(engine, WorkSettings(satisfaction_share=1.0)) as centre:
        complaint = await centre.create("wang", kind="complaint", category="service")
        centre.clock.tick = timedelta(milliseconds=1)
        resolved = await centre.moved("wang", complaint, "resolved")
        current = await centre.item(complaint["id"])
        assert resolved["version"] == current["version"]
        assert kinds(resolved) == kinds(current)
        # The agent closes it with the version the resolve answered.
        status, answer = await centre.move("wang", resolved, "closed")
        assert status == 200, answer


async def test_no_satisfaction_call_when_the_share_is_zero(engine: AsyncEngine) -> None:
    async with open_centre(engine, WorkSettings(satisfaction_share=0.0)) as centre:
        complaint = await centre.create("wang", kind="complaint", category="service")
        before = await centre.stored()
        resolved = await centre.moved("wang", complaint, "resolved")
        after = await centre.stored()
        assert after["work_items"] == before["work_items"]
        assert after["work_item_links"] == 0
        assert resolved["links"] == []
        assert (await centre.mine("wang"))["pool"] == []


# --- the audit trail ---------------------------------------------------------------------


async def test_every_change_writes_an_audit_entry(centre: Centre) -> None:
    call = await centre.add_call("wang")
    later = await centre.add_call("wang")
    item = await centre.create("wang", call_ids=[call])
    other = await centre.create("wang", title="Duplicate")
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("wang", f"/api/work/items/{item['id']}/notes", {"text": "客户不在家"}),
        ("wang", f"/api/work/items/{item['id']}/calls", {"call_id": later}),
        ("wang", f"/api/work/items/{item['id']}/links", {"other": other["ticket"]}),
        ("wang", f"/api/work/items/{item['id']}/status", {"status": "in-progress"}),
        ("wang", f"/api/work/items/{item['id']}/assign", {"owner_id": centre.id("li")}),
        ("boss", f"/api/work/items/{item['id']}/take", {}),
        ("boss", "/api/work/bulk-assign", {"ids": [item["id"]], "owner_id": centre.id("wang")}),
    ]
    for who, path, body in steps:
        if path.endswith(("/status", "/assign", "/take")):
            body["version"] = (await centre.item(item["id"]))["version"]
        status, answer = await centre.call(who, "POST", path, body)
        assert status == 200, (path, answer)

    entries = await centre.audit()
    assert [(e.action, e.username) for e in entries] == [
        ("work.create", "wang"),
        ("work.create", "wang"),
        ("work.note", "wang"),
        ("work.call", "wang"),
        ("work.link", "wang"),
        ("work.status", "wang"),
        ("work.assign", "wang"),
        ("work.take", "boss"),
        ("work.bulk-assign", "boss"),
    ]
    ticket = f"work-item:{item['ticket']}"
    assert all(e.target == ticket for e in entries[2:8])
    assert all(e.ok for e in entries)
    assert entries[5].parameters == {"status_to": "in-progress"}
    assert entries[-1].parameters == {
        "ids": [item["id"]],
        "owner": centre.id("wang"),
        "team": None,
    }
    final = await centre.item(item["id"])
    assert kinds(final) == ["created", "note", "call", "link", "status", "owner", "owner", "owner"]
    assert [(c["id"], c["role"]) for c in final["calls"]] == [(call, "origin"), (later, "later")]
    assert final["owner_id"] == centre.id("wang")
