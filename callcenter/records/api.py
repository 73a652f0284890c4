"""HTTP API of call records: list, one call, wrap-up, CSV export.

GET  /api/calls            filters (from, to, pbx, uniqueid, queue, agent, outcome, caller,
                           customer), newest first, `limit` + opaque `cursor` (next_cursor
                           in the answer)
GET  /api/calls.csv        the same filters, every matching call, UTF-8 with BOM (Excel)
GET  /api/calls/{id}       one call with its wrap-up
POST /api/calls/{id}/wrapup  {disposition, notes?, follow_up_due?}
GET  /api/dispositions     the configured disposition codes with both labels

A user holding ``calls:read-all`` sees (and wraps up) every call; one holding only
``calls:read-own`` (an agent) only their own: the calls answered while they were signed in at
the answering phone (``answered_by_user``, hot-desking) and those their fixed phone(s) answered
(`User.interfaces`).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.audit.log import Audit
from callcenter.auth.identity import User
from callcenter.auth.permissions import Permission as P
from callcenter.records.customers import SavedWrapup, saved_wrapup
from callcenter.records.query import (
    MAX_ROW_ID,
    NO_NUL,
    RECORDS_TABLE,
    WRAPUPS_TABLE,
    CallFilters,
    OwnCalls,
    call_json,
    calls_query,
    encode_cursor,
)
from callcenter.settings import Disposition
from callcenter.web import http
from callcenter.web.errors import Problem
from callcenter.web.http import (
    LOGIN,
    Route,
    needs,
    read_body,
    read_path,
    read_query,
    reply,
    request_user,
)
from callcenter.web.spreadsheet import csv_cell

log = logging.getLogger(__name__)

NOT_YOUR_CALLS = Problem(403, "not-your-calls", "an agent sees only their own phone's calls")
NOT_YOUR_CALL = Problem(403, "not-your-call", "the call was answered by someone else")
NO_SUCH_CALL = Problem(404, "no-such-call", "no call with that id")
UNKNOWN_DISPOSITION = Problem(400, "unknown-disposition", "no disposition with that code")
NOT_ANSWERED = Problem(409, "not-answered", "only an answered call has a wrap-up")
FOLLOW_UP_OUT_OF_RANGE = Problem(400, "follow-up-out-of-range", "the follow-up date is too far")

READ_CALLS = needs(P.CALLS_READ_OWN, P.CALLS_READ_ALL)
CSV_PAGE = 1000
CSV_COLUMNS = (
    "id",
    "pbx",
    "uniqueid",
    "queue",
    "caller_number",
    "caller_name",
    "customer_id",
    "joined_at",
    "answered_at",
    "ended_at",
    "wait_seconds",
    "talk_seconds",
    "outcome",
    "completed_by",
    "overflow_queue",
    "answered_by",
    "answered_by_name",
    "answered_by_user",
    "ring_no_answer_count",
    "agents_rung",
    "position_at_join",
    "position_at_exit",
    "recording_ref",
    "disposition",
    "category",
    "notes",
    "follow_up_due",
)


# --- what the routes read --------------------------------------------------------------


class CallPath(BaseModel):
    # A call_records id (64-bit): nothing larger reaches SQL.
    id: int = Field(ge=1, le=MAX_ROW_ID)


class WrapupBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    disposition: str = Field(min_length=1, max_length=40)
    # PostgreSQL text cannot hold NUL: refused here rather than failing in the INSERT.
    notes: str = Field(default="", max_length=4000, pattern=NO_NUL)
    follow_up_due: date | None = None


# --- what the routes answer (the shapes ``call_json`` and the handlers build) -------------


class CallWrapupData(BaseModel):
    """A call's wrap-up as the call list and the call show it."""

    disposition: str
    category: str
    notes: str
    follow_up_due: date | None
    wrapup_at: datetime


class CallData(BaseModel):
    """One call record (``call_json``): every call_records column and its wrap-up."""

    id: int
    pbx: str
    uniqueid: str
    linkedid: str | None
    queue: str
    caller_number: str | None
    caller_name: str | None
    customer_id: int | None
    joined_at: datetime
    answered_at: datetime | None
    left_at: datetime | None
    ended_at: datetime | None
    wait_seconds: float | None
    talk_seconds: float | None
    wrapup_seconds: int | None
    agents_rung: list[str]
    ring_no_answer_count: int
    answered_by: str | None
    answered_by_name: str | None
    # The user signed in at that phone when it answered (null: nobody, or not known).
    answered_by_user: int | None
    # "inbound" (a queue call) or "outbound" (a callback attempt of the work-items room).
    direction: str
    outcome: str
    completed_by: str | None
    evidence: str | None
    queue_status: str | None
    short_abandon: bool
    overflow_queue: str | None
    position_at_join: int | None
    position_at_exit: int | None
    recording_ref: str | None
    channel: str | None
    ivr_data: dict[str, str]
    wrapup: CallWrapupData | None


class CallPage(BaseModel):
    calls: list[CallData]
    # Give it as ?cursor= for the next (older) page; null on the last page.
    next_cursor: str | None


class StoredWrapupData(BaseModel):
    disposition: str
    category: str
    notes: str
    username: str | None
    follow_up_due: date | None
    wrapup_at: datetime


class WrapupAnswer(BaseModel):
    call_id: int
    wrapup: StoredWrapupData


class DispositionList(BaseModel):
    dispositions: list[Disposition]


# --- the room's side -----------------------------------------------------------------------


class WrapupSink(Protocol):
    """What the records room does when a wrap-up was stored."""

    def wrapup_submitted(self, pbx: str, interface: str | None) -> None:
        """An enforced wrap-up pause of ``interface`` ends now."""

    def wrapup_saved(self, wrapup: SavedWrapup) -> None:
        """The customer index learns of the wrap-up."""


def _own(user: User) -> OwnCalls | None:
    """The calls a user who may not read every call is limited to (None: no limit)."""
    if user.may(P.CALLS_READ_ALL):
        return None
    return OwnCalls(user.id, user.interfaces)


def _scope(user: User, filters: CallFilters) -> OwnCalls | None:
    """`_own`, refusing a phone filter for a phone that is not one of the user's."""
    own = _own(user)
    if own is not None and filters.agent is not None and filters.agent not in user.interfaces:
        raise NOT_YOUR_CALLS("an agent sees only the calls of their own phone", agent=filters.agent)
    return own


def _read_filters(request: web.Request) -> CallFilters:
    return read_query(request, CallFilters, repeatable=("outcome",))


class RecordsApi:
    """The call-records routes, on the records room's engine and dispositions."""

    def __init__(
        self,
        engine: AsyncEngine,
        dispositions: Sequence[Disposition],
        wrapups: WrapupSink,
        *,
        audit: Audit | None = None,
        follow_up_horizon_days: int = 366,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self.engine = engine
        self.dispositions = tuple(dispositions)
        self.wrapups = wrapups
        self.audit = audit
        self.follow_up_horizon = timedelta(days=follow_up_horizon_days)
        self._today = today

    def routes(self) -> list[Route]:
        return [
            http.get(
                "/api/calls",
                self.list_calls,
                access=READ_CALLS,
                tag="records",
                summary="Call records, newest first, a page at a time (an agent: their own)",
                query=CallFilters,
                response=CallPage,
                errors=(NOT_YOUR_CALLS,),
            ),
            http.get(
                "/api/calls.csv",
                self.export_csv,
                access=READ_CALLS,
                tag="records",
                summary="Every matching call record as CSV (UTF-8 with BOM, for Excel)",
                query=CallFilters,
                kind="text",
                content_type="text/csv; charset=utf-8",
                errors=(NOT_YOUR_CALLS,),
            ),
            http.get(
                "/api/calls/{id}",
                self.get_call,
                access=READ_CALLS,
                tag="records",
                summary="One call record with its wrap-up",
                path_params=CallPath,
                response=CallData,
                errors=(NO_SUCH_CALL, NOT_YOUR_CALL),
            ),
            http.post(
                "/api/calls/{id}/wrapup",
                self.submit_wrapup,
                access=needs(P.CALLS_WRAP_UP),
                tag="records",
                summary="Store (or replace) the wrap-up of an answered call",
                path_params=CallPath,
                body=WrapupBody,
                response=WrapupAnswer,
                status=201,
                errors=(
                    UNKNOWN_DISPOSITION,
                    FOLLOW_UP_OUT_OF_RANGE,
                    NO_SUCH_CALL,
                    NOT_YOUR_CALL,
                    NOT_ANSWERED,
                ),
            ),
            http.get(
                "/api/dispositions",
                self.list_dispositions,
                access=LOGIN,
                tag="records",
                summary="The wrap-up disposition codes, with both labels",
                response=DispositionList,
            ),
        ]

    async def list_calls(self, request: web.Request) -> web.Response:
        user = request_user(request)
        filters = _read_filters(request)
        statement = calls_query(filters, _scope(user, filters)).limit(filters.limit + 1)
        async with self.engine.connect() as connection:
            rows = list((await connection.execute(statement)).mappings())
        more = len(rows) > filters.limit
        rows = rows[: filters.limit]
        cursor = encode_cursor(rows[-1]["joined_at"], rows[-1]["id"]) if more else None
        return reply({"calls": [call_json(r) for r in rows], "next_cursor": cursor})

    async def export_csv(self, request: web.Request) -> web.StreamResponse:
        user = request_user(request)
        filters = _read_filters(request)
        scope = _scope(user, filters)
        if self.audit is not None:
            await self.audit.record(
                request,
                user,
                "calls-export",
                "calls.csv",
                parameters=filters.model_dump(mode="json", exclude_defaults=True),
            )
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": 'attachment; filename="calls.csv"',
            }
        )
        await response.prepare(request)
        # The BOM makes Excel read the Chinese names as UTF-8.
        await response.write("\ufeff".encode() + _csv_line(CSV_COLUMNS))
        page = filters.model_copy(update={"limit": CSV_PAGE})
        while True:
            statement = calls_query(page, scope).limit(CSV_PAGE)
            async with self.engine.connect() as connection:
                rows = list((await connection.execute(statement)).mappings())
            for row in rows:
                await response.write(_csv_line(_csv_values(row)))
            if len(rows) < CSV_PAGE:
                break
            page = page.model_copy(
                update={"cursor": encode_cursor(rows[-1]["joined_at"], rows[-1]["id"])}
            )
        await response.write_eof()
        return response

    async def _load_call(self, call_id: int, user: User) -> dict[str, Any]:
        statement = calls_query(CallFilters(), None).where(RECORDS_TABLE.c.id == call_id)
        async with self.engine.connect() as connection:
            row = (await connection.execute(statement)).mappings().first()
        if row is None:
            raise NO_SUCH_CALL(f"there is no call {call_id}", id=call_id)
        own = _own(user)
        if own is not None and not own.covers(row):
            raise NOT_YOUR_CALL("an agent sees only the calls they answered", id=call_id)
        return dict(row)

    async def get_call(self, request: web.Request) -> web.Response:
        user = request_user(request)
        call_id = read_path(request, CallPath).id
        return reply(call_json(await self._load_call(call_id, user)))

    async def submit_wrapup(self, request: web.Request) -> web.Response:
        user = request_user(request)
        call_id = read_path(request, CallPath).id
        body = await read_body(request, WrapupBody)
        codes = {d.code: d for d in self.dispositions}
        disposition = codes.get(body.disposition)
        if disposition is None:
            raise UNKNOWN_DISPOSITION(f"no disposition {body.disposition!r}", known=sorted(codes))
        due = body.follow_up_due
        today = self._today()
        if due is not None and not (
            today - timedelta(days=1) <= due <= today + self.follow_up_horizon
        ):
            raise FOLLOW_UP_OUT_OF_RANGE(
                f"follow_up_due must be between {today - timedelta(days=1)} and "
                f"{today + self.follow_up_horizon}",
                field="follow_up_due",
            )
        call = await self._load_call(call_id, user)
        if call["answered_at"] is None:
            raise NOT_ANSWERED("only an answered call has a wrap-up", id=call_id)
        values = {
            "call_id": call_id,
            "disposition": disposition.code,
            "category": disposition.category,
            "notes": body.notes,
            "follow_up_due": body.follow_up_due,
            "agent_interface": call["answered_by"],
            "username": user.username,
            "submitted_at": datetime.now(UTC),
        }
        table = WRAPUPS_TABLE
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        statement = insert(table).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=["call_id"],
            set_={k: statement.excluded[k] for k in values if k != "call_id"},
        )
        async with self.engine.begin() as connection:
            await connection.execute(statement)
            stored = (
                (await connection.execute(select(table).where(table.c.call_id == call_id)))
                .mappings()
                .one()
            )
        log.info("wrap-up of call %s by %s: %s", call_id, user.username, disposition.code)
        self.wrapups.wrapup_submitted(call["pbx"], call["answered_by"])
        self.wrapups.wrapup_saved(saved_wrapup(call, stored))
        return reply(
            {
                "call_id": call_id,
                "wrapup": {
                    "disposition": stored["disposition"],
                    "category": stored["category"],
                    "notes": stored["notes"],
                    "username": stored["username"],
                    "follow_up_due": None
                    if stored["follow_up_due"] is None
                    else stored["follow_up_due"].isoformat(),
                    "wrapup_at": stored["submitted_at"].isoformat(),
                },
            },
            status=201,
        )

    async def list_dispositions(self, request: web.Request) -> web.Response:
        return reply({"dispositions": [d.model_dump() for d in self.dispositions]})


def _csv_values(row: Any) -> list[str]:
    values = []
    for column in CSV_COLUMNS:
        value = row.get(column)
        if value is None:
            values.append("")
        elif isinstance(value, datetime | date):
            values.append(value.isoformat())
        elif isinstance(value, list):
            values.append(csv_cell(" ".join(str(v) for v in value)))
        elif isinstance(value, str):
            values.append(csv_cell(value))
        else:
            values.append(str(value))
    return values


def _csv_line(values: Any) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue().encode()
