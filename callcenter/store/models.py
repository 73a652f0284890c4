"""Tables. Every schema change goes through a migration in ``migrations/versions``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from callcenter.store.types import UtcDateTime

# SQLite only auto-increments an INTEGER PRIMARY KEY, PostgreSQL wants BIGINT for growth.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class CallRecord(Base):
    """One queue call, keyed by the PBX and the caller channel's Uniqueid (queue_log callid)."""

    __tablename__ = "call_records"
    __table_args__ = (UniqueConstraint("pbx", "uniqueid", name="uq_call_records_pbx_uniqueid"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pbx: Mapped[str] = mapped_column(String(32))
    uniqueid: Mapped[str] = mapped_column(String(64))
    linkedid: Mapped[str | None] = mapped_column(String(64))
    queue: Mapped[str] = mapped_column(String(80), index=True)
    caller_number: Mapped[str | None] = mapped_column(String(40))
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
