"""panoramisk trap 2: an ack saying "successfully queued" without an ``Async`` header.

panoramisk 1.4 takes such an ack (PlayDTMF, Atxfer...) for the start of an async action and
raises ``KeyError`` inside ``data_received``; through the link it must resolve as a plain answer
and leave the connection up.
"""

from __future__ import annotations

import asyncio

from tests.ami.scripted_peer import ScriptedPeer
from tests.ami.test_link import peer, start_link, until

__all__ = ["peer"]


async def test_successfully_queued_ack_without_async_resolves(peer: ScriptedPeer) -> None:
    received: list[tuple[str, dict[str, str]]] = []
    link = await start_link(peer, received)
    try:
        peer.answer_actions = False
        pending = asyncio.ensure_future(
            link.send(
                {"Action": "PlayDTMF", "Channel": "PJSIP/1001-00000001", "Digit": "5"},
                as_list=False,
            )
        )
        await until(lambda: any(a.get("Action") == "PlayDTMF" for a in peer.actions))
        action_id = next(a["ActionID"] for a in peer.actions if a.get("Action") == "PlayDTMF")
        await peer.push(
            f"Response: Success\r\nActionID: {action_id}\r\n"
            "Message: DTMF successfully queued\r\n\r\n".encode()
            + b"Event: AfterAck\r\nN: 1\r\n\r\n"
        )
        reply = await asyncio.wait_for(pending, 2)
        assert reply["Message"] == "DTMF successfully queued"
        await until(lambda: [f["Event"] for _, f in received] == ["AfterAck"])
        assert link.connected
        peer.answer_actions = True
        assert (await link.send({"Action": "CoreStatus"}))["Response"] == "Success"
    finally:
        await link.stop()
