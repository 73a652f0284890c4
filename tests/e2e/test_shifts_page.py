"""End to end in headless Chromium, without a PBX: the rota page (/shifts).

A supervisor creates a night shift (22:00-06:00, every day) for a team and one more agent,
sees it in the table (the end marked as the next day) and in the "now" panel as the current
time of day in the centre's zone says (on shift at night, next within 12 h in the day);
edits it so that it holds the present and ends within the half hour, and sees its people on
shift and ending soon. An agent of the team reads the rota and the "now" panel narrowed to
their own team, with no form and no edit buttons, and the API refuses their change (403).

Set CALLCENTER_SHOTS to a folder to keep screenshots of the page in both languages.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.pages import log_in, shoot
from tests.service_proc import ServiceProcess
from tests.supervisor.helpers import PASSWORD
from tests.supervisor.helpers import Browser as Client

ZONE = ZoneInfo("Asia/Shanghai")  # [ivr] timezone's default
TIMEOUT = 10_000
USERS = [
    ("lead", "supervisor", "班长老陈"),
    ("wang", "agent", "王芳"),
    ("li", "agent", "李雷"),
]
# The page's own words (an en dash between times, full-width brackets as Chinese is written).
DASH = "–"  # noqa: RUF001
SOON_ZH = "即将下班（30 分钟内）"  # noqa: RUF001
READ_ONLY_ZH = "您可以查看排班；修改请联系班长。"  # noqa: RUF001
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    process = ServiceProcess(tmp_path_factory.mktemp("shifts"), pbx=[], log_level="INFO")
    for username, role, name in USERS:
        process.add_user(username, PASSWORD, "--role", role, "--name", name, "--language", "zh")
    process.start()
    try:
        yield process
    finally:
        process.stop()


def test_a_supervisor_keeps_the_rota_and_an_agent_reads_it(
    service: ServiceProcess, browser: Browser
) -> None:
    lead = Client(service.base_url).login("lead")
    status, rota = lead.call("GET", "/api/shifts")
    assert status == 200, rota
    ids = {p["name"]: p["id"] for p in rota["people"]}
    status, team = lead.call(
        "POST",
        "/api/teams",
        {
            "name": "night-crew",
            "label_zh": "夜班组",
            "label_en": "Night crew",
            "members": [ids["王芳"]],
        },
    )
    assert status == 201, team

    page = log_in(browser, service, "/shifts", "lead")
    expect(page.locator("#new-shift")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#rota-empty")).to_be_visible()
    page.click("#new-shift")
    form = page.locator("#shift-form")
    expect(form).to_be_visible()
    expect(page.locator("#form-title")).to_have_text("新建班次")
    expect(page.locator("#shift-name")).to_be_focused()
    page.fill("#shift-name", "night")
    page.fill("#shift-label", "夜班 / Night")
    page.fill("#shift-start", "22:00")
    page.fill("#shift-end", "06:00")
    for day in DAYS:
        page.check(f"#day-{day}")
    expect(page.locator("#day-mon")).to_have_accessible_name("周一")
    page.check(f"#team-{team['id']}")
    page.check(f"#user-{ids['李雷']}")
    shoot(page, "shifts-new")
    page.click("#shift-save")

    row = page.locator('#rota tr[data-name="night"]')
    expect(row.locator("th")).to_contain_text("夜班 / Night", timeout=TIMEOUT)
    expect(row.locator("td.time")).to_have_text(f"22:00{DASH}06:00 (次日)")
    expect(row.locator("td.days")).to_have_text("周一、周二、周三、周四、周五、周六、周日")
    expect(row.locator("td.teams")).to_have_text("夜班组")
    expect(row.locator("td.members")).to_contain_text("2 人")
    expect(row.locator("td.members")).to_contain_text("王芳")
    expect(row.locator("td.members")).to_contain_text("李雷")
    expect(page.locator("#result")).to_have_text("班次“夜班 / Night”已添加")
    expect(form).to_be_hidden()

    # The "now" panel, as the time of day in the centre says.
    local = datetime.now(ZONE)
    on_shift = page.locator('#on-shift li[data-shift="night"]')
    coming = page.locator('#next li[data-shift="night"]')
    if local.hour >= 22 or local.hour < 6:
        expect(on_shift).to_have_count(2, timeout=TIMEOUT)
    elif local.hour >= 10:
        expect(coming).to_have_count(2, timeout=TIMEOUT)
        expect(coming.first).to_contain_text("22:00")
    shoot(page, "shifts-supervisor")

    # Edited to hold the present and end within the half hour: on shift and ending soon.
    row.locator("button.edit").click()
    expect(page.locator("#form-title")).to_have_text("编辑班次 夜班 / Night")
    expect(page.locator("#shift-name")).to_be_disabled()
    expect(page.locator(f"#team-{team['id']}")).to_be_checked()
    start = (local - timedelta(hours=2)).strftime("%H:%M")
    end = (local + timedelta(minutes=20)).strftime("%H:%M")
    page.fill("#shift-start", start)
    page.fill("#shift-end", end)
    page.click("#shift-save")
    expect(page.locator("#result")).to_have_text("班次“夜班 / Night”已保存", timeout=TIMEOUT)
    expect(row.locator("td.time")).to_contain_text(f"{start}{DASH}{end}")
    expect(page.locator('#on-shift li[data-shift="night"]')).to_have_count(2, timeout=TIMEOUT)
    soon = page.locator('#ending-soon li[data-shift="night"]')
    expect(soon).to_have_count(2)
    expect(soon.first).to_contain_text(f"至 {end}")
    expect(page.locator("#soon-title")).to_have_text(SOON_ZH)
    status, rota = lead.call("GET", "/api/shifts")
    assert [(s["name"], s["version"], s["start"]) for s in rota["shifts"]] == [("night", 2, start)]
    # In English too.
    page.click("#lang")
    expect(page.locator("#rota thead th").first).to_have_text("Shift")
    expect(row.locator("td.days")).to_have_text("Mon, Tue, Wed, Thu, Fri, Sat, Sun")
    expect(page.locator("#soon-title")).to_have_text("Ending soon (within 30 min)")
    page.click("#lang")
    shoot(page, "shifts-edited")

    # An agent of the team reads the rota; "now" shows their own team only; no editing.
    agent = log_in(browser, service, "/shifts", "wang")
    mine = agent.locator('#rota tr[data-name="night"]')
    expect(mine).to_be_visible(timeout=TIMEOUT)
    expect(agent.locator("#new-shift")).to_be_hidden()
    expect(agent.locator("#shift-form")).to_be_hidden()
    expect(agent.locator("#rota button")).to_have_count(0)
    expect(agent.locator("#result")).to_have_text(READ_ONLY_ZH)
    on = agent.locator("#on-shift li")
    expect(on).to_have_count(1, timeout=TIMEOUT)
    expect(on.first).to_contain_text("王芳")
    shoot(agent, "shifts-agent")
    wang = Client(service.base_url).login("wang")
    status, body = wang.call(
        "POST",
        "/api/shifts",
        {"name": "early", "label": "早班", "start": "08:00", "end": "16:00", "days": ["mon"]},
    )
    assert (status, body["error"]) == (403, "forbidden"), body
    status, body = wang.call("DELETE", "/api/shifts/night")
    assert status == 403, body
    status, rota = lead.call("GET", "/api/shifts")
    assert [s["name"] for s in rota["shifts"]] == ["night"]
