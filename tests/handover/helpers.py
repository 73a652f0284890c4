"""What the handover tests share: a rota in memory (the shifts room's ``RotaView``, pure), and
a contact centre behind HTTP with the real auth, agents, work and handover rooms.

The clock is moved by hand. Thursday 3 December 2026: the early shift 08:00-16:00 Shanghai
(Wang), the late shift 16:00-24:00 (Li); Zhao works no shifts.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.agents import store as agents_store
from callcenter.agents.room import AgentsRoom
from callcenter.audit.log import AuditLog
from callcenter.auth.identity import Role, User
from callcenter.auth.models import UserRow
from callcenter.auth.room import AuthRoom
from callcenter.auth.sessions import COOKIE_NAME
from callcenter.auth.users import user_from_row
from callcenter.customers.models import CustomerRow
from callcenter.handover.ports import ShiftSpan
from callcenter.handover.room import HandoverRoom
from callcenter.settings import (
    AgentsSettings,
    AuthSettings,
    HandoverSettings,
    IvrSettings,
    WorkSettings,
)
from callcenter.web.app import create_app
from callcenter.work.calendar import BusinessCalendar
from callcenter.work.models import CallbackScheduleRow, WorkItemEventRow, WorkItemRow
from callcenter.work.room import WorkRoom
from tests.rooms import make_host

ORIGIN = "http://console.test"
ZONE = ZoneInfo("Asia/Shanghai")
SHANGHAI = timedelta(hours=8)
CALENDAR = BusinessCalendar.from_ivr(IvrSettings())


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """December 2026, Shanghai wall clock, as UTC."""
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC) - SHANGHAI


# Thursday 3 December 2026, 15:30 in Shanghai: half an hour before the early shift ends.
T0 = local(3, 15, 30)

PEOPLE: dict[str, tuple[str, Role]] = {
    "boss": ("Boss", "supervisor"),
    "lin": ("Lin (lead)", "team_leader"),
    "wang": ("Wang Fang", "agent"),
    "li": ("Li Na", "agent"),
    "zhao": ("Zhao Lei", "agent"),
    "gone": ("Gone Soon", "agent"),
    "other": ("Other Team", "agent"),
    "mei": ("Mei (back lead)", "team_leader"),
    "plan": ("Planner Pan", "planner"),
}
TEAMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "front": (("lin",), ("wang", "li", "zhao", "gone")),
    "back": (("mei",), ("other",)),
}


@dataclass
class FakeRota:
    """The shifts room's ``RotaView`` from a list of spans (no I/O, as the real one)."""

    by_user: dict[int, list[ShiftSpan]] = field(default_factory=dict)

    def add(self, user_id: int, shift: str, start: datetime, end: datetime) -> None:
        span = ShiftSpan(shift, shift.title(), user_id, start, end)
        self.by_user.setdefault(user_id, []).append(span)
        self.by_user[user_id].sort(key=lambda s: s.start)

    def has_shifts(self) -> bool:
        return bool(self.by_user)

    def current(self, user_id: int, at: datetime) -> ShiftSpan | None:
        return next((s for s in self.by_user.get(user_id, []) if s.start <= at < s.end), None)

    def next_shift(self, user_id: int, at: datetime) -> ShiftSpan | None:
        return next((s for s in self.by_user.get(user_id, []) if s.start > at), None)

    def last_ended(self, user_id: int, at: datetime) -> ShiftSpan | None:
        ended = [s for s in self.by_user.get(user_id, []) if s.end <= at]
        return ended[-1] if ended else None

    def successors(self, user_id: int, at: datetime) -> Sequence[int]:
        mine = self.current(user_id, at) or self.last_ended(user_id, at)
        if mine is None:
            return []
        later = [
            s
            for uid, spans in self.by_user.items()
            if uid != user_id
            for s in spans
            if s.start >= mine.end - timedelta(minutes=1) and s.start < mine.end + timedelta(1)
        ]
        if not later:
            return []
        first = min(s.start for s in later)
        return sorted({s.user_id for s in later if s.start == first})

    def spans(self, user_id: int, start: datetime, end: datetime) -> Sequence[ShiftSpan]:
        return [s for s in self.by_user.get(user_id, []) if s.start < end and s.end > start]

    def on_shift(self, at: datetime) -> Sequence[ShiftSpan]:
        return [s for spans in self.by_user.values() for s in spans if s.start <= at < s.end]

    def ending_between(self, start: datetime, end: datetime) -> Sequence[ShiftSpan]:
        return [s for spans in self.by_user.values() for s in spans if start < s.end <= end]


class HandClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: datetime) -> datetime:
        self.now = when
        return when

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class Centre:
    client: TestClient[web.Request, web.Application]

    def __init__(
        self,
        engine: AsyncEngine,
        users: dict[str, User],
        teams: dict[str, int],
        settings: HandoverSettings,
    ) -> None:
        self.engine = engine
        self.users = users
        self.teams = teams
        self.clock = HandClock(T0)
        self.rota = FakeRota()
        self.published: list[str] = []
        self.host = make_host(engine, published=self.published)
        self.audit_log = AuditLog(engine)
        self.auth = AuthRoom(engine, AuthSettings(), audit=self.audit_log)
        self.agents = AgentsRoom(
            self.host,
            AgentsSettings(check_seconds=300),
            pbx_names=["rig"],
            users_with_sessions=self.auth.sessions.users_with_sessions,
        )
        self.told: list[tuple[int, dict[str, Any]]] = []
        self.agents.seats.follow(lambda user_id: None, self._told)
        self.work = WorkRoom(
            self.host,
            WorkSettings(),
            CALENDAR,
            self.agents,
            audit=self.audit_log,
            clock=self.clock,
        )
        self.handover = HandoverRoom(
            self.host,
            settings,
            rota=self.rota,
            ledger=self.work.ledger,
            people=self.agents,
            audit=self.audit_log,
            zone=ZONE,
            clock=self.clock,
        )
        self.tokens: dict[str, str] = {}

    def _told(self, user_id: int, message: Mapping[str, Any]) -> None:
        self.told.append((user_id, json.loads(json.dumps(message, default=str))))

    def id(self, who: str) -> int:
        return self.users[who].id

    def told_to(self, who: str, kind: str = "handover") -> list[dict[str, Any]]:
        return [m for uid, m in self.told if uid == self.id(who) and m.get("type") == kind]

    def shifts(self) -> None:
        """Wang early (08-16), Li late (16-24) on the 3rd; Lin both; Gone early too."""
        for who in ("wang", "gone"):
            self.rota.add(self.id(who), "early", local(3, 8), local(3, 16))
        self.rota.add(self.id("li"), "late", local(3, 16), local(4, 0))
        self.rota.add(self.id("lin"), "day", local(3, 8), local(4, 0))

    async def call(
        self, who: str, method: str, path: str, body: Any = None, **query: Any
    ) -> tuple[int, Any]:
        headers = {"Origin": ORIGIN}
        if who in self.tokens:
            headers["Cookie"] = f"{COOKIE_NAME}={self.tokens[who]}"
        params = {k: str(v) for k, v in query.items() if v is not None}
        async with self.client.request(
            method, path, json=body, headers=headers, params=params
        ) as response:
            return response.status, await response.json()

    async def ok(self, who: str, method: str, path: str, body: Any = None, **query: Any) -> Any:
        status, answer = await self.call(who, method, path, body, **query)
        assert status in (200, 201), (status, answer)
        return answer

    async def create(self, who: str, **body: Any) -> dict[str, Any]:
        body.setdefault("kind", "follow-up")
        body.setdefault("title", "Call the customer back about the invoice")
        body.setdefault("category", "billing")
        return dict(await self.ok(who, "POST", "/api/work/items", body))

    async def note(self, who: str, item_id: int, text: str) -> None:
        await self.ok(who, "POST", f"/api/work/items/{item_id}/notes", {"text": text})

    async def schedule_callback(self, item_id: int, at: datetime) -> None:
        """A callback booked for the item (the dialler's schedule row)."""
        async with AsyncSession(self.engine) as session, session.begin():
            session.add(
                CallbackScheduleRow(
                    item_id=item_id,
                    pbx="rig",
                    number="+8613800000001",
                    state="waiting",
                    next_attempt_at=at,
                    attempts=0,
                    updated_at=self.clock(),
                )
            )

    async def add_customer(self, name: str, phone: str, **extra: Any) -> int:
        row = CustomerRow(name=name, phones=[phone], created_at=T0, updated_at=T0, **extra)
        async with AsyncSession(self.engine, expire_on_commit=False) as session, session.begin():
            session.add(row)
        return row.id

    async def owner_of(self, item_id: int) -> int | None:
        async with AsyncSession(self.engine) as session:
            return await session.scalar(
                select(WorkItemRow.owner_id).where(WorkItemRow.id == item_id)
            )

    async def owner_events(self, item_id: int) -> list[tuple[datetime, int | None, str, Any, Any]]:
        """Every "owner" line of the item's timeline: (at, actor, text, before, after)."""
        async with AsyncSession(self.engine) as session:
            rows = (
                await session.scalars(
                    select(WorkItemEventRow)
                    .where(WorkItemEventRow.item_id == item_id, WorkItemEventRow.kind == "owner")
                    .order_by(WorkItemEventRow.at, WorkItemEventRow.id)
                )
            ).all()
        return [(r.at, r.actor_id, r.text, r.data["before"], r.data["after"]) for r in rows]

    async def disable(self, who: str) -> None:
        async with AsyncSession(self.engine) as session, session.begin():
            await session.execute(
                update(UserRow).where(UserRow.username == who).values(disabled=True)
            )
        await self.agents.desk.refresh()


async def _add_people(engine: AsyncEngine) -> dict[str, User]:
    now = datetime.now(UTC)
    rows = [
        UserRow(
            username=username,
            display_name=name,
            role=role,
            password_hash="-",
            interfaces=[],
            language="zh",
            disabled=False,
            created_at=now,
            updated_at=now,
        )
        for username, (name, role) in PEOPLE.items()
    ]
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        session.add_all(rows)
    return {row.username: user_from_row(row) for row in rows}


async def _add_teams(engine: AsyncEngine, users: dict[str, User]) -> dict[str, int]:
    ids: dict[str, int] = {}
    async with AsyncSession(engine) as session, session.begin():
        for name, (leaders, members) in TEAMS.items():
            ids[name] = await agents_store.save_team(
                session,
                None,
                name=name,
                label_zh=f"{name}组",
                label_en=name.title(),
                queues=(),
                members=[users[u].id for u in members],
                leaders=[users[u].id for u in leaders],
                at=datetime.now(UTC),
            )
    return ids


@asynccontextmanager
async def open_centre(
    engine: AsyncEngine, settings: HandoverSettings | None = None
) -> AsyncIterator[Centre]:
    users = await _add_people(engine)
    teams = await _add_teams(engine, users)
    centre = Centre(engine, users, teams, settings or HandoverSettings(check_seconds=0))
    await centre.agents.start()
    try:
        for who, user in users.items():
            centre.tokens[who] = await centre.auth.sessions.create(user)
        app = create_app(
            [centre.auth, centre.agents, centre.work, centre.handover],
            centre.auth.authenticate,
            public_origins=[ORIGIN],
        )
        async with TestClient(TestServer(app)) as client:
            centre.client = client
            yield centre
    finally:
        await centre.agents.stop()
        await centre.host.tasks.cancel_all()


async def hand_over(centre: Centre, who: str, to: str | None, *items: int, **extra: Any) -> int:
    """POST a handover of these items from ``who`` to ``to`` (None: the pool); its id."""
    body: dict[str, Any] = {
        "kind": extra.pop("kind", "end_of_shift"),
        "items": [{"item_id": i, "note": f"note {i}"} for i in items],
        **extra,
    }
    if to is not None:
        body["successor_id"] = centre.id(to)
    answer = await centre.ok(who, "POST", "/api/handovers", body)
    return int(answer["id"])
