"""HTTP adapter of the screening room: the blocked-numbers list and the screening log (staff),
and the agent's abusive-caller button.

GET    /api/screening/blocked          the list (screening:edit)
POST   /api/screening/blocked          {number, reason?} -> 201; 400 bad-number, 409 already-blocked
DELETE /api/screening/blocked/{id}     404 no-such-blocked-number
GET    /api/screening/events           ?since=&kind=&limit= (screening:edit or audit:read)
POST   /api/agent/abusive-caller       {note?} (agent:self): warn the caller, end the call, break

Every change of the list and every use of the button is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.ami.calls import NOT_ON_A_CALL
from callcenter.ami.problems import PBX_REFUSED, PBX_TIMEOUT, PBX_UNAVAILABLE
from callcenter.audit.log import Audit
from callcenter.auth.permissions import P
from callcenter.clock import Clock, utc_now
from callcenter.customers.phones import BadPhoneNumber
from callcenter.feed.serialize import to_data
from callcenter.screening import store
from callcenter.screening.abusive import AbusiveButton, RedirectRefused
from callcenter.screening.blocklist import BlockList
from callcenter.screening.rules import EVENT_KINDS, blocked_key
from callcenter.web import http
from callcenter.web.errors import Problem
from callcenter.web.http import Route, needs, read_body, read_path, read_query, reply, request_user
from callcenter.web.text import ONE_LINE

BAD_NUMBER = Problem(400, "bad-number", "not a phone number that can be blocked")
ALREADY_BLOCKED = Problem(409, "already-blocked", "the number is in the list already")
NO_SUCH_BLOCKED = Problem(404, "no-such-blocked-number", "no blocked number of that id")

TEXT = ONE_LINE  # callcenter/web/text.py
MAX_ID = 2**63 - 1
TAG = "screening"


class BlockBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    # As people write numbers: digits, spaces, dashes, brackets, a leading + (or 00).
    number: str = Field(min_length=1, max_length=40, pattern=r"^[0-9+()\- ]+$")
    reason: str = Field(default="", max_length=200, pattern=TEXT)


class BlockedPath(BaseModel):
    id: int = Field(ge=1, le=MAX_ID)


class EventsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: AwareDatetime | None = None
    # One kind or several, comma-separated: blocked, withheld-message, withheld-queue, abusive.
    kind: str | None = Field(default=None, max_length=80)
    limit: int = Field(default=200, ge=1, le=1000)

    @field_validator("kind")
    @classmethod
    def _kinds(cls, value: str | None) -> str | None:
        if value is None:
            return None
        unknown = [k for k in value.split(",") if k not in EVENT_KINDS]
        if unknown:
            raise ValueError(f"kind must be among {', '.join(EVENT_KINDS)}")
        return value


class AbusiveBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    note: Annotated[str, Field(max_length=200, pattern=TEXT)] = ""


class BlockedData(BaseModel):
    id: int
    number: str
    reason: str
    added_by: str
    added_at: datetime


class BlockedList(BaseModel):
    numbers: list[BlockedData]


class EventData(BaseModel):
    id: int | None
    at: datetime
    pbx: str
    kind: str
    number: str | None
    linkedid: str | None
    interface: str | None
    username: str | None
    detail: str


class EventList(BaseModel):
    events: list[EventData]


class Deleted(BaseModel):
    deleted: bool
    id: int
    number: str


class BreakData(BaseModel):
    code: str
    seconds: int
    until: datetime


class AbusiveAnswer(BaseModel):
    pbx: str
    interface: str
    queue: str
    linkedid: str
    number: str
    # The caller's channel, sent to the warning.
    channel: str
    warning_context: str
    event_id: int | None
    at: datetime
    # The not-ready break given; None with break_error (why not: no-such-code, code-full,
    # pbx-...) or when breaks are off (screening.abusive_break_seconds = 0).
    break_: BreakData | None = Field(alias="break")
    break_error: str | None


class ScreeningApi:
    def __init__(
        self,
        engine: AsyncEngine,
        blocked: BlockList,
        button: AbusiveButton,
        audit: Audit,
        *,
        region: str,
        clock: Clock = utc_now,
    ) -> None:
        self._engine = engine
        self._blocked = blocked
        self._button = button
        self._audit = audit
        self._region = region
        self._clock = clock

    def routes(self) -> Sequence[Route]:
        edit = needs(P.SCREENING_EDIT)
        return [
            http.get(
                "/api/screening/blocked",
                self.list_blocked,
                access=edit,
                tag=TAG,
                summary="The blocked numbers (callers told a message and let go)",
                response=BlockedList,
            ),
            http.post(
                "/api/screening/blocked",
                self.add_blocked,
                access=edit,
                tag=TAG,
                summary="Block a caller number (every replica within screening.refresh_seconds)",
                body=BlockBody,
                response=BlockedData,
                status=201,
                errors=(BAD_NUMBER, ALREADY_BLOCKED),
            ),
            http.delete(
                "/api/screening/blocked/{id}",
                self.delete_blocked,
                access=edit,
                tag=TAG,
                summary="Unblock a number",
                path_params=BlockedPath,
                response=Deleted,
                errors=(NO_SUCH_BLOCKED,),
            ),
            http.get(
                "/api/screening/events",
                self.list_events,
                access=needs(P.SCREENING_EDIT, P.AUDIT_READ),
                tag=TAG,
                summary="Callers turned away or sent aside, abusive-caller buttons: newest first",
                query=EventsQuery,
                response=EventList,
            ),
            http.post(
                "/api/agent/abusive-caller",
                self.abusive_caller,
                access=needs(P.AGENT_SELF),
                tag=TAG,
                summary="Warn the caller of one's connected call, end it, take a short break",
                body=AbusiveBody,
                response=AbusiveAnswer,
                errors=(NOT_ON_A_CALL, PBX_REFUSED, PBX_UNAVAILABLE, PBX_TIMEOUT),
            ),
        ]

    # ------------------------------------------------------------------ blocked numbers

    async def list_blocked(self, request: web.Request) -> web.Response:
        rows = await store.list_blocked(self._engine)
        return reply({"numbers": to_data(rows)})

    async def add_blocked(self, request: web.Request) -> web.Response:
        user = request_user(request)
        body = await read_body(request, BlockBody)
        try:
            number = blocked_key(body.number, self._region)
        except BadPhoneNumber as exc:
            raise BAD_NUMBER(str(exc), field="number", region=self._region) from None
        try:
            row = await store.add_blocked(
                self._engine, number, body.reason.strip(), user.username, self._clock()
            )
        except store.AlreadyBlocked as exc:
            raise ALREADY_BLOCKED(
                f"{number} is blocked already", number=number, id=exc.args[0]
            ) from None
        self._blocked.added(row)
        await self._audit.record(
            request,
            user,
            "screening.block",
            number,
            parameters={"id": row.id, "reason": row.reason},
            message=f"blocked {number}" + (f": {row.reason}" if row.reason else ""),
        )
        return reply(to_data(row), status=201)

    async def delete_blocked(self, request: web.Request) -> web.Response:
        user = request_user(request)
        blocked_id = read_path(request, BlockedPath).id
        row = await store.delete_blocked(self._engine, blocked_id)
        if row is None:
            raise NO_SUCH_BLOCKED(f"no blocked number {blocked_id}", id=blocked_id)
        self._blocked.removed(row)
        await self._audit.record(
            request,
            user,
            "screening.unblock",
            row.number,
            parameters={"id": row.id, "reason": row.reason, "added_by": row.added_by},
            message=f"unblocked {row.number}",
        )
        return reply({"deleted": True, "id": row.id, "number": row.number})

    async def list_events(self, request: web.Request) -> web.Response:
        query = read_query(request, EventsQuery)
        kinds = query.kind.split(",") if query.kind else []
        events = await store.list_events(
            self._engine, since=query.since, kinds=kinds, limit=query.limit
        )
        return reply({"events": to_data(events)})

    # ------------------------------------------------------------------ the button

    async def abusive_caller(self, request: web.Request) -> web.Response:
        user = request_user(request)
        raw = await request.read()
        body = AbusiveBody() if not raw.strip() else await read_body(request, AbusiveBody)
        note = body.note.strip()
        try:
            pressed = await self._button.press(user, note)
        except RedirectRefused as refused:
            call = refused.call
            await self._audit.record(
                request,
                user,
                "screening.abusive",
                call.linkedid or call.uniqueid,
                ok=False,
                parameters=_call_parameters(call.pbx, call.agent_interface, call.channel, note),
                message=f"the PBX did not redirect {call.channel}: {refused.error.message}",
            )
            raise refused.error from None
        call = pressed.call
        settings = self._button.settings
        await self._audit.record(
            request,
            user,
            "screening.abusive",
            call.linkedid or call.uniqueid,
            parameters={
                **_call_parameters(call.pbx, call.agent_interface, call.channel, note),
                "event_id": pressed.event_id,
                "break": pressed.break_code,
                "break_error": pressed.break_error,
            },
            message=f"abusive caller on {call.agent_interface}: warned and hung up",
        )
        answer = {
            "pbx": call.pbx,
            "interface": call.agent_interface,
            "queue": call.queue,
            "linkedid": call.linkedid,
            "number": call.caller_num,
            "channel": call.channel,
            "warning_context": settings.warning_context,
            "event_id": pressed.event_id,
            "at": pressed.at,
            "break": None
            if pressed.break_code is None or pressed.break_until is None
            else {
                "code": pressed.break_code,
                "seconds": settings.abusive_break_seconds,
                "until": pressed.break_until,
            },
            "break_error": pressed.break_error,
        }
        return reply(to_data(answer))


def _call_parameters(pbx: str, interface: str, channel: str, note: str) -> dict[str, str]:
    return {"pbx": pbx, "interface": interface, "channel": channel, "note": note}
