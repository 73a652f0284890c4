"""The work-log room behind HTTP for tests, on SQLite or PostgreSQL: real auth sessions, the
agents room with its teams read from the database, the audit log; a rota and a handover tally
faked (their rooms are apart); the clock moved by hand.

The centre is in Shanghai; the clock starts on Thursday 3 December 2026, 10:00 local.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.agents import store as agents_store
from callcenter.agents.models import AgentStateRow
from callcenter.agents.room import AgentsRoom
from callcenter.audit.log import AuditLog
from callcenter.auth.identity import Role, User
from callcenter.auth.models import UserRow
from callcenter.auth.room import AuthRoom
from callcenter.auth.sessions import COOKIE_NAME
from callcenter.auth.users import user_from_row
from callcenter.handover.ports import ShiftSpan
from callcenter.records.models import CallRecord, CallWrapup
from callcenter.settings import AgentsSettings, AuthSettings, RecordsSettings, WorklogSettings
from callcenter.web.app import create_app
from callcenter.work.models import CallbackAttemptRow, WorkItemEventRow, WorkItemRow
from callcenter.worklog.ports import HandoverCount
from callcenter.worklog.room import WorklogRoom
from tests.rooms import make_host

ORIGIN = "http://console.test"
ZONE = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)  # Thursday 3 December 2026, 10:00 in Shanghai

PEOPLE: dict[str, tuple[str, Role, list[str]]] = {
    "boss": ("Boss", "supervisor", []),
    "chief": ("Chief", "supervisor", []),
    "lin": ("Lin (lead)", "team_leader", []),
    "wang": ("Wang Fang", "agent", ["PJSIP/1001"]),
    "li": ("Li Na", "agent", ["PJSIP/1002"]),
    "zhao": ("Zhao Lei", "agent", ["PJSIP/1003"]),
}
TEAMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "front": (("lin",), ("wang", "li")),
    "back": ((), ("zhao",)),
}


def local(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    """2026, Shanghai wall clock, as UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=ZONE).astimezone(UTC)


class HandClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: datetime) -> datetime:
        self.now = when
        return when


class FakeRota:
    """The shifts room's ``WorkRota``: spans given by hand."""

    def __init__(self) -> None:
        self.given: list[ShiftSpan] = []

    def add(self, user_id: int, start: datetime, end: datetime) -> None:
        self.given.append(ShiftSpan("night", "夜班 / Night", user_id, start, end))

    def spans(self, user_id: int, start: datetime, end: datetime) -> Sequence[ShiftSpan]:
        return sorted(
            (s for s in self.given if s.user_id == user_id and s.start < end and s.end > start),
            key=lambda s: s.start,
        )


class FakeHandovers:
    def __init__(self) -> None:
        self.asked: list[tuple[int, datetime, datetime]] = []

    async def handovers_of(self, user_id: int, start: datetime, end: datetime) -> HandoverCount:
        self.asked.append((user_id, start, end))
        return HandoverCount(given=2, taken=1)


class Centre:
    client: TestClient[web.Request, web.Application]

    def __init__(self, engine: AsyncEngine, users: dict[str, User], settings: WorklogSettings):
        self.engine = engine
        self.users = users
        self.clock = HandClock(T0)
        self.host = make_host(engine)
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
        self.rota = FakeRota()
        self.handovers = FakeHandovers()
        self.room = WorklogRoom(
            self.host,
            settings,
            people=self.agents,
            rota=self.rota,
            handovers=self.handovers,
            zone=ZONE,
            dispositions=RecordsSettings().dispositions,
            audit=self.audit_log,
            clock=self.clock,
        )
        self.tokens: dict[str, str] = {}
        self._ids = count(1)

    def _told(self, user_id: int, message: Mapping[str, Any]) -> None:
        self.told.append((user_id, json.loads(json.dumps(message, default=str))))

    def id(self, who: str) -> int:
        return self.users[who].id

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

    # --- the day's records, made by hand ---------------------------------------------------

    async def add(self, *rows: Any) -> None:
        async with AsyncSession(self.engine, expire_on_commit=False) as session, session.begin():
            session.add_all(rows)

    async def add_call(
        self,
        who: str,
        answered: datetime,
        talk: float,
        disposition: str | None = None,
        direction: str = "inbound",
    ) -> int:
        user = self.users[who]
        n = next(self._ids)
        row = CallRecord(
            pbx="rig",
            uniqueid=f"1764720000.{n}",
            queue="support",
            caller_number="+8613800000001",
            joined_at=answered - timedelta(seconds=20),
            answered_at=answered,
            ended_at=answered + timedelta(seconds=talk),
            wait_seconds=20.0,
            talk_seconds=talk,
            answered_by=user.interfaces[0] if user.interfaces else None,
            answered_by_user=user.id,
            outcome="answered",
            direction=direction,
        )
        await self.add(row)
        if disposition is not None:
            await self.add(
                CallWrapup(
                    call_id=row.id,
                    disposition=disposition,
                    category="consultation",
                    notes="",
                    username=user.username,
                    submitted_at=answered + timedelta(seconds=talk + 30),
                )
            )
        return row.id

    async def add_item(
        self, created_by: str | None, created_at: datetime, owner: str | None = None
    ) -> int:
        n = next(self._ids)
        row = WorkItemRow(
            ticket=f"{n:08d}",
            kind="follow-up",
            status="open",
            is_open=True,
            priority="normal",
            category="billing",
            title="Invoice",
            owner_id=self.id(owner) if owner else None,
            source="agent",
            created_by=self.id(created_by) if created_by else None,
            created_at=created_at,
            updated_at=created_at,
            version=1,
            clock="wall",
            clock_start=created_at,
            span_seconds=86400,
            escalation_tier=0,
            escalations=0,
        )
        await self.add(row)
        return row.id

    async def add_event(
        self, item_id: int, who: str | None, kind: str, at: datetime, **data: Any
    ) -> None:
        await self.add(
            WorkItemEventRow(
                item_id=item_id,
                at=at,
                actor_id=self.id(who) if who else None,
                actor_name=who or "system",
                kind=kind,
                text="",
                data=data,
            )
        )

    async def add_attempt(
        self, who: str, item_id: int, at: datetime, outcome: str | None, *, taken: bool = True
    ) -> None:
        """A callback attempt offered to ``who``: taken (their phone answered) or missed;
        ``outcome`` None while it runs."""
        n = next(self._ids)
        await self.add(
            CallbackAttemptRow(
                item_id=item_id,
                attempt=n,
                pbx="rig",
                channel_id=f"cb-{n}",
                agent_id=self.id(who),
                number="+8613800000009",
                started_at=at,
                agent_answered_at=at + timedelta(seconds=5) if taken else None,
                ended_at=at + timedelta(minutes=2) if outcome is not None else None,
                outcome=outcome,
            )
        )

    async def add_state(
        self, who: str, state: str, start: datetime, end: datetime | None, code: str = ""
    ) -> None:
        await self.add(
            AgentStateRow(
                user_id=self.id(who), state=state, code=code, started_at=start, ended_at=end
            )
        )

    def told_to(self, who: str) -> list[dict[str, Any]]:
        return [m for uid, m in self.told if uid == self.id(who)]


async def _add_people(engine: AsyncEngine) -> dict[str, User]:
    now = datetime.now(UTC)
    rows = [
        UserRow(
            username=username,
            display_name=name,
            role=role,
            password_hash="-",
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
    users = {row.username: user_from_row(row) for row in rows}
    async with AsyncSession(engine) as session, session.begin():
        for name, (leaders, members) in TEAMS.items():
            await agents_store.save_team(
                session,
                None,
                name=name,
                label_zh=name,
                label_en=name.title(),
                queues=(),
                members=[users[u].id for u in members],
                leaders=[users[u].id for u in leaders],
                at=now,
            )
    return users


@asynccontextmanager
async def open_centre(
    engine: AsyncEngine, settings: WorklogSettings | None = None
) -> AsyncIterator[Centre]:
    users = await _add_people(engine)
    centre = Centre(engine, users, settings or WorklogSettings())
    await centre.agents.start()
    try:
        for who, user in users.items():
            centre.tokens[who] = await centre.auth.sessions.create(user)
        app = create_app(
            [centre.auth, centre.agents, centre.room],
            centre.auth.authenticate,
            public_origins=[ORIGIN],
        )
        async with TestClient(TestServer(app)) as client:
            centre.client = client
            yield centre
    finally:
        await centre.agents.stop()
        await centre.host.tasks.cancel_all()


DAY = date(2026, 12, 2)
