"""The records room's tables: the call records and their wrap-ups (migrations 0001, 0003,
0009 and 0014) and the queue calls still open (migrations 0007 and 0014).

An open call is written when it joins (and again when it is answered) and removed in the same
transaction that stores its record, so after a crash the next process knows every call that was
in progress and can close it even if it ended while no process was listening.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.base import Base, BigId
from callcenter.store.types import UtcDateTime


class CallRecord(Base):
    """One queue call (one join), keyed by the PBX, the caller channel's Uniqueid (queue_log
    callid) and the join time: the same channel may join several queues in turn."""

    __tablename__ = "call_records"
    __table_args__ = (
        UniqueConstraint(
            "pbx", "uniqueid", "joined_at", name="uq_call_records_pbx_uniqueid_joined_at"
        ),
        # From 0018: the reports recompute one queue's calls of one day.
        Index("ix_call_records_queue_joined", "queue", "joined_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pbx: Mapped[str] = mapped_column(String(32))
    uniqueid: Mapped[str] = mapped_column(String(64), index=True)
    linkedid: Mapped[str | None] = mapped_column(String(64))
    queue: Mapped[str] = mapped_column(String(80), index=True)
    caller_number: Mapped[str | None] = mapped_column(String(40), index=True)
    caller_name: Mapped[str | None] = mapped_column(String(120))
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    talk_seconds: Mapped[float | None] = mapped_column(Float)
    agents_rung: Mapped[list[str]] = mapped_column(JSON, default=list)
    ring_no_answer_count: Mapped[int] = mapped_column(default=0)
    answered_by: Mapped[str | None] = mapped_column(String(120), index=True)
    answered_by_name: Mapped[str | None] = mapped_column(String(120))
    outcome: Mapped[str] = mapped_column(String(16), index=True)
    position_at_join: Mapped[int | None]
    position_at_exit: Mapped[int | None]
    recording_ref: Mapped[str | None] = mapped_column(String(255))
    ivr_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # From 0003 (call outcomes): the rest of the live model's record.
    channel: Mapped[str | None] = mapped_column(String(120))
    left_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    completed_by: Mapped[str | None] = mapped_column(String(16))
    evidence: Mapped[str | None] = mapped_column(String(32))
    queue_status: Mapped[str | None] = mapped_column(String(32))
    short_abandon: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    wrapup_seconds: Mapped[int | None]
    overflow_queue: Mapped[str | None] = mapped_column(String(80))
    customer_id: Mapped[int | None] = mapped_column(BigId, index=True)
    # From 0014: the user signed in at the answering phone when it answered (hot-desking);
    # None for a phone nobody was signed in at, and for calls backfilled from the queue_log.
    answered_by_user: Mapped[int | None] = mapped_column(BigId, index=True)
    # From 0015: "inbound" (a queue call) or "outbound" (a callback attempt, written by the
    # work-items room: its outcome is the attempt's, its queue the callback item's).
    direction: Mapped[str] = mapped_column(String(8), default="inbound", server_default="inbound")


class CallWrapup(Base):
    """What the agent noted after a call: one per call record (a resubmission replaces it)."""

    __tablename__ = "call_wrapups"
    __table_args__ = (UniqueConstraint("call_id", name="uq_call_wrapups_call_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    call_id: Mapped[int] = mapped_column(BigId, ForeignKey("call_records.id", ondelete="CASCADE"))
    disposition: Mapped[str] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(20))
    notes: Mapped[str] = mapped_column(Text)
    follow_up_due: Mapped[date | None] = mapped_column(Date, index=True)
    agent_interface: Mapped[str | None] = mapped_column(String(120))
    username: Mapped[str | None] = mapped_column(String(80))
    # Indexed: each replica reads the wrap-ups submitted since its last refresh.
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class OpenCall(Base):
    """One queue call (one join) that has no call record yet."""

    __tablename__ = "open_calls"
    __table_args__ = (
        UniqueConstraint(
            "pbx", "uniqueid", "joined_at", name="uq_open_calls_pbx_uniqueid_joined_at"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pbx: Mapped[str] = mapped_column(String(32))
    uniqueid: Mapped[str] = mapped_column(String(64))
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime)
    queue: Mapped[str] = mapped_column(String(80))
    linkedid: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(120))
    caller_number: Mapped[str | None] = mapped_column(String(40))
    caller_name: Mapped[str | None] = mapped_column(String(120))
    position_at_join: Mapped[int | None]
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    answered_by: Mapped[str | None] = mapped_column(String(120))
    answered_by_name: Mapped[str | None] = mapped_column(String(120))
    answered_by_user: Mapped[int | None] = mapped_column(BigId)
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    agents_rung: Mapped[list[str]] = mapped_column(JSON, default=list)
    ivr_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
