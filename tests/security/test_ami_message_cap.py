"""Item 3: one AMI message may not grow past ``pbx.max_message_bytes`` (default 1 MiB).

A peer once had 16 MB without a frame end buffered. Now the reader drops the connection with
a logged reason as soon as the unfinished message passes the limit, and the link reconnects
with its usual back-off.
"""

from __future__ import annotations

import contextlib
import logging

import pytest

from callcenter.settings import PbxSettings
from tests.ami.scripted_peer import ScriptedPeer
from tests.ami.test_link import Received, peer, start_link, until

__all__ = ["peer"]

MIB = 1024 * 1024


async def test_two_mib_without_a_frame_end_drops_and_reconnects(
    peer: ScriptedPeer, caplog: pytest.LogCaptureFixture
) -> None:
    received: Received = []
    states: list[str] = []
    link = await start_link(peer, received, states)
    try:
        assert link.settings.max_message_bytes == MIB  # the default
        with caplog.at_level(logging.WARNING), contextlib.suppress(ConnectionError):
            await peer.push(b"Event: Flood\r\nData: " + b"x" * (2 * MIB))
        await until(lambda: peer.logins == 2)  # dropped, then logged in again
        await until(lambda: link.connected)
        assert any(f"over {MIB} bytes without a frame end" in s for s in states)
        assert f"over {MIB} bytes without a frame end" in caplog.text
        # The new connection works: events and actions flow again.
        await peer.push(b"Event: FullyBooted\r\nStatus: Fully Booted\r\n\r\n")
        await until(lambda: len(received) == 1)
        assert (await link.send({"Action": "Ping"}))["Response"] == "Success"
    finally:
        await link.stop()


async def test_a_whole_message_over_the_limit_is_refused_too(peer: ScriptedPeer) -> None:
    received: Received = []
    states: list[str] = []
    link = await start_link(peer, received, states, max_message_bytes=4096)
    try:
        small = b"Event: A\r\nN: 1\r\n\r\n"
        with contextlib.suppress(ConnectionError):
            await peer.push(small + b"Event: Big\r\nData: " + b"y" * 8192 + b"\r\n\r\n" + small)
        await until(lambda: peer.logins == 2)
        assert [f["Event"] for _, f in received] == ["A"]  # nothing after the oversize one
        assert any("4096" in s for s in states)
    finally:
        await link.stop()


def test_the_limit_is_a_pbx_setting_with_a_sane_range() -> None:
    base = {"name": "p", "username": "u", "secret": "s"}
    assert PbxSettings.model_validate(base).max_message_bytes == MIB
    with pytest.raises(ValueError, match="max_message_bytes"):
        PbxSettings.model_validate({**base, "max_message_bytes": 10})
