"""Migrations and the call-record table, on SQLite and on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.records.models import CallRecord
from callcenter.store.db import create_engine, database_is_up
from callcenter.store.migrate import alembic_config, upgrade_to_head
from callcenter.store.registry import metadata

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def _record(**overrides: object) -> CallRecord:
    values: dict[str, object] = dict(
        pbx="rig",
        uniqueid="1700000000.1",
        queue="support",
        caller_number="+8613800000000",
        caller_name="张三",
        joined_at=datetime(2026, 11, 23, 8, 0, tzinfo=UTC),
        outcome="answered",
        agents_rung=["PJSIP/1001"],
        ring_no_answer_count=0,
        ivr_data={"menu": "1"},
    )
    values.update(overrides)
    return CallRecord(**values)


def _schema_diff(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


async def test_migrations_build_the_schema_the_models_describe(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        assert await upgrade_to_head(engine) == HEAD
        assert await upgrade_to_head(engine) == HEAD  # idempotent on a second start
        async with engine.connect() as connection:
            assert await connection.run_sync(_schema_diff) == []
    finally:
        await engine.dispose()


def test_the_base_imports_no_room_and_the_registry_lists_every_room() -> None:
    probe = (
        "import sys, callcenter.store.base\n"
        "rooms = sorted(m for m in sys.modules if m.endswith('.models'))\n"
        "assert rooms == [], rooms\n"
        "from callcenter.store.registry import metadata\n"
        "print(' '.join(sorted(metadata.tables)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    # One table of each room (the schema test above finds any other one missing).
    assert {
        "users",
        "customers",
        "callback_requests",
        "call_records",
        "call_wrapups",
        "open_calls",
        "routing_policies",
        "audit_log",
    } <= set(done.stdout.split())


async def test_call_record_round_trip_keeps_utc_and_unicode(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade_to_head(engine)
        beijing = timezone(timedelta(hours=8))
        async with AsyncSession(engine) as session, session.begin():
            session.add(_record(answered_at=datetime(2026, 11, 23, 16, 0, 12, tzinfo=beijing)))
        async with AsyncSession(engine) as session:
            stored = (await session.execute(select(CallRecord))).scalar_one()
        assert stored.caller_name == "张三"
        assert stored.joined_at == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
        assert stored.answered_at == datetime(2026, 11, 23, 8, 0, 12, tzinfo=UTC)
        assert stored.answered_at is not None and stored.answered_at.utcoffset() == timedelta(0)
        assert stored.ivr_data == {"menu": "1"}
    finally:
        await engine.dispose()


async def test_one_record_per_pbx_uniqueid_and_joined_at(database_url: str) -> None:
    engine = create_engine(database_url)
    joined = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    try:
        await upgrade_to_head(engine)
        async with AsyncSession(engine) as session, session.begin():
            session.add(_record())
            session.add(_record(pbx="other"))  # same uniqueid on another PBX is another call
            # The same channel joining again later (an overflow queue) is another record.
            session.add(_record(joined_at=joined + timedelta(seconds=30), queue="overflow"))
        for duplicate in (
            _record(),
            _record(pbx="other"),
            _record(joined_at=joined + timedelta(seconds=30)),
        ):
            with pytest.raises(IntegrityError):
                async with AsyncSession(engine) as session, session.begin():
                    session.add(duplicate)
        async with AsyncSession(engine) as session:
            keys = sorted(
                (r.pbx, r.uniqueid, r.joined_at)
                for r in (await session.execute(select(CallRecord))).scalars()
            )
        assert keys == [
            ("other", "1700000000.1", joined),
            ("rig", "1700000000.1", joined),
            ("rig", "1700000000.1", joined + timedelta(seconds=30)),
        ]
    finally:
        await engine.dispose()


async def test_naive_timestamps_are_refused(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade_to_head(engine)
        with pytest.raises(StatementError, match="timezone-aware"):
            async with AsyncSession(engine) as session, session.begin():
                session.add(_record(joined_at=datetime(2026, 11, 23, 8, 0)))
    finally:
        await engine.dispose()


async def test_database_down_is_reported_without_the_url() -> None:
    engine = create_engine("postgresql+asyncpg://u:topsecret@127.0.0.1:1/none")
    try:
        up, reason = await database_is_up(engine, timeout=2)
    finally:
        await engine.dispose()
    assert not up
    assert "topsecret" not in reason and reason
