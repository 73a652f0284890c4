"""The centre's local date of a UTC timestamp column, in SQL, on SQLite and PostgreSQL.

The UTC time shifted by the zone's offset, cut to its date. The offset is a constant over
most periods; a ``CASE`` picks it only across the clock changes inside the period (two a
year in a zone with summer time, none in Asia/Shanghai), so the expression stays small
whatever the period's length and is right on 23- and 25-hour days. Values outside
[start, end) take the nearest segment's offset: callers filter to the period.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, case, cast, func, literal_column
from sqlalchemy.sql.elements import ColumnElement

from callcenter.worklog.days import offsets


def _shifted(column: Any, seconds: int, dialect: str) -> ColumnElement[Any]:
    if dialect == "sqlite":
        # Stored as naive UTC text; date() applies the modifier and keeps the date.
        return func.date(column, f"{seconds:+d} seconds")
    utc = func.timezone("UTC", column)  # timestamp without time zone, UTC wall clock
    return cast(utc + literal_column(f"INTERVAL '{int(seconds)} seconds'"), Date)


def local_date(
    column: Any, zone: ZoneInfo, start: datetime, end: datetime, dialect: str
) -> ColumnElement[Any]:
    """SQL for ``column``'s local date in ``zone`` (exact for values in [start, end))."""
    segments = offsets(zone, start, end)
    if len(segments) == 1:
        return _shifted(column, segments[0][1], dialect)
    whens = [
        (column < segments[n + 1][0], _shifted(column, off, dialect))
        for n, (_, off) in enumerate(segments[:-1])
    ]
    return case(*whens, else_=_shifted(column, segments[-1][1], dialect))


def as_date(value: Any) -> date:
    """A date from the database (SQLite gives text)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
