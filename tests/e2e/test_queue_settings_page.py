"""End to end in headless Chromium: the wallboard's queue-settings editor (issue 15, item 8).

A supervisor opens the editor of a queue this module adds to the rig, changes its strategy and
ring timeout and saves: the page says Asterisk confirmed it, and the API and Asterisk's own
``queue show`` agree. A second supervisor, whose form was opened before that save, is told a
newer version exists, saves anyway and gets the conflict: who saved, what they changed, their
version in the form, and their own values to put back. An announcement file uploaded from the
page shows in the library with a preview player that plays it, and is deleted. A team leader
sees no editor.

Set CALLCENTER_SHOTS to a folder to keep screenshots of the editor in both languages.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from callcenter.rig.asterisk import AsteriskRig
from tests.e2e.pages import log_in, shoot
from tests.service_proc import RIG_PBX, ServiceProcess, UserSpec
from tests.supervisor.helpers import PASSWORD
from tests.supervisor.helpers import Browser as Client

# A queue of this module's own: changing a shared rig queue's strategy could disturb others.
# No template and no strategy line: Asterisk 22 keeps a queue's first strategy line, so the
# one the service appends is taken only when queues.conf sets none (ringall until then).
QUEUE = "qs-e2e"
SECTION = (
    f"[{QUEUE}]\n"
    "; tests/e2e/test_queue_settings_page.py's own queue, removed when it ends\n"
    "timeout = 15\nservicelevel = 20\njoinempty = yes\nleavewhenempty = no\nringinuse = no\n"
)
INCLUDE = "#tryinclude queues_post_custom.conf"
TIMEOUT = 15_000
# The page's own words (full-width brackets and colons, as Chinese is written).
AS_CONF_NOW = "按 queues.conf（现为 ringall）"  # noqa: RUF001
RING_TIMEOUT = "振铃超时（秒）"  # noqa: RUF001
SAVED_V1 = "已保存并生效（版本 1"  # noqa: RUF001
ADDED = "已加入提示音库：欢迎提示音"  # noqa: RUF001
COLON = "："  # noqa: RUF001


def _add_queue(rig: AsteriskRig) -> None:
    conf = rig.etc_dir / "queues.conf"
    text = conf.read_text(encoding="utf-8")
    if SECTION not in text:
        # Before the service's include: its "[queue](+)" sections need the queue defined.
        at = text.index(INCLUDE) if INCLUDE in text else len(text)
        conf.write_text(f"{text[:at]}{SECTION}\n{text[at:]}", encoding="utf-8")
    rig.rx("queue reload all")


def _remove_queue(rig: AsteriskRig) -> None:
    conf = rig.etc_dir / "queues.conf"
    conf.write_text(conf.read_text(encoding="utf-8").replace(f"{SECTION}\n", ""), encoding="utf-8")
    rig.rx("queue reload all")


@pytest.fixture(scope="module")
def service(rig: AsteriskRig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    _add_queue(rig)
    pbx = {
        **RIG_PBX,
        "asterisk_etc": str(rig.etc_dir),
        "sounds_dir": str(rig.run_dir / "lib" / "sounds" / "callcenter-announcements"),
    }
    process = ServiceProcess(tmp_path_factory.mktemp("queue-settings"), pbx=[pbx], log_level="INFO")
    process.add_users(
        PASSWORD,
        [
            UserSpec("lead", "supervisor", "班长老陈"),
            UserSpec("lead2", "supervisor", "班长小王"),
            UserSpec("tl", "team_leader", "组长小林"),
        ],
    )
    process.start()
    try:
        yield process
    finally:
        try:
            # Back to queues.conf before the queue goes: a "(+)" section of the service's
            # include naming a queue that no longer exists would stop Asterisk reading it.
            lead = Client(process.base_url).login("lead")
            mine = _queue(lead)
            if mine["version"]:
                status, body = lead.call(
                    "DELETE", f"/api/queue-settings/rig/{QUEUE}?version={mine['version']}"
                )
                assert status == 200, body
        finally:
            process.stop()
            _remove_queue(rig)


def _queue(client: Client) -> dict[str, Any]:
    status, body = client.call("GET", "/api/queue-settings")
    assert status == 200, body
    return next(q for q in body["queues"] if q["pbx"] == "rig" and q["queue"] == QUEUE)


def _open_editor(browser: Browser, service: ServiceProcess, username: str) -> Page:
    page = log_in(browser, service, "/wallboard", username)
    expect(page.locator("#queue-settings-section")).to_be_visible(timeout=TIMEOUT)
    row = page.locator(f'#qs-queues tr[data-queue="{QUEUE}"]')
    expect(row.locator("td.qs-state")).to_contain_text("未托管", timeout=TIMEOUT)
    edit = row.locator("button.qs-edit")
    expect(edit).to_have_attribute("aria-expanded", "false")
    edit.click()
    expect(edit).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#qs-form")).to_be_visible()
    expect(page.locator("#qs-form-title")).to_contain_text(QUEUE)
    expect(page.locator("#qs-form-title")).to_be_focused()
    # Nothing set yet: every field is "as queues.conf", the strategy showing the live one.
    expect(page.locator("#qs-f-strategy")).to_have_value("")
    expect(page.locator("#qs-f-strategy option").first).to_have_text(AS_CONF_NOW)
    return page


def test_a_supervisor_changes_a_queue_and_a_stale_editor_gets_the_conflict(
    rig: AsteriskRig, service: ServiceProcess, browser: Browser
) -> None:
    first = _open_editor(browser, service, "lead")
    second = _open_editor(browser, service, "lead2")
    # The second supervisor starts an edit of their own before the first one saves.
    second.fill("#qs-f-timeout", "45")
    expect(second.locator("#qs-dirty")).to_have_text("1 项未保存")

    first.select_option("#qs-f-strategy", "leastrecent")
    first.fill("#qs-f-timeout", "30")
    expect(first.locator('.qs-field[data-field="timeout"]')).to_have_class(
        re.compile(r"\bchanged\b")
    )
    shoot(first, "queue-settings-form")
    first.click("#qs-save")
    expect(first.locator("#qs-result")).to_contain_text(SAVED_V1, timeout=TIMEOUT)
    expect(first.locator("#qs-form-title")).to_contain_text("版本 1")
    row = first.locator(f'#qs-queues tr[data-queue="{QUEUE}"]')
    expect(row.locator("td.qs-state")).to_have_text("版本 1 已生效")
    expect(row.locator("td.qs-strategy")).to_have_text("leastrecent")
    expect(first.locator("#qs-dirty")).to_have_text("")

    stored = _queue(Client(service.base_url).login("lead"))
    assert stored["version"] == 1
    assert stored["settings"]["strategy"] == "leastrecent"
    assert stored["settings"]["timeout"] == 30
    assert stored["set_by"] == "lead"
    assert "'leastrecent' strategy" in rig.rx(f"queue show {QUEUE}")

    # The live feed tells the second page at once; its form keeps the user's edit.
    notice = second.locator("#qs-notice")
    expect(notice).to_contain_text("lead", timeout=TIMEOUT)
    expect(notice).to_contain_text("此表单仍是版本 0")
    expect(second.locator("#qs-f-timeout")).to_have_value("45")
    second.click("#qs-save")
    conflict = second.locator("#qs-conflict")
    expect(conflict).to_be_visible(timeout=TIMEOUT)
    expect(conflict).to_contain_text("lead 已于")
    expect(conflict).to_contain_text("先保存了版本 1")
    theirs = conflict.locator("ul.qs-changes").first
    expect(theirs).to_contain_text(f"振铃策略{COLON}按 queues.conf → leastrecent")
    expect(theirs).to_contain_text(f"{RING_TIMEOUT}{COLON}按 queues.conf → 30")
    expect(conflict.locator("ul.qs-mine")).to_have_text(f"{RING_TIMEOUT}{COLON}45")
    expect(second.locator("#qs-result")).to_contain_text("有人先保存了")
    # Their version is in the form now.
    expect(second.locator("#qs-f-strategy")).to_have_value("leastrecent")
    expect(second.locator("#qs-f-timeout")).to_have_value("30")
    expect(second.locator("#qs-form-title")).to_contain_text("版本 1")
    shoot(second, "queue-settings-conflict")
    expect(conflict).to_contain_text("先保存了版本 1")

    # One button puts the user's values back over theirs; saving is then accepted.
    second.click("#qs-reapply")
    expect(second.locator("#qs-f-timeout")).to_have_value("45")
    expect(second.locator("#qs-f-strategy")).to_have_value("leastrecent")
    expect(second.locator("#qs-save")).to_be_focused()
    second.click("#qs-save")
    expect(second.locator("#qs-result")).to_contain_text("版本 2", timeout=TIMEOUT)
    assert _queue(Client(service.base_url).login("lead"))["settings"]["timeout"] == 45
    # The first page follows (no unsaved edits there: it just loads version 2 and says so).
    expect(first.locator("#qs-f-timeout")).to_have_value("45", timeout=TIMEOUT)
    expect(first.locator("#qs-notice")).to_contain_text("lead2")
    first.context.close()
    second.context.close()


def test_an_uploaded_announcement_is_listed_with_a_preview_player(
    service: ServiceProcess, browser: Browser, tmp_path: Path
) -> None:
    sound = tmp_path / "welcome-tone.wav"
    subprocess.run(
        ["sox", "-n", "-r", "16000", "-c", "1", str(sound), "synth", "1", "sine", "440"],
        check=True,
        timeout=30,
    )
    page = log_in(browser, service, "/wallboard", "lead")
    expect(page.locator("#queue-settings-section")).to_be_visible(timeout=TIMEOUT)
    page.click("#ann-library summary")
    expect(page.locator("#ann-empty")).to_be_visible()
    page.set_input_files("#ann-file", str(sound))
    # The name comes from the file, and can be changed.
    expect(page.locator("#ann-up-name")).to_have_value("welcome-tone")
    page.fill("#ann-up-name", "欢迎提示音")
    page.click("#ann-upload button[type=submit]")
    expect(page.locator("#ann-result")).to_contain_text(ADDED, timeout=TIMEOUT)
    row = page.locator("#ann-table tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("th")).to_have_text("欢迎提示音")
    expect(row.locator("td.ann-source")).to_have_text("录音")
    expect(row.locator("td.ann-duration")).to_have_text("1.0 s")
    player = row.locator("audio")
    expect(player).to_have_attribute("aria-label", "试听 欢迎提示音")
    # The preview plays the stored sound: the browser reads its length from the server.
    length = player.evaluate(
        """audio => new Promise((done, failed) => {
             audio.addEventListener("loadedmetadata", () => done(audio.duration), { once: true });
             audio.addEventListener("error", () => failed(new Error("no sound")), { once: true });
             audio.preload = "metadata"; audio.load();
           })"""
    )
    assert 0.9 < length < 1.2
    shoot(page, "queue-settings-library")

    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button.ann-delete").click()
    expect(page.locator("#ann-result")).to_contain_text("已删除 欢迎提示音", timeout=TIMEOUT)
    expect(row).to_have_count(0)
    page.context.close()


def test_a_team_leader_sees_no_editor(service: ServiceProcess, browser: Browser) -> None:
    # A team leader steers queues (queues:control) but may not configure them.
    page = log_in(browser, service, "/wallboard", "tl")
    expect(page.locator("#board-view")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#who")).to_contain_text("组长小林")
    expect(page.locator("#queue-settings-section")).to_be_hidden()
    expect(page.locator("#qs-link")).to_be_hidden()
    page.context.close()
