"""Keeps the roll-ups equal to the raw records: the database side of ``rollup.py``.

Each round takes the changed queue-days and agent-days the triggers queued in
``report_dirty``, reads those days' raw rows, computes their roll-ups (pure) and puts them in
place of the old ones, in one transaction with the removal of the queue entries it handled.
On PostgreSQL one replica refreshes at a time (a transaction-scoped advisory lock): two
replicas recomputing one day at once would both insert its rows.

``rebuild`` does the same for every day there are records of, reading each day once: it is
what ``callcenter reports rebuild`` runs after an import, a change of service-level
threshold, or to check the roll-ups (it must change nothing).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, and_, delete, func, insert, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.agents.models import AgentStateRow, AgentStatusRow
from callcenter.clock import Clock, utc_now
from callcenter.ivr.models import SurveyResult
from callcenter.records.models import CallRecord, CallWrapup
from callcenter.reports.models import (
    AgentDayRollup,
    QueueDayRollup,
    QueueSlotRollup,
    ReportDirty,
    ReportRun,
    StateDayRollup,
    WorkDayRollup,
    WrapupDayRollup,
)
from callcenter.reports.rollup import (
    ANSWERED_OUTCOMES,
    CallFact,
    Contact,
    StateSpan,
    aware,
    identifies_caller,
    local_day_bounds,
    period_starts,
    repeated,
    roll_calls,
    roll_states,
)
from callcenter.settings import ReportsSettings
from callcenter.work.models import WorkItemRow

__all__ = ["Rebuilt", "RollupRefresher"]

log = logging.getLogger(__name__)

# Dirty entries handled per transaction.
BATCH = 2000
# The advisory lock's key: "callcenter reports" (any constant of our own).
_LOCK_KEY = 0x5245504F525453
# A state is looked for this many days back at most: one held longer (an agent who never
# signed out) counts on its last days only, and no query reads a user's whole history.
LONGEST_SPAN_DAYS = 31
# The marker of a rebuild in progress (a row of report_runs), and when one is given up.
REBUILD = "rebuild"
REBUILD_STALE = timedelta(hours=6)
# Numbers per IN (...) when looking for earlier calls of the same callers.
_NUMBERS_PER_QUERY = 500

_calls: Table = CallRecord.__table__  # type: ignore[assignment]
_wrapups: Table = CallWrapup.__table__  # type: ignore[assignment]
_surveys: Table = SurveyResult.__table__  # type: ignore[assignment]
_states: Table = AgentStateRow.__table__  # type: ignore[assignment]
_dirty: Table = ReportDirty.__table__  # type: ignore[assignment]
_runs: Table = ReportRun.__table__  # type: ignore[assignment]
_status: Table = AgentStatusRow.__table__  # type: ignore[assignment]
_slots: Table = QueueSlotRollup.__table__  # type: ignore[assignment]
_queue_days: Table = QueueDayRollup.__table__  # type: ignore[assignment]
_agent_days: Table = AgentDayRollup.__table__  # type: ignore[assignment]
_wrapup_days: Table = WrapupDayRollup.__table__  # type: ignore[assignment]
_state_days: Table = StateDayRollup.__table__  # type: ignore[assignment]
_work_days: Table = WorkDayRollup.__table__  # type: ignore[assignment]
_items: Table = WorkItemRow.__table__  # type: ignore[assignment]
_CALL_TABLES = (_slots, _queue_days, _agent_days, _wrapup_days)


@dataclass(frozen=True, slots=True)
class Rebuilt:
    days: int
    calls: int
    agent_days: int


class RollupRefresher:
    def __init__(
        self,
        engine: AsyncEngine,
        settings: ReportsSettings,
        tz: ZoneInfo,
        *,
        clock: Clock = utc_now,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.tz = tz
        self.clock = clock
        self.window = timedelta(days=settings.fcr_days)

    # -- the rounds ---------------------------------------------------------------------------

    async def refresh(self) -> int:
        """Handle what changed since the last round; the number of queue entries handled."""
        handled = 0
        while True:
            done = await self._one_batch()
            handled += done
            if done < BATCH:
                return handled

    async def refresh_states_today(self) -> int:
        """Recompute today's state seconds of every agent holding a state now (the state's
        time grows while nobody writes a row)."""
        today = self.clock().astimezone(self.tz).date()
        async with self.engine.begin() as conn:
            if not await self._locked(conn):
                return 0
            if await self._rebuilding(conn):
                return 0
            # The agents room's one row per agent: who is signed in now (a signed-out agent
            # holds no state whose time grows).
            users = (
                await conn.execute(select(_status.c.user_id).where(_status.c.state != "signed-out"))
            ).scalars()
            wanted = await self._span_days(conn, {(int(u), today) for u in users})
            await self._recompute_states(conn, wanted)
        return len(wanted)

    async def rebuild(self) -> Rebuilt:
        """Recompute every roll-up from the raw records (idempotent).

        While it runs, a marker row stops every refresher (any replica): what changes
        meanwhile stays queued in ``report_dirty`` and is handled after it, on top of the
        rebuilt days, so a refresh can never be overwritten by rows the rebuild read earlier.
        """
        async with self.engine.begin() as conn:
            await self._locked(conn, wait=True)
            await conn.execute(delete(_runs).where(_runs.c.kind == REBUILD))
            await conn.execute(
                insert(_runs).values(
                    kind=REBUILD,
                    period_start=date(2000, 1, 1),
                    written_at=self.clock(),
                    path="",
                    mailed_to=0,
                )
            )
            first, last = (
                await conn.execute(
                    select(func.min(_calls.c.joined_at), func.max(_calls.c.joined_at))
                )
            ).one()
            await conn.execute(delete(_dirty))
            for table in _CALL_TABLES:
                await conn.execute(delete(table))
        days = calls = 0
        if first is not None:
            day = aware(first).astimezone(self.tz).date()
            stop = aware(last).astimezone(self.tz).date()
            # Each day's calls are read once and kept for the FCR window of the days before.
            ahead: deque[tuple[date, list[Any]]] = deque()
            fetch_day = day
            while day <= stop:
                async with self.engine.begin() as conn:
                    await self._locked(conn, wait=True)
                    while fetch_day <= min(stop, day + self.window + timedelta(days=1)):
                        ahead.append((fetch_day, await self._day_rows(conn, fetch_day, None)))
                        fetch_day += timedelta(days=1)
                    rows = ahead[0][1]
                    later = [row for _, day_rows in ahead for row in day_rows]
                    await self._store_day(conn, day, None, rows, later)
                    calls += len(rows)
                days += 1
                ahead.popleft()
                day += timedelta(days=1)
        agent_days = await self._rebuild_states()
        await self._rebuild_work()
        async with self.engine.begin() as conn:
            await conn.execute(delete(_runs).where(_runs.c.kind == REBUILD))
        return Rebuilt(days, calls, agent_days)

    async def _rebuild_states(self) -> int:
        async with self.engine.begin() as conn:
            await conn.execute(delete(_state_days))
            spans = (
                await conn.execute(
                    select(_states.c.user_id, _states.c.started_at, _states.c.ended_at).where(
                        _states.c.state != "signed-out"
                    )
                )
            ).all()
        now = self.clock()
        wanted: set[tuple[int, date]] = set()
        for user_id, started, ended in spans:
            last = aware(ended or now).astimezone(self.tz).date()
            day = max(
                aware(started).astimezone(self.tz).date(), last - timedelta(days=LONGEST_SPAN_DAYS)
            )
            while day <= last:
                wanted.add((int(user_id), day))
                day += timedelta(days=1)
        ordered = sorted(wanted)
        for start in range(0, len(ordered), BATCH):
            async with self.engine.begin() as conn:
                await self._recompute_states(conn, set(ordered[start : start + BATCH]))
        return len(wanted)

    async def _rebuild_work(self) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(_work_days))
            first, last = (
                await conn.execute(
                    select(func.min(_items.c.created_at), func.max(_items.c.created_at))
                )
            ).one()
        if first is None:
            return
        day = aware(first).astimezone(self.tz).date()
        stop = aware(last).astimezone(self.tz).date()
        while day <= stop:
            async with self.engine.begin() as conn:
                await self._recompute_work(conn, day)
            day += timedelta(days=1)

    # -- one batch of dirty entries -------------------------------------------------------------

    async def _one_batch(self) -> int:
        async with self.engine.begin() as conn:
            if not await self._locked(conn) or await self._rebuilding(conn):
                return 0
            entries = (
                await conn.execute(
                    select(
                        _dirty.c.id,
                        _dirty.c.kind,
                        _dirty.c.queue,
                        _dirty.c.user_id,
                        _dirty.c.number,
                        _dirty.c.at,
                    )
                    .order_by(_dirty.c.id)
                    .limit(BATCH)
                )
            ).all()
            if not entries:
                return 0
            queue_days: dict[date, set[str]] = {}
            user_days: set[tuple[int, date]] = set()
            work_days: set[date] = set()
            numbers: dict[str, datetime] = {}
            for _, kind, queue, user_id, number, at in entries:
                day = aware(at).astimezone(self.tz).date()
                if kind == "state" and user_id is not None:
                    user_days.add((int(user_id), day))
                elif kind == "work":
                    work_days.add(day)
                elif queue is not None:
                    queue_days.setdefault(day, set()).add(queue)
                    if number:
                        numbers[number] = min(numbers.get(number, aware(at)), aware(at))
            for day, queue in await self._earlier_calls_of(conn, numbers):
                queue_days.setdefault(day, set()).add(queue)
            for day, queues in sorted(queue_days.items()):
                await self._recompute_day(conn, day, queues)
            await self._recompute_states(conn, await self._span_days(conn, user_days))
            for day in sorted(work_days):
                await self._recompute_work(conn, day)
            ids = [row[0] for row in entries]
            await conn.execute(delete(_dirty).where(_dirty.c.id.in_(ids)))
            return len(entries)

    async def _rebuilding(self, conn: AsyncConnection) -> bool:
        """A rebuild started less than REBUILD_STALE ago and not finished (one that died is
        given up after that: run it again)."""
        since = await conn.scalar(select(_runs.c.written_at).where(_runs.c.kind == REBUILD))
        return since is not None and self.clock() - aware(since) < REBUILD_STALE

    async def _locked(self, conn: AsyncConnection, *, wait: bool = False) -> bool:
        if conn.dialect.name != "postgresql":
            return True  # SQLite: one writer at a time anyway
        if wait:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
            return True
        got = await conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        return bool(got.scalar())

    async def _earlier_calls_of(
        self, conn: AsyncConnection, numbers: dict[str, datetime]
    ) -> set[tuple[date, str]]:
        """The queue-days of earlier answered calls from numbers that called again: their
        first-contact resolution may have changed."""
        found: set[tuple[date, str]] = set()
        items = list(numbers.items())
        for start in range(0, len(items), _NUMBERS_PER_QUERY):
            chunk = dict(items[start : start + _NUMBERS_PER_QUERY])
            since = min(chunk.values()) - self.window
            rows = await conn.execute(
                select(_calls.c.queue, _calls.c.joined_at).where(
                    _calls.c.caller_number.in_(list(chunk)),
                    _calls.c.direction == "inbound",
                    _calls.c.joined_at >= since,
                )
            )
            for queue, joined in rows:
                found.add((aware(joined).astimezone(self.tz).date(), queue))
        return found

    # -- recomputing ---------------------------------------------------------------------------

    async def _recompute_day(self, conn: AsyncConnection, day: date, queues: set[str]) -> None:
        rows = await self._day_rows(conn, day, queues)
        later = await self._later_contacts(conn, day, rows)
        await self._store_day(conn, day, queues, rows, later)

    async def _day_rows(
        self, conn: AsyncConnection, day: date, queues: set[str] | None
    ) -> list[Any]:
        start, end = local_day_bounds(day, self.tz)
        # A survey is the answer about the agent who just hung up: the leg that agent
        # answered. A call transferred back into a queue has two answered legs with one
        # uniqueid; the survey's agent (and queue, when the IVR knows it) picks the leg.
        survey_of_call = and_(
            _surveys.c.pbx == _calls.c.pbx,
            _surveys.c.uniqueid == _calls.c.uniqueid,
            or_(_surveys.c.queue == _calls.c.queue, _surveys.c.queue.is_(None)),
            or_(
                _surveys.c.agent_interface == _calls.c.answered_by,
                _surveys.c.agent_interface.is_(None),
            ),
            _calls.c.outcome.in_(ANSWERED_OUTCOMES),
        )
        query = (
            select(
                _calls.c.id,
                _calls.c.queue,
                _calls.c.joined_at,
                _calls.c.outcome,
                _calls.c.direction,
                _calls.c.short_abandon,
                _calls.c.wait_seconds,
                _calls.c.talk_seconds,
                _calls.c.wrapup_seconds,
                _calls.c.answered_by_user,
                _calls.c.caller_number,
                _calls.c.uniqueid,
                _wrapups.c.category,
                _wrapups.c.disposition,
                _surveys.c.score,
            )
            .select_from(
                _calls.outerjoin(_wrapups, _wrapups.c.call_id == _calls.c.id).outerjoin(
                    _surveys, survey_of_call
                )
            )
            .where(_calls.c.joined_at >= start, _calls.c.joined_at < end)
            # In id order: float sums come out the same on every recomputation.
            .order_by(_calls.c.id)
        )
        if queues is not None:
            query = query.where(_calls.c.queue.in_(sorted(queues)))
        return list((await conn.execute(query)).all())

    async def _later_contacts(
        self, conn: AsyncConnection, day: date, rows: Sequence[Any]
    ) -> list[Any]:
        numbers = sorted({r.caller_number for r in rows if _is_contact(r)})
        if not numbers:
            return []
        start, end = local_day_bounds(day, self.tz)
        later: list[Any] = []
        for first in range(0, len(numbers), _NUMBERS_PER_QUERY):
            result = await conn.execute(
                select(
                    _calls.c.caller_number,
                    _calls.c.uniqueid,
                    _calls.c.joined_at,
                    _calls.c.direction,
                ).where(
                    _calls.c.caller_number.in_(numbers[first : first + _NUMBERS_PER_QUERY]),
                    _calls.c.joined_at > start,
                    _calls.c.joined_at <= end + self.window,
                )
            )
            later.extend(result.all())
        return later

    async def _store_day(
        self,
        conn: AsyncConnection,
        day: date,
        queues: set[str] | None,
        rows: Sequence[Any],
        later: Iterable[Any],
    ) -> None:
        contacts = [
            Contact(r.caller_number, r.uniqueid, aware(r.joined_at))
            for r in later
            if r.direction == "inbound" and identifies_caller(r.caller_number)
        ]
        repeats = repeated(
            (
                (r.id, Contact(r.caller_number, r.uniqueid, aware(r.joined_at)))
                for r in rows
                if _is_contact(r)
            ),
            contacts,
            self.window,
        )
        by_queue: dict[str, list[CallFact]] = {}
        for r in rows:
            by_queue.setdefault(r.queue, []).append(
                CallFact(
                    queue=r.queue,
                    joined_at=aware(r.joined_at),
                    outcome=r.outcome,
                    direction=r.direction,
                    short_abandon=bool(r.short_abandon),
                    wait_seconds=r.wait_seconds,
                    talk_seconds=r.talk_seconds,
                    wrapup_seconds=r.wrapup_seconds,
                    answered_by_user=r.answered_by_user,
                    category=r.category,
                    disposition=r.disposition,
                    survey_score=r.score,
                    identified=_is_contact(r),
                    repeated=r.id in repeats,
                )
            )
        periods = period_starts(day)
        for table in _CALL_TABLES:
            condition = table.c.day == day
            if queues is not None:
                condition = and_(condition, table.c.queue.in_(sorted(queues)))
            await conn.execute(delete(table).where(condition))
        slot_rows: list[dict[str, Any]] = []
        day_rows: list[dict[str, Any]] = []
        agent_rows: list[dict[str, Any]] = []
        wrapup_rows: list[dict[str, Any]] = []
        for queue, facts in by_queue.items():
            rolled = roll_calls(facts, self.tz, self.settings.threshold_of(queue))
            for slot, tally in rolled.slots.items():
                slot_rows.append(
                    {
                        "slot": slot.start,
                        "queue": queue,
                        "day": slot.day,
                        "hour": slot.hour,
                        "weekday": slot.weekday,
                        **tally.as_dict(),
                    }
                )
            for _, tally in rolled.days.items():
                day_rows.append({**periods, "queue": queue, **tally.as_dict()})
            for (_, user_id), tally in rolled.agents.items():
                agent_rows.append(
                    {**periods, "queue": queue, "user_id": user_id, **tally.as_dict()}
                )
            for (_, user_id, category, disposition), calls in rolled.wrapups.items():
                wrapup_rows.append(
                    {
                        **periods,
                        "queue": queue,
                        "user_id": user_id,
                        "category": category,
                        "disposition": disposition,
                        "calls": calls,
                    }
                )
        for table, values in zip(
            _CALL_TABLES, (slot_rows, day_rows, agent_rows, wrapup_rows), strict=True
        ):
            if values:
                await conn.execute(insert(table), values)

    async def _span_days(
        self, conn: AsyncConnection, user_days: set[tuple[int, date]]
    ) -> set[tuple[int, date]]:
        """The agent-days to recompute: those given, and every day the spans overlapping
        them run on (a state held over midnight, or for days, counts on each of them)."""
        out = set(user_days)
        now = self.clock()
        by_user: dict[int, set[date]] = {}
        for user_id, day in user_days:
            by_user.setdefault(user_id, set()).add(day)
        for user_id, days in by_user.items():
            first, _ = local_day_bounds(min(days), self.tz)
            _, last = local_day_bounds(max(days), self.tz)
            spans = await conn.execute(
                select(_states.c.started_at, _states.c.ended_at).where(
                    _states.c.user_id == user_id,
                    _states.c.state != "signed-out",
                    _states.c.started_at >= first - timedelta(days=LONGEST_SPAN_DAYS),
                    _states.c.started_at < last,
                    or_(_states.c.ended_at.is_(None), _states.c.ended_at > first),
                )
            )
            for started, ended in spans:
                stop = aware(ended or now).astimezone(self.tz).date()
                day = max(
                    aware(started).astimezone(self.tz).date(),
                    stop - timedelta(days=LONGEST_SPAN_DAYS),
                )
                while day <= stop:
                    out.add((user_id, day))
                    day += timedelta(days=1)
        return out

    async def _recompute_work(self, conn: AsyncConnection, day: date) -> None:
        """The work items opened on one local day, counted by queue, owner and kind."""
        start, end = local_day_bounds(day, self.tz)
        t = _items
        counts: dict[tuple[str, int, str], list[int]] = {}
        for queue, owner, kind, resolved_at, on_time in await conn.execute(
            select(t.c.queue, t.c.owner_id, t.c.kind, t.c.resolved_at, t.c.resolved_on_time).where(
                t.c.created_at >= start, t.c.created_at < end
            )
        ):
            tally = counts.setdefault((queue or "", owner or 0, kind), [0, 0, 0])
            tally[0] += 1
            if resolved_at is not None:
                tally[1] += 1
                tally[2] += int(bool(on_time))
        await conn.execute(delete(_work_days).where(_work_days.c.day == day))
        if counts:
            periods = period_starts(day)
            await conn.execute(
                insert(_work_days),
                [
                    {
                        **periods,
                        "queue": queue,
                        "owner_id": owner,
                        "kind": kind,
                        "opened": opened,
                        "resolved": resolved,
                        "on_time": on_time,
                    }
                    for (queue, owner, kind), (opened, resolved, on_time) in counts.items()
                ],
            )

    async def _recompute_states(
        self, conn: AsyncConnection, user_days: set[tuple[int, date]]
    ) -> None:
        now = self.clock()
        table = _state_days
        for user_id, day in sorted(user_days):
            start, end = local_day_bounds(day, self.tz)
            spans = [
                StateSpan(state, code or "", aware(started), aware(ended) if ended else None)
                for state, code, started, ended in await conn.execute(
                    select(
                        _states.c.state, _states.c.code, _states.c.started_at, _states.c.ended_at
                    ).where(
                        _states.c.user_id == user_id,
                        _states.c.started_at >= start - timedelta(days=LONGEST_SPAN_DAYS),
                        _states.c.started_at < end,
                        or_(_states.c.ended_at.is_(None), _states.c.ended_at > start),
                    )
                )
            ]
            await conn.execute(delete(table).where(table.c.user_id == user_id, table.c.day == day))
            seconds = roll_states(spans, day, self.tz, now)
            if seconds:
                periods = period_starts(day)
                await conn.execute(
                    insert(table),
                    [
                        {**periods, "user_id": user_id, "state": s, "code": c, "seconds": v}
                        for (s, c), v in seconds.items()
                    ],
                )


def _is_contact(row: Any) -> bool:
    return bool(
        row.direction == "inbound"
        and identifies_caller(row.caller_number)
        and row.outcome in ANSWERED_OUTCOMES
    )
