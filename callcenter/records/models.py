"""The records room's own table (migration 0007): the queue calls still open.

A call is written here when it joins (and again when it is answered) and removed in the same
transaction that stores its record, so after a crash the next process knows every call that was
in progress and can close it even if it ended while no process was listening.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.models import Base, BigId
from callcenter.store.types import UtcDateTime


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
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    agents_rung: Mapped[list[str]] = mapped_column(JSON, default=list)
    ivr_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
