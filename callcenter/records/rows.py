"""The live model's `CallRecord` as a table row, and the spool's JSON form of each write.

Pure: no I/O. The writer turns CallEnded changes into `RecordOp`s and overflow marks into
`OverflowOp`s; both travel through the on-disk spool as one JSON object per line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from callcenter.live.changes import CallRecord

Outcome = Literal["answered", "abandoned", "timeout", "overflowed", "transferred", "withdrawn",
                  "unknown"]
OUTCOMES: tuple[Outcome, ...] = ("answered", "abandoned", "timeout", "overflowed",
                                 "transferred", "withdrawn", "unknown")
# A call that left unanswered and then joined another queue was overflowed there.
OVERFLOWABLE = ("timeout", "withdrawn", "unknown")

_DATETIME_COLUMNS = ("joined_at", "answered_at", "ended_at", "left_at")
# Column widths of call_records: a longer value is cut rather than let one odd caller name
# block the whole batch on PostgreSQL.
_WIDTHS = {"pbx": 32, "uniqueid": 64, "linkedid": 64, "queue": 80, "caller_number": 40,
           "caller_name": 120, "answered_by": 120, "answered_by_name": 120, "channel": 120,
           "evidence": 32, "queue_status": 32, "completed_by": 16}

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RecordOp:
    """Insert one call record (idempotent on (pbx, uniqueid, joined_at))."""

    row: Row

    @property
    def key(self) -> tuple[str, str, datetime]:
        return self.row["pbx"], self.row["uniqueid"], self.row["joined_at"]


@dataclass(frozen=True, slots=True)
class OverflowOp:
    """Mark an unanswered record as overflowed to `target` (joined_at None: the latest one)."""

    pbx: str
    uniqueid: str
    joined_at: datetime | None
    target: str


Op = RecordOp | OverflowOp


def outcome_of(record: CallRecord) -> Outcome:
    if record.outcome == "answered" and record.completed_by == "transfer":
        return "transferred"
    return record.outcome


def _cut(value: str | None, column: str) -> str | None:
    return value if value is None else value[: _WIDTHS[column]]


def record_row(record: CallRecord) -> Row:
    """The call_records columns of one finished call."""
    return {
        "pbx": _cut(record.pbx, "pbx"),
        "uniqueid": _cut(record.uniqueid, "uniqueid"),
        "linkedid": _cut(record.linkedid or None, "linkedid"),
        "channel": _cut(record.channel or None, "channel"),
        "queue": _cut(record.queue, "queue"),
        "caller_number": _cut(record.caller_num or None, "caller_number"),
        "caller_name": _cut(record.caller_name or None, "caller_name"),
        "joined_at": record.joined_at,
        "answered_at": record.answered_at,
        "left_at": record.left_at,
        "ended_at": record.ended_at,
        "wait_seconds": round(record.wait_seconds, 3),
        "talk_seconds": None if record.talk_seconds is None else round(record.talk_seconds, 3),
        "agents_rung": list(record.agents_rung),
        "ring_no_answer_count": record.ring_no_answer_count,
        "answered_by": _cut(record.answered_by, "answered_by"),
        "answered_by_name": _cut(record.answered_by_name, "answered_by_name"),
        "outcome": outcome_of(record),
        "completed_by": record.completed_by,
        "evidence": _cut(record.evidence, "evidence"),
        "queue_status": _cut(record.queue_status, "queue_status"),
        "short_abandon": record.short_abandon,
        "wrapup_seconds": record.wrapup_seconds,
        "position_at_join": record.position_at_join,
        "position_at_exit": record.position_at_exit,
        "recording_ref": _recording_ref(record),
        "ivr_data": dict(record.ivr),
    }


def _recording_ref(record: CallRecord) -> str | None:
    # MixMonitor's file name, when the dialplan hands it over as an IVR-prefixed variable.
    for name, value in record.ivr.items():
        if name.upper().endswith("RECORDING") and value:
            return value[:255]
    return None


# --------------------------------------------------------------------------- spool lines


def encode(op: Op) -> bytes:
    if isinstance(op, RecordOp):
        row = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in op.row.items()}
        data: dict[str, Any] = {"op": "record", "row": row}
    else:
        data = {"op": "overflow", "pbx": op.pbx, "uniqueid": op.uniqueid,
                "joined_at": None if op.joined_at is None else op.joined_at.isoformat(),
                "target": op.target}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


class BadLine(ValueError):
    """A spool line that is not a write (a torn last line after a crash, or damage)."""


def decode(line: bytes) -> Op:
    try:
        data = json.loads(line)
        if data["op"] == "record":
            row = dict(data["row"])
            for column in _DATETIME_COLUMNS:
                if row.get(column) is not None:
                    row[column] = _aware(row[column])
            if not isinstance(row["joined_at"], datetime) or not row["uniqueid"]:
                raise ValueError("record without key")
            return RecordOp(row)
        if data["op"] == "overflow":
            joined = data["joined_at"]
            return OverflowOp(str(data["pbx"]), str(data["uniqueid"]),
                              None if joined is None else _aware(joined), str(data["target"]))
        raise ValueError(f"unknown op {data['op']!r}")
    except (ValueError, KeyError, TypeError) as exc:
        raise BadLine(str(exc)) from None


def _aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("naive timestamp in spool")
    return value


def mask_number(number: str | None) -> str:
    """A customer's number as it may appear in logs: 138****0001."""
    if not number:
        return "-"
    return number if len(number) <= 4 else number[:3] + "****" + number[-4:]
