"""End to end in headless Chromium: a real SIP call pops the caller's record on the ringing
agent's console, and on nobody else's; a CRM that does not answer does not delay the pop."""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import insert

from callcenter.records.query import RECORDS_TABLE, WRAPUPS_TABLE
from callcenter.records.rows import record_row
from callcenter.rig.asterisk import AsteriskRig
from callcenter.rig.sipp import AgentPhones, start_calls
from callcenter.store.db import create_engine
from tests.e2e.pages import chromium
from tests.records.helpers import call_record
from tests.service_proc import ServiceProcess
from tests.supervisor.helpers import Browser as SupervisorBrowser

CUSTOMER_NUMBER = "13800990042"


class SleepyCrm(http.server.ThreadingHTTPServer):
    """A CRM that takes far longer to answer than any pop may wait."""

    daemon_threads = True

    def __init__(self) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                time.sleep(8)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b'{"crm_name": "late"}')

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.requests = 0
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def add_user(service: ServiceProcess, username: str, *args: str) -> None:
    service.add_user(username, "tulip-ferry-orbit-52", *args)


@pytest.fixture
def crm() -> Iterator[SleepyCrm]:
    server = SleepyCrm()
    try:
        yield server
    finally:
        server.stop()


async def seed_overdue_follow_up(database_url: str, number: str) -> None:
    """An earlier call of `number` whose wrap-up asked for a call back two days ago."""
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the [ivr] time zone
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            row = record_row(
                call_record(900, caller_num=number, joined_at=datetime.now(UTC) - timedelta(days=3))
            )
            call_id = (
                await connection.execute(insert(RECORDS_TABLE).values(row))
            ).inserted_primary_key[0]  # type: ignore[index]
            await connection.execute(
                insert(WRAPUPS_TABLE).values(
                    call_id=call_id,
                    disposition="callback-needed",
                    category="other",
                    notes="客户要求回电确认退款",
                    follow_up_due=today - timedelta(days=2),
                    agent_interface="PJSIP/1002",
                    username="li",
                    submitted_at=datetime.now(UTC) - timedelta(days=3),
                )
            )
    finally:
        await engine.dispose()


@pytest.fixture
def service(rig: AsteriskRig, tmp_path: Path, crm: SleepyCrm) -> Iterator[ServiceProcess]:
    port = crm.server_address[1]
    process = ServiceProcess(
        tmp_path,
        extra_toml=(
            "[screenpop]\n"
            f'crm_url_template = "http://127.0.0.1:{port}/customer?phone={{phone}}"\n'
            "crm_timeout_seconds = 3\ncrm_pop_wait_seconds = 0.05\n"
        ),
    )
    add_user(process, "agent_a", "--name", "坐席甲", "--interface", "PJSIP/1001")
    add_user(process, "agent_b", "--name", "坐席乙", "--interface", "PJSIP/1003")
    add_user(process, "lead", "--role", "supervisor")  # VIP level and tags are staff's to set
    asyncio.run(
        seed_overdue_follow_up(f"sqlite+aiosqlite:///{tmp_path / 'callcenter.db'}", CUSTOMER_NUMBER)
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def browser() -> Iterator[Browser]:
    # One per test, started after the service fixture: that one seeds the database with
    # asyncio.run, which Playwright's running loop would refuse.
    with chromium() as instance:
        yield instance


@pytest.fixture
def only_phone_1001(rig: AsteriskRig) -> Iterator[None]:
    rig.rx("queue pause member PJSIP/1002 queue support reason test")
    try:
        yield
    finally:
        rig.rx("queue unpause member PJSIP/1002 queue support")


def logged_in_console(
    browser: Browser, service: ServiceProcess, username: str
) -> tuple[BrowserContext, Page]:
    context = browser.new_context()
    page = context.new_page()
    page.goto(service.base_url + "/agent")
    page.fill("#username", username)
    page.fill("#password", "tulip-ferry-orbit-52")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#console-view")).to_be_visible(timeout=10_000)
    expect(page.locator("#link-state")).to_have_class("pill on", timeout=10_000)
    return context, page


def test_the_ringing_agent_sees_the_customer_and_nobody_else_does(
    rig: AsteriskRig,
    service: ServiceProcess,
    browser: Browser,
    only_phone_1001: None,
    agent_phones: Callable[..., AgentPhones],
) -> None:
    _context_a, page_a = logged_in_console(browser, service, "agent_a")
    _context_b, page_b = logged_in_console(browser, service, "agent_b")
    lead = SupervisorBrowser(service.base_url).login("lead", "tulip-ferry-orbit-52")
    status, saved = lead.call(
        "POST",
        "/api/customers",
        {"name": "测试客户", "phones": [CUSTOMER_NUMBER], "vip_level": 4, "tags": ["金卡"]},
    )
    assert status == 201, saved

    # Rings 6 s: long enough to see "ringing" on the card when the page is slow to draw.
    agent_phones(1, first_ext=1001, ring_seconds=6.0)
    batch = start_calls(1, dial="support", caller_numbers=[CUSTOMER_NUMBER], hold_seconds=8)
    try:
        expect(page_a.locator("#card-name")).to_have_text("测试客户", timeout=15_000)
        expect(page_a.locator("#card-vip")).to_have_text("VIP 4")
        expect(page_a.locator("#card-state")).to_have_text("振铃中")
        # The CRM sleeps 8 s; the pop came from local data and says it is incomplete.
        expect(page_a.locator("#card-incomplete")).to_be_visible()
        expect(page_a.locator("#card-queue")).to_have_text("support")
        # The earlier call's follow-up, overdue, and its disposition among the last calls.
        overdue = page_a.locator("#card-open-items li.overdue")
        expect(overdue).to_have_count(1)
        expect(overdue).to_contain_text("已逾期 2 天")
        expect(overdue).to_contain_text("需回访")
        expect(overdue).to_contain_text("客户要求回电确认退款")
        expect(page_a.locator("#card-calls tbody")).to_contain_text("需回访")
        expect(page_a.locator("#card-state")).to_have_text("通话中", timeout=10_000)
        expect(page_a.locator("#call-timer")).to_be_visible()
        expect(page_a.locator("#cf-name")).to_have_value("测试客户")
        # Agent B is logged in all along and must have seen nothing of it.
        expect(page_b.locator("#card-body")).to_be_hidden()
        assert page_b.locator("#recent tbody tr").count() == 0
        assert "测试客户" not in page_b.content()
    finally:
        result = batch.wait(30)
    assert result.ok, result.errors
    expect(page_a.locator("#card-state")).to_have_text("已结束", timeout=10_000)
    assert "138****0042" in service.log_text()  # the pop's log line masks the number
    page_a.click("#lang")
    expect(page_a.locator("#card-state")).to_have_text("ended")
    expect(page_a.locator("#card-open-items li.overdue")).to_contain_text("overdue by 2 d")
    expect(page_a.locator("#card-open-items li.overdue")).to_contain_text("Call back needed")
    expect(page_b.locator("#card-body")).to_be_hidden()
