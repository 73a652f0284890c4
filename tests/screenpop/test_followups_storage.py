"""Follow-ups and dispositions from the database into the pop's memory, on SQLite and on
PostgreSQL: loaded at start, and read again on refresh when another replica stores them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.customers.directory import CustomerDirectory
from callcenter.customers.followups import local_date
from callcenter.customers.repo import past_call
from callcenter.records.customers import saved_wrapups
from callcenter.records.query import RECORDS_TABLE, WRAPUPS_TABLE
from callcenter.records.rows import record_row
from tests.records.helpers import call_record

ZONE = ZoneInfo("Asia/Shanghai")
CUSTOMER_NUMBER = "13800001111"
STRANGER = "13900002222"


async def add_call(engine: AsyncEngine, n: int, number: str, customer_id: int | None = None) -> int:
    row = record_row(call_record(n, caller_num=number))
    row["customer_id"] = customer_id
    async with engine.begin() as connection:
        result = await connection.execute(insert(RECORDS_TABLE).values(row))
        return int(result.inserted_primary_key[0])  # type: ignore[index]


async def add_wrapup(
    engine: AsyncEngine,
    call_id: int,
    due: date | None,
    disposition: str = "repair-booked",
    ago: timedelta = timedelta(),
) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            insert(WRAPUPS_TABLE).values(
                call_id=call_id,
                disposition=disposition,
                category="after-sales",
                notes="周五上门",
                follow_up_due=due,
                agent_interface="PJSIP/1001",
                username="wang",
                submitted_at=datetime.now(UTC) - ago,
            )
        )


def ids(items: list[Any]) -> list[int]:
    return sorted(item.call_id for item in items)


async def test_open_follow_ups_and_dispositions_load_at_start_and_arrive_on_refresh(
    engine: AsyncEngine,
) -> None:
    today = local_date(datetime.now(UTC), ZONE)
    directory = CustomerDirectory(engine, "CN", 5, follow_up_overdue_days=30, zone=ZONE)
    customer = await directory.save(
        {
            "name": "王五",
            "phones": ["+86" + CUSTOMER_NUMBER],
            "account_number": None,
            "vip_level": 1,
            "language": "zh",
            "tags": [],
            "notes": "",
        }
    )
    soon = await add_call(engine, 1, CUSTOMER_NUMBER, customer.id)
    too_old = await add_call(engine, 2, CUSTOMER_NUMBER, customer.id)
    overdue = await add_call(engine, 3, STRANGER)
    no_date = await add_call(engine, 4, CUSTOMER_NUMBER)  # the writer found nobody then
    hour = timedelta(hours=1)
    await add_wrapup(engine, soon, today + timedelta(days=3), ago=hour)
    await add_wrapup(engine, too_old, today - timedelta(days=31), ago=hour)
    await add_wrapup(engine, overdue, today - timedelta(days=5), ago=hour)
    await add_wrapup(engine, no_date, None, disposition="resolved", ago=hour)

    await directory.load()
    assert ids(directory.follow_ups_of_customer(customer)) == [soon]
    [item] = directory.follow_ups_of(STRANGER)
    assert (item.call_id, item.due, item.answered_by) == (
        overdue,
        today - timedelta(days=5),
        "Agent 1001",
    )
    by_call = {c.uniqueid: c.disposition for c in directory.calls_of_customer(customer)}
    assert by_call == {
        "1700000000.1": "repair-booked",
        "1700000000.2": "repair-booked",
        "1700000000.4": "resolved",
    }
    # The answering agent as the card shows it and as the IVR's sticky agent needs it.
    assert {(c.answered_by_name, c.answered_by) for c in directory.calls_of_customer(customer)} == {
        ("Agent 1001", "PJSIP/1001")
    }

    # A call this replica saw end, wrapped up on another replica; and an earlier wrap-up
    # submitted again there without its date.
    later = await add_call(engine, 5, CUSTOMER_NUMBER, customer.id)
    directory.record_call(CUSTOMER_NUMBER, past_call(call_record(5, caller_num=CUSTOMER_NUMBER)))
    assert directory.calls_of_customer(customer)[0].disposition is None
    assert directory.calls_of_customer(customer)[0].answered_by == "PJSIP/1001"
    await add_wrapup(engine, later, today, disposition="complaint-logged")
    async with engine.begin() as connection:
        await connection.execute(
            update(WRAPUPS_TABLE)
            .where(WRAPUPS_TABLE.c.call_id == soon)
            .values(follow_up_due=None, submitted_at=datetime.now(UTC))
        )
    assert await directory.refresh_wrapups() == 2  # only what changed since the load
    assert ids(directory.follow_ups_of_customer(customer)) == [later]
    assert directory.calls_of_customer(customer)[0].disposition == "complaint-logged"

    # A replica started now agrees, and paging reads every row once.
    other = CustomerDirectory(engine, "CN", 5, follow_up_overdue_days=30, zone=ZONE)
    await other.load()
    assert ids(other.follow_ups_of_customer(customer)) == [later]
    assert ids(other.follow_ups_of(STRANGER)) == [overdue]
    pages = [
        page
        async for page in saved_wrapups(engine, due_from=today - timedelta(days=40), page_size=1)
    ]
    assert [len(page) for page in pages] == [1, 1, 1]
    assert sorted(p[0].call_id for p in pages) == sorted([too_old, overdue, later])
    since = [
        w
        async for page in saved_wrapups(
            engine, submitted_since=datetime.now(UTC) - timedelta(minutes=5), page_size=2
        )
        for w in page
    ]
    assert sorted(w.call_id for w in since) == sorted([soon, later])
    with pytest.raises(ValueError):
        [page async for page in saved_wrapups(engine)]
