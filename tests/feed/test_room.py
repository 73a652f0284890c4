"""The live views room: a team leader sees their teams' queues and agents only, on the read
API and on the feed; anyone with ``teams:all`` sees everything.

A real live model, hub and HTTP stack; who is logged in is read from a test header.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callcenter.agents.scope import Scope, Team, scope_of
from callcenter.auth.identity import User
from callcenter.feed.hub import Hub
from callcenter.feed.publisher import FeedPublisher
from callcenter.feed.room import LiveViewRoom
from callcenter.live import LiveModel, parse_event
from callcenter.web.app import create_app
from tests.live import amitrace as ami
from tests.supervisor.helpers import member_event

ORIGIN = "http://wallboard.test"
USERS = {
    "boss": User(7, "boss", "Boss", "supervisor"),
    "lead": User(9, "lead", "Team lead", "team_leader", ("PJSIP/1009",)),
}
# The leader (9) leads "front", which serves "support"; agent 8 (PJSIP/1001) is in it.
TEAMS = (
    Team(1, "front", "一线", "Front", frozenset({"support"}), frozenset({8}), frozenset({9})),
    Team(2, "money", "账务", "Billing", frozenset({"billing"}), frozenset({10}), frozenset({11})),
)
PHONES = {8: ("PJSIP/1001",), 9: ("PJSIP/1009",), 10: ("PJSIP/1005",)}


class FixedTeams:
    def scope_of(self, user: User) -> Scope:
        return scope_of(user, TEAMS, PHONES)


def apply(model: LiveModel, fields: dict[str, str]) -> None:
    event = parse_event("rig", fields, datetime.now(UTC))
    assert event is not None
    model.apply(event)


class Wallboard:
    """support: PJSIP/1004, a caller; billing: PJSIP/1004, PJSIP/1005 (that team's) and
    PJSIP/1001 (the leader's own agent), a caller."""

    def __init__(self) -> None:
        self.model = LiveModel()
        for queue, interface in (
            ("support", "PJSIP/1004"),
            ("billing", "PJSIP/1004"),
            ("billing", "PJSIP/1005"),
            ("billing", "PJSIP/1001"),
        ):
            apply(self.model, member_event(queue, interface))
        now = datetime.now(UTC)
        apply(self.model, ami.join(now, "support", ami.Caller("1.4", "13800138004"), 1, 1))
        apply(self.model, ami.join(now, "billing", ami.Caller("1.5", "13800138005"), 1, 1))
        self.hub = Hub()
        self.room = LiveViewRoom(self.model, self.hub, FixedTeams())

    def app(self) -> web.Application:
        async def authenticate(request: web.Request) -> User | None:
            return USERS.get(request.headers.get("X-Test-User", ""))

        return create_app([self.room], authenticate, public_origins=[ORIGIN])


@pytest.fixture
async def client() -> AsyncIterator[tuple[Wallboard, TestClient[Any, Any]]]:
    board = Wallboard()
    async with TestClient(TestServer(board.app())) as client:
        yield board, client


async def get(client: TestClient[Any, Any], user: str, path: str) -> tuple[int, Any]:
    response = await client.get(path, headers={"X-Test-User": user})
    return response.status, await response.json()


async def test_a_team_leader_sees_their_queues_and_agents_only(
    client: tuple[Wallboard, TestClient[Any, Any]],
) -> None:
    _, http = client
    status, body = await get(http, "lead", "/api/queues")
    assert status == 200
    assert [q["queue"] for q in body["queues"]] == ["support"]
    status, body = await get(http, "lead", "/api/queues/support")
    assert (status, body["queue"]) == (200, "support")
    # Another team's queue is answered like one that does not exist.
    for path in ("/api/queues/billing", "/api/queues/billing?pbx=rig", "/api/queues/nosuch"):
        status, body = await get(http, "lead", path)
        assert (status, body["error"]) == (404, "no-such-queue"), path
    status, body = await get(http, "lead", "/api/agents")
    assert status == 200
    # PJSIP/1004 serves support; PJSIP/1001 is the leader's own agent (in billing only).
    assert sorted(a["interface"] for a in body["agents"]) == ["PJSIP/1001", "PJSIP/1004"]


async def test_a_user_with_every_team_sees_everything(
    client: tuple[Wallboard, TestClient[Any, Any]],
) -> None:
    _, http = client
    status, body = await get(http, "boss", "/api/queues")
    assert sorted(q["queue"] for q in body["queues"]) == ["billing", "support"]
    status, body = await get(http, "boss", "/api/queues/billing")
    assert (status, body["queue"]) == (200, "billing")
    status, body = await get(http, "boss", "/api/agents")
    assert sorted(a["interface"] for a in body["agents"]) == [
        "PJSIP/1001",
        "PJSIP/1004",
        "PJSIP/1005",
    ]


async def test_the_feed_of_a_team_leader_carries_their_queues_only(
    client: tuple[Wallboard, TestClient[Any, Any]],
) -> None:
    board, http = client
    feed = FeedPublisher(board.hub, interval=0.01)
    lead = await http.ws_connect("/ws/live", headers={"X-Test-User": "lead", "Origin": ORIGIN})
    boss = await http.ws_connect("/ws/live", headers={"X-Test-User": "boss", "Origin": ORIGIN})
    try:
        snapshot = await lead.receive_json(timeout=5)
        assert snapshot["type"] == "snapshot"
        assert [q["queue"] for q in snapshot["queues"]] == ["support"]
        snapshot = await boss.receive_json(timeout=5)
        assert sorted(q["queue"] for q in snapshot["queues"]) == ["billing", "support"]
        assert len(board.hub) == 2 and board.hub.narrowed

        later = datetime.now(UTC)
        for queue, uniqueid in (("billing", "2.5"), ("support", "2.4")):
            event = parse_event(
                "rig", ami.join(later, queue, ami.Caller(uniqueid, "1"), 2, 2), later
            )
            assert event is not None
            for change in board.model.apply(event):
                feed(change)
        await asyncio.sleep(0.05)  # the feed's batch is out first
        board.hub.publish('{"type":"PbxLink","pbx":"rig","state":"connected","error":""}')

        async def messages(socket: Any, count: int) -> list[tuple[str, str | None]]:
            got = []
            for _ in range(count):
                message = await socket.receive_json(timeout=5)
                caller = message.get("caller") or {}
                got.append((message["type"], caller.get("queue")))
            return got

        assert await messages(lead, 2) == [("CallerJoined", "support"), ("PbxLink", None)]
        assert await messages(boss, 3) == [
            ("CallerJoined", "billing"),
            ("CallerJoined", "support"),
            ("PbxLink", None),
        ]
    finally:
        await lead.close()
        await boss.close()
