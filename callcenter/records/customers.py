"""What the records room tells whoever keeps the customer index, and how.

Which customer a call was: the records writer asks whoever keeps the customer index. The
screen-pop room holds every customer in memory (by phone and by account number); the
service hands it to the writer through this Protocol, so filling `customer_id` costs a dict
look-up in the writer task and never a database round trip on the event path.

What a wrap-up said: the same room is told of every wrap-up stored on this replica at once
(`WrapupListener`), and reads those stored elsewhere with `saved_wrapups` on its refresh, so
its cards show a call's disposition and the caller's open follow-ups without a query per pop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.records.models import CallRecord, CallWrapup
from callcenter.records.rows import Op, RecordOp

log = logging.getLogger(__name__)

WRAPUP_PAGE = 1000


class CustomerLookup(Protocol):
    def customer_id(self, caller_number: str | None, ivr: Mapping[str, str]) -> int | None:
        """The customer the screen-pop would show for this caller (None: unknown)."""


@dataclass(frozen=True, slots=True)
class SavedWrapup:
    """A stored wrap-up with the call it belongs to."""

    call_id: int
    pbx: str
    uniqueid: str
    joined_at: datetime
    caller_number: str | None
    customer_id: int | None
    answered_by: str | None  # the answering queue-member interface
    answered_by_name: str | None
    disposition: str
    category: str
    notes: str
    follow_up_due: date | None
    username: str | None
    submitted_at: datetime


class WrapupListener(Protocol):
    def wrapup_saved(self, wrapup: SavedWrapup) -> None:
        """A wrap-up was stored (or replaced). Runs on the event loop: no I/O, no wait."""


class CustomerRoom(CustomerLookup, WrapupListener, Protocol):
    """The records room's partner: names a call's customer, learns of its wrap-up."""


def fill_customer_ids(lookup: CustomerLookup, ops: Sequence[Op]) -> None:
    """Set `customer_id` on the records of `ops` that have none yet."""
    for op in ops:
        if not isinstance(op, RecordOp) or op.row.get("customer_id") is not None:
            continue
        row: dict[str, Any] = op.row
        try:
            row["customer_id"] = lookup.customer_id(
                row.get("caller_number"), row.get("ivr_data") or {}
            )
        except Exception:
            # A record without its customer beats a record not written.
            log.exception(
                "customer look-up failed for call %s/%s", row.get("pbx"), row.get("uniqueid")
            )


def saved_wrapup(call: Mapping[Any, Any], wrapup: Mapping[Any, Any]) -> SavedWrapup:
    """From a call_records row and its call_wrapups row."""
    return SavedWrapup(
        call_id=wrapup["call_id"],
        pbx=call["pbx"],
        uniqueid=call["uniqueid"],
        joined_at=call["joined_at"],
        caller_number=call["caller_number"],
        customer_id=call["customer_id"],
        answered_by=call["answered_by"],
        answered_by_name=call["answered_by_name"],
        disposition=wrapup["disposition"],
        category=wrapup["category"],
        notes=wrapup["notes"],
        follow_up_due=wrapup["follow_up_due"],
        username=wrapup["username"],
        submitted_at=wrapup["submitted_at"],
    )


async def saved_wrapups(
    engine: AsyncEngine,
    *,
    submitted_since: datetime | None = None,
    due_from: date | None = None,
    page_size: int = WRAPUP_PAGE,
) -> AsyncIterator[list[SavedWrapup]]:
    """Wrap-ups submitted since a time, or with a follow-up due on or after a day, a page
    at a time (keyset on the indexed column, so neither reads the whole table)."""
    records = CallRecord.__table__
    wrapups = CallWrapup.__table__
    start: date  # a datetime is a date too
    if submitted_since is not None and due_from is None:
        key, start = wrapups.c.submitted_at, submitted_since
    elif due_from is not None and submitted_since is None:
        key, start = wrapups.c.follow_up_due, due_from
    else:
        raise ValueError("give exactly one of submitted_since and due_from")
    base = (
        select(
            wrapups.c.id.label("wrapup_id"),
            wrapups.c.call_id,
            wrapups.c.disposition,
            wrapups.c.category,
            wrapups.c.notes,
            wrapups.c.follow_up_due,
            wrapups.c.username,
            wrapups.c.submitted_at,
            records.c.pbx,
            records.c.uniqueid,
            records.c.joined_at,
            records.c.caller_number,
            records.c.customer_id,
            records.c.answered_by,
            records.c.answered_by_name,
        )
        .join(records, records.c.id == wrapups.c.call_id)
        .where(key >= start)
    )
    last: tuple[Any, int] | None = None
    while True:
        query = base
        if last is not None:
            query = query.where(or_(key > last[0], and_(key == last[0], wrapups.c.id > last[1])))
        query = query.order_by(key, wrapups.c.id).limit(page_size)
        async with engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        if rows:
            yield [saved_wrapup(row, row) for row in rows]
        if len(rows) < page_size:
            return
        last = (rows[-1][key.name], rows[-1]["wrapup_id"])
        await asyncio.sleep(0)
