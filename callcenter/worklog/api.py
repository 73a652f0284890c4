"""HTTP API and page of the work logs (docs/worklog.md).

GET  /api/worklog/day              my log of a day (stored, or a draft of the day's figures)
PUT  /api/worklog/day              save my log (narrative entries and summary)
POST /api/worklog/day/submit       submit it (the figures are frozen into it)
GET  /api/worklogs                 a user's logs of a period (mine; supervisors: their teams')
GET  /api/worklogs/{id}            one log with its comments
GET  /api/worklog/review           submitted logs the check picks, of the people one reviews
POST /api/worklogs/{id}/comment    a supervisor's comment
POST /api/worklogs/{id}/sign       sign off (names the version read; one of two at once wins)
POST /api/worklogs/{id}/return     send back with a comment (the agent edits and resubmits)
GET  /api/worklog/rollup           a team's logs of a period: totals, problems and suggestions

Whose logs a reviewer reads (``_people``): the members and leaders of the teams in their scope
(or of the one team asked), and, for a reviewer who sees every team, every user who writes
logs, in a team or not. The review list leaves out the reviewer's own log. The roll-up's
"due" is counted for the same people as the reports count it (``log_days`` with the scope's
users; every writer for a reviewer who sees everything).
GET  /worklog                      the page
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from callcenter.agents.scope import Scope, Team
from callcenter.audit.log import Audit
from callcenter.auth.identity import User
from callcenter.auth.permissions import P
from callcenter.web import http
from callcenter.web.http import (
    PUBLIC,
    Route,
    needs,
    read_body,
    read_path,
    read_query,
    reply,
    request_user,
)
from callcenter.web.text import LINES
from callcenter.worklog.book import (
    COUNTED,
    EDITABLE,
    SUMMED,
    Author,
    Narrative,
    Worklogs,
    check_period,
    data_of,
    entries_by_category,
)
from callcenter.worklog.models import WorklogRow
from callcenter.worklog.problems import (
    ALREADY_SIGNED,
    ALREADY_SUBMITTED,
    BAD_PERIOD,
    DAY_TOO_OLD,
    FUTURE_DAY,
    NO_SUCH_AGENT,
    NO_SUCH_LOG,
    NO_SUCH_TEAM,
    NOT_SUBMITTED,
    NOT_YOUR_LOG,
    OWN_LOG,
    STALE_LOG,
    UNKNOWN_CATEGORY,
)

STATIC_DIR = Path(__file__).resolve().parents[1] / "web" / "static" / "worklog"
TEXT = LINES  # callcenter/web/text.py
Id = Annotated[int, Field(ge=1, le=2**53)]
Day = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2100, 12, 31))]
MAX_ENTRIES = 50


class WorklogPeople(Protocol):
    """Offered by the agents room: scopes, teams, accounts, the consoles."""

    def scope_of(self, user: User) -> Scope: ...

    def teams(self) -> Sequence[Team]: ...

    def active_user(self, user_id: int) -> User | None: ...

    def active_users(self) -> Sequence[User]: ...

    def tell(self, user_id: int, message: Mapping[str, Any]) -> None: ...


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Entry(StrictBody):
    kind: Literal["problem", "suggestion", "note"]
    category: Annotated[str, Field(min_length=1, max_length=32)]
    text: Annotated[str, Field(min_length=1, max_length=2000, pattern=TEXT)]


class LogBody(StrictBody):
    day: Annotated[Day, Field(strict=False)]
    # The version read (0: no stored log yet).
    version: Annotated[int, Field(ge=0, le=2**31)]
    summary: Annotated[str, Field(max_length=4000, pattern=TEXT)] = ""
    entries: list[Entry] = Field(default_factory=list, max_length=MAX_ENTRIES)


class VersionBody(StrictBody):
    version: Annotated[int, Field(ge=1, le=2**31)]


class ReturnBody(VersionBody):
    comment: Annotated[str, Field(min_length=1, max_length=2000, pattern=TEXT)]


class CommentBody(StrictBody):
    text: Annotated[str, Field(min_length=1, max_length=2000, pattern=TEXT)]


class DayQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Default: the day whose log is open now (yesterday's during a night shift begun then).
    day: Day | None = None


class PeriodQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first: Day | None = None
    last: Day | None = None


class HistoryQuery(PeriodQuery):
    user: Id | None = None


class RollupQuery(PeriodQuery):
    team: Id | None = None


class LogPath(BaseModel):
    id: Id


class LogAnswer(BaseModel):
    id: int | None
    user_id: int
    user_name: str = ""
    day: date
    state: str
    version: int
    covers_start: datetime
    covers_end: datetime
    deadline: datetime | None = None
    summary: str
    entries: list[dict[str, Any]]
    figures: dict[str, Any] | None = None
    figures_frozen: bool = False
    comments: list[dict[str, Any]] = Field(default_factory=list)


class LogList(BaseModel):
    logs: list[dict[str, Any]]


class ReviewList(LogList):
    first: date
    last: date
    share: float
    period: str


class Rollup(BaseModel):
    first: date
    last: date
    team: dict[str, Any] | None
    totals: dict[str, int]
    agents: list[dict[str, Any]]
    categories: list[dict[str, Any]]


class Options(BaseModel):
    today: date
    current_day: date
    # The centre's time zone (IANA name): the page shows every time in it.
    timezone: str
    review_share: float
    review_period: str
    max_back_days: int
    due_hours: float
    categories: list[dict[str, str]]
    teams: list[dict[str, Any]]
    agents: list[dict[str, Any]]


class WorklogApi:
    def __init__(
        self,
        logs: Worklogs,
        people: WorklogPeople,
        audit: Audit | None = None,
    ) -> None:
        self.logs = logs
        self.people = people
        self.audit = audit
        self.categories = {c.code: c for c in logs.settings.categories}

    def routes(self) -> list[Route]:
        tag = "worklog"
        write = needs(P.WORKLOG_WRITE)
        review = needs(P.WORKLOG_REVIEW)
        either = needs(P.WORKLOG_WRITE, P.WORKLOG_REVIEW)
        day_errors = (FUTURE_DAY, DAY_TOO_OLD)
        change_errors = (*day_errors, STALE_LOG, ALREADY_SUBMITTED, ALREADY_SIGNED)
        review_errors = (NO_SUCH_LOG, OWN_LOG, STALE_LOG, ALREADY_SIGNED, NOT_SUBMITTED)
        return [
            http.get(
                "/api/worklog/options",
                self.options,
                access=either,
                tag=tag,
                summary="Categories, the centre's today, and the teams and agents in one's scope",
                response=Options,
            ),
            http.get(
                "/api/worklog/day",
                self.my_day,
                access=write,
                tag=tag,
                summary="My work log of a day: stored, or a draft of the day's figures",
                query=DayQuery,
                response=LogAnswer,
                errors=day_errors,
            ),
            http.put(
                "/api/worklog/day",
                self.save,
                access=write,
                tag=tag,
                summary="Save my work log of a day (entries and summary)",
                body=LogBody,
                response=LogAnswer,
                errors=(*change_errors, UNKNOWN_CATEGORY),
            ),
            http.post(
                "/api/worklog/day/submit",
                self.submit,
                access=write,
                tag=tag,
                summary="Submit my work log of a day (its figures are frozen into it)",
                body=LogBody,
                response=LogAnswer,
                errors=(*change_errors, UNKNOWN_CATEGORY),
            ),
            http.get(
                "/api/worklogs",
                self.history,
                access=either,
                tag=tag,
                summary="A user's work logs of a period (one's own; reviewers: their teams')",
                query=HistoryQuery,
                response=LogList,
                errors=(NOT_YOUR_LOG, NO_SUCH_AGENT, BAD_PERIOD),
            ),
            http.get(
                "/api/worklogs/{id}",
                self.one,
                access=either,
                tag=tag,
                summary="One work log with its comments",
                path_params=LogPath,
                response=LogAnswer,
                errors=(NO_SUCH_LOG,),
            ),
            http.get(
                "/api/worklog/review",
                self.review_list,
                access=review,
                tag=tag,
                summary="Submitted work logs the check picks, of the people one reviews",
                query=PeriodQuery,
                response=ReviewList,
                errors=(BAD_PERIOD,),
            ),
            http.post(
                "/api/worklogs/{id}/comment",
                self.comment,
                access=review,
                tag=tag,
                summary="Comment on a work log",
                path_params=LogPath,
                body=CommentBody,
                response=LogAnswer,
                status=201,
                errors=(NO_SUCH_LOG, OWN_LOG),
            ),
            http.post(
                "/api/worklogs/{id}/sign",
                self.sign,
                access=review,
                tag=tag,
                summary="Sign off a submitted work log",
                path_params=LogPath,
                body=VersionBody,
                response=LogAnswer,
                errors=review_errors,
            ),
            http.post(
                "/api/worklogs/{id}/return",
                self.send_back,
                access=review,
                tag=tag,
                summary="Send a submitted work log back to its agent with a comment",
                path_params=LogPath,
                body=ReturnBody,
                response=LogAnswer,
                errors=review_errors,
            ),
            http.get(
                "/api/worklog/rollup",
                self.rollup,
                access=review,
                tag=tag,
                summary="A team's work logs of a period: totals, problems and suggestions",
                query=RollupQuery,
                response=Rollup,
                errors=(BAD_PERIOD, NO_SUCH_TEAM),
            ),
            http.get(
                "/worklog",
                self.page,
                access=PUBLIC,
                kind="page",
                content_type="text/html",
                tag=tag,
                summary="The work-log page (agents: my log; supervisors: review and roll-up)",
            ),
            http.static(
                "/worklog/static",
                STATIC_DIR,
                access=PUBLIC,
                summary="Scripts and styles of the work-log page",
            ),
        ]

    # --- helpers ---------------------------------------------------------------------------

    def _name(self, user_id: int) -> str:
        user = self.people.active_user(user_id)
        return (user.display_name or user.username) if user is not None else f"#{user_id}"

    def _people(self, scope: Scope, team_id: int | None = None) -> list[int]:
        """Whose logs a reviewer reads: the members and leaders of the teams in scope (or of
        ``team_id``); a reviewer who sees every team also reads the writers in no team."""
        teams = [t for t in self.people.teams() if scope.has_team(t.id)]
        if team_id is not None:
            teams = [t for t in teams if t.id == team_id]
        people = {u for t in teams for u in t.members | t.leaders}
        if scope.everything and team_id is None:
            people.update(self.logs.writers())
        return sorted(u for u in people if self.people.active_user(u) is not None)

    def _period(self, query: PeriodQuery, days: int) -> tuple[date, date]:
        last = query.last or self.logs.today()
        first = query.first or last - timedelta(days=days - 1)
        check_period(first, last)
        return first, last

    def _narrative(self, body: LogBody) -> Narrative:
        for entry in body.entries:
            if entry.category not in self.categories:
                raise UNKNOWN_CATEGORY(
                    f"no category {entry.category!r}: one of {', '.join(self.categories)}",
                    category=entry.category,
                )
        return Narrative(body.summary, [e.model_dump() for e in body.entries])

    async def _readable(self, user: User, log_id: int) -> WorklogRow:
        """A log the user may read: their own, or (reviewers) one of their teams'. Another
        agent's log is told as absent, not as forbidden: its existence is not theirs."""
        row = await self.logs.get(log_id)
        if row.user_id == user.id:
            return row
        if user.may(P.WORKLOG_REVIEW) and self.people.scope_of(user).has_user(row.user_id):
            return row
        raise NO_SUCH_LOG(f"there is no work log {log_id} in your teams", id=log_id)

    async def _reviewable(self, user: User, log_id: int) -> WorklogRow:
        row = await self._readable(user, log_id)
        if row.user_id == user.id:
            raise OWN_LOG("you may not review your own log", id=log_id)
        return row

    async def _answer(self, row: WorklogRow, status: int = 200) -> web.Response:
        described = await self.logs.describe(row)
        described["user_name"] = self._name(row.user_id)
        return _reply(described, status=status)

    async def _record(
        self, request: web.Request, user: User, action: str, row: WorklogRow, **parameters: Any
    ) -> None:
        if self.audit is not None:
            await self.audit.record(
                request,
                user,
                action,
                f"worklog:{row.id}",
                parameters=_plain({"day": row.day, "user_id": row.user_id, **parameters}),
            )

    # --- handlers --------------------------------------------------------------------------

    async def options(self, request: web.Request) -> web.Response:
        user = request_user(request)
        scope = self.people.scope_of(user)
        reviewer = user.may(P.WORKLOG_REVIEW)
        teams = [t for t in self.people.teams() if scope.has_team(t.id)] if reviewer else []
        agents = self._people(scope) if reviewer else []
        settings = self.logs.settings
        return _reply(
            {
                "today": self.logs.today(),
                "current_day": await self.logs.current_day(user.id),
                "timezone": self.logs.zone.key,
                "review_share": settings.review_share,
                "review_period": settings.review_period,
                "max_back_days": settings.max_back_days,
                "due_hours": settings.due_hours,
                "categories": [c.model_dump() for c in settings.categories],
                "teams": [
                    {"id": t.id, "name": t.name, "label_zh": t.label_zh, "label_en": t.label_en}
                    for t in teams
                ],
                "agents": [{"id": u, "name": self._name(u)} for u in agents],
            }
        )

    async def my_day(self, request: web.Request) -> web.Response:
        query = read_query(request, DayQuery)
        user = request_user(request)
        day = query.day or await self.logs.current_day(user.id)
        self.logs.check_future(day)
        answer = await self.logs.view(user.id, day)
        answer["user_name"] = user.display_name or user.username
        return _reply(answer)

    async def _save(self, request: web.Request, submit: bool) -> web.Response:
        body = await read_body(request, LogBody)
        user = request_user(request)
        text = self._narrative(body)
        author = Author(user.id, user.display_name or user.username)
        row = await self.logs.save(author, body.day, body.version, text, submit=submit)
        if submit:
            await self._record(request, user, "worklog.submit", row, on_time=row.on_time)
        return await self._answer(row)

    async def save(self, request: web.Request) -> web.Response:
        return await self._save(request, submit=False)

    async def submit(self, request: web.Request) -> web.Response:
        return await self._save(request, submit=True)

    async def history(self, request: web.Request) -> web.Response:
        query = read_query(request, HistoryQuery)
        user = request_user(request)
        user_id = query.user or user.id
        if user_id != user.id:
            if not user.may(P.WORKLOG_REVIEW):
                raise NOT_YOUR_LOG(f"you may read your own logs only, not user {user_id}'s")
            if not self.people.scope_of(user).has_user(user_id):
                raise NO_SUCH_AGENT(f"no agent {user_id} in your teams", agent=user_id)
        first, last = self._period(query, 31)
        logs = await self.logs.history(user_id, first, last)
        return _reply({"logs": logs})

    async def one(self, request: web.Request) -> web.Response:
        path = read_path(request, LogPath)
        return await self._answer(await self._readable(request_user(request), path.id))

    async def review_list(self, request: web.Request) -> web.Response:
        query = read_query(request, PeriodQuery)
        user = request_user(request)
        first, last = self.logs.review_window()
        first, last = query.first or first, query.last or last
        check_period(first, last)
        people = [u for u in self._people(self.people.scope_of(user)) if u != user.id]
        rows = await self.logs.to_review(people, first, last)
        settings = self.logs.settings
        return _reply(
            {
                "first": first,
                "last": last,
                "share": settings.review_share,
                "period": settings.review_period,
                "logs": [{**data_of(r), "user_name": self._name(r.user_id)} for r in rows],
            }
        )

    async def comment(self, request: web.Request) -> web.Response:
        path = read_path(request, LogPath)
        body = await read_body(request, CommentBody)
        user = request_user(request)
        row = await self._reviewable(user, path.id)
        await self.logs.comment(row, Author(user.id, user.display_name or user.username), body.text)
        self.people.tell(row.user_id, _told("commented", row))
        return await self._answer(row, status=201)

    async def sign(self, request: web.Request) -> web.Response:
        path = read_path(request, LogPath)
        body = await read_body(request, VersionBody)
        user = request_user(request)
        row = await self._reviewable(user, path.id)
        author = Author(user.id, user.display_name or user.username)
        row = await self.logs.sign(row, author, body.version)
        await self._record(request, user, "worklog.sign", row)
        self.people.tell(row.user_id, _told("signed", row))
        return await self._answer(row)

    async def send_back(self, request: web.Request) -> web.Response:
        path = read_path(request, LogPath)
        body = await read_body(request, ReturnBody)
        user = request_user(request)
        row = await self._reviewable(user, path.id)
        author = Author(user.id, user.display_name or user.username)
        row = await self.logs.send_back(row, author, body.version, body.comment)
        await self._record(request, user, "worklog.return", row, comment=body.comment)
        self.people.tell(row.user_id, _told("returned", row))
        return await self._answer(row)

    async def rollup(self, request: web.Request) -> web.Response:
        query = read_query(request, RollupQuery)
        user = request_user(request)
        scope = self.people.scope_of(user)
        team_info = None
        if query.team is not None:
            team = next((t for t in self.people.teams() if t.id == query.team), None)
            if team is None or not scope.has_team(team.id):
                raise NO_SUCH_TEAM(f"no team {query.team} in your scope", team=query.team)
            team_info = {
                "id": team.id,
                "name": team.name,
                "label_zh": team.label_zh,
                "label_en": team.label_en,
            }
        first, last = self._period(query, 7)
        people = self._people(scope, query.team)
        per, logs = await self.logs.rollup(people, first, last)
        names = {u: self._name(u) for u in people}
        totals = {name: sum(int(p[name]) for p in per.values()) for name in (*COUNTED, *SUMMED)}
        grouped = entries_by_category(logs, names)
        categories = []
        known = [c.code for c in self.logs.settings.categories]
        for code in [*known, *sorted(set(grouped) - set(known))]:
            if code not in grouped:
                continue
            label = self.categories.get(code)
            categories.append(
                {
                    "code": code,
                    "label_zh": label.label_zh if label else code,
                    "label_en": label.label_en if label else code,
                    "problems": grouped[code]["problem"],
                    "suggestions": grouped[code]["suggestion"],
                }
            )
        return _reply(
            {
                "first": first,
                "last": last,
                "team": team_info,
                "totals": totals,
                "agents": [
                    {"user_id": u, "name": names[u], **per[u]}
                    for u in sorted(per, key=lambda u: names[u])
                ],
                "categories": categories,
            }
        )

    async def page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


def _plain(value: Any) -> Any:
    """Dates and times as ISO text, for JSON (the feed's serializer knows no dates)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _reply(data: Any, status: int = 200) -> web.Response:
    return reply(_plain(data), status=status)


def _told(event: str, row: WorklogRow) -> dict[str, Any]:
    return {
        "type": "worklog",
        "event": event,
        "log": {"id": row.id, "day": row.day.isoformat(), "state": row.state},
    }


__all__ = ["EDITABLE", "WorklogApi", "WorklogPeople"]
