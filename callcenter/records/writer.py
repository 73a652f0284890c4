"""The durable call-record writer: event path → spool (on disk) → database, in batches.

`submit()` runs on the event path: it appends the write's JSON line to the spool's current
segment (a plain write(), so kill -9 cannot lose it) and queues it. One task does the rest,
every `batch_interval` (or sooner when `batch_size` writes wait):

1. seal the current segment (it holds exactly the queued writes) and fsync it in a thread;
2. write the queued writes to the database, `batch_size` rows per idempotent statement,
   in one transaction;
3. delete the sealed segment.

If the database is unreachable the writer turns to *backlog* mode: sealed segments stay on
disk and the queued copies are dropped; every retry (exponential back-off up to
`retry_max_delay`) drains all sealed segments oldest first. At start-up whatever a previous
process left in the spool is drained before anything else.

Idempotence makes crashes harmless: a write committed but whose segment was not yet deleted
(kill -9 between the two) is applied again at the next start and meets ON CONFLICT.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Table, and_, bindparam, delete, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.records.customers import CustomerLookup, fill_customer_ids
from callcenter.records.models import OpenCall
from callcenter.records.query import RECORDS_TABLE
from callcenter.records.rows import OVERFLOWABLE, Op, OpenOp, OverflowOp, RecordOp, encode
from callcenter.records.spool import Spool
from callcenter.store.db import database_is_up

log = logging.getLogger(__name__)

_KEY = ("pbx", "uniqueid", "joined_at")
OPEN_TABLE: Table = OpenCall.__table__  # type: ignore[assignment]
_RETRY_FIRST_DELAY = 0.25


class DatabaseUnavailable(Exception):
    """The database could not be reached; the writes wait in the spool."""


# --------------------------------------------------------------------------- statements


# The statements are built once per dialect and column set: each build makes an "excluded"
# alias with a copy of every column, cyclic garbage that, batch after batch, piled up for
# the collector to free in one pass of ~150 ms (the pops waited; bench/screenpop.py).


@functools.lru_cache(maxsize=32)
def _insert_records(dialect: str, names: tuple[str, ...]) -> Any:
    table = RECORDS_TABLE
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    excluded = statement.excluded
    # A record decided with evidence replaces an "unknown" one of the same join (e.g. a
    # replica that lost the AMI link closed it by resync); otherwise the first write wins, so
    # re-applying a spool never undoes a later mark (overflowed, ...).
    columns = {name: excluded[name] for name in names if name not in _KEY}
    return statement.on_conflict_do_update(
        index_elements=list(_KEY),
        set_=columns,
        where=and_(table.c.outcome == "unknown", excluded.outcome != "unknown"),
    )


@functools.lru_cache(maxsize=32)
def _upsert_open(dialect: str, names: tuple[str, ...]) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(OPEN_TABLE)
    # Writes arrive in event order: the later one (answered) replaces the earlier (joined).
    return statement.on_conflict_do_update(
        index_elements=list(_KEY),
        set_={name: statement.excluded[name] for name in names if name not in _KEY},
    )


_CLOSE_OPEN = delete(OPEN_TABLE).where(
    tuple_(OPEN_TABLE.c.pbx, OPEN_TABLE.c.uniqueid, OPEN_TABLE.c.joined_at).in_(
        bindparam("keys", expanding=True)
    )
)


def _dedupe(ops: Sequence[RecordOp]) -> list[dict[str, Any]]:
    """One row per key (PostgreSQL refuses to touch a row twice in one INSERT)."""
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for op in ops:
        kept = rows.get(op.key)
        if kept is None or kept["outcome"] == "unknown":
            rows[op.key] = op.row
    return list(rows.values())


async def _mark_overflow(connection: AsyncConnection, op: OverflowOp) -> None:
    table = RECORDS_TABLE
    where = [
        table.c.pbx == op.pbx,
        table.c.uniqueid == op.uniqueid,
        table.c.outcome.in_(OVERFLOWABLE),
    ]
    if op.joined_at is not None:
        where.append(table.c.joined_at == op.joined_at)
    else:
        latest = (
            select(table.c.id)
            .where(*where)
            .order_by(table.c.joined_at.desc())
            .limit(1)
            .scalar_subquery()
        )
        where = [table.c.id == latest]
    await connection.execute(
        update(table).where(*where).values(outcome="overflowed", overflow_queue=op.target[:80])
    )


async def apply_ops(engine: AsyncEngine, ops: Sequence[Op]) -> None:
    """Write `ops` in order, in one transaction; every statement is idempotent."""
    if not ops:
        return
    dialect = engine.dialect.name
    async with engine.begin() as connection:
        # Overflow marks keep their place; between them every kind goes in one statement.
        segment: list[RecordOp | OpenOp] = []
        for op in [*ops, None]:
            if isinstance(op, RecordOp | OpenOp):
                segment.append(op)
                continue
            await _apply_segment(connection, dialect, segment)
            segment = []
            if op is not None:
                await _mark_overflow(connection, op)


async def _apply_segment(
    connection: AsyncConnection, dialect: str, ops: Sequence[RecordOp | OpenOp]
) -> None:
    records = [op for op in ops if isinstance(op, RecordOp)]
    recorded = {op.key for op in records}
    # The last write of a call in progress wins; a call recorded in this batch needs none.
    opened = {op.key: op.row for op in ops if isinstance(op, OpenOp) and op.key not in recorded}
    if opened:
        rows = list(opened.values())
        await connection.execute(_upsert_open(dialect, tuple(rows[0])), rows)
    if records:
        rows = _dedupe(records)
        await connection.execute(_insert_records(dialect, tuple(rows[0])), rows)
        # The call has its record: it is no longer open (same transaction).
        await connection.execute(_CLOSE_OPEN, {"keys": list(recorded)})


# --------------------------------------------------------------------------- the writer


class RecordWriter:
    def __init__(
        self,
        engine: AsyncEngine,
        spool: Spool,
        *,
        batch_size: int = 500,
        batch_interval: float = 0.2,
        retry_max_delay: float = 5.0,
        customers: CustomerLookup | None = None,
    ) -> None:
        self.engine = engine
        self.customers = customers
        self.spool = spool
        self.batch_size = batch_size
        self.batch_interval = batch_interval
        self.retry_max_delay = retry_max_delay
        self._queue: list[Op] = []
        self._unspooled: list[Op] = []  # writes the spool could not take (disk full...)
        self._wake = asyncio.Event()
        self._full = asyncio.Event()
        self._idle = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.backlog = False
        self._retry_at = 0.0
        self._retry_delay = _RETRY_FIRST_DELAY
        # Figures for /metrics, the bench and tests.
        self.written = 0
        self.rejected = 0
        self.failures = 0

    # ------------------------------------------------------------------ event path

    def submit(self, op: Op) -> None:
        """Never blocks on the database; the write is on disk when this returns."""
        try:
            self.spool.write(encode(op))
        except OSError as exc:
            if not self._unspooled:
                log.error(
                    "call-record spool %s not writable (%s); keeping records in memory",
                    self.spool.directory,
                    exc.strerror,
                )
            self._unspooled.append(op)
        self._queue.append(op)
        self._idle.clear()
        self._wake.set()
        if len(self._queue) >= self.batch_size:
            self._full.set()

    @property
    def queued(self) -> int:
        return len(self._queue)

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        await asyncio.to_thread(self.spool.open)
        leftovers = await asyncio.to_thread(self.spool.segments)
        if leftovers:
            log.info(
                "call-record spool holds %d segment(s) from before; draining first", len(leftovers)
            )
            self.backlog = True
            await self._drain()
        self._task = asyncio.create_task(self._run(), name="records-writer")

    async def stop(self) -> None:
        """Write what is queued (to the database if it is up) and stop."""
        self._stopping = True
        self._wake.set()
        self._full.set()
        if self._task is not None:
            await self._task
            self._task = None
        self.spool.close()
        if self.backlog:
            log.warning(
                "database unreachable at stop: %d bytes of call records wait in %s",
                self.spool.pending_bytes(),
                self.spool.directory,
            )

    async def flush(self, timeout: float = 30.0) -> None:
        """Wait until everything submitted so far is in the database (tests, bench)."""
        async with asyncio.timeout(timeout):
            while self._queue or self.backlog:
                self._idle.clear()
                self._wake.set()
                await self._idle.wait()

    # ------------------------------------------------------------------ the loop

    async def _run(self) -> None:
        while True:
            await self._collect()
            # No await between taking the queue and sealing: the sealed segment holds
            # exactly these writes.
            ops, self._queue = self._queue, []
            self._full.clear()
            try:
                sealed = self.spool.seal()
            except OSError:
                log.exception("call-record spool could not be sealed")
                sealed = None
            await self._write(ops, sealed)
            if not self._queue and not self.backlog:
                self._idle.set()
            if self._stopping and not self._queue:
                self._idle.set()
                return

    async def _collect(self) -> None:
        if not self._queue and not self._stopping:
            timeout = None
            if self.backlog:
                timeout = max(0.0, self._retry_at - time.monotonic())
            self._wake.clear()
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                return
        if len(self._queue) < self.batch_size and not self._stopping:
            try:
                async with asyncio.timeout(self.batch_interval):
                    await self._full.wait()
            except TimeoutError:
                pass

    async def _write(self, ops: list[Op], sealed: tuple[Path, int] | None) -> None:
        if sealed is not None:
            try:
                await asyncio.to_thread(self.spool.sync_and_close, sealed[1])
            except OSError:
                log.exception("call-record spool fsync failed")
        if self._unspooled:
            try:
                await asyncio.to_thread(
                    self.spool.write_segment, [encode(op) for op in self._unspooled]
                )
                log.info("call-record spool writable again")
                self._unspooled = []
            except OSError:
                pass
        if self.backlog:
            # These writes are in a sealed segment (or still in _unspooled): the drain has them.
            if time.monotonic() >= self._retry_at or self._stopping:
                await self._drain()
            return
        if not ops:
            return
        try:
            await self._apply(ops)
        except DatabaseUnavailable:
            self._enter_backlog()
            return
        if self._unspooled:
            committed = {id(op) for op in ops}
            self._unspooled = [op for op in self._unspooled if id(op) not in committed]
        if sealed is not None:
            await asyncio.to_thread(self.spool.remove, sealed[0])

    async def _apply(self, ops: Sequence[Op]) -> None:
        if self.customers is not None:
            fill_customer_ids(self.customers, ops)
        for start in range(0, len(ops), self.batch_size):
            await self._apply_batch(ops[start : start + self.batch_size])

    async def _apply_batch(self, ops: Sequence[Op]) -> None:
        try:
            await apply_ops(self.engine, ops)
            self.written += sum(isinstance(op, RecordOp) for op in ops)
            return
        except Exception as exc:
            up, reason = await database_is_up(self.engine)
            if not up:
                self.failures += 1
                raise DatabaseUnavailable(reason) from exc
            log.warning(
                "a batch of %d call-record writes failed (%s); writing one by one",
                len(ops),
                type(exc).__name__,
            )
        for op in ops:
            try:
                await apply_ops(self.engine, [op])
                self.written += isinstance(op, RecordOp)
            except Exception as exc:
                up, reason = await database_is_up(self.engine)
                if not up:
                    self.failures += 1
                    raise DatabaseUnavailable(reason) from exc
                self.rejected += 1
                log.error(
                    "call-record write refused by the database (%s); kept in the "
                    "spool's rejected file",
                    exc.__class__.__name__,
                )
                await asyncio.to_thread(self.spool.reject, [encode(op)])

    def _enter_backlog(self) -> None:
        if not self.backlog:
            log.warning(
                "database unreachable: call records wait in the spool %s until it is back",
                self.spool.directory,
            )
        self.backlog = True
        self._retry_at = time.monotonic() + self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, self.retry_max_delay)

    async def _drain(self) -> None:
        """Move every sealed segment into the database, oldest first."""
        drained = 0
        try:
            for segment in await asyncio.to_thread(self.spool.segments):
                ops = await asyncio.to_thread(self.spool.read, segment)
                await self._apply(ops)
                await asyncio.to_thread(self.spool.remove, segment)
                drained += len(ops)
            if self._unspooled:
                await self._apply(self._unspooled)
                drained += len(self._unspooled)
                self._unspooled = []
        except DatabaseUnavailable as exc:
            self._enter_backlog()
            log.info(
                "database still unreachable (%s); next try in %.1f s",
                exc,
                self._retry_at - time.monotonic(),
            )
            return
        if self.backlog:
            log.info("database back: %d spooled call-record writes drained", drained)
        self.backlog = False
        self._retry_delay = _RETRY_FIRST_DELAY
