"""The AMI link's guards around panoramisk 1.4's traps, against a scripted peer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from pydantic import SecretStr

from callcenter.ami.errors import AmiTimeout, AmiUnavailable
from callcenter.ami.link import AmiLink, LinkState, backoff_delay
from callcenter.settings import PbxSettings
from tests.ami.scripted_peer import ScriptedPeer

Received = list[tuple[str, dict[str, str]]]


def pbx_settings(port: int, **extra: object) -> PbxSettings:
    values: dict[str, object] = dict(
        name="t",
        host="127.0.0.1",
        port=port,
        username="cc",
        secret=SecretStr("peer-secret"),
        ping_interval=30,
        action_timeout=0.5,
        reconnect_max_delay=0.2,
    )
    values.update(extra)
    return PbxSettings.model_validate(values)


async def until(condition: object, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.02)


@pytest.fixture
async def peer() -> AsyncIterator[ScriptedPeer]:
    server = ScriptedPeer()
    yield server
    await server.close()


async def start_link(
    peer: ScriptedPeer, received: Received, states: list[str] | None = None, **extra: object
) -> AmiLink:
    port = await peer.start()

    def sink(pbx: str, fields: dict[str, str], _at: datetime) -> None:
        if fields.get("Event") == "Boom":
            raise RuntimeError("handler bug")
        received.append((pbx, fields))

    def on_state(link: AmiLink) -> None:
        if states is not None:
            states.append(f"{link.state.value}: {link.last_error}")

    link = AmiLink(pbx_settings(port, **extra), sink, on_state=on_state, base_delay=0.05)
    asyncio.get_running_loop().create_task(link.run())
    await peer.wait_login()
    await until(lambda: link.connected)
    return link


async def test_chinese_name_split_across_reads_arrives_whole(peer: ScriptedPeer) -> None:
    received: Received = []
    link = await start_link(peer, received)
    try:
        frame = ("Event: QueueCallerJoin\r\nCallerIDName: 王小明\r\nUniqueid: 1.1\r\n\r\n").encode()
        cut = frame.index("小".encode()) + 1  # in the middle of a three-byte character
        await peer.push(frame[:cut], frame[cut:])
        await until(lambda: len(received) == 1)
        assert received[0][1]["CallerIDName"] == "王小明"
        assert received[0][0] == "t"
    finally:
        await link.stop()


async def test_a_raising_handler_loses_no_event_and_keeps_the_link(peer: ScriptedPeer) -> None:
    received: Received = []
    link = await start_link(peer, received)
    try:
        chunk = b"".join(
            f"Event: {name}\r\nN: {i}\r\n\r\n".encode()
            for i, name in enumerate(["A", "Boom", "B", "Boom", "C"])
        )
        await peer.push(chunk)
        await until(lambda: len(received) == 3)
        assert [f["Event"] for _, f in received] == ["A", "B", "C"]
        assert link.connected
        reply = await link.send({"Action": "CoreStatus"})
        assert reply["Response"] == "Success"
    finally:
        await link.stop()


async def test_every_action_times_out_and_is_forgotten(peer: ScriptedPeer) -> None:
    link = await start_link(peer, [])
    try:
        peer.answer_actions = False
        with pytest.raises(AmiTimeout):
            await link.send({"Action": "QueueStatus"}, as_list=True, timeout=0.2)
        assert link._protocol is not None and not link._protocol.responses
        assert link.connected
    finally:
        await link.stop()


async def test_pending_action_fails_at_once_when_the_link_drops(peer: ScriptedPeer) -> None:
    link = await start_link(peer, [])
    try:
        peer.answer_actions = False
        pending = asyncio.ensure_future(link.send({"Action": "QueueStatus"}, timeout=30))
        await asyncio.sleep(0.1)
        peer.drop()
        with pytest.raises(AmiUnavailable):
            await asyncio.wait_for(pending, 2)
        await peer.wait_login()  # and it came back on its own
        await until(lambda: link.connected)
        assert peer.logins == 2
    finally:
        await link.stop()


async def test_a_silent_pbx_is_detected_by_the_missing_pong(peer: ScriptedPeer) -> None:
    states: list[str] = []
    link = await start_link(peer, [], states, ping_interval=0.2, action_timeout=0.3)
    try:
        peer.answer_pings = False
        await until(lambda: peer.logins >= 2, timeout=5)
        assert "disconnected: no answer to Ping" in states
    finally:
        await link.stop()


async def test_refused_login_is_reported_without_the_secret(
    peer: ScriptedPeer, caplog: pytest.LogCaptureFixture
) -> None:
    port = await peer.start()
    link = AmiLink(
        pbx_settings(port, secret=SecretStr("wrong-secret-xyz")), lambda *_: None, base_delay=0.05
    )
    task = asyncio.get_running_loop().create_task(link.run())
    with caplog.at_level(logging.DEBUG):
        await until(lambda: link.state is LinkState.AUTH_FAILED)
        await link.stop()
        await task
    assert "login refused" in link.last_error
    assert "wrong-secret-xyz" not in caplog.text


def test_backoff_grows_to_the_cap_with_jitter() -> None:
    delays = [backoff_delay(n, 0.5, 30, 1.0) for n in range(10)]
    assert delays[:4] == [0.5, 1.0, 2.0, 4.0]
    assert max(delays) == 30
    assert backoff_delay(3, 0.5, 30, 0.0) == 2.0
