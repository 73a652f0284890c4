"""End to end in headless Chromium: the work-log page (issue 18, items 4 and 5). An agent
opens today's log (the draft of the day's figures), writes a problem and a suggestion, saves
and submits; the supervisor finds it among the logs to check, comments and signs it off; the
agent sees it signed; the team roll-up lists the problem and the suggestion by category.

Set CALLCENTER_SHOTS to a folder to keep screenshots of the page in both languages.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.pages import log_in, shoot
from tests.service_proc import ServiceProcess, UserSpec
from tests.supervisor.helpers import PASSWORD
from tests.supervisor.helpers import Browser as Client

USERS = [
    ("boss", "admin", "管理员老周"),
    ("lead", "supervisor", "班长老陈"),
    ("agent_a", "agent", "坐席甲"),
]
TIMEOUT = 15_000


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    process = ServiceProcess(tmp_path_factory.mktemp("worklog-page"), pbx=[], log_level="INFO")
    process.add_users(PASSWORD, [UserSpec(username, role, name) for username, role, name in USERS])
    process.start()
    try:
        boss = Client(process.base_url).login("boss")
        status, body = boss.call("GET", "/api/roster")
        assert status == 200, body
        found = {a["username"]: int(a["user_id"]) for a in body["agents"]}
        status, body = boss.call(
            "POST",
            "/api/teams",
            {
                "name": "first-line",
                "label_zh": "一线组",
                "label_en": "First line",
                "leaders": [],
                "members": [found["agent_a"]],
            },
        )
        assert status in (200, 201), body
        yield process
    finally:
        process.stop()


def test_an_agent_writes_and_submits_and_the_supervisor_signs_off(
    service: ServiceProcess, browser: Browser
) -> None:
    agent = log_in(browser, service, "/worklog", "agent_a")
    expect(agent.locator("#mine-view")).to_be_visible(timeout=TIMEOUT)
    expect(agent.locator("#state")).to_have_text("未保存的草稿", timeout=TIMEOUT)
    expect(agent.locator("#covers")).to_contain_text("覆盖时段")
    # The browser runs on UTC, the centre in Shanghai: the day is shown on the centre's
    # clock, midnight to midnight (not 16:00 to 16:00).
    expect(agent.locator("#covers")).to_contain_text("00:00 至")
    expect(agent.locator("#covers")).to_contain_text("Asia/Shanghai")
    expect(agent.locator("#tabs")).to_be_hidden()
    expect(agent.locator("#nav-agent")).to_be_visible()
    expect(agent.locator("#nav-handover")).to_be_visible()
    expect(agent.locator("#nav-reports")).to_be_hidden()
    # The figures of the day: no calls on this service yet.
    expect(agent.locator("#figures")).to_contain_text("接听来电")

    agent.click("#add-entry")
    agent.select_option("#e-kind-1", "problem")
    agent.select_option("#e-cat-1", "system")
    agent.fill("#e-text-1", "工单页面打开很慢")
    agent.click("#add-entry")
    agent.select_option("#e-kind-2", "suggestion")
    agent.select_option("#e-cat-2", "process")
    agent.fill("#e-text-2", "发票问题增加自助查询")
    agent.fill("#summary", "今天来电平稳。")
    agent.click("#save")
    expect(agent.locator("#log-result")).to_have_text("已保存草稿", timeout=TIMEOUT)
    expect(agent.locator("#state")).to_have_text("草稿")
    shoot(agent, "worklog-agent-draft")
    agent.click("#submit")
    expect(agent.locator("#log-result")).to_have_text("已提交", timeout=TIMEOUT)
    expect(agent.locator("#state")).to_have_text("已提交，待检查")  # noqa: RUF001
    expect(agent.locator("#submit")).to_be_disabled()
    expect(agent.locator("#history tbody tr")).to_have_count(1)
    # Once in English: the state, the figures, the links, the covered span.
    agent.click("#lang")
    expect(agent.locator("#state")).to_have_text("Submitted, awaiting check")
    expect(agent.locator("#figures")).to_contain_text("Calls answered")
    expect(agent.locator("#nav-agent")).to_have_text("Agent console")
    expect(agent.locator("#covers")).to_contain_text("00:00 to")
    expect(agent.locator("#log-result")).to_have_text("Submitted")
    agent.click("#lang")
    expect(agent.locator("#state")).to_have_text("已提交，待检查")  # noqa: RUF001

    lead = log_in(browser, service, "/worklog?view=review", "lead")
    expect(lead.locator("#review-view")).to_be_visible(timeout=TIMEOUT)
    expect(lead.locator("#tabs")).to_be_visible()
    expect(lead.locator("#nav-work")).to_be_visible()
    expect(lead.locator("#nav-reports")).to_be_visible()
    expect(lead.locator("#totals")).to_contain_text("应交（已过期限）")  # noqa: RUF001
    row = lead.locator("#review tbody tr", has_text="坐席甲")
    expect(row).to_have_count(1, timeout=TIMEOUT)
    expect(row).to_contain_text("1 / 1")
    # The roll-up: the problem and the suggestion under their categories.
    expect(lead.locator("#categories")).to_contain_text("工单页面打开很慢", timeout=TIMEOUT)
    expect(lead.locator("#categories section[aria-label='系统']")).to_contain_text("问题")
    expect(lead.locator("#categories section[aria-label='流程']")).to_contain_text("发票问题")
    shoot(lead, "worklog-review")

    row.get_by_role("button").click()
    dialog = lead.locator("#detail")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#d-entries")).to_contain_text("工单页面打开很慢")
    lead.fill("#d-comment", "问题已转给系统组")
    lead.click("#d-sign")
    expect(lead.locator("#detail-result")).to_have_text("已签阅", timeout=TIMEOUT)
    expect(dialog.locator("#d-comments")).to_contain_text("问题已转给系统组")
    expect(dialog.locator("#d-sign")).to_be_disabled()
    shoot(lead, "worklog-signed", reopen=lambda: lead.locator("#review tbody tr").count())
    lead.keyboard.press("Escape")
    expect(lead.locator("#review-empty")).to_be_visible(timeout=TIMEOUT)

    # The roll-up in English: the counts say what they count.
    lead.click("#lang")
    expect(lead.locator("#totals")).to_contain_text("Owed (deadline passed)")
    expect(lead.locator("#totals")).to_contain_text("Submitted on time")
    expect(lead.locator("#review-note")).to_contain_text("(all are checked)")
    lead.click("#lang")

    agent.reload()
    expect(agent.locator("#state")).to_have_text("已由 班长老陈 签阅", timeout=TIMEOUT)
    expect(agent.locator("#mine-comments")).to_contain_text("问题已转给系统组")
    expect(agent.locator("#summary")).to_be_disabled()
    shoot(agent, "worklog-agent-signed")
