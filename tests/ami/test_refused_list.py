"""A list action refused outright (QueueStatus while app_queue still loads after a PBX
restart) fails at once with the PBX's words instead of hanging until its timeout."""

from __future__ import annotations

import asyncio

import pytest

from callcenter.ami.errors import AmiRefused
from tests.ami.scripted_peer import ScriptedPeer
from tests.ami.test_link import peer, start_link, until

__all__ = ["peer"]


async def test_a_refused_list_action_fails_at_once(peer: ScriptedPeer) -> None:
    link = await start_link(peer, [])
    try:
        peer.answer_actions = False
        pending = asyncio.ensure_future(
            link.send({"Action": "QueueStatus"}, as_list=True, timeout=10)
        )
        await until(lambda: any(a.get("Action") == "QueueStatus" for a in peer.actions))
        action_id = peer.actions[-1]["ActionID"]
        await peer.push(
            f"Response: Error\r\nActionID: {action_id}\r\nMessage: Invalid/unknown "
            "command: QueueStatus.\r\n\r\n".encode()
        )
        async with asyncio.timeout(1):
            with pytest.raises(AmiRefused, match="Invalid/unknown command"):
                await pending
        assert link._protocol is not None and not link._protocol.responses
        assert link.connected
    finally:
        await link.stop()
