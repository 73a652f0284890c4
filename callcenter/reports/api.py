"""HTTP API and pages of the reports.

GET /api/reports/catalogue   the standard reports, figures (labels, units, targets),
                             dimensions, intervals, and the teams and agents in one's scope
GET /api/reports/run         one report as JSON (and the previous period, to compare)
GET /api/reports/export      the same as CSV (UTF-8 with BOM, formula-safe) or XLSX
GET /api/reports/scorecard   an agent's figures by month against the targets and the team
GET /api/reports/episodes    routing episodes (surges) with their summaries
GET /reports, /scorecard     the pages

Team leaders see their teams' queues and agents; supervisors and planners every team; an
agent sees only their own scorecard.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.agents.scope import Scope
from callcenter.auth.permissions import P
from callcenter.clock import Clock, utc_now
from callcenter.reports.export import csv_bytes, figure_label, sheet, table, xlsx_bytes
from callcenter.reports.figures import FIGURES, targets
from callcenter.reports.labels import ReportPeople, key_labels
from callcenter.reports.query import (
    DIMENSIONS,
    INTERVALS,
    WRAPPED,
    WRAPPED_SHARE,
    Dimension,
    Interval,
    ReportRequest,
    ReportResult,
    Reports,
    TooFine,
    previous_period,
)
from callcenter.reports.rollup import aware
from callcenter.reports.standard import STANDARD
from callcenter.routing.models import RoutingEpisode
from callcenter.settings import Disposition, ReportsSettings
from callcenter.web import http
from callcenter.web.errors import Problem
from callcenter.web.http import PUBLIC, Route, needs, read_query, reply, request_user

__all__ = ["ReportPeople", "ReportsApi"]

STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static" / "reports"

TOO_FINE = Problem(400, "report-too-fine", "the figures are not kept that finely")
NO_SUCH_AGENT = Problem(404, "no-such-agent", "no agent of that id in your teams")
NOT_YOURS = Problem(403, "not-your-scorecard", "agents see their own scorecard only")

# A period longer than this is a typing error (10 years), not a report.
MAX_PERIOD_DAYS = 3660
_EXTRA = (WRAPPED, WRAPPED_SHARE)

_episodes: Table = RoutingEpisode.__table__  # type: ignore[assignment]

# Days a report may start or end on: records of a contact centre, not year 1 or 9999 (whose
# neighbours, the previous period or the next midnight, do not exist).
ReportDay = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2100, 12, 31))]


class ReportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    report: str = Field(default="queue-summary", max_length=40)
    # Comma-separated figure names (custom reports); default: the standard report's.
    figures: str | None = Field(default=None, max_length=2000)
    dimension: Dimension | None = None
    interval: Interval | None = None
    start: ReportDay
    end: ReportDay
    # Comma-separated queue names.
    queue: str | None = Field(default=None, max_length=2000)
    team: int | None = Field(default=None, ge=1, le=2**62)
    agent: int | None = Field(default=None, ge=1, le=2**62)
    compare: bool = False
    lang: Literal["zh", "en"] = "zh"
    format: Literal["csv", "xlsx"] = "csv"

    @field_validator("report")
    @classmethod
    def _known_report(cls, value: str) -> str:
        if value != "custom" and value not in STANDARD:
            raise ValueError(f"no report {value!r}: one of custom, {', '.join(STANDARD)}")
        return value

    @field_validator("figures")
    @classmethod
    def _known_figures(cls, value: str | None) -> str | None:
        if value is None:
            return None
        names = [n for n in value.split(",") if n]
        unknown = [n for n in names if n not in FIGURES and n not in _EXTRA]
        if unknown:
            raise ValueError(f"unknown figure(s): {', '.join(unknown[:5])}")
        if not names:
            raise ValueError("name at least one figure")
        return ",".join(dict.fromkeys(names))

    @model_validator(mode="after")
    def _period(self) -> ReportQuery:
        if self.end < self.start:
            raise ValueError("end is before start")
        if (self.end - self.start).days >= MAX_PERIOD_DAYS:
            raise ValueError(f"a period covers at most {MAX_PERIOD_DAYS} days")
        if self.report == "custom" and self.figures is None:
            raise ValueError("a custom report names its figures")
        return self

    def request(self) -> ReportRequest:
        preset = STANDARD.get(self.report)
        if self.figures:
            figures = tuple(self.figures.split(","))
        else:
            assert preset is not None  # a custom report names its figures (_period)
            figures = preset.figures
        return ReportRequest(
            figures=figures,
            dimension=self.dimension or (preset.dimension if preset else "none"),
            interval=self.interval or (preset.interval if preset else "total"),
            start=self.start,
            end=self.end,
            queues=frozenset(q for q in (self.queue or "").split(",") if q),
            team_id=self.team,
            user_id=self.agent,
        )


class ScorecardQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Default: oneself.
    agent: int | None = Field(default=None, ge=1, le=2**62)
    year: int = Field(ge=2000, le=2100)


class EpisodesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: ReportDay
    end: ReportDay
    queue: str | None = Field(default=None, max_length=80)

    @model_validator(mode="after")
    def _period(self) -> EpisodesQuery:
        if self.end < self.start:
            raise ValueError("end is before start")
        if (self.end - self.start).days >= MAX_PERIOD_DAYS:
            raise ValueError(f"a period covers at most {MAX_PERIOD_DAYS} days")
        return self


class FigureInfo(BaseModel):
    name: str
    label_zh: str
    label_en: str
    unit: str
    target: float | None = None
    target_side: str | None = None


class RowOut(BaseModel):
    period: str
    key: str
    values: dict[str, float | None]
    off_target: list[str]


class ReportAnswer(BaseModel):
    report: str
    dimension: str
    interval: str
    start: date
    end: date
    figures: list[FigureInfo]
    rows: list[RowOut]
    totals: dict[str, float | None]
    totals_off_target: list[str]
    key_labels: dict[str, str]
    previous: dict[str, float | None] | None = None
    previous_start: date | None = None
    previous_end: date | None = None


class Catalogue(BaseModel):
    # The contact centre's time zone: its days are the reports' days.
    timezone: str
    reports: list[dict[str, Any]]
    figures: list[FigureInfo]
    dimensions: list[str]
    intervals: list[str]
    teams: list[dict[str, Any]]
    agents: list[dict[str, Any]]
    queues: list[str]


class Scorecard(BaseModel):
    agent: int
    name: str
    year: int
    # The team compared with (its figures are the team's own: counts are its totals, to be
    # divided by size for a per-agent average); None when the agent is in no team one sees.
    team: dict[str, Any] | None
    figures: list[FigureInfo]
    months: list[dict[str, Any]]
    team_months: list[dict[str, Any]]


class Episodes(BaseModel):
    episodes: list[dict[str, Any]]


class ReportsApi:
    def __init__(
        self,
        engine: AsyncEngine,
        reports: Reports,
        settings: ReportsSettings,
        people: ReportPeople,
        dispositions: Sequence[Disposition],
        *,
        clock: Clock = utc_now,
    ) -> None:
        self.engine = engine
        self.reports = reports
        self.settings = settings
        self.people = people
        self.dispositions = {d.code: d for d in dispositions}
        self.clock = clock

    def routes(self) -> list[Route]:
        tag = "reports"
        read = needs(P.STATS_READ)
        return [
            http.get(
                "/api/reports/catalogue",
                self.catalogue,
                access=needs(P.STATS_READ, P.AGENT_SELF),
                tag=tag,
                summary="The standard reports, figures, dimensions and one's teams",
                response=Catalogue,
            ),
            http.get(
                "/api/reports/run",
                self.run,
                access=read,
                tag=tag,
                summary="One report: figures by a dimension and an interval over a period",
                query=ReportQuery,
                response=ReportAnswer,
                errors=(TOO_FINE,),
            ),
            http.get(
                "/api/reports/export",
                self.export,
                access=read,
                tag=tag,
                summary="One report as CSV (UTF-8 with BOM) or XLSX",
                query=ReportQuery,
                kind="text",
                content_type="application/octet-stream",
                errors=(TOO_FINE,),
            ),
            http.get(
                "/api/reports/scorecard",
                self.scorecard,
                access=needs(P.STATS_READ, P.AGENT_SELF),
                tag=tag,
                summary="An agent's figures by month against the targets and the team",
                query=ScorecardQuery,
                response=Scorecard,
                errors=(NO_SUCH_AGENT, NOT_YOURS),
            ),
            http.get(
                "/api/reports/episodes",
                self.episodes,
                access=read,
                tag=tag,
                summary="Routing episodes (surges) with their summaries",
                query=EpisodesQuery,
                response=Episodes,
            ),
            http.get(
                "/reports",
                self.page,
                access=PUBLIC,
                kind="page",
                content_type="text/html",
                tag=tag,
                summary="The reports page",
            ),
            http.get(
                "/scorecard",
                self.scorecard_page,
                access=PUBLIC,
                kind="page",
                content_type="text/html",
                tag=tag,
                summary="The agent's scorecard page (and the printable monthly appraisal)",
            ),
            http.static(
                "/reports/static",
                STATIC_DIR,
                access=PUBLIC,
                summary="Scripts and styles of the reports pages",
            ),
        ]

    # -- the catalogue ---------------------------------------------------------------------------

    def _figure_infos(self, names: Sequence[str], queue: str | None = None) -> list[FigureInfo]:
        goals = targets(self.settings, queue)
        out = []
        for name in names:
            zh, unit = figure_label(name, "zh")
            en, _ = figure_label(name, "en")
            goal = goals.get(name)
            out.append(
                FigureInfo(
                    name=name,
                    label_zh=zh,
                    label_en=en,
                    unit=unit,
                    target=goal.value if goal else None,
                    target_side=goal.side if goal else None,
                )
            )
        return out

    async def catalogue(self, request: web.Request) -> web.Response:
        user = request_user(request)
        scope = self.people.scope_of(user)
        teams = [t for t in self.people.teams() if scope.has_team(t.id)]
        may_read = user.may(P.STATS_READ)
        agents = [
            {"id": u.id, "name": u.display_name or u.username}
            for u in self.people.active_users()
            if (may_read and scope.has_user(u.id)) or u.id == user.id
        ]
        queues = sorted({q for t in self.people.teams() for q in t.queues if scope.has_queue(q)})
        return reply(
            Catalogue(
                timezone=self.reports.tz.key,
                reports=[
                    {
                        "name": r.name,
                        "label_zh": r.label_zh,
                        "label_en": r.label_en,
                        "dimension": r.dimension,
                        "interval": r.interval,
                        "figures": list(r.figures),
                    }
                    for r in STANDARD.values()
                ]
                if may_read
                else [],
                figures=self._figure_infos([*FIGURES, *_EXTRA]),
                dimensions=list(DIMENSIONS),
                intervals=list(INTERVALS),
                teams=[
                    {"id": t.id, "name": t.name, "label_zh": t.label_zh, "label_en": t.label_en}
                    for t in teams
                ],
                agents=agents,
                queues=queues,
            ).model_dump(mode="json")
        )

    # -- reports ---------------------------------------------------------------------------------

    async def _run(
        self, request: web.Request
    ) -> tuple[ReportQuery, ReportResult, ReportResult | None]:
        query = read_query(request, ReportQuery)
        user = request_user(request)
        scope = self.people.scope_of(user)
        teams = list(self.people.teams())
        wanted = query.request()
        try:
            result = await self.reports.run(wanted, scope, teams)
            previous = None
            if query.compare:
                start, end = previous_period(wanted.start, wanted.end)
                # The same report over the previous period: its totals go beside.
                earlier = ReportRequest(
                    wanted.figures,
                    wanted.dimension,
                    "total",
                    start,
                    end,
                    wanted.queues,
                    wanted.team_id,
                    wanted.user_id,
                )
                previous = await self.reports.run(earlier, scope, teams)
        except TooFine as exc:
            raise TOO_FINE(str(exc)) from None
        return query, result, previous

    def _key_labels(self, result: ReportResult, lang: str) -> dict[str, str]:
        return key_labels(result, lang, self.people, self.dispositions)

    async def run(self, request: web.Request) -> web.Response:
        query, result, previous = await self._run(request)
        queue = next(iter(result.request.queues)) if len(result.request.queues) == 1 else None
        answer = ReportAnswer(
            report=query.report,
            dimension=result.request.dimension,
            interval=result.request.interval,
            start=result.request.start,
            end=result.request.end,
            figures=self._figure_infos(result.request.figures, queue),
            rows=[
                RowOut(period=r.period, key=r.key, values=r.values, off_target=r.off_target)
                for r in result.rows
            ],
            totals=result.totals,
            totals_off_target=result.totals_off_target,
            key_labels=self._key_labels(result, query.lang),
            previous=previous.totals if previous else None,
            previous_start=previous.request.start if previous else None,
            previous_end=previous.request.end if previous else None,
        )
        return reply(answer.model_dump(mode="json"))

    async def export(self, request: web.Request) -> web.Response:
        query, result, _ = await self._run(request)
        header, rows = table(result, query.lang, self._key_labels(result, query.lang))
        name = f"{query.report}-{query.start.isoformat()}-{query.end.isoformat()}"
        if query.format == "csv":
            body = csv_bytes(header, rows)
            content_type = "text/csv; charset=utf-8"
        else:
            labels = self._key_labels(result, query.lang)
            body = xlsx_bytes([sheet(query.report, result, query.lang, labels)])
            content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        filename = f"{name}.{query.format}"
        return web.Response(
            body=body,
            headers={
                "Content-Type": content_type,
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
                "Cache-Control": "no-store",
            },
        )

    # -- the scorecard ---------------------------------------------------------------------------

    async def scorecard(self, request: web.Request) -> web.Response:
        query = read_query(request, ScorecardQuery)
        user = request_user(request)
        agent_id = query.agent or user.id
        scope = self.people.scope_of(user)
        if agent_id != user.id:
            if not user.may(P.STATS_READ):
                raise NOT_YOURS(f"you may see your own scorecard only, not agent {agent_id}")
            if not scope.has_user(agent_id):
                raise NO_SUCH_AGENT(f"no agent {agent_id} in your teams", agent=agent_id)
        users = {u.id: u for u in self.people.active_users()}
        if agent_id not in users:
            raise NO_SUCH_AGENT(f"no agent {agent_id}", agent=agent_id)
        teams = list(self.people.teams())
        figures = (*STANDARD["agent-summary"].figures, "complaints", "complaint_rate")
        start, end = date(query.year, 1, 1), date(query.year, 12, 31)
        mine = await self.reports.run(
            ReportRequest(figures, "none", "month", start, end, user_id=agent_id),
            # The agent's own figures: their scope is theirs.
            Scope(everything=True),
            teams,
        )
        # The agent's team the viewer may see (an agent: their own team).
        team_ids = [t.id for t in teams if t.has(agent_id) and scope.has_team(t.id)]
        team_rows: list[dict[str, Any]] = []
        team_info: dict[str, Any] | None = None
        if team_ids:
            chosen = next(t for t in teams if t.id == team_ids[0])
            team_info = {
                "id": chosen.id,
                "name": chosen.name,
                "label_zh": chosen.label_zh,
                "label_en": chosen.label_en,
                "size": len(chosen.members | chosen.leaders),
            }
            team = await self.reports.run(
                ReportRequest(figures, "none", "month", start, end, team_id=team_ids[0]),
                Scope(everything=True),
                teams,
            )
            # The team's own figures: its ratios compare with the agent's; its counts are
            # the team's totals.
            team_rows = [{"month": r.period, "values": r.values} for r in team.rows]
        who = users[agent_id]
        return reply(
            Scorecard(
                agent=agent_id,
                name=who.display_name or who.username,
                year=query.year,
                team=team_info,
                figures=self._figure_infos(figures),
                months=[
                    {"month": r.period, "values": r.values, "off_target": r.off_target}
                    for r in mine.rows
                ],
                team_months=team_rows,
            ).model_dump(mode="json")
        )

    # -- routing episodes ----------------------------------------------------------------------

    async def episodes(self, request: web.Request) -> web.Response:
        query = read_query(request, EpisodesQuery)
        scope = self.people.scope_of(request_user(request))
        start = self.reports.day_start(query.start)
        end = self.reports.day_start(query.end + timedelta(days=1))
        t = _episodes
        statement = (
            select(
                t.c.id,
                t.c.pbx,
                t.c.queue,
                t.c.started_at,
                t.c.ended_at,
                t.c.peak_callers_waiting,
                t.c.peak_longest_wait,
                t.c.calls_affected,
                t.c.levels,
                t.c.summary,
            )
            .where(t.c.started_at >= start, t.c.started_at < end)
            .order_by(t.c.started_at.desc())
            .limit(500)
        )
        if query.queue:
            statement = statement.where(t.c.queue == query.queue)
        if not scope.everything:
            statement = statement.where(t.c.queue.in_(sorted(scope.queues)))
        async with self.engine.connect() as conn:
            rows = [
                {
                    **r._mapping,
                    "started_at": aware(r.started_at).isoformat(),
                    "ended_at": aware(r.ended_at).isoformat() if r.ended_at else None,
                }
                for r in await conn.execute(statement)
            ]
        return reply({"episodes": rows})

    # -- pages -----------------------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    async def scorecard_page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(
            STATIC_DIR / "scorecard.html", headers={"Cache-Control": "no-cache"}
        )
