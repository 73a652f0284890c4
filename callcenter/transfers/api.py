"""HTTP adapter of the transfers room.

Agent console (agent:self), acting on the agent's own connected call:
GET    /api/transfers/directory       teams/departments by tier, people at a phone
GET    /api/agent/transfer            the console's state (call, transfer, hold, mute, tier)
POST   /api/agent/transfer            {mode: blind|warm, to: {kind, ref}, note, reason} -> 201
POST   /api/agent/escalate            {reason, note} -> 201: the next tier (or team leader)
POST   /api/agent/transfer/complete   complete the consultation (warm)
POST   /api/agent/transfer/cancel     back to the caller
POST   /api/agent/hold                {on}
POST   /api/agent/mute                {on}
POST   /api/agent/conference          {to, note} -> 201: three-way with the target

Reports: GET /api/transfers (calls:read-all: notes are about callers), GET /api/transfers/counts
(stats:read); one call's legs
(calls:read-all): GET /api/transfers/calls/{pbx}/{linkedid}.

Every console action is audited (transfer.blind|warm|escalate|conference|complete|cancel).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from callcenter.ami.calls import NOT_ON_A_CALL
from callcenter.ami.problems import PBX_REFUSED, PBX_TIMEOUT, PBX_UNAVAILABLE
from callcenter.audit.log import Audit
from callcenter.auth.identity import User
from callcenter.auth.permissions import P
from callcenter.clock import Clock, utc_now
from callcenter.feed.serialize import to_data
from callcenter.transfers import store
from callcenter.transfers.desk import (
    AUDITED,
    IN_PROGRESS,
    NEEDS_A_PHONE,
    NO_ESCALATION,
    NO_SUCH_TARGET,
    NOT_ON_HOLD,
    NOTHING_TO_CANCEL,
    NOTHING_TO_COMPLETE,
    TARGET_BUSY,
    TARGET_UNREACHABLE,
    TO_SELF,
    TransferDesk,
)
from callcenter.transfers.flow import Mode
from callcenter.web import http
from callcenter.web.errors import Problem
from callcenter.web.http import Route, needs, read_body, read_path, read_query, reply, request_user
from callcenter.web.text import LINES, ONE_LINE

TAG = "transfers"
TEXT = LINES  # callcenter/web/text.py
LINE = ONE_LINE  # callcenter/web/text.py
PBX_ERRORS = (PBX_REFUSED, PBX_UNAVAILABLE, PBX_TIMEOUT)
BAD_PERIOD = Problem(400, "bad-period", "the period must end after it starts, within a year")


class To(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    kind: Literal["agent", "supervisor", "target", "queue"]
    # A user id, a directory slug or a queue name.
    ref: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_-]+$")


class TransferBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    mode: Literal["blind", "warm"]
    to: To
    note: Annotated[str, Field(max_length=1000, pattern=TEXT)] = ""
    reason: Annotated[str, Field(max_length=200, pattern=LINE)] = ""


class EscalateBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    reason: Annotated[str, Field(min_length=1, max_length=200, pattern=LINE)]
    note: Annotated[str, Field(max_length=1000, pattern=TEXT)] = ""

    @model_validator(mode="after")
    def _a_reason(self) -> EscalateBody:
        if not self.reason.strip():
            raise ValueError("an escalation needs a reason")
        return self


class ConferenceBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    to: To
    note: Annotated[str, Field(max_length=1000, pattern=TEXT)] = ""


class OnBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    on: bool


class NoBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PeriodQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: AwareDatetime
    until: AwareDatetime
    limit: int = Field(default=500, ge=1, le=5000)


class CountsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: AwareDatetime
    until: AwareDatetime
    by: Literal["agent", "target"] = "agent"


class CallPath(BaseModel):
    pbx: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    linkedid: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")


class TransferData(BaseModel):
    id: int
    pbx: str
    linkedid: str
    caller_uniqueid: str
    queue: str | None
    mode: str
    escalation: bool
    from_user: int | None
    from_username: str
    target_kind: str
    target_ref: str
    target_label: str
    target_user: int | None
    state: str
    result: str | None
    detail: str | None
    note: str
    reason: str
    answered_by: str | None
    requested_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None


class TransferCallData(BaseModel):
    pbx: str
    uniqueid: str
    queue: str
    caller_num: str
    since: datetime | None


class ConsoleState(BaseModel):
    call: TransferCallData | None
    active: TransferData | None
    held: bool
    muted: bool
    tier: int | None
    escalation: dict[str, Any] | None


class TargetEntry(BaseModel):
    slug: str
    label_zh: str
    label_en: str
    tier: int
    kind: str
    escalation: bool


class Person(BaseModel):
    user_id: int
    name: str
    role: str
    state: str
    reachable: bool


class Directory(BaseModel):
    targets: list[TargetEntry]
    people: list[Person]


class TransferList(BaseModel):
    transfers: list[TransferData]


class CountRow(BaseModel):
    key: str
    label: str
    transfers: int
    completed: int


class Counts(BaseModel):
    by: str
    counts: list[CountRow]


class LegData(BaseModel):
    agent_interface: str
    agent_user: int | None
    queue: str | None
    via_transfer: int | None
    started_at: datetime
    ended_at: datetime | None
    hold_seconds: float
    ended_how: str | None


class CallLegs(BaseModel):
    pbx: str
    linkedid: str
    legs: list[LegData]
    transfers: list[TransferData]


class TransfersApi:
    def __init__(self, desk: TransferDesk, audit: Audit, clock: Clock = utc_now) -> None:
        self.desk = desk
        self.audit = audit
        self.clock = clock

    def routes(self) -> Sequence[Route]:
        me = needs(P.AGENT_SELF)
        action_errors = (NOT_ON_A_CALL, IN_PROGRESS, *PBX_ERRORS)
        target_errors = (NO_SUCH_TARGET, TARGET_BUSY, TARGET_UNREACHABLE, TO_SELF, NEEDS_A_PHONE)
        return [
            http.get(
                "/api/transfers/directory",
                self.directory,
                access=me,
                tag=TAG,
                summary="Where calls can be transferred: teams by tier, people at a phone",
                response=Directory,
            ),
            http.get(
                "/api/agent/transfer",
                self.console,
                access=me,
                tag=TAG,
                summary="One's call as the transfer buttons see it",
                response=ConsoleState,
            ),
            http.post(
                "/api/agent/transfer",
                self.transfer,
                access=me,
                tag=TAG,
                summary="Transfer one's connected call, blind or after a consultation",
                body=TransferBody,
                response=TransferData,
                status=201,
                errors=(*action_errors, *target_errors),
            ),
            http.post(
                "/api/agent/escalate",
                self.escalate,
                access=me,
                tag=TAG,
                summary="Pass one's call to the next tier (or the team leader), with a reason",
                body=EscalateBody,
                response=TransferData,
                status=201,
                errors=(*action_errors, *target_errors, NO_ESCALATION),
            ),
            http.post(
                "/api/agent/transfer/complete",
                self.complete,
                access=me,
                tag=TAG,
                summary="Complete the consultation: the caller goes to the target",
                body=NoBody,
                response=TransferData,
                errors=(NOTHING_TO_COMPLETE, NOT_ON_A_CALL, *PBX_ERRORS),
            ),
            http.post(
                "/api/agent/transfer/cancel",
                self.cancel,
                access=me,
                tag=TAG,
                summary="Leave the consultation and go back to the caller",
                body=NoBody,
                response=TransferData,
                errors=(NOTHING_TO_CANCEL, NOT_ON_A_CALL, *PBX_ERRORS),
            ),
            http.post(
                "/api/agent/hold",
                self.hold,
                access=me,
                tag=TAG,
                summary="Put one's caller on hold (music) or take them back",
                body=OnBody,
                response=ConsoleState,
                errors=(NOT_ON_A_CALL, IN_PROGRESS, NOT_ON_HOLD, *PBX_ERRORS),
            ),
            http.post(
                "/api/agent/mute",
                self.mute,
                access=me,
                tag=TAG,
                summary="Mute or unmute what one's phone sends to the caller",
                body=OnBody,
                response=ConsoleState,
                errors=(NOT_ON_A_CALL, *PBX_ERRORS),
            ),
            http.post(
                "/api/agent/conference",
                self.conference,
                access=me,
                tag=TAG,
                summary="Bring a third party into one's call (three-way conference)",
                body=ConferenceBody,
                response=TransferData,
                status=201,
                errors=(*action_errors, *target_errors),
            ),
            http.get(
                "/api/transfers",
                self.listing,
                # The notes and reasons are about callers: those who may read every call.
                access=needs(P.CALLS_READ_ALL),
                tag=TAG,
                summary="Transfers started in a period, newest first",
                query=PeriodQuery,
                response=TransferList,
                errors=(BAD_PERIOD,),
            ),
            http.get(
                "/api/transfers/counts",
                self.counts,
                access=needs(P.STATS_READ),
                tag=TAG,
                summary="Transfers per agent or per target in a period",
                query=CountsQuery,
                response=Counts,
                errors=(BAD_PERIOD,),
            ),
            http.get(
                "/api/transfers/calls/{pbx}/{linkedid}",
                self.call_legs,
                access=needs(P.CALLS_READ_ALL),
                tag=TAG,
                summary="One call across its legs: each agent's part and the transfers",
                path_params=CallPath,
                response=CallLegs,
            ),
        ]

    # ------------------------------------------------------------------ console

    async def directory(self, request: web.Request) -> web.Response:
        return reply(to_data(self.desk.directory(request_user(request))))

    async def console(self, request: web.Request) -> web.Response:
        return reply(to_data(await self.desk.console(request_user(request))))

    async def transfer(self, request: web.Request) -> web.Response:
        user = request_user(request)
        body = await read_body(request, TransferBody)
        row = await self.desk.transfer(
            user,
            Mode(body.mode),
            body.to.kind,
            body.to.ref,
            note=body.note.strip(),
            reason=body.reason.strip(),
        )
        await self._audit(request, user, f"transfer.{body.mode}", row)
        return reply(to_data(row.as_data()), status=201)

    async def escalate(self, request: web.Request) -> web.Response:
        user = request_user(request)
        body = await read_body(request, EscalateBody)
        row = await self.desk.escalate(user, body.reason.strip(), body.note.strip())
        await self._audit(request, user, "transfer.escalate", row)
        return reply(to_data(row.as_data()), status=201)

    async def complete(self, request: web.Request) -> web.Response:
        user = request_user(request)
        await self._no_body(request)
        row = await self.desk.complete(user)
        await self._audit(request, user, "transfer.complete", row)
        return reply(to_data(row.as_data()))

    async def cancel(self, request: web.Request) -> web.Response:
        user = request_user(request)
        await self._no_body(request)
        row = await self.desk.cancel(user)
        await self._audit(request, user, "transfer.cancel", row)
        return reply(to_data(row.as_data()))

    async def hold(self, request: web.Request) -> web.Response:
        body = await read_body(request, OnBody)
        return reply(to_data(await self.desk.hold(request_user(request), body.on)))

    async def mute(self, request: web.Request) -> web.Response:
        body = await read_body(request, OnBody)
        return reply(to_data(await self.desk.mute(request_user(request), body.on)))

    async def conference(self, request: web.Request) -> web.Response:
        user = request_user(request)
        body = await read_body(request, ConferenceBody)
        row = await self.desk.transfer(
            user, Mode.CONFERENCE, body.to.kind, body.to.ref, note=body.note.strip()
        )
        await self._audit(request, user, "transfer.conference", row)
        return reply(to_data(row.as_data()), status=201)

    # ------------------------------------------------------------------ reports

    def _period(self, since: datetime, until: datetime) -> None:
        if until <= since or until - since > timedelta(days=366):
            raise BAD_PERIOD(f"{since.isoformat()} .. {until.isoformat()}")

    async def listing(self, request: web.Request) -> web.Response:
        query = read_query(request, PeriodQuery)
        self._period(query.since, query.until)
        rows = await store.listing(self.desk.engine, query.since, query.until, limit=query.limit)
        return reply(to_data({"transfers": store.rows_of(rows)}))

    async def counts(self, request: web.Request) -> web.Response:
        query = read_query(request, CountsQuery)
        self._period(query.since, query.until)
        rows = await store.counts(self.desk.engine, query.since, query.until, query.by)
        return reply(
            {
                "by": query.by,
                "counts": [
                    {"key": k, "label": lab, "transfers": n, "completed": c}
                    for k, lab, n, c in rows
                ],
            }
        )

    async def call_legs(self, request: web.Request) -> web.Response:
        path = read_path(request, CallPath)
        legs = await store.legs_of(self.desk.engine, path.pbx, path.linkedid)
        transfers = await store.of_call(self.desk.engine, path.pbx, path.linkedid)
        return reply(
            to_data(
                {
                    "pbx": path.pbx,
                    "linkedid": path.linkedid,
                    "legs": [leg.as_data() for leg in legs],
                    "transfers": store.rows_of(transfers),
                }
            )
        )

    # ------------------------------------------------------------------ helpers

    async def _no_body(self, request: web.Request) -> None:
        if (await request.read()).strip():
            await read_body(request, NoBody)

    async def _audit(self, request: web.Request, user: User, action: str, row: store.Row) -> None:
        data = row.as_data()
        await self.audit.record(
            request,
            user,
            action,
            f"call {row.pbx}/{row.linkedid}",
            parameters={k: v for k, v in data.items() if k in AUDITED},
            message=f"{row.mode.value} transfer {row.id} to {row.target_kind} "
            f"{row.target_label or row.target_ref}: {row.state.value}",
        )
