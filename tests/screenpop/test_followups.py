"""Open items on the card, pure: which follow-ups are open, how the card shows them, and a
wrap-up reaching the in-memory history and follow-ups without a restart."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

import pytest

from callcenter.customers.directory import CustomerDirectory
from callcenter.customers.followups import FollowUp, FollowUpBook, open_follow_ups
from callcenter.customers.index import CallHistory, Customer, PastCall
from callcenter.records.customers import SavedWrapup
from callcenter.screenpop.desk import CardRules, Found, PopDesk
from callcenter.store.db import create_engine
from tests.screenpop.test_desk import ringing

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 01:00 on 24 November in Shanghai, still 23 November in UTC.
RINGS_AT = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
TODAY = date(2026, 11, 24)
WANG = Customer(7, "王五", ("+8613800138000", "+8613900139000"), "A7", 3, "zh", (), "")
LABELS = MappingProxyType(
    {"repair-booked": MappingProxyType({"zh": "已预约维修", "en": "Repair booked"})}
)


def follow_up(
    call_id: int,
    due: date,
    *,
    phone: str = "+8613800138000",
    customer_id: int | None = 7,
    notes: str = "上门维修",
    call_at: datetime = RINGS_AT - timedelta(days=3),
) -> FollowUp:
    return FollowUp(
        call_id,
        "rig",
        f"u{call_id}",
        phone,
        customer_id,
        due,
        "repair-booked",
        "after-sales",
        notes,
        call_at,
        "Agent 1001",
        "wang",
        call_at,
    )


def test_open_means_due_later_today_or_overdue_by_at_most_the_setting() -> None:
    items = [
        follow_up(1, TODAY + timedelta(days=2)),
        follow_up(2, TODAY),
        follow_up(3, TODAY - timedelta(days=30)),
        follow_up(4, TODAY - timedelta(days=31)),
        follow_up(5, TODAY - timedelta(days=1)),
    ]
    assert [i.call_id for i in open_follow_ups(items, TODAY, 30)] == [3, 5, 2, 1]
    assert [i.call_id for i in open_follow_ups(items, TODAY, 0)] == [2, 1]


def test_within_a_day_the_latest_call_comes_first() -> None:
    earlier = follow_up(1, TODAY, call_at=RINGS_AT - timedelta(days=2))
    later = follow_up(2, TODAY, call_at=RINGS_AT - timedelta(days=1))
    assert [i.call_id for i in open_follow_ups([earlier, later], TODAY, 30)] == [2, 1]


def test_the_book_finds_follow_ups_by_number_and_by_customer_and_stays_bounded() -> None:
    book = FollowUpBook(max_items=200)
    book.put(follow_up(1, TODAY))
    book.put(follow_up(2, TODAY, phone="+8613900139000", customer_id=None))  # their 2nd number
    book.put(follow_up(3, TODAY, phone="+8602112345678", customer_id=7))  # typed the account
    book.put(follow_up(4, TODAY, phone="+8602112345678", customer_id=None))  # someone else
    assert sorted(i.call_id for i in book.of_customer(7, WANG.phones)) == [1, 2, 3]
    assert sorted(i.call_id for i in book.of_phone("+8602112345678")) == [3, 4]
    book.put(replace(follow_up(1, TODAY), phone="+8601000000000", customer_id=None))
    assert sorted(i.call_id for i in book.of_customer(7, WANG.phones)) == [2, 3]
    assert book.remove(2) is not None and book.remove(2) is None
    assert book.prune(TODAY + timedelta(days=1)) == 3 and len(book) == 0

    for n in range(200):
        book.put(follow_up(n, TODAY + timedelta(days=n)))
    book.put(follow_up(999, TODAY + timedelta(days=1000)))
    assert len(book) <= 200 and book.get(999) is not None
    assert book.get(0) is None and book.get(199) is not None  # the earliest due made room


def _desk(follow_ups: list[FollowUp], calls: list[PastCall] | None = None) -> PopDesk:
    def lookup(number: str, account: str | None) -> Found:
        return Found(WANG, "phone", calls or [], follow_ups)

    rules = CardRules(
        follow_up_overdue_days=30, zone=SHANGHAI, labels=LABELS, max_open_items=3, notes_chars=20
    )
    return PopDesk(lookup, "CC_ACCOUNT", 5, rules)


def test_the_card_lists_open_follow_ups_with_overdue_judged_in_the_local_calendar() -> None:
    desk = _desk(
        [
            follow_up(1, date(2026, 11, 23), notes="客户要求周五上门并带配件。" * 3),
            follow_up(2, date(2026, 11, 30), notes="  "),
            follow_up(3, date(2026, 10, 1)),  # 54 days overdue: no longer open
        ]
    )
    [delivery] = desk.handle(ringing(at=RINGS_AT))
    card = delivery.message["pop"]
    assert card["open_items_tracked"] == ["follow-up"]
    assert card["open_items_total"] == 2
    first, second = card["open_items"]
    # Due 23 Nov: still "today" in UTC, but the phone rang on 24 Nov in Shanghai.
    assert first == {
        "kind": "follow-up",
        "call_id": 1,
        "pbx": "rig",
        "uniqueid": "u1",
        "due": "2026-11-23",
        "overdue": True,
        "days_overdue": 1,
        "disposition": "repair-booked",
        "disposition_label": {"zh": "已预约维修", "en": "Repair booked"},
        "category": "after-sales",
        "notes": first["notes"],
        "notes_clipped": True,
        "call_at": (RINGS_AT - timedelta(days=3)).isoformat(),
        "answered_by": "Agent 1001",
        "wrapped_up_by": "wang",
    }
    assert len(first["notes"]) == 20 and first["notes"].endswith("…")
    assert first["notes"].startswith("客户要求周五上门")
    assert second["due"] == "2026-11-30" and second["overdue"] is False
    assert second["days_overdue"] == 0 and second["notes"] == ""


def test_the_card_shows_at_most_the_configured_items_and_says_how_many_are_open() -> None:
    desk = _desk([follow_up(n, TODAY + timedelta(days=n)) for n in range(5)])
    card = desk.handle(ringing(at=RINGS_AT))[0].message["pop"]
    assert [i["call_id"] for i in card["open_items"]] == [0, 1, 2]
    assert card["open_items_total"] == 5


def test_last_calls_show_the_disposition_label() -> None:
    call = PastCall(
        "rig",
        "u9",
        "support",
        RINGS_AT - timedelta(days=1),
        "answered",
        "Agent 1001",
        3.0,
        60.0,
        "repair-booked",
    )
    card = _desk([], [call]).handle(ringing(at=RINGS_AT))[0].message["pop"]
    assert card["calls"][0]["disposition"] == "repair-booked"
    assert card["calls"][0]["disposition_label"]["en"] == "Repair booked"
    assert card["open_items"] == [] and card["open_items_total"] == 0


def test_history_takes_a_disposition_given_after_the_call() -> None:
    history = CallHistory(per_number=3)
    calls = [
        PastCall(
            "rig",
            f"u{n}",
            "support",
            RINGS_AT + timedelta(minutes=n),
            "answered",
            "Agent 1001",
            1.0,
            2.0,
        )
        for n in range(3)
    ]
    for call in calls:
        history.add("+861", call)
    assert history.set_disposition("+861", "rig", "u1", calls[1].joined_at, "resolved")
    assert [c.disposition for c in history.latest("+861")] == [None, "resolved", None]
    assert [c.uniqueid for c in history.latest("+861")] == ["u2", "u1", "u0"]
    # Another join of the same channel, a call not kept, a number not known: nothing.
    assert not history.set_disposition("+861", "rig", "u1", RINGS_AT, "other")
    assert not history.set_disposition("+861", "rig", "u7", RINGS_AT, "other")
    assert not history.set_disposition("+862", "rig", "u1", calls[1].joined_at, "other")


@pytest.fixture
def directory() -> Iterator[CustomerDirectory]:
    # Never connected: the wrap-up path works on memory alone.
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    directory = CustomerDirectory(engine, "CN", 5, follow_up_overdue_days=30, zone=SHANGHAI)
    directory.index.put(WANG)
    yield directory


def wrapup(call: PastCall, number: str, **overrides: object) -> SavedWrapup:
    values: dict[str, object] = dict(
        call_id=41,
        pbx=call.pbx,
        uniqueid=call.uniqueid,
        joined_at=call.joined_at,
        caller_number=number,
        customer_id=None,
        answered_by="PJSIP/1001",
        answered_by_name="Agent 1001",
        disposition="repair-booked",
        category="after-sales",
        notes="周五上门",
        follow_up_due=TODAY,
        username="wang",
        submitted_at=RINGS_AT,
    )
    values.update(overrides)
    return SavedWrapup(**values)  # type: ignore[arg-type]


def test_a_wrap_up_reaches_the_history_and_the_follow_ups_at_once(
    directory: CustomerDirectory,
) -> None:
    call = PastCall(
        "rig", "u1", "support", RINGS_AT - timedelta(hours=1), "answered", "Agent 1001", 3.0, 60.0
    )
    directory.record_call("139 0013 9000", call)  # Wang's second number, as dialled
    directory.wrapup_saved(wrapup(call, "13900139000"))
    [past] = directory.calls_of_customer(WANG)
    assert past.disposition == "repair-booked"
    [item] = directory.follow_ups_of_customer(WANG)
    assert (item.due, item.phone, item.answered_by) == (TODAY, "+8613900139000", "Agent 1001")
    assert directory.follow_ups_of("+86 139 0013 9000") == [item]

    # Submitted again without a date and with another disposition: no longer a follow-up.
    directory.wrapup_saved(
        wrapup(
            call, "13900139000", follow_up_due=None, disposition="resolved", category="consultation"
        )
    )
    assert directory.follow_ups_of_customer(WANG) == []
    assert directory.calls_of_customer(WANG)[0].disposition == "resolved"


def test_an_unknown_caller_gets_the_follow_ups_of_their_number(
    directory: CustomerDirectory,
) -> None:
    call = PastCall("rig", "u2", "support", RINGS_AT, "answered", "Agent 1002", 3.0, 60.0)
    directory.wrapup_saved(wrapup(call, "02112345678", call_id=42))
    assert [i.call_id for i in directory.follow_ups_of("021-1234-5678")] == [42]
    assert directory.follow_ups_of_customer(WANG) == []
    assert directory.oldest_open_due(RINGS_AT) == TODAY - timedelta(days=30)
