"""The agents room through its HTTP API: sign-in at any phone, coded states, skills applied
live, the state history, the over-limit alert, the session-end sign-out and a PBX restart.

A real live model fed with parsed AMI events, a real SQLite database (migrated to head), a
real task group and HTTP stack; only the PBX is a scripted stand-in (it answers the device
state of a phone and accepts, or refuses when told, every other action) and who is logged
in is read from a test header. The room's clock is a hand-moved one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.agents import store
from callcenter.agents.room import AgentsRoom
from callcenter.ami.errors import AmiRefused
from callcenter.audit.models import AuditEntry
from callcenter.auth.identity import Role, User
from callcenter.auth.models import UserRow
from callcenter.auth.users import user_from_row
from callcenter.component import PbxLinks
from callcenter.feed.serialize import dumps
from callcenter.live import LiveModel, ResyncRecord, parse_event
from callcenter.settings import AgentsSettings
from callcenter.store.db import create_engine
from callcenter.store.migrate import upgrade_to_head
from callcenter.web.app import create_app
from tests.rooms import make_host
from tests.supervisor.helpers import member_event

PBX = "rig"
QUEUES = ("billing", "english", "sales", "support")
DESK = "PJSIP/2001"  # a hot desk
OTHER_DESK = "PJSIP/2002"
UNKNOWN_PHONE = "PJSIP/2999"  # the PBX has never heard of it
ORIGIN = "http://console.test"
LANGUAGES: dict[str, Any] = {"english": "en"}

# username: (display name, role)
PEOPLE: dict[str, tuple[str, Role]] = {
    "root": ("Admin", "admin"),
    "boss": ("Boss", "supervisor"),
    "lin": ("Lin (front lead)", "team_leader"),
    "wang": ("Wang Fang", "agent"),
    "li": ("Li Na", "agent"),
    "zhao": ("Zhao Lei", "agent"),
    "chen": ("Chen Jie", "agent"),
}
# Team "front" (support, sales): led by lin, wang and li in it. Team "money" (billing): zhao.
# wang: expert in support (penalty 0), billing at level 3 (penalty 2).
# li: support 4 (penalty 1); english 5 but English only 3: level 3 there (penalty 2).
# zhao: billing 5. chen: no skills.
SKILLS: dict[str, dict[str, int]] = {
    "wang": {"queue:support": 5, "queue:billing": 3},
    "li": {"queue:support": 4, "queue:english": 5, "lang:en": 3},
    "zhao": {"queue:billing": 5},
}


class Clock:
    """The room's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


class ScriptedPbx:
    """A connected PBX: answers ``Getvar DEVICE_STATE(...)`` from ``devices`` (NOT_INUSE
    for a phone not listed), remembers every action and refuses those named in ``refuse``
    ((action, queue) -> the PBX's message)."""

    def __init__(self, name: str = PBX) -> None:
        self.name = name
        self.connected = True
        self.reconnects = 1
        self.last_error = ""
        self.devices = {UNKNOWN_PHONE: "INVALID"}
        self.refuse: dict[tuple[str, str], str] = {}
        self.sent: list[dict[str, str]] = []

    async def send(
        self, fields: Mapping[str, str], *, as_list: bool = False, timeout: float | None = None
    ) -> Any:
        self.sent.append(dict(fields))
        action = fields["Action"]
        refused = self.refuse.get((action, fields.get("Queue", "")))
        if refused is not None:
            raise AmiRefused(self.name, refused)
        if action == "Getvar":
            device = fields["Variable"].removeprefix("DEVICE_STATE(").removesuffix(")")
            value = self.devices.get(device, "NOT_INUSE")
            return {"Response": "Success", "Variable": fields["Variable"], "Value": value}
        return {"Response": "Success", "Message": "ok"}

    def take(self) -> list[dict[str, str]]:
        """What was sent since the last take."""
        sent, self.sent = self.sent, []
        return sent


def getvar(interface: str) -> dict[str, str]:
    return {"Action": "Getvar", "Variable": f"DEVICE_STATE({interface})"}


def queue_add(
    queue: str, interface: str, penalty: int, name: str, reason: str = ""
) -> dict[str, str]:
    fields = {
        "Action": "QueueAdd",
        "Queue": queue,
        "Interface": interface,
        "Penalty": str(penalty),
        "Paused": "true" if reason else "false",
        "MemberName": name,
    }
    if reason:
        fields["Reason"] = reason
    return fields


def queue_remove(queue: str, interface: str) -> dict[str, str]:
    return {"Action": "QueueRemove", "Queue": queue, "Interface": interface}


def queue_records(at: datetime, *queues: str) -> list[ResyncRecord]:
    """A QueueStatus answer listing these queues with no member in them."""
    records: list[ResyncRecord] = []
    for queue in queues:
        fields = {
            "Event": "QueueParams",
            "Queue": queue,
            "Max": "0",
            "Strategy": "rrmemory",
            "Calls": "0",
            "Holdtime": "0",
            "TalkTime": "0",
            "Completed": "0",
            "Abandoned": "0",
            "ServiceLevel": "20",
            "ServicelevelPerf": "0.0",
            "ServicelevelPerf2": "0.0",
            "Weight": "0",
        }
        event = parse_event(PBX, fields, at)
        assert event is not None
        records.append(event)  # type: ignore[arg-type]
    return records


class Floor:
    """The room, its PBX, its clock and a logged-in HTTP client per test header."""

    client: TestClient[web.Request, Any]

    def __init__(self, engine: AsyncEngine, users: dict[str, User], settings: AgentsSettings):
        self.engine = engine
        self.users = users
        self.clock = Clock()
        self.model = LiveModel()
        self.model.reconcile(PBX, queue_records(self.clock(), *QUEUES), self.clock())
        self.pbx = ScriptedPbx()
        self.published: list[str] = []
        self.host = make_host(
            engine, live=self.model, links=PbxLinks([self.pbx]), published=self.published
        )
        # Users with a web session open (None: everyone).
        self.sessions: set[int] | None = None
        self.room = AgentsRoom(
            self.host, settings, pbx_names=[PBX], users_with_sessions=self.with_sessions
        )
        self.room.desk.clock = self.clock
        # What the agents' consoles are told (state changes, over-limit alerts).
        self.told: list[tuple[int, dict[str, Any]]] = []
        self.room.seats.follow(lambda user_id: None, self._told)

    def _told(self, user_id: int, message: Mapping[str, Any]) -> None:
        self.told.append((user_id, dict(message)))

    async def with_sessions(self, user_ids: Iterable[int]) -> set[int]:
        wanted = set(user_ids)
        return wanted if self.sessions is None else wanted & self.sessions

    def app(self) -> web.Application:
        async def authenticate(request: web.Request) -> User | None:
            return self.users.get(request.headers.get("X-Test-User", ""))

        return create_app([self.room], authenticate, public_origins=[ORIGIN])

    def id(self, username: str) -> int:
        return self.users[username].id

    async def call(self, who: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"X-Test-User": who, "Origin": ORIGIN}
        async with self.client.request(method, path, json=body, headers=headers) as response:
            return response.status, await response.json()

    # --- what the PBX reports --------------------------------------------------------

    def feed(self, fields: dict[str, str]) -> None:
        event = parse_event(PBX, fields, self.clock())
        assert event is not None
        for change in self.model.apply(event):
            self.room.on_change(change)

    def joined(
        self,
        who: str,
        interface: str,
        queue: str,
        penalty: int,
        *,
        reason: str = "",
        membership: str = "dynamic",
    ) -> None:
        self.feed(
            member_event(
                queue,
                interface,
                MemberName=self.users[who].display_name,
                Membership=membership,
                Penalty=str(penalty),
                Paused="1" if reason else "0",
                PausedReason=reason,
            )
        )

    def paused(self, interface: str, queues: Iterable[str], reason: str | None) -> None:
        """The phone paused (reason) or unpaused (None) in each queue, as the PBX says."""
        for queue in queues:
            member = self.model.snapshot()
            view = next(
                m
                for q in member.queues
                if q.queue == queue
                for m in q.members
                if m.interface == interface
            )
            self.feed(
                member_event(
                    queue,
                    interface,
                    "QueueMemberPause",
                    MemberName=view.name,
                    Membership=view.membership,
                    Penalty=str(view.penalty),
                    Paused="0" if reason is None else "1",
                    PausedReason=reason or "",
                )
            )

    def left(self, interface: str, *queues: str) -> None:
        for queue in queues:
            self.feed(member_event(queue, interface, "QueueMemberRemoved"))

    # --- asking the room like its users do ---------------------------------------------

    async def desk(self, who: str) -> dict[str, Any]:
        status, body = await self.call(who, "GET", "/api/agent/desk")
        assert status == 200, body
        return dict(body)

    async def settled(self, who: str, state: str, code: str = "") -> dict[str, Any]:
        """The agent's desk once the state worker stored this state."""
        deadline = asyncio.get_running_loop().time() + 5
        while True:
            desk = await self.desk(who)
            if (desk["state"]["state"], desk["state"]["code"]) == (state, code):
                return desk
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{who} not {state} {code} within 5 s: {desk['state']}")
            await asyncio.sleep(0.01)

    async def sign_in(self, who: str, interface: str) -> dict[str, Any]:
        status, body = await self.call(who, "POST", "/api/agent/sign-in", {"interface": interface})
        assert status == 200, body
        return dict(body)

    async def history(self, who: str, viewer: str = "boss") -> list[dict[str, Any]]:
        """The agent's states of the last 24 hours, asked a moment after the last change."""
        self.clock.advance(1)
        status, body = await self.call(viewer, "GET", f"/api/agents/{self.id(who)}/states")
        assert status == 200, body
        return list(body["states"])

    async def audit(self, action: str) -> list[AuditEntry]:
        async with AsyncSession(self.engine) as session:
            rows = await session.execute(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
            return list(rows.scalars())

    async def stored(self, who: str) -> store.Status | None:
        return (await store.load_status(self.engine)).get(self.id(who))

    async def stored_skills(self, who: str) -> dict[str, int]:
        return (await store.load_skills(self.engine)).get(self.id(who), {})


async def add_people(engine: AsyncEngine) -> dict[str, User]:
    """The users, as rows (nobody logs in with a password here)."""
    now = datetime.now(UTC)
    rows = [
        UserRow(
            username=username,
            display_name=name,
            role=role,
            password_hash="-",
            interfaces=[],
            language="en",
            disabled=False,
            created_at=now,
            updated_at=now,
        )
        for username, (name, role) in PEOPLE.items()
    ]
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        session.add_all(rows)
    return {row.username: user_from_row(row) for row in rows}


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    await upgrade_to_head(engine)
    yield engine
    await engine.dispose()


@asynccontextmanager
async def open_floor(engine: AsyncEngine, check_seconds: float = 300) -> AsyncIterator[Floor]:
    users = await add_people(engine)
    settings = AgentsSettings(queue_languages=LANGUAGES, check_seconds=check_seconds)
    floor = Floor(engine, users, settings)
    await floor.room.start()
    try:
        async with TestClient(TestServer(floor.app())) as client:
            floor.client = client
            await _teams_and_skills(floor)
            yield floor
    finally:
        await floor.room.stop()
        await floor.host.tasks.cancel_all()


async def _teams_and_skills(floor: Floor) -> None:
    teams = [
        ("front", ["support", "sales"], ["lin"], ["wang", "li"]),
        ("money", ["billing"], [], ["zhao"]),
    ]
    for name, queues, leaders, members in teams:
        status, body = await floor.call(
            "root",
            "POST",
            "/api/teams",
            {
                "name": name,
                "queues": queues,
                "leaders": [floor.id(u) for u in leaders],
                "members": [floor.id(u) for u in members],
            },
        )
        assert status == 201, body
    for who, skills in SKILLS.items():
        status, body = await floor.call(
            "boss", "PUT", f"/api/agents/{floor.id(who)}/skills", {"skills": skills}
        )
        assert status == 200, body
    assert floor.pbx.take() == []  # nobody is signed in: nothing for the PBX


@pytest.fixture
async def floor(engine: AsyncEngine) -> AsyncIterator[Floor]:
    async with open_floor(engine) as floor:
        yield floor


async def signed_in_wang(floor: Floor) -> None:
    """wang at the hot desk, in billing (penalty 2) and support (0), as the PBX reports."""
    await floor.sign_in("wang", DESK)
    floor.joined("wang", DESK, "billing", 2)
    floor.joined("wang", DESK, "support", 0)
    await floor.settled("wang", "ready")
    floor.pbx.take()


# --- sign-in ------------------------------------------------------------------------------


async def test_sign_in_joins_each_skill_queue_with_its_penalty_under_the_agents_name(
    floor: Floor,
) -> None:
    assert (await floor.desk("wang"))["signed_in"] is None
    desk = await floor.sign_in("wang", DESK)
    assert floor.pbx.take() == [
        getvar(DESK),
        queue_add("billing", DESK, 2, "Wang Fang"),
        queue_add("support", DESK, 0, "Wang Fang"),
    ]
    assert desk["signed_in"]["pbx"] == PBX
    assert (desk["signed_in"]["interface"], desk["signed_in"]["via"]) == (DESK, "console")
    assert desk["skills"] == {"queue:billing": 3, "queue:support": 5}

    # The PBX reports the memberships: the console shows them.
    floor.joined("wang", DESK, "billing", 2)
    floor.joined("wang", DESK, "support", 0)
    desk = await floor.settled("wang", "ready")
    assert [(q["queue"], q["penalty"], q["paused"]) for q in desk["queues"]] == [
        ("billing", 2, False),
        ("support", 0, False),
    ]
    stored = await floor.stored("wang")
    assert stored is not None
    assert (stored.pbx, stored.interface, stored.via) == (PBX, DESK, "console")
    (entry,) = await floor.audit("agent.sign-in")
    assert (entry.username, entry.target, entry.ok) == ("wang", "wang", True)
    assert "billing penalty 2" in entry.message and "support penalty 0" in entry.message
    assert [(s["state"], s["interface"]) for s in await floor.history("wang")] == [("ready", DESK)]
    # The wallboard and the agent's console heard of it.
    states = [json.loads(m) for m in floor.published if '"AgentState"' in m]
    assert states[-1]["username"] == "wang" and states[-1]["state"]["state"] == "ready"
    assert (floor.id("wang"), "agent_state") in [(u, m["type"]) for u, m in floor.told]
    # As the screen-pop room sends them on the agent's socket: JSON text.
    told = [json.loads(dumps(m)) for _, m in floor.told]
    assert told[-1]["state"]["since"] == states[-1]["state"]["since"] == desk["state"]["since"]


async def test_a_language_queue_takes_the_lower_of_queue_and_language_levels(
    floor: Floor,
) -> None:
    await floor.sign_in("li", OTHER_DESK)
    assert floor.pbx.take() == [
        getvar(OTHER_DESK),
        queue_add("english", OTHER_DESK, 2, "Li Na"),
        queue_add("support", OTHER_DESK, 1, "Li Na"),
    ]


async def test_a_phone_the_pbx_does_not_know_is_refused_with_nothing_done(floor: Floor) -> None:
    status, body = await floor.call(
        "wang", "POST", "/api/agent/sign-in", {"interface": UNKNOWN_PHONE}
    )
    assert (status, body["error"]) == (409, "no-such-phone"), body
    assert body["interface"] == UNKNOWN_PHONE
    assert floor.pbx.take() == [getvar(UNKNOWN_PHONE)]
    assert await floor.stored("wang") is None
    assert (await floor.desk("wang"))["signed_in"] is None
    assert await floor.audit("agent.sign-in") == []


async def test_a_queue_the_pbx_refuses_undoes_the_whole_sign_in(floor: Floor) -> None:
    floor.pbx.refuse[("QueueAdd", "support")] = "Unable to add interface to queue"
    status, body = await floor.call("wang", "POST", "/api/agent/sign-in", {"interface": DESK})
    assert (status, body["error"]) == (502, "pbx-refused"), body
    assert body["rolled_back"] == ["billing"]
    assert floor.pbx.take() == [
        getvar(DESK),
        queue_add("billing", DESK, 2, "Wang Fang"),
        queue_add("support", DESK, 0, "Wang Fang"),
        queue_remove("billing", DESK),
    ]
    assert (await floor.desk("wang"))["signed_in"] is None
    stored = await floor.stored("wang")
    assert stored is not None and (stored.pbx, stored.interface) == (None, None)
    (entry,) = await floor.audit("agent.sign-in")
    assert entry.ok is False
    # The phone is free: another agent signs in there.
    floor.pbx.refuse.clear()
    await floor.sign_in("li", DESK)


async def test_one_agent_per_phone_and_one_phone_per_agent(floor: Floor) -> None:
    await floor.sign_in("wang", DESK)
    floor.pbx.take()

    status, body = await floor.call("li", "POST", "/api/agent/sign-in", {"interface": DESK})
    assert (status, body["error"]) == (409, "phone-taken"), body
    assert body["holder"] == "wang" and "Wang Fang" in body["message"]
    assert floor.pbx.take() == [getvar(DESK)]
    assert await floor.stored("li") is None

    status, body = await floor.call("wang", "POST", "/api/agent/sign-in", {"interface": OTHER_DESK})
    assert (status, body["error"]) == (409, "signed-in-elsewhere"), body
    assert body["interface"] == DESK
    assert floor.pbx.take() == [getvar(OTHER_DESK)]
    assert (await floor.desk("wang"))["signed_in"]["interface"] == DESK


async def test_skills_that_name_no_queue_of_the_pbx_are_no_sign_in(floor: Floor) -> None:
    status, body = await floor.call("chen", "POST", "/api/agent/sign-in", {"interface": DESK})
    assert (status, body["error"]) == (409, "no-queues"), body
    assert body["skipped"] == []
    # The English queue wants English: said so, still no queue.
    status, _ = await floor.call(
        "boss", "PUT", f"/api/agents/{floor.id('chen')}/skills", {"skills": {"queue:english": 5}}
    )
    assert status == 200
    status, body = await floor.call("chen", "POST", "/api/agent/sign-in", {"interface": DESK})
    assert (status, body["error"]) == (409, "no-queues"), body
    assert body["skipped"] == [{"queue": "english", "why": "the queue serves en callers"}]
    assert floor.pbx.take() == [getvar(DESK), getvar(DESK)]
    assert await floor.stored("chen") is None


# --- not ready and ready ------------------------------------------------------------------


async def test_not_ready_with_a_code_pauses_and_ready_unpauses(floor: Floor) -> None:
    await signed_in_wang(floor)
    status, body = await floor.call("wang", "POST", "/api/agent/not-ready", {"code": "lunch"})
    assert status == 200, body
    assert floor.pbx.take() == [
        {"Action": "QueuePause", "Interface": DESK, "Paused": "true", "Reason": "lunch"}
    ]
    floor.paused(DESK, ["billing", "support"], "lunch")
    desk = await floor.settled("wang", "not-ready", "lunch")
    assert desk["state"]["limit_seconds"] == 3600 and desk["state"]["over_limit"] is False
    assert all(q["paused_reason"] == "lunch" for q in desk["queues"])

    status, body = await floor.call("wang", "POST", "/api/agent/ready", {})
    assert status == 200, body
    assert floor.pbx.take() == [{"Action": "QueuePause", "Interface": DESK, "Paused": "false"}]
    floor.paused(DESK, ["billing", "support"], None)
    await floor.settled("wang", "ready")
    history = await floor.history("wang")
    assert [(s["state"], s["code"], s["paid"]) for s in history] == [
        ("ready", "", True),
        ("not-ready", "lunch", False),  # lunch is unpaid
        ("ready", "", True),
    ]


async def test_an_unknown_code_is_refused_and_nothing_is_sent(floor: Floor) -> None:
    await signed_in_wang(floor)
    status, body = await floor.call("wang", "POST", "/api/agent/not-ready", {"code": "nap"})
    assert (status, body["error"]) == (404, "no-such-code"), body
    assert floor.pbx.take() == []
    assert (await floor.desk("wang"))["state"]["state"] == "ready"


async def test_not_ready_needs_a_phone(floor: Floor) -> None:
    status, body = await floor.call("wang", "POST", "/api/agent/not-ready", {"code": "lunch"})
    assert (status, body["error"]) == (409, "not-signed-in"), body
    assert floor.pbx.take() == []


async def test_a_code_at_its_max_agents_is_full(floor: Floor) -> None:
    status, body = await floor.call(
        "root",
        "PUT",
        "/api/not-ready-codes/coaching",
        {"label_zh": "辅导", "label_en": "Coaching", "max_agents": 1},
    )
    assert status == 200, body
    await signed_in_wang(floor)
    await floor.sign_in("li", OTHER_DESK)
    floor.pbx.take()

    status, body = await floor.call("wang", "POST", "/api/agent/not-ready", {"code": "coaching"})
    assert status == 200, body
    assert floor.pbx.take()[0]["Reason"] == "coaching"
    status, body = await floor.call("li", "POST", "/api/agent/not-ready", {"code": "coaching"})
    assert (status, body["error"]) == (409, "code-full"), body
    assert body["max_agents"] == 1
    assert floor.pbx.take() == []
    codes = {c["code"]: c for c in (await floor.desk("li"))["codes"]}
    assert (codes["coaching"]["in_use"], codes["coaching"]["max_agents"]) == (1, 1)
    # wang back: the place is free again.
    floor.paused(DESK, ["billing", "support"], "coaching")
    await floor.settled("wang", "not-ready", "coaching")
    status, body = await floor.call("wang", "POST", "/api/agent/ready", {})
    assert status == 200, body
    floor.paused(DESK, ["billing", "support"], None)
    await floor.settled("wang", "ready")
    status, body = await floor.call("li", "POST", "/api/agent/not-ready", {"code": "coaching"})
    assert status == 200, body


# --- sign-out -----------------------------------------------------------------------------


async def test_sign_out_leaves_the_dynamic_memberships(floor: Floor) -> None:
    await signed_in_wang(floor)
    # A static member of sales at that desk (queues.conf) stays where it is.
    floor.joined("wang", DESK, "sales", 1, membership="static")
    status, body = await floor.call("wang", "POST", "/api/agent/sign-out", {})
    assert status == 200, body
    assert body["signed_in"] is None
    assert sorted(floor.pbx.take(), key=lambda f: f["Queue"]) == [
        queue_remove("billing", DESK),
        queue_remove("support", DESK),
    ]
    floor.left(DESK, "billing", "support")
    desk = await floor.settled("wang", "signed-out")
    assert desk["signed_in"] is None and desk["queues"] == []
    stored = await floor.stored("wang")
    assert stored is not None and stored.interface is None
    assert [s["state"] for s in await floor.history("wang")] == ["signed-out", "ready"]
    (entry,) = await floor.audit("agent.sign-out")
    assert entry.username == "wang" and "billing" in entry.message

    status, body = await floor.call("wang", "POST", "/api/agent/sign-out", {})
    assert (status, body["error"]) == (409, "not-signed-in"), body
    # The phone is free for the next agent.
    await floor.sign_in("li", DESK)


async def test_a_supervisor_signs_an_agent_out(floor: Floor) -> None:
    await signed_in_wang(floor)
    # A team leader of another team may not.
    status, body = await floor.call(
        "lin", "POST", f"/api/agents/{floor.id('zhao')}/sign-out", {"reason": "x"}
    )
    assert (status, body["error"]) == (403, "outside-your-teams"), body

    status, body = await floor.call(
        "boss", "POST", f"/api/agents/{floor.id('wang')}/sign-out", {"reason": "end of shift"}
    )
    assert status == 200, body
    assert (body["user_id"], body["signed_in"]) == (floor.id("wang"), None)
    assert sorted(floor.pbx.take(), key=lambda f: f["Queue"]) == [
        queue_remove("billing", DESK),
        queue_remove("support", DESK),
    ]
    assert (await floor.desk("wang"))["signed_in"] is None
    (entry,) = await floor.audit("agent.sign-out")
    assert (entry.username, entry.target) == ("boss", "wang")
    assert "end of shift" in entry.message


# --- skills -------------------------------------------------------------------------------


async def test_skills_for_a_queue_no_pbx_has_are_refused(floor: Floor) -> None:
    status, body = await floor.call(
        "boss",
        "PUT",
        f"/api/agents/{floor.id('wang')}/skills",
        {"skills": {"queue:support": 5, "queue:nosuch": 3}},
    )
    assert (status, body["error"]) == (404, "no-such-queue"), body
    assert body["queues"] == ["nosuch"]
    assert await floor.stored_skills("wang") == SKILLS["wang"]
    status, body = await floor.call(
        "boss", "PUT", f"/api/agents/{floor.id('wang')}/skills", {"skills": {"queue:support": 6}}
    )
    assert (status, body["error"]) == (400, "invalid-body"), body
    assert await floor.stored_skills("wang") == SKILLS["wang"]


async def test_a_team_leader_sets_skills_in_their_teams_only(floor: Floor) -> None:
    zhao = f"/api/agents/{floor.id('zhao')}/skills"
    status, body = await floor.call("lin", "PUT", zhao, {"skills": {"queue:support": 2}})
    assert (status, body["error"]) == (403, "outside-your-teams"), body
    assert await floor.stored_skills("zhao") == SKILLS["zhao"]
    # Their own agent, but into another team's queue: refused too.
    li = f"/api/agents/{floor.id('li')}/skills"
    status, body = await floor.call(
        "lin", "PUT", li, {"skills": {**SKILLS["li"], "queue:billing": 2}}
    )
    assert (status, body["error"]) == (403, "outside-your-teams"), body
    assert await floor.stored_skills("li") == SKILLS["li"]
    # Their own agent in their own queues: done.
    wanted = {**SKILLS["li"], "queue:sales": 2}
    status, body = await floor.call("lin", "PUT", li, {"skills": wanted})
    assert status == 200, body
    assert await floor.stored_skills("li") == wanted
    assert await floor.audit("agent.skills") != []
    # An agent changes nobody's skills.
    status, body = await floor.call("wang", "PUT", li, {"skills": {}})
    assert (status, body["error"]) == (403, "forbidden"), body


async def test_skills_changed_for_a_signed_in_agent_apply_at_once(floor: Floor) -> None:
    await signed_in_wang(floor)
    before = len(await floor.audit("agent.skills"))
    wanted = {"queue:support": 2, "queue:sales": 4}
    status, body = await floor.call(
        "boss", "PUT", f"/api/agents/{floor.id('wang')}/skills", {"skills": wanted}
    )
    assert status == 200, body
    assert body["failed"] == []
    assert body["applied"] == ["joined sales (penalty 1)", "penalty 3 in support", "left billing"]
    assert floor.pbx.take() == [
        queue_add("sales", DESK, 1, "Wang Fang"),
        {"Action": "QueuePenalty", "Interface": DESK, "Penalty": "3", "Queue": "support"},
        queue_remove("billing", DESK),
    ]
    assert await floor.stored_skills("wang") == wanted
    entries = await floor.audit("agent.skills")
    assert len(entries) == before + 1
    assert (entries[-1].username, entries[-1].target) == ("boss", "wang")
    assert entries[-1].parameters["before"] == SKILLS["wang"]
    assert entries[-1].parameters["after"] == wanted


# --- history, limits, sessions, PBX restarts --------------------------------------------


async def test_the_state_history_follows_pauses_made_anywhere(floor: Floor) -> None:
    await signed_in_wang(floor)
    signed_in_at = floor.clock()
    lunch_at = floor.clock.advance(60)
    # Paused with a code (at the phone, by a supervisor...): not ready with that code.
    floor.paused(DESK, ["billing", "support"], "lunch")
    await floor.settled("wang", "not-ready", "lunch")
    other_at = floor.clock.advance(60)
    # Paused with words that are no code: "other", with the words.
    floor.paused(DESK, ["billing", "support"], "doctor's appointment")
    desk = await floor.settled("wang", "not-ready", "other")
    assert desk["state"]["reason"] == "doctor's appointment"
    ready_at = floor.clock.advance(60)
    floor.paused(DESK, ["billing", "support"], None)
    await floor.settled("wang", "ready")

    history = await floor.history("wang")
    assert [
        (s["state"], s["code"], s["reason"], s["paid"], s["pbx"], s["interface"]) for s in history
    ] == [
        ("ready", "", "", True, PBX, DESK),
        ("not-ready", "other", "doctor's appointment", True, PBX, DESK),
        ("not-ready", "lunch", "lunch", False, PBX, DESK),
        ("ready", "", "", True, PBX, DESK),
    ]
    times = [(s["started_at"], s["ended_at"]) for s in history]
    assert times == [
        (ready_at.isoformat(), None),
        (other_at.isoformat(), ready_at.isoformat()),
        (lunch_at.isoformat(), other_at.isoformat()),
        (signed_in_at.isoformat(), lunch_at.isoformat()),
    ]
    # A period: only the states that overlap it.
    status, body = await floor.call(
        "boss",
        "GET",
        f"/api/agents/{floor.id('wang')}/states?since={_q(lunch_at)}&until={_q(other_at)}",
    )
    assert status == 200, body
    assert [s["code"] for s in body["states"]] == ["lunch"]
    # A team leader sees their own team's agents' history, not another team's.
    assert len(await floor.history("wang", viewer="lin")) == 4
    status, body = await floor.call("lin", "GET", f"/api/agents/{floor.id('zhao')}/states")
    assert (status, body["error"]) == (403, "outside-your-teams"), body


def _q(at: datetime) -> str:
    return at.isoformat().replace("+", "%2B")


async def test_a_team_leaders_roster_holds_their_teams_only(floor: Floor) -> None:
    await signed_in_wang(floor)
    status, body = await floor.call("lin", "GET", "/api/roster")
    assert status == 200, body
    assert body["scope"] == "teams"
    assert [t["name"] for t in body["teams"]] == ["front"]
    assert {a["username"] for a in body["agents"]} == {"lin", "wang", "li"}
    assert body["queues"] == ["sales", "support"]
    wang = next(a for a in body["agents"] if a["username"] == "wang")
    assert (wang["signed_in"]["interface"], wang["state"]["state"]) == (DESK, "ready")
    status, body = await floor.call("boss", "GET", "/api/roster")
    assert body["scope"] == "all" and body["queues"] == list(QUEUES)
    assert {a["username"] for a in body["agents"]} >= {"wang", "li", "zhao", "chen"}


async def test_a_code_held_over_its_limit_is_alerted_once(engine: AsyncEngine) -> None:
    async with open_floor(engine, check_seconds=0.02) as floor:
        await signed_in_wang(floor)
        status, body = await floor.call("wang", "POST", "/api/agent/not-ready", {"code": "break"})
        assert status == 200, body
        floor.paused(DESK, ["billing", "support"], "break")
        await floor.settled("wang", "not-ready", "break")
        since = floor.clock()
        floor.clock.advance(900)  # at the limit, not over it
        await asyncio.sleep(0.2)
        assert not [m for m in floor.published if "AgentStateOverLimit" in m]

        floor.clock.advance(1)
        deadline = asyncio.get_running_loop().time() + 5
        while not [m for m in floor.published if "AgentStateOverLimit" in m]:
            assert asyncio.get_running_loop().time() < deadline, "no over-limit alert"
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # several more checks: still one alert
        floor.clock.advance(600)
        await asyncio.sleep(0.2)

        (alert,) = [json.loads(m) for m in floor.published if "AgentStateOverLimit" in m]
        assert (alert["username"], alert["code"], alert["limit_seconds"]) == ("wang", "break", 900)
        assert alert["teams"] == [1]
        assert datetime.fromisoformat(alert["since"]) == since
        told = [m for u, m in floor.told if m["type"] == "state_over_limit"]
        assert len(told) == 1 and told[0]["code"] == "break"
        assert floor.told[-1][0] == floor.id("wang")
        desk = await floor.desk("wang")
        assert desk["state"]["over_limit"] is True


async def test_a_console_sign_in_ends_with_the_agents_last_session(engine: AsyncEngine) -> None:
    async with open_floor(engine, check_seconds=0.02) as floor:
        await signed_in_wang(floor)
        # li signed in with the phone's feature code: no web session to end with.
        await floor.room.desk.sign_in(floor.users["li"], floor.id("li"), OTHER_DESK, None, "phone")
        floor.pbx.take()
        await asyncio.sleep(0.1)
        assert floor.pbx.sent == []  # everyone has a session

        floor.sessions = set()  # wang logged out (li never logged in)
        deadline = asyncio.get_running_loop().time() + 5
        while (await floor.desk("wang"))["signed_in"] is not None:
            assert asyncio.get_running_loop().time() < deadline, "wang still signed in"
            await asyncio.sleep(0.01)
        assert sorted(floor.pbx.take(), key=lambda f: f["Queue"]) == [
            queue_remove("billing", DESK),
            queue_remove("support", DESK),
        ]
        (entry,) = await floor.audit("agent.sign-out")
        assert (entry.username, entry.target) == ("system", "wang")
        assert "web session ended" in entry.message
        assert (await floor.desk("li"))["signed_in"]["via"] == "phone"


async def test_after_a_pbx_restart_signed_in_agents_are_put_back_with_their_code(
    floor: Floor,
) -> None:
    await signed_in_wang(floor)
    await floor.sign_in("li", OTHER_DESK)
    floor.joined("li", OTHER_DESK, "english", 2)
    floor.joined("li", OTHER_DESK, "support", 1)
    status, body = await floor.call("wang", "POST", "/api/agent/not-ready", {"code": "lunch"})
    assert status == 200, body
    floor.paused(DESK, ["billing", "support"], "lunch")
    await floor.settled("wang", "not-ready", "lunch")
    await floor.settled("li", "ready")
    floor.pbx.take()

    for restart in (1, 2):
        # The PBX restarted: its queues are there, no dynamic member is.
        floor.clock.advance(60)
        floor.model.reconcile(PBX, queue_records(floor.clock(), *QUEUES), floor.clock())
        await floor.room.on_pbx_ready(floor.pbx)
        assert floor.pbx.take() == [
            queue_add("billing", DESK, 2, "Wang Fang", reason="lunch"),
            queue_add("support", DESK, 0, "Wang Fang", reason="lunch"),
            queue_add("english", OTHER_DESK, 2, "Li Na"),
            queue_add("support", OTHER_DESK, 1, "Li Na"),
        ], restart
        # Until the PBX reports the memberships back, wang is still at lunch: no "ready"
        # that never was (it would also make the next restart forget the code).
        await asyncio.sleep(0.1)
        assert (await floor.desk("wang"))["state"]["code"] == "lunch"
        floor.joined("wang", DESK, "billing", 2, reason="lunch")
        floor.joined("wang", DESK, "support", 0, reason="lunch")
        floor.joined("li", OTHER_DESK, "english", 2)
        floor.joined("li", OTHER_DESK, "support", 1)
        desk = await floor.settled("wang", "not-ready", "lunch")
        assert desk["signed_in"]["interface"] == DESK
        assert [(q["queue"], q["paused_reason"]) for q in desk["queues"]] == [
            ("billing", "lunch"),
            ("support", "lunch"),
        ]
        assert (await floor.desk("li"))["state"]["state"] == "ready"
    assert [(s["state"], s["code"]) for s in await floor.history("wang")] == [
        ("not-ready", "lunch"),
        ("ready", ""),
    ]
    (entry, _) = await floor.audit("agent.restore")
    assert entry.username == "system" and entry.message == "2 agents"


async def test_an_agent_number_and_pin_are_kept_until_changed(floor: Floor) -> None:
    path = f"/api/agents/{floor.id('wang')}/profile"
    status, body = await floor.call("root", "PUT", path, {"agent_number": "8001", "pin": "2580"})
    assert (status, body["pin_set"]) == (200, True), body
    # A new number without a PIN keeps the PIN there is.
    status, body = await floor.call("root", "PUT", path, {"agent_number": "8002", "pin": None})
    assert (status, body["agent_number"], body["pin_set"]) == (200, "8002", True), body
    status, body = await floor.call(
        "root", "PUT", f"/api/agents/{floor.id('li')}/profile", {"agent_number": "8002"}
    )
    assert (status, body["error"]) == (409, "agent-number-taken"), body
    status, body = await floor.call("root", "PUT", path, {"agent_number": "8003", "pin": "12"})
    assert (status, body["error"]) == (400, "invalid-body"), body
    status, roster = await floor.call("root", "GET", "/api/roster")
    wang = next(a for a in roster["agents"] if a["username"] == "wang")
    assert (wang["agent_number"], wang["pin_set"]) == ("8002", True)


async def test_a_code_another_room_needs_is_added_to_a_floor_that_already_has_codes(
    engine: AsyncEngine,
) -> None:
    """A centre upgraded to screening gets its abusive-caller break code; an admin's own
    edit of a code is left as it is."""
    at = datetime(2026, 12, 1, tzinfo=UTC)
    await store.seed_codes(engine, [store.Code("lunch", "午餐", "Lunch", False, 3600, None)], at)
    settings = AgentsSettings()
    host = make_host(engine)

    async def nobody(user_ids: Iterable[int]) -> set[int]:
        return set()

    room = AgentsRoom(
        host,
        settings,
        pbx_names=[],
        users_with_sessions=nobody,
        required_codes=["abusive-caller", "lunch"],
    )
    await room.start()
    try:
        codes = {c.code: c for c in await store.load_codes(engine)}
        assert set(codes) == {"lunch", "abusive-caller"}
        assert codes["abusive-caller"].limit_seconds == 120
        assert codes["lunch"].label_en == "Lunch"
    finally:
        await host.tasks.cancel_all()
