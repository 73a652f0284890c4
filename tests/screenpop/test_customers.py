"""Phone numbers, the customer index and the per-number call history (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.customers.index import CallHistory, Customer, CustomerIndex, PastCall
from callcenter.customers.phones import BadPhoneNumber, lookup_key, to_e164
from callcenter.logs import mask_number

T0 = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("13800138000", "CN", "+8613800138000"),
        ("138 0013 8000", "CN", "+8613800138000"),
        ("+86 138-0013-8000", "US", "+8613800138000"),
        ("010 6552 9988", "CN", "+861065529988"),
        ("(415) 555-0100", "US", "+14155550100"),
    ],
)
def test_numbers_become_e164(raw: str, region: str, expected: str) -> None:
    assert to_e164(raw, region) == expected


@pytest.mark.parametrize("raw", ["12", "abc", "", "+86"])
def test_impossible_numbers_are_refused(raw: str) -> None:
    with pytest.raises(BadPhoneNumber):
        to_e164(raw, "CN")


def test_extensions_are_looked_up_by_their_digits() -> None:
    assert lookup_key("1001", "CN") == "1001"
    assert lookup_key("", "CN") == ""


def test_mask_number() -> None:
    assert mask_number("13800138000") == "138****8000"
    assert "0013" not in mask_number("+8613800138000")
    assert mask_number("1001") == "***1"
    assert mask_number("") == ""


def _customer(
    cid: int, phones: tuple[str, ...], account: str | None, updated: datetime = T0
) -> Customer:
    return Customer(cid, f"c{cid}", phones, account, 0, "zh", (), "", updated)


def test_index_follows_edits_and_prefers_the_latest_of_a_shared_number() -> None:
    index = CustomerIndex(
        [
            _customer(1, ("+861",), "A1"),
            _customer(2, ("+861", "+862"), None, T0 + timedelta(days=1)),
        ]
    )
    assert [c.id for c in index.by_phone("+861")] == [2, 1]
    assert index.find("+861", "A1") == (index.get(1), "account")
    assert index.find("+861", "nope") == (index.get(2), "phone")
    index.put(_customer(2, ("+863",), "A2"))  # edit: number changed, account added
    assert [c.id for c in index.by_phone("+861")] == [1]
    assert index.by_phone("+862") == [] and index.by_account("A2") == index.get(2)
    index.remove(1)
    assert index.find("+861", "A1") == (None, None)


def _call(uid: str, minutes: int) -> PastCall:
    return PastCall(
        "rig", uid, "support", T0 + timedelta(minutes=minutes), "answered", None, 1.0, 2.0
    )


def test_history_keeps_the_latest_calls_newest_first_without_duplicates() -> None:
    history = CallHistory(per_number=3)
    for uid, minutes in [("a", 1), ("b", 5), ("c", 3), ("d", 4), ("b", 5), ("old", 0)]:
        history.add("+861", _call(uid, minutes))
    assert [c.uniqueid for c in history.latest("+861")] == ["b", "d", "c"]
    assert history.latest("+862") == []
