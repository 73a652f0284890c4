"""End to end in headless Chromium: a voicemail filed as a work item plays on the work-items
page. The real `callcenter serve` (no PBX running: its AMI link stays down), a message written
into the spool as app_voicemail writes it, and the FastAGI call the exits' hangup handler
makes (tests/ivr/agi_client.py); then the supervisor opens the item and the browser loads the
recording."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.pages import PAGE_PROBLEMS, chromium, log_in, shoot
from tests.fixtures_pg import free_port
from tests.ivr.agi_client import AgiCall, call_route
from tests.service_proc import RIG_PBX, ServiceProcess
from tests.supervisor.helpers import PASSWORD
from tests.supervisor.helpers import Browser as Client
from tests.voicemail.spoolfiles import write_message

TIMEOUT = 15_000
CHANNEL = "PJSIP/callers-00000042"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as instance:
        yield instance


FASTAGI_PORT = free_port()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ServiceProcess]:
    # A PBX that is not there (nothing listens on its port): only its spool is used.
    pbx = {**RIG_PBX, "port": free_port(), "voicemail_spool": str(tmp_path / "spool")}
    process = ServiceProcess(tmp_path, pbx=[pbx], fastagi_port=FASTAGI_PORT, log_level="INFO")
    process.add_user("lead", PASSWORD, "--role", "supervisor", "--language", "zh")
    process.start(wait_healthy=False)
    try:
        # /healthz says 503 while the PBX is away: up is enough.
        process.wait_until(
            lambda: process.get("/healthz", anonymous=True)[0] in (200, 503), 30, "up"
        )
        yield process
    finally:
        process.stop()


def left(port: int, *args: str) -> AgiCall:
    """The hangup handler's FastAGI call, from a thread of its own (Playwright's sync API
    keeps an event loop on this one)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, call_route(port, "voicemail-left", list(args))).result()


def test_the_work_items_page_plays_the_voicemail(
    service: ServiceProcess, browser: Browser, tmp_path: Path
) -> None:
    PAGE_PROBLEMS.clear()
    inbox = tmp_path / "spool" / "callcenter" / "support" / "INBOX"
    write_message(inbox, 0, channel=CHANNEL, msg_id="1796220785-00000009", seconds=3)
    call = left(FASTAGI_PORT, "rig", "support", CHANNEL, "link-9", "13800138000", "SUCCESS")
    assert call.variables == {"VOICEMAIL_RESULT": "ok"}

    lead = Client(service.base_url).login("lead")
    status, page_of_items = lead.call("GET", "/api/work/items?kind=callback")
    assert status == 200, page_of_items
    (item,) = page_of_items["items"]
    status, detail = lead.call("GET", f"/api/work/items/{item['id']}")
    assert status == 200 and detail["voicemail"]["duration_seconds"] == 3, detail

    page = log_in(browser, service, f"/work?ticket={item['ticket']}", "lead")
    expect(page.locator("#detail")).to_be_visible(timeout=TIMEOUT)
    facts = page.locator("#d-facts")
    expect(facts).to_contain_text("语音留言")
    expect(facts).to_contain_text("3 秒")
    player = facts.locator("audio")
    expect(player).to_have_attribute("src", detail["voicemail"]["audio_url"])
    expect(player).to_have_attribute("aria-label", "语音留言录音（3 秒）")  # noqa: RUF001
    # The browser fetches and decodes it: a WAV of three seconds.
    seconds = player.evaluate(
        """audio => new Promise((done, fail) => {
             audio.addEventListener("loadedmetadata", () => done(audio.duration), {once: true});
             audio.addEventListener("error", () => fail(String(audio.error && audio.error.code)),
                                    {once: true});
             audio.preload = "auto";
             audio.load();
           })"""
    )
    assert seconds == pytest.approx(3.0, abs=0.05)
    item_url = f"{service.base_url}/work?ticket={item['ticket']}"
    shoot(page, "work-voicemail", reopen=lambda: page.goto(item_url))
    page.context.close()
    assert PAGE_PROBLEMS == []
