"""Migration 0015 on SQLite and on PostgreSQL: a database at 0014 with callers promised a
callback (``callback_requests`` + ``callback_tasks``) upgrades to work items the dialler
schedules, and the downgrade takes the work-items tables away again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.ivr.models import CallbackTask
from callcenter.store.db import create_engine
from callcenter.store.migrate import alembic_config
from callcenter.store.types import UtcDateTime
from callcenter.work.models import CallbackScheduleRow, WorkItemEventRow, WorkItemRow
from callcenter.work.tickets import valid_ticket

WORK_TABLES = {
    "work_items",
    "work_item_calls",
    "work_item_events",
    "work_item_links",
    "work_callbacks",
    "callback_attempts",
    "work_department_requests",
}
REQUESTED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
DUE = REQUESTED + timedelta(hours=1)

# The tables as 0014 has them (not the models of today).
requests = sa.table(
    "callback_requests",
    sa.column("id", sa.Integer),
    sa.column("pbx", sa.String),
    sa.column("uniqueid", sa.String),
    sa.column("linkedid", sa.String),
    sa.column("queue", sa.String),
    sa.column("caller_number", sa.String),
    sa.column("account", sa.String),
    sa.column("language", sa.String),
    sa.column("requested_at", UtcDateTime),
)
tasks = sa.table(
    "callback_tasks",
    sa.column("id", sa.Integer),
    sa.column("request_id", sa.Integer),
    sa.column("pbx", sa.String),
    sa.column("queue", sa.String),
    sa.column("number", sa.String),
    sa.column("status", sa.String),
    sa.column("due_at", UtcDateTime),
    sa.column("assigned_to", sa.String),
    sa.column("created_at", UtcDateTime),
    sa.column("closed_at", UtcDateTime),
)
teams = sa.table(
    "teams",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("label_zh", sa.String),
    sa.column("label_en", sa.String),
    sa.column("updated_at", UtcDateTime),
)
team_queues = sa.table(
    "team_queues", sa.column("team_id", sa.Integer), sa.column("queue", sa.String)
)
calls = sa.table(
    "call_records",
    sa.column("id", sa.Integer),
    sa.column("pbx", sa.String),
    sa.column("uniqueid", sa.String),
    sa.column("queue", sa.String),
    sa.column("joined_at", UtcDateTime),
    sa.column("agents_rung", sa.JSON),
    sa.column("ring_no_answer_count", sa.Integer),
    sa.column("outcome", sa.String),
    sa.column("ivr_data", sa.JSON),
)


def _migrate(connection: Connection, revision: str, down: bool) -> str | None:
    config = alembic_config()
    config.attributes["connection"] = connection
    if down:
        command.downgrade(config, revision)
    else:
        command.upgrade(config, revision)
    return MigrationContext.configure(connection).get_current_revision()


async def migrate(engine: AsyncEngine, revision: str, *, down: bool = False) -> str | None:
    async with engine.begin() as connection:
        return await connection.run_sync(_migrate, revision, down)


def _tables(connection: Connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names())


def _columns(connection: Connection, table: str) -> set[str]:
    return {column["name"] for column in sa.inspect(connection).get_columns(table)}


async def schema(engine: AsyncEngine) -> tuple[set[str], set[str]]:
    """The tables, and the columns of call_records."""
    async with engine.connect() as connection:
        tables = await connection.run_sync(_tables)
        columns = await connection.run_sync(_columns, "call_records")
    return tables, columns


@pytest.fixture
async def at_0014(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A database at 0014 with three callback requests: two tasks open, one done, and a
    call record."""
    engine = create_engine(database_url)
    try:
        assert await migrate(engine, "0014") == "0014"
        async with engine.begin() as connection:
            for n, (number, status, due) in enumerate(
                [
                    ("+8613800000001", "open", DUE),
                    ("+8613800000002", "done", DUE),
                    ("2002", "open", DUE + timedelta(hours=2)),
                ],
                start=1,
            ):
                await connection.execute(
                    sa.insert(requests).values(
                        id=n,
                        pbx="rig",
                        uniqueid=f"1764580000.{n}",
                        linkedid=f"1764580000.{n}",
                        queue="support",
                        caller_number=number,
                        account=None,
                        language="zh",
                        requested_at=REQUESTED,
                    )
                )
                await connection.execute(
                    sa.insert(tasks).values(
                        id=10 + n,
                        request_id=n,
                        pbx="rig",
                        queue="support",
                        number=number,
                        status=status,
                        due_at=due,
                        assigned_to=None,
                        created_at=REQUESTED,
                        closed_at=DUE if status == "done" else None,
                    )
                )
            # The support line's team: the pool of its callbacks.
            await connection.execute(
                sa.insert(teams).values(
                    id=7, name="front", label_zh="一线", label_en="Front line", updated_at=REQUESTED
                )
            )
            await connection.execute(sa.insert(team_queues).values(team_id=7, queue="support"))
            await connection.execute(
                sa.insert(calls).values(
                    id=1,
                    pbx="rig",
                    uniqueid="1764580000.1",
                    queue="support",
                    joined_at=REQUESTED - timedelta(minutes=5),
                    agents_rung=[],
                    ring_no_answer_count=0,
                    outcome="abandoned",
                    ivr_data={},
                )
            )
        yield engine
    finally:
        await engine.dispose()


async def _read(engine: AsyncEngine) -> dict[str, Any]:
    async with AsyncSession(engine) as session:
        items = (await session.scalars(select(WorkItemRow).order_by(WorkItemRow.id))).all()
        schedules = (
            await session.scalars(select(CallbackScheduleRow).order_by(CallbackScheduleRow.item_id))
        ).all()
        events = (await session.scalars(select(WorkItemEventRow))).all()
        statuses = dict((await session.execute(select(CallbackTask.id, CallbackTask.status))).all())
        direction = await session.scalar(sa.text("SELECT direction FROM call_records"))
    return {
        "items": items,
        "schedules": schedules,
        "events": events,
        "statuses": statuses,
        "direction": direction,
    }


async def test_open_callback_tasks_become_scheduled_callback_items(at_0014: AsyncEngine) -> None:
    tables, columns = await schema(at_0014)
    assert not tables & WORK_TABLES and "direction" not in columns

    assert await migrate(at_0014, "0015") == "0015"
    found = await _read(at_0014)

    items = found["items"]
    assert [(i.kind, i.status, i.is_open, i.phone) for i in items] == [
        ("callback", "open", True, "+8613800000001"),
        ("callback", "open", True, "2002"),
    ]
    for item, task_id, due in zip(items, (11, 13), (DUE, DUE + timedelta(hours=2)), strict=True):
        assert valid_ticket(item.ticket)
        assert (item.pbx, item.queue, item.source, item.source_key) == (
            "rig",
            "support",
            "ivr",
            f"task:{task_id}",
        )
        assert (item.category, item.priority, item.version) == ("callback", "normal", 1)
        assert (item.created_at, item.due_at, item.clock) == (REQUESTED, due, "wall")
        assert item.span_seconds == int((due - REQUESTED).total_seconds())
        assert (item.owner_id, item.escalation_tier, item.escalations) == (None, 0, 0)
        # In the pool of the team serving the queue, in the caller's language, and due for
        # the first escalation sweep.
        assert (item.team_id, item.language) == (7, "zh")
        assert item.next_escalation_at is not None
    assert len({i.ticket for i in items}) == 2

    assert [
        (s.item_id, s.state, s.number, s.next_attempt_at, s.attempts) for s in found["schedules"]
    ] == [
        (items[0].id, "waiting", "+8613800000001", DUE, 0),
        (items[1].id, "waiting", "2002", DUE + timedelta(hours=2), 0),
    ]
    assert all(s.pbx == "rig" and s.queue == "support" for s in found["schedules"])
    assert sorted((e.item_id, e.kind, e.actor_name) for e in found["events"]) == [
        (items[0].id, "created", "system"),
        (items[1].id, "created", "system"),
    ]
    # The open tasks were moved; the done one is as it was.
    assert found["statuses"] == {11: "moved", 12: "done", 13: "moved"}
    # Calls recorded before 0015 were queue calls.
    assert found["direction"] == "inbound"

    # A second start migrates nothing twice.
    assert await migrate(at_0014, "0015") == "0015"
    assert len((await _read(at_0014))["items"]) == 2


async def test_the_downgrade_removes_the_work_tables_and_upgrades_again(
    at_0014: AsyncEngine,
) -> None:
    await migrate(at_0014, "0015")
    tables, columns = await schema(at_0014)
    assert tables >= WORK_TABLES and "direction" in columns

    assert await migrate(at_0014, "0014", down=True) == "0014"
    tables, columns = await schema(at_0014)
    assert not tables & WORK_TABLES
    assert "direction" not in columns
    assert {"callback_tasks", "callback_requests", "call_records"} <= tables
    async with AsyncSession(at_0014) as session:
        assert await session.scalar(sa.text("SELECT count(*) FROM call_records")) == 1

    # Up again: the schema is back; tasks already moved are not moved twice.
    assert await migrate(at_0014, "0015") == "0015"
    tables, columns = await schema(at_0014)
    assert tables >= WORK_TABLES and "direction" in columns


async def test_a_downgrade_gives_open_callbacks_back_to_the_task_list(
    at_0014: AsyncEngine,
) -> None:
    await migrate(at_0014, "0015")
    await migrate(at_0014, "0014", down=True)
    async with AsyncSession(at_0014) as session:
        statuses = dict((await session.execute(select(tasks.c.id, tasks.c.status))).all())
    assert statuses == {11: "open", 12: "done", 13: "open"}
