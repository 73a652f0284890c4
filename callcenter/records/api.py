"""HTTP API of call records: list, one call, wrap-up, CSV export.

GET  /api/calls            filters (from, to, pbx, queue, agent, outcome, caller, customer),
                           newest first, `limit` + opaque `cursor` (next_cursor in the answer)
GET  /api/calls.csv        the same filters, every matching call, UTF-8 with BOM (Excel)
GET  /api/calls/{id}       one call with its wrap-up
POST /api/calls/{id}/wrapup  {disposition, notes?, follow_up_due?}
GET  /api/dispositions     the configured disposition codes with both labels

An agent sees and wraps up only the calls their own phone(s) answered (`User.interfaces`);
supervisors and admins see everything.
"""

from __future__ import annotations

import csv
import io
import logging
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from callcenter.auth.identity import User, require_user
from callcenter.records.customers import saved_wrapup
from callcenter.records.query import (
    RECORDS_TABLE,
    WRAPUPS_TABLE,
    CallFilters,
    call_json,
    calls_query,
    encode_cursor,
)
from callcenter.web.errors import api_error

if TYPE_CHECKING:
    from callcenter.records.component import RecordsComponent

log = logging.getLogger(__name__)

RECORDS: web.AppKey[RecordsComponent] = web.AppKey("records")
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


class WrapupBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    disposition: str = Field(min_length=1, max_length=40)
    notes: str = Field(default="", max_length=4000)
    follow_up_due: date | None = None


def add_routes(app: web.Application, component: RecordsComponent) -> None:
    app[RECORDS] = component
    app.router.add_get("/api/calls", list_calls)
    app.router.add_get("/api/calls.csv", export_csv)
    app.router.add_get("/api/calls/{id}", get_call)
    app.router.add_post("/api/calls/{id}/wrapup", submit_wrapup)
    app.router.add_get("/api/dispositions", dispositions)


def _problems(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "body", "problem": e["msg"]}
        for e in exc.errors(include_input=False, include_url=False)
    ]


def _filters(request: web.Request) -> CallFilters:
    query: dict[str, Any] = {}
    for key in request.query:
        values = request.query.getall(key)
        if len(values) > 1 and key != "outcome":
            raise api_error(400, "bad-filter", f"{key}: given more than once")
        query[key] = ",".join(values) if key == "outcome" else values[0]
    try:
        return CallFilters.model_validate(query)
    except ValidationError as exc:
        problems = _problems(exc)
        first = problems[0]
        raise api_error(
            400, "bad-filter", f"{first['field']}: {first['problem']}", problems=problems
        ) from None


def _scope(user: User, filters: CallFilters) -> tuple[str, ...] | None:
    """The interfaces an agent is limited to (None: staff, no limit)."""
    if user.is_staff:
        return None
    if filters.agent is not None and filters.agent not in user.interfaces:
        raise api_error(
            403,
            "not-your-calls",
            "an agent sees only the calls of their own phone",
            agent=filters.agent,
        )
    return user.interfaces


def _call_id(request: web.Request) -> int:
    text = request.match_info["id"]
    if not text.isdigit() or len(text) > 18:
        raise api_error(400, "bad-call-id", "a call id is a positive whole number", id=text)
    return int(text)


async def list_calls(request: web.Request) -> web.Response:
    user = require_user(request)
    filters = _filters(request)
    component = request.app[RECORDS]
    statement = calls_query(filters, _scope(user, filters)).limit(filters.limit + 1)
    async with component.engine.connect() as connection:
        rows = list((await connection.execute(statement)).mappings())
    more = len(rows) > filters.limit
    rows = rows[: filters.limit]
    cursor = encode_cursor(rows[-1]["joined_at"], rows[-1]["id"]) if more else None
    return web.json_response({"calls": [call_json(r) for r in rows], "next_cursor": cursor})


async def export_csv(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    filters = _filters(request)
    scope = _scope(user, filters)
    component = request.app[RECORDS]
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
        async with component.engine.connect() as connection:
            rows = list(
                (await connection.execute(calls_query(page, scope).limit(CSV_PAGE))).mappings()
            )
        for row in rows:
            await response.write(_csv_line(_csv_values(row)))
        if len(rows) < CSV_PAGE:
            break
        page = page.model_copy(
            update={"cursor": encode_cursor(rows[-1]["joined_at"], rows[-1]["id"])}
        )
    await response.write_eof()
    return response


def _csv_values(row: Any) -> list[str]:
    values = []
    for column in CSV_COLUMNS:
        value = row.get(column)
        if value is None:
            values.append("")
        elif isinstance(value, datetime | date):
            values.append(value.isoformat())
        elif isinstance(value, list):
            values.append(" ".join(str(v) for v in value))
        else:
            values.append(str(value))
    return values


def _csv_line(values: Any) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue().encode()


async def _load_call(request: web.Request, user: User) -> dict[str, Any]:
    call_id = _call_id(request)
    table = RECORDS_TABLE
    component = request.app[RECORDS]
    statement = calls_query(CallFilters(), None).where(table.c.id == call_id)
    async with component.engine.connect() as connection:
        row = (await connection.execute(statement)).mappings().first()
    if row is None:
        raise api_error(404, "no-such-call", f"there is no call {call_id}", id=call_id)
    if not user.is_staff and row["answered_by"] not in user.interfaces:
        raise api_error(
            403, "not-your-call", "an agent sees only the calls of their own phone", id=call_id
        )
    return dict(row)


async def get_call(request: web.Request) -> web.Response:
    user = require_user(request)
    return web.json_response(call_json(await _load_call(request, user)))


async def submit_wrapup(request: web.Request) -> web.Response:
    user = require_user(request)
    component = request.app[RECORDS]
    call_id = _call_id(request)
    try:
        data = await request.json()
    except ValueError:
        raise api_error(400, "bad-json", "the request body must be JSON") from None
    try:
        body = WrapupBody.model_validate(data)
    except ValidationError as exc:
        problems = _problems(exc)
        raise api_error(
            400,
            "invalid-body",
            f"{problems[0]['field']}: {problems[0]['problem']}",
            problems=problems,
        ) from None
    codes = {d.code: d for d in component.settings.dispositions}
    disposition = codes.get(body.disposition)
    if disposition is None:
        raise api_error(
            400, "unknown-disposition", f"no disposition {body.disposition!r}", known=sorted(codes)
        )
    call = await _load_call(request, user)
    if call["answered_at"] is None:
        raise api_error(409, "not-answered", "only an answered call has a wrap-up", id=call_id)
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
    insert = postgresql.insert if component.engine.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=["call_id"],
        set_={k: statement.excluded[k] for k in values if k != "call_id"},
    )
    async with component.engine.begin() as connection:
        await connection.execute(statement)
        stored = (
            (await connection.execute(select(table).where(table.c.call_id == call_id)))
            .mappings()
            .one()
        )
    log.info("wrap-up of call %s by %s: %s", call_id, user.username, disposition.code)
    component.wrapup_submitted(call["pbx"], call["answered_by"])
    component.wrapup_saved(saved_wrapup(call, stored))
    return web.json_response(
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


async def dispositions(request: web.Request) -> web.Response:
    require_user(request)
    component = request.app[RECORDS]
    return web.json_response(
        {"dispositions": [d.model_dump() for d in component.settings.dispositions]}
    )
