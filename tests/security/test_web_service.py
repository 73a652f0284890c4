"""The security issue's findings about the web side, each tried against a real `callcenter serve`
as an attacker or a curious agent would (one test per finding; each failed before its fix)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import insert, select

from callcenter.audit.models import AuditEntry
from callcenter.records.query import RECORDS_TABLE
from callcenter.records.rows import record_row
from callcenter.store.db import create_engine
from tests.records.helpers import call_record
from tests.service_proc import ServiceProcess
from tests.supervisor.helpers import Browser, add_user, add_users

CALLER = "13912345678"
EVIL = "http://evil.example"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    workdir = tmp_path_factory.mktemp("security")
    process = ServiceProcess(
        workdir,
        pbx=[],
        log_level="INFO",
        extra_toml="[auth]\nlogin_max_failures_per_address = 20\n",
    )
    add_users(
        process.config,
        ("wang", "agent", "PJSIP/1001"),
        ("li", "agent", "PJSIP/1002"),
        ("lead", "supervisor"),
    )
    for name in ("a", "b", "c"):
        add_user(process.config, f"floor-{name}", "agent")
    # Stored before the start: the customer directory loads the call history then.
    asyncio.run(_calls(workdir / "callcenter.db"))
    process.start()
    try:
        yield process
    finally:
        process.stop()


async def _calls(database: Path) -> None:
    """Two answered calls as the records writer stores them: one for wang's phone, one for li's;
    the first caller typed a spreadsheet formula as their name."""
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    now = datetime.now(UTC) - timedelta(hours=1)
    rows = [
        record_row(
            call_record(
                1,
                joined_at=now,
                caller_num=CALLER,
                caller_name='=HYPERLINK("http://evil.example","x")',
            )
        ),
        record_row(call_record(2, joined_at=now, answered_by="PJSIP/1002", caller_num=CALLER)),
    ]
    async with engine.begin() as connection:
        await connection.execute(insert(RECORDS_TABLE), rows)
    await engine.dispose()


def raw(
    service: ServiceProcess,
    method: str,
    path: str,
    headers: dict[str, str],
    data: bytes | None = None,
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        service.base_url + path, data=data, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        body = exc.read()
        return exc.code, json.loads(body) if body.startswith(b"{") else {}


def cookie_of(browser: Browser) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in browser.jar)


# --- High: caller data without a login -------------------------------------------------


@pytest.mark.parametrize("path", ["/api/queues", "/api/queues/support", "/api/agents"])
def test_live_views_need_a_login(service: ServiceProcess, path: str) -> None:
    status, body = raw(service, "GET", path, {})
    assert (status, body["error"]) == (401, "not-logged-in")


async def test_the_live_feed_needs_a_supervisors_login(service: ServiceProcess) -> None:
    url = service.base_url.replace("http", "ws") + "/ws/live"
    async with aiohttp.ClientSession() as nobody:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await nobody.ws_connect(url)
        assert refused.value.status == 401
    agent = cookie_of(Browser(service.base_url).login("wang"))
    async with aiohttp.ClientSession(headers={"Cookie": agent}) as wang:
        with pytest.raises(aiohttp.WSServerHandshakeError) as forbidden:
            await wang.ws_connect(url)
        assert forbidden.value.status == 403


def test_metrics_are_not_on_the_public_listener(service: ServiceProcess) -> None:
    assert service.get("/metrics", anonymous=True)[0] == 404
    assert "callcenter_event_loop_lag_seconds" in service.scrape_metrics()


# --- High: CR/LF into the PBX ------------------------------------------------------------


def test_a_policy_with_crlf_in_an_interface_is_refused(service: ServiceProcess) -> None:
    lead = Browser(service.base_url).login("lead")
    injected = "PJSIP/77\r\n\r\nAction: Originate\r\nChannel: Local/666@evil\r\n"
    for member in ({"interface": injected}, {"interface": "PJSIP/77", "name": "x\r\ny: z"}):
        policy = {"actions": {"add_members": [member]}}
        status, body = lead.call("PUT", "/api/routing/policies/support", policy)
        assert (status, body["error"]) == (400, "invalid-body"), body
    status, body = lead.call("GET", "/api/routing/policies")
    assert all(p["queue"] != "support" or p["source"] != "live" for p in body["policies"])


# --- Medium: cross-site requests -----------------------------------------------------------


def test_cross_site_writes_are_refused(service: ServiceProcess) -> None:
    wang = cookie_of(Browser(service.base_url).login("wang"))
    customer = json.dumps({"name": "evil"}).encode()
    status, body = raw(
        service,
        "POST",
        "/api/customers",
        {"Cookie": wang, "Origin": EVIL, "Content-Type": "text/plain"},
        customer,
    )
    assert (status, body["error"]) == (403, "cross-site-refused")
    lead = cookie_of(Browser(service.base_url).login("lead"))
    status, body = raw(
        service,
        "POST",
        "/api/queues/support/members/PJSIP%2F1002/pause",
        {
            "Cookie": lead,
            "Origin": service.base_url,
            "Content-Type": "application/x-www-form-urlencoded",
        },
        b"paused=true",
    )
    assert (status, body["error"]) == (415, "not-json")
    status, body = raw(
        service,
        "POST",
        "/api/customers",
        {"Cookie": wang, "Content-Type": "application/json"},
        customer,
    )
    assert (status, body["error"]) == (403, "cross-site-refused")


async def test_a_foreign_websocket_is_refused_and_logout_closes_the_agents_socket(
    service: ServiceProcess,
) -> None:
    browser = Browser(service.base_url).login("wang")
    headers = {"Cookie": cookie_of(browser)}
    url = service.base_url.replace("http", "ws") + "/ws/agent"
    async with aiohttp.ClientSession(headers=headers) as wang:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await wang.ws_connect(url, headers={"Origin": EVIL})
        assert refused.value.status == 403
        socket_ = await wang.ws_connect(url, headers={"Origin": service.base_url})
        hello = await socket_.receive_json(timeout=5)
        assert hello["type"] == "hello"
        assert browser.call("POST", "/api/logout")[0] == 200
        closed = await socket_.receive(timeout=5)
        assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_disabling_a_user_closes_their_socket(service: ServiceProcess) -> None:
    add_user(service.config, "temp", "agent", "PJSIP/1003")
    headers = {"Cookie": cookie_of(Browser(service.base_url).login("temp"))}
    url = service.base_url.replace("http", "ws") + "/ws/agent"
    async with aiohttp.ClientSession(headers=headers) as temp:
        socket_ = await temp.ws_connect(url)
        assert (await socket_.receive_json(timeout=5))["type"] == "hello"
        service_cli(service, "user", "disable", "temp")
        closed = await socket_.receive(timeout=15)
        assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


def service_cli(service: ServiceProcess, *args: str) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "callcenter", *args, "--config", str(service.config)],
        capture_output=True,
        text=True,
        cwd=service.workdir,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# --- Medium: 500s on bad input ---------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/login", "/api/customers", "/api/routing/policies/support", "/api/calls/1/wrapup"]
)
def test_deeply_nested_json_is_a_400(service: ServiceProcess, path: str) -> None:
    lead = Browser(service.base_url).login("lead")
    method = "PUT" if "routing" in path else "POST"
    status, body = lead.call(method, path, raw=b"[" * 200_000 + b"]" * 200_000)
    assert (status, body["error"]) == (400, "bad-json")


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/api/calls?cursor=" + "9" * 40, "invalid-query"),
        ("/api/audit?offset=99999999999999999999", "invalid-query"),
        ("/api/routing/episodes/99999999999999999999999/actions", "invalid-path"),
        ("/api/calls/99999999999999999999", "invalid-path"),
        ("/api/customers/99999999999999999999", "invalid-path"),
    ],
)
def test_huge_numbers_in_urls_are_a_400(service: ServiceProcess, path: str, error: str) -> None:
    status, body = Browser(service.base_url).login("lead").call("GET", path)
    assert (status, body["error"]) == (400, error)


# --- Medium: formulas in the CSV export ------------------------------------------------------


def test_csv_cells_never_start_a_formula(service: ServiceProcess) -> None:
    lead = Browser(service.base_url).login("lead")
    request = urllib.request.Request(service.base_url + "/api/calls.csv")
    with lead.opener.open(request, timeout=10) as response:
        text = response.read().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@")), row
    assert any(r["caller_name"] == '\'=HYPERLINK("http://evil.example","x")' for r in rows)


# --- Medium: any agent reclassifies a customer; customer views show others' calls -------------


def test_an_agent_may_not_set_vip_or_tags_and_sees_only_their_calls(
    service: ServiceProcess,
) -> None:
    wang, lead = (Browser(service.base_url).login(n) for n in ("wang", "lead"))
    status, body = wang.call("POST", "/api/customers", {"name": "王五", "vip_level": 9})
    assert (status, body["error"]) == (403, "may-not-classify")
    status, created = wang.call("POST", "/api/customers", {"name": "王五", "phones": [CALLER]})
    assert status == 201, created
    path = f"/api/customers/{created['id']}"
    status, body = wang.call("PUT", path, {"name": "王五", "phones": [CALLER], "tags": ["金卡"]})
    assert (status, body["error"]) == (403, "may-not-classify")
    status, body = lead.call("PUT", path, {"name": "王五", "phones": [CALLER], "vip_level": 9})
    assert (status, body["vip_level"]) == (200, 9)
    # Unchanged VIP level and tags: an agent may still correct the rest.
    status, body = wang.call("PUT", path, {"name": "王五 先生", "phones": [CALLER], "vip_level": 9})
    assert (status, body["name"]) == (200, "王五 先生")
    # The two stored calls: the supervisor sees both, wang only the one his phone answered.
    assert len(lead.call("GET", path)[1]["calls"]) == 2
    assert [c["uniqueid"] for c in wang.call("GET", path)[1]["calls"]] == ["1700000000.1"]


def test_customer_views_edits_logins_and_exports_are_audited(service: ServiceProcess) -> None:
    wang = Browser(service.base_url).login("wang")
    status, created = wang.call("POST", "/api/customers", {"name": "赵六"})
    assert status == 201
    wang.call("GET", f"/api/customers/{created['id']}")
    wang.call("PUT", f"/api/customers/{created['id']}", {"name": "赵六六"})
    with wang.opener.open(urllib.request.Request(service.base_url + "/api/calls.csv")) as r:
        r.read()
    assert (
        Browser(service.base_url).call(
            "POST", "/api/login", {"username": "wang", "password": "wrong-password-here"}
        )[0]
        == 401
    )
    wang.call("POST", "/api/logout")
    entries = asyncio.run(_audit(service.workdir / "callcenter.db"))
    mine = [(e.action, e.ok) for e in entries if e.username == "wang"]
    for expected in [
        ("login", True),
        ("customer-create", True),
        ("customer-view", True),
        ("customer-edit", True),
        ("calls-export", True),
        ("login", False),
        ("logout", True),
    ]:
        assert expected in mine, (expected, mine)
    assert all(e.address == "127.0.0.1" for e in entries if e.username == "wang")


async def _audit(database: Path) -> list[AuditEntry]:
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    async with engine.connect() as connection:
        rows = (await connection.execute(select(AuditEntry.__table__))).all()
    await engine.dispose()
    return [AuditEntry(**row._mapping) for row in rows]


# --- Low ----------------------------------------------------------------------------------


def test_a_follow_up_in_the_year_9999_is_refused(service: ServiceProcess) -> None:
    wang = Browser(service.base_url).login("wang")
    status, calls = wang.call("GET", "/api/calls")
    call_id = calls["calls"][0]["id"]
    status, body = wang.call(
        "POST",
        f"/api/calls/{call_id}/wrapup",
        {"disposition": "resolved", "follow_up_due": "9999-12-31"},
    )
    assert (status, body["error"]) == (400, "follow-up-out-of-range"), body


@pytest.mark.parametrize("path", ["/agent", "/wallboard", "/api/me", "/api/docs"])
def test_pages_carry_security_headers_and_no_version(service: ServiceProcess, path: str) -> None:
    request = urllib.request.Request(service.base_url + path)
    try:
        response = urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as exc:
        response = exc
    headers = response.headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"]
    assert headers["Server"] == "callcenter"


def test_an_over_long_header_is_a_400_and_its_content_is_not_logged(
    service: ServiceProcess,
) -> None:
    secret = "cookie-part-" + "s" * 20_000
    with socket.create_connection(("127.0.0.1", service.http_port), timeout=10) as sock:
        sock.sendall(
            f"GET /api/me HTTP/1.1\r\nHost: x\r\nCookie: cc_session={secret}\r\n\r\n".encode()
        )
        answer = sock.recv(200)
    assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n")[0], answer
    log = service.log_text()
    assert "cookie-part-" not in log and "Traceback" not in log


def test_guesses_across_many_usernames_are_throttled_per_address(
    service: ServiceProcess,
) -> None:
    statuses = []
    for attempt in range(24):
        browser = Browser(service.base_url)
        status, _ = browser.call(
            "POST",
            "/api/login",
            {"username": f"guess{attempt % 12}", "password": "not-the-password"},
        )
        statuses.append(status)
    # The limit is 20 failures per address (this module's setting); an earlier test failed
    # one login from this address already.
    assert 429 in statuses, statuses
    first = statuses.index(429)
    assert 18 <= first <= 20 and set(statuses[first:]) == {429}, statuses
    assert set(statuses[:first]) == {401}, statuses
