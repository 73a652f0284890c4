"""Where the lookup route gets its facts: a small Protocol and the SQL adapter behind it.

The SQL adapter reads the screen-pop room's ``customers`` table (migration 0002) and the
call records (last agent who served the number, open complaint from a wrap-up with the
category ``complaint`` whose follow-up is not past).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import String, cast, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.customers.directory import CustomerDirectory as ScreenPopDirectory
from callcenter.customers.models import CustomerRow
from callcenter.ivr.decisions import CustomerFacts
from callcenter.store.models import CallRecord, CallWrapup

_NOT_DIGITS = re.compile(r"\D")
# Local numbers shorter than this are extensions, never matched by their tail.
MIN_TAIL_DIGITS = 7
HISTORY_DAYS = 90


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
    tables; the service uses IndexedCustomerDirectory when the screen-pop's index runs)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def facts(self, caller_number: str, account: str | None) -> CustomerFacts | None:
        async with AsyncSession(self._engine) as session:
            customer = await self._customer(session, caller_number, account)
            return await _history_facts(session, caller_number, customer)

    @staticmethod
    async def _customer(session: AsyncSession, caller_number: str,
                        account: str | None) -> CustomerRow | None:
        if account:
            row = (await session.execute(
                select(CustomerRow).where(CustomerRow.account_number == account)
            )).scalar_one_or_none()
            if row is not None:
                return row
        digits = _NOT_DIGITS.sub("", caller_number)
        if len(digits) < 3:
            return None
        # Phones are a JSON list; the tail LIKE narrows the rows, numbers_match decides.
        tail = digits[-MIN_TAIL_DIGITS:]
        rows = (await session.execute(
            select(CustomerRow).where(cast(CustomerRow.phones, String).like(f"%{tail}%"))
            .order_by(CustomerRow.id).limit(20)
        )).scalars().all()
        for row in rows:
            if any(numbers_match(phone, caller_number) for phone in row.phones or []):
                return row
        return None


class IndexedCustomerDirectory:
    """The screen-pop's in-memory customer index for who calls; SQL (indexed columns) for
    the last agent and open complaints."""

    def __init__(self, customers: ScreenPopDirectory, engine: AsyncEngine) -> None:
        self._customers = customers
        self._engine = engine

    async def facts(self, caller_number: str, account: str | None) -> CustomerFacts | None:
        customer, _ = self._customers.find(caller_number, account)
        async with AsyncSession(self._engine) as session:
            return await _history_facts(session, caller_number, customer)


async def _history_facts(session: AsyncSession, caller_number: str,
                         customer: _Profile | None) -> CustomerFacts | None:
    last_agent = await _last_agent(session, caller_number, customer)
    complaint = await _open_complaint(session, caller_number, customer)
    if customer is None and last_agent is None and not complaint:
        return None
    return CustomerFacts(
        customer_id=str(customer.id) if customer is not None else None,
        vip_level=customer.vip_level if customer is not None else 0,
        language=customer.language if customer is not None else None,
        open_complaint=complaint,
        last_agent=last_agent,
    )


async def _last_agent(session: AsyncSession, caller_number: str,
                      customer: _Profile | None) -> str | None:
    since = datetime.now(UTC) - timedelta(days=HISTORY_DAYS)
    who = (CallRecord.customer_id == customer.id) if customer is not None \
        else (CallRecord.caller_number == caller_number)
    return (await session.execute(
        select(CallRecord.answered_by)
        .where(who, CallRecord.answered_by.is_not(None), CallRecord.joined_at >= since)
        .order_by(CallRecord.joined_at.desc()).limit(1)
    )).scalar_one_or_none()


async def _open_complaint(session: AsyncSession, caller_number: str,
                          customer: _Profile | None) -> bool:
    today = datetime.now(UTC).date()
    who = (CallRecord.customer_id == customer.id) if customer is not None \
        else (CallRecord.caller_number == caller_number)
    found = (await session.execute(
        select(CallWrapup.id).join(CallRecord, CallRecord.id == CallWrapup.call_id)
        .where(who, CallWrapup.category == "complaint",
               CallWrapup.follow_up_due.is_not(None), CallWrapup.follow_up_due >= today)
        .limit(1)
    )).scalar_one_or_none()
    return found is not None

