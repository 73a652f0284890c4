"""Item 1: nothing with CR, LF or NUL in a header name or value reaches the PBX.

A routing policy's member interface with CRLF once made the service send a second, arbitrary
``Originate``. The link's ``send`` (the one door of every action) refuses such an action with
``AmiBadValue``, logs it on one line, and writes nothing.
"""

from __future__ import annotations

import logging

import pytest

from callcenter.ami import actions
from callcenter.ami.errors import AmiBadValue
from callcenter.ami.protocol import frame_problem
from tests.ami.scripted_peer import ScriptedPeer
from tests.ami.test_link import peer, start_link, until

__all__ = ["peer"]

SMUGGLED = "PJSIP/1001\r\n\r\nAction: Originate\r\nChannel: PJSIP/premium-rate\r\nExten: 900"


@pytest.mark.parametrize(
    "fields",
    [
        {"Action": "QueueAdd", "Queue": "support", "Interface": SMUGGLED},
        {"Action": "QueueAdd", "Queue": "support", "Interface": "PJSIP/1001\nAction: Originate"},
        {"Action": "QueueAdd", "Queue": "support", "Interface": "PJSIP/1001\rX"},
        {"Action": "QueueAdd", "Queue": "support", "Interface": "PJSIP/1001\x00"},
        {"Action": "QueueAdd", "Queue": "support", "Interface\r\nAction: Originate": "x"},
        {"Action": "QueueAdd\r\n\r\nAction: Originate"},
        {"Action": "QueueAdd", "Queue: support": "x"},
    ],
    ids=["crlf-frame", "lf", "cr", "nul", "name-crlf", "action-name", "name-colon"],
)
async def test_a_breaking_value_is_refused_and_nothing_reaches_the_pbx(
    peer: ScriptedPeer, caplog: pytest.LogCaptureFixture, fields: dict[str, str]
) -> None:
    link = await start_link(peer, [])
    try:
        before = len(peer.received)
        with caplog.at_level(logging.WARNING), pytest.raises(AmiBadValue) as refused:
            await link.send(fields)
        assert refused.value.pbx == "t"
        # The connection is still fine, and the next action is the only thing written.
        reply = await link.send({"Action": "Ping"})
        assert reply["Response"] == "Success"
        await until(lambda: peer.actions[-1].get("Action") == "Ping")
        written = bytes(peer.received[before:])
        assert written.startswith(b"Action: Ping\r\n") and written.count(b"Action:") == 1
        assert b"Originate" not in peer.received
        assert link.connected
    finally:
        await link.stop()
    logged = [r.getMessage() for r in caplog.records if "action refused" in r.getMessage()]
    assert len(logged) == 1
    assert "\r" not in logged[0] and "\n" not in logged[0]  # repr'd: one log line


async def test_the_routing_path_queue_add_is_refused(peer: ScriptedPeer) -> None:
    link = await start_link(peer, [])
    try:
        with pytest.raises(AmiBadValue, match="Interface"):
            await actions.queue_add(link, "support", SMUGGLED, member_name="overflow")
        assert not any(a.get("Action") in ("QueueAdd", "Originate") for a in peer.actions)
    finally:
        await link.stop()


async def test_a_refused_secret_is_never_shown(
    peer: ScriptedPeer, caplog: pytest.LogCaptureFixture
) -> None:
    link = await start_link(peer, [])
    try:
        with caplog.at_level(logging.DEBUG), pytest.raises(AmiBadValue) as refused:
            await link.send({"Action": "Login", "Username": "cc", "Secret": "s3cr3t\r\nX: y"})
        assert "(hidden)" in refused.value.message
        assert "s3cr3t" not in refused.value.message and "s3cr3t" not in caplog.text
    finally:
        await link.stop()


def test_frame_problem_checks_every_item_of_a_list_value() -> None:
    assert frame_problem({"Action": "Originate", "Variable": ["A=1", "B=2"]}) is None
    problem = frame_problem({"Action": "Originate", "Variable": ["A=1", "B=2\r\nC"]})
    assert problem is not None and "'B=2\\r\\nC'" in problem
    assert frame_problem({"": "x"}) is not None
    assert frame_problem({"Action": "Ping", "Data": "王小明, ok: yes"}) is None
