"""Filters of the call list (validated with pydantic) and the SQL they become."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import ColumnElement, Select, Table, and_, or_, select

from callcenter.records.models import CallRecord, CallWrapup
from callcenter.records.rows import OUTCOMES

MAX_LIMIT = 500
# Ids are 64-bit (BigId): a larger one from a URL or a cursor is refused, never sent to SQL.
MAX_ROW_ID = 2**63 - 1
# PostgreSQL text cannot hold NUL: a filter or a note with one is refused, not sent to SQL.
NO_NUL = r"^[^\x00]*$"
RECORDS_TABLE: Table = CallRecord.__table__  # type: ignore[assignment]
WRAPUPS_TABLE: Table = CallWrapup.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class OwnCalls:
    """The calls of one user who may read only their own: those answered while they were
    signed in at the answering phone (``answered_by_user``, hot-desking) and those answered by
    one of their fixed phones (``User.interfaces``)."""

    user_id: int
    interfaces: tuple[str, ...]

    def condition(self) -> ColumnElement[bool]:
        table = RECORDS_TABLE
        return or_(
            table.c.answered_by_user == self.user_id,
            table.c.answered_by.in_(self.interfaces),
        )

    def covers(self, call: Mapping[str, Any]) -> bool:
        return call["answered_by_user"] == self.user_id or (
            call["answered_by"] is not None and call["answered_by"] in self.interfaces
        )


class CallFilters(BaseModel):
    """Query parameters of GET /api/calls and /api/calls.csv."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    since: datetime | None = Field(default=None, alias="from")
    until: datetime | None = Field(default=None, alias="to")
    pbx: str | None = Field(default=None, max_length=32, pattern=NO_NUL)
    # The caller channel's Uniqueid (exact): the console finds the record of the call that
    # just ended (its pop names the PBX and the Uniqueid).
    uniqueid: str | None = Field(default=None, max_length=64, pattern=NO_NUL)
    queue: str | None = Field(default=None, max_length=80, pattern=NO_NUL)
    # queue-member interface
    agent: str | None = Field(default=None, max_length=120, pattern=NO_NUL)
    outcome: tuple[str, ...] = ()
    # the customer's number
    caller: str | None = Field(default=None, max_length=40, pattern=NO_NUL)
    # customer id (the customer directory's table)
    customer: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)
    limit: int = Field(default=50, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(default=None, max_length=200)

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None:
            _check_time(value)
        return value

    @field_validator("outcome", mode="before")
    @classmethod
    def _outcomes(cls, value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part]
        unknown = sorted(set(value) - set(OUTCOMES))
        if unknown:
            raise ValueError(
                f"unknown outcome(s) {', '.join(unknown)}; one of {', '.join(OUTCOMES)}"
            )
        return tuple(value)

    @field_validator("cursor")
    @classmethod
    def _cursor(cls, value: str | None) -> str | None:
        if value is not None:
            decode_cursor(value)
        return value


def encode_cursor(joined_at: datetime, row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{joined_at.isoformat()}|{row_id}".encode()).decode()


def _check_time(value: datetime) -> None:
    """A time a query may compare with: it has a zone and is a time in UTC too (0001-01-01
    at +01:00 is not: it would fail as the column converts it)."""
    if value.tzinfo is None:
        raise ValueError("give a time zone, e.g. 2026-11-23T08:00:00+08:00 or ...Z")
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range") from None


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        stamp, text_id = text.split("|")
        value = datetime.fromisoformat(stamp)
        _check_time(value)
        row_id = int(text_id)
        if not 0 <= row_id <= MAX_ROW_ID:
            raise ValueError
        return value, row_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValueError("not a cursor this API gave out") from None


def calls_query(filters: CallFilters, own: OwnCalls | None) -> Select[Any]:
    """Newest first; `own` not None limits to that user's own calls."""
    table = RECORDS_TABLE
    wrapups = WRAPUPS_TABLE
    conditions = []
    if filters.since is not None:
        conditions.append(table.c.joined_at >= filters.since)
    if filters.until is not None:
        conditions.append(table.c.joined_at < filters.until)
    for column, value in (
        (table.c.pbx, filters.pbx),
        (table.c.uniqueid, filters.uniqueid),
        (table.c.queue, filters.queue),
        (table.c.answered_by, filters.agent),
        (table.c.caller_number, filters.caller),
        (table.c.customer_id, filters.customer),
    ):
        if value is not None:
            conditions.append(column == value)
    if filters.outcome:
        conditions.append(table.c.outcome.in_(filters.outcome))
    if own is not None:
        conditions.append(own.condition())
    if filters.cursor is not None:
        joined, row_id = decode_cursor(filters.cursor)
        conditions.append(
            or_(table.c.joined_at < joined, and_(table.c.joined_at == joined, table.c.id < row_id))
        )
    return (
        select(
            table,
            wrapups.c.disposition,
            wrapups.c.category,
            wrapups.c.notes,
            wrapups.c.follow_up_due,
            wrapups.c.submitted_at.label("wrapup_at"),
        )
        .outerjoin(wrapups, wrapups.c.call_id == table.c.id)
        .where(*conditions)
        .order_by(table.c.joined_at.desc(), table.c.id.desc())
    )


def call_json(row: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, datetime | date):
            value = value.isoformat()
        data[key] = value
    wrapup_keys = ("disposition", "category", "notes", "follow_up_due", "wrapup_at")
    wrapup = {k: data.pop(k) for k in wrapup_keys if k in data}
    data["wrapup"] = wrapup if wrapup.get("disposition") is not None else None
    return data
