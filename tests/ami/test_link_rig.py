"""The link's byte framing, size cap and value check against the real Asterisk 22 rig.

The reader cuts frames as bytes and decodes each whole; this checks it on real traffic (a
list action, the event filters, a queue call's events) and that a CRLF-smuggling QueueAdd is
refused without Asterisk ever seeing it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from pydantic import SecretStr

from callcenter.ami import actions
from callcenter.ami.errors import AmiBadValue
from callcenter.ami.filters import event_filters
from callcenter.ami.link import AmiLink
from callcenter.rig import AMI_SECRET, AMI_USERNAME, AsteriskRig
from callcenter.settings import PbxSettings
from tests.ami.test_link import until

pytestmark = pytest.mark.rig

RIG_PBX = PbxSettings(
    name="rig",
    username=AMI_USERNAME,
    secret=SecretStr(AMI_SECRET),
    ping_interval=2,
    action_timeout=2,
    reconnect_max_delay=1,
)
MEMBER = "Local/agent1@agents/n"

Events = list[dict[str, str]]


@pytest.fixture
def events() -> Events:
    return []


@pytest.fixture
async def link(rig: AsteriskRig, events: Events) -> AsyncIterator[AmiLink]:
    def sink(_pbx: str, fields: dict[str, str], _at: datetime) -> None:
        events.append(fields)

    ami = AmiLink(RIG_PBX, sink, event_filters=event_filters("CC_"))
    task = asyncio.ensure_future(ami.run())
    try:
        await until(lambda: ami.connected, 10)
        yield ami
    finally:
        await ami.stop()
        await task


async def test_real_traffic_is_framed_and_a_smuggled_action_never_leaves(
    rig: AsteriskRig, link: AmiLink, events: Events
) -> None:
    records = await actions.queue_status(link, "overflow")
    assert any(r.get("Event") == "QueueParams" for r in records)

    smuggled = (
        f"{MEMBER}\r\n\r\nAction: QueueAdd\r\nQueue: overflow\r\nInterface: Local/evil@agents"
    )
    with pytest.raises(AmiBadValue):
        await actions.queue_add(link, "overflow", smuggled)
    await actions.ping(link)
    shown = await asyncio.to_thread(rig.rx, "queue show overflow")
    assert "evil" not in shown and "agent1@agents" not in shown

    await asyncio.to_thread(rig.rx, f"queue add member {MEMBER} to overflow")
    try:
        await asyncio.to_thread(
            rig.rx, "channel originate Local/overflow@local-callers application Wait 2"
        )
        await until(lambda: any(e.get("Event") == "AgentConnect" for e in events), 15)
        await until(lambda: any(e.get("Event") == "AgentComplete" for e in events), 15)
    finally:
        await asyncio.to_thread(rig.rx, f"queue remove member {MEMBER} from overflow")
    names = {e.get("Event") for e in events}
    assert {"QueueCallerJoin", "AgentCalled", "Hangup"} <= names
    assert "Newexten" not in names  # the filters still apply
    assert link.connected
