"""The supervisor room on its own: declared routes and access, the HTTP answers and their
shapes, and the follower that keeps the desired state in step with changes made elsewhere.

A real live model, SQLite store, task group and HTTP stack; only the PBX is a scripted
stand-in (it accepts every action) and who is logged in is read from a test header.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.agents.scope import Scope, Team, scope_of
from callcenter.auth.identity import User
from callcenter.auth.permissions import P
from callcenter.component import PbxLinks
from callcenter.live import Change, LiveModel, MemberChanged, parse_event
from callcenter.settings import SupervisorSettings
from callcenter.store.db import create_engine
from callcenter.store.migrate import upgrade_to_head
from callcenter.supervisor import room as room_module
from callcenter.supervisor import store
from callcenter.supervisor.api import ActionDone, AuditPage, IntervalBars
from callcenter.supervisor.control import OUTSIDE_YOUR_TEAMS
from callcenter.supervisor.models import CallerAction
from callcenter.supervisor.plan import FOLLOWED_BY
from callcenter.supervisor.room import SupervisorRoom
from callcenter.web.app import create_app
from callcenter.web.http import PUBLIC, needs
from tests.live import amitrace as ami
from tests.rooms import make_host
from tests.supervisor.helpers import member_event

USERS = {
    "lead": User(7, "lead", "Lead", "supervisor"),
    "agent": User(8, "agent1", "Agent 1", "agent", ("PJSIP/1001",)),
    "teamlead": User(9, "teamlead", "Team lead", "team_leader", ("PJSIP/1009",)),
}
# The team leader (9) leads "front", which serves "support"; agent 8 (PJSIP/1001) is in it.
# "billing" belongs to another team.
TEAMS = (
    Team(1, "front", "一线", "Front", frozenset({"support"}), frozenset({8}), frozenset({9})),
    Team(2, "money", "账务", "Billing", frozenset({"billing"}), frozenset({10}), frozenset({11})),
)
PHONES = {8: ("PJSIP/1001",), 9: ("PJSIP/1009",), 10: ("PJSIP/1005",)}


class FixedTeams:
    """The agents room's scopes, from fixed teams and phones."""

    def scope_of(self, user: User) -> Scope:
        return scope_of(user, TEAMS, PHONES)


class ScriptedPbx:
    """A connected PBX that accepts every action and remembers it."""

    def __init__(self, name: str = "rig") -> None:
        self.name = name
        self.connected = True
        self.reconnects = 1
        self.last_error = ""
        self.sent: list[dict[str, str]] = []

    async def send(
        self, fields: Mapping[str, str], *, as_list: bool = False, timeout: float | None = None
    ) -> Any:
        self.sent.append(dict(fields))
        return [] if as_list else {"Response": "Success"}


def apply(model: LiveModel, fields: dict[str, str]) -> list[Change]:
    event = parse_event("rig", fields, datetime.now(UTC))
    assert event is not None
    return model.apply(event)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    await upgrade_to_head(engine)
    yield engine
    await engine.dispose()


class Console:
    def __init__(self, engine: AsyncEngine) -> None:
        self.model = LiveModel()
        apply(self.model, member_event("support", "PJSIP/1004"))
        self.pbx = ScriptedPbx()
        self.links: PbxLinks[ScriptedPbx] = PbxLinks()
        self.published: list[str] = []
        self.host = make_host(engine, live=self.model, links=self.links, published=self.published)
        self.room = SupervisorRoom(self.host, SupervisorSettings(), FixedTeams())
        # As in the service: the links are added after the rooms were built.
        self.links.add(self.pbx)

    def app(self) -> web.Application:
        async def authenticate(request: web.Request) -> User | None:
            return USERS.get(request.headers.get("X-Test-User", ""))

        return create_app([self.room], authenticate, public_origins=[ORIGIN])


@pytest.fixture
async def console(engine: AsyncEngine) -> AsyncIterator[Console]:
    console = Console(engine)
    await console.room.start()
    yield console
    await console.room.stop()
    await console.host.tasks.cancel_all()


# Requests that change anything must come from our own pages (callcenter.web.security).
ORIGIN = "http://console.test"
NOBODY = {"Origin": ORIGIN}
LEAD = {**NOBODY, "X-Test-User": "lead"}
AGENT = {**NOBODY, "X-Test-User": "agent"}
TEAM_LEAD = {**NOBODY, "X-Test-User": "teamlead"}
PAUSE = "/api/queues/support/members/PJSIP%2F1004/pause"


def test_every_route_is_declared_with_its_access(engine: AsyncEngine) -> None:
    room = Console(engine).room
    routes = {route.key: route for route in room.routes()}
    control = needs(P.QUEUES_CONTROL)
    assert routes["POST /api/queues/{queue}/members/{interface}/pause"].access == control
    assert routes["DELETE /api/queues/{queue}/members/{interface}"].access == control
    assert routes["POST /api/agents/{interface}/logout"].access == control
    assert routes["POST /api/agents/{interface}/spy"].access == needs(P.AGENTS_SPY)
    assert routes["GET /api/audit"].access == needs(P.AUDIT_READ)
    assert routes["GET /api/stats/intervals"].access == needs(P.STATS_READ)
    assert routes["GET /wallboard"].access == PUBLIC
    assert routes["GET /wallboard/static/{filename:.*}"].access == PUBLIC
    for route in routes.values():
        if route.path.startswith("/api/"):
            assert route.response is not None, route.key
            assert route.errors or route.method == "GET", route.key
            assert ("{" in route.path) == (route.path_params is not None), route.key
            # Every control action may be refused for being outside the user's teams.
            assert (OUTSIDE_YOUR_TEAMS in route.errors) == (route.method != "GET"), route.key


async def test_a_pause_is_sent_stored_audited_and_answered_in_its_shape(
    console: Console,
) -> None:
    async with TestClient(TestServer(console.app())) as client:
        response = await client.post(PAUSE, json={"paused": True, "reason": "lunch"}, headers=LEAD)
        body = await response.json()
        assert response.status == 200, body
        done = ActionDone.model_validate(body)
        assert (done.ok, done.action, done.pbx) == (True, "member.pause", "rig")
        assert [f["Action"] for f in console.pbx.sent] == ["QueuePause"]

        response = await client.get("/api/audit?action=member.pause", headers=LEAD)
        page = AuditPage.model_validate(await response.json())
        assert response.status == 200
        assert page.total == 1
        assert (page.entries[0].user, page.entries[0].parameters["reason"]) == ("lead", "lunch")

        response = await client.get("/api/stats/intervals?minutes=60&step=5", headers=LEAD)
        assert response.status == 200
        assert len(IntervalBars.model_validate(await response.json()).intervals) == 12


async def test_refusals_keep_their_ids_and_bad_requests_are_400s(console: Console) -> None:
    cases: list[tuple[str, str, Any, int, str]] = [
        (
            "POST",
            "/api/queues/nosuch/members/PJSIP%2F1004/pause",
            {"paused": True},
            404,
            "no-such-queue",
        ),
        (
            "POST",
            "/api/queues/support/members/PJSIP%2F1099/pause",
            {"paused": True},
            404,
            "no-such-member",
        ),
        ("POST", "/api/queues/support/members", {"interface": "PJSIP/1004"}, 409, "already-member"),
        ("POST", "/api/queues/support/callers/1.2/withdraw", {}, 404, "no-such-caller"),
        ("POST", "/api/agents/PJSIP%2F1099/logout", None, 404, "no-such-agent"),
        ("POST", "/api/agents/PJSIP%2F1004/spy", {"mode": "listen"}, 400, "no-supervisor-phone"),
        ("POST", PAUSE, {"paused": "yes"}, 400, "invalid-body"),
        ("POST", PAUSE + "?pbx=a&pbx=b", {"paused": True}, 400, "invalid-query"),
        ("POST", "/api/agents/nointerface/logout", None, 400, "invalid-path"),
        ("POST", "/api/queues/support/callers/1%202/withdraw", {}, 400, "invalid-path"),
        ("GET", "/api/audit?offset=99999999999999999999", None, 400, "invalid-query"),
        ("GET", "/api/audit?since=2026-11-23T08:00:00", None, 400, "invalid-query"),
        (
            "GET",
            "/api/audit?since=2026-11-23T09:00:00Z&until=2026-11-23T08:00:00Z",
            None,
            400,
            "invalid-query",
        ),
        ("GET", "/api/stats/intervals?minutes=5&step=10", None, 400, "invalid-query"),
    ]
    async with TestClient(TestServer(console.app())) as client:
        for method, path, payload, status, error in cases:
            response = await client.request(method, path, json=payload, headers=LEAD)
            body = await response.json()
            assert (response.status, body["error"]) == (status, error), (path, body)
            assert body["message"]
        response = await client.post(
            PAUSE, data=b"{not json", headers={**LEAD, "Content-Type": "application/json"}
        )
        assert (await response.json())["error"] == "bad-json"
        response = await client.post(PAUSE, json={"paused": True}, headers=NOBODY)
        assert response.status == 401
        response = await client.post(PAUSE, json={"paused": True}, headers=AGENT)
        assert (response.status, (await response.json())["error"]) == (403, "forbidden")
        response = await client.get("/wallboard")
        assert response.status == 200 and response.content_type == "text/html"
    assert console.pbx.sent == []  # nothing refused reached the PBX


async def test_a_change_made_outside_the_console_is_followed_before_the_room_stops(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(room_module, "FOLLOW_DELAY", 0.0)
    assert console.host.tasks.group("supervisor").names() == ["supervisor:follow"]
    await console.room.on_pbx_ready(console.pbx)
    assert '"DesiredStateApplied"' in console.published[-1]
    async with TestClient(TestServer(console.app())) as client:
        response = await client.post(PAUSE, json={"paused": True, "reason": "lunch"}, headers=LEAD)
        assert response.status == 200
    # Someone ends the pause on the phone: the PBX reports it, the model changes.
    changes = apply(
        console.model,
        member_event("support", "PJSIP/1004", "QueueMemberPause", Paused="0", PausedReason=""),
    )
    followed = [c for c in changes if isinstance(c, MemberChanged)]
    assert followed
    for change in changes:
        console.room.on_change(change)
    await console.room.stop()
    (desired,) = await store.load_desired(console.host.engine, "rig")
    assert (desired.paused, desired.set_by) == (False, FOLLOWED_BY)
    assert desired.set_at is not None
    assert desired.set_at > datetime.now(UTC) - timedelta(minutes=1)


def two_teams(console: Console) -> None:
    """support: PJSIP/1004 and a caller 1.4; billing (another team's): PJSIP/1004 too,
    PJSIP/1005 (that team's) and PJSIP/1001 (the team leader's own agent), a caller 1.5."""
    for queue, interface in (
        ("billing", "PJSIP/1004"),
        ("billing", "PJSIP/1005"),
        ("billing", "PJSIP/1001"),
    ):
        apply(console.model, member_event(queue, interface))
    now = datetime.now(UTC)
    apply(console.model, ami.join(now, "support", ami.Caller("1.4", "13800138004"), 1, 1))
    apply(console.model, ami.join(now, "billing", ami.Caller("1.5", "13800138005"), 1, 1))


async def test_a_team_leader_is_refused_everything_outside_their_teams(
    console: Console,
) -> None:
    two_teams(console)
    billing = "/api/queues/billing/members/PJSIP%2F1005"
    cases: list[tuple[str, str, Any]] = [
        ("POST", "/api/queues/billing/members", {"interface": "PJSIP/1009"}),
        ("DELETE", billing, None),
        ("POST", billing + "/pause", {"paused": True}),
        ("POST", billing + "/penalty", {"penalty": 3}),
        ("POST", billing + "/ringinuse", {"ringinuse": True}),
        ("POST", "/api/queues/billing/callers/1.5/move", {"to_queue": "support"}),
        ("POST", "/api/queues/billing/callers/1.5/withdraw", {}),
        ("POST", "/api/queues/billing/callers/1.5/priority", {"priority": 5}),
        # Into another team's queue: by name, or through the dialplan place of the queues.
        ("POST", "/api/queues/support/callers/1.4/move", {"to_queue": "billing"}),
        (
            "POST",
            "/api/queues/support/callers/1.4/move",
            {"context": "hotline-select", "exten": "billing"},
        ),
        ("POST", "/api/agents/PJSIP%2F1005/spy", {"mode": "listen"}),
        ("POST", "/api/agents/PJSIP%2F1005/logout", None),
        # Whether it exists or not: the answer tells nothing of other teams.
        ("POST", "/api/queues/nosuch/members/PJSIP%2F1004/pause", {"paused": True}),
        ("POST", "/api/agents/PJSIP%2F1099/logout", None),
    ]
    async with TestClient(TestServer(console.app())) as client:
        for method, path, payload in cases:
            response = await client.request(method, path, json=payload, headers=TEAM_LEAD)
            body = await response.json()
            assert (response.status, body["error"]) == (403, "outside-your-teams"), (path, body)
            assert body["message"]
    assert console.pbx.sent == []  # nothing reached the PBX...
    assert await store.load_desired(console.host.engine, "rig") == []  # ...nor the database
    total, _ = await store.query_audit(console.host.engine, store.AuditQuery())
    assert total == 0
    async with AsyncSession(console.host.engine) as session:
        assert await session.scalar(select(func.count()).select_from(CallerAction)) == 0


async def test_a_team_leader_steers_their_own_queues_and_agents(console: Console) -> None:
    two_teams(console)
    async with TestClient(TestServer(console.app())) as client:
        response = await client.post(PAUSE, json={"paused": True}, headers=TEAM_LEAD)
        assert response.status == 200, await response.json()
        response = await client.post(
            "/api/queues/support/callers/1.4/withdraw", json={}, headers=TEAM_LEAD
        )
        assert response.status == 200, await response.json()
        assert [(f["Action"], f["Queue"]) for f in console.pbx.sent] == [
            ("QueuePause", "support"),
            ("QueueWithdrawCaller", "support"),
        ]
        console.pbx.sent.clear()

        # An agent let in as a member of the leader's queue leaves only that queue...
        response = await client.post("/api/agents/PJSIP%2F1004/logout", headers=TEAM_LEAD)
        done = ActionDone.model_validate(await response.json())
        assert done.done == ["remove PJSIP/1004 in support"], done
        assert [(f["Action"], f["Queue"]) for f in console.pbx.sent] == [("QueueRemove", "support")]
        console.pbx.sent.clear()
        # ...one of the leader's own team, from wherever they are.
        response = await client.post("/api/agents/PJSIP%2F1001/logout", headers=TEAM_LEAD)
        assert response.status == 200, await response.json()
        assert [(f["Action"], f["Queue"]) for f in console.pbx.sent] == [("QueueRemove", "billing")]
        # Listening in is let through to the next check (that agent is on no call).
        response = await client.post(
            "/api/agents/PJSIP%2F1001/spy", json={"mode": "listen"}, headers=TEAM_LEAD
        )
        assert (response.status, (await response.json())["error"]) == (409, "agent-not-on-call")

        # The floor's supervisor steers every team's queues.
        response = await client.post(
            "/api/queues/billing/members/PJSIP%2F1005/pause", json={"paused": True}, headers=LEAD
        )
        assert response.status == 200, await response.json()
