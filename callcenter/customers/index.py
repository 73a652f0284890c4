"""The in-memory directory the screen-pop reads: customers by number and by account, and each
number's latest calls. Pure data structures; loading and saving live in ``repo``."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

MatchedBy = Literal["account", "phone"]


def account_of(ivr: Mapping[str, str], variable: str) -> str | None:
    """The account number the caller typed in the IVR, left in the channel variable
    `variable` (``screenpop.account_variable``); None when there is none. The pop's card and
    the call record's customer are both found with it."""
    value = ivr.get(variable, "").strip()
    return value or None


@dataclass(frozen=True, slots=True)
class Customer:
    id: int
    name: str
    phones: tuple[str, ...]  # E.164
    account_number: str | None
    vip_level: int
    language: str
    tags: tuple[str, ...]
    notes: str
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PastCall:
    pbx: str
    uniqueid: str
    queue: str
    joined_at: datetime
    outcome: str
    answered_by_name: str | None
    wait_seconds: float | None
    talk_seconds: float | None
    disposition: str | None = None
    # The answering queue-member interface (PJSIP/1001): the IVR's sticky agent. The card
    # shows `answered_by_name`.
    answered_by: str | None = None


class CustomerIndex:
    def __init__(self, customers: Iterable[Customer] = ()) -> None:
        self._by_id: dict[int, Customer] = {}
        self._by_phone: dict[str, set[int]] = {}
        self._by_account: dict[str, int] = {}
        for customer in customers:
            self.put(customer)

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, customer_id: int) -> Customer | None:
        return self._by_id.get(customer_id)

    def put(self, customer: Customer) -> None:
        self.remove(customer.id)
        self._by_id[customer.id] = customer
        for phone in customer.phones:
            self._by_phone.setdefault(phone, set()).add(customer.id)
        if customer.account_number:
            self._by_account[customer.account_number] = customer.id

    def remove(self, customer_id: int) -> None:
        old = self._by_id.pop(customer_id, None)
        if old is None:
            return
        for phone in old.phones:
            ids = self._by_phone.get(phone)
            if ids is not None:
                ids.discard(customer_id)
                if not ids:
                    del self._by_phone[phone]
        if old.account_number and self._by_account.get(old.account_number) == customer_id:
            del self._by_account[old.account_number]

    def by_phone(self, phone: str) -> list[Customer]:
        """Customers with this E.164 number, most recently changed first."""
        found = [self._by_id[i] for i in self._by_phone.get(phone, ())]
        return sorted(
            found, key=lambda c: (c.updated_at is not None, c.updated_at, c.id), reverse=True
        )

    def by_account(self, account: str) -> Customer | None:
        customer_id = self._by_account.get(account.strip())
        return None if customer_id is None else self._by_id[customer_id]

    def find(self, phone: str, account: str | None) -> tuple[Customer | None, MatchedBy | None]:
        """The account the caller typed in the IVR names one customer; a number may be shared
        (a family, a switchboard), so it comes second."""
        if account:
            customer = self.by_account(account)
            if customer is not None:
                return customer, "account"
        matches = self.by_phone(phone) if phone else []
        return (matches[0], "phone") if matches else (None, None)


class CallHistory:
    """The latest calls per caller number, newest first, bounded per number and overall."""

    def __init__(self, per_number: int, max_numbers: int = 500_000) -> None:
        self.per_number = per_number
        self.max_numbers = max_numbers
        self._calls: dict[str, deque[PastCall]] = {}

    def add(self, phone: str, call: PastCall) -> None:
        if not phone or self.per_number == 0:
            return
        calls = self._calls.get(phone)
        if calls is None:
            if len(self._calls) >= self.max_numbers:
                del self._calls[next(iter(self._calls))]
            calls = self._calls[phone] = deque(maxlen=self.per_number)
        if any(
            c.pbx == call.pbx and c.uniqueid == call.uniqueid and c.joined_at == call.joined_at
            for c in calls
        ):
            return
        if len(calls) == self.per_number and call.joined_at < calls[0].joined_at:
            return  # older than every call kept
        calls.append(call)
        if len(calls) > 1 and calls[-2].joined_at > call.joined_at:
            ordered = sorted(calls, key=lambda c: c.joined_at)
            calls.clear()
            calls.extend(ordered[-self.per_number :])

    def latest(self, phone: str) -> list[PastCall]:
        return list(reversed(self._calls.get(phone, ())))

    def set_disposition(
        self, phone: str, pbx: str, uniqueid: str, joined_at: datetime, disposition: str | None
    ) -> bool:
        """A wrap-up was submitted after the call ended: the kept call shows its
        disposition from now on. False when the call is not (or no longer) kept."""
        calls = self._calls.get(phone)
        if calls is None:
            return False
        for position, call in enumerate(calls):
            if call.pbx == pbx and call.uniqueid == uniqueid and call.joined_at == joined_at:
                calls[position] = replace(call, disposition=disposition)
                return True
        return False
