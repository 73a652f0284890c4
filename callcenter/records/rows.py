"""The live model's `CallRecord` as a table row, and the spool's JSON form of each write.

Pure: no I/O. The writer turns CallEnded changes into `RecordOp`s and overflow marks into
`OverflowOp`s; both travel through the on-disk spool as one JSON object per line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from callcenter.live.changes import CallConnected, CallerView, CallRecord

# "withdrawn": taken out of the queue (QUEUESTATUS=WITHDRAW), or the caller left it with an
# exit key (evidence "exit_key"; which exit in ivr_data: CC_EXIT voicemail, callback or
# operator, CC_EXIT_FROM the queue; docs/voicemail.md). An operator exit joins another queue
# at once and so ends up "overflowed" there, its evidence and CC_EXIT kept.
Outcome = Literal[
    "answered", "abandoned", "timeout", "overflowed", "transferred", "withdrawn", "unknown"
]
OUTCOMES: tuple[Outcome, ...] = (
    "answered",
    "abandoned",
    "timeout",
    "overflowed",
    "transferred",
    "withdrawn",
    "unknown",
)
# A call that left unanswered and then joined another queue was overflowed there...
OVERFLOWABLE = ("timeout", "withdrawn", "unknown")
# ...if it joined within this long.
OVERFLOW_WINDOW = timedelta(seconds=30)
# Evidence of a call a previous process had open and the first resync after start closed.
RESTART_EVIDENCE = "service_restart"

_DATETIME_COLUMNS = ("joined_at", "answered_at", "ended_at", "left_at")
# The columns of open_calls: what a restarted process needs to close or resume the call.
OPEN_COLUMNS = (
    "pbx",
    "uniqueid",
    "joined_at",
    "queue",
    "linkedid",
    "channel",
    "caller_number",
    "caller_name",
    "position_at_join",
    "answered_at",
    "answered_by",
    "answered_by_name",
    "answered_by_user",
    "wait_seconds",
    "agents_rung",
    "ivr_data",
)
# Column widths of call_records: a longer value is cut rather than let one odd caller name
# block the whole batch on PostgreSQL.
_WIDTHS = {
    "pbx": 32,
    "uniqueid": 64,
    "linkedid": 64,
    "queue": 80,
    "caller_number": 40,
    "caller_name": 120,
    "answered_by": 120,
    "answered_by_name": 120,
    "channel": 120,
    "evidence": 32,
    "queue_status": 32,
    "completed_by": 16,
}

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


@dataclass(frozen=True, slots=True)
class OpenOp:
    """Remember (or update) one call in progress in open_calls; its RecordOp removes it."""

    row: Row

    @property
    def key(self) -> tuple[str, str, datetime]:
        return self.row["pbx"], self.row["uniqueid"], self.row["joined_at"]


Op = RecordOp | OverflowOp | OpenOp


def outcome_of(record: CallRecord) -> Outcome:
    if record.outcome == "answered" and record.completed_by == "transfer":
        return "transferred"
    return record.outcome


def fit_column(value: str | None, column: str) -> str | None:
    """`value` cut to the width of its call_records column."""
    return value if value is None else value[: _WIDTHS[column]]


def record_row(record: CallRecord, *, answered_by_user: int | None = None) -> Row:
    """The call_records columns of one finished call; `answered_by_user` is the user who was
    signed in at the answering phone when it answered (None: nobody, or not answered)."""
    return {
        "pbx": fit_column(record.pbx, "pbx"),
        "uniqueid": fit_column(record.uniqueid, "uniqueid"),
        "linkedid": fit_column(record.linkedid or None, "linkedid"),
        "channel": fit_column(record.channel or None, "channel"),
        "queue": fit_column(record.queue, "queue"),
        "caller_number": fit_column(record.caller_num or None, "caller_number"),
        "caller_name": fit_column(record.caller_name or None, "caller_name"),
        "joined_at": record.joined_at,
        "answered_at": record.answered_at,
        "left_at": record.left_at,
        "ended_at": record.ended_at,
        "wait_seconds": round(record.wait_seconds, 3),
        "talk_seconds": None if record.talk_seconds is None else round(record.talk_seconds, 3),
        "agents_rung": list(record.agents_rung),
        "ring_no_answer_count": record.ring_no_answer_count,
        "answered_by": fit_column(record.answered_by, "answered_by"),
        "answered_by_name": fit_column(record.answered_by_name, "answered_by_name"),
        "answered_by_user": None if record.answered_by is None else answered_by_user,
        "outcome": outcome_of(record),
        "completed_by": record.completed_by,
        "evidence": fit_column(record.evidence, "evidence"),
        "queue_status": fit_column(record.queue_status, "queue_status"),
        "short_abandon": record.short_abandon,
        "wrapup_seconds": record.wrapup_seconds,
        "position_at_join": record.position_at_join,
        "position_at_exit": record.position_at_exit,
        "recording_ref": _recording_ref(record),
        "ivr_data": dict(record.ivr),
        "customer_id": None,  # the writer looks it up (records/customers.py)
    }


def open_row(caller: CallerView) -> Row:
    """The open_calls columns of a caller that just joined (or was adopted by a resync)."""
    return {
        "pbx": fit_column(caller.pbx, "pbx"),
        "uniqueid": fit_column(caller.uniqueid, "uniqueid"),
        "joined_at": caller.joined_at,
        "queue": fit_column(caller.queue, "queue"),
        "linkedid": fit_column(caller.linkedid or None, "linkedid"),
        "channel": fit_column(caller.channel or None, "channel"),
        "caller_number": fit_column(caller.caller_num or None, "caller_number"),
        "caller_name": fit_column(caller.caller_name or None, "caller_name"),
        "position_at_join": caller.position,
        "answered_at": None,
        "answered_by": None,
        "answered_by_name": None,
        "answered_by_user": None,
        "wait_seconds": None,
        "agents_rung": [],
        "ivr_data": dict(caller.ivr),
    }


def answered_row(row: Row | None, change: CallConnected, *, answered_by_user: int | None) -> Row:
    """`row` (None: a call not seen joining) once `change` connected it to an agent;
    `answered_by_user` is the user signed in at that phone now (None: nobody)."""
    if row is None:
        # The live model adopts such a call with the same join time (Asterisk's hold time).
        row = {
            "pbx": fit_column(change.pbx, "pbx"),
            "uniqueid": fit_column(change.uniqueid, "uniqueid"),
            "joined_at": change.at - timedelta(seconds=change.waited_seconds),
            "queue": fit_column(change.queue, "queue"),
            "linkedid": None,
            "channel": None,
            "caller_number": fit_column(change.caller_num or None, "caller_number"),
            "caller_name": fit_column(change.caller_name or None, "caller_name"),
            "position_at_join": None,
            "agents_rung": [],
            "ivr_data": dict(change.ivr),
        }
    agents = list(row["agents_rung"])
    if change.agent_interface not in agents:
        agents.append(change.agent_interface)
    return {
        **row,
        "answered_at": change.at,
        "answered_by": fit_column(change.agent_interface, "answered_by"),
        "answered_by_name": fit_column(change.member_name, "answered_by_name"),
        "answered_by_user": answered_by_user,
        "wait_seconds": change.waited_seconds,
        "agents_rung": agents,
    }


def restart_record_row(opened: Row, now: datetime) -> Row:
    """The record of an open call no process saw end (outcome from what was persisted)."""
    answered = opened["answered_at"] is not None
    joined: datetime = opened["joined_at"]
    wait = opened["wait_seconds"]
    return {
        **{name: opened[name] for name in OPEN_COLUMNS},
        "left_at": opened["answered_at"],
        "ended_at": now,
        "wait_seconds": round(
            wait if wait is not None else max(0.0, (now - joined).total_seconds()), 3
        ),
        "talk_seconds": None,
        "ring_no_answer_count": 0,
        "outcome": "answered" if answered else "unknown",
        "completed_by": None,
        "evidence": RESTART_EVIDENCE,
        "queue_status": None,
        "short_abandon": False,
        "wrapup_seconds": None,
        "position_at_exit": None,
        "recording_ref": None,
        "customer_id": None,
    }


def _recording_ref(record: CallRecord) -> str | None:
    # MixMonitor's file name, when the dialplan hands it over as an IVR-prefixed variable.
    for name, value in record.ivr.items():
        if name.upper().endswith("RECORDING") and value:
            return value[:255]
    return None


# --------------------------------------------------------------------------- spool lines


def encode(op: Op) -> bytes:
    if isinstance(op, RecordOp | OpenOp):
        row = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in op.row.items()}
        data: dict[str, Any] = {"op": "record" if isinstance(op, RecordOp) else "open", "row": row}
    else:
        data = {
            "op": "overflow",
            "pbx": op.pbx,
            "uniqueid": op.uniqueid,
            "joined_at": None if op.joined_at is None else op.joined_at.isoformat(),
            "target": op.target,
        }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


class BadLine(ValueError):
    """A spool line that is not a write (a torn last line after a crash, or damage)."""


def decode(line: bytes) -> Op:
    try:
        data = json.loads(line)
        if data["op"] in ("record", "open"):
            row = dict(data["row"])
            # A line spooled before migration 0014 (every row of a batch has the same columns).
            row.setdefault("answered_by_user", None)
            for column in _DATETIME_COLUMNS:
                if row.get(column) is not None:
                    row[column] = _aware(row[column])
            if not isinstance(row["joined_at"], datetime) or not row["uniqueid"]:
                raise ValueError("record without key")
            return RecordOp(row) if data["op"] == "record" else OpenOp(row)
        if data["op"] == "overflow":
            joined = data["joined_at"]
            return OverflowOp(
                str(data["pbx"]),
                str(data["uniqueid"]),
                None if joined is None else _aware(joined),
                str(data["target"]),
            )
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
