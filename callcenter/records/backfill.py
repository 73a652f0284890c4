"""Record the calls Asterisk's queue_log has and the database has not (I/O around queue_log.py).

Run after each (re)connect of a PBX whose queue_log the service can read: calls that joined and
ended while no process of ours listened are written with evidence ``queue_log``. A visit is
recorded only if it ended before the link came up (what ended later the live model saw) and no
record of the same caller channel joined the same queue within a couple of seconds of it (the
queue_log counts whole seconds). Two replicas reading the same file write the same rows under
the same key, so the second write changes nothing.

Each visit is told as the live path tells it (queue_log.py: a Redirect's ABANDON followed by the
channel's next ENTERQUEUE is a timeout moved on, a transfer ends the answered leg); an overflow
is marked afterwards (``OverflowOp``) as the records room marks a live one. A record a restart
closed without seeing the end (outcome unknown or answered) is corrected to the same outcome,
its overflow queue included.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.records.query import RECORDS_TABLE
from callcenter.records.queue_log import QueueVisit, read_visits, visit_row
from callcenter.records.rows import RESTART_EVIDENCE, OverflowOp, RecordOp, Row
from callcenter.records.writer import RecordWriter

__all__ = ["Backfilled", "QueueLogBackfill", "read_tail"]

log = logging.getLogger(__name__)

# queue_log times are whole seconds; the live record's join time is the AMI event's.
_SAME_JOIN = timedelta(seconds=2)
_RETRY_SECONDS = 10.0
_CHUNK = 1 << 20


def read_tail(path: Path, since: datetime, chunk: int = _CHUNK) -> str:
    """The end of the queue_log from (at least) the first line at or after `since`, read
    backwards in chunks: a file that is never rotated is not read whole each time."""
    floor = since.timestamp()
    chunks: list[bytes] = []
    with path.open("rb") as file:
        position = file.seek(0, 2)
        while position > 0:
            step = min(chunk, position)
            position -= step
            file.seek(position)
            chunks.append(file.read(step))
            if _starts_before(chunks[-1], floor):
                break
    return b"".join(reversed(chunks)).decode("utf-8", errors="replace")


def _starts_before(chunk: bytes, floor: float) -> bool:
    """Whether the first whole line of `chunk` is older than `floor` (the lines are in time
    order, so everything before it is too)."""
    lines = chunk.split(b"\n")
    for line in lines[1:]:  # the first piece may be a cut line
        stamp = line.split(b"|", 1)[0]
        if stamp.isdigit():
            return int(stamp) < floor
    return False


class QueueLogBackfill:
    def __init__(
        self,
        engine: AsyncEngine,
        writer: RecordWriter,
        *,
        hours: float,
        short_abandon_seconds: float,
        member_interfaces: Callable[[str], Mapping[str, str]],
    ) -> None:
        self.engine = engine
        self.writer = writer
        self.hours = hours
        self.short_abandon_seconds = short_abandon_seconds
        # pbx -> {member name: interface} as the live model knows them now.
        self.member_interfaces = member_interfaces

    async def run(
        self,
        pbx: str,
        path: Path,
        listening_since: datetime,
        joined_before: datetime | None = None,
    ) -> Backfilled:
        """Backfill until done (retrying while the database is away); with `joined_before`,
        only the calls that joined before it (a late pass: see ``once``)."""
        while True:
            since = listening_since - timedelta(hours=self.hours)
            try:
                text = await asyncio.to_thread(read_tail, path, since)
            except OSError as exc:
                log.warning(
                    "PBX %s: queue_log %s not readable (%s): calls ended while the "
                    "service was away are not recorded",
                    pbx,
                    path,
                    exc.strerror or exc,
                )
                return Backfilled(0, 0)
            try:
                done = await self.once(pbx, text, listening_since, joined_before)
            except Exception as exc:
                log.warning(
                    "PBX %s: queue_log backfill waits for the database (%s); retrying in %.0f s",
                    pbx,
                    type(exc).__name__,
                    _RETRY_SECONDS,
                )
                await asyncio.sleep(_RETRY_SECONDS)
                continue
            log.info(
                "PBX %s: queue_log compared with the records: %d call(s) added, %d "
                "closed by a restart told as they ended",
                pbx,
                done.added,
                done.corrected,
            )
            return done

    async def once(
        self,
        pbx: str,
        text: str,
        listening_since: datetime,
        joined_before: datetime | None = None,
    ) -> Backfilled:
        """Add the calls of the queue_log that ended by `listening_since` and have no record.

        `joined_before` (the late pass, a while after connecting): only calls that joined
        before we listened. Such a call answered while we were away is known to the live model
        only by its AgentComplete, which Asterisk sends without the caller's Uniqueid when the
        caller's channel is gone before app_queue's handler runs: that call would otherwise
        wait for the next start to be recorded."""
        since = listening_since - timedelta(hours=self.hours)
        visits = [
            v
            for v in read_visits(text.splitlines(), since)
            if v.ended is not None
            and v.ended <= listening_since
            and (joined_before is None or v.entered < joined_before)
        ]
        if not visits:
            return Backfilled(0, 0)
        # What this process (or the last) recorded must be in the database before comparing.
        await self.writer.flush(timeout=30)
        known = await self._recorded_joins(pbx, since - _SAME_JOIN)
        interfaces = self.member_interfaces(pbx)
        added, corrections = 0, []
        for visit in visits:
            found = _recorded(visit, known)
            if found is not None and not _guessed(found):
                continue  # recorded from the live events: nothing to add
            row = visit_row(pbx, visit, interfaces, self.short_abandon_seconds)
            if found is None:
                self.writer.submit(RecordOp(row))
                if visit.overflow_queue is not None:
                    self.writer.submit(
                        OverflowOp(pbx, visit.callid, visit.entered, visit.overflow_queue)
                    )
                added += 1
            else:
                corrections.append((found.id, visit, row))
        if corrections:
            await self._correct(corrections)
        return Backfilled(added, len(corrections))

    async def _correct(self, corrections: list[tuple[int, QueueVisit, Row]]) -> None:
        """Replace what a restart guessed of a call by what the queue_log says."""
        table = RECORDS_TABLE
        async with self.engine.begin() as connection:
            for record_id, visit, row in corrections:
                values: dict[str, Any] = {name: row[name] for name in _CORRECTED}
                # Who sat at the phone is kept only if the queue_log names the same phone.
                values["answered_by_user"] = case(
                    (table.c.answered_by == row["answered_by"], table.c.answered_by_user),
                    else_=None,
                )
                if visit.overflow_queue is not None:
                    values.update(outcome="overflowed", overflow_queue=visit.overflow_queue[:80])
                await connection.execute(
                    update(table)
                    .where(table.c.id == record_id, table.c.evidence.in_(_GUESSING_EVIDENCE))
                    .values(**values)
                )

    async def _recorded_joins(
        self, pbx: str, since: datetime
    ) -> dict[tuple[str, str], list[_Known]]:
        table = RECORDS_TABLE
        statement = select(
            table.c.id,
            table.c.uniqueid,
            table.c.queue,
            table.c.joined_at,
            table.c.evidence,
            table.c.outcome,
        ).where(table.c.pbx == pbx, table.c.joined_at >= since)
        known: dict[tuple[str, str], list[_Known]] = {}
        async with self.engine.connect() as connection:
            for row in await connection.execute(statement):
                known.setdefault((row.uniqueid, row.queue), []).append(
                    _Known(row.id, row.joined_at, row.evidence, row.outcome)
                )
        return known


@dataclass(frozen=True, slots=True)
class Backfilled:
    added: int  # calls the records did not have
    corrected: int  # records a restart closed without knowing how the call ended


@dataclass(frozen=True, slots=True)
class _Known:
    id: int
    joined_at: datetime
    evidence: str | None
    outcome: str


# Evidence of a record closed without seeing the end: the first resync after a restart, or
# after the AMI link came back.
_GUESSING_EVIDENCE = (RESTART_EVIDENCE, "reconcile")
_CORRECTED = (
    "outcome",
    "answered_at",
    "answered_by",
    "answered_by_name",
    "left_at",
    "ended_at",
    "wait_seconds",
    "talk_seconds",
    "ring_no_answer_count",
    "completed_by",
    "position_at_exit",
    "short_abandon",
    "evidence",
)


def _recorded(visit: QueueVisit, known: Mapping[tuple[str, str], list[_Known]]) -> _Known | None:
    for found in known.get((visit.callid, visit.queue), ()):
        if abs(found.joined_at - visit.entered) <= _SAME_JOIN:
            return found
    return None


def _guessed(found: _Known) -> bool:
    # An overflow mark is kept: the queue_log's own overflow is marked the same way.
    return found.evidence in _GUESSING_EVIDENCE and found.outcome in ("unknown", "answered")
