from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from callcenter.live import MalformedEvent, parse_event
from callcenter.live.events import (
    AgentCalled,
    AgentComplete,
    AgentConnect,
    AgentDump,
    AgentRingNoAnswer,
    CoreShowChannel,
    Event,
    Hangup,
    MemberEvent,
    QueueCallerAbandon,
    QueueCallerJoin,
    QueueCallerLeave,
    QueueEntry,
    QueueMember,
    QueueMemberAdded,
    QueueMemberPause,
    QueueMemberPenalty,
    QueueMemberRemoved,
    QueueMemberRinginuse,
    QueueMemberStatus,
    QueueParams,
    VarSet,
)
from tests.live import amitrace as ami

CALLER = ami.Caller("1741000000.101", "13800138000", "张三")
AGENT = ami.Agent("PJSIP/8001", "Li Lei")
RECEIVED = datetime(2025, 3, 3, 10, 0, 0, tzinfo=UTC)


def parse(fields: dict[str, str]) -> Event | None:
    return parse_event("pbx-a", fields, RECEIVED)


def test_join_uses_timestamp_and_caller_snapshot() -> None:
    event = parse(ami.join(ami.T0, "support", CALLER, 1, 1))
    assert event == QueueCallerJoin(
        "pbx-a",
        ami.T0,
        "support",
        1,
        1,
        CALLER.channel,
        CALLER.uniqueid,
        CALLER.uniqueid,
        "13800138000",
        "张三",
    )


def test_leave_and_abandon() -> None:
    leave = parse(ami.leave(ami.T0, "support", CALLER, 2, 1))
    assert isinstance(leave, QueueCallerLeave)
    assert (leave.position, leave.count) == (2, 1)
    abandon = parse(ami.abandon(ami.T0, "support", CALLER, 2, 3, 17))
    assert isinstance(abandon, QueueCallerAbandon)
    assert (abandon.position, abandon.original_position, abandon.hold_time) == (2, 3, 17)


def test_agent_events_split_caller_and_member_channels() -> None:
    leg = AGENT.leg()
    called = parse(ami.called(ami.T0, "support", CALLER, AGENT, leg))
    assert isinstance(called, AgentCalled)
    assert called.uniqueid == CALLER.uniqueid  # the caller's, unprefixed
    assert called.dest_channel == leg[0]
    assert called.dest_uniqueid == leg[1]
    assert (called.interface, called.member_name) == ("PJSIP/8001", "Li Lei")


def test_ring_times_keep_their_units() -> None:
    leg = AGENT.leg()
    rna = parse(ami.ring_no_answer(ami.T0, "support", CALLER, AGENT, leg, 15023))
    assert isinstance(rna, AgentRingNoAnswer)
    assert rna.ring_time_ms == 15023
    conn = parse(ami.connect(ami.T0, "support", CALLER, AGENT, leg, hold=12, ring=3))
    assert isinstance(conn, AgentConnect)
    assert (conn.hold_time, conn.ring_time) == (12, 3)
    done = parse(ami.complete(ami.T0, "support", CALLER, AGENT, leg, 12, 95, "agent"))
    assert isinstance(done, AgentComplete)
    assert (done.talk_time, done.reason) == (95, "agent")
    dump = parse({**ami.called(ami.T0, "support", CALLER, AGENT, leg), "Event": "AgentDump"})
    assert isinstance(dump, AgentDump)


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        ("QueueMemberAdded", QueueMemberAdded),
        ("QueueMemberRemoved", QueueMemberRemoved),
        ("QueueMemberStatus", QueueMemberStatus),
        ("QueueMemberPause", QueueMemberPause),
        ("QueueMemberPenalty", QueueMemberPenalty),
        ("QueueMemberRinginuse", QueueMemberRinginuse),
    ],
)
def test_member_events(kind: str, cls: type) -> None:
    event = parse(
        ami.member(
            kind,
            ami.T0,
            "support",
            AGENT,
            status=6,
            paused=True,
            reason="lunch",
            penalty=2,
            calls=4,
            wrapup=10,
        )
    )
    assert isinstance(event, cls)
    assert isinstance(event, MemberEvent)
    assert event.interface == "PJSIP/8001"
    assert event.member_name == "Li Lei"
    assert (event.status, event.paused, event.paused_reason) == (6, True, "lunch")
    assert (event.penalty, event.calls_taken, event.wrapup_time) == (2, 4, 10)
    assert event.ringinuse is False
    assert event.membership == "dynamic"


def test_member_event_missing_optional_fields_are_none() -> None:
    event = parse({"Event": "QueueMemberStatus", "Queue": "q", "Interface": "PJSIP/1"})
    assert isinstance(event, QueueMemberStatus)
    assert event.status is None and event.paused is None and event.penalty is None


def test_queue_status_records_use_name_and_location() -> None:
    member = parse(ami.queue_member("support", AGENT, paused=True, reason="stuck"))
    assert isinstance(member, QueueMember)
    assert (member.interface, member.member_name, member.paused) == ("PJSIP/8001", "Li Lei", True)
    assert member.ringinuse is None  # QueueStatus does not send it
    params = parse(ami.queue_params("support", strategy="leastrecent", service_level=30))
    assert isinstance(params, QueueParams)
    assert (params.strategy, params.service_level) == ("leastrecent", 30)
    entry = parse(ami.queue_entry("support", CALLER, 2, 40, priority=5))
    assert isinstance(entry, QueueEntry)
    assert (entry.position, entry.wait, entry.priority) == (2, 40, 5)
    channel = parse(ami.core_show_channel(CALLER))
    assert isinstance(channel, CoreShowChannel)
    assert channel.uniqueid == CALLER.uniqueid


def test_hangup() -> None:
    event = parse(ami.hangup(ami.T0, CALLER, cause=17))
    assert isinstance(event, Hangup)
    assert (event.uniqueid, event.cause) == (CALLER.uniqueid, 17)


def test_var_set_only_for_prefix_and_queuestatus() -> None:
    ivr = parse(ami.var_set(ami.T0, CALLER, "CC_ACCOUNT", "A-1001"))
    assert isinstance(ivr, VarSet)
    assert (ivr.variable, ivr.value) == ("CC_ACCOUNT", "A-1001")
    inherited = parse(ami.var_set(ami.T0, CALLER, "__CC_LANG", "zh"))
    assert isinstance(inherited, VarSet) and inherited.variable == "CC_LANG"
    status = parse(ami.var_set(ami.T0, CALLER, "QUEUESTATUS", "TIMEOUT"))
    assert isinstance(status, VarSet) and status.value == "TIMEOUT"
    assert parse(ami.var_set(ami.T0, CALLER, "BRIDGEPEER", "PJSIP/8001-01")) is None
    custom = parse_event(
        "pbx-a", ami.var_set(ami.T0, CALLER, "IVR_X", "1"), RECEIVED, var_prefix="IVR_"
    )
    assert isinstance(custom, VarSet)


def test_unknown_or_nameless_events_are_none() -> None:
    assert parse({"Event": "Newexten", "Channel": "x"}) is None
    assert parse({"Response": "Success"}) is None


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (
            {"Event": "QueueCallerJoin", "Position": "1", "Count": "1", "Uniqueid": "u"},
            "missing Queue",
        ),
        (
            {
                "Event": "QueueCallerJoin",
                "Queue": "q",
                "Position": "first",
                "Count": "1",
                "Uniqueid": "u",
            },
            "Position is not an integer",
        ),
        (
            {
                "Event": "AgentRingNoAnswer",
                "Queue": "q",
                "Interface": "i",
                "Uniqueid": "u",
                "RingTime": "1.5",
            },
            "RingTime is not an integer",
        ),
        (
            {"Event": "QueueMemberPause", "Queue": "q", "Interface": "i", "Paused": "maybe"},
            "Paused is not a flag",
        ),
        ({"Event": "Hangup", "Channel": "c"}, "missing Uniqueid"),
    ],
)
def test_malformed(fields: dict[str, str], reason: str) -> None:
    with pytest.raises(MalformedEvent) as info:
        parse(fields)
    assert info.value.kind == fields["Event"]
    assert reason in info.value.reason
    assert isinstance(info.value, ValueError)


def test_timestamp_fallbacks() -> None:
    base = {"Event": "Hangup", "Uniqueid": "u", "Channel": "c"}
    stamped = parse({**base, "Timestamp": "1741000000.250000"})
    assert isinstance(stamped, Hangup)
    assert stamped.at == datetime.fromtimestamp(1741000000.25, UTC)
    for bad in ("", "soon", "nan", "-5", "inf", "1e30"):
        event = parse({**base, "Timestamp": bad})
        assert isinstance(event, Hangup)
        assert event.at == RECEIVED, bad
    naive = parse_event("p", base, datetime(2025, 1, 1, 8, 0))
    assert isinstance(naive, Hangup)
    assert naive.at == datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
    shanghai = timezone(timedelta(hours=8))
    local = parse_event("p", base, datetime(2025, 1, 1, 16, 0, tzinfo=shanghai))
    assert isinstance(local, Hangup)
    assert local.at == datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
    assert local.at.tzinfo is UTC


def test_events_are_frozen() -> None:
    event = parse(ami.hangup(ami.T0, CALLER))
    assert isinstance(event, Hangup)
    with pytest.raises(AttributeError):
        event.uniqueid = "x"  # type: ignore[misc]
