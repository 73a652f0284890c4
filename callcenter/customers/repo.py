"""Customers and call history in the database; the index is loaded from here."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.customers.index import CallHistory, Customer, PastCall
from callcenter.customers.models import CustomerRow
from callcenter.customers.phones import lookup_key
from callcenter.records.models import CallRecord
from callcenter.store.base import Base

# Call records read at start to fill the in-memory history (the newest ones).
HISTORY_LOAD_LIMIT = 200_000
LOAD_PAGE = 1000
# While pops are flowing a page is decoded between two of them: keep each one short.
REFRESH_PAGE = 200


class DuplicateAccount(ValueError):
    pass


class NoSuchCustomer(LookupError):
    pass


def customer_from_row(row: CustomerRow) -> Customer:
    return Customer(
        id=row.id,
        name=row.name,
        phones=tuple(row.phones or ()),
        account_number=row.account_number,
        vip_level=row.vip_level,
        language=row.language,
        tags=tuple(row.tags or ()),
        notes=row.notes,
        updated_at=row.updated_at,
    )


async def load_customers(
    engine: AsyncEngine, changed_since: datetime | None = None, page_size: int = LOAD_PAGE
) -> AsyncIterator[list[Customer]]:
    """Every customer, or those changed since a time, a page at a time.

    Pages (keyset on id) hand the event loop back between them, so loading many
    customers never holds up a pop for more than a page's worth of work."""
    table = CustomerRow.__table__
    last_id = 0
    while True:
        query = select(table).where(table.c.id > last_id).order_by(table.c.id).limit(page_size)
        if changed_since is not None:
            query = query.where(table.c.updated_at >= changed_since)
        async with engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        if not rows:
            return
        yield [
            Customer(
                id=r["id"],
                name=r["name"],
                phones=tuple(r["phones"] or ()),
                account_number=r["account_number"],
                vip_level=r["vip_level"],
                language=r["language"],
                tags=tuple(r["tags"] or ()),
                notes=r["notes"],
                updated_at=r["updated_at"],
            )
            for r in rows
        ]
        last_id = rows[-1]["id"]
        await asyncio.sleep(0)


async def save_customer(
    engine: AsyncEngine, values: dict[str, Any], customer_id: int | None = None
) -> Customer:
    """Create (``customer_id`` None) or replace a customer's profile."""
    now = datetime.now(UTC)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            if customer_id is None:
                row = CustomerRow(created_at=now, updated_at=now, **values)
                session.add(row)
            else:
                found = await session.get(CustomerRow, customer_id)
                if found is None:
                    raise NoSuchCustomer(customer_id)
                row = found
                for key, value in values.items():
                    setattr(row, key, value)
                row.updated_at = now
            await session.flush()
    except IntegrityError:
        raise DuplicateAccount(values.get("account_number")) from None
    return customer_from_row(row)


def past_call(record: Any) -> PastCall:
    return PastCall(
        pbx=record.pbx,
        uniqueid=record.uniqueid,
        queue=record.queue,
        joined_at=record.joined_at,
        outcome=record.outcome,
        answered_by_name=record.answered_by_name,
        wait_seconds=record.wait_seconds,
        talk_seconds=record.talk_seconds,
        # Filled in by the call-outcomes room once call records carry one.
        disposition=getattr(record, "disposition", None),
        answered_by=record.answered_by,
    )


async def load_history(
    engine: AsyncEngine, history: CallHistory, region: str, limit: int = HISTORY_LOAD_LIMIT
) -> int:
    query = select(CallRecord).order_by(CallRecord.joined_at.desc()).limit(limit)
    # The call-outcomes room's wrap-ups carry the disposition, when that table exists.
    wrapups = Base.metadata.tables.get("call_wrapups")
    if wrapups is not None:
        query = query.outerjoin(wrapups, wrapups.c.call_id == CallRecord.id).add_columns(
            wrapups.c.disposition
        )
    async with AsyncSession(engine) as session:
        rows: Sequence[Any] = (await session.execute(query)).all()
    for row in reversed(rows):
        record = row[0]
        call = past_call(record)
        if len(row) > 1 and row[1] is not None:
            call = dataclasses.replace(call, disposition=row[1])
        history.add(lookup_key(record.caller_number or "", region), call)
    return len(rows)
