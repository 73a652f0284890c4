"""Sign in and out at a phone with the feature codes, on the real rig and the real service.

An agent (number 8001, PIN 2580, skill for queue consultation, set up through the HTTP API by
an admin) dials ``*60`` from the agent phones' context, keys the number and the PIN, and the
phone joins the queue under the agent's name; ``*61`` takes it out again; a wrong PIN adds
nothing. The calls are Local channels (``Local/*60@agents-inbound``, the phones' context, so
the include of ``agent-features`` is tested too) whose other half presses the keys
(tests/ivr/rig_calls.py); they name the phone in ``AGENT_PHONE``, as the dialplan allows.
The dialplan reaches the service's FastAGI on 127.0.0.1:4573 (IVR_AGI in extensions.conf).
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from callcenter.agents.phone import PhoneRoutes
from callcenter.ivr.agi import FastAgiServer
from callcenter.rig.asterisk import AsteriskRig
from tests.ivr.rig_calls import call_local, hang_up_test_calls, install_test_phone, wait_for
from tests.service_proc import ServiceProcess

FASTAGI_PORT = 4573  # IVR_AGI in config/asterisk/extensions.conf
QUEUE = "consultation"
ADMIN, AGENT = "phone-admin", "phone-agent"
PASSWORD = "Harbour-Kite-Maple-6042"
AGENT_NAME = "Wu Fei"
NUMBER, PIN = "8001", "2580"
SIGN_IN, SIGN_OUT = "Local/*60@agents-inbound", "Local/*61@agents-inbound"
# Keys: the agent number prompt has started, number and #, the PIN prompt has started
# (w = 0.5 s; the service answers in milliseconds), PIN and #.
PAUSE = "wwww"


class Api:
    """JSON over HTTP as one logged-in user (the cookie kept, our own page's Origin)."""

    def __init__(self, service: ServiceProcess, username: str) -> None:
        self.base = service.base_url
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        status, body = self.send("POST", "/api/login", {"username": username, "password": PASSWORD})
        assert status == 200, body

    def send(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.base + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Content-Type": "application/json", "Origin": self.base},
        )
        try:
            with self._opener.open(request, timeout=10) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read()
        return status, json.loads(text) if text else None


def member_lines(rig: AsteriskRig, interface: str) -> list[str]:
    """The lines of ``queue show consultation`` that name ``interface``."""
    return [line for line in rig.rx(f"queue show {QUEUE}").splitlines() if interface in line]


def remove_everywhere(rig: AsteriskRig, interface: str) -> None:
    """Take ``interface`` out of every queue (whatever a failed test left behind)."""
    queue = ""
    for line in rig.rx("queue show").splitlines():
        if line and not line[0].isspace():
            queue = line.split(" ", 1)[0]
        elif f"({interface}" in line or line.strip().startswith(interface):
            rig.rx(f"queue remove member {interface} from {queue}")


def messages(rig: AsteriskRig) -> str:
    return rig.messages_log_path.read_text(encoding="utf-8", errors="replace")


def dial(code: str, phone: str, keys: str, hold: int = 20) -> None:
    call_local(code, "8001", keys, hold=hold, delay=2, extra={"AGENT_PHONE": phone})


@pytest.fixture(scope="module")
def phone_rig(rig: AsteriskRig) -> Iterator[AsteriskRig]:
    install_test_phone(rig)
    yield rig
    for prefix in (SIGN_IN, SIGN_OUT):
        hang_up_test_calls(rig, prefix)


@pytest.fixture
def service(phone_rig: AsteriskRig, tmp_path: Path) -> Iterator[ServiceProcess]:
    """The service, an admin, and agent 8001 with PIN 2580 and a skill for consultation."""
    rig = phone_rig
    process = ServiceProcess(tmp_path, fastagi_port=FASTAGI_PORT, log_level="INFO")
    process.add_user(ADMIN, PASSWORD, "--role", "admin")
    process.add_user(AGENT, PASSWORD, "--role", "agent", "--name", AGENT_NAME)
    process.start()
    try:
        admin = Api(process, ADMIN)
        status, found = admin.send("GET", "/api/users")
        assert status == 200, found
        agent_id = next(u["id"] for u in found["users"] if u["username"] == AGENT)
        profile = {"agent_number": NUMBER, "pin": PIN}
        status, body = admin.send("PUT", f"/api/agents/{agent_id}/profile", profile)
        assert status == 200, body
        skills = {"skills": {f"queue:{QUEUE}": 1}}
        status, body = admin.send("PUT", f"/api/agents/{agent_id}/skills", skills)
        assert status == 200, body
        yield process
    finally:
        for prefix in (SIGN_IN, SIGN_OUT):
            hang_up_test_calls(rig, prefix)
        for phone in ("PJSIP/1008", "PJSIP/1009"):
            remove_everywhere(rig, phone)
        process.stop()


def test_star_60_signs_the_agent_in_and_star_61_out(
    rig: AsteriskRig, service: ServiceProcess
) -> None:
    phone = "PJSIP/1009"
    assert member_lines(rig, phone) == []
    before = len(messages(rig))
    dial(SIGN_IN, phone, f"{NUMBER}#{PAUSE}{PIN}#")
    wait_for(lambda: member_lines(rig, phone), 25, f"{phone} in {QUEUE}")
    [line] = member_lines(rig, phone)
    assert AGENT_NAME in line, line
    wait_for(
        lambda: (
            f"sign-in at {SIGN_IN}" in messages(rig)[before:]
            and f"phone {phone}: AGENT_RESULT=ok" in messages(rig)[before:]
        ),
        10,
        "AGENT_RESULT=ok logged",
    )
    hang_up_test_calls(rig, SIGN_IN)

    dial(SIGN_OUT, phone, "w")
    wait_for(lambda: not member_lines(rig, phone), 20, f"{phone} out of {QUEUE}")
    # The service logged both attempts (one line each), never the PIN.
    lines = [line for line in service.log_text().splitlines() if " at a phone " in line]
    assert any(
        f"sign-in at a phone pbx=rig interface={phone} agent={NUMBER}: ok" in x for x in lines
    )
    assert any(f"sign-out at a phone pbx=rig interface={phone}: ok" in x for x in lines)
    assert not [x for x in lines if PIN in x.split(" at a phone ", 1)[1]]


def test_a_wrong_pin_signs_nobody_in(rig: AsteriskRig, service: ServiceProcess) -> None:
    phone = "PJSIP/1008"
    before = len(messages(rig))
    dial(SIGN_IN, phone, f"{NUMBER}#{PAUSE}1111#")
    wait_for(
        lambda: f"phone {phone}: AGENT_RESULT=bad-pin" in messages(rig)[before:],
        25,
        "AGENT_RESULT=bad-pin logged",
    )
    hang_up_test_calls(rig, SIGN_IN)
    assert member_lines(rig, phone) == []
    assert f"phone {phone}: AGENT_RESULT=ok" not in messages(rig)[before:]


class RecordingDesk:
    """Stands in for the agents room: 8001/2580 is right, any other PIN wrong."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    async def sign_in_at_phone(
        self, pbx: str | None, agent_number: str, pin: str, interface: str
    ) -> str:
        self.calls.append(("sign-in", str(pbx), agent_number, pin, interface))
        return "ok" if (agent_number, pin) == (NUMBER, PIN) else "bad-pin"

    async def sign_out_at_phone(self, pbx: str | None, interface: str) -> str:
        self.calls.append(("sign-out", str(pbx), interface))
        return "ok"


async def test_the_dialplan_asks_the_routes_with_the_keys_and_answers_their_result(
    phone_rig: AsteriskRig,
) -> None:
    """The dialplan half alone, with the routes on a stand-in desk: the number and PIN keyed,
    the PBX and the phone reach the routes, a wrong PIN may be keyed again, and a refused
    request leaves AGENT_RESULT at "unavailable"."""
    rig = phone_rig
    desk = RecordingDesk()
    server = FastAgiServer("127.0.0.1", FASTAGI_PORT, PhoneRoutes(desk).handlers())
    await server.start()
    try:
        before = len(await asyncio.to_thread(messages, rig))

        async def logged(text: str) -> bool:
            return text in (await asyncio.to_thread(messages, rig))[before:]

        # A wrong PIN, "Login incorrect", then number and PIN again.
        keys = f"{NUMBER}#{PAUSE}1111#{PAUSE}{PAUSE}{NUMBER}#{PAUSE}{PIN}#"
        await asyncio.to_thread(dial, SIGN_IN, "PJSIP/1007", keys, 40)
        await eventually(lambda: logged("phone PJSIP/1007: AGENT_RESULT=ok"), 40, "signed in")
        assert await logged("phone PJSIP/1007: AGENT_RESULT=bad-pin")
        assert desk.calls == [
            ("sign-in", "rig", NUMBER, "1111", "PJSIP/1007"),
            ("sign-in", "rig", NUMBER, PIN, "PJSIP/1007"),
        ]
        await asyncio.to_thread(dial, SIGN_OUT, "PJSIP/1007", "w")
        # The NOTICE line, written after the AGI call (not the NoOp before it).
        await eventually(lambda: logged("Ext. *61: Agent sign-out at "), 15, "signed out")
        assert desk.calls[-1] == ("sign-out", "rig", "PJSIP/1007")
        lines = (await asyncio.to_thread(messages, rig))[before:].splitlines()
        assert any(
            "Ext. *61:" in line and line.endswith("phone PJSIP/1007: AGENT_RESULT=ok")
            for line in lines
        )
        # Without AGENT_PHONE the phone is the channel's own, here Local/*61@agents-inbound:
        # no phone interface, so refused, and the dialplan keeps its default.
        calls = len(desk.calls)
        await asyncio.to_thread(call_local, SIGN_OUT, "8001", "w", hold=10)
        await eventually(
            lambda: logged("phone : AGENT_RESULT=unavailable"), 15, "the refusal answered"
        )
        assert len(desk.calls) == calls
    finally:
        await server.stop()
        for prefix in (SIGN_IN, SIGN_OUT):
            await asyncio.to_thread(hang_up_test_calls, rig, prefix)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} within {timeout} s")
        await asyncio.sleep(0.2)
