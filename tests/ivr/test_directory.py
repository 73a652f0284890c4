"""The hotline's caller facts from the screen-pop's memory (pure, no database), and the SQL
adapter agreeing with them on stored data (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.customers.directory import CustomerDirectory as ScreenPopDirectory
from callcenter.customers.index import Customer, PastCall
from callcenter.ivr.decisions import CustomerFacts
from callcenter.ivr.directory import IndexedCustomerDirectory, SqlCustomerDirectory
from callcenter.records.customers import SavedWrapup
from callcenter.records.query import RECORDS_TABLE, WRAPUPS_TABLE
from callcenter.records.rows import record_row
from callcenter.store.db import create_engine
from callcenter.store.migrate import upgrade_to_head
from tests.records.helpers import call_record

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 02:00 on 24 November in Shanghai, still 23 November in UTC.
NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
TODAY = date(2026, 11, 24)  # in Shanghai
WANG = Customer(7, "王五", ("+8613800138000", "+8613900139000"), "A7", 3, "en", (), "")
WANG_NUMBER = "13800138000"
STRANGER = "02112345678"


@pytest.fixture
def pop() -> Iterator[ScreenPopDirectory]:
    # Never connected: the facts come from memory alone.
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    directory = ScreenPopDirectory(engine, "CN", 5, follow_up_overdue_days=30, zone=SHANGHAI)
    directory.index.put(WANG)
    yield directory


def facts(
    pop: ScreenPopDirectory, number: str, account: str | None = None, now: datetime = NOW
) -> CustomerFacts | None:
    return IndexedCustomerDirectory(pop, clock=lambda: now).facts_at(now, number, account)


def answered(
    uniqueid: str, ago: timedelta, interface: str | None, name: str | None = None
) -> PastCall:
    return PastCall(
        "rig",
        uniqueid,
        "support",
        NOW - ago,
        "answered" if interface else "abandoned",
        name,
        3.0,
        60.0 if interface else None,
        answered_by=interface,
    )


_call_ids = iter(range(1, 10_000))


def wrapup(
    number: str,
    category: str,
    due: date | None,
    *,
    customer_id: int | None = None,
    call_id: int | None = None,
) -> SavedWrapup:
    call_id = next(_call_ids) if call_id is None else call_id
    return SavedWrapup(
        call_id=call_id,
        pbx="rig",
        uniqueid=f"w{call_id}",
        joined_at=NOW - timedelta(days=40),
        caller_number=number,
        customer_id=customer_id,
        answered_by="PJSIP/1001",
        answered_by_name="Agent 1001",
        disposition="complaint-logged" if category == "complaint" else "resolved",
        category=category,
        notes="",
        follow_up_due=due,
        username="wang",
        submitted_at=NOW,
    )


async def test_a_known_caller_by_number_and_by_account(pop: ScreenPopDirectory) -> None:
    by_number = facts(pop, WANG_NUMBER)
    assert by_number == CustomerFacts(
        customer_id="7", vip_level=3, language="en", open_complaint=False, last_agent=None
    )
    # Typed the account on a phone the index does not know.
    assert facts(pop, STRANGER, "A7") == by_number
    # The async Protocol method answers the same, with the directory's own clock.
    assert (
        await IndexedCustomerDirectory(pop, clock=lambda: NOW).facts("+86 139 0013 9000", None)
        == by_number
    )


def test_an_unknown_caller_without_history_is_none(pop: ScreenPopDirectory) -> None:
    assert facts(pop, STRANGER) is None
    assert facts(pop, STRANGER, "no-such-account") is None
    assert facts(pop, "") is None


def test_the_sticky_agent_is_the_interface_of_the_latest_answered_call_within_90_days(
    pop: ScreenPopDirectory,
) -> None:
    pop.record_call(WANG_NUMBER, answered("u1", timedelta(days=20), "PJSIP/1001", "Agent 1001"))
    pop.record_call(
        "13900139000",  # Wang's second number
        answered("u2", timedelta(days=3), "PJSIP/1002", "Agent 1002"),
    )
    pop.record_call(WANG_NUMBER, answered("u3", timedelta(hours=1), None))  # abandoned
    found = facts(pop, WANG_NUMBER)
    assert found is not None and found.last_agent == "PJSIP/1002"
    # 90 days after the latest answered call it still counts; a day later it is too old,
    # and the earlier one does not take its place.
    assert facts(pop, WANG_NUMBER, now=NOW + timedelta(days=87)) == found
    assert facts(pop, WANG_NUMBER, now=NOW + timedelta(days=88)) == CustomerFacts(
        customer_id="7", vip_level=3, language="en", last_agent=None
    )


def test_an_unknown_caller_keeps_the_agent_who_answered_their_number(
    pop: ScreenPopDirectory,
) -> None:
    pop.record_call(STRANGER, answered("u1", timedelta(days=100), "PJSIP/1003"))
    assert facts(pop, "021-1234-5678") is None  # older than 90 days: no fact at all
    pop.record_call(STRANGER, answered("u2", timedelta(days=1), "PJSIP/1004", "Agent 1004"))
    assert facts(pop, "021-1234-5678") == CustomerFacts(last_agent="PJSIP/1004")


def test_an_open_complaint_uses_the_cards_rule(pop: ScreenPopDirectory) -> None:
    pop.wrapup_saved(wrapup(WANG_NUMBER, "consultation", TODAY + timedelta(days=2)))
    # Overdue by 31 days in Shanghai (by 30 only in UTC): past the 30-day window.
    pop.wrapup_saved(wrapup(WANG_NUMBER, "complaint", TODAY - timedelta(days=31)))
    pop.wrapup_saved(wrapup(WANG_NUMBER, "complaint", None))  # no follow-up date
    found = facts(pop, WANG_NUMBER)
    assert found is not None and not found.open_complaint

    # Named by the call record while calling from another phone, overdue within the window.
    complaint = wrapup(STRANGER, "complaint", TODAY - timedelta(days=30), customer_id=7)
    pop.wrapup_saved(complaint)
    found = facts(pop, WANG_NUMBER)
    assert found is not None and found.open_complaint and found.vip_level == 3
    # The next day in Shanghai it is 31 days overdue: closed.
    found = facts(pop, WANG_NUMBER, now=NOW + timedelta(days=1))
    assert found is not None and not found.open_complaint


def test_an_unknown_caller_with_an_open_complaint_on_their_number(
    pop: ScreenPopDirectory,
) -> None:
    complaint = wrapup(STRANGER, "complaint", TODAY)
    pop.wrapup_saved(complaint)
    assert facts(pop, "+86 21 1234 5678") == CustomerFacts(open_complaint=True)
    # Submitted again without a date: no longer a follow-up, no longer a fact.
    pop.wrapup_saved(wrapup(STRANGER, "complaint", None, call_id=complaint.call_id))
    assert facts(pop, STRANGER) is None


# --- both adapters on the same stored data -------------------------------------------------


async def _add_call(
    engine: AsyncEngine,
    n: int,
    number: str,
    customer_id: int | None,
    ago: timedelta,
    interface: str | None,
) -> int:
    record = call_record(
        n,
        caller_num=number,
        joined_at=NOW - ago,
        answered_by=interface,
        answered_by_name=interface and f"Agent {interface[-4:]}",
        outcome="answered" if interface else "abandoned",
    )
    row = record_row(record)
    row["customer_id"] = customer_id
    async with engine.begin() as connection:
        result = await connection.execute(insert(RECORDS_TABLE).values(row))
        return int(result.inserted_primary_key[0])  # type: ignore[index]


async def _add_wrapup(engine: AsyncEngine, call_id: int, category: str, due: date) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            insert(WRAPUPS_TABLE).values(
                call_id=call_id,
                disposition="complaint-logged",
                category=category,
                notes="",
                follow_up_due=due,
                agent_interface="PJSIP/1001",
                username="wang",
                submitted_at=NOW,
            )
        )


async def test_the_sql_adapter_agrees_with_the_memory(database_url: str) -> None:
    engine = create_engine(database_url)
    await upgrade_to_head(engine)
    try:
        pop = ScreenPopDirectory(
            engine, "CN", 5, follow_up_overdue_days=30, zone=SHANGHAI, clock=lambda: NOW
        )
        saved = await pop.save(
            {
                "name": "王五",
                "phones": ["+86" + WANG_NUMBER],
                "account_number": "A7",
                "vip_level": 3,
                "language": "en",
                "tags": [],
                "notes": "",
            }
        )
        other = await pop.save(
            {
                "name": "李四",
                "phones": ["+8613700137000"],
                "account_number": "A8",
                "vip_level": 0,
                "language": "zh",
                "tags": [],
                "notes": "",
            }
        )
        old = await _add_call(engine, 1, WANG_NUMBER, saved.id, timedelta(days=100), "PJSIP/1009")
        await _add_call(engine, 2, WANG_NUMBER, saved.id, timedelta(days=5), "PJSIP/1002")
        await _add_call(engine, 3, WANG_NUMBER, saved.id, timedelta(hours=2), None)
        await _add_wrapup(engine, old, "complaint", TODAY - timedelta(days=30))  # still open
        lis = await _add_call(engine, 4, "13700137000", other.id, timedelta(days=200), "PJSIP/1003")
        await _add_wrapup(engine, lis, "complaint", TODAY - timedelta(days=31))  # closed
        stranger = await _add_call(engine, 5, STRANGER, None, timedelta(days=1), "PJSIP/1004")
        await _add_wrapup(engine, stranger, "consultation", TODAY)
        await pop.load()

        memory = IndexedCustomerDirectory(pop, clock=lambda: NOW)
        sql = SqlCustomerDirectory(
            engine, zone=SHANGHAI, follow_up_overdue_days=30, clock=lambda: NOW
        )
        expected = {
            (WANG_NUMBER, None): CustomerFacts(str(saved.id), 3, "en", True, "PJSIP/1002"),
            (STRANGER, "A7"): CustomerFacts(str(saved.id), 3, "en", True, "PJSIP/1002"),
            ("13700137000", None): CustomerFacts(str(other.id), 0, "zh", False, None),
            (STRANGER, None): CustomerFacts(None, 0, None, False, "PJSIP/1004"),
            ("13600136000", None): None,
        }
        for (number, account), want in expected.items():
            assert await memory.facts(number, account) == want, (number, account)
            assert await sql.facts(number, account) == want, (number, account)
    finally:
        await engine.dispose()
