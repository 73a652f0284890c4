"""End to end in headless Chromium: the handover page (docs/handover.md).

Wang has three open items (one already answered: a promise to the customer). At the end of
the shift Wang opens /handover, picks the successor, writes a note per item and a summary,
and submits. Li opens the page, accepts two items and asks about the third; Wang answers; Li
accepts it. Each item is Li's from the moment Li accepted it, and the supervisor sees the
handover among today's done ones. The planner is never offered as a successor; Wang switches
the page to English, and a summary sent twice is refused with its English text.

Set CALLCENTER_SHOTS to a folder to keep screenshots of the page in both languages.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.pages import log_in, shoot
from tests.service_proc import ServiceProcess, UserSpec
from tests.supervisor.helpers import PASSWORD
from tests.supervisor.helpers import Browser as Client

USERS = [
    ("boss", "supervisor", "班长老陈"),
    ("wang", "agent", "王芳"),
    ("li", "agent", "李娜"),
    ("pan", "planner", "排班员小潘"),
]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    process = ServiceProcess(tmp_path_factory.mktemp("handover-page"), pbx=[], log_level="INFO")
    process.add_users(PASSWORD, [UserSpec(username, role, name) for username, role, name in USERS])
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def ids(service: ServiceProcess) -> dict[str, int]:
    boss = Client(service.base_url).login("boss")
    status, body = boss.call("GET", "/api/work/options")
    assert status == 200, body
    users = {u["name"]: u["id"] for u in body["users"]}
    found = {username: users[name] for username, _, name in USERS}
    status, team = boss.call(
        "POST",
        "/api/teams",
        {
            "name": "hotline",
            "label_zh": "热线组",
            "label_en": "Hotline",
            "queues": [],
            "leaders": [found["boss"]],
            "members": [found["wang"], found["li"]],
        },
    )
    assert status == 201, team
    return found


def create(client: Client, title: str) -> dict[str, Any]:
    status, body = client.call(
        "POST", "/api/work/items", {"kind": "follow-up", "title": title, "category": "billing"}
    )
    assert status == 201, body
    return dict(body)


def handover_page(browser: Browser, service: ServiceProcess, who: str) -> Page:
    page = log_in(browser, service, "/handover", who)
    expect(page.locator("#handover-view")).to_be_visible(timeout=10_000)
    return page


def item_box(page: Page, item_id: int) -> Any:
    return page.locator(f"#to-me .item[data-item='{item_id}']")


def test_a_handover_through_the_page(
    browser: Browser, service: ServiceProcess, ids: dict[str, int]
) -> None:
    wang = Client(service.base_url).login("wang")
    first = create(wang, "回电 发票")
    status, _ = wang.call("POST", f"/api/work/items/{first['id']}/notes", {"text": "已回复客户"})
    assert status == 200
    second = create(wang, "退款进度")
    third = create(wang, "地址变更")
    items = [first, second, third]

    giver = handover_page(browser, service, "wang")
    rows = giver.locator("#draft-items tbody tr")
    expect(rows).to_have_count(3)
    # The promised item first.
    expect(rows.first).to_have_attribute("data-item", str(first["id"]))
    expect(rows.first).to_contain_text("已承诺客户")
    # Only people who work items are offered: not the planner, not Wang.
    offered = giver.locator("#successor option").all_text_contents()
    assert not any("小潘" in o or "王芳" in o for o in offered), offered
    giver.select_option("#successor", str(ids["li"]))
    for item, note in zip(items, ["17:00 回电", "三天内到账", "还没联系"], strict=True):
        giver.get_by_label(f"工单 {item['ticket']} 的交接说明").fill(note)
    giver.fill("#work-done", "接听 42 通")
    giver.fill("#problems", "系统慢")
    shoot(giver, "handover-draft")
    giver.click("#submit")
    expect(giver.locator("#result")).to_contain_text("交接已提交")
    expect(giver.locator("#given .doc")).to_have_count(1)

    taker = handover_page(browser, service, "li")
    expect(taker.locator("#to-me .doc")).to_have_count(1)
    question = taker.get_by_label(f"对工单 {third['ticket']} 的问题")
    for item in items[:2]:
        # Each accept button is named with its ticket for a screen reader.
        taker.get_by_role("button", name=f"接收工单 {item['ticket']}").click()
        expect(item_box(taker, item["id"])).to_contain_text("已接收")
        if item is items[0]:
            question.fill("新地址是哪里")
    # Accepting another item drew the list again: the question being written stayed.
    expect(question).to_have_value("新地址是哪里")
    shoot(taker, "handover-question-kept")
    item_box(taker, third["id"]).get_by_role("button", name="提问").click()
    expect(item_box(taker, third["id"])).to_contain_text("已提问")
    shoot(taker, "handover-to-me")

    giver.reload()
    expect(giver.locator("#handover-view")).to_be_visible(timeout=10_000)
    giver.get_by_label(f"回答工单 {third['ticket']} 的问题").fill("浦东新区")
    giver.locator(f"#given .item[data-item='{third['id']}']").get_by_role(
        "button", name="回答"
    ).click()
    expect(giver.locator(f"#given .item[data-item='{third['id']}']")).to_contain_text("待接收")

    taker.reload()
    expect(taker.locator("#handover-view")).to_be_visible(timeout=10_000)
    expect(item_box(taker, third["id"])).to_contain_text("浦东新区")
    item_box(taker, third["id"]).locator("button.accept").click()
    expect(taker.locator("#to-me .doc")).to_contain_text("已完成")

    li = Client(service.base_url).login("li")
    for item in items:
        status, body = li.call("GET", f"/api/work/items/{item['id']}")
        assert status == 200 and body["owner_id"] == ids["li"], body
        owners = [
            (e["data"]["before"], e["data"]["after"])
            for e in body["timeline"]
            if e["kind"] == "owner"
        ]
        assert owners == [(ids["wang"], ids["li"])]

    boss = handover_page(browser, service, "boss")
    expect(boss.locator("#sup-done .doc")).to_have_count(1)
    expect(boss.locator("#sup-done .doc")).to_contain_text("王芳")
    shoot(boss, "handover-supervisor")

    # In English: the page's texts, an item's state, and a refusal's text. A summary-only
    # handover sent twice is stored once.
    giver.click("#lang")
    expect(giver.locator("#given-title")).to_have_text("My handovers")
    expect(giver.locator("#draft-title")).to_have_text("Hand over")
    expect(giver.locator("#given .doc").first).to_contain_text("done")
    expect(giver.locator("#submit")).to_have_text("Submit the handover")
    for attempt in range(2):
        giver.select_option("#successor", str(ids["li"]))
        giver.fill("#work-done", "Forty calls, no problem")
        giver.click("#submit")
        if attempt == 0:
            expect(giver.locator("#result")).to_contain_text("Handover submitted")
    expect(giver.locator("#result")).to_contain_text("The same summary was submitted a moment ago")
    expect(giver.locator("#result")).to_contain_text("409")
    expect(giver.locator("#submit")).to_be_enabled()
    shoot(giver, "handover-refused")
