"""Call records sustained into PostgreSQL and SQLite by the durable writer.

    .venv/bin/python bench/outcomes.py [--calls 20000] [--fast-pg]

The CallEnded records come from replaying the recorded rig traces in tests/fixtures/ami
(answered, abandoned, timed out, ring-no-answer, mixed) through the live model; each record
is then copied with a fresh Uniqueid and a later join time until there are ``--calls``.
Each call also brings its CallerJoined (and CallConnected when answered), in time order with
the other calls' changes, as the live model emits them: the open_calls writes that let a
restarted service close calls that ended while it was down.
They go through the real path: ``RecordsRoom.on_change`` → spool (write on the event
path, fsync per batch) → batched idempotent INSERT ... ON CONFLICT → segment deleted.

Printed per database: the event-path cost per call (µs in on_change), calls/s from the first
submit until every record is committed, and a check that the table holds exactly --calls rows.
A throw-away PostgreSQL (tests/fixtures_pg.PostgresServer) is started and removed; by default
with durable settings (fsync and synchronous_commit on), --fast-pg uses the test suite's
fsync=off settings. Target (issue 5): >= 2,000 calls/s into PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from callcenter.live import (  # noqa: E402
    CallConnected,
    CallEnded,
    CallerJoined,
    CallerView,
    CallRecord,
    Change,
    LiveModel,
)
from callcenter.live.replay import load_trace, replay  # noqa: E402
from callcenter.records.query import RECORDS_TABLE  # noqa: E402
from callcenter.records.room import RecordsRoom  # noqa: E402
from callcenter.records.writer import OPEN_TABLE  # noqa: E402
from callcenter.settings import RecordsSettings  # noqa: E402
from callcenter.store.db import create_engine  # noqa: E402
from callcenter.store.migrate import upgrade_to_head  # noqa: E402
from tests.fixtures_pg import PostgresServer  # noqa: E402
from tests.records.helpers import Seated  # noqa: E402
from tests.rooms import make_host  # noqa: E402

TRACES = ROOT / "tests" / "fixtures" / "ami"


def template_records() -> list[CallRecord]:
    records: list[CallRecord] = []
    for path in sorted(TRACES.glob("*.jsonl")):
        model = LiveModel()
        changes = replay(model, "rig", load_trace(path))
        changes += model.tick(
            max(c.at for c in changes if hasattr(c, "at")) + timedelta(seconds=60)
        )
        records += [c.record for c in changes if isinstance(c, CallEnded)]
    if not records:
        raise SystemExit(f"no call records from the traces in {TRACES}")
    return records


def scaled(templates: list[CallRecord], calls: int) -> list[Change]:
    out: list[tuple[object, int, Change]] = []
    for n in range(calls):
        base = templates[n % len(templates)]
        shift = timedelta(seconds=n)
        record = dataclasses.replace(
            base,
            uniqueid=f"{base.uniqueid}~{n}",
            linkedid=f"{base.linkedid}~{n}",
            joined_at=base.joined_at + shift,
            ended_at=base.ended_at + shift,
            answered_at=None if base.answered_at is None else base.answered_at + shift,
            left_at=None if base.left_at is None else base.left_at + shift,
        )
        out.append(
            (
                record.joined_at,
                3 * n,
                CallerJoined(
                    record.joined_at,
                    CallerView(
                        record.pbx,
                        record.queue,
                        record.uniqueid,
                        record.linkedid,
                        record.channel,
                        record.caller_num,
                        record.caller_name,
                        record.position_at_join,
                        record.joined_at,
                        None,
                        record.ivr,
                    ),
                    1,
                ),
            )
        )
        if record.answered_at is not None and record.answered_by is not None:
            out.append(
                (
                    record.answered_at,
                    3 * n + 1,
                    CallConnected(
                        record.answered_at,
                        record.pbx,
                        record.queue,
                        record.uniqueid,
                        record.answered_by,
                        record.answered_by_name or record.answered_by,
                        "",
                        "",
                        record.caller_num,
                        record.caller_name,
                        record.wait_seconds,
                        0,
                        record.ivr,
                    ),
                )
            )
        out.append((record.ended_at, 3 * n + 2, CallEnded(record)))
    out.sort(key=lambda item: (item[0], item[1]))
    return [change for _, _, change in out]


async def run(url: str, label: str, changes: list[Change], work: Path) -> None:
    engine = create_engine(url)
    await upgrade_to_head(engine)
    room = RecordsRoom(
        make_host(engine), RecordsSettings(spool_dir=work / f"spool-{label}"), seats=Seated()
    )
    await room.start()
    # Sustained: submit at full speed in slices, yielding to the loop like the AMI reader does.
    started = time.perf_counter()
    on_change_seconds = 0.0
    for start in range(0, len(changes), 200):
        t0 = time.perf_counter()
        for change in changes[start : start + 200]:
            room.on_change(change)
        on_change_seconds += time.perf_counter() - t0
        await asyncio.sleep(0)
    await room.writer.flush(timeout=600)
    elapsed = time.perf_counter() - started
    await room.stop()
    async with engine.connect() as connection:
        stored = (
            await connection.execute(select(func.count()).select_from(RECORDS_TABLE))
        ).scalar_one()
        still_open = (
            await connection.execute(select(func.count()).select_from(OPEN_TABLE))
        ).scalar_one()
    await engine.dispose()
    calls = sum(isinstance(change, CallEnded) for change in changes)
    print(
        f"{label:>10}: {calls} calls in {elapsed:.2f} s = {calls / elapsed:,.0f} calls/s "
        f"committed; event path {on_change_seconds / calls * 1e6:.1f} µs/call; "
        f"rows stored {stored} ({'ok' if stored == calls else 'MISMATCH'}), "
        f"{len(changes)} changes, {still_open} left in open_calls"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument(
        "--fast-pg",
        action="store_true",
        help="PostgreSQL with fsync=off (the test suite's settings)",
    )
    args = parser.parse_args()
    templates = template_records()
    changes = scaled(templates, args.calls)
    print(
        f"{len(templates)} distinct records from {TRACES.relative_to(ROOT)}, scaled to "
        f"{args.calls} calls; batch_size {RecordsSettings().batch_size}, batch_interval "
        f"{RecordsSettings().batch_interval} s"
    )
    work = Path(tempfile.mkdtemp(prefix="cc-bench-outcomes-"))
    server = PostgresServer(durable=not args.fast_pg)
    try:
        server.init()
        server.start()
        try:
            await run(
                server.create_database(),
                "postgresql" + ("*" if args.fast_pg else ""),
                changes,
                work,
            )
        finally:
            server.stop()
        await run(f"sqlite+aiosqlite:///{work / 'bench.db'}", "sqlite", changes, work)
    finally:
        server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
