"""End to end in headless Chromium, on the rig's Asterisk: an agent signs in at a phone from
the console (and is refused a phone another agent holds), the state menu puts them not-ready
with a code and back (the PBX pauses and unpauses the phone), shows how many agents a
capped code holds and refuses a full one, a code held past its limit raises the alert; the
admin page creates a team, a code and an agent number with a PIN; the wallboard shows agents by
team, live, with the skills editor, a supervisor's pause with a code and the forced sign-out.
The console and the wallboard run on a browser clock an hour fast: their clocks count from the
server's.

Set CALLCENTER_SHOTS to a folder to keep screenshots of every page in both languages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from callcenter.rig.asterisk import AsteriskRig
from tests.e2e.pages import log_in, shoot
from tests.service_proc import ServiceProcess, UserSpec
from tests.supervisor.helpers import PASSWORD, queue_status, wait_for
from tests.supervisor.helpers import Browser as Client

# Phones of the rig that are in no queue of queues.conf: a sign-in adds them.
PHONE_A = "PJSIP/1003"
PHONE_B = "PJSIP/1004"
QUEUE = "support"
USERS = [
    ("boss", "admin", "管理员老周"),
    ("lead", "supervisor", "班长老陈"),
    ("agent_a", "agent", "坐席甲"),
    ("agent_b", "agent", "坐席乙"),
    ("tl", "team_leader", "组长小林"),
]
# A browser whose clock is wrong by this much: the pages count time from the server's clock.
CLOCK_AHEAD = timedelta(hours=1)
# A time in state of under a minute ("00:07"), not an hour more ("1:00:07").
UNDER_A_MINUTE = re.compile(r"^00:[0-5]\d$")


@pytest.fixture(scope="module")
def service(rig: AsteriskRig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    process = ServiceProcess(tmp_path_factory.mktemp("agents-pages"), log_level="INFO")
    process.add_users(PASSWORD, [UserSpec(username, role, name) for username, role, name in USERS])
    process.start()
    try:
        yield process
    finally:
        process.stop()
        for phone in (PHONE_A, PHONE_B):
            rig.rx(f"queue remove member {phone} from {QUEUE}")


@pytest.fixture(scope="module")
def admin(service: ServiceProcess) -> Client:
    return Client(service.base_url).login("boss")


def roster(admin: Client) -> dict[str, Any]:
    status, body = admin.call("GET", "/api/roster")
    assert status == 200, body
    return dict(body)


@pytest.fixture(scope="module")
def ids(service: ServiceProcess, admin: Client) -> dict[str, int]:
    """Users by name; both agents have the skill of the support queue, and the rig's queues
    are known (a sign-in needs the PBX)."""
    wait_for(lambda: QUEUE in roster(admin)["queues"], 20, "the rig's queues known")
    users = {a["username"]: int(a["user_id"]) for a in roster(admin)["agents"]}
    for name in ("agent_a", "agent_b"):
        status, body = admin.call(
            "PUT", f"/api/agents/{users[name]}/skills", {"skills": {f"queue:{QUEUE}": 5}}
        )
        assert status == 200, body
    return users


@pytest.fixture
def everyone_signed_out(admin: Client, ids: dict[str, int]) -> Iterator[None]:
    yield
    for name in ("agent_a", "agent_b"):
        status, body = admin.call("POST", f"/api/agents/{ids[name]}/sign-out", {"reason": ""})
        assert status in (200, 409), body


def console(
    browser: Browser,
    service: ServiceProcess,
    username: str,
    clock_ahead: timedelta | None = None,
) -> Page:
    page = log_in(browser, service, "/agent", username, clock_ahead)
    expect(page.locator("#console-view")).to_be_visible(timeout=10_000)
    expect(page.locator("#link-state")).to_have_class("pill on", timeout=10_000)
    expect(page.locator("#signed-in-at")).not_to_be_empty(timeout=10_000)
    return page


def desk(username: str, service: ServiceProcess) -> dict[str, Any]:
    status, body = Client(service.base_url).login(username).call("GET", "/api/agent/desk")
    assert status == 200, body
    return dict(body)


def member(phone: str) -> dict[str, str] | None:
    return queue_status(QUEUE)[0].get(phone)


def test_an_agent_signs_in_at_a_phone_and_is_refused_one_another_holds(
    service: ServiceProcess,
    browser: Browser,
    ids: dict[str, int],
    everyone_signed_out: None,
) -> None:
    other = Client(service.base_url).login("agent_b")
    status, body = other.call("POST", "/api/agent/sign-in", {"interface": PHONE_A})
    assert status == 200, body

    page = console(browser, service, "agent_a")
    expect(page.locator("#signed-in-at")).to_have_text("未签入任何话机")
    expect(page.locator("#signin-pbx-field")).to_be_hidden()  # one PBX: no choice to make
    expect(page.locator("#state-menu button").first).to_be_disabled()
    expect(page.locator("#signout")).to_be_disabled()

    page.fill("#signin-interface", PHONE_A)
    page.click("#signin")
    refusal = page.locator("#signin-error")
    expect(refusal).to_contain_text("该话机已有其他坐席签入。", timeout=10_000)
    expect(refusal).to_contain_text("服务器")  # the server's own words follow
    expect(refusal).to_contain_text(f"坐席乙 is signed in at {PHONE_A}")
    shoot(page, "agent-refused")
    page.click("#lang")
    expect(refusal).to_contain_text("Another agent is signed in at this phone.")
    expect(refusal).to_contain_text("Server: 坐席乙")
    page.click("#lang")
    assert desk("agent_a", service)["signed_in"] is None

    page.fill("#signin-interface", PHONE_B)
    page.click("#signin")
    expect(page.locator("#signed-in-at")).to_contain_text(f"已签入 {PHONE_B}", timeout=10_000)
    expect(refusal).to_be_empty()
    expect(page.locator("#signin")).to_be_disabled()
    expect(page.locator("#signout")).to_be_enabled()
    expect(page.locator("#agent-status")).to_have_text("就绪")
    seat = desk("agent_a", service)["signed_in"]
    assert (seat["pbx"], seat["interface"], seat["via"]) == ("rig", PHONE_B, "console")
    wait_for(lambda: member(PHONE_B), 10, f"{PHONE_B} a member of {QUEUE} on the PBX")
    expect(page.locator("#my-queues")).to_contain_text(QUEUE, timeout=10_000)
    shoot(page, "agent-signed-in")

    page.click("#signout")
    expect(page.locator("#signed-in-at")).to_have_text("未签入任何话机", timeout=10_000)
    expect(page.locator("#agent-status")).to_have_text("已签出")
    assert desk("agent_a", service)["signed_in"] is None
    wait_for(lambda: member(PHONE_B) is None, 10, f"{PHONE_B} out of {QUEUE} on the PBX")


def test_the_state_menu_puts_the_agent_not_ready_with_a_code_and_back_to_ready(
    service: ServiceProcess,
    browser: Browser,
    admin: Client,
    ids: dict[str, int],
    everyone_signed_out: None,
) -> None:
    # A code of one second, to see the over-limit alert without waiting; a code for one agent
    # at a time, which agent B takes.
    short = {"label_zh": "速去速回", "label_en": "Quick step", "paid": False, "limit_seconds": 1}
    status, body = admin.call("PUT", "/api/not-ready-codes/quick", {**short, "active": True})
    assert status == 200, body
    solo_code = {"label_zh": "单人辅导", "label_en": "One-to-one", "paid": True, "max_agents": 1}
    status, body = admin.call("PUT", "/api/not-ready-codes/solo", {**solo_code, "active": True})
    assert status == 200, body
    try:
        other = Client(service.base_url).login("agent_b")
        status, body = other.call("POST", "/api/agent/sign-in", {"interface": PHONE_A})
        assert status == 200, body
        status, body = other.call("POST", "/api/agent/not-ready", {"code": "solo"})
        assert status == 200, body

        page = console(browser, service, "agent_a", clock_ahead=CLOCK_AHEAD)
        page.fill("#signin-interface", PHONE_B)
        page.click("#signin")
        expect(page.locator("#agent-status")).to_have_text("就绪", timeout=10_000)
        ready = page.locator('#state-menu button[data-code=""]')
        lunch = page.locator('#state-menu button[data-code="lunch"]')
        solo = page.locator('#state-menu button[data-code="solo"]')
        expect(ready).to_have_attribute("aria-pressed", "true")
        expect(ready).to_be_focused()  # sign-in left the focus on the state the agent is in
        # Label, pay, limit and, for a capped code, agents in it of how many it allows, in the
        # user's language.
        expect(lunch).to_contain_text("午餐")
        expect(lunch).to_contain_text("无薪 · 限时 60 分钟 · 0/5 人")
        expect(lunch).not_to_contain_text("已满")
        # Agent B holds the only place of "solo": full, not to be picked, and a screen reader
        # hears why (in words, not as a fraction).
        expect(solo).to_contain_text("带薪 · 1/1 人")
        expect(solo).to_contain_text("已满")
        expect(solo).to_have_class(re.compile(r"\bfull\b"))
        expect(solo).to_be_disabled()
        expect(solo).to_have_accessible_name(re.compile("已有 1 人.上限 1 人"))
        full_words = re.compile("^已满.已有 1 人.上限 1 人.暂不可选$")
        expect(solo).to_have_accessible_description(full_words)
        # Still in the keyboard's path (its description is heard there); a click or Enter
        # does nothing.
        solo.focus()
        expect(solo).to_be_focused()
        page.keyboard.press("Enter")
        solo.click(force=True)
        page.wait_for_timeout(500)
        expect(page.locator("#agent-status")).to_have_text("就绪")
        expect(page.locator("#status-error")).to_be_empty()
        assert desk("agent_a", service)["state"]["state"] == "ready"
        shoot(page, "agent-state-menu")
        page.click("#lang")
        expect(lunch).to_contain_text("unpaid · limit 60 min · 0/5 agents")
        expect(solo).to_contain_text("full")
        expect(solo).to_have_accessible_description(
            "Full: 1 of 1 places taken; it cannot be chosen now"
        )
        page.click("#lang")

        # By keyboard: the arrows move along the menu (ready, abusive-caller, break, lunch...),
        # Enter picks.
        ready.focus()
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        expect(lunch).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#agent-status")).to_have_text("未就绪 · 午餐", timeout=10_000)
        expect(lunch).to_have_attribute("aria-pressed", "true")
        expect(lunch).to_be_focused()  # the menu drawn again keeps the focus where it was
        expect(lunch).to_contain_text("1/5 人")  # the agent holds one of its five places
        expect(ready).to_have_attribute("aria-pressed", "false")
        state = desk("agent_a", service)["state"]
        assert (state["state"], state["code"], state["limit_seconds"]) == (
            "not-ready",
            "lunch",
            3600,
        )
        wait_for(
            lambda: (m := member(PHONE_B)) and m["Paused"] == "1" and m["PausedReason"] == "lunch",
            10,
            f"{PHONE_B} paused for lunch on the PBX",
        )
        expect(page.locator("#state-clock")).not_to_have_text("00:00", timeout=5_000)  # runs
        # From the server's clock: seconds, not the hour the browser's clock is ahead.
        expect(page.locator("#state-clock")).to_have_text(UNDER_A_MINUTE)
        expect(page.locator("#over-limit")).to_be_hidden()
        shoot(page, "agent-not-ready")

        ready.click()
        expect(page.locator("#agent-status")).to_have_text("就绪", timeout=10_000)
        expect(ready).to_have_attribute("aria-pressed", "true")
        assert desk("agent_a", service)["state"]["state"] == "ready"
        wait_for(lambda: (m := member(PHONE_B)) and m["Paused"] == "0", 10, f"{PHONE_B} unpaused")

        page.click('#state-menu button[data-code="quick"]')
        alert = page.locator("#over-limit")
        expect(alert).to_be_visible(timeout=10_000)
        expect(alert).to_contain_text("已超时")
        expect(alert).to_contain_text("“速去速回”限时 1 秒")
        expect(page.locator("#state-now")).to_have_class("state-now state-not-ready over")
        assert page.title().startswith("⚠")
        # The service sees it too (and alerts the console over the socket).
        wait_for(lambda: desk("agent_a", service)["state"]["over_limit"], 10, "over the limit")
        shoot(page, "agent-over-limit")
        page.click("#lang")
        expect(alert).to_contain_text("Over the limit!")
        expect(page.locator("#agent-status")).to_have_text("Not ready · Quick step")
        page.click("#lang")

        ready.click()
        expect(alert).to_be_hidden(timeout=10_000)
        expect(page.locator("#agent-status")).to_have_text("就绪")
    finally:
        status, body = admin.call("PUT", "/api/not-ready-codes/quick", {**short, "active": False})
        assert status == 200, body
        status, body = admin.call(
            "PUT", "/api/not-ready-codes/solo", {**solo_code, "active": False}
        )
        assert status == 200, body


@pytest.fixture
def admin_page_changes_undone(admin: Client, ids: dict[str, int]) -> Iterator[None]:
    """What the admin page's test changes is put back, even when it stopped halfway: the
    wallboard's test needs lead a supervisor, the console's the codes as they were."""
    yield
    status, body = admin.call("PUT", f"/api/users/{ids['lead']}/role", {"role": "supervisor"})
    assert status == 200, body
    for team in roster(admin)["teams"]:
        if team["name"] == "hotline-b":
            status, body = admin.call("DELETE", f"/api/teams/{team['id']}")
            assert status == 200, body
    if any(c["code"] == "coaching" for c in roster(admin)["codes"]):
        coaching = {"label_zh": "辅导", "label_en": "Coaching", "paid": False, "active": False}
        status, body = admin.call("PUT", "/api/not-ready-codes/coaching", coaching)
        assert status == 200, body


def test_the_admin_page_creates_a_team_a_code_and_an_agent_number(
    service: ServiceProcess,
    browser: Browser,
    admin: Client,
    ids: dict[str, int],
    admin_page_changes_undone: None,
) -> None:
    page = log_in(browser, service, "/admin", "boss")
    # The editors are filled from what the page read: wait until it has read it.
    expect(page.locator('#users-table tr[data-username="lead"]')).to_have_count(1)
    for tab in ("teams", "codes", "agents", "users"):
        expect(page.locator(f"#tab-{tab}")).to_be_visible(timeout=10_000)
    expect(page.locator("#tab-teams")).to_have_attribute("aria-selected", "true")
    # The tabs are a tab list: the arrow keys move along them.
    page.focus("#tab-teams")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#tab-codes")).to_be_focused()
    expect(page.locator("#panel-codes")).to_be_visible()
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#panel-teams")).to_be_visible()

    # A team: labels, a queue, a leader and a member.
    page.click("#new-team")
    expect(page.locator("#team-name")).to_be_focused()
    page.fill("#team-name", "hotline-b")
    page.fill("#team-label-zh", "热线二组")
    page.fill("#team-label-en", "Hotline B")
    page.locator(f'#team-queues input[value="{QUEUE}"]').check()
    page.locator(f'#people tr[data-user-id="{ids["agent_a"]}"] input.is-member').check()
    page.locator(f'#people tr[data-user-id="{ids["lead"]}"] input.is-leader').check()
    shoot(page, "admin-team-editor")
    page.click("#team-form button[type=submit]")
    row = page.locator('#teams-table tr[data-name="hotline-b"]')
    expect(row).to_contain_text("热线二组", timeout=10_000)
    expect(row).to_contain_text("班长老陈")
    expect(page.locator("#result")).to_have_text("班组 hotline-b 已保存")
    team = next(t for t in roster(admin)["teams"] if t["name"] == "hotline-b")
    assert (team["label_zh"], team["label_en"], team["queues"]) == (
        "热线二组",
        "Hotline B",
        [QUEUE],
    )
    assert (team["leaders"], team["members"]) == ([ids["lead"]], [ids["agent_a"]])
    shoot(page, "admin-teams")

    # A not-ready code: unpaid, 20 minutes, at most 3 agents.
    page.click("#tab-codes")
    page.click("#new-code")
    page.fill("#code-code", "coaching")
    page.fill("#code-label-zh", "辅导")
    page.fill("#code-label-en", "Coaching")
    page.fill("#code-limit", "20")
    page.fill("#code-max", "3")
    page.uncheck("#code-paid")
    page.click("#code-form button[type=submit]")
    code_row = page.locator('#codes-table tr[data-code="coaching"]')
    expect(code_row).to_contain_text("辅导", timeout=10_000)
    expect(code_row).to_contain_text("20 分钟")
    expect(code_row).to_contain_text("无薪")
    code = next(c for c in roster(admin)["codes"] if c["code"] == "coaching")
    assert code == {
        "in_use": 0,
        "code": "coaching",
        "label_zh": "辅导",
        "label_en": "Coaching",
        "paid": False,
        "limit_seconds": 1200,
        "max_agents": 3,
        "active": True,
    }
    shoot(page, "admin-codes")

    # An agent number and PIN for the phone's feature code, and skills.
    page.click("#tab-agents")
    edit_b = f'#agents-table tr[data-user-id="{ids["agent_b"]}"] button.edit'
    page.click(edit_b)
    pin_status = page.locator("#agent-pin-status")
    expect(pin_status).to_have_text("未设置 PIN")
    page.fill("#agent-number", "8002")
    page.fill("#agent-pin", "2580")
    page.select_option("#agent-skill-lang_en", "3")
    shoot(page, "admin-agent-editor")
    page.click("#agent-form button[type=submit]")
    agent_row = page.locator(f'#agents-table tr[data-user-id="{ids["agent_b"]}"]')
    expect(agent_row.locator("td.agent-number")).to_have_text("8002", timeout=10_000)
    expect(agent_row.locator("td.skills")).to_contain_text("英语 3")
    agent = next(a for a in roster(admin)["agents"] if a["user_id"] == ids["agent_b"])
    assert agent["agent_number"] == "8002"
    assert agent["pin_set"] is True
    assert agent["skills"] == {f"queue:{QUEUE}": 5, "lang:en": 3}
    # The editor says a PIN is set (never what it is), next to the PIN field; a screen reader
    # hears it with the field.
    page.click(edit_b)
    expect(pin_status).to_have_text("已设置 PIN")
    expect(page.locator("#agent-pin")).to_have_value("")
    expect(page.locator("#agent-pin")).to_have_accessible_description(re.compile("^已设置 PIN"))
    shoot(page, "admin-agent-pin")
    page.click("#lang")
    expect(pin_status).to_have_text("PIN set")
    page.click("#lang")
    page.click("#agent-form button.cancel")

    # Users and their roles; the roles table read-only; one's own role not changeable.
    page.click("#tab-users")
    expect(page.locator("#roles-table tbody tr")).to_have_count(8)
    expect(page.locator('#users-table tr[data-username="boss"] select.role')).to_be_disabled()
    shoot(page, "admin-users")
    user_row = page.locator('#users-table tr[data-username="lead"]')
    for role, label in (("team_leader", "组长"), ("supervisor", "主管")):
        user_row.locator("select.role").select_option(role)
        # A choice not applied yet survives the table being drawn again (here by a language
        # switch; a reload after another change on the page does the same).
        page.click("#lang")
        expect(user_row.locator("select.role")).to_have_value(role)
        expect(user_row.locator("button.apply-role")).to_be_enabled()
        shoot(page, f"admin-users-chosen-{role}")
        page.click("#lang")
        page.once("dialog", lambda dialog: dialog.accept())
        user_row.locator("button.apply-role").click()
        expect(page.locator("#result")).to_have_text(f"lead 的角色已改为“{label}”", timeout=10_000)
        status, users = admin.call("GET", "/api/users")
        assert status == 200, users
        assert next(u["role"] for u in users["users"] if u["username"] == "lead") == role


def test_an_agent_sees_no_admin_section(service: ServiceProcess, browser: Browser) -> None:
    page = log_in(browser, service, "/admin", "agent_b")
    expect(page.locator("#no-rights")).to_be_visible(timeout=10_000)
    expect(page.locator("[role=tab]:visible")).to_have_count(0)


def test_the_wallboard_shows_agents_by_team_live(
    service: ServiceProcess,
    browser: Browser,
    admin: Client,
    ids: dict[str, int],
    everyone_signed_out: None,
) -> None:
    status, team = admin.call(
        "POST",
        "/api/teams",
        {
            "name": "floor-c",
            "label_zh": "三组",
            "label_en": "Floor C",
            "queues": [QUEUE],
            "leaders": [ids["lead"], ids["tl"]],
            "members": [ids["agent_a"], ids["agent_b"]],
        },
    )
    assert status == 201, team
    short = {"label_zh": "一秒", "label_en": "One second", "paid": True, "limit_seconds": 1}
    status, body = admin.call("PUT", "/api/not-ready-codes/blink", {**short, "active": True})
    assert status == 200, body
    agent_a = Client(service.base_url).login("agent_a")
    agent_b = Client(service.base_url).login("agent_b")
    try:
        for client, phone in ((agent_a, PHONE_A), (agent_b, PHONE_B)):
            status, body = client.call("POST", "/api/agent/sign-in", {"interface": phone})
            assert status == 200, body
        status, body = agent_a.call("POST", "/api/agent/not-ready", {"code": "lunch"})
        assert status == 200, body

        page = log_in(browser, service, "/wallboard", "lead", clock_ahead=CLOCK_AHEAD)
        expect(page.locator("#teams-section")).to_be_visible(timeout=10_000)
        section = page.locator(f'#teams section.team[data-team="{team["id"]}"]')
        expect(section.locator("h3")).to_contain_text("三组", timeout=10_000)
        row_a = section.locator('tr.agent[data-username="agent_a"]')
        row_b = section.locator('tr.agent[data-username="agent_b"]')
        expect(row_a.locator(".st")).to_have_text("未就绪 · 午餐")
        expect(row_a.locator("td.phone")).to_have_text(PHONE_A)
        expect(row_a.locator("td.live-since")).not_to_have_text("—")
        # From the server's clock: seconds, not the hour the browser's clock is ahead.
        expect(row_a.locator("td.live-since")).to_have_text(UNDER_A_MINUTE)
        expect(row_b.locator(".st")).to_have_text("就绪")
        expect(
            section.locator(f'tr.agent[data-user-id="{ids["lead"]}"] .badge.leader')
        ).to_have_text("组长")
        # Users in no team, for a supervisor who sees every team.
        expect(page.locator('#teams section.team[data-team="none"] h3')).to_contain_text("未分组")
        page.evaluate("window.notReloaded = true")

        # Changes arrive over the feed: back to ready, then a code held past its limit.
        status, body = agent_a.call("POST", "/api/agent/ready", {})
        assert status == 200, body
        expect(row_a.locator(".st")).to_have_text("就绪", timeout=10_000)
        status, body = agent_b.call("POST", "/api/agent/not-ready", {"code": "blink"})
        assert status == 200, body
        expect(row_b.locator(".st")).to_have_text("未就绪 · 一秒", timeout=10_000)
        expect(row_b).to_have_class("agent over-limit", timeout=10_000)
        expect(row_b.locator(".over-flag")).to_have_text("⚠ 超时")
        assert page.evaluate("window.notReloaded") is True
        shoot(page, "wallboard-teams")

        # A supervisor's pause, from the queue members: an active code, or "other…" and words.
        member_row = page.locator(f'#agents tr[data-queue={QUEUE}][data-interface="{PHONE_A}"]')
        choice = member_row.locator("select.reason-choice")
        typed = member_row.locator("input.reason")
        expect(choice.locator('option[value="lunch"]')).to_have_text("午餐", timeout=10_000)
        expect(choice.locator('option[value="quick"]')).to_have_count(0)  # retired
        expect(choice.locator("option").last).to_have_text("其他…")
        expect(choice).to_have_accessible_name(f"{PHONE_A} / {QUEUE} 的暂停原因")
        expect(typed).to_be_hidden()
        choice.select_option("lunch")
        member_row.locator("button.pause").click()
        wait_for(
            lambda: (m := member(PHONE_A)) and m["Paused"] == "1" and m["PausedReason"] == "lunch",
            10,
            f"{PHONE_A} paused for lunch on the PBX",
        )
        expect(row_a.locator(".st")).to_have_text("未就绪 · 午餐", timeout=10_000)
        expect(member_row.locator("td").nth(3)).to_have_text("午餐", timeout=10_000)
        choice.select_option(label="其他…")
        expect(typed).to_be_visible()
        expect(typed).to_be_focused()
        typed.fill("培训 coaching")
        member_row.locator("button.pause").click()
        wait_for(
            lambda: (m := member(PHONE_A)) and m["PausedReason"] == "培训 coaching",
            10,
            f"{PHONE_A} paused with the typed reason on the PBX",
        )
        expect(row_a.locator(".st")).to_have_text("未就绪 · 培训 coaching", timeout=10_000)
        shoot(page, "wallboard-pause-reason")
        page.click("#lang")
        expect(choice.locator('option[value="lunch"]')).to_have_text("Lunch")
        expect(choice.locator("option").last).to_have_text("other…")
        expect(typed).to_be_visible()  # the choice stays through a language switch
        page.click("#lang")
        member_row.locator("button.unpause").click()
        wait_for(lambda: (m := member(PHONE_A)) and m["Paused"] == "0", 10, f"{PHONE_A} unpaused")
        expect(row_a.locator(".st")).to_have_text("就绪", timeout=10_000)

        # Skills: support at level 3 is penalty 2 on the phone agent A sits at, at once.
        row_a.locator("button.edit-skills").click()
        editor = page.locator(f"#skills-{team['id']}-{ids['agent_a']}")
        expect(editor).to_be_visible()
        expect(row_a.locator("button.edit-skills")).to_have_attribute("aria-expanded", "true")
        editor.locator(f'select[data-skill="queue:{QUEUE}"]').select_option("3")
        editor.locator('select[data-skill="lang:zh"]').select_option("5")
        editor.locator("button.save-skills").click()
        result = editor.locator(".skills-result")
        expect(result).to_contain_text("已保存", timeout=10_000)
        expect(result).to_contain_text("已生效")
        wait_for(lambda: (m := member(PHONE_A)) and m["Penalty"] == "2", 10, "penalty 2 on the PBX")
        skills = next(a for a in roster(admin)["agents"] if a["user_id"] == ids["agent_a"])
        assert skills["skills"] == {f"queue:{QUEUE}": 3, "lang:zh": 5}
        shoot(page, "wallboard-skills")

        # A forced sign-out, after a confirmation.
        page.once("dialog", lambda dialog: dialog.accept())
        row_a.locator("button.force-signout").click()
        expect(row_a.locator(".st")).to_have_text("已签出", timeout=10_000)
        expect(row_a.locator("td.phone")).to_have_text("—")
        expect(page.locator("#action-result")).to_contain_text("坐席甲 已签出")
        assert desk("agent_a", service)["signed_in"] is None
        wait_for(lambda: member(PHONE_A) is None, 10, f"{PHONE_A} out of {QUEUE}")

        # A team leader sees their own teams only: no "No team".
        leader = log_in(browser, service, "/wallboard", "tl")
        own = leader.locator(f'#teams section.team[data-team="{team["id"]}"]')
        expect(own.locator('tr.agent[data-username="agent_b"] .st')).to_have_text(
            "未就绪 · 一秒", timeout=10_000
        )
        expect(leader.locator("#teams section.team")).to_have_count(1)
    finally:
        admin.call("PUT", "/api/not-ready-codes/blink", {**short, "active": False})
        admin.call("DELETE", f"/api/teams/{team['id']}")
