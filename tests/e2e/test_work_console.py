"""End to end in headless Chromium: the agent console's work items (docs/work-items.md).

An agent wraps up a call they answered (a call record as the records room writes it) and logs
a complaint from the same form; sees it in "my work" with the counts, opens it, adds a note that
the timeline shows, is told when a colleague changed it meanwhile (a stale version: the item
is reloaded and the page says so), resumes and resolves it. A supervisor's assignment reaches
the console as a notice; a team's pool item is taken with one button; an item whose deadline
passed is listed first and marked overdue in words. These need no PBX: the call is a call
record put in the database, as the records room writes one a moment after a call ends.

On the rig's Asterisk: a real SIP call pops the caller's open work items on the card (ticket,
kind, deadline, owner); when it ends the wrap-up form comes up by itself, pre-filled from the
card, finds the call's record by its PBX and Uniqueid, and logs a follow-up on that call.

Set CALLCENTER_SHOTS to a folder to keep screenshots of the console in both languages.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import insert

from callcenter.records.query import RECORDS_TABLE
from callcenter.records.rows import record_row
from callcenter.rig.asterisk import AsteriskRig
from callcenter.rig.sipp import AgentPhone, AgentPhones, start_calls
from callcenter.store.db import create_engine
from tests.e2e.pages import log_in, shoot
from tests.records.helpers import call_record
from tests.service_proc import ServiceProcess, UserSpec
from tests.supervisor.helpers import PASSWORD, wait_for
from tests.supervisor.helpers import Browser as Client

PHONE = "PJSIP/1001"
CUSTOMER_NUMBER = "13800990077"
USERS = [
    ("boss", "admin", "管理员老周", ()),
    ("lead", "supervisor", "班长老陈", ()),
    ("agent_a", "agent", "坐席甲", ("--interface", PHONE)),
    ("agent_b", "agent", "坐席乙", ("--interface", "PJSIP/1002")),
]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    process = ServiceProcess(
        tmp_path_factory.mktemp("work-console"),
        pbx=[],
        log_level="INFO",
        # The escalation sweep every second: a deadline a few seconds away escalates in time.
        extra_toml="[work]\nsweep_seconds = 1\n",
    )
    process.add_users(
        PASSWORD,
        [
            UserSpec(username, role, name, interfaces=extra[1:])
            for username, role, name, extra in USERS
        ],
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def ids(service: ServiceProcess) -> dict[str, int]:
    """Users by name, and the team both agents are in (its pool)."""
    admin = Client(service.base_url).login("boss")
    status, body = admin.call("GET", "/api/work/options")
    assert status == 200, body
    users = {u["name"]: u["id"] for u in body["users"]}
    found = {username: users[name] for username, _, name, _ in USERS}
    status, team = admin.call(
        "POST",
        "/api/teams",
        {
            "name": "hotline-a",
            "label_zh": "热线一组",
            "label_en": "Hotline A",
            "queues": [],
            "leaders": [found["lead"]],
            "members": [found["agent_a"], found["agent_b"]],
        },
    )
    assert status == 201, team
    return found | {"team": int(team["id"])}


def console(browser: Browser, service: ServiceProcess, username: str) -> Page:
    page = log_in(browser, service, "/agent", username)
    expect(page.locator("#console-view")).to_be_visible(timeout=10_000)
    expect(page.locator("#link-state")).to_have_class("pill on", timeout=10_000)
    expect(page.locator("#work-row")).to_be_visible()
    # The console's header leads to the agent's other pages (hand over, work log, scorecard).
    links = page.locator("#desk-links a")
    expect(links).to_have_text(["交接", "我的工作日志", "我的考核"])
    assert [links.nth(i).get_attribute("href") for i in range(3)] == [
        "/handover",
        "/worklog",
        "/scorecard",
    ]
    return page


async def insert_answered_call(database_url: str, customer_id: int) -> int:
    """A call of the customer that agent A's phone answered ten minutes ago and that has no
    wrap-up yet: the row the records room writes a moment after such a call ends."""
    now = datetime.now(UTC)
    joined = now - timedelta(minutes=10)
    record = call_record(
        77,
        uniqueid=f"{time.time():.6f}",
        caller_num=CUSTOMER_NUMBER,
        caller_name="",
        answered_by=PHONE,
        answered_by_name="坐席甲",
        joined_at=joined,
        answered_at=joined + timedelta(seconds=8),
        left_at=joined + timedelta(seconds=8),
        ended_at=now - timedelta(minutes=2),
        ivr={"CC_MENU": "3", "CC_ACCOUNT": "6222001"},
    )
    row = record_row(record) | {"customer_id": customer_id}
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(insert(RECORDS_TABLE).values(row))
            return int(result.inserted_primary_key[0])  # type: ignore[index]
    finally:
        await engine.dispose()


def database_url(service: ServiceProcess) -> str:
    return f"sqlite+aiosqlite:///{service.workdir / 'callcenter.db'}"


def mine(client: Client) -> dict[str, Any]:
    status, body = client.call("GET", "/api/work/mine")
    assert status == 200, body
    return dict(body)


def test_an_agent_wraps_up_a_call_logs_a_complaint_and_works_it_in_my_work(
    service: ServiceProcess, browser: Browser, ids: dict[str, int]
) -> None:
    lead = Client(service.base_url).login("lead")
    status, customer = lead.call(
        "POST", "/api/customers", {"name": "王芳", "phones": [CUSTOMER_NUMBER]}
    )
    assert status == 201, customer
    # In a thread of its own: Playwright's sync API runs an event loop in this one.
    with ThreadPoolExecutor(1) as pool:
        call_id = pool.submit(
            asyncio.run, insert_answered_call(database_url(service), int(customer["id"]))
        ).result()

    page = console(browser, service, "agent_a")
    # The answered call has no wrap-up yet: the console lists it.
    pending = page.locator("#pending-list li")
    expect(pending).to_have_count(1, timeout=10_000)
    expect(pending).to_contain_text(CUSTOMER_NUMBER)
    pending.get_by_role("button", name=re.compile("话后处理")).click()
    expect(page.locator("#wrapup-form")).to_be_visible()
    expect(page.locator("#wu-disposition")).to_be_focused()
    expect(page.locator("#wu-record")).to_have_text(f"通话记录 #{call_id}")
    expect(page.locator("#wu-call")).to_contain_text(CUSTOMER_NUMBER)
    expect(page.locator("#wu-call")).to_contain_text("王芳")  # the call's customer
    expect(page.locator("#wu-call")).to_contain_text("CC_ACCOUNT=6222001")  # the IVR's data

    # Nothing chosen: refused in words, nothing sent.
    page.click("#wu-submit")
    expect(page.locator("#wu-error")).to_have_text("请选择处理结果。")
    expect(page.locator("#wu-disposition")).to_be_focused()

    # A complaint disposition suggests a complaint item, titled from the call.
    page.select_option("#wu-disposition", "complaint-logged")
    expect(page.locator("#wu-create")).to_be_checked()
    expect(page.locator("#wu-kind")).to_have_value("complaint")
    expect(page.locator("#wu-title")).to_have_value("投诉已登记 · 王芳")
    expect(page.locator("#wu-phone")).to_have_value(CUSTOMER_NUMBER)
    page.get_by_label("标题").fill("退款三周未到账")
    page.get_by_label("分类").select_option("billing")
    page.get_by_label("优先级").select_option("high")
    page.fill("#wu-notes", "客户称退款三周未到账要求本周内处理")
    # A promise in the past is refused before anything is sent.
    page.fill("#wu-due", (datetime.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.click("#wu-submit")
    expect(page.locator("#wu-error")).to_have_text("承诺时间不能早于现在。")
    page.fill("#wu-due", "")
    shoot(page, "work-wrapup")

    page.click("#wu-submit")
    done = page.locator("#wu-done")
    expect(done).to_contain_text("话后处理已保存。", timeout=10_000)
    expect(done).to_contain_text(re.compile(r"已创建工单 \d{8}"))
    ticket = re.search(r"\d{8}", done.inner_text())
    assert ticket is not None
    ticket_number = ticket.group(0)
    expect(page.locator("#wrapup-form")).to_be_hidden()
    expect(pending).to_have_count(0)

    # Stored: the wrap-up on the call, the item with the call as its origin.
    agent = Client(service.base_url).login("agent_a")
    status, call = agent.call("GET", f"/api/calls/{call_id}")
    assert status == 200 and call["wrapup"]["disposition"] == "complaint-logged", call
    work = mine(agent)
    [item] = work["items"]
    assert (item["ticket"], item["kind"], item["priority"], item["category"]) == (
        ticket_number,
        "complaint",
        "high",
        "billing",
    )
    assert (item["customer_id"], item["phone"], item["owner_id"]) == (
        customer["id"],
        CUSTOMER_NUMBER,
        ids["agent_a"],
    )
    status, detail = agent.call("GET", f"/api/work/items/{item['id']}")
    assert status == 200 and [c["id"] for c in detail["calls"]] == [call_id], detail

    # "My work": the item, and the counts.
    entry = page.locator(f'#my-items li[data-ticket="{ticket_number}"]')
    expect(entry).to_be_visible(timeout=10_000)
    expect(entry).to_contain_text("退款三周未到账")
    expect(entry).to_contain_text("投诉")
    expect(entry).to_contain_text("高")
    expect(page.locator("#work-counts dd").first).to_have_text("1")

    # The item: fields, its timeline and its call.
    entry.locator(".entry-open").click()
    detail_view = page.locator("#item")
    expect(detail_view).to_be_visible()
    expect(page.locator("#item-title")).to_be_focused()
    expect(page.locator("#item-title")).to_contain_text(ticket_number)
    expect(page.locator("#item-fields")).to_contain_text("王芳")
    expect(page.locator("#item-fields")).to_contain_text("账单费用")
    timeline = page.locator("#item-timeline li")
    expect(timeline).to_have_count(1)
    expect(timeline.first).to_contain_text(re.compile("创建.投诉.高.账单费用."))
    expect(timeline.first).to_contain_text("客户称退款三周未到账")
    expect(page.locator("#item-calls tbody tr")).to_have_count(1)

    # A note, by the keyboard: it shows on the timeline with who wrote it.
    page.get_by_label("添加备注").fill("已联系财务部门核实退款进度")
    page.get_by_label("添加备注").press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#item-result")).to_have_text("备注已添加。", timeout=10_000)
    expect(timeline).to_have_count(2)
    expect(timeline.last).to_contain_text("坐席甲")
    expect(timeline.last).to_contain_text("已联系财务部门核实退款进度")
    shoot(page, "work-item")

    # A supervisor moves the item meanwhile: the agent's next change names a stale version,
    # and the page reloads the item and says so.
    status, body = lead.call("GET", f"/api/work/items/{item['id']}")
    assert status == 200, body
    status, body = lead.call(
        "POST",
        f"/api/work/items/{item['id']}/status",
        {"version": body["version"], "status": "waiting-department", "note": "转财务部"},
    )
    assert status == 200, body
    page.locator('#item-status-buttons button[data-action="waiting-customer"]').click()
    expect(page.locator("#item-stale")).to_have_text(
        re.compile("^该工单刚被他人修改.已重新载入最新内容。请核对后再操作。$"), timeout=10_000
    )
    expect(page.locator("#item-badges")).to_contain_text("等待其他部门")
    expect(timeline.last).to_contain_text(re.compile("状态.+ → 等待其他部门"))
    expect(page.locator("#item-fields")).to_contain_text("计时暂停")
    shoot(page, "work-item-stale")
    page.click("#lang")
    expect(page.locator("#item-stale")).to_contain_text("Someone changed this item meanwhile")
    expect(timeline.last).to_contain_text(re.compile("status: .+ → waiting for a department"))
    page.click("#lang")

    page.locator('#item-status-buttons button[data-action="in-progress"]').click()
    expect(page.locator("#item-badges")).to_contain_text("处理中", timeout=10_000)
    expect(page.locator("#item-stale")).to_be_hidden()
    page.locator('#item-status-buttons button[data-action="resolved"]').click()
    expect(page.locator("#item-resolution")).to_be_focused()
    page.fill("#item-resolution", "退款已到账并经客户确认")
    page.get_by_role("button", name="确认解决").click()
    expect(page.locator("#item-badges")).to_contain_text("已解决", timeout=10_000)
    expect(timeline.last).to_contain_text("退款已到账并经客户确认")
    expect(entry).to_have_count(0)  # resolved: no longer open in "my work"
    status, body = agent.call("GET", f"/api/work/items/{item['id']}")
    assert (body["status"], body["resolution"]) == ("resolved", "退款已到账并经客户确认")


@pytest.fixture
def agent_a_owns_nothing(service: ServiceProcess, ids: dict[str, int]) -> None:
    """Items an earlier test left open with agent A (it stopped halfway) go to agent B, so
    that the test counts only its own."""
    agent_a = Client(service.base_url).login("agent_a")
    lead = Client(service.base_url).login("lead")
    for item in mine(agent_a)["items"]:
        status, body = lead.call(
            "POST",
            f"/api/work/items/{item['id']}/assign",
            {"version": item["version"], "owner_id": ids["agent_b"], "note": "test clean-up"},
        )
        assert status == 200, body
    assert mine(agent_a)["items"] == []


def test_my_work_shows_the_overdue_first_takes_from_the_pool_and_hears_of_assignments(
    service: ServiceProcess, browser: Browser, ids: dict[str, int], agent_a_owns_nothing: None
) -> None:
    lead = Client(service.base_url).login("lead")
    agent_b = Client(service.base_url).login("agent_b")

    def create(client: Client, **body: Any) -> dict[str, Any]:
        status, item = client.call(
            "POST", "/api/work/items", {"category": "service", "phone": "13800990088"} | body
        )
        assert status == 201, item
        return dict(item)

    # Agent B's inquiry, promised two seconds from now and then given to agent A: overdue.
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    late = create(agent_b, kind="inquiry", title="发票抬头更正", due_at=soon)
    later = create(agent_b, kind="follow-up", title="回访安装效果")
    pooled = create(lead, kind="follow-up", title="核对地址", team_id=ids["team"])
    time.sleep(2.5)

    page = console(browser, service, "agent_a")
    for item in (late, later):
        # The escalation sweep may move the overdue one on meanwhile: a 409 carries the
        # item as it is now, and the assignment is sent again with that version.
        version = item["version"]
        for _ in range(5):
            status, body = agent_b.call(
                "POST",
                f"/api/work/items/{item['id']}/assign",
                {"version": version, "owner_id": ids["agent_a"], "note": "请跟进"},
            )
            if status != 409:
                break
            assert body["error"] == "stale-item", body
            version = body["item"]["version"]
        assert status == 200, body
    # Told on the console (a polite live region), and the list refreshed by it.
    notices = page.locator("#work-notices")
    expect(notices).to_have_attribute("aria-live", "polite")
    assigned = re.compile(f"工单 {late['ticket']} 已分配给您.发票抬头更正")
    expect(notices).to_contain_text(assigned, timeout=10_000)
    entries = page.locator("#my-items li")
    expect(entries).to_have_count(2, timeout=10_000)
    first = entries.first
    expect(first).to_have_attribute("data-ticket", late["ticket"])
    expect(first).to_have_class(re.compile(r"\boverdue\b"))
    expect(first).to_contain_text("⚠ 已逾期")  # in words, not by colour alone
    expect(first).to_contain_text("已逾期 不到 1 分钟")
    expect(entries.last).to_have_attribute("data-ticket", later["ticket"])
    counts = page.locator("#work-counts dd")
    expect(counts.nth(0)).to_have_text("2")
    expect(counts.nth(1)).to_have_text(re.compile(r"^1\b"))
    expect(counts.nth(1)).to_have_class("bad")

    # The team's pool, and a take.
    pool = page.locator(f'#pool-items li[data-ticket="{pooled["ticket"]}"]')
    expect(pool).to_contain_text("核对地址")
    shoot(page, "work-my-work")
    pool.get_by_role("button", name=f"领取 {pooled['ticket']}").click()
    expect(page.locator("#item-title")).to_contain_text(pooled["ticket"], timeout=10_000)
    expect(page.locator("#item-result")).to_have_text("已领取。")
    expect(page.locator(f'#my-items li[data-ticket="{pooled["ticket"]}"]')).to_be_visible()
    expect(pool).to_have_count(0)
    expect(page.locator("#pool-items")).to_contain_text("团队池中没有待领取的工单")
    taken = mine(Client(service.base_url).login("agent_a"))
    assert pooled["ticket"] in [i["ticket"] for i in taken["items"]]
    page.click("#lang")
    expect(notices).to_contain_text(f"Ticket {late['ticket']} was given to you")
    expect(page.locator("#my-items li").first).to_contain_text("⚠ Overdue")
    page.click("#lang")


def test_a_deadline_passing_warns_the_owner_on_the_console(
    service: ServiceProcess, browser: Browser, ids: dict[str, int]
) -> None:
    page = console(browser, service, "agent_a")
    agent = Client(service.base_url).login("agent_a")
    # Account security: urgent whatever was asked (seed 003); promised in three seconds.
    soon = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
    status, item = agent.call(
        "POST",
        "/api/work/items",
        {
            "kind": "complaint",
            "title": "账户异常登录",
            "category": "account-security",
            "priority": "low",
            "phone": "13800990066",
            "due_at": soon,
        },
    )
    assert status == 201, item
    assert item["priority"] == "urgent"
    # 80 % of the promise gone: the owner is warned on the console.
    warned = re.compile(f"工单 {item['ticket']} 已升级.提醒负责人.+账户异常登录")
    expect(page.locator("#work-notices")).to_contain_text(warned, timeout=15_000)
    entry = page.locator(f'#my-items li[data-ticket="{item["ticket"]}"]')
    expect(entry).to_contain_text("紧急")
    expect(entry).to_have_class(re.compile(r"\boverdue\b"), timeout=10_000)
    page.locator("#work-notices").get_by_role("button", name="打开").first.click()
    expect(page.locator("#item-title")).to_contain_text(item["ticket"], timeout=10_000)
    expect(page.locator("#item-badges")).to_contain_text(re.compile(r"已升级 \d 次"))
    expect(page.locator("#item-badges")).to_contain_text("⚠ 已逾期")
    expect(page.locator("#item-timeline")).to_contain_text(re.compile("升级.提醒负责人"))
    shoot(page, "work-escalated")


RIG_NUMBER = "13800990099"


@pytest.fixture
def rig_service(rig: AsteriskRig, tmp_path: Path) -> Iterator[ServiceProcess]:
    process = ServiceProcess(tmp_path, log_level="INFO")
    process.add_users(
        PASSWORD,
        [
            UserSpec(username, role, name, interfaces=extra[1:])
            for username, role, name, extra in USERS
        ],
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def only_phone_1001(rig: AsteriskRig) -> Iterator[None]:
    rig.rx("queue pause member PJSIP/1002 queue support reason test")
    try:
        yield
    finally:
        rig.rx("queue unpause member PJSIP/1002 queue support")


def test_a_real_call_pops_the_callers_items_and_ends_in_the_wrap_up_form(
    rig_service: ServiceProcess,
    browser: Browser,
    only_phone_1001: None,
    agent_phones: Callable[..., AgentPhones],
) -> None:
    service = rig_service
    lead = Client(service.base_url).login("lead")
    status, customer = lead.call("POST", "/api/customers", {"name": "赵敏", "phones": [RIG_NUMBER]})
    assert status == 201, customer
    status, options = lead.call("GET", "/api/work/options")
    assert status == 200, options
    people = {u["name"]: u["id"] for u in options["users"]}
    boss = Client(service.base_url).login("boss")
    status, team = boss.call(
        "POST",
        "/api/teams",
        {
            "name": "hotline-a",
            "label_zh": "热线一组",
            "label_en": "Hotline A",
            "queues": ["support"],
            "members": [people["坐席甲"], people["坐席乙"]],
        },
    )
    assert status == 201, team
    agent_b = people["坐席乙"]
    status, earlier = lead.call(
        "POST",
        "/api/work/items",
        {
            "kind": "complaint",
            "title": "快递破损未赔付",
            "category": "delivery",
            "customer_id": customer["id"],
            "phone": RIG_NUMBER,
            "owner_id": agent_b,
        },
    )
    assert status == 201, earlier

    page = console(browser, service, "agent_a")
    agent_phones(1, first_ext=1001, ring_seconds=2.0)
    batch = start_calls(1, dial="support", caller_numbers=[RIG_NUMBER], hold_seconds=6)
    try:
        expect(page.locator("#card-name")).to_have_text("赵敏", timeout=15_000)
        # The caller's open work items: ticket, kind, deadline and owner.
        item = page.locator(f'#card-work-items li[data-id="{earlier["id"]}"]')
        expect(item).to_contain_text(earlier["ticket"], timeout=10_000)
        expect(item).to_contain_text("投诉")
        expect(item).to_contain_text("快递破损未赔付")
        expect(item).to_contain_text(re.compile("负责人.坐席乙"))
        expect(item).to_contain_text(re.compile("剩余 .+ 到期"))
        expect(page.locator("#card-body")).not_to_contain_text("投诉暂无独立记录")
        expect(page.locator("#card-open-count")).to_have_text("1")
        expect(page.locator("#card-state")).to_have_text("通话中", timeout=10_000)
        shoot(page, "work-pop")
    finally:
        result = batch.wait(30)
    assert result.ok, result.errors

    # The call ended: the wrap-up form, pre-filled from the card, with the call's record.
    expect(page.locator("#wrapup-form")).to_be_visible(timeout=10_000)
    expect(page.locator("#wu-call")).to_contain_text(f"赵敏 · {RIG_NUMBER} · 队列 support")
    record = page.locator("#wu-record")
    expect(record).to_have_text(re.compile(r"^通话记录 #\d+$"), timeout=15_000)
    record_id = int(record.inner_text().split("#")[1])
    page.select_option("#wu-disposition", "repair-booked")
    expect(page.locator("#wu-create")).not_to_be_checked()  # after-sales: not suggested
    page.check("#wu-create")
    expect(page.locator("#wu-kind")).to_have_value("follow-up")
    expect(page.locator("#wu-title")).to_have_value("已预约维修 · 赵敏")
    page.select_option("#wu-category", "product")
    page.check("#wu-owner-team")
    page.select_option("#wu-team", label="热线一组")
    page.fill("#wu-notes", "已预约周五上门维修")
    shoot(page, "work-pop-wrapup")
    page.click("#wu-submit")
    expect(page.locator("#wu-done")).to_contain_text("话后处理已保存。", timeout=10_000)

    agent = Client(service.base_url).login("agent_a")
    status, call = agent.call("GET", f"/api/calls/{record_id}")
    assert status == 200, call
    assert (call["caller_number"], call["answered_by"]) == (RIG_NUMBER, PHONE)
    assert call["wrapup"]["disposition"] == "repair-booked"
    status, items = agent.call(
        "GET", f"/api/work/customer?customer_id={customer['id']}&phone={RIG_NUMBER}"
    )
    assert status == 200, items
    [follow_up] = [i for i in items["items"] if i["kind"] == "follow-up"]
    assert (follow_up["owner_id"], follow_up["category"]) == (None, "product")
    status, detail = agent.call("GET", f"/api/work/items/{follow_up['id']}")
    assert [c["id"] for c in detail["calls"]] == [record_id], detail
    # The team's pool (agent A is in it) shows the new item.
    expect(page.locator(f'#pool-items li[data-id="{follow_up["id"]}"]')).to_be_visible()


CALLBACK_PHONE = "PJSIP/1005"  # in no queue of queues.conf: a sign-in adds it
CALLBACK_QUEUE = "aftersales"
ALWAYS_OPEN = ", ".join(
    f'{day} = ["00:00-24:00"]' for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
)
CALLBACK_TOML = f"""
[ivr]
hours = {{ {ALWAYS_OPEN} }}

[work.callbacks]
interval = 0.5
offer_seconds = 60
agent_ring_seconds = 8
attempts = 2
retry_minutes = 0.05
caller_id = '"Hotline" <4008001234>'
outbound_context = "callcenter-callback"
"""


@pytest.fixture
def callback_service(rig: AsteriskRig, tmp_path: Path) -> Iterator[ServiceProcess]:
    process = ServiceProcess(tmp_path, log_level="INFO", extra_toml=CALLBACK_TOML)
    # Agent A has no fixed phone here: they sign in at the callback phone.
    process.add_users(
        PASSWORD, [UserSpec(username, role, name) for username, role, name, _ in USERS]
    )
    process.start()
    try:
        yield process
    finally:
        with contextlib.suppress(Exception):
            rig.rx(f"queue remove member {CALLBACK_PHONE} from {CALLBACK_QUEUE}")
        process.stop()


def test_a_callback_is_offered_on_the_console_dialled_on_accept_and_reported(
    callback_service: ServiceProcess,
    browser: Browser,
    agent_phones: Callable[..., AgentPhones],
    tmp_path: Path,
) -> None:
    service = callback_service
    boss = Client(service.base_url).login("boss")
    agent = Client(service.base_url).login("agent_a")
    status, me = agent.call("GET", "/api/me")
    assert status == 200, me
    status, team = boss.call(
        "POST",
        "/api/teams",
        {"name": "after-sales", "queues": [CALLBACK_QUEUE], "members": [int(me["user"]["id"])]},
    )
    assert status == 201, team
    status, body = boss.call(
        "PUT", f"/api/agents/{me['user']['id']}/skills", {"skills": {f"queue:{CALLBACK_QUEUE}": 5}}
    )
    assert status == 200, body
    agent_phones(1, first_ext=1005, ring_seconds=1, talk_seconds=None)
    customer = AgentPhone("7011", port=7011, ring_seconds=1, talk_seconds=4, work_dir=tmp_path)
    customer.start()
    try:
        page = console(browser, service, "agent_a")
        # Once the service knows the rig's queues (a sign-in joins the team's queue).
        wait_for(
            lambda: CALLBACK_QUEUE in boss.call("GET", "/api/roster")[1]["queues"],
            20,
            "the rig's queues known",
        )
        page.fill("#signin-interface", CALLBACK_PHONE)
        page.click("#signin")
        expect(page.locator("#agent-status")).to_have_text("就绪", timeout=10_000)
        # A callback the agent promised: offered to them (its owner, signed in and ready).
        status, item = agent.call(
            "POST",
            "/api/work/items",
            {
                "kind": "callback",
                "title": "回电确认维修时间",
                "category": "callback",
                "phone": "7011",
            },
        )
        assert status == 201, item
        offer = page.locator("#offer")
        expect(offer).to_be_visible(timeout=20_000)
        expect(page.locator("#offer-ticket")).to_have_text(f"工单号 {item['ticket']}")
        expect(page.locator("#offer-phone")).to_have_text("7011")
        expect(offer).to_contain_text("回电确认维修时间")
        expect(offer).to_contain_text(re.compile("第 1 次尝试.共 2 次."))
        expect(page.locator("#offer-expires")).to_contain_text(re.compile(r"剩 \d+ 秒"))
        expect(page.locator("#offer-live")).to_contain_text(item["ticket"])  # said aloud
        expect(page.locator("#offer-history li").first).to_contain_text("创建")
        shoot(page, "work-callback-offer")

        page.click("#offer-accept")
        expect(offer).to_be_hidden(timeout=10_000)
        form = page.locator("#wrapup-form")
        expect(form).to_be_visible()
        expect(page.locator("#wu-callback")).to_be_visible()
        expect(page.locator("#wu-item")).to_be_hidden()
        expect(page.locator("#wu-call")).to_contain_text(f"工单号 {item['ticket']}")
        # The agent's phone answers, then the customer's; the customer talks 4 s.
        expect(page.locator("#wu-record")).to_have_text(
            "回电通话已结束，请填写结果。",  # noqa: RUF001
            timeout=30_000,
        )
        page.check("#wu-reached-yes")
        page.check("#wu-resolve")
        page.fill("#wu-resolution", "已与客户约定周五上门")
        page.fill("#wu-notes", "客户确认周五上午在家")
        shoot(page, "work-callback-result")
        page.click("#wu-submit")
        done = page.locator("#wu-done")
        expect(done).to_contain_text("回电结果已保存。", timeout=10_000)
        expect(done).to_contain_text("工单已解决。")

        status, detail = agent.call("GET", f"/api/work/items/{item['id']}")
        assert status == 200, detail
        assert (detail["status"], detail["resolution"]) == ("resolved", "已与客户约定周五上门")
        [attempt] = detail["attempts"]
        assert (attempt["attempt"], attempt["outcome"]) == (1, "reached"), attempt
        [call] = [c for c in detail["calls"] if c["role"] == "callback"]
        assert (call["direction"], call["caller_number"]) == ("outbound", "7011")
        # The timeline, in the agent's language: the attempt, the agent's word, the resolve.
        done.get_by_role("button", name="打开").click()
        timeline = page.locator("#item-timeline")
        expect(timeline).to_contain_text("回电第 1 次：已联系到客户", timeout=10_000)  # noqa: RUF001
        expect(timeline).to_contain_text("客户确认周五上午在家")
        expect(page.locator("#item-attempts tbody tr")).to_have_count(1)
        expect(page.locator("#item-attempts tbody")).to_contain_text("已联系到客户")
        shoot(page, "work-callback-item")
    finally:
        customer.stop()
