"""The worklog room's tables (migration 0021): each agent's daily log and the supervisors'
comments on it.

A log row exists once the agent saved it; before that the page shows a draft computed from
the day's records. The figures are frozen into the row when the agent submits (what the
supervisor signs off is what the agent saw); the narrative entries (problems, suggestions,
notes) are a JSON list on the row, read whole with the log.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.records.models import CallRecord
from callcenter.store.base import Base, BigId
from callcenter.store.types import UtcDateTime
from callcenter.work.models import CallbackAttemptRow


class WorklogRow(Base):
    __tablename__ = "worklogs"
    __table_args__ = (
        # One log per agent per centre day: two saves of a new log at once, one wins.
        UniqueConstraint("user_id", "day", name="uq_worklogs_user_day"),
        # The review list and the roll-up read a period's logs.
        Index("ix_worklogs_day_state", "day", "state"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    # The centre's local day the log is of (a night shift's log is the day it started).
    day: Mapped[date] = mapped_column(Date)
    # The span of time the log covers (its shifts that day, or local midnight to midnight).
    covers_start: Mapped[datetime] = mapped_column(UtcDateTime)
    covers_end: Mapped[datetime] = mapped_column(UtcDateTime)
    # draft, submitted, returned, signed
    state: Mapped[str] = mapped_column(String(12))
    # Optimistic concurrency: every change names the version it saw.
    version: Mapped[int] = mapped_column(Integer, default=1)
    summary: Mapped[str] = mapped_column(Text, default="")
    # [{"kind": "problem"|"suggestion"|"note", "category": code, "text": ...}]
    entries: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # The day's figures as they were at the (last) submission; NULL before.
    figures: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The first submission decides on_time (a resubmission after a return keeps it).
    first_submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    signed_by: Mapped[int | None] = mapped_column(BigId)
    signed_by_name: Mapped[str | None] = mapped_column(String(120))
    signed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    returned_by: Mapped[int | None] = mapped_column(BigId)
    returned_by_name: Mapped[str | None] = mapped_column(String(120))
    returned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    return_comment: Mapped[str | None] = mapped_column(Text)


class WorklogCommentRow(Base):
    """A supervisor's comment on a log, and the sign-offs and returns (never changed)."""

    __tablename__ = "worklog_comments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    log_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("worklogs.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    author_id: Mapped[int | None] = mapped_column(BigId)
    author_name: Mapped[str] = mapped_column(String(120))
    # comment, signed, returned
    kind: Mapped[str] = mapped_column(String(12))
    text: Mapped[str] = mapped_column(Text, default="")


# Indexes the work log needs on other rooms' tables (migration 0021 creates them): a log's
# figures and the completion read one user's calls and callback attempts of a span, and
# without them those reads grow with the whole history. Declared here, on those tables, so
# the schema check (tests/test_store.py) finds the models and the migrations alike.
Index(
    "ix_call_records_user_answered",
    CallRecord.__table__.c.answered_by_user,
    CallRecord.__table__.c.answered_at,
)
Index(
    "ix_callback_attempts_agent_started",
    CallbackAttemptRow.__table__.c.agent_id,
    CallbackAttemptRow.__table__.c.started_at,
)
