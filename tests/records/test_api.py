"""GET /api/calls, /api/calls/{id}, /api/calls.csv and POST /api/calls/{id}/wrapup.

Requests go through a real aiohttp server (the service's own ``create_app``, so the declared
access is checked) on a real database; the test's ``authenticate`` names the user from a header
where the auth room reads the session cookie.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import BaseModel

from callcenter.auth.identity import User
from callcenter.live import CallEnded
from callcenter.records.api import (
    CallData,
    CallPage,
    CallWrapupData,
    DispositionList,
    WrapupAnswer,
)
from callcenter.records.customers import SavedWrapup
from callcenter.records.query import RECORDS_TABLE, encode_cursor
from callcenter.records.room import RecordsRoom
from callcenter.settings import RecordsSettings
from callcenter.store.db import create_engine
from callcenter.store.migrate import upgrade_to_head
from callcenter.web.app import create_app
from tests.fixtures_pg import free_port
from tests.records.helpers import T0, Seated, call_record, connected
from tests.rooms import make_host

USERS = {
    "li": User(1, "li", "李", "agent", ("PJSIP/1001",)),
    "wang": User(2, "wang", "王", "agent", ("PJSIP/1002",)),
    "boss": User(3, "boss", "主管", "supervisor"),
    # No fixed phone: they sign in at whatever phone is free (hot-desking).
    "zhao": User(4, "zhao", "赵", "agent"),
    "sun": User(5, "sun", "孙", "agent"),
}

# A follow-up a few days ahead (dates out of the configured horizon are refused).
SOON = (datetime.now(UTC).date() + timedelta(days=3)).isoformat()


class Customers:
    """The customer directory as the records room sees it (``CustomerRoom``)."""

    def __init__(self) -> None:
        self.wrapups: list[SavedWrapup] = []

    def customer_id(self, caller_number: str | None, ivr: Mapping[str, str]) -> int | None:
        return None

    def wrapup_saved(self, wrapup: SavedWrapup) -> None:
        self.wrapups.append(wrapup)


class Api:
    def __init__(
        self,
        base: str,
        session: aiohttp.ClientSession,
        room: RecordsRoom,
        customers: Customers,
        seats: Seated,
    ):
        self.base, self.session, self.room, self.customers = base, session, room, customers
        self.seats = seats

    async def call(
        self, method: str, path: str, user: str | None = "boss", **kwargs: Any
    ) -> tuple[int, Any]:
        # From one of our own pages, as the browser says (the cross-site check wants it).
        headers = {"Origin": self.base} | ({"X-Test-User": user} if user else {})
        async with self.session.request(
            method, self.base + path, headers=headers | kwargs.pop("headers", {}), **kwargs
        ) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()


@pytest.fixture
async def api(database_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    engine = create_engine(database_url)
    await upgrade_to_head(engine)
    customers = Customers()
    seats = Seated()
    room = RecordsRoom(
        make_host(engine),
        RecordsSettings(spool_dir=tmp_path / "spool", batch_interval=0.01),
        customers=customers,
        seats=seats,
    )

    async def authenticate(request: web.Request) -> User | None:
        return USERS.get(request.headers.get("X-Test-User", ""))

    app = create_app([room], authenticate)
    await room.start()
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    # Six calls: 1001 answered 0, 2, 4; 1002 answered 1, 3; 5 abandoned.
    for n in range(6):
        agent = f"PJSIP/100{1 + n % 2}"
        extra: dict[str, object] = {"answered_by": agent, "answered_by_name": f"Agent {agent[-4:]}"}
        if n == 5:
            extra = dict(
                outcome="abandoned",
                answered_by=None,
                answered_by_name=None,
                answered_at=None,
                talk_seconds=None,
                completed_by=None,
            )
        room.on_change(
            CallEnded(call_record(n, queue="support" if n < 4 else "complaints", **extra))
        )
    await room.writer.flush()
    try:
        async with aiohttp.ClientSession() as session:
            yield Api(f"http://127.0.0.1:{port}", session, room, customers, seats)
    finally:
        await runner.cleanup()
        await room.stop()
        await engine.dispose()


def ids(body: Any) -> list[str]:
    return [c["uniqueid"].split(".")[1] for c in body["calls"]]


def matches(model: type[BaseModel], body: Any) -> None:
    """The answer is what the route declares (the OpenAPI schema), key for key."""
    model.model_validate(body)
    assert set(body) == set(model.model_fields), set(body) ^ set(model.model_fields)


async def test_staff_list_filters_and_pages_newest_first(api: Api) -> None:
    status, body = await api.call("GET", "/api/calls")
    assert status == 200 and ids(body) == ["5", "4", "3", "2", "1", "0"]
    matches(CallPage, body)
    for call in body["calls"]:
        matches(CallData, call)
    assert body["calls"][1]["caller_name"] == "张三" and body["calls"][1]["wrapup"] is None
    _, body = await api.call("GET", "/api/calls?queue=support&agent=PJSIP/1001")
    assert ids(body) == ["2", "0"]
    _, body = await api.call("GET", "/api/calls?outcome=abandoned")
    assert ids(body) == ["5"]
    since = (T0 + timedelta(seconds=2)).isoformat()
    _, body = await api.call("GET", "/api/calls", params={"from": since, "caller": "13800000003"})
    assert ids(body) == ["3"]
    pages, cursor = [], None
    while True:
        params = {"limit": "4"} | ({"cursor": cursor} if cursor else {})
        _, body = await api.call("GET", "/api/calls", params=params)
        pages.append(ids(body))
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == [["5", "4", "3", "2"], ["1", "0"]]


async def test_an_agent_sees_only_the_calls_of_their_own_phone(api: Api) -> None:
    status, body = await api.call("GET", "/api/calls", user="wang")
    assert status == 200 and ids(body) == ["3", "1"]
    status, body = await api.call("GET", "/api/calls?agent=PJSIP/1001", user="wang")
    assert status == 403 and body["error"] == "not-your-calls"
    _, listed = await api.call("GET", "/api/calls?outcome=answered", user="li")
    first = listed["calls"][0]["id"]
    status, body = await api.call("GET", f"/api/calls/{first}", user="wang")
    assert status == 403 and body["error"] == "not-your-call"
    status, body = await api.call("GET", f"/api/calls/{first}", user="li")
    assert status == 200 and body["answered_by"] == "PJSIP/1001"
    status, text = await api.call("GET", "/api/calls.csv", user="wang")
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [r["uniqueid"] for r in rows] == ["1700000000.3", "1700000000.1"]
    status, body = await api.call("GET", "/api/calls", user=None)
    assert status == 401
    status, body = await api.call("GET", "/api/calls.csv", user=None)
    assert status == 401


async def test_a_hot_desking_agent_sees_and_wraps_up_the_calls_they_answered(api: Api) -> None:
    phone = ("rig", "PJSIP/1003")
    mine = call_record(6, answered_by="PJSIP/1003", answered_by_name="Agent 1003")
    theirs = call_record(7, answered_by="PJSIP/1003", answered_by_name="Agent 1003")
    # Zhao (no fixed phone) sits at 1003 when call 6 is answered there...
    api.seats.seated[phone] = USERS["zhao"].id
    api.room.on_change(connected(mine))
    # ...and leaves it to Sun before the call ends: the call stays Zhao's.
    api.seats.seated[phone] = USERS["sun"].id
    api.room.on_change(CallEnded(mine))
    api.room.on_change(connected(theirs))
    del api.seats.seated[phone]
    api.room.on_change(CallEnded(theirs))
    await api.room.writer.flush()

    status, body = await api.call("GET", "/api/calls", user="zhao")
    assert status == 200 and ids(body) == ["6"]
    assert body["calls"][0]["answered_by_user"] == USERS["zhao"].id
    _, body = await api.call("GET", "/api/calls", user="sun")
    assert ids(body) == ["7"] and body["calls"][0]["answered_by_user"] == USERS["sun"].id
    # Fixed phones are still their owners' own; staff see every call, with or without a user.
    _, body = await api.call("GET", "/api/calls", user="li")
    assert ids(body) == ["4", "2", "0"]
    _, body = await api.call("GET", "/api/calls")
    assert ids(body) == ["7", "6", "5", "4", "3", "2", "1", "0"]
    assert [c["answered_by_user"] for c in body["calls"]][:3] == [5, 4, None]
    for call in body["calls"]:
        matches(CallData, call)
    by_id = {c["uniqueid"]: c["id"] for c in body["calls"]}
    own, other = by_id["1700000000.6"], by_id["1700000000.7"]

    status, body = await api.call("GET", f"/api/calls/{own}", user="zhao")
    assert status == 200 and body["answered_by"] == "PJSIP/1003"
    status, body = await api.call("GET", f"/api/calls/{other}", user="zhao")
    assert (status, body["error"]) == (403, "not-your-call")
    status, body = await api.call(
        "POST", f"/api/calls/{other}/wrapup", user="zhao", json={"disposition": "resolved"}
    )
    assert (status, body["error"]) == (403, "not-your-call")
    status, body = await api.call(
        "POST", f"/api/calls/{own}/wrapup", user="zhao", json={"disposition": "resolved"}
    )
    assert status == 201 and body["wrapup"]["username"] == "zhao"
    [saved] = api.customers.wrapups
    assert (saved.call_id, saved.answered_by, saved.username) == (own, "PJSIP/1003", "zhao")
    _, body = await api.call("GET", f"/api/calls/{own}", user="zhao")
    assert body["wrapup"]["disposition"] == "resolved"

    status, text = await api.call("GET", "/api/calls.csv", user="zhao")
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [(r["uniqueid"], r["answered_by_user"]) for r in rows] == [("1700000000.6", "4")]


async def test_the_console_finds_the_call_that_just_ended_by_its_uniqueid(api: Api) -> None:
    # The agent's console knows the ended call by its pop (PBX and the caller's Uniqueid):
    # exact matches only, and an agent still sees only their own calls.
    status, body = await api.call("GET", "/api/calls?pbx=rig&uniqueid=1700000000.2", user="li")
    assert status == 200 and ids(body) == ["2"]
    assert body["calls"][0]["answered_by"] == "PJSIP/1001"
    status, body = await api.call("GET", "/api/calls?pbx=rig&uniqueid=1700000000.2", user="wang")
    assert (status, body["calls"]) == (200, [])
    _, body = await api.call("GET", "/api/calls?uniqueid=1700000000")
    assert body["calls"] == []
    _, body = await api.call("GET", "/api/calls?pbx=other&uniqueid=1700000000.2")
    assert body["calls"] == []
    status, text = await api.call("GET", "/api/calls.csv?uniqueid=1700000000.3")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert status == 200 and [r["uniqueid"] for r in rows] == ["1700000000.3"]
    for bad in ("1" * 65, "17\x000"):
        status, body = await api.call("GET", "/api/calls", params={"uniqueid": bad})
        assert (status, body["error"]) == (400, "invalid-query")
        assert body["problems"][0]["field"] == "uniqueid"


@pytest.mark.parametrize(
    "query, field",
    [
        ("outcome=lost", "outcome"),
        ("from=yesterday", "from"),
        ("limit=0", "limit"),
        ("from=2026-11-23T08:00:00", "from"),
        ("cursor=bm9wZQ", "cursor"),
        ("colour=red", "colour"),
        ("customer=-1", "customer"),
    ],
)
async def test_bad_filters_get_a_clear_400(api: Api, query: str, field: str) -> None:
    status, body = await api.call("GET", "/api/calls?" + query)
    assert status == 400 and body["error"] == "invalid-query"
    assert body["problems"][0]["field"] == field and body["message"].startswith(field)
    status, _ = await api.call("GET", "/api/calls.csv?" + query)
    assert status == 400


async def test_csv_export_has_every_matching_call(api: Api) -> None:
    status, text = await api.call("GET", "/api/calls.csv?queue=support")
    assert status == 200 and text.startswith("\ufeffid,pbx,uniqueid")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [r["uniqueid"][-1] for r in rows] == ["3", "2", "1", "0"]
    assert rows[0]["caller_name"] == "张三" and rows[0]["outcome"] == "answered"


async def test_wrapup_is_stored_and_bad_bodies_change_nothing(api: Api) -> None:
    _, listed = await api.call("GET", "/api/calls?agent=PJSIP/1001", user="li")
    call = listed["calls"][0]["id"]
    for body, error in (
        ({"disposition": "nope"}, "unknown-disposition"),
        ({"disposition": "resolved", "follow_up_due": "soon"}, "invalid-body"),
        ({"disposition": "resolved", "mood": "happy"}, "invalid-body"),
        ({"notes": "x"}, "invalid-body"),
    ):
        status, answer = await api.call("POST", f"/api/calls/{call}/wrapup", user="li", json=body)
        assert (status, answer["error"]) == (400, error)
    status, answer = await api.call(
        "POST",
        f"/api/calls/{call}/wrapup",
        user="li",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert (status, answer["error"]) == (400, "bad-json")
    status, answer = await api.call(
        "POST", f"/api/calls/{call}/wrapup", user="wang", json={"disposition": "resolved"}
    )
    assert status == 403
    status, answer = await api.call(
        "POST", "/api/calls/999999/wrapup", user="li", json={"disposition": "resolved"}
    )
    assert status == 404
    status, answer = await api.call(
        "POST", "/api/calls/abc/wrapup", user="li", json={"disposition": "resolved"}
    )
    assert (status, answer["error"]) == (400, "invalid-path")
    _, fetched = await api.call("GET", f"/api/calls/{call}", user="li")
    assert fetched["wrapup"] is None

    status, answer = await api.call(
        "POST",
        f"/api/calls/{call}/wrapup",
        user="li",
        json={
            "disposition": "repair-booked",
            "notes": "客户要求周五上门",
            "follow_up_due": SOON,
        },
    )
    assert status == 201 and answer["wrapup"]["category"] == "after-sales"
    _, fetched = await api.call("GET", f"/api/calls/{call}", user="li")
    assert fetched["wrapup"] == {
        "disposition": "repair-booked",
        "category": "after-sales",
        "notes": "客户要求周五上门",
        "follow_up_due": SOON,
        "wrapup_at": fetched["wrapup"]["wrapup_at"],
    }
    # A second submission replaces the first.
    status, _ = await api.call(
        "POST", f"/api/calls/{call}/wrapup", user="li", json={"disposition": "resolved"}
    )
    _, fetched = await api.call("GET", f"/api/calls/{call}", user="boss")
    assert status == 201 and fetched["wrapup"]["disposition"] == "resolved"
    _, abandoned = await api.call("GET", "/api/calls?outcome=abandoned")
    status, answer = await api.call(
        "POST", f"/api/calls/{abandoned['calls'][0]['id']}/wrapup", json={"disposition": "resolved"}
    )
    assert (status, answer["error"]) == (409, "not-answered")


async def test_dispositions_carry_both_languages(api: Api) -> None:
    status, body = await api.call("GET", "/api/dispositions", user="li")
    assert status == 200
    matches(DispositionList, body)
    assert {
        "code": "complaint-logged",
        "category": "complaint",
        "label_zh": "投诉已登记",
        "label_en": "Complaint logged",
    } in body["dispositions"]


TOO_BIG = 2**63


@pytest.mark.parametrize(
    "params",
    [
        {"limit": str(TOO_BIG)},
        {"limit": "501"},
        {"cursor": encode_cursor(T0, TOO_BIG)},
        {"cursor": encode_cursor(T0, -1)},
        {"customer": str(TOO_BIG)},
        {"from": "0001-01-01T00:00:00+01:00"},
        {"cursor": "MDAwMS0wMS0wMVQwMDowMDowMCswMTowMHwx"},  # 0001-01-01T00:00+01:00|1
        {"queue": "sup\x00port"},
        {"pbx": "a", "queue": "b", "limit": "1", "outcome": "answered", "caller": "1\x00"},
    ],
)
async def test_out_of_range_filters_are_a_400_not_a_500(api: Api, params: dict[str, str]) -> None:
    for path in ("/api/calls", "/api/calls.csv"):
        status, body = await api.call("GET", path, params=params)
        assert (status, body["error"]) == (400, "invalid-query"), (path, body)


async def test_the_largest_id_passes_to_sql(api: Api) -> None:
    status, body = await api.call("GET", "/api/calls", params={"customer": str(TOO_BIG - 1)})
    assert (status, body["calls"]) == (200, [])
    cursor = encode_cursor(T0 + timedelta(seconds=3), TOO_BIG - 1)
    status, body = await api.call("GET", "/api/calls", params={"cursor": cursor})
    assert status == 200 and ids(body) == ["3", "2", "1", "0"]


@pytest.mark.parametrize("call_id", ["abc", "0", "-1", str(TOO_BIG), "1" * 40, "1.5"])
async def test_a_call_id_out_of_range_is_an_invalid_path(api: Api, call_id: str) -> None:
    status, body = await api.call("GET", f"/api/calls/{call_id}")
    assert (status, body["error"]) == (400, "invalid-path")
    assert body["problems"][0]["field"] == "id"
    status, body = await api.call(
        "POST", f"/api/calls/{call_id}/wrapup", json={"disposition": "resolved"}
    )
    assert (status, body["error"]) == (400, "invalid-path")


async def test_the_largest_call_id_is_no_such_call(api: Api) -> None:
    status, body = await api.call("GET", f"/api/calls/{TOO_BIG - 1}")
    assert (status, body["error"], body["id"]) == (404, "no-such-call", TOO_BIG - 1)


async def test_the_wrap_up_answer_and_the_call_match_their_models(api: Api) -> None:
    _, listed = await api.call("GET", "/api/calls?agent=PJSIP/1001", user="li")
    call = listed["calls"][0]["id"]
    status, answer = await api.call(
        "POST",
        f"/api/calls/{call}/wrapup",
        user="li",
        json={"disposition": "resolved", "notes": "ok", "follow_up_due": SOON},
    )
    assert status == 201
    matches(WrapupAnswer, answer)
    assert answer["wrapup"]["username"] == "li"
    _, fetched = await api.call("GET", f"/api/calls/{call}", user="li")
    matches(CallData, fetched)
    matches(CallWrapupData, fetched["wrapup"])
    status, answer = await api.call(
        "POST",
        f"/api/calls/{call}/wrapup",
        user="li",
        json={"disposition": "resolved", "notes": "a\x00b"},
    )
    assert (status, answer["error"]) == (400, "invalid-body")


def test_a_call_as_the_api_gives_it_has_every_column() -> None:
    columns = {column.name for column in RECORDS_TABLE.c}
    assert set(CallData.model_fields) == columns | {"wrapup"}


async def test_the_customer_directory_learns_of_each_wrap_up(api: Api) -> None:
    _, listed = await api.call("GET", "/api/calls?agent=PJSIP/1002", user="wang")
    call = listed["calls"][0]
    status, _ = await api.call(
        "POST", f"/api/calls/{call['id']}/wrapup", user="wang", json={"disposition": "resolved"}
    )
    assert status == 201
    [saved] = api.customers.wrapups
    assert (saved.call_id, saved.uniqueid, saved.answered_by, saved.username) == (
        call["id"],
        call["uniqueid"],
        "PJSIP/1002",
        "wang",
    )
