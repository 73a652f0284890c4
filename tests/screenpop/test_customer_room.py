"""The customer directory room on its own: the customer API over the real HTTP stack (declared
routes, access, readers, problems), the records room's port, the call history and refresh.

A real SQLite store, task group and HTTP stack; who is logged in is read from a test header.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.auth.identity import User
from callcenter.auth.permissions import P
from callcenter.component import Host
from callcenter.customers import repo
from callcenter.customers.api import CustomerData, CustomerList, CustomerWithCalls
from callcenter.customers.room import CustomerDirectoryRoom
from callcenter.live.changes import CallEnded
from callcenter.records.customers import SavedWrapup
from callcenter.settings import ScreenPopSettings
from callcenter.store.db import create_engine
from callcenter.store.migrate import upgrade_to_head
from callcenter.web.app import create_app
from callcenter.web.http import needs
from tests.records.helpers import call_record
from tests.rooms import make_host

ZONE = ZoneInfo("Asia/Shanghai")
ORIGIN = "http://console.test"
# A supervisor: VIP level and tags are staff's to set (agents: tests/security).
AGENT = User(8, "lead1", "Lead 1", "supervisor", ("PJSIP/1001",))
BODY: dict[str, Any] = {
    "name": "李四",
    "phones": ["138 0013 8000"],
    "account_number": "A-1001",
    "vip_level": 3,
    "tags": [" 金卡 ", " "],
}


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    await upgrade_to_head(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def host(sqlite: AsyncEngine) -> Host:
    return make_host(sqlite)


@pytest.fixture
async def room(host: Host) -> AsyncIterator[CustomerDirectoryRoom]:
    room = CustomerDirectoryRoom(host, ScreenPopSettings(refresh_seconds=3600), zone=ZONE)
    await room.start()
    yield room
    await room.stop()
    await host.tasks.cancel_all()


@pytest.fixture
async def client(room: CustomerDirectoryRoom) -> AsyncIterator[TestClient[web.Request, Any]]:
    async def authenticate(request: web.Request) -> User | None:
        return AGENT if request.headers.get("X-Test-User") == "agent" else None

    async with TestClient(
        TestServer(create_app([room], authenticate, public_origins=[ORIGIN]))
    ) as client:
        client.session.headers.update({"X-Test-User": "agent", "Origin": ORIGIN})
        yield client


async def answer(response: Any, status: int) -> Any:
    body = await response.json()
    assert response.status == status, body
    return body


def test_routes_declare_who_may_call_them(room: CustomerDirectoryRoom) -> None:
    access = {route.key: route.access for route in room.routes()}
    assert access == {
        "GET /api/customers": needs(P.CUSTOMERS_READ),
        "GET /api/customers/{id}": needs(P.CUSTOMERS_READ),
        "POST /api/customers": needs(P.CUSTOMERS_EDIT),
        "PUT /api/customers/{id}": needs(P.CUSTOMERS_EDIT),
    }
    assert all(route.response is not None for route in room.routes())


async def test_create_find_read_and_edit_a_customer(
    client: TestClient[web.Request, Any], room: CustomerDirectoryRoom
) -> None:
    created = CustomerData.model_validate(
        await answer(await client.post("/api/customers", json=BODY), 201)
    )
    assert created.phones == ["+8613800138000"] and created.tags == ["金卡"]

    found = await answer(await client.get("/api/customers", params={"phone": "13800138000"}), 200)
    assert [c.id for c in CustomerList.model_validate(found).customers] == [created.id]
    found = await answer(await client.get("/api/customers", params={"account": "A-1001"}), 200)
    assert [c["name"] for c in found["customers"]] == ["李四"]

    room.directory.record_call("13800138000", repo.past_call(call_record(1)))
    edited = await answer(
        await client.put(f"/api/customers/{created.id}", json={**BODY, "vip_level": 5}), 200
    )
    assert edited["vip_level"] == 5
    one = CustomerWithCalls.model_validate(
        await answer(await client.get(f"/api/customers/{created.id}"), 200)
    )
    assert one.vip_level == 5 and [c.uniqueid for c in one.calls] == ["1700000000.1"]
    assert one.calls[0].answered_by == "Agent 1001"


async def test_problems_keep_their_ids(client: TestClient[web.Request, Any]) -> None:
    await answer(await client.post("/api/customers", json=BODY), 201)
    duplicate = await answer(await client.post("/api/customers", json={**BODY, "phones": []}), 409)
    assert (duplicate["error"], duplicate["account_number"]) == ("duplicate-account", "A-1001")
    bad = await answer(
        await client.post("/api/customers", json={"name": "x", "phones": ["12"]}), 400
    )
    assert (bad["error"], bad["field"], bad["region"]) == ("bad-phone-number", "phones.0", "CN")
    wrongs: list[Any] = [
        {"name": "", "vip_level": 99},
        {"name": "x", "tags": ["长" * 33]},
        {"name": "x", "notes": "a\x00b"},  # PostgreSQL text cannot hold it
        [1],
    ]
    for wrong in wrongs:
        invalid = await answer(await client.post("/api/customers", json=wrong), 400)
        assert invalid["error"] == "invalid-body", wrong
    not_json = await answer(
        await client.post(
            "/api/customers", data=b"{", headers={"Content-Type": "application/json"}
        ),
        400,
    )
    assert not_json["error"] == "bad-json"
    missing = await answer(await client.put("/api/customers/999999", json=BODY), 404)
    assert (missing["error"], missing["id"]) == ("no-such-customer", 999999)
    missing = await answer(await client.get("/api/customers/999999"), 404)
    assert missing["error"] == "no-such-customer"
    no_query = await answer(await client.get("/api/customers"), 400)
    assert no_query["error"] == "invalid-query"


async def test_customer_ids_in_the_url_are_bounded_numbers(
    client: TestClient[web.Request, Any],
) -> None:
    for id_ in ("abc", "1e3", "0", "-1", "9" * 30, str(2**63)):
        refused = await answer(await client.get(f"/api/customers/{id_}"), 400)
        assert refused["error"] == "invalid-path", id_
        refused = await answer(await client.put(f"/api/customers/{id_}", json=BODY), 400)
        assert refused["error"] == "invalid-path", id_


async def test_nobody_logged_in_is_refused(client: TestClient[web.Request, Any]) -> None:
    response = await client.post("/api/customers", json=BODY, headers={"X-Test-User": "nobody"})
    assert (await answer(response, 401))["error"] == "not-logged-in"
    response = await client.get("/api/customers/1", headers={"X-Test-User": "nobody"})
    assert response.status == 401


async def test_ended_calls_reach_the_history_through_the_worker(
    room: CustomerDirectoryRoom,
) -> None:
    record = call_record(2, caller_num="13800138000")
    room.on_change(CallEnded(record))
    # On the event path the change is only queued: reading the number waits for the worker.
    assert room.directory.calls_of("13800138000") == []
    for _ in range(100):
        if room.directory.calls_of("13800138000"):
            break
        await asyncio.sleep(0.01)
    [call] = room.directory.calls_of("+86 138 0013 8000")
    assert (call.uniqueid, call.answered_by) == (record.uniqueid, "PJSIP/1001")


async def test_the_records_room_port_finds_customers_and_takes_wrapups(
    room: CustomerDirectoryRoom,
) -> None:
    customer = await room.directory.save(
        {**BODY, "phones": ["+8613800138000"], "tags": [], "language": "zh", "notes": ""}
    )
    assert room.customer_id("13800138000", {}) == customer.id
    # The account the caller typed in the IVR, in [screenpop] account_variable.
    assert room.customer_id("999", {"CC_ACCOUNT": " A-1001 "}) == customer.id
    assert room.customer_id("999", {"OTHER": "A-1001"}) is None
    assert room.customer_id(None, {}) is None
    room.wrapup_saved(
        SavedWrapup(
            call_id=5,
            pbx="rig",
            uniqueid="c5",
            joined_at=datetime.now(UTC),
            caller_number="13800138000",
            customer_id=customer.id,
            answered_by="PJSIP/1001",
            answered_by_name="Agent 1001",
            disposition="call-back",
            category="after-sales",
            notes="",
            follow_up_due=date.today(),
            username="agent1",
            submitted_at=datetime.now(UTC),
        )
    )
    assert [f.call_id for f in room.directory.follow_ups_of_customer(customer)] == [5]


async def test_refresh_takes_in_customers_saved_elsewhere(
    room: CustomerDirectoryRoom, host: Host
) -> None:
    assert host.tasks.group("customers").names() == ["customers:history", "customers:refresh"]
    saved = await repo.save_customer(
        host.engine, {**BODY, "phones": ["+8613900139000"], "tags": [], "account_number": None}
    )
    assert room.customer_id("13900139000", {}) is None
    await room.refresh()
    assert room.customer_id("13900139000", {}) == saved.id
