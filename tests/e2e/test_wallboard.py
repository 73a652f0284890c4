"""End to end in headless Chromium: a supervisor pauses an agent from the wallboard with a
reason, and the rig's Asterisk reports that member paused with that reason; a real SIP
caller and a routing level change show up live, without reloading the page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from callcenter.rig.asterisk import AsteriskRig
from callcenter.rig.sipp import start_calls
from tests.service_proc import ServiceProcess
from tests.supervisor.helpers import PASSWORD, add_users, queue_status, wait_for
from tests.supervisor.helpers import Browser as Client


@pytest.fixture(scope="module")
def service(rig: AsteriskRig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    process = ServiceProcess(tmp_path_factory.mktemp("wallboard"), log_level="INFO")
    add_users(
        process.config,
        ("lead", "supervisor"),
        ("agent1", "agent", "PJSIP/1001"),
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()


def log_in(page: Page, service: ServiceProcess, username: str) -> None:
    page.goto(service.base_url + "/wallboard")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")


def test_a_supervisor_pauses_an_agent_from_the_wallboard(
    rig: AsteriskRig, service: ServiceProcess, browser: Browser
) -> None:
    page = browser.new_context().new_page()
    log_in(page, service, "lead")
    expect(page.locator("#board-view")).to_be_visible(timeout=10_000)
    expect(page.locator("#link-state")).to_have_text("实时", timeout=10_000)
    expect(page.locator("#queues tr[data-queue=support]")).to_be_visible()
    expect(page.locator("#bars .bar")).to_have_count(12)

    row = page.locator('#agents tr[data-queue=support][data-interface="PJSIP/1002"]')
    expect(row).to_be_visible()
    try:
        row.locator("select.reason-choice").select_option(label="其他…")
        row.locator("input.reason").fill("辅导 coaching")
        row.locator("button.pause").click()
        wait_for(
            lambda: queue_status("support")[0]["PJSIP/1002"].get("PausedReason") == "辅导 coaching",
            10,
            "member paused on the PBX",
        )
        assert queue_status("support")[0]["PJSIP/1002"]["Paused"] == "1"
        # The page learns it back over the live feed.
        expect(row.locator("td").nth(3)).to_have_text("辅导 coaching", timeout=10_000)
        expect(row.locator("td").nth(2)).to_have_text("暂停")
        expect(page.locator("#action-result")).to_contain_text("已完成")

        page.click("#lang")
        expect(row.locator("td").nth(2)).to_have_text("paused")
        row.locator("button.unpause").click()
        wait_for(
            lambda: queue_status("support")[0]["PJSIP/1002"]["Paused"] == "0",
            10,
            "member unpaused on the PBX",
        )
        expect(row.locator("td").nth(2)).to_have_text("available", timeout=10_000)
    finally:
        rig.rx("queue unpause member PJSIP/1002 queue support")


def test_an_agent_cannot_use_the_wallboard(service: ServiceProcess, browser: Browser) -> None:
    page = browser.new_context().new_page()
    log_in(page, service, "agent1")
    expect(page.locator("#login-error")).to_have_text(
        "仅班长和管理员可以使用监控墙", timeout=10_000
    )
    expect(page.locator("#board-view")).to_be_hidden()


def test_a_waiting_caller_and_a_routing_level_show_up_live(
    rig: AsteriskRig, service: ServiceProcess, browser: Browser
) -> None:
    # "consultation" has no members: the SIP caller waits there until they hang up. A live
    # policy puts the queue on "warning" from the first waiting caller.
    lead = Client(service.base_url).login("lead")
    status, body = lead.call(
        "PUT",
        "/api/routing/policies/consultation",
        {
            "triggers": [
                {"metric": "callers_waiting", "level": "warning", "threshold": 1, "release": 0}
            ],
            "recovery_seconds": 0,
        },
    )
    assert status == 200, body
    page = browser.new_context().new_page()
    log_in(page, service, "lead")
    expect(page.locator("#link-state")).to_have_text("实时", timeout=10_000)
    waiting = page.locator("#queues tr[data-queue=consultation] td").nth(1)
    expect(waiting).to_have_text("0", timeout=10_000)
    page.evaluate("window.notReloaded = true")

    batch = start_calls(1, dial="consultation", caller_numbers=["13800138123"], hold_seconds=8)
    try:
        expect(waiting).to_have_text("1", timeout=10_000)
        caller = page.locator("#callers tbody tr")
        expect(caller).to_have_count(1)
        expect(caller.locator("td").nth(0)).to_have_text("consultation")
        expect(caller.locator("td").nth(2)).to_contain_text("13800138123")
        level = page.locator("#routing-levels .level-warning")
        expect(level).to_have_text("consultation: warning", timeout=10_000)
        expect(page.locator("#routing-actions li").first).to_contain_text(
            "consultation: normal → warning"
        )

        # A wallboard opened now learns the level in force from GET /api/routing/policies.
        late = browser.new_context().new_page()
        log_in(late, service, "lead")
        expect(late.locator("#routing-levels .level-warning")).to_have_text(
            "consultation: warning", timeout=10_000
        )
        expect(late.locator("#routing-actions li")).to_have_count(0)
        late.context.close()

        result = batch.wait(30)
        assert result.hung_up == 1, result
        expect(waiting).to_have_text("0", timeout=10_000)
        expect(caller).to_have_count(0)
        expect(page.locator("#routing-levels .level-normal")).to_have_text(
            "consultation: normal", timeout=10_000
        )
        assert page.evaluate("window.notReloaded") is True
    finally:
        batch.stop()
        lead.call("PUT", "/api/routing/policies/consultation", {"enabled": False})
