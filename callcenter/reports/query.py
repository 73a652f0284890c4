"""A report: figures by one dimension and one interval over a period, read from the roll-ups.

Every query is one GROUP BY on a roll-up table, bounded by the period's days (the tables'
leading key), so its cost grows with the number of days and keys in the answer, not with
the number of calls. The sums are turned into figures by ``figures.py``.

Where each dimension is read:

- none, queue, team (a team's queues), hour of day, weekday: the queue roll-ups (by day, or
  by 15-minute slot for intervals under a day and for hour and weekday);
- agent: the agent-day roll-ups (the calls the agent answered or dialled) and state days;
- category, disposition: the wrap-up day roll-ups;
- work-item figures (complaints, items, callbacks): the work items opened in the period.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Table, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import ColumnElement

from callcenter.agents.scope import Scope, Team
from callcenter.reports.figures import FIGURES, Sums, compute, off_target, targets
from callcenter.reports.models import (
    AgentDayRollup,
    QueueDayRollup,
    QueueSlotRollup,
    StateDayRollup,
    WorkDayRollup,
    WrapupDayRollup,
)
from callcenter.reports.ports import WorklogCompletion
from callcenter.reports.rollup import MEASURES, aware, local_day_bounds, period_starts
from callcenter.settings import ReportsSettings

__all__ = [
    "DIMENSIONS",
    "INTERVALS",
    "Dimension",
    "Interval",
    "ReportRequest",
    "ReportResult",
    "ReportRow",
    "Reports",
    "TooFine",
]

Interval = Literal["total", "15min", "hour", "day", "week", "month", "quarter", "year"]
Dimension = Literal[
    "none",
    "queue",
    "team",
    "agent",
    "category",
    "disposition",
    "hour",
    "weekday",
    "pause_code",
]
INTERVALS: tuple[Interval, ...] = (
    "total",
    "15min",
    "hour",
    "day",
    "week",
    "month",
    "quarter",
    "year",
)
DIMENSIONS: tuple[Dimension, ...] = (
    "none",
    "queue",
    "team",
    "agent",
    "category",
    "disposition",
    "hour",
    "weekday",
    "pause_code",
)
SUB_DAY: frozenset[Interval] = frozenset({"15min", "hour"})

_slots: Table = QueueSlotRollup.__table__  # type: ignore[assignment]
_queue_days: Table = QueueDayRollup.__table__  # type: ignore[assignment]
_agent_days: Table = AgentDayRollup.__table__  # type: ignore[assignment]
_wrapup_days: Table = WrapupDayRollup.__table__  # type: ignore[assignment]
_state_days: Table = StateDayRollup.__table__  # type: ignore[assignment]
_work_days: Table = WorkDayRollup.__table__  # type: ignore[assignment]

# The figure a category/disposition report shows (calls wrapped up so, and their share).
WRAPPED = "wrapped_calls"
WRAPPED_SHARE = "wrapped_share"


class TooFine(ValueError):
    """The dimension and interval asked for are not kept that finely (a 400)."""


@dataclass(frozen=True, slots=True)
class ReportRequest:
    figures: tuple[str, ...]
    dimension: Dimension
    interval: Interval
    start: date  # local, inclusive
    end: date  # local, inclusive
    queues: frozenset[str] = frozenset()
    team_id: int | None = None
    user_id: int | None = None


@dataclass(frozen=True, slots=True)
class ReportRow:
    period: str  # "" for the whole period; else the local start (date, or date and time)
    key: str  # "" for no dimension; else the queue, team, user id, category, hour...
    values: dict[str, float | None]
    off_target: list[str]


@dataclass(frozen=True, slots=True)
class ReportResult:
    request: ReportRequest
    rows: list[ReportRow]
    totals: dict[str, float | None]
    totals_off_target: list[str]
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Plan:
    table: Table
    period: ColumnElement[Any] | None
    key: ColumnElement[Any] | None
    # How a SQL period value becomes the row's period label.
    period_of: Any


@dataclass
class _Cells:
    """The sums of each (period, key), and of the whole report: a row read once counts once
    in the totals, however many keys (overlapping teams) it counts under."""

    limit: int
    by_key: dict[tuple[str, str], Sums] = field(default_factory=dict)
    totals: Sums = field(default_factory=Sums)

    def at(self, period: str, key: str) -> Sums:
        cell = self.by_key.get((period, key))
        if cell is None:
            if len(self.by_key) >= self.limit:
                raise TooFine(
                    f"the report would have over {self.limit} rows: choose a longer interval, "
                    "a shorter period or a filter"
                )
            cell = self.by_key[(period, key)] = Sums()
        return cell


class Reports:
    """Runs reports for a user's scope. The teams come from the agents room, through
    ``teams`` (called per report: teams change)."""

    def __init__(
        self,
        engine: AsyncEngine,
        settings: ReportsSettings,
        tz: ZoneInfo,
        worklog: WorklogCompletion | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.tz = tz
        # The work-log room's days owed (None: the work-log figures stay empty).
        self.worklog = worklog

    def day_start(self, day: date) -> datetime:
        """The UTC instant the contact centre's local day starts at."""
        return local_day_bounds(day, self.tz)[0]

    async def run(
        self, request: ReportRequest, scope: Scope, teams: Sequence[Team]
    ) -> ReportResult:
        self._check(request)
        cells = _Cells(self.settings.max_rows)
        sources = {FIGURES[name].source for name in request.figures if name in FIGURES}
        async with self.engine.connect() as conn:
            if request.dimension in ("category", "disposition"):
                await self._wrapups(conn, request, scope, teams, cells)
            elif request.dimension == "pause_code":
                # Not-ready time by reason: agent states only.
                await self._states(conn, request, scope, teams, cells)
            else:
                if "calls" in sources or "work" in sources:
                    await self._calls(conn, request, scope, teams, cells)
                # States belong to agents: by queue, hour or weekday they have no place.
                if "states" in sources and request.dimension in ("none", "agent", "team"):
                    await self._states(conn, request, scope, teams, cells)
                if "work" in sources:
                    await self._work(conn, request, scope, teams, cells)
        # Daily logs belong to agents, like states.
        if "worklog" in sources and request.dimension in ("none", "agent", "team"):
            await self._worklog(request, scope, teams, cells)
        return self._result(request, cells, teams)

    def _check(self, request: ReportRequest) -> None:
        if request.interval in SUB_DAY:
            days = (request.end - request.start).days + 1
            if days > self.settings.max_days_by_slot:
                raise TooFine(
                    f"intervals under a day cover at most {self.settings.max_days_by_slot} "
                    f"days; this period has {days}"
                )
            if request.dimension in ("agent", "category", "disposition", "pause_code"):
                raise TooFine(
                    f"{request.dimension} figures are kept by day: choose an interval of a "
                    "day or longer"
                )
            if request.user_id is not None:
                raise TooFine("an agent's figures are kept by day: choose a day or longer")
        if request.user_id is not None and request.dimension in ("hour", "weekday"):
            raise TooFine(
                "hours of day and weekdays are kept per queue, not per agent: leave out the agent"
            )

    # -- reading -------------------------------------------------------------------------------

    def _day_period(self, request: ReportRequest, table: Table) -> _Plan:
        if request.interval == "total":
            return _Plan(table, None, None, lambda _: "")
        column = table.c[request.interval]
        return _Plan(table, column, None, lambda value: _date_text(value))

    async def _calls(
        self,
        conn: AsyncConnection,
        request: ReportRequest,
        scope: Scope,
        teams: Sequence[Team],
        cells: _Cells,
    ) -> None:
        dim = request.dimension
        by_agent = dim == "agent" or request.user_id is not None
        if by_agent:
            table = _agent_days
            plan = self._day_period(request, table)
            key: ColumnElement[Any] | None = table.c.user_id if dim == "agent" else None
        elif request.interval in SUB_DAY or dim in ("hour", "weekday"):
            table = _slots
            key = table.c[dim] if dim in ("hour", "weekday") else None
            if request.interval in SUB_DAY:
                plan = _Plan(table, table.c.slot, None, self._slot_label(request.interval))
            elif request.interval == "total":
                plan = _Plan(table, None, None, lambda _: "")
            else:
                interval = request.interval
                plan = _Plan(
                    table,
                    table.c.day,
                    None,
                    lambda value: _date_text(period_starts(_as_date(value))[interval]),
                )
        else:
            table = _queue_days
            plan = self._day_period(request, table)
            key = None
        if dim in ("queue", "team") and not by_agent:
            key = table.c.queue
        if dim == "team" and by_agent:
            key = table.c.user_id
        if dim == "queue" and by_agent:
            key = table.c.queue
        measures = [
            (func.max(table.c[m]) if m == "wait_max" else func.sum(table.c[m])).label(m)
            for m in MEASURES
        ]
        groups = [c for c in (plan.period, key) if c is not None]
        query = select(*(c.label(f"g{i}") for i, c in enumerate(groups)), *measures).where(
            *self._where(table, request, scope, teams)
        )
        if groups:
            query = query.group_by(*groups)
        for row in await conn.execute(query):
            data = row._mapping
            period = plan.period_of(data["g0"]) if plan.period is not None else ""
            raw_key = data[f"g{len(groups) - 1}"] if key is not None else None
            values = dict(data)
            cells.totals.add_calls(values)
            for cell_key in self._keys(dim, raw_key, teams, scope, by_agent):
                cells.at(period, cell_key).add_calls(values)

    async def _states(
        self,
        conn: AsyncConnection,
        request: ReportRequest,
        scope: Scope,
        teams: Sequence[Team],
        cells: _Cells,
    ) -> None:
        table = _state_days
        if request.interval in SUB_DAY:
            raise TooFine("agent states are kept by day: choose an interval of a day or longer")
        plan = self._day_period(request, table)
        dim = request.dimension
        key: ColumnElement[Any] | None = None
        if dim in ("agent", "team"):
            key = table.c.user_id
        elif dim == "pause_code":
            key = table.c.code
        groups = [c for c in (plan.period, key) if c is not None]
        where = self._where(table, request, scope, teams, users_only=True)
        if dim == "pause_code":
            where.append(table.c.state == "not-ready")
        query = select(
            *(c.label(f"g{i}") for i, c in enumerate(groups)),
            table.c.state,
            table.c.code,
            func.sum(table.c.seconds).label("seconds"),
        ).where(*where)
        query = query.group_by(*groups, table.c.state, table.c.code)
        for row in await conn.execute(query):
            data = row._mapping
            period = plan.period_of(data["g0"]) if plan.period is not None else ""
            raw_key = data[f"g{len(groups) - 1}"] if key is not None else None
            if dim == "pause_code":
                keys: Iterable[str] = [str(raw_key)]
            else:
                keys = self._keys(dim, raw_key, teams, scope, True)
            state = (data["state"], data["code"])
            seconds = float(data["seconds"])
            for sums in (cells.totals, *(cells.at(period, k) for k in keys)):
                sums.states[state] = sums.states.get(state, 0.0) + seconds

    async def _wrapups(
        self,
        conn: AsyncConnection,
        request: ReportRequest,
        scope: Scope,
        teams: Sequence[Team],
        cells: _Cells,
    ) -> None:
        table = _wrapup_days
        plan = self._day_period(request, table)
        key = table.c[request.dimension]
        groups = [c for c in (plan.period, key) if c is not None]
        query = (
            select(
                *(c.label(f"g{i}") for i, c in enumerate(groups)),
                func.sum(table.c.calls).label("calls"),
            )
            .where(*self._where(table, request, scope, teams))
            .group_by(*groups)
        )
        for row in await conn.execute(query):
            data = row._mapping
            period = plan.period_of(data["g0"]) if plan.period is not None else ""
            cells.at(period, str(data[f"g{len(groups) - 1}"])).wrapped += int(data["calls"])
            cells.totals.wrapped += int(data["calls"])

    async def _work(
        self,
        conn: AsyncConnection,
        request: ReportRequest,
        scope: Scope,
        teams: Sequence[Team],
        cells: _Cells,
    ) -> None:
        """Work items opened in the period, from their day roll-up (kept by day, by queue and
        owner: no hours or weekdays)."""
        if request.interval in SUB_DAY:
            raise TooFine("work-item figures are counted by day: choose a day or longer")
        dim = request.dimension
        if dim in ("hour", "weekday"):
            return
        t = _work_days
        plan = self._day_period(request, t)
        key: ColumnElement[Any] | None = None
        if dim in ("queue", "team"):
            key = t.c.queue
        elif dim == "agent":
            key = t.c.owner_id
        groups = [c for c in (plan.period, key) if c is not None]
        where: list[ColumnElement[bool]] = [t.c.day >= request.start, t.c.day <= request.end]
        queues = self._queues(request, scope, teams)
        users = self._users(request, scope, teams)
        if queues is not None:
            # An item counts where it was filed, or for its owner when the owner is one's.
            inside: ColumnElement[bool] = t.c.queue.in_(sorted(queues))
            if users is not None:
                inside = or_(inside, t.c.owner_id.in_(sorted(users)))
            where.append(inside)
        if request.user_id is not None:
            where.append(t.c.owner_id == request.user_id)
        if dim == "agent" and users is not None:
            where.append(t.c.owner_id.in_(sorted(users)))
        query = (
            select(
                *(c.label(f"g{i}") for i, c in enumerate(groups)),
                t.c.kind,
                func.sum(t.c.opened).label("opened"),
                func.sum(t.c.resolved).label("resolved"),
                func.sum(t.c.on_time).label("on_time"),
            )
            .where(*where)
            .group_by(*groups, t.c.kind)
        )
        for row in await conn.execute(query):
            data = row._mapping
            period = plan.period_of(data["g0"]) if plan.period is not None else ""
            raw: Any = data[f"g{len(groups) - 1}"] if key is not None else None
            if key is not None and raw in ("", 0):
                continue  # no queue (or no owner): not under any key of this dimension
            counts = (
                data["kind"],
                int(data["opened"]),
                int(data["resolved"]),
                int(data["on_time"]),
            )
            _count_items(cells.totals.work, *counts)
            for cell_key in self._keys(dim, raw, teams, scope, dim == "agent"):
                _count_items(cells.at(period, cell_key).work, *counts)

    async def _worklog(
        self, request: ReportRequest, scope: Scope, teams: Sequence[Team], cells: _Cells
    ) -> None:
        """The agents' daily logs owed in the period (asked of the work-log room, by day)."""
        if request.interval in SUB_DAY:
            raise TooFine("work logs are kept by day: choose a day or longer")
        if self.worklog is None:
            return
        users = self._users(request, scope, teams)
        if users is not None and not users:
            return
        days = await self.worklog.log_days(
            sorted(users) if users is not None else None, request.start, request.end
        )
        dim = request.dimension
        for log_day in days:
            if request.interval == "total":
                period = ""
            else:
                period = period_starts(log_day.day)[request.interval].isoformat()
            counts = {"due": 1, "on_time": int(log_day.on_time), "signed": int(log_day.signed)}
            keys = self._keys(dim, log_day.user_id, teams, scope, True)
            for sums in (cells.totals, *(cells.at(period, k) for k in keys)):
                for name, count in counts.items():
                    sums.logs[name] = sums.logs.get(name, 0) + count

    # -- scope and filters ---------------------------------------------------------------------

    def _queues(
        self, request: ReportRequest, scope: Scope, teams: Sequence[Team]
    ) -> set[str] | None:
        """The queues the report may read (None: all)."""
        wanted: set[str] | None = set(request.queues) if request.queues else None
        if request.team_id is not None:
            team_queues = {q for t in teams if t.id == request.team_id for q in t.queues}
            wanted = team_queues if wanted is None else wanted & team_queues
        if not scope.everything:
            wanted = set(scope.queues) if wanted is None else wanted & scope.queues
        return wanted

    def _users(
        self, request: ReportRequest, scope: Scope, teams: Sequence[Team]
    ) -> set[int] | None:
        wanted: set[int] | None = None
        if request.team_id is not None:
            wanted = {u for t in teams if t.id == request.team_id for u in t.members | t.leaders}
        if request.user_id is not None:
            wanted = {request.user_id} if wanted is None else wanted & {request.user_id}
        if not scope.everything:
            wanted = set(scope.user_ids) if wanted is None else wanted & scope.user_ids
        return wanted

    def _where(
        self,
        table: Table,
        request: ReportRequest,
        scope: Scope,
        teams: Sequence[Team],
        *,
        users_only: bool = False,
    ) -> list[ColumnElement[bool]]:
        day = table.c.day
        conditions: list[ColumnElement[bool]] = [day >= request.start, day <= request.end]
        if "queue" in table.c and not users_only:
            queues = self._queues(request, scope, teams)
            if request.dimension == "agent" or request.user_id is not None:
                # An agent's figures: the agent's scope decides, and a queue filter narrows.
                if request.queues:
                    conditions.append(table.c.queue.in_(sorted(request.queues)))
            elif queues is not None:
                conditions.append(table.c.queue.in_(sorted(queues)))
        if "user_id" in table.c:
            users = self._users(request, scope, teams)
            if users is not None and (
                users_only or request.dimension in ("agent", "team") or request.user_id
            ):
                conditions.append(table.c.user_id.in_(sorted(users)))
        return conditions

    def _keys(
        self, dim: Dimension, raw: Any, teams: Sequence[Team], scope: Scope, by_user: bool
    ) -> Iterable[str]:
        if dim == "none" or raw is None:
            return ("",)
        if dim == "team":
            mine = [t for t in teams if scope.has_team(t.id)]
            if by_user:
                return [t.name for t in mine if t.has(int(raw))]
            return [t.name for t in mine if raw in t.queues]
        return (str(raw),)

    def _slot_label(self, interval: Interval) -> Any:
        tz = self.tz

        def label(value: Any) -> str:
            local = aware(value).astimezone(tz)
            if interval == "hour":
                local = local.replace(minute=0)
            return local.strftime("%Y-%m-%d %H:%M")

        return label

    # -- figures -------------------------------------------------------------------------------

    def _result(
        self,
        request: ReportRequest,
        cells: _Cells,
        teams: Sequence[Team],
    ) -> ReportResult:
        wrapped_by_period: dict[str, int] = {}
        for (period, _), sums in cells.by_key.items():
            wrapped_by_period[period] = wrapped_by_period.get(period, 0) + sums.wrapped
        rows: list[ReportRow] = []
        for (period, key), sums in sorted(cells.by_key.items(), key=lambda kv: _order(kv[0])):
            values = self._values(request, sums, wrapped_by_period.get(period, 0))
            goals = targets(self.settings, key if request.dimension == "queue" else None)
            rows.append(ReportRow(period, key, values, off_target(values, goals)))
        totals = self._values(request, cells.totals, cells.totals.wrapped)
        labels = {t.name: t.label_zh or t.name for t in teams}
        return ReportResult(
            request,
            rows,
            totals,
            off_target(totals, targets(self.settings, None)),
            labels,
        )

    def _values(
        self, request: ReportRequest, sums: Sums, wrapped_total: int
    ) -> dict[str, float | None]:
        names = tuple(n for n in request.figures if n in FIGURES)
        values = compute(names, sums)
        if WRAPPED in request.figures:
            values[WRAPPED] = sums.wrapped
        if WRAPPED_SHARE in request.figures:
            values[WRAPPED_SHARE] = sums.wrapped / wrapped_total if wrapped_total else None
        return values


def _count_items(work: dict[str, int], kind: str, opened: int, resolved: int, on_time: int) -> None:
    def bump(name: str, by: int) -> None:
        work[name] = work.get(name, 0) + by

    bump("items", opened)
    bump("items_resolved", resolved)
    bump("items_on_time", on_time)
    if kind == "complaint":
        bump("complaints", opened)
        bump("complaints_resolved", resolved)
        bump("complaints_on_time", on_time)
    if kind == "callback":
        bump("callbacks_done", resolved)


def _order(key: tuple[str, str]) -> tuple[str, int, str]:
    period, name = key
    # Hours and weekdays in numeric order, everything else by name.
    return (period, int(name) if name.isdigit() else 1 << 30, name)


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _date_text(value: Any) -> str:
    return _as_date(value).isoformat()


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period of the same length just before (for "compare with the previous period")."""
    length = (end - start).days + 1
    return start - timedelta(days=length), start - timedelta(days=1)
