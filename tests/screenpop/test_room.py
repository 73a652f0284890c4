"""The screen-pop room on its own: declared routes and access, a pop on the agent's socket and
in the agent state (checked against the declared answer).

A real live model, SQLite store, customer directory, task group and HTTP stack; only the PBX
is a scripted stand-in and who is logged in is read from a test header.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.agents.seats import NoSeats
from callcenter.ami.errors import AmiRefused
from callcenter.auth.identity import User
from callcenter.auth.permissions import P
from callcenter.component import PbxLinks
from callcenter.customers.directory import CustomerDirectory
from callcenter.customers.repo import past_call
from callcenter.live import LiveModel, parse_event
from callcenter.records.customers import SavedWrapup
from callcenter.screenpop.room import AgentState, PopCard, ScreenPopRoom
from callcenter.settings import RecordsSettings, ScreenPopSettings
from callcenter.store.db import create_engine
from callcenter.store.migrate import upgrade_to_head
from callcenter.web.app import create_app
from callcenter.web.http import PUBLIC, needs
from tests.records.helpers import call_record
from tests.rooms import make_host
from tests.screenpop.test_desk import ringing

ZONE = ZoneInfo("Asia/Shanghai")
ORIGIN = "http://console.test"
AGENT = "PJSIP/1001"
CUSTOMER_NUMBER = "13800138000"
USERS = {
    "agent": User(8, "agent1", "Agent 1", "agent", (AGENT,)),
    "stray": User(9, "zhao", "Zhao", "agent", ("PJSIP/1009",)),  # in no queue
    "lead": User(7, "lead", "Lead", "supervisor"),  # no phone
}


class ScriptedPbx:
    """A connected PBX that remembers every action; refuses them all when told to."""

    def __init__(self, name: str = "rig") -> None:
        self.name = name
        self.connected = True
        self.reconnects = 1
        self.last_error = ""
        self.refuse = ""
        self.sent: list[dict[str, str]] = []

    async def send(
        self, fields: Mapping[str, str], *, as_list: bool = False, timeout: float | None = None
    ) -> Any:
        if self.refuse:
            raise AmiRefused(self.name, self.refuse)
        self.sent.append(dict(fields))
        return {"Response": "Success"}


def member_added(interface: str) -> dict[str, str]:
    return {
        "Event": "QueueMemberAdded",
        "Queue": "support",
        "Interface": interface,
        "MemberName": "Agent 1001",
        "StateInterface": interface,
        "Membership": "dynamic",
        "Penalty": "0",
        "CallsTaken": "0",
        "LastCall": "0",
        "LastPause": "0",
        "LoginTime": "0",
        "InCall": "0",
        "Status": "1",
        "Paused": "0",
        "PausedReason": "",
        "Ringinuse": "0",
        "Wrapuptime": "0",
    }


@dataclass
class Desk:
    room: ScreenPopRoom
    pbx: ScriptedPbx
    directory: CustomerDirectory
    client: TestClient[web.Request, Any]

    async def call(self, user: str, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        headers = {"X-Test-User": user, "Origin": ORIGIN}
        async with self.client.request(method, path, headers=headers, **kwargs) as response:
            return response.status, await response.json()


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    await upgrade_to_head(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def desk(sqlite: AsyncEngine) -> AsyncIterator[Desk]:
    model = LiveModel()
    event = parse_event("rig", member_added(AGENT), datetime.now(UTC))
    assert event is not None
    model.apply(event)
    pbx = ScriptedPbx()
    host = make_host(sqlite, live=model, links=PbxLinks([pbx]))
    directory = CustomerDirectory(sqlite, "CN", 5, zone=ZONE)
    room = ScreenPopRoom(
        host,
        ScreenPopSettings(refresh_seconds=3600),
        directory,
        dispositions=RecordsSettings().dispositions,
        zone=ZONE,
        seats=NoSeats(),
    )

    async def authenticate(request: web.Request) -> User | None:
        return USERS.get(request.headers.get("X-Test-User", ""))

    await room.start()
    app = create_app([room], authenticate, public_origins=[ORIGIN])
    async with TestClient(TestServer(app)) as client:
        yield Desk(room, pbx, directory, client)
    await room.stop()
    await host.tasks.cancel_all()


def test_routes_declare_who_may_call_them(desk: Desk) -> None:
    agent = needs(P.AGENT_SELF)
    access = {(route.key, route.kind): route.access for route in desk.room.routes()}
    assert access == {
        ("GET /ws/agent", "socket"): agent,
        ("GET /api/agent/state", "api"): agent,
        ("GET /agent", "page"): PUBLIC,
        ("GET /agent/static/{filename:.*}", "static"): PUBLIC,
    }


async def test_a_pop_reaches_the_agent_socket_and_the_state_as_declared(desk: Desk) -> None:
    customer = await desk.directory.save(
        {
            "name": "王五",
            "phones": ["+86" + CUSTOMER_NUMBER],
            "account_number": "A7",
            "vip_level": 3,
            "language": "zh",
            "tags": ["金卡"],
            "notes": "",
        }
    )
    earlier = call_record(1, caller_num=CUSTOMER_NUMBER)
    desk.directory.record_call(CUSTOMER_NUMBER, past_call(earlier))
    desk.directory.wrapup_saved(
        SavedWrapup(
            call_id=1,
            pbx="rig",
            uniqueid=earlier.uniqueid,
            joined_at=earlier.joined_at,
            caller_number=CUSTOMER_NUMBER,
            customer_id=customer.id,
            answered_by=AGENT,
            answered_by_name="Agent 1001",
            disposition="call-back",
            category="after-sales",
            notes="回电确认",
            follow_up_due=(datetime.now(ZONE) - timedelta(days=2)).date(),
            username="agent1",
            submitted_at=datetime.now(UTC),
        )
    )
    socket = await desk.client.ws_connect(
        "/ws/agent", headers={"X-Test-User": "agent", "Origin": ORIGIN}
    )
    try:
        hello = await socket.receive_json(timeout=5)
        assert (hello["type"], hello["pops"]) == ("hello", [])
        assert [m["interface"] for m in hello["members"]] == [AGENT]
        desk.room.on_change(
            ringing(AGENT, CUSTOMER_NUMBER, at=datetime.now(UTC), ivr={"CC_ACCOUNT": "A7"})
        )
        message = await socket.receive_json(timeout=5)
        assert message["type"] == "pop"
        card = PopCard.model_validate(message["pop"])
        assert card.customer is not None and card.customer.id == customer.id
        assert (card.matched_by, card.account) == ("account", "A7")
        assert [c.disposition for c in card.calls] == ["call-back"]
        assert [i.days_overdue for i in card.open_items] == [2]
    finally:
        await socket.close()

    status, body = await desk.call("agent", "GET", "/api/agent/state")
    assert status == 200, body
    state = AgentState.model_validate(body)
    assert [p.pop_id for p in state.pops] == [card.pop_id]
    assert [(m.pbx, m.interface) for m in state.members] == [("rig", AGENT)]
    assert state.user.username == "agent1"
    status, body = await desk.call("stray", "GET", "/api/agent/state")
    assert status == 200 and body["pops"] == [] and body["members"] == []


async def test_stopping_closes_the_agent_sockets(desk: Desk) -> None:
    socket = await desk.client.ws_connect(
        "/ws/agent", headers={"X-Test-User": "agent", "Origin": ORIGIN}
    )
    assert (await socket.receive_json(timeout=5))["type"] == "hello"
    await desk.room.stop()
    closing = await socket.receive(timeout=5)
    assert closing.type.name in ("CLOSE", "CLOSED", "CLOSING"), closing
    await socket.close()


async def test_work_runs_in_the_rooms_own_tasks(desk: Desk) -> None:
    group = desk.room.host.tasks.group("screenpop")
    assert group.names() == ["screenpop:worker", "screenpop:refresh"]
    await desk.room.refresh()  # no user changed: nothing to do, and no error
    await asyncio.sleep(0)
