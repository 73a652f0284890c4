"""End to end in headless Chromium: the supervisor's half of the work items (issue 14, items 2,
4 and 9). An agent's complaint whose deadline passes is escalated by the service's own sweep
and the supervisor sees it: live on the wallboard's escalations panel (tier, owner, how
overdue, a link that opens the item), on the work-items page's overdue filter without a
reload, and on the item's timeline. The page's filters and paging, bulk reassign with a
per-item refusal, the item's actions (a stale version reloads the item and says so), and the
refusal of an agent.

The clock is the real one: the service has no test clock hook, so the complaint is created
with a promised deadline (``due_at``) a few seconds ahead, allowed since it is in the future,
and the sweep runs every half second (``work.sweep_seconds``). No PBX is needed.

Set CALLCENTER_SHOTS to a folder to keep screenshots of every page in both languages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.pages import log_in, shoot
from tests.service_proc import ServiceProcess, UserSpec
from tests.supervisor.helpers import PASSWORD
from tests.supervisor.helpers import Browser as Client

USERS = [
    ("boss", "admin", "管理员老周"),
    ("lead", "supervisor", "班长老陈"),
    ("tl", "team_leader", "组长小林"),
    ("agent_a", "agent", "坐席甲"),
    ("agent_b", "agent", "坐席乙"),
]
# The escalation sweep's period in this service: small, so that a deadline a few seconds
# ahead is escalated for real within the test.
SWEEP_SECONDS = 0.5
TIMEOUT = 15_000
# How the page names a team's pool (the page's words, full-width brackets and all).
COMPLAINTS_POOL = "投诉组（班组池）"  # noqa: RUF001


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    process = ServiceProcess(
        tmp_path_factory.mktemp("work-supervisor"),
        pbx=[],
        log_level="INFO",
        extra_toml=f"[work]\nsweep_seconds = {SWEEP_SECONDS}\n",
    )
    process.add_users(PASSWORD, [UserSpec(username, role, name) for username, role, name in USERS])
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def ids(service: ServiceProcess) -> dict[str, int]:
    """Users by name, and two teams: first-line (led by tl: agent_a, agent_b) and complaints
    (led by lead: agent_b)."""
    boss = Client(service.base_url).login("boss")
    status, body = boss.call("GET", "/api/roster")
    assert status == 200, body
    found = {a["username"]: int(a["user_id"]) for a in body["agents"]}
    for name, zh, en, leaders, members in [
        ("first-line", "一线组", "First line", ["tl"], ["agent_a", "agent_b"]),
        ("complaints", "投诉组", "Complaints", ["lead"], ["agent_b"]),
    ]:
        status, body = boss.call(
            "POST",
            "/api/teams",
            {
                "name": name,
                "label_zh": zh,
                "label_en": en,
                "leaders": [found[u] for u in leaders],
                "members": [found[u] for u in members],
            },
        )
        assert status in (200, 201), body
        found[f"team:{name}"] = int(body["id"])
    return found


def work_page(browser: Browser, service: ServiceProcess, query: str = "") -> Page:
    page = log_in(browser, service, "/work" + query, "lead")
    expect(page.locator("#work-view")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#items")).not_to_have_attribute("aria-busy", "true", timeout=TIMEOUT)
    return page


def create(who: Client, **body: Any) -> dict[str, Any]:
    status, answer = who.call("POST", "/api/work/items", body)
    assert status == 201, answer
    return dict(answer)


def item(who: Client, item_id: int) -> dict[str, Any]:
    status, answer = who.call("GET", f"/api/work/items/{item_id}")
    assert status == 200, answer
    return dict(answer)


def row(page: Page, ticket: str) -> Any:
    return page.locator(f'#items tbody tr[data-ticket="{ticket}"]')


def shown_tickets(page: Page) -> list[str]:
    return [
        str(t)
        for t in page.locator("#items tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.ticket)"
        )
    ]


def test_an_overdue_complaint_is_escalated_and_the_supervisor_sees_it(
    service: ServiceProcess, browser: Browser, ids: dict[str, int]
) -> None:
    # The supervisor watches the wallboard and the work page's overdue items.
    board = log_in(browser, service, "/wallboard", "lead")
    expect(board.locator("#link-state")).to_have_text("实时", timeout=TIMEOUT)
    expect(board.locator("#escalations-empty")).to_be_visible()
    expect(board.locator("#work-link")).to_have_attribute("href", "/work")
    # The supervisor's way to the handovers, the work-log check and the rota.
    for where in (board, work_page(browser, service)):
        expect(where.locator("#pages a[href='/handover']")).to_be_visible()
        expect(where.locator("#pages a[href='/worklog?view=review']")).to_be_visible()
        expect(where.locator("#pages a[href='/shifts']")).to_be_visible()
    work = work_page(browser, service, "?overdue=1")
    expect(work.locator("#f-overdue")).to_be_checked()
    expect(work.locator("#link-state")).to_have_text("实时", timeout=TIMEOUT)
    work.evaluate("window.notReloaded = true")

    # An agent of first-line records the caller's complaint, promised 3 s from now.
    agent = Client(service.base_url).login("agent_a")
    complaint = create(
        agent,
        kind="complaint",
        title="退款一直没有到账 refund missing",
        category="billing",
        priority="high",
        phone="+8613800000001",
        due_at=(datetime.now(UTC) + timedelta(seconds=3)).isoformat(),
        note="客户第三次来电",
    )
    ticket = complaint["ticket"]
    assert complaint["owner_id"] == ids["agent_a"]
    assert complaint["team_id"] == ids["team:first-line"]
    assert complaint["overdue"] is False and complaint["escalations"] == 0

    # The sweep escalates it tier by tier (80 %: the owner, 100 %: first-line's leader,
    # 150 %: the managers); the wallboard shows it live, newest first, with its last tier.
    escalated = board.locator(f'#escalations tr[data-ticket="{ticket}"]')
    expect(escalated).to_be_visible(timeout=TIMEOUT)
    expect(escalated.locator(".esc-tier")).to_contain_text("经理", timeout=TIMEOUT)
    expect(escalated.locator(".esc-tier")).to_contain_text("第 3 次")
    expect(escalated.locator("td").nth(1)).to_have_text("退款一直没有到账 refund missing")
    expect(escalated.locator("td").nth(3)).to_have_text("坐席甲")
    expect(escalated.locator(".esc-overdue")).to_contain_text("已超时")
    expect(board.locator("#escalations-empty")).to_be_hidden()
    link = escalated.locator("a")
    expect(link).to_have_attribute("href", f"/work?ticket={ticket}")
    shoot(board, "wallboard-escalations")

    # Stored as the doc says: each tier on the timeline, counted, with whom it notified.
    lead = Client(service.base_url).login("lead")
    stored = item(lead, complaint["id"])
    assert stored["overdue"] is True and stored["escalations"] == 3
    tiers = [
        (e["data"]["tier"], e["data"]["notified"])
        for e in stored["timeline"]
        if e["kind"] == "escalated"
    ]
    assert tiers == [
        ("owner", [ids["agent_a"]]),
        ("team-leader", [ids["tl"]]),
        ("manager", [ids["lead"]]),
    ]

    # The work page was told on the feed: the overdue list shows the item without a reload.
    overdue_row = row(work, ticket)
    expect(overdue_row).to_be_visible(timeout=TIMEOUT)
    expect(overdue_row).to_have_class(re.compile(r"\boverdue\b"))
    # Overdue is said in words and a mark, not by colour alone.
    expect(overdue_row.locator("td.due .flag")).to_have_text("⚠ 已超时")
    expect(overdue_row.locator("td.esc")).to_have_text("3")
    assert work.evaluate("window.notReloaded") is True
    expect(work.locator('#counts li[data-count="overdue"] .n')).not_to_have_text("0")
    for each in work.locator("#items tbody tr").all():
        expect(each.locator("td.due .flag")).to_have_text("⚠ 已超时")
    shoot(work, "work-overdue")

    # From the wallboard's link, the item opens with its escalations on the timeline.
    link.click()
    board.wait_for_url(f"**/work?ticket={ticket}")
    expect(board.locator("#detail")).to_be_visible(timeout=TIMEOUT)
    expect(board.locator("#d-ticket")).to_have_text(ticket)
    expect(board.locator("#d-facts")).to_contain_text("已超时")
    steps = board.locator("#d-timeline li.ev-escalated")
    expect(steps).to_have_count(3)
    expect(steps.nth(0)).to_contain_text("提醒负责人")
    expect(steps.nth(1)).to_contain_text("升级至组长")
    expect(steps.nth(1)).to_contain_text("组长小林")
    expect(steps.nth(2)).to_contain_text("升级至经理")
    expect(board.locator("#d-timeline li.ev-created")).to_contain_text("客户第三次来电")
    shoot(
        board,
        "work-detail-escalated",
        reopen=lambda: row(board, ticket).locator(".open-item").click(),
    )
    board.keyboard.press("Escape")
    expect(board.locator("#detail")).to_be_hidden()
    # Closing the item takes it out of the address; the focus goes to its row in the list.
    expect(board).not_to_have_url(re.compile(r"ticket="))
    expect(row(board, ticket).locator(".open-item")).to_be_focused()
    board.context.close()
    work.context.close()


def test_filters_search_and_paging(
    service: ServiceProcess, browser: Browser, ids: dict[str, int]
) -> None:
    a = Client(service.base_url).login("agent_a")
    b = Client(service.base_url).login("agent_b")
    follow_up = create(a, kind="follow-up", title="确认新套餐已开通 plan check", category="service")
    inquiry = create(
        b,
        kind="inquiry",
        title="Invoice copy for March",
        category="billing",
        team_id=ids["team:complaints"],
        owner_id=ids["agent_b"],
    )
    # The category makes it urgent (seed 003: account security first).
    security = create(
        b,
        kind="complaint",
        title="账户被盗刷 要求冻结",
        category="account-security",
        phone="+8613800000003",
    )
    assert security["priority"] == "urgent"
    done = create(a, kind="follow-up", title="已解决的跟进 resolved follow-up", category="service")
    status, body = a.call(
        "POST",
        f"/api/work/items/{done['id']}/status",
        {"version": done["version"], "status": "resolved", "resolution": "ok"},
    )
    assert status == 200, body

    page = work_page(browser, service)
    # By default: every unresolved item, by deadline.
    for open_one in (follow_up, inquiry, security):
        expect(row(page, open_one["ticket"])).to_be_visible()
    expect(row(page, done["ticket"])).to_have_count(0)

    page.select_option("#f-kind", "complaint")
    expect(row(page, follow_up["ticket"])).to_have_count(0)
    expect(row(page, security["ticket"])).to_be_visible()
    assert all(k == "投诉" for k in page.locator("#items tbody td.kind").all_inner_texts())
    page.select_option("#f-priority", "urgent")
    expect(page.locator("#items tbody tr")).to_have_count(1)
    expect(row(page, security["ticket"]).locator("td.prio")).to_have_text("紧急")
    # The filters are in the address: a reload shows the same list.
    expect(page).to_have_url(re.compile(r"\?kind=complaint&priority=urgent$"))
    page.reload()
    expect(page.locator("#f-priority")).to_have_value("urgent", timeout=TIMEOUT)
    expect(page.locator("#items tbody tr")).to_have_count(1, timeout=TIMEOUT)

    page.click("#reset")
    page.select_option("#f-owner", str(ids["agent_b"]))
    expect(row(page, inquiry["ticket"])).to_be_visible(timeout=TIMEOUT)
    expect(row(page, follow_up["ticket"])).to_have_count(0)
    assert set(page.locator("#items tbody td.owner").all_inner_texts()) == {"坐席乙"}
    page.select_option("#f-owner", "")
    page.select_option("#f-team", str(ids["team:complaints"]))
    expect(row(page, inquiry["ticket"])).to_be_visible(timeout=TIMEOUT)
    expect(row(page, follow_up["ticket"])).to_have_count(0)
    # The counts follow the team chosen.
    expect(page.locator("#counts-note")).to_contain_text("投诉组")

    # Search by words of the title, then by ticket number; "all" shows resolved ones too.
    page.click("#reset")
    page.fill("#f-q", "plan check")
    page.press("#f-q", "Enter")
    expect(page.locator("#items tbody tr")).to_have_count(1, timeout=TIMEOUT)
    expect(row(page, follow_up["ticket"])).to_be_visible()
    page.fill("#f-q", done["ticket"])
    page.press("#f-q", "Enter")
    expect(page.locator("#empty")).to_be_visible(timeout=TIMEOUT)
    page.select_option("#f-status", "all")
    expect(row(page, done["ticket"])).to_be_visible(timeout=TIMEOUT)
    expect(row(page, done["ticket"]).locator("td.due")).to_contain_text("按时解决")
    page.select_option("#f-status", "resolved")
    expect(row(page, done["ticket"])).to_be_visible(timeout=TIMEOUT)
    shoot(page, "work-filtered")

    # Paging by the server's cursor: 50 rows, then the rest.
    for n in range(53):
        create(a, kind="inquiry", title=f"分页测试 paging {n:02d}", category="other")
    page.click("#reset")
    page.fill("#f-q", "分页测试")
    page.press("#f-q", "Enter")
    expect(page.locator("#items tbody tr")).to_have_count(50, timeout=TIMEOUT)
    expect(page.locator("#items tbody tr").first).to_contain_text("分页测试", timeout=TIMEOUT)
    expect(page.locator("#items-caption")).to_contain_text("还有更多")
    page.click("#more")
    expect(page.locator("#items tbody tr")).to_have_count(53, timeout=TIMEOUT)
    expect(page.locator("#more")).to_be_hidden()
    # The keyboard goes on at the first row the button added.
    expect(page.locator("#items tbody tr").nth(50).locator(".open-item")).to_be_focused()
    assert len(set(shown_tickets(page))) == 53
    page.context.close()


def test_bulk_reassign_says_which_items_were_refused(
    service: ServiceProcess, browser: Browser, ids: dict[str, int]
) -> None:
    a = Client(service.base_url).login("agent_a")
    first = create(a, kind="follow-up", title="批量 bulk one", category="service")
    second = create(
        a, kind="callback", title="批量 bulk two", category="callback", phone="+8613800000004"
    )
    closed = create(a, kind="inquiry", title="批量 bulk closed", category="other")
    status, body = a.call(
        "POST",
        f"/api/work/items/{closed['id']}/status",
        {"version": closed["version"], "status": "resolved"},
    )
    assert status == 200, body

    lead = Client(service.base_url).login("lead")
    page = work_page(browser, service, "?q=bulk&status=all")
    expect(page.locator("#items tbody tr")).to_have_count(3, timeout=TIMEOUT)
    # Every row is picked by the keyboard too: the header box selects the page.
    page.focus("#select-all")
    page.keyboard.press("Space")
    expect(page.locator("#selected-count")).to_have_text("已选 3 项")
    page.select_option("#bulk-target", f"t:{ids['team:complaints']}")
    page.click("#bulk-assign")
    result = page.locator("#bulk-result")
    expect(result).to_contain_text(f"已转派 2 项给 {COMPLAINTS_POOL}", timeout=TIMEOUT)
    expect(result).to_contain_text("1 项未转派")
    refused = result.locator(f'li[data-id="{closed["id"]}"]')
    expect(refused).to_contain_text(closed["ticket"])
    expect(refused).to_contain_text("已解决或已关闭的工单不能转派")
    # The refused item stays selected; the reassigned ones are now the complaints' pool.
    expect(page.locator("#selected-count")).to_have_text("已选 1 项")
    for moved in (first, second):
        expect(row(page, moved["ticket"]).locator("td.owner")).to_have_text(
            COMPLAINTS_POOL, timeout=TIMEOUT
        )
        stored = item(lead, moved["id"])
        assert stored["owner_id"] is None and stored["team_id"] == ids["team:complaints"]
        assert stored["timeline"][-1]["kind"] == "owner"
    shoot(page, "work-bulk")

    # Nothing chosen: the page says so rather than sending anything.
    page.click("#clear-selection")
    page.click("#bulk-assign")
    expect(result).to_have_text("请先选择工单")
    page.context.close()


def test_the_item_detail_reassigns_notes_and_reloads_a_stale_item(
    service: ServiceProcess, browser: Browser, ids: dict[str, int]
) -> None:
    a = Client(service.base_url).login("agent_a")
    one = create(
        a, kind="complaint", title="宽带安装师傅未上门", category="service", phone="+8613800000005"
    )
    page = work_page(browser, service, f"?ticket={one['ticket']}")
    dialog = page.locator("#detail")
    expect(dialog).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#d-title")).to_have_text("宽带安装师傅未上门")
    expect(page.locator("#detail-close")).to_be_focused()

    # Reassign to a colleague, with a note.
    page.select_option("#assign-target", f"u:{ids['agent_b']}")
    page.fill("#assign-note", "乙熟悉这个小区")
    page.click("#assign-form button[type=submit]")
    expect(page.locator("#detail-result")).to_have_text("已转派给 坐席乙", timeout=TIMEOUT)
    expect(page.locator("#d-facts")).to_contain_text("坐席乙")
    owner_line = page.locator("#d-timeline li.ev-owner")
    expect(owner_line).to_contain_text("坐席甲 → 坐席乙")
    expect(owner_line).to_contain_text("乙熟悉这个小区")

    # Someone changes the item behind the page's back: the page's change is refused as
    # stale, the item reloads and the page says so; the user's words stay for a retry.
    b = Client(service.base_url).login("agent_b")
    current = item(b, one["id"])
    status, body = b.call(
        "POST",
        f"/api/work/items/{one['id']}/status",
        {"version": current["version"], "status": "waiting-customer"},
    )
    assert status == 200, body
    page.select_option("#status-to", "resolved")
    expect(page.locator("#resolution-field")).to_be_visible()
    page.fill("#status-resolution", "已改约明天上午")
    page.click("#status-form button[type=submit]")
    expect(page.locator("#detail-result")).to_contain_text("刚被他人修改", timeout=TIMEOUT)
    expect(page.locator("#d-facts")).to_contain_text("等待客户")
    expect(page.locator("#d-facts")).to_contain_text("暂停计时")
    expect(page.locator("#status-resolution")).to_have_value("已改约明天上午")
    page.select_option("#status-to", "resolved")
    page.click("#status-form button[type=submit]")
    expect(page.locator("#detail-result")).to_have_text("状态已改为 已解决", timeout=TIMEOUT)
    expect(page.locator("#d-facts")).to_contain_text("已改约明天上午")
    # A resolved item can be closed or reopened, not reassigned.
    expect(page.locator("#assign-form")).to_be_hidden()
    assert sorted(page.locator("#status-to option").all_inner_texts()) == ["处理中", "已关闭"]

    page.fill("#note-text", "已电话告知客户")
    page.click("#note-form button[type=submit]")
    expect(page.locator("#d-timeline li.ev-note")).to_contain_text(
        "已电话告知客户", timeout=TIMEOUT
    )
    shoot(
        page,
        "work-detail",
        reopen=lambda: page.goto(f"{service.base_url}/work?ticket={one['ticket']}"),
    )
    stored = item(b, one["id"])
    assert stored["status"] == "resolved" and stored["resolution"] == "已改约明天上午"

    # An unknown ticket in the address says so.
    page.goto(f"{service.base_url}/work?ticket=12345674")
    expect(page.locator("#result")).to_contain_text("找不到工单 12345674", timeout=TIMEOUT)
    expect(dialog).to_be_hidden()
    page.context.close()


def test_an_agent_cannot_use_the_work_items_page(
    service: ServiceProcess, browser: Browser, ids: dict[str, int]
) -> None:
    page = log_in(browser, service, "/work", "agent_a")
    expect(page.locator("#login-error")).to_have_text(
        "仅组长、班长和管理员可以使用工单管理", timeout=TIMEOUT
    )
    expect(page.locator("#work-view")).to_be_hidden()
    # And the API refuses the list whatever the page does.
    status, _ = Client(service.base_url).login("agent_a").call("GET", "/api/work/items")
    assert status == 403
    page.context.close()
