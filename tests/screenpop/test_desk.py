"""The pop decisions, pure: cards, who gets them, when they are marked or withdrawn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from callcenter.customers.index import CallHistory, Customer, CustomerIndex, PastCall
from callcenter.customers.phones import lookup_key
from callcenter.live.changes import (
    CallConnected,
    CallEnded,
    CallerLeft,
    CallRecord,
    CallRinging,
    CallRingNoAnswer,
)
from callcenter.screenpop.desk import Found, PopDesk

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
WANG = Customer(7, "王五", ("+8613800138000",), "A7", 3, "zh", ("金卡",), "prefers mornings")
ZHAO = Customer(8, "赵六", ("+8613900139000",), "A8", 0, "en", (), "")


def _index() -> tuple[CustomerIndex, CallHistory]:
    history = CallHistory(per_number=5)
    for minutes in range(7):
        answered = minutes % 2 == 1
        history.add(
            "+8613800138000",
            PastCall(
                "rig",
                f"u{minutes}",
                "support",
                T0 - timedelta(days=1, minutes=-minutes),
                "answered" if answered else "abandoned",
                "Agent 1001" if answered else None,
                3.0,
                60.0 if answered else None,
                answered_by="PJSIP/1001" if answered else None,
            ),
        )
    return CustomerIndex([WANG, ZHAO]), history


def _desk() -> PopDesk:
    index, history = _index()

    def lookup(number: str, account: str | None) -> Found:
        customer, matched = index.find(lookup_key(number, "CN"), account)
        calls = history.latest(customer.phones[0]) if customer else []
        return Found(customer, matched, calls)

    return PopDesk(lookup, "CC_ACCOUNT", history_size=5)


def ringing(
    interface: str = "PJSIP/1001",
    number: str = "13800138000",
    uniqueid: str = "c1",
    ivr: dict[str, str] | None = None,
    at: datetime = T0,
) -> CallRinging:
    return CallRinging(
        at,
        "rig",
        "support",
        uniqueid,
        interface,
        "Agent",
        "PJSIP/1001-01",
        number,
        "",
        "PJSIP/caller-01",
        uniqueid,
        MappingProxyType(ivr or {}),
        12.34,
    )


def test_a_known_caller_gets_a_full_card_on_the_ringing_agent_only() -> None:
    desk = _desk()
    [delivery] = desk.handle(ringing(ivr={"CC_MENU": "2"}))
    assert delivery.interface == "PJSIP/1001"
    card = delivery.message["pop"]
    assert delivery.message["type"] == "pop" and card["state"] == "ringing"
    assert card["customer"]["name"] == "王五" and card["vip_level"] == 3
    assert card["matched_by"] == "phone"
    assert card["queue"] == "support" and card["waited_seconds"] == 12.3
    assert card["ivr"] == {"CC_MENU": "2"}
    assert len(card["calls"]) == 5  # the last five of seven, newest first
    assert [c["joined_at"] for c in card["calls"]] == sorted(
        (c["joined_at"] for c in card["calls"]), reverse=True
    )
    # The agent by name (the interface is for the IVR's sticky agent, not for people).
    assert [c["answered_by"] for c in card["calls"]] == [
        None,
        "Agent 1001",
        None,
        "Agent 1001",
        None,
    ]
    assert card["incomplete"] is False and card["open_items"] == []


def test_the_account_typed_in_the_ivr_wins_over_the_number() -> None:
    [delivery] = _desk().handle(ringing(ivr={"CC_ACCOUNT": "A8"}))
    card = delivery.message["pop"]
    assert card["customer"]["name"] == "赵六" and card["matched_by"] == "account"
    assert card["account"] == "A8"


def test_an_unknown_caller_gets_an_empty_card_with_the_number() -> None:
    [delivery] = _desk().handle(ringing(number="02112345678"))
    card = delivery.message["pop"]
    assert card["known"] is False and card["customer"] is None and card["vip_level"] is None
    assert card["caller"]["number"] == "02112345678" and card["calls"] == []


def test_connect_marks_it_and_withdraws_the_other_agents_ringing() -> None:
    desk = _desk()
    desk.handle(ringing("PJSIP/1001"))
    desk.handle(ringing("PJSIP/1002"))
    deliveries = desk.handle(
        CallConnected(
            T0,
            "rig",
            "support",
            "c1",
            "PJSIP/1002",
            "Agent",
            "PJSIP/1002-01",
            "a1",
            "13800138000",
            "",
            3.0,
            2,
            MappingProxyType({}),
        )
    )
    kinds = {(d.interface, d.message["type"]) for d in deliveries}
    assert kinds == {("PJSIP/1001", "pop_withdrawn"), ("PJSIP/1002", "pop_connected")}
    assert desk.active_for(["PJSIP/1002"])[0]["state"] == "connected"
    assert desk.active_for(["PJSIP/1001"]) == []


def test_no_answer_withdraws_only_that_agents_pop() -> None:
    desk = _desk()
    desk.handle(ringing("PJSIP/1001"))
    desk.handle(ringing("PJSIP/1002"))
    [delivery] = desk.handle(
        CallRingNoAnswer(T0, "rig", "support", "c1", "PJSIP/1001", "A", 15.0, False)
    )
    assert delivery.interface == "PJSIP/1001"
    assert delivery.message == {
        "type": "pop_withdrawn",
        "pop_id": "rig|c1|PJSIP/1001",
        "reason": "no-answer",
    }
    assert len(desk) == 1


def test_caller_hanging_up_withdraws_every_ringing_pop_but_leave_does_not() -> None:
    desk = _desk()
    desk.handle(ringing("PJSIP/1001"))
    assert desk.handle(CallerLeft(T0, "rig", "support", "c1", 1, 3.0, "connect", 0)) == []
    # Asterisk's Leave comes before AgentConnect: a plain leave withdraws nothing yet.
    assert desk.handle(CallerLeft(T0, "rig", "support", "c1", 1, 3.0, "leave", 0)) == []
    [delivery] = desk.handle(CallerLeft(T0, "rig", "support", "c1", 1, 3.0, "hangup", 0))
    assert delivery.message["reason"] == "caller-left" and len(desk) == 0


def test_call_end_closes_a_connected_pop() -> None:
    desk = _desk()
    desk.handle(ringing("PJSIP/1001"))
    desk.handle(
        CallConnected(
            T0,
            "rig",
            "support",
            "c1",
            "PJSIP/1001",
            "A",
            "ch",
            "a1",
            "13800138000",
            "",
            3.0,
            2,
            MappingProxyType({}),
        )
    )
    record = CallRecord(
        "rig",
        "c1",
        "c1",
        "ch",
        "support",
        "13800138000",
        "",
        T0,
        1,
        ("PJSIP/1001",),
        0,
        "PJSIP/1001",
        "A",
        T0,
        T0,
        T0 + timedelta(seconds=90),
        3.0,
        90.0,
        0,
        "answered",
        "caller",
        None,
        None,
        False,
        "agent_complete",
        MappingProxyType({}),
    )
    [delivery] = desk.handle(CallEnded(record))
    assert delivery.message["type"] == "pop_ended" and delivery.message["talk_seconds"] == 90.0
    assert len(desk) == 0


def test_pops_of_other_calls_are_untouched_and_old_ones_pruned() -> None:
    desk = _desk()
    desk.handle(ringing("PJSIP/1001", uniqueid="c1"))
    desk.handle(ringing("PJSIP/1003", uniqueid="c2", at=T0 + timedelta(hours=1)))
    assert (
        desk.handle(CallRingNoAnswer(T0, "rig", "support", "c1", "PJSIP/1003", "A", 1.0, False))
        == []
    )
    assert desk.prune(T0 + timedelta(hours=6, minutes=30), timedelta(hours=6)) == 1
    assert [p["uniqueid"] for p in desk.active_for(["PJSIP/1001", "PJSIP/1003"])] == ["c2"]
