"""Screening on the real rig: real Asterisk running the project's dialplan, the real
`callcenter serve` answering its FastAGI on 127.0.0.1:4573 (IVR_AGI in extensions.conf).

- Local-channel callers (their ``;2`` half runs the dialplan as a caller): a blocked number
  into the plain hotline hears the message and never joins a queue; a caller withholding
  the number (``CALLERID(pres)=prohib``) into the IVR hotline goes to the withheld queue; an
  ordinary caller joins the queue they dialled.
- A SIPp caller answered by a SIPp agent phone whose agent signed in from the console: the
  abusive-caller button sends the caller to the warning and ends the call, pauses the agent
  with the code and puts them back to ready after the break.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser as PlaywrightBrowser
from playwright.sync_api import expect

from callcenter.rig.asterisk import AsteriskRig
from callcenter.rig.sipp import start_calls
from tests.e2e.pages import PAGE_PROBLEMS, chromium, log_in, shoot
from tests.ivr.rig_calls import ami_action, channels, entered, hang_up_test_calls
from tests.service_proc import ServiceProcess
from tests.supervisor.helpers import Browser, add_user, add_users, queue_status, wait_for

FASTAGI_PORT = 4573  # IVR_AGI in config/asterisk/extensions.conf
TEST_CONF = "screening-test.conf"
TEST_INCLUDE = f"#include {TEST_CONF}\n"
TEST_DIALPLAN = """; Test-only (tests/screening/test_screening_rig.py), removed after the tests.
[screening-test-phone]
; The ;1 half of a Local caller: holds on (listens) for TEST_HOLD seconds.
exten => s,1,Wait(${TEST_HOLD})
 same => n,Hangup()

[screening-test-withheld]
; The ;2 half: withholds its number, then calls like any Local caller.
exten => _[0-9a-zA-Z].,1,Set(CALLERID(pres)=prohib)
 same => n,Goto(local-callers,${EXTEN},1)
"""
WITHHELD_QUEUE = "overflow"  # no static members in queues.conf: the caller waits there
SOUNDS = "/var/lib/asterisk/sounds/callcenter"


@pytest.fixture(scope="module")
def screening_rig(rig: AsteriskRig) -> Iterator[AsteriskRig]:
    """The rig with the test's own caller contexts; taken out again afterwards."""
    (rig.etc_dir / TEST_CONF).write_text(TEST_DIALPLAN, encoding="utf-8")
    extensions = rig.etc_dir / "extensions.conf"
    if TEST_INCLUDE not in extensions.read_text(encoding="utf-8"):
        extensions.write_text(extensions.read_text(encoding="utf-8") + TEST_INCLUDE)
    rig.rx("dialplan reload")
    try:
        yield rig
    finally:
        hang_up_callers(rig)
        text = extensions.read_text(encoding="utf-8")
        extensions.write_text(text.replace(TEST_INCLUDE, ""), encoding="utf-8")
        (rig.etc_dir / TEST_CONF).unlink(missing_ok=True)
        rig.rx("dialplan reload")


@pytest.fixture(scope="module")
def browser() -> Iterator[PlaywrightBrowser]:
    with chromium() as instance:
        yield instance


HOTLINE = "Local/support@local-callers"
WITHHELD_IVR = "Local/400@screening-test-withheld"


def hang_up_callers(rig: AsteriskRig) -> None:
    for prefix in (HOTLINE, WITHHELD_IVR):
        hang_up_test_calls(rig, prefix)


def call(channel: str, number: str, hold: int) -> None:
    """A Local caller from ``number`` that holds on ``hold`` seconds at most."""
    answer = ami_action(
        [
            ("Action", "Originate"),
            ("Channel", channel),
            ("Context", "screening-test-phone"),
            ("Exten", "s"),
            ("Priority", "1"),
            ("CallerID", f'"{number}" <{number}>'),
            ("Async", "true"),
            ("Timeout", "10000"),
            ("Variable", f"TEST_HOLD={hold}"),
        ]
    )
    assert answer.get("Response") == "Success", answer


def messages(rig: AsteriskRig) -> str:
    return rig.messages_log_path.read_text(encoding="utf-8", errors="replace")


def played(rig: AsteriskRig, since: int, prompt: str) -> bool:
    """The prompt (``<lang>/<name>``) was played to some channel since offset ``since``."""
    return re.search(rf"Playing '{SOUNDS}/{prompt}\.", messages(rig)[since:]) is not None


def callers_of(service: ServiceProcess, queue: str) -> dict[str, dict[str, str]]:
    status, body = service.get_json(f"/api/queues/{queue}")
    if status != 200:
        return {}
    return {c["caller_num"]: c["ivr"] for c in body["callers"]}


def events(boss: Browser, kind: str) -> list[dict[str, Any]]:
    status, body = boss.call("GET", f"/api/screening/events?kind={kind}")
    assert status == 200, body
    return list(body["events"])


def test_blocked_callers_are_turned_away_and_withheld_ones_queued_apart(
    screening_rig: AsteriskRig, tmp_path: Path
) -> None:
    rig = screening_rig
    service = ServiceProcess(
        tmp_path,
        fastagi_port=FASTAGI_PORT,
        log_level="INFO",
        extra_toml=f'[screening]\nwithheld = "queue"\nwithheld_queue = "{WITHHELD_QUEUE}"\n',
    )
    add_user(service.config, "boss", "supervisor")
    service.start()
    boss = Browser(service.base_url).login("boss")
    blocked, withheld, fine = "13800770001", "13800770002", "13800770003"
    try:
        status, body = boss.call("POST", "/api/screening/blocked", {"number": blocked})
        assert status == 201, body
        before = len(messages(rig))
        call(HOTLINE, blocked, hold=30)
        call(WITHHELD_IVR, withheld, hold=30)
        call(HOTLINE, fine, hold=30)

        # The withheld caller waits in the withheld queue, the other one where they dialled;
        # the call record will say how each was screened (CC_SCREEN).
        wait_for(lambda: entered(rig, withheld), 15, "the withheld caller in a queue")
        assert entered(rig, withheld)[0][2] == WITHHELD_QUEUE
        wait_for(lambda: entered(rig, fine), 15, "the ordinary caller in a queue")
        assert entered(rig, fine)[0][2] == "support"
        ivr = wait_for(lambda: callers_of(service, WITHHELD_QUEUE).get(withheld), 10, "CC_SCREEN")
        assert ivr["CC_SCREEN"] == "withheld-queue" and ivr["CC_QUEUE"] == WITHHELD_QUEUE
        ivr = wait_for(lambda: callers_of(service, "support").get(fine), 10, "CC_SCREEN")
        assert ivr["CC_SCREEN"] == "ok"

        # The blocked caller heard the message in both languages and was let go long before
        # they would have hung up themselves; they never joined a queue.
        wait_for(lambda: played(rig, before, "en/screen-blocked"), 15, "the blocked message")
        assert played(rig, before, "zh/screen-blocked")
        wait_for(
            lambda: not any(blocked in " ".join(c) for c in channels(rig)),
            10,
            "the blocked caller hung up on",
        )
        assert entered(rig, blocked) == []

        turned_away = events(boss, "blocked")
        assert [(e["number"], e["pbx"]) for e in turned_away] == [("+8613800770001", "rig")]
        aside = wait_for(lambda: events(boss, "withheld-queue"), 5, "the withheld event")
        assert [e["number"] for e in aside] == [withheld]
        assert events(boss, "withheld-message") == []
    finally:
        hang_up_callers(rig)
        service.stop()


QUEUE = "consultation"  # no static members: whoever answers signed in
PHONE = "PJSIP/1003"
ZH_QUESTION = "确认这是恶意来电吗？"  # noqa: RUF001
BREAK_SECONDS = 5  # longer than the English warning (about 3 s)


def member(interface: str) -> dict[str, str]:
    return queue_status(QUEUE)[0].get(interface, {})


def test_the_abusive_caller_button_warns_ends_the_call_and_gives_a_short_break(
    screening_rig: AsteriskRig,
    tmp_path: Path,
    agent_phones: Callable[..., Any],
    browser: PlaywrightBrowser,
) -> None:
    rig = screening_rig
    service = ServiceProcess(
        tmp_path,
        fastagi_port=FASTAGI_PORT,
        log_level="INFO",
        extra_toml=f"[screening]\nabusive_break_seconds = {BREAK_SECONDS}\n",
    )
    add_users(
        service.config,
        ("boss", "supervisor"),
        ("li", "agent"),
    )
    service.start()
    agent_phones(1, first_ext=1003, ring_seconds=1, talk_seconds=None)
    boss = Browser(service.base_url).login("boss")
    li = Browser(service.base_url).login("li")
    caller = "13900000451"
    try:
        status, roster = boss.call("GET", "/api/roster")
        assert status == 200, roster
        li_id = next(a["user_id"] for a in roster["agents"] if a["username"] == "li")
        status, body = boss.call(
            "PUT", f"/api/agents/{li_id}/skills", {"skills": {f"queue:{QUEUE}": 5}}
        )
        assert status == 200, body
        status, body = li.call("POST", "/api/agent/sign-in", {"interface": PHONE})
        assert status == 200, body

        status, body = li.call("POST", "/api/agent/abusive-caller", {})
        assert (status, body["error"]) == (409, "not-on-a-call"), body

        # Li's console, in Chromium: the button shows on a connected call only.
        PAGE_PROBLEMS.clear()
        page = log_in(browser, service, "/agent", "li")
        expect(page.locator("#signed-in-at")).to_contain_text(PHONE)
        expect(page.locator("#abusive")).to_be_hidden()

        before = len(messages(rig))
        calls = start_calls(1, dial=QUEUE, caller_numbers=[caller], hold_seconds=40)
        wait_for(lambda: member(PHONE).get("InCall") == "1", 20, "li talking to the caller")

        def desk() -> dict[str, Any]:
            status, body = li.call("GET", "/api/agent/desk")
            assert status == 200, body
            return dict(body["state"])

        wait_for(lambda: desk()["state"] == "on-call", 10, "li on the call in the service")
        # A first press only asks (the safe choice has the focus); Escape leaves it at that.
        button = page.locator("#abusive-open")
        expect(button).to_be_visible(timeout=10_000)
        expect(button).to_have_text("⚠ Abusive caller")  # li's profile language
        button.click()
        expect(page.locator("#abusive-confirm")).to_be_visible()
        expect(page.locator("#abusive-question")).to_contain_text("Is this caller abusive?")
        expect(page.locator("#abusive-cancel")).to_be_focused()
        page.keyboard.press("Escape")
        expect(page.locator("#abusive-confirm")).to_be_hidden()
        expect(button).to_be_focused()
        assert member(PHONE).get("InCall") == "1"
        # In Chinese this time, with a note, confirmed.
        page.click("#lang")
        expect(button).to_have_text("⚠ 恶意来电")
        button.click()
        expect(page.locator("#abusive-question")).to_contain_text(ZH_QUESTION)
        page.fill("#abusive-note", "shouting")
        shoot(page, "agent-abusive-confirm")
        pressed_at = time.monotonic()
        with page.expect_response("**/api/agent/abusive-caller") as response:
            page.click("#abusive-yes")
        assert response.value.status == 200
        answer = response.value.json()
        expect(page.locator("#abusive-result")).to_have_text(
            f"已警告来电者并结束通话。 您现在休息 {BREAK_SECONDS} 秒，之后自动恢复就绪。"  # noqa: RUF001
        )
        shoot(page, "agent-abusive-done")
        expect(page.locator("#abusive-confirm")).to_be_hidden()
        assert (answer["number"], answer["interface"], answer["queue"]) == (caller, PHONE, QUEUE)
        assert answer["warning_context"] == "callcenter-abusive" and answer["linkedid"]
        assert answer["break"]["code"] == "abusive-caller", answer
        assert answer["break"]["seconds"] == BREAK_SECONDS and answer["break_error"] is None
        # Paused at once, while the caller still hears the warning: the PBX rings li no more.
        paused = member(PHONE)
        assert (paused["Paused"], paused["PausedReason"]) == ("1", "abusive-caller"), paused

        # The caller ran the warning context, heard the warning (English: the plain hotline)
        # and was hung up on; the agent's leg ended with it.
        result = calls.wait(timeout=20)
        assert (result.answered, result.bye_received) == (1, 1), result
        assert result.elapsed < 35, result  # long before the caller's own 40 s
        text = messages(rig)[before:]
        assert "Executing [s@callcenter-abusive:1]" in text
        assert played(rig, before, "en/abusive-warning")

        # The break runs on after the call, then li is back to ready.
        state = wait_for(lambda: desk()["state"] == "not-ready" and desk(), 5, "li not ready")
        assert state["code"] == "abusive-caller"
        assert member(PHONE)["InCall"] == "0"
        wait_for(lambda: member(PHONE).get("Paused") == "0", BREAK_SECONDS + 5, "li unpaused")
        assert time.monotonic() - pressed_at >= BREAK_SECONDS - 0.5
        wait_for(lambda: desk()["state"] == "ready", 5, "li ready again")

        (event,) = events(boss, "abusive")
        assert (event["number"], event["interface"], event["username"]) == (caller, PHONE, "li")
        assert (event["linkedid"], event["detail"], event["id"]) == (
            answer["linkedid"],
            "shouting",
            answer["event_id"],
        )
        status, audit = boss.call("GET", "/api/audit?action=screening.abusive")
        assert status == 200, audit
        (entry,) = audit["entries"]
        assert (entry["user"], entry["ok"], entry["target"]) == ("li", True, answer["linkedid"])
        # The console tells the same in English, and drew no script error.
        page.click("#lang")
        expect(page.locator("#abusive-result")).to_have_text(
            f"The caller was warned and the call ended. You are on a {BREAK_SECONDS} s break;"
            " you will be Ready again after it."
        )
        assert PAGE_PROBLEMS == []
    finally:
        try:
            li.call("POST", "/api/agent/sign-out", {})
            rig.rx(f"queue remove member {PHONE} from {QUEUE}")
        finally:
            service.stop()
