"""GET /api/calls, /api/calls/{id}, /api/calls.csv and POST /api/calls/{id}/wrapup.

Requests go through a real aiohttp server on a real database; a two-line test middleware puts
the user on the request the way the session middleware does (``request[USER]``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from callcenter.auth.identity import USER, User
from callcenter.records.component import RecordsComponent
from callcenter.settings import RecordsSettings
from callcenter.store.db import create_engine
from callcenter.store.migrate import upgrade_to_head
from tests.fixtures_pg import free_port
from tests.records.helpers import T0, call_record

USERS = {
    "li": User(1, "li", "李", "agent", ("PJSIP/1001",)),
    "wang": User(2, "wang", "王", "agent", ("PJSIP/1002",)),
    "boss": User(3, "boss", "主管", "supervisor"),
}


class Api:
    def __init__(self, base: str, session: aiohttp.ClientSession, component: RecordsComponent):
        self.base, self.session, self.component = base, session, component

    async def call(
        self, method: str, path: str, user: str | None = "boss", **kwargs: Any
    ) -> tuple[int, Any]:
        headers = {"X-Test-User": user} if user else {}
        async with self.session.request(
            method, self.base + path, headers=headers, **kwargs
        ) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()


@pytest.fixture
async def api(database_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    engine = create_engine(database_url)
    await upgrade_to_head(engine)
    component = RecordsComponent(
        RecordsSettings(spool_dir=tmp_path / "spool", batch_interval=0.01), engine
    )

    @web.middleware
    async def as_user(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        request[USER] = USERS.get(request.headers.get("X-Test-User", ""))
        return await handler(request)

    app = web.Application(middlewares=[as_user])
    component.add_routes(app)
    await component.start()
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
        component.on_change(
            _ended(call_record(n, queue="support" if n < 4 else "complaints", **extra))
        )
    await component.writer.flush()
    try:
        async with aiohttp.ClientSession() as session:
            yield Api(f"http://127.0.0.1:{port}", session, component)
    finally:
        await runner.cleanup()
        await component.stop()
        await engine.dispose()


def _ended(record: object) -> Any:
    from callcenter.live import CallEnded

    return CallEnded(record)  # type: ignore[arg-type]


def ids(body: Any) -> list[str]:
    return [c["uniqueid"].split(".")[1] for c in body["calls"]]


async def test_staff_list_filters_and_pages_newest_first(api: Api) -> None:
    status, body = await api.call("GET", "/api/calls")
    assert status == 200 and ids(body) == ["5", "4", "3", "2", "1", "0"]
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
    assert status == 400 and body["error"] == "bad-filter"
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
        "POST", f"/api/calls/{call}/wrapup", user="li", data=b"{not json"
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
    assert (status, answer["error"]) == (400, "bad-call-id")
    _, fetched = await api.call("GET", f"/api/calls/{call}", user="li")
    assert fetched["wrapup"] is None

    status, answer = await api.call(
        "POST",
        f"/api/calls/{call}/wrapup",
        user="li",
        json={
            "disposition": "repair-booked",
            "notes": "客户要求周五上门",
            "follow_up_due": "2026-11-27",
        },
    )
    assert status == 201 and answer["wrapup"]["category"] == "after-sales"
    _, fetched = await api.call("GET", f"/api/calls/{call}", user="li")
    assert fetched["wrapup"] == {
        "disposition": "repair-booked",
        "category": "after-sales",
        "notes": "客户要求周五上门",
        "follow_up_due": "2026-11-27",
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
    assert {
        "code": "complaint-logged",
        "category": "complaint",
        "label_zh": "投诉已登记",
        "label_en": "Complaint logged",
    } in body["dispositions"]
