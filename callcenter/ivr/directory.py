"""Where the lookup route gets its facts: a small Protocol and two adapters behind it.

The service answers from the customer directory room's memory (``IndexedCustomerDirectory``): the
customer index, each number's latest calls and the open follow-ups, so a lookup costs no
database round trip however busy the hotline is. ``SqlCustomerDirectory`` reads the same
facts from the tables when no index runs. Both use one definition of an open complaint: a
follow-up of a wrap-up in the category ``complaint`` that is still open by the screen-pop's
rule (`callcenter.customers.followups`: days of the contact centre's calendar, open until
overdue by more than ``screenpop.follow_up_overdue_days``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Protocol

from sqlalchemy import String, cast, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.clock import Clock, utc_now
from callcenter.customers.directory import CustomerDirectory as ScreenPopDirectory
from callcenter.customers.followups import (
    FollowUp,
    local_date,
    oldest_open_due,
    open_follow_ups,
)
from callcenter.customers.index import PastCall
from callcenter.customers.models import CustomerRow
from callcenter.ivr.decisions import CustomerFacts
from callcenter.records.models import CallRecord, CallWrapup

_NOT_DIGITS = re.compile(r"\D")
# Local numbers shorter than this are extensions, never matched by their tail.
MIN_TAIL_DIGITS = 7
# The sticky agent is whoever answered the caller last within this many days.
HISTORY_DAYS = 90
COMPLAINT = "complaint"  # the wrap-up category (settings.Disposition.category)
# The screen-pop's default (settings.ScreenPopSettings.follow_up_overdue_days).
FOLLOW_UP_OVERDUE_DAYS = 30


class CustomerDirectory(Protocol):
    async def facts(self, caller_number: str, account: str | None) -> CustomerFacts | None:
        """What is known about this caller; None when neither number nor account is known."""


def numbers_match(stored: str, caller: str) -> bool:
    """``+8613800990001`` matches ``13800990001``: PBXs send national or E.164 numbers."""
    # Leading zeros are trunk or international prefixes (0138..., 0086...).
    a = _NOT_DIGITS.sub("", stored).lstrip("0")
    b = _NOT_DIGITS.sub("", caller).lstrip("0")
    if not a or not b:
        return False
    if a == b:
        return True
    shorter, longer = (a, b) if len(a) < len(b) else (b, a)
    return len(shorter) >= MIN_TAIL_DIGITS and longer.endswith(shorter)


class _Profile(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def vip_level(self) -> int: ...
    @property
    def language(self) -> str: ...


class SqlCustomerDirectory:
    """Customers straight from the table (a LIKE over the phones column: fine for small
    tables; the service uses IndexedCustomerDirectory over the customer directory room's index).

    `zone` and `follow_up_overdue_days` must be the screen-pop's (`[ivr] timezone`,
    `screenpop.follow_up_overdue_days`) so that both adapters call the same complaint open.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        zone: tzinfo = UTC,
        follow_up_overdue_days: int = FOLLOW_UP_OVERDUE_DAYS,
        clock: Clock = utc_now,
    ) -> None:
        self._engine = engine
        self._zone = zone
        self._overdue_days = follow_up_overdue_days
        self._clock = clock

    async def facts(self, caller_number: str, account: str | None) -> CustomerFacts | None:
        now = self._clock()
        oldest_due = oldest_open_due(local_date(now, self._zone), self._overdue_days)
        async with AsyncSession(self._engine) as session:
            customer = await self._customer(session, caller_number, account)
            last_agent = await _last_agent(
                session, caller_number, customer, now - timedelta(days=HISTORY_DAYS)
            )
            complaint = await _open_complaint(session, caller_number, customer, oldest_due)
        return _facts(customer, last_agent, complaint)

    @staticmethod
    async def _customer(
        session: AsyncSession, caller_number: str, account: str | None
    ) -> CustomerRow | None:
        if account:
            row = (
                await session.execute(
                    select(CustomerRow).where(CustomerRow.account_number == account)
                )
            ).scalar_one_or_none()
            if row is not None:
                return row
        digits = _NOT_DIGITS.sub("", caller_number)
        if len(digits) < 3:
            return None
        # Phones are a JSON list; the tail LIKE narrows the rows, numbers_match decides.
        tail = digits[-MIN_TAIL_DIGITS:]
        rows = (
            (
                await session.execute(
                    select(CustomerRow)
                    .where(cast(CustomerRow.phones, String).like(f"%{tail}%"))
                    .order_by(CustomerRow.id)
                    .limit(20)
                )
            )
            .scalars()
            .all()
        )
        for row in rows:
            if any(numbers_match(phone, caller_number) for phone in row.phones or []):
                return row
        return None


class IndexedCustomerDirectory:
    """Every fact from the customer directory's memory: no I/O, so a lookup never waits on the
    database, whatever the load (the history and follow-ups follow every CallEnded and
    wrap-up, and other replicas' wrap-ups on the directory's refresh).

    The sticky agent comes from the calls the directory keeps per number (its
    `history_size` latest, the calls its card shows): a caller whose kept calls were all
    unanswered has none.
    """

    def __init__(self, customers: ScreenPopDirectory, clock: Clock = utc_now) -> None:
        self._customers = customers
        self._clock = clock

    async def facts(self, caller_number: str, account: str | None) -> CustomerFacts | None:
        return self.facts_at(self._clock(), caller_number, account)

    def facts_at(
        self, now: datetime, caller_number: str, account: str | None
    ) -> CustomerFacts | None:
        customers = self._customers
        customer, _ = customers.find(caller_number, account)
        # The calls and follow-ups the pop's card shows for this caller.
        if customer is None:
            calls = customers.calls_of(caller_number)
            follow_ups = customers.follow_ups_of(caller_number)
        else:
            calls = customers.calls_of_customer(customer)
            follow_ups = customers.follow_ups_of_customer(customer)
        last_agent = sticky_agent(calls, now - timedelta(days=HISTORY_DAYS))
        complaint = has_open_complaint(
            follow_ups, local_date(now, customers.zone), customers.follow_up_overdue_days
        )
        return _facts(customer, last_agent, complaint)


def sticky_agent(calls: Iterable[PastCall], since: datetime) -> str | None:
    """The interface that answered the latest of `calls` joined at or after `since`."""
    answered = [c for c in calls if c.answered_by and c.joined_at >= since]
    if not answered:
        return None
    return max(answered, key=lambda c: c.joined_at).answered_by


def has_open_complaint(follow_ups: Iterable[FollowUp], today: date, overdue_days: int) -> bool:
    return any(
        item.category == COMPLAINT for item in open_follow_ups(follow_ups, today, overdue_days)
    )


def _facts(
    customer: _Profile | None, last_agent: str | None, complaint: bool
) -> CustomerFacts | None:
    if customer is None and last_agent is None and not complaint:
        return None
    return CustomerFacts(
        customer_id=str(customer.id) if customer is not None else None,
        vip_level=customer.vip_level if customer is not None else 0,
        language=customer.language if customer is not None else None,
        open_complaint=complaint,
        last_agent=last_agent,
    )


async def _last_agent(
    session: AsyncSession, caller_number: str, customer: _Profile | None, since: datetime
) -> str | None:
    who = (
        (CallRecord.customer_id == customer.id)
        if customer is not None
        else (CallRecord.caller_number == caller_number)
    )
    return (
        await session.execute(
            select(CallRecord.answered_by)
            .where(who, CallRecord.answered_by.is_not(None), CallRecord.joined_at >= since)
            .order_by(CallRecord.joined_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def _open_complaint(
    session: AsyncSession, caller_number: str, customer: _Profile | None, oldest_due: date
) -> bool:
    who = (
        (CallRecord.customer_id == customer.id)
        if customer is not None
        else (CallRecord.caller_number == caller_number)
    )
    found = (
        await session.execute(
            select(CallWrapup.id)
            .join(CallRecord, CallRecord.id == CallWrapup.call_id)
            .where(
                who,
                CallWrapup.category == COMPLAINT,
                CallWrapup.follow_up_due.is_not(None),
                CallWrapup.follow_up_due >= oldest_due,
            )
            .limit(1)
        )
    ).scalar_one_or_none()
    return found is not None
