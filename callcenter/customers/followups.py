"""Follow-ups held in memory for the pop: wrap-ups that set a follow-up date.

Pure data structures and rules; loading (at start and on each refresh) lives in the directory,
the rows come from the records room (`callcenter.records.customers`). A follow-up has no
"done" state yet: it counts as open from its wrap-up until it is overdue by more than the
configured number of days, or until its wrap-up is submitted again without a date.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any


@dataclass(frozen=True, slots=True)
class FollowUp:
    call_id: int
    pbx: str
    uniqueid: str
    phone: str  # the caller number's lookup key (E.164, or the digits of an extension)
    customer_id: int | None  # the customer the call record names
    due: date
    disposition: str
    category: str
    notes: str
    call_at: datetime  # when the caller joined the queue
    answered_by: str | None  # the answering agent's name (or interface)
    wrapped_up_by: str | None  # the user who submitted the wrap-up
    submitted_at: datetime


def local_date(at: datetime, zone: tzinfo) -> date:
    """The calendar day of `at` where the agents work (due dates are such days)."""
    return at.astimezone(zone).date()


def oldest_open_due(today: date, overdue_days: int) -> date:
    """Follow-ups due before this day are too old to show."""
    return today - timedelta(days=overdue_days)


def open_follow_ups(items: Iterable[FollowUp], today: date, overdue_days: int) -> list[FollowUp]:
    """The open ones, most urgent first: earliest due, and within a day the latest call."""
    oldest = oldest_open_due(today, overdue_days)
    found = [item for item in items if item.due >= oldest]
    found.sort(key=lambda item: item.call_at, reverse=True)
    found.sort(key=lambda item: item.due)  # stable: keeps latest call first within a day
    return found


class FollowUpBook:
    """Follow-ups by call, found by caller number and by customer; bounded overall.

    When full, the follow-ups due earliest (the next to stop being open) make room, a
    slice at a time so that a full book does not sort itself on every wrap-up.
    """

    def __init__(self, max_items: int = 200_000) -> None:
        self.max_items = max_items
        self._by_call: dict[int, FollowUp] = {}
        self._by_phone: dict[str, set[int]] = {}
        self._by_customer: dict[int, set[int]] = {}

    def __len__(self) -> int:
        return len(self._by_call)

    def get(self, call_id: int) -> FollowUp | None:
        return self._by_call.get(call_id)

    def put(self, item: FollowUp) -> None:
        """Add or replace the follow-up of `item.call_id` (a resubmitted wrap-up)."""
        self.remove(item.call_id)
        if self.max_items <= 0:
            return
        if len(self._by_call) >= self.max_items:
            self._make_room()
        self._by_call[item.call_id] = item
        if item.phone:
            self._by_phone.setdefault(item.phone, set()).add(item.call_id)
        if item.customer_id is not None:
            self._by_customer.setdefault(item.customer_id, set()).add(item.call_id)

    def remove(self, call_id: int) -> FollowUp | None:
        item = self._by_call.pop(call_id, None)
        if item is None:
            return None
        _discard(self._by_phone, item.phone, call_id)
        if item.customer_id is not None:
            _discard(self._by_customer, item.customer_id, call_id)
        return item

    def of_phone(self, phone: str) -> list[FollowUp]:
        return [self._by_call[c] for c in self._by_phone.get(phone, ())]

    def of_customer(self, customer_id: int, phones: Iterable[str]) -> list[FollowUp]:
        """Follow-ups of calls that named the customer or came from any of their numbers."""
        calls = set(self._by_customer.get(customer_id, ()))
        for phone in phones:
            calls.update(self._by_phone.get(phone, ()))
        return [self._by_call[c] for c in calls]

    def prune(self, oldest_due: date) -> int:
        """Forget follow-ups due before `oldest_due` (no longer open)."""
        old = [c for c, item in self._by_call.items() if item.due < oldest_due]
        for call_id in old:
            self.remove(call_id)
        return len(old)

    def _make_room(self) -> None:
        slice_size = max(1, self.max_items // 100)
        earliest = sorted(self._by_call.values(), key=lambda item: (item.due, item.call_id))
        for item in earliest[:slice_size]:
            self.remove(item.call_id)


def _discard(index: dict[Any, set[int]], key: Any, call_id: int) -> None:
    calls = index.get(key)
    if calls is not None:
        calls.discard(call_id)
        if not calls:
            del index[key]
