"""The durable writer against a real database: idempotent, spooled, drained, never lost."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import RowMapping, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.records.models import CallRecord
from callcenter.records.rows import OverflowOp, RecordOp, encode, record_row
from callcenter.records.spool import CURRENT, REJECTED, Spool
from callcenter.records.writer import RecordWriter
from callcenter.store.db import create_engine
from callcenter.store.migrate import upgrade_to_head
from tests.fixtures_pg import PostgresServer
from tests.records.helpers import call_record


async def stored(engine: AsyncEngine) -> list[RowMapping]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(CallRecord.__table__).order_by(CallRecord.joined_at))
        return list(rows.mappings())


async def count(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(
            (
                await connection.execute(select(func.count()).select_from(CallRecord.__table__))
            ).scalar_one()
        )


def op(n: int, **overrides: object) -> RecordOp:
    return RecordOp(record_row(call_record(n, **overrides)))


async def test_records_reach_the_database_once_even_when_written_twice(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    writer = RecordWriter(engine, Spool(tmp_path / "spool"), batch_size=50, batch_interval=0.05)
    await writer.start()
    try:
        for n in range(120):
            writer.submit(op(n))
        await writer.flush()
        for n in range(120):  # a spool re-applied after a crash
            writer.submit(op(n))
        await writer.flush()
    finally:
        await writer.stop()
    rows = await stored(engine)
    assert len(rows) == 120
    first = rows[0]
    assert first["caller_name"] == "张三" and first["answered_by_name"] == "Agent 1001"
    assert first["agents_rung"] == ["PJSIP/1001"] and first["ivr_data"] == {"CC_MENU": "1"}
    assert first["outcome"] == "answered" and first["talk_seconds"] == 60.0
    assert Spool(tmp_path / "spool").pending_bytes() == 0


async def test_each_join_of_one_channel_is_its_own_record(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    first = call_record(
        1,
        outcome="timeout",
        answered_by=None,
        answered_by_name=None,
        answered_at=None,
        talk_seconds=None,
        completed_by=None,
        queue_status="TIMEOUT",
    )
    second = call_record(1, queue="overflow", joined_at=first.joined_at + timedelta(seconds=5))
    writer = RecordWriter(engine, Spool(tmp_path / "spool"), batch_interval=0.01)
    await writer.start()
    try:
        writer.submit(RecordOp(record_row(first)))
        writer.submit(OverflowOp("rig", first.uniqueid, first.joined_at, "overflow"))
        writer.submit(RecordOp(record_row(second)))
        await writer.flush()
        # Re-applying the first record must not undo the overflow mark.
        writer.submit(RecordOp(record_row(first)))
        await writer.flush()
    finally:
        await writer.stop()
    rows = await stored(engine)
    assert [(r["queue"], r["outcome"], r["overflow_queue"]) for r in rows] == [
        ("support", "overflowed", "overflow"),
        ("overflow", "answered", None),
    ]


async def test_a_decided_outcome_replaces_unknown_but_not_the_reverse(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    writer = RecordWriter(engine, Spool(tmp_path / "spool"), batch_interval=0.01)
    await writer.start()
    try:
        writer.submit(op(1, outcome="unknown", evidence="reconcile"))
        writer.submit(op(2))
        await writer.flush()
        writer.submit(op(1))
        writer.submit(op(2, outcome="unknown", evidence="reconcile"))
        writer.submit(op(3, completed_by="transfer"))
        await writer.flush()
    finally:
        await writer.stop()
    assert [r["outcome"] for r in await stored(engine)] == ["answered", "answered", "transferred"]


async def test_start_drains_what_a_killed_process_left_in_the_spool(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    # A previous process: records 0..9 committed but not yet truncated, 10..19 only spooled,
    # and a torn last line (killed in the middle of a write).
    writer = RecordWriter(engine, Spool(tmp_path / "other"), batch_interval=0.01)
    await writer.start()
    for n in range(10):
        writer.submit(op(n))
    await writer.flush()
    await writer.stop()
    lines = [encode(op(n)) for n in range(20)]
    (spool_dir / "segment-00000000000000000001.jsonl").write_bytes(b"".join(lines[:5]))
    (spool_dir / CURRENT).write_bytes(b"".join(lines[5:]) + encode(op(20))[:40])

    restarted = RecordWriter(engine, Spool(spool_dir), batch_size=7, batch_interval=0.01)
    await restarted.start()
    try:
        assert await count(engine) == 20  # drained before start() returned
        assert not restarted.spool.segments()
    finally:
        await restarted.stop()
    assert [r["uniqueid"] for r in await stored(engine)] == [f"1700000000.{n}" for n in range(20)]
    assert (spool_dir / REJECTED).read_bytes() == encode(op(20))[:40] + b"\n"


async def test_a_row_the_database_refuses_does_not_hold_up_the_others(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    writer = RecordWriter(engine, Spool(tmp_path / "spool"), batch_interval=0.01)
    await writer.start()
    try:
        bad = op(2)
        bad.row["outcome"] = None  # NOT NULL
        for item in (op(1), bad, op(3)):
            writer.submit(item)
        await writer.flush()
    finally:
        await writer.stop()
    assert [r["uniqueid"] for r in await stored(engine)] == ["1700000000.1", "1700000000.3"]
    assert writer.rejected == 1
    assert b"1700000000.2" in (tmp_path / "spool" / REJECTED).read_bytes()


async def test_records_wait_in_the_spool_while_postgresql_is_down(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    engine = create_engine(postgres_server.create_database())
    await upgrade_to_head(engine)
    writer = RecordWriter(
        engine, Spool(tmp_path / "spool"), batch_size=10, batch_interval=0.01, retry_max_delay=0.5
    )
    await writer.start()
    try:
        for n in range(5):
            writer.submit(op(n))
        await writer.flush()
        postgres_server.stop()
        try:
            for n in range(5, 40):
                writer.submit(op(n))
            for _ in range(100):
                await asyncio.sleep(0.05)
                if writer.backlog and not writer.queued:
                    break
            assert writer.backlog
            assert writer.spool.pending_bytes() > 0
        finally:
            postgres_server.start()
        await writer.flush(timeout=30)
        assert await count(engine) == 40
        assert writer.spool.pending_bytes() == 0
    finally:
        await writer.stop()
        await engine.dispose()
