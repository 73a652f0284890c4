"""The IVR's tables (migration 0004): callback requests and tasks, survey results.

Business hours and holidays live in the configuration (read on every call), not here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.base import Base, BigId
from callcenter.store.types import UtcDateTime


class CallbackRequest(Base):
    """A caller asked to be called back instead of waiting: one per caller channel."""

    __tablename__ = "callback_requests"
    # A retried AGI (or a second replica) must not store the same request twice.
    __table_args__ = (UniqueConstraint("pbx", "uniqueid", name="uq_callback_requests_call"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pbx: Mapped[str] = mapped_column(String(32))
    uniqueid: Mapped[str] = mapped_column(String(64))
    linkedid: Mapped[str | None] = mapped_column(String(64))
    queue: Mapped[str] = mapped_column(String(80))
    caller_number: Mapped[str] = mapped_column(String(40))
    account: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CallbackTask(Base):
    """Work for an agent: call the customer back (status open -> done/cancelled)."""

    __tablename__ = "callback_tasks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("callback_requests.id", ondelete="CASCADE"), unique=True
    )
    pbx: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str] = mapped_column(String(80), index=True)
    number: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), index=True)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    assigned_to: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SurveyResult(Base):
    """The caller's 1-5 score after the agent hung up, tied to the call and that agent."""

    __tablename__ = "survey_results"
    __table_args__ = (
        UniqueConstraint("pbx", "uniqueid", name="uq_survey_results_call"),
        CheckConstraint("score BETWEEN 1 AND 5", name="ck_survey_results_score"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pbx: Mapped[str] = mapped_column(String(32))
    # The caller channel's Uniqueid: the call record's key and queue_log's callid.
    uniqueid: Mapped[str] = mapped_column(String(64))
    linkedid: Mapped[str | None] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(80))
    agent_interface: Mapped[str | None] = mapped_column(String(120), index=True)
    agent_name: Mapped[str | None] = mapped_column(String(120))
    score: Mapped[int] = mapped_column(Integer)
    answered_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
