"""HTTP adapter of the work-items room: items, "my work", the supervisor's list and counts,
the caller's open items, and the page. Routes and shapes: docs/work-items.md."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from callcenter.audit.log import Audit
from callcenter.auth.identity import User
from callcenter.auth.permissions import P
from callcenter.feed.serialize import to_data
from callcenter.settings import WORK_KINDS, WORK_PRIORITIES
from callcenter.web import http
from callcenter.web.errors import INVALID_QUERY, ApiError, Problem
from callcenter.web.http import (
    LOGIN,
    PUBLIC,
    Route,
    needs,
    read_body,
    read_path,
    read_query,
    reply,
    request_user,
)
from callcenter.web.text import LINES, ONE_LINE
from callcenter.work import lifecycle, lists
from callcenter.work.items import Actor, NewItem, WorkItems, sorted_for_work
from callcenter.work.lists import ItemFilters
from callcenter.work.models import WorkItemRow
from callcenter.work.problems import (
    DUE_IN_PAST,
    FORBIDDEN_TRANSITION,
    ITEM_CLOSED,
    NO_OWNER,
    NO_SUCH_CALL,
    NO_SUCH_CUSTOMER,
    NO_SUCH_ITEM,
    NO_SUCH_TEAM,
    NO_SUCH_USER,
    NOBODY_TO_CALL,
    NOT_STORED,
    NOT_YOUR_CALL,
    NOT_YOUR_ITEM,
    OUTSIDE_YOUR_TEAMS,
    SELF_LINK,
    STALE_ITEM,
    UNKNOWN_CATEGORY,
)
from callcenter.work.tickets import valid_ticket

STATIC_DIR = Path(__file__).resolve().parents[1] / "web" / "static" / "work"
TEXT = LINES  # callcenter/web/text.py
LINE = ONE_LINE  # callcenter/web/text.py
Id = Annotated[int, Field(ge=1, le=2**53)]
Kind = Literal["follow-up", "callback", "complaint", "inquiry"]
Priority = Literal["urgent", "high", "normal", "low"]
Status = Literal[
    "open", "in-progress", "waiting-customer", "waiting-department", "resolved", "closed"
]
Note = Annotated[str, Field(max_length=4000, pattern=TEXT)]
Phone = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^\+?[0-9]{1,39}$")]
Ticket = Annotated[str, Field(pattern=r"^[0-9]{8}$")]

NOT_A_TICKET = Problem(400, "not-a-ticket", "eight digits with a valid check digit")


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CreateBody(StrictBody):
    kind: Kind
    title: Annotated[str, Field(min_length=1, max_length=200, pattern=LINE)]
    category: Annotated[str, Field(min_length=1, max_length=40)]
    priority: Priority | None = None
    customer_id: Id | None = None
    phone: Phone | None = None
    call_ids: list[Id] = Field(default_factory=list, max_length=50)
    owner_id: Id | None = None
    team_id: Id | None = None
    # ISO 8601 with a zone (a JSON string: not strict).
    due_at: Annotated[AwareDatetime | None, Field(strict=False)] = None
    note: Note = ""


class VersionBody(StrictBody):
    version: Annotated[int, Field(ge=1)]


class AssignBody(StrictBody):
    version: Annotated[int, Field(ge=1)]
    owner_id: Id | None = None
    team_id: Id | None = None
    note: Note = ""


class NoteBody(StrictBody):
    text: Annotated[str, Field(min_length=1, max_length=4000, pattern=TEXT)]


class StatusBody(StrictBody):
    version: Annotated[int, Field(ge=1)]
    status: Status
    note: Note = ""
    resolution: Annotated[str, Field(max_length=4000, pattern=TEXT)] | None = None


class CallBody(StrictBody):
    call_id: Id


class LinkBody(StrictBody):
    other: Ticket
    relation: Literal["related", "duplicate"] = "related"


class BulkBody(StrictBody):
    ids: list[Id] = Field(min_length=1, max_length=500)
    owner_id: Id | None = None
    team_id: Id | None = None


class ItemPath(BaseModel):
    id: Id


class TicketPath(BaseModel):
    ticket: Ticket


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Kind | None = None
    status: Status | None = None
    owner: Id | None = None
    team: Id | None = None
    priority: Priority | None = None
    overdue: bool | None = None
    open: bool | None = None
    customer: Id | None = None
    phone: Phone | None = None
    q: Annotated[str, Field(max_length=100, pattern=LINE)] | None = None
    limit: Annotated[int, Field(ge=1, le=lists.MAX_PAGE)] = 50
    cursor: Annotated[str, Field(max_length=200)] | None = None


class CountsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    team: Id | None = None
    since: AwareDatetime | None = None


class CustomerQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: Id | None = None
    phone: Phone | None = None


# --- answers -------------------------------------------------------------------------------


class ItemData(BaseModel):
    id: int
    ticket: str
    kind: str
    status: str
    priority: str
    category: str
    title: str
    customer_id: int | None
    phone: str | None
    owner_id: int | None
    owner_name: str | None
    team_id: int | None
    team_name: str | None
    source: str
    queue: str | None
    created_at: datetime
    updated_at: datetime
    version: int
    first_response_due: datetime | None
    first_response_at: datetime | None
    due_at: datetime | None
    overdue: bool
    waiting: bool
    remaining_seconds: int | None
    escalation_tier: int
    escalations: int
    resolved_at: datetime | None
    resolved_on_time: bool | None
    resolution: str | None
    closed_at: datetime | None


class TimelineEntry(BaseModel):
    at: datetime
    actor_id: int | None
    actor: str
    kind: str
    text: str
    data: dict[str, Any]


class ItemCall(BaseModel):
    id: int
    role: str
    direction: str
    pbx: str
    queue: str
    caller_number: str | None
    joined_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    outcome: str
    answered_by: str | None
    answered_by_name: str | None
    added_at: datetime


class ItemLink(BaseModel):
    relation: str
    id: int
    ticket: str
    kind: str
    status: str
    title: str
    direction: str


class AttemptData(BaseModel):
    attempt: int
    agent_id: int | None
    agent_name: str | None
    agent_interface: str | None
    number: str
    started_at: datetime
    agent_answered_at: datetime | None
    customer_answered_at: datetime | None
    ended_at: datetime | None
    outcome: str | None
    reason: str | None
    call_id: int | None


class CallbackData(BaseModel):
    state: str
    next_attempt_at: datetime | None
    attempts: int
    max_attempts: int
    offered_to: int | None


class VoicemailData(BaseModel):
    """The voicemail the item was filed for: play ``audio_url`` (WAV; for those who handle
    the item: its owner, its team, a supervisor of it)."""

    id: int
    duration_seconds: int
    audio_url: str


class ItemDetail(ItemData):
    customer_name: str | None
    timeline: list[TimelineEntry]
    calls: list[ItemCall]
    links: list[ItemLink]
    attempts: list[AttemptData]
    callback: CallbackData | None
    voicemail: VoicemailData | None = None


class ItemPage(BaseModel):
    items: list[ItemData]
    next_cursor: str | None


class MyCounts(BaseModel):
    open: int
    overdue: int
    due_today: int
    waiting: int


class MyWork(BaseModel):
    items: list[ItemData]
    pool: list[ItemData]
    counts: MyCounts
    now: datetime


class Counts(BaseModel):
    open: int
    overdue: int
    waiting: int
    resolved: int
    resolved_on_time: int
    resolved_late: int
    escalations: int


class BulkRefusal(BaseModel):
    id: int
    error: str
    message: str


class BulkAnswer(BaseModel):
    assigned: list[int]
    refused: list[BulkRefusal]


class Option(BaseModel):
    code: str
    label_zh: str
    label_en: str


class CategoryOption(Option):
    priority: str | None


class PersonOption(BaseModel):
    id: int
    name: str
    role: str
    teams: list[int]


class TeamOption(BaseModel):
    id: int
    name: str
    label_zh: str
    label_en: str


class Options(BaseModel):
    kinds: list[str]
    statuses: list[str]
    transitions: dict[str, list[str]]
    priorities: list[str]
    categories: list[CategoryOption]
    departments: list[Option]
    users: list[PersonOption]
    teams: list[TeamOption]
    me: int


CREATE_PROBLEMS = (
    UNKNOWN_CATEGORY,
    NOBODY_TO_CALL,
    DUE_IN_PAST,
    NO_OWNER,
    NO_SUCH_USER,
    NO_SUCH_TEAM,
    NO_SUCH_CUSTOMER,
    NO_SUCH_CALL,
    NOT_YOUR_CALL,
    NOT_STORED,
)
CHANGE_PROBLEMS = (NO_SUCH_ITEM, STALE_ITEM, NOT_YOUR_ITEM, NOT_STORED)


class WorkApi:
    def __init__(self, items: WorkItems, audit: Audit | None = None) -> None:
        self.items = items
        self.audit = audit

    def routes(self) -> Sequence[Route]:
        own = needs(P.WORK_OWN)
        either = needs(P.WORK_OWN, P.WORK_SUPERVISE)
        supervise = needs(P.WORK_SUPERVISE)
        tag = "work"
        return [
            http.get(
                "/api/work/options",
                self.options,
                access=LOGIN,
                tag=tag,
                summary="Kinds, statuses, categories, departments, users and teams for forms",
                response=Options,
            ),
            http.get(
                "/api/work/mine",
                self.mine,
                access=own,
                tag=tag,
                summary="My open items (overdue first) and my teams' pool, with counts",
                response=MyWork,
            ),
            http.get(
                "/api/work/items",
                self.search,
                access=supervise,
                tag=tag,
                summary="Every item in one's scope, filtered, by deadline",
                query=ListQuery,
                response=ItemPage,
            ),
            http.get(
                "/api/work/counts",
                self.counts,
                access=supervise,
                tag=tag,
                summary="Open, overdue, waiting, resolved on time and late, escalations",
                query=CountsQuery,
                response=Counts,
            ),
            http.get(
                "/api/work/customer",
                self.of_customer,
                access=either,
                tag=tag,
                summary="A caller's open items (the pop's panel)",
                query=CustomerQuery,
                response=ItemPage,
            ),
            http.post(
                "/api/work/items",
                self.create,
                access=own,
                tag=tag,
                summary="Create an item (from a wrap-up, or on its own)",
                body=CreateBody,
                response=ItemDetail,
                status=201,
                errors=CREATE_PROBLEMS,
            ),
            http.get(
                "/api/work/items/{id}",
                self.get,
                access=either,
                tag=tag,
                summary="One item with its timeline, calls, links and callback attempts",
                path_params=ItemPath,
                response=ItemDetail,
                errors=(NO_SUCH_ITEM,),
            ),
            http.get(
                "/api/work/tickets/{ticket}",
                self.by_ticket,
                access=either,
                tag=tag,
                summary="One item by its ticket number (工单号)",
                path_params=TicketPath,
                response=ItemDetail,
                errors=(NO_SUCH_ITEM, NOT_A_TICKET),
            ),
            http.post(
                "/api/work/items/{id}/take",
                self.take,
                access=either,
                tag=tag,
                summary="Take the item (from a pool, or a supervisor from anyone)",
                path_params=ItemPath,
                body=VersionBody,
                response=ItemDetail,
                errors=(*CHANGE_PROBLEMS, ITEM_CLOSED),
            ),
            http.post(
                "/api/work/items/{id}/assign",
                self.assign,
                access=either,
                tag=tag,
                summary="Give the item to a colleague or a team's pool",
                path_params=ItemPath,
                body=AssignBody,
                response=ItemDetail,
                errors=(
                    *CHANGE_PROBLEMS,
                    ITEM_CLOSED,
                    NO_OWNER,
                    NO_SUCH_USER,
                    NO_SUCH_TEAM,
                    OUTSIDE_YOUR_TEAMS,
                ),
            ),
            http.post(
                "/api/work/items/{id}/notes",
                self.note,
                access=either,
                tag=tag,
                summary="Add a note to the item's timeline",
                path_params=ItemPath,
                body=NoteBody,
                response=ItemDetail,
                errors=(NO_SUCH_ITEM, NOT_STORED),
            ),
            http.post(
                "/api/work/items/{id}/status",
                self.status,
                access=either,
                tag=tag,
                summary="Move the item's status (waiting stops the deadline clock)",
                path_params=ItemPath,
                body=StatusBody,
                response=ItemDetail,
                errors=(*CHANGE_PROBLEMS, FORBIDDEN_TRANSITION),
            ),
            http.post(
                "/api/work/items/{id}/calls",
                self.add_call,
                access=either,
                tag=tag,
                summary="Link a call record to the item",
                path_params=ItemPath,
                body=CallBody,
                response=ItemDetail,
                errors=(NO_SUCH_ITEM, NO_SUCH_CALL, NOT_YOUR_CALL, NOT_STORED),
            ),
            http.post(
                "/api/work/items/{id}/links",
                self.add_link,
                access=either,
                tag=tag,
                summary="Link another item (by ticket) to this one",
                path_params=ItemPath,
                body=LinkBody,
                response=ItemDetail,
                errors=(NO_SUCH_ITEM, SELF_LINK, NOT_STORED),
            ),
            http.post(
                "/api/work/bulk-assign",
                self.bulk_assign,
                access=supervise,
                tag=tag,
                summary="Give many items to one colleague or pool",
                body=BulkBody,
                response=BulkAnswer,
                errors=(NO_OWNER, NO_SUCH_USER, NO_SUCH_TEAM),
            ),
            http.get(
                "/work",
                self.page,
                access=PUBLIC,
                kind="page",
                content_type="text/html",
                tag=tag,
                summary="The supervisor's work-items page",
            ),
            http.static(
                "/work/static",
                STATIC_DIR,
                access=PUBLIC,
                summary="Scripts and styles of the work-items page",
            ),
        ]

    # --- reading ------------------------------------------------------------------------------

    async def options(self, request: web.Request) -> web.Response:
        user = request_user(request)
        items = self.items
        teams = list(items.workforce.teams())
        member_of: dict[int, list[int]] = {}
        for team in teams:
            for uid in team.members | team.leaders:
                member_of.setdefault(uid, []).append(team.id)
        people = [
            {
                "id": u.id,
                "name": u.display_name or u.username,
                "role": u.role,
                "teams": sorted(member_of.get(u.id, [])),
            }
            for u in items.workforce.active_users()
        ]
        people.sort(key=lambda p: str(p["name"]))
        return reply(
            {
                "kinds": list(WORK_KINDS),
                "statuses": list(lifecycle.STATUSES),
                "transitions": {k: sorted(v) for k, v in lifecycle.TRANSITIONS.items()},
                "priorities": list(WORK_PRIORITIES),
                "categories": [c.model_dump() for c in items.settings.categories],
                "departments": [
                    {"code": d.code, "label_zh": d.label_zh, "label_en": d.label_en}
                    for d in items.settings.departments
                ],
                "users": people,
                "teams": [
                    {"id": t.id, "name": t.name, "label_zh": t.label_zh, "label_en": t.label_en}
                    for t in teams
                ],
                "me": user.id,
            }
        )

    async def mine(self, request: web.Request) -> web.Response:
        user = request_user(request)
        items = self.items
        now = items.clock()
        own, pool = await lists.mine(items.engine, user.id, items.my_team_ids(user))
        own = sorted_for_work(own, now)
        today = now.astimezone(items.calendar.zone).date()
        counts = {
            "open": len(own),
            "overdue": sum(1 for r in own if r.due_at is not None and r.due_at < now),
            "due_today": sum(
                1
                for r in own
                if r.due_at is not None
                and r.due_at >= now
                and r.due_at.astimezone(items.calendar.zone).date() == today
            ),
            "waiting": sum(1 for r in own if r.due_at is None),
        }
        return reply(
            {
                "items": [items.item_data(r, now) for r in own],
                "pool": [items.item_data(r, now) for r in sorted_for_work(pool, now)],
                "counts": counts,
                "now": to_data(now),
            }
        )

    async def search(self, request: web.Request) -> web.Response:
        query = read_query(request, ListQuery)
        cursor = None
        if query.cursor is not None:
            cursor = lists.decode_cursor(query.cursor)
            if cursor is None:
                raise INVALID_QUERY("the cursor is not one this service gave", field="cursor")
        items = self.items
        now = items.clock()
        filters = ItemFilters(**query.model_dump(exclude={"cursor"}))
        rows, next_cursor = await lists.search(
            items.engine, items.scope(request_user(request)), filters, now, cursor
        )
        return reply({"items": [items.item_data(r, now) for r in rows], "next_cursor": next_cursor})

    async def counts(self, request: web.Request) -> web.Response:
        query = read_query(request, CountsQuery)
        items = self.items
        found = await lists.counts(
            items.engine, items.scope(request_user(request)), items.clock(), query.team, query.since
        )
        return reply(found)

    async def of_customer(self, request: web.Request) -> web.Response:
        query = read_query(request, CustomerQuery)
        items = self.items
        rows = await lists.of_customer(items.engine, query.customer_id, query.phone)
        now = items.clock()
        return reply(
            {
                "items": [items.item_data(r, now) for r in sorted_for_work(rows, now)],
                "next_cursor": None,
            }
        )

    async def get(self, request: web.Request) -> web.Response:
        item_id = read_path(request, ItemPath).id
        return reply(await self.items.detail(await self.items.load(item_id)))

    async def by_ticket(self, request: web.Request) -> web.Response:
        ticket = read_path(request, TicketPath).ticket
        if not valid_ticket(ticket):
            raise NOT_A_TICKET(f"{ticket} is not a ticket number (check digit)", ticket=ticket)
        return reply(await self.items.detail(await self.items.load(ticket=ticket)))

    # --- changing -----------------------------------------------------------------------------

    async def _answer(
        self,
        request: web.Request,
        user: User,
        action: str,
        row: WorkItemRow,
        status: int = 200,
        **parameters: Any,
    ) -> web.Response:
        if self.audit is not None:
            await self.audit.record(
                request, user, action, f"work-item:{row.ticket}", parameters=to_data(parameters)
            )
        return reply(await self.items.detail(row), status=status)

    async def create(self, request: web.Request) -> web.Response:
        body = await read_body(request, CreateBody)
        user = request_user(request)
        row = await self.items.create(
            Actor.of(user),
            NewItem(
                kind=body.kind,
                title=body.title,
                category=body.category,
                priority=body.priority,
                customer_id=body.customer_id,
                phone=body.phone,
                call_ids=tuple(body.call_ids),
                owner_id=body.owner_id,
                team_id=body.team_id,
                due_at=body.due_at,
                note=body.note,
                source="agent",
            ),
        )
        return await self._answer(
            request, user, "work.create", row, status=201, kind=body.kind, owner=row.owner_id
        )

    async def take(self, request: web.Request) -> web.Response:
        item_id = read_path(request, ItemPath).id
        body = await read_body(request, VersionBody)
        user = request_user(request)
        row = await self.items.take(item_id, body.version, user)
        return await self._answer(request, user, "work.take", row)

    async def assign(self, request: web.Request) -> web.Response:
        item_id = read_path(request, ItemPath).id
        body = await read_body(request, AssignBody)
        user = request_user(request)
        row = await self.items.assign(
            item_id, body.version, Actor.of(user), body.owner_id, body.team_id, body.note
        )
        return await self._answer(
            request, user, "work.assign", row, owner=body.owner_id, team=body.team_id
        )

    async def note(self, request: web.Request) -> web.Response:
        item_id = read_path(request, ItemPath).id
        body = await read_body(request, NoteBody)
        user = request_user(request)
        row = await self.items.note(item_id, Actor.of(user), body.text)
        return await self._answer(request, user, "work.note", row)

    async def status(self, request: web.Request) -> web.Response:
        item_id = read_path(request, ItemPath).id
        body = await read_body(request, StatusBody)
        user = request_user(request)
        row = await self.items.set_status(
            item_id, body.version, Actor.of(user), body.status, body.note, body.resolution
        )
        return await self._answer(request, user, "work.status", row, status_to=body.status)

    async def add_call(self, request: web.Request) -> web.Response:
        item_id = read_path(request, ItemPath).id
        body = await read_body(request, CallBody)
        user = request_user(request)
        await self.items.load(item_id)
        row = await self.items.attach_call(item_id, Actor.of(user), body.call_id)
        return await self._answer(request, user, "work.call", row, call_id=body.call_id)

    async def add_link(self, request: web.Request) -> web.Response:
        item_id = read_path(request, ItemPath).id
        body = await read_body(request, LinkBody)
        user = request_user(request)
        row = await self.items.link(item_id, Actor.of(user), body.other, body.relation)
        return await self._answer(request, user, "work.link", row, other=body.other)

    async def bulk_assign(self, request: web.Request) -> web.Response:
        body = await read_body(request, BulkBody)
        user = request_user(request)
        items = self.items
        if body.owner_id is None and body.team_id is None:
            raise NO_OWNER("name an owner or a team pool")
        items.check_owner(body.owner_id, body.team_id)
        assigned: list[int] = []
        refused: list[dict[str, Any]] = []
        for item_id in dict.fromkeys(body.ids):
            try:
                await items.assign(
                    item_id, None, Actor.of(user), body.owner_id, body.team_id, "bulk reassign"
                )
            except ApiError as exc:
                refused.append({"id": item_id, "error": exc.error, "message": exc.message})
            else:
                assigned.append(item_id)
        if self.audit is not None:
            await self.audit.record(
                request,
                user,
                "work.bulk-assign",
                f"work-items:{len(assigned)}",
                parameters={"ids": assigned, "owner": body.owner_id, "team": body.team_id},
            )
        return reply({"assigned": assigned, "refused": refused})

    async def page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})
