"""End to end in headless Chromium, without a PBX: the rota page (/shifts).

A supervisor creates a night shift (22:00-06:00, every day) for a team and one more agent,
sees it in the table (the end marked as the next day) and in the "now" panel as the current
time of day in the centre's zone says (on shift at night, next within 12 h in the day);
edits it so that it holds the present and ends within the half hour, and sees its people on
shift and ending soon. The supervisor's browser is in Los Angeles: every time on the page is
still the centre's (Shanghai). The page is switched to English once. An agent of the team reads
the rota (the other agent's name left out, only counted) and the "now" panel narrowed to their
own team, with no form and no edit buttons, and the API refuses their change (403). Then the
other agent is disabled: the supervisor still sees them on the shift, greyed, renames the shift,
and they stay on it.

Set CALLCENTER_SHOTS to a folder to keep screenshots of the page in both languages.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.pages import log_in, shoot, watch
from tests.service_proc import ServiceProcess, UserSpec
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
# Where the supervisor's browser is: far from the centre, so a time drawn in the browser's own
# zone would show.
BROWSER_ZONE = "America/Los_Angeles"


def log_in_abroad(browser: Browser, service: ServiceProcess, path: str, username: str) -> Page:
    """``log_in`` from a browser in ``BROWSER_ZONE``."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, timezone_id=BROWSER_ZONE)
    page = context.new_page()
    watch(page, path)
    page.goto(service.base_url + path)
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    return page


def disable_user(service: ServiceProcess, username: str) -> None:
    """``callcenter user disable`` against the service's configuration."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "callcenter",
            "user",
            "disable",
            username,
            "--config",
            str(service.config),
        ],
        capture_output=True,
        text=True,
        cwd=service.workdir,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    process = ServiceProcess(tmp_path_factory.mktemp("shifts"), pbx=[], log_level="INFO")
    process.add_users(PASSWORD, [UserSpec(username, role, name) for username, role, name in USERS])
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

    page = log_in_abroad(browser, service, "/shifts", "lead")
    assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == BROWSER_ZONE
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
    assert rota["timezone"] == "Asia/Shanghai"
    # In English (switched once, and remembered from here on); times still the centre's.
    page.click("#lang")
    expect(page.locator("#rota thead th").first).to_have_text("Shift")
    expect(row.locator("td.days")).to_have_text("Mon, Tue, Wed, Thu, Fri, Sat, Sun")
    expect(page.locator("#soon-title")).to_have_text("Ending soon (within 30 min)")
    expect(soon.first).to_contain_text(f"until {end}")
    expect(page.locator("#zone")).to_have_text("Time zone: Asia/Shanghai")
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
    # The other agent (not of wang's team) is counted, not named.
    people = mine.locator("td.members")
    expect(people).to_contain_text("2 人")
    expect(people).to_contain_text("王芳")
    expect(people).not_to_contain_text("李雷")
    expect(people.locator(".others")).to_have_text("（另有 1 人属其他班组）")  # noqa: RUF001
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

    # li is disabled: still held by the shift, greyed; an edit of the label keeps them.
    disable_user(service, "li")

    def li_disabled() -> bool:
        status, rota = lead.call("GET", "/api/shifts")
        users = rota["shifts"][0]["users"] if status == 200 else []
        return any(u["id"] == ids["李雷"] and u["disabled"] for u in users)

    deadline = time.monotonic() + 30
    while not li_disabled():
        assert time.monotonic() < deadline, "the service never saw li disabled"
        time.sleep(0.5)
    page.reload()
    row = page.locator('#rota tr[data-name="night"]')
    expect(row.locator("td.members .gone")).to_have_text("李雷 (disabled)", timeout=TIMEOUT)
    expect(row.locator("td.members")).to_contain_text("1 people")
    # Not on shift while disabled (before the board's own reload, too).
    expect(page.locator('#on-shift li[data-shift="night"]')).to_have_count(1)
    row.locator("button.edit").click()
    kept = page.locator(f"#user-{ids['李雷']}")
    expect(kept).to_be_checked()
    expect(kept).to_have_accessible_name("李雷 (disabled)")
    expect(page.locator("label.check.gone")).to_have_count(1)
    shoot(page, "shifts-disabled-member")
    page.fill("#shift-label", "Night")
    page.click("#shift-save")
    expect(page.locator("#result")).to_have_text("Shift “Night” saved", timeout=TIMEOUT)
    status, rota = lead.call("GET", "/api/shifts")
    (night,) = rota["shifts"]
    assert (night["label"], night["version"]) == ("Night", 3)
    assert ids["李雷"] in night["user_ids"]
