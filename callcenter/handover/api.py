"""HTTP adapter of the handover room: the draft, submitting, deciding item by item, the lists,
the end-of-shift pool, the ownerless list and the page. Routes and shapes: docs/handover.md."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from aiohttp import web
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError

from callcenter.audit.log import Audit
from callcenter.auth.identity import User
from callcenter.auth.permissions import P
from callcenter.feed.serialize import to_data
from callcenter.handover.desk import HandoverDesk, Submission, Summary
from callcenter.handover.problems import (
    ALREADY_DECIDED,
    ALREADY_SUBMITTED,
    DUPLICATE_ITEM,
    HANDOVER_CLOSED,
    ITEM_IN_HANDOVER,
    ITEM_MOVED,
    ITEM_NOT_YOURS,
    NO_SUCH_HANDOVER,
    NO_SUCH_HANDOVER_ITEM,
    NO_SUCH_USER,
    NO_TEAM,
    NOT_AN_AGENT,
    NOT_STORED,
    NOT_THE_GIVER,
    NOT_THE_SUCCESSOR,
    NOTHING_TO_HAND_OVER,
    OUTSIDE_YOUR_TEAMS,
    REASON_REQUIRED,
    SELF_HANDOVER,
    SUCCESSOR_REQUIRED,
    USER_DISABLED,
)
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

STATIC_DIR = Path(__file__).resolve().parents[1] / "web" / "static" / "handover"
TEXT = LINES  # callcenter/web/text.py
Id = Annotated[int, Field(ge=1, le=2**53)]
Words = Annotated[str, Field(max_length=4000, pattern=TEXT)]


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("write something: the text is blank")
    return text


Said = Annotated[
    str, Field(min_length=1, max_length=4000, pattern=TEXT), AfterValidator(_not_blank)
]
# The days a list may be asked for: beyond them a day's span is not a date any more.
Day = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2100, 12, 31))]
T = TypeVar("T")


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ItemNote(StrictBody):
    item_id: Id
    note: Words = ""


class SummaryBody(StrictBody):
    work_done: Words = ""
    results: Words = ""
    problems: Words = ""


class SubmitBody(StrictBody):
    kind: Literal["end_of_shift", "permanent"]
    reason: Literal["leaving", "job_change", "absence"] | None = None
    successor_id: Id | None = None
    items: list[ItemNote] = Field(default_factory=list, max_length=500)
    summary: SummaryBody = Field(default_factory=SummaryBody)


class TextBody(StrictBody):
    text: Said


class RefuseBody(StrictBody):
    reason: Said


class ReassignBody(StrictBody):
    user_id: Id


class HandoverPath(BaseModel):
    id: Id


class ItemPath(BaseModel):
    id: Id
    item_id: Id


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: Literal["pending", "done"] | None = None
    day: Day | None = None


# --- answers -------------------------------------------------------------------------------


class HandoverPerson(BaseModel):
    id: int
    name: str


class Span(BaseModel):
    shift: str
    label: str
    start: datetime
    end: datetime


class DraftItem(BaseModel):
    id: int
    ticket: str
    title: str
    kind: str
    status: str
    priority: str
    due_at: datetime | None
    last_note: str
    customer_id: int | None
    customer_name: str | None
    phone: str | None
    owner_id: int | None
    team_id: int | None
    promised: bool
    callback_at: datetime | None
    in_handover: int | None = None


class Callback(BaseModel):
    id: int
    ticket: str
    title: str
    callback_at: datetime | None


class CustomerNeed(BaseModel):
    customer_id: int
    name: str | None
    phone: str | None
    tickets: list[str]


class KeyContact(BaseModel):
    customer_id: int
    name: str
    phone: str | None
    vip_level: int
    dedicated: bool
    calls: int


class Draft(BaseModel):
    now: datetime
    zone: str = Field(description="the contact centre's time zone (IANA): show times in it")
    giver: HandoverPerson
    shift: Span | None
    on_shift: bool
    next_shift: Span | None
    successors: list[HandoverPerson]
    people: list[HandoverPerson] = Field(
        description="whom a handover may go to: users who work items"
    )
    items: list[DraftItem]
    callbacks: list[Callback]
    customers: list[CustomerNeed]
    key_contacts: list[KeyContact]
    figures: dict[str, Any] | None
    to_pool: list[int]


class Message(BaseModel):
    kind: str
    author_id: int | None
    author: str
    at: datetime
    text: str


class CurrentItem(DraftItem):
    owner_name: str | None


class HandoverItem(BaseModel):
    item_id: int
    ticket: str
    title: str
    promised: bool
    note: str
    state: str
    decided_at: datetime | None
    decided_by: int | None
    decided_by_name: str | None
    reason: str | None
    to_user: int | None
    to_user_name: str | None
    version: int
    now: CurrentItem | None
    messages: list[Message]


class SummaryData(BaseModel):
    work_done: str
    results: str
    problems: str


class Handover(BaseModel):
    id: int
    kind: str
    reason: str | None
    giver_id: int
    giver_name: str
    successor_id: int | None
    successor_name: str | None
    team_id: int | None
    team_name: str | None
    team_label_zh: str | None
    team_label_en: str | None
    state: str
    summary: SummaryData
    shift: str | None
    created_at: datetime
    submitted_at: datetime
    done_at: datetime | None
    version: int
    items: list[HandoverItem]


class Mine(BaseModel):
    now: datetime
    zone: str
    given: list[Handover]
    to_me: list[Handover]


class DayList(BaseModel):
    day: date
    now: datetime
    zone: str
    people: list[HandoverPerson] = Field(description="whom I may give a waiting item to")
    handovers: list[Handover]


class Pooled(BaseModel):
    returned: list[int]


class OwnerlessItem(BaseModel):
    item_id: int
    ticket: str
    title: str
    owner_id: int
    owner_name: str
    team_id: int | None
    why: Literal["off-shift", "disabled", "successor-disabled", "giver-disabled"]
    handover_id: int | None = Field(description="the handover it is stuck in, if any")
    first_seen_at: datetime
    since: datetime = Field(description="since when nobody works it: the grace runs from here")
    returns_at: datetime


class Ownerless(BaseModel):
    now: datetime
    zone: str
    items: list[OwnerlessItem]


SUBMIT_PROBLEMS = (
    NO_SUCH_USER,
    SELF_HANDOVER,
    USER_DISABLED,
    SUCCESSOR_REQUIRED,
    REASON_REQUIRED,
    NOTHING_TO_HAND_OVER,
    DUPLICATE_ITEM,
    NO_TEAM,
    ITEM_NOT_YOURS,
    ITEM_IN_HANDOVER,
    NOT_AN_AGENT,
    ALREADY_SUBMITTED,
    NOT_STORED,
)
DECIDE_PROBLEMS = (
    NO_SUCH_HANDOVER,
    NO_SUCH_HANDOVER_ITEM,
    HANDOVER_CLOSED,
    ALREADY_DECIDED,
    NOT_STORED,
)


async def stored(what: str, change: Awaitable[T]) -> T:
    """A change the database refused (a serialization failure, a constraint of another room's
    making...) is a 503 ``database-unavailable`` with nothing changed, as in the other rooms;
    a lost connection is the web layer's 503 already."""
    try:
        return await change
    except SQLAlchemyError as exc:
        raise NOT_STORED(f"the {what} was not stored ({type(exc).__name__})") from None


class HandoverApi:
    def __init__(self, desk: HandoverDesk, audit: Audit | None = None) -> None:
        self.desk = desk
        self.audit = audit

    def routes(self) -> Sequence[Route]:
        own = needs(P.WORK_OWN)
        either = needs(P.WORK_OWN, P.WORK_SUPERVISE)
        supervise = needs(P.WORK_SUPERVISE)
        tag = "handover"
        item = "/api/handovers/{id}/items/{item_id}"
        return [
            http.get(
                "/api/handover/draft",
                self.draft,
                access=own,
                tag=tag,
                summary="My handover drafted from what I own: items, callbacks, customers, "
                "key contacts, the day's figures, the suggested successor",
                response=Draft,
            ),
            http.post(
                "/api/handovers",
                self.submit,
                access=own,
                tag=tag,
                summary="Submit a handover (end of shift, or permanent to a named successor)",
                body=SubmitBody,
                response=Handover,
                status=201,
                errors=SUBMIT_PROBLEMS,
            ),
            http.post(
                "/api/handover/end-of-shift/pool",
                self.pool,
                access=own,
                tag=tag,
                summary="End of shift: my items without a promise go back to the team pool",
                response=Pooled,
                errors=(NOT_STORED,),
            ),
            http.get(
                "/api/handover/mine",
                self.mine,
                access=either,
                tag=tag,
                summary="Handovers I gave (waiting, or today's) and those to me",
                response=Mine,
            ),
            http.get(
                "/api/handovers",
                self.list,
                access=supervise,
                tag=tag,
                summary="A day's handovers in my teams: waiting and done",
                query=ListQuery,
                response=DayList,
            ),
            http.get(
                "/api/handover/ownerless",
                self.ownerless,
                access=supervise,
                tag=tag,
                summary="Open items whose owner is off shift or disabled, nothing handed over",
                response=Ownerless,
            ),
            http.get(
                "/api/handovers/{id}",
                self.get,
                access=either,
                tag=tag,
                summary="One handover with its items and their questions and answers",
                path_params=HandoverPath,
                response=Handover,
                errors=(NO_SUCH_HANDOVER, OUTSIDE_YOUR_TEAMS),
            ),
            http.post(
                "/api/handovers/{id}/withdraw",
                self.withdraw,
                access=own,
                tag=tag,
                summary="Withdraw my handover (items not yet accepted stay mine)",
                path_params=HandoverPath,
                response=Handover,
                errors=(NO_SUCH_HANDOVER, NOT_THE_GIVER, HANDOVER_CLOSED, NOT_STORED),
            ),
            http.post(
                f"{item}/accept",
                self.accept,
                access=either,
                tag=tag,
                summary="Accept an item: it is mine from now on",
                path_params=ItemPath,
                response=Handover,
                errors=(*DECIDE_PROBLEMS, NOT_THE_SUCCESSOR, ITEM_MOVED),
            ),
            http.post(
                f"{item}/ask",
                self.ask,
                access=either,
                tag=tag,
                summary="Ask the giver about an item",
                path_params=ItemPath,
                body=TextBody,
                response=Handover,
                errors=(*DECIDE_PROBLEMS, NOT_THE_SUCCESSOR),
            ),
            http.post(
                f"{item}/answer",
                self.answer,
                access=own,
                tag=tag,
                summary="Answer the successor's question about an item",
                path_params=ItemPath,
                body=TextBody,
                response=Handover,
                errors=(*DECIDE_PROBLEMS, NOT_THE_GIVER),
            ),
            http.post(
                f"{item}/refuse",
                self.refuse,
                access=either,
                tag=tag,
                summary="Refuse an item, with a reason (the supervisor decides)",
                path_params=ItemPath,
                body=RefuseBody,
                response=Handover,
                errors=(*DECIDE_PROBLEMS, NOT_THE_SUCCESSOR),
            ),
            http.post(
                f"{item}/reassign",
                self.reassign,
                access=supervise,
                tag=tag,
                summary="A supervisor gives a waiting item to someone",
                path_params=ItemPath,
                body=ReassignBody,
                response=Handover,
                errors=(
                    *DECIDE_PROBLEMS,
                    OUTSIDE_YOUR_TEAMS,
                    ITEM_MOVED,
                    NO_SUCH_USER,
                    SELF_HANDOVER,
                    USER_DISABLED,
                    NOT_AN_AGENT,
                ),
            ),
            http.get(
                "/handover",
                self.page,
                access=PUBLIC,
                kind="page",
                content_type="text/html",
                tag=tag,
                summary="The handover page (agents and supervisors)",
            ),
            http.static(
                "/handover/static",
                STATIC_DIR,
                access=PUBLIC,
                summary="Scripts and styles of the handover page",
            ),
        ]

    async def _audit(
        self, request: web.Request, user: User, action: str, handover_id: int, **parameters: Any
    ) -> None:
        if self.audit is not None:
            await self.audit.record(
                request, user, action, f"handover:{handover_id}", parameters=to_data(parameters)
            )

    async def draft(self, request: web.Request) -> web.Response:
        return reply(to_data(await self.desk.draft(request_user(request))))

    async def submit(self, request: web.Request) -> web.Response:
        body = await read_body(request, SubmitBody)
        user = request_user(request)
        handover_id = await stored(
            "handover",
            self.desk.submit(
                user,
                Submission(
                    kind=body.kind,
                    reason=body.reason,
                    successor_id=body.successor_id,
                    items=[(i.item_id, i.note) for i in body.items],
                    summary=Summary(**body.summary.model_dump()),
                ),
            ),
        )
        await self._audit(
            request,
            user,
            "handover.submit",
            handover_id,
            kind=body.kind,
            successor=body.successor_id,
            items=[i.item_id for i in body.items],
        )
        return reply(to_data(await self.desk.one(user, handover_id)), status=201)

    async def pool(self, request: web.Request) -> web.Response:
        user = request_user(request)
        moved = await stored("return to the pool", self.desk.end_of_shift_pool(user))
        if self.audit is not None and moved:
            await self.audit.record(
                request,
                user,
                "handover.pool",
                f"work-items:{len(moved)}",
                parameters={"ids": moved},
            )
        return reply({"returned": moved})

    async def mine(self, request: web.Request) -> web.Response:
        return reply(to_data(await self.desk.mine(request_user(request))))

    async def list(self, request: web.Request) -> web.Response:
        query = read_query(request, ListQuery)
        desk = self.desk
        day = query.day or desk.clock().astimezone(desk.zone).date()
        return reply(to_data(await desk.for_supervisor(request_user(request), query.state, day)))

    async def ownerless(self, request: web.Request) -> web.Response:
        return reply(to_data(await self.desk.ownerless(request_user(request))))

    async def get(self, request: web.Request) -> web.Response:
        path = read_path(request, HandoverPath)
        return reply(to_data(await self.desk.one(request_user(request), path.id)))

    async def withdraw(self, request: web.Request) -> web.Response:
        path = read_path(request, HandoverPath)
        user = request_user(request)
        await stored("withdrawal", self.desk.withdraw(user, path.id))
        await self._audit(request, user, "handover.withdraw", path.id)
        return reply(to_data(await self.desk.one(user, path.id)))

    async def accept(self, request: web.Request) -> web.Response:
        path = read_path(request, ItemPath)
        user = request_user(request)
        await stored("acceptance", self.desk.accept(user, path.id, path.item_id))
        await self._audit(request, user, "handover.accept", path.id, item=path.item_id)
        return reply(to_data(await self.desk.one(user, path.id)))

    async def ask(self, request: web.Request) -> web.Response:
        path = read_path(request, ItemPath)
        body = await read_body(request, TextBody)
        user = request_user(request)
        await stored("question", self.desk.ask(user, path.id, path.item_id, body.text))
        return reply(to_data(await self.desk.one(user, path.id)))

    async def answer(self, request: web.Request) -> web.Response:
        path = read_path(request, ItemPath)
        body = await read_body(request, TextBody)
        user = request_user(request)
        await stored("answer", self.desk.answer(user, path.id, path.item_id, body.text))
        return reply(to_data(await self.desk.one(user, path.id)))

    async def refuse(self, request: web.Request) -> web.Response:
        path = read_path(request, ItemPath)
        body = await read_body(request, RefuseBody)
        user = request_user(request)
        await stored("refusal", self.desk.refuse(user, path.id, path.item_id, body.reason))
        await self._audit(
            request, user, "handover.refuse", path.id, item=path.item_id, reason=body.reason
        )
        return reply(to_data(await self.desk.one(user, path.id)))

    async def reassign(self, request: web.Request) -> web.Response:
        path = read_path(request, ItemPath)
        body = await read_body(request, ReassignBody)
        user = request_user(request)
        await stored("reassignment", self.desk.reassign(user, path.id, path.item_id, body.user_id))
        await self._audit(
            request, user, "handover.reassign", path.id, item=path.item_id, to=body.user_id
        )
        return reply(to_data(await self.desk.one(user, path.id)))

    async def page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})
