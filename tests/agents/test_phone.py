"""The phone feature code's FastAGI routes over real sockets, with a fake desk."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from callcenter.agents.phone import PhoneDesk, PhoneRoutes, interface_of_channel
from callcenter.ivr.agi import FastAgiServer
from tests.ivr.agi_client import AgiCall, call_route

PIN = "739164"  # in no other value of these tests, so a log line holding it is found


class FakeDesk:
    """Answers from ``answers`` (default "ok"), records every call, or raises ``error``."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.answer = "ok"
        self.error: Exception | None = None

    async def sign_in_at_phone(
        self, pbx: str | None, agent_number: str, pin: str, interface: str
    ) -> str:
        self.calls.append(("sign-in", pbx, agent_number, pin, interface))
        if self.error is not None:
            raise self.error
        return self.answer

    async def sign_out_at_phone(self, pbx: str | None, interface: str) -> str:
        self.calls.append(("sign-out", pbx, interface))
        if self.error is not None:
            raise self.error
        return self.answer


def _is_a_phone_desk(desk: FakeDesk) -> PhoneDesk:
    return desk  # mypy checks the fake against the port


@pytest.fixture
def desk() -> FakeDesk:
    return FakeDesk()


@pytest.fixture
async def port(desk: FakeDesk) -> AsyncIterator[int]:
    server = FastAgiServer(
        "127.0.0.1", 0, PhoneRoutes(_is_a_phone_desk(desk)).handlers(), header_timeout=0.5
    )
    await server.start()
    yield server.bound_port
    await server.stop()


async def _call(
    port: int, route: str, args: list[str], channel: str = "PJSIP/1003-0000002a"
) -> AgiCall:
    return await call_route(port, route, args, channel=channel)


def test_interface_of_channel() -> None:
    assert interface_of_channel("PJSIP/1001-0000002a") == "PJSIP/1001"
    assert interface_of_channel("Local/x@ctx-0000001;2") == "Local/x@ctx"
    assert interface_of_channel("Local/*60@agents-inbound-00000012;1") == "Local/*60@agents-inbound"
    # Dashes inside the resource stay; only the unique tail goes.
    assert interface_of_channel("PJSIP/desk-3-0000000b") == "PJSIP/desk-3"
    assert interface_of_channel("SIP/trunk-a-0000ff01") == "SIP/trunk-a"
    assert interface_of_channel("PJSIP/1001") == "PJSIP/1001"
    assert interface_of_channel(" PJSIP/1001-0000002a ") == "PJSIP/1001"
    # Not a channel name: returned as it is (the route then refuses it).
    assert interface_of_channel("") == ""
    assert interface_of_channel("nonsense-00000001") == "nonsense-00000001"


async def test_sign_in_asks_the_desk_and_answers_its_result(port: int, desk: FakeDesk) -> None:
    call = await _call(port, "agent-sign-in", ["rig", "8001", PIN])
    assert call.closed_by_server
    assert call.variables == {"AGENT_RESULT": "ok"}
    # The phone is the calling channel's.
    assert desk.calls == [("sign-in", "rig", "8001", PIN, "PJSIP/1003")]
    desk.answer = "phone-taken"
    taken = await _call(port, "agent-sign-in", ["rig", "8001", PIN, "PJSIP/1009"])
    assert taken.variables == {"AGENT_RESULT": "phone-taken"}
    assert desk.calls[-1] == ("sign-in", "rig", "8001", PIN, "PJSIP/1009")


async def test_the_phone_of_a_local_channel(port: int, desk: FakeDesk) -> None:
    await _call(port, "agent-sign-in", ["rig", "8001", PIN], channel="Local/x@phones-0000001;2")
    await _call(port, "agent-sign-out", ["rig"], channel="Local/x@phones-0000001;2")
    assert [c[-1] for c in desk.calls] == ["Local/x@phones", "Local/x@phones"]


async def test_no_pbx_name_is_none_for_the_desk(port: int, desk: FakeDesk) -> None:
    await _call(port, "agent-sign-in", ["", "8001", PIN])
    await _call(port, "agent-sign-out", [])
    assert desk.calls == [
        ("sign-in", None, "8001", PIN, "PJSIP/1003"),
        ("sign-out", None, "PJSIP/1003"),
    ]


async def test_sign_out_asks_the_desk_for_the_phone(port: int, desk: FakeDesk) -> None:
    desk.answer = "not-signed-in"
    call = await _call(port, "agent-sign-out", ["rig", "PJSIP/1009"])
    assert call.variables == {"AGENT_RESULT": "not-signed-in"}
    assert desk.calls == [("sign-out", "rig", "PJSIP/1009")]


@pytest.mark.parametrize(
    "answer", ["bad-pin", "locked", "unknown-agent", "signed-in-elsewhere", "no-queues"]
)
async def test_each_reason_reaches_the_dialplan(port: int, desk: FakeDesk, answer: str) -> None:
    desk.answer = answer
    call = await _call(port, "agent-sign-in", ["rig", "8001", PIN])
    assert call.variables == {"AGENT_RESULT": answer}


@pytest.mark.parametrize(
    ("route", "args", "what"),
    [
        ("agent-sign-in", ["rig", "80a1", PIN], "agent number"),
        ("agent-sign-in", ["rig", "", PIN], "agent number"),
        ("agent-sign-in", ["rig", "12345678901234567", PIN], "agent number"),
        ("agent-sign-in", ["rig", "\u0668001", PIN], "agent number"),  # Arabic-Indic 8
        ("agent-sign-in", ["rig", "8001", "123"], "PIN"),
        ("agent-sign-in", ["rig", "8001", "123456789"], "PIN"),
        ("agent-sign-in", ["rig", "8001", "12*4"], "PIN"),
        ("agent-sign-in", ["rig", "8001", ""], "PIN"),
        ("agent-sign-in", ["Rig Main", "8001", PIN], "PBX name"),
        ("agent-sign-in", ["rig", "8001", PIN, "1003"], "interface"),
        ("agent-sign-in", ["rig", "8001", PIN, "PJSIP/1003)"], "interface"),
        ("agent-sign-in", ["rig", "8001", PIN, "PJSIP/10 03"], "interface"),
        ("agent-sign-out", ["rig", "PJSIP/1003,x"], "interface"),
        ("agent-sign-out", ["rig/x"], "PBX name"),
    ],
)
async def test_bad_values_are_refused_and_the_desk_never_asked(
    port: int,
    desk: FakeDesk,
    caplog: pytest.LogCaptureFixture,
    route: str,
    args: list[str],
    what: str,
) -> None:
    with caplog.at_level(logging.WARNING):
        call = await _call(port, route, args)
    assert call.closed_by_server
    assert desk.calls == []
    # Refused the server's way: a VERBOSE without the value, no AGENT_RESULT set (the
    # dialplan keeps its default), one warning line naming what was wrong.
    assert call.variables == {}
    assert [c.split(" ", 1)[0] for c in call.commands] == ["VERBOSE"]
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert what in record.getMessage() and record.exc_info is None


async def test_a_channel_that_is_no_phone_is_refused(port: int, desk: FakeDesk) -> None:
    call = await _call(port, "agent-sign-out", ["rig"], channel="")
    assert call.variables == {} and desk.calls == []


async def test_the_pin_is_never_logged(
    port: int, desk: FakeDesk, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        await _call(port, "agent-sign-in", ["rig", "8001", PIN])
        desk.answer = "bad-pin"
        await _call(port, "agent-sign-in", ["rig", "8001", PIN, "PJSIP/1009"])
        desk.error = RuntimeError(f"database down while checking {PIN}")
        failed = await _call(port, "agent-sign-in", ["rig", "8001", PIN])
        await _call(port, "agent-sign-in", ["rig", "8001", PIN + "12345"])  # refused
    assert failed.variables == {"AGENT_RESULT": "unavailable"}
    lines = [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    assert lines and not [line for line in lines if PIN in line]
    # One line per attempt that reached the desk, saying who, where and what came of it.
    attempts = [r.getMessage() for r in caplog.records if r.name == "callcenter.agents.phone"]
    assert any(
        "agent=8001" in m and "interface=PJSIP/1003" in m and m.endswith(": ok") for m in attempts
    )
    assert any("interface=PJSIP/1009" in m and m.endswith(": bad-pin") for m in attempts)


async def test_an_unknown_answer_of_the_desk_is_passed_on_safely(port: int, desk: FakeDesk) -> None:
    desk.answer = 'new-reason"\r\nEXEC Dial'
    call = await _call(port, "agent-sign-out", ["rig"])
    assert call.variables == {"AGENT_RESULT": "new-reasonexecdial"}
