"""The live feed's batching: order kept, a member's superseded states dropped, nothing idle."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from callcenter.feed.hub import Hub
from callcenter.feed.publisher import FeedPublisher
from callcenter.live import CallerLeft, MemberChanged

AT = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def member(interface: str, cause: str) -> MemberChanged:
    return MemberChanged(
        at=AT,
        pbx="rig",
        queue="support",
        interface=interface,
        member=None,
        previous=None,
        cause=cause,
    )


def left(uniqueid: str) -> CallerLeft:
    return CallerLeft(
        at=AT,
        pbx="rig",
        queue="support",
        uniqueid=uniqueid,
        position=1,
        waited_seconds=3.0,
        reason="connected",
        count=0,
    )


async def test_batches_keep_order_and_only_the_latest_state_of_a_member() -> None:
    hub = Hub()
    subscriber = hub.subscribe()
    feed = FeedPublisher(hub, interval=0.01)
    for change in (
        member("PJSIP/1001", "ringing"),
        left("1.1"),
        member("PJSIP/1002", "x"),
        member("PJSIP/1001", "inuse"),
        left("1.2"),
    ):
        feed(change)
    assert subscriber.queue.empty()  # nothing leaves before the batch is due
    await asyncio.sleep(0.05)
    sent = [
        json.loads(subscriber.queue.get_nowait() or "") for _ in range(subscriber.queue.qsize())
    ]
    assert [(m["type"], m.get("interface") or m.get("uniqueid"), m.get("cause")) for m in sent] == [
        ("MemberChanged", "PJSIP/1001", "inuse"),
        ("CallerLeft", "1.1", None),
        ("MemberChanged", "PJSIP/1002", "x"),
        ("CallerLeft", "1.2", None),
    ]
    assert "previous" not in sent[0]


async def test_nothing_is_kept_or_serialised_without_subscribers() -> None:
    hub = Hub()
    feed = FeedPublisher(hub, interval=0.01)
    feed(left("1.1"))
    assert feed._timer is None and not feed._pending
    subscriber = hub.subscribe()
    feed(left("1.2"))
    feed.close()
    await asyncio.sleep(0.03)
    assert subscriber.queue.empty()
