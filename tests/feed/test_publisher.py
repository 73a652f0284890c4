"""The live feed's batching: order kept, a member's superseded states dropped, nothing idle;
and a scoped subscriber's share: its queues' messages and those about no queue."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from callcenter.feed.hub import Hub, Subscriber
from callcenter.feed.publisher import FeedPublisher, queue_of
from callcenter.live import (
    CallerJoined,
    CallerLeft,
    Change,
    Correction,
    Ignored,
    LiveModel,
    MemberChanged,
    QueueParamsView,
    parse_event,
)
from tests.live import amitrace as ami

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


# --------------------------------------------------------------------------- team scope


def billing_call() -> list[Change]:
    """A member added to "billing", a caller who waits there, gives up and hangs up."""
    model = LiveModel()
    caller = ami.Caller("1.5", "13800138005")
    changes: list[Change] = []
    for fields in (
        ami.member("QueueMemberAdded", ami.T0, "billing", ami.Agent("PJSIP/1005", "Agent 5")),
        ami.join(ami.T0, "billing", caller, 1, 1),
        ami.abandon(ami.T0 + timedelta(seconds=5), "billing", caller, 1, 1, 5),
        ami.leave(ami.T0 + timedelta(seconds=5), "billing", caller, 1, 0),
        ami.hangup(ami.T0 + timedelta(seconds=6), caller),
    ):
        event = parse_event("rig", fields, ami.T0)
        assert event is not None
        changes += model.apply(event)
    return changes


def test_every_change_names_its_queue_but_an_ignored_event() -> None:
    changes = billing_call()
    assert [type(c).__name__ for c in changes] == [
        "QueueChanged",
        "MemberChanged",
        "CallerJoined",
        "CallerLeft",
        "CallEnded",
    ]
    assert {queue_of(c) for c in changes} == {"billing"}
    joined = changes[2]
    assert isinstance(joined, CallerJoined)
    params = QueueParamsView("ringall", 0, 20, 0)
    for kind, key, before, after in (
        ("queue_params", ("rig", "billing"), None, params),
        ("member_removed", ("rig", "billing", "PJSIP/1005"), None, None),
        ("caller_detached", ("rig", "1.5"), joined.caller, None),
    ):
        assert queue_of(Correction(AT, "rig", kind, key, before, after)) == "billing", kind
    assert queue_of(Ignored(AT, "rig", "AgentCalled", ("rig", "9.9"), "no such call")) is None


def received(subscriber: Subscriber) -> list[dict[str, Any]]:
    return [
        json.loads(subscriber.queue.get_nowait() or "") for _ in range(subscriber.queue.qsize())
    ]


async def test_a_scoped_subscriber_gets_its_queues_and_what_is_about_no_queue() -> None:
    hub = Hub()
    everything = hub.subscribe()
    assert not hub.narrowed  # nobody scoped: the plain loop, no queue looked up
    lead = hub.subscribe({"support"}.__contains__)
    assert hub.narrowed
    feed = FeedPublisher(hub, interval=0.01)
    for change in (*billing_call(), member("PJSIP/1001", "inuse"), left("1.1")):
        feed(change)
    await asyncio.sleep(0.05)
    # Published by other rooms as text: read from the text's own "queue".
    hub.publish(json.dumps({"type": "PbxLink", "pbx": "rig", "state": "connected"}))
    hub.publish(json.dumps({"type": "RoutingLevel", "pbx": "rig", "queue": "billing"}))
    hub.publish(json.dumps({"type": "RoutingLevel", "pbx": "rig", "queue": "support"}))

    kinds = [(m["type"], m.get("queue")) for m in received(lead)]
    assert kinds == [
        ("MemberChanged", "support"),
        ("CallerLeft", "support"),
        ("PbxLink", None),
        ("RoutingLevel", "support"),
    ]
    assert len(received(everything)) == 10
    hub.unsubscribe(lead)
    assert not hub.narrowed
    hub.publish(json.dumps({"type": "RoutingLevel", "pbx": "rig", "queue": "billing"}))
    assert lead.queue.empty() and everything.queue.qsize() == 1
