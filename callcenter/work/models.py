"""Tables of the work-items room (migration 0015); imported by ``callcenter.store.registry``.

A work item is anything the contact centre owes a customer after a call: a follow-up, a
callback, a complaint, an inquiry. Its timeline (``work_item_events``) is append-only: every
change of the item writes one event in the same transaction, so the item's history and its
audit trail cannot disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.base import Base, BigId
from callcenter.store.types import UtcDateTime


class WorkItemRow(Base):
    __tablename__ = "work_items"
    __table_args__ = (
        # "My work": an owner's open items by deadline.
        Index("ix_work_items_owner_open_due", "owner_id", "is_open", "due_at"),
        # A team's pool and the supervisor's filters by team.
        Index("ix_work_items_team_open_due", "team_id", "is_open", "due_at"),
        # The supervisor's overdue filter and the counts.
        Index("ix_work_items_open_due", "is_open", "due_at"),
        # The escalation sweep: only the open items whose next tier is due.
        Index("ix_work_items_next_escalation", "next_escalation_at"),
        # The "resolved on time" counts read only resolved items.
        Index(
            "ix_work_items_resolved",
            "resolved_at",
            "resolved_on_time",
            postgresql_where=sql_text("resolved_at IS NOT NULL"),
            sqlite_where=sql_text("resolved_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # 工单号: eight digits (seven random, one Luhn check digit) a caller reads out and keys.
    ticket: Mapped[str] = mapped_column(String(12), unique=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(24), index=True)
    # Not "resolved" nor "closed": kept beside status so the open-item indexes stay small.
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    priority: Mapped[str] = mapped_column(String(8), index=True)
    category: Mapped[str] = mapped_column(String(40), index=True)
    title: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[int | None] = mapped_column(BigId, index=True)
    # The number to call back (E.164 or extension digits); the customer's number otherwise.
    phone: Mapped[str | None] = mapped_column(String(40), index=True)
    pbx: Mapped[str | None] = mapped_column(String(32))
    queue: Mapped[str | None] = mapped_column(String(80))
    language: Mapped[str | None] = mapped_column(String(8))
    owner_id: Mapped[int | None] = mapped_column(BigId)
    team_id: Mapped[int | None] = mapped_column(BigId)
    # Where the item came from: agent, ivr, surge, system, satisfaction.
    source: Mapped[str] = mapped_column(String(16))
    # Dedupes a request made twice (an AGI retried, two replicas): "ivr:<pbx>:<uniqueid>".
    source_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    created_by: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Optimistic concurrency: a change names the version it saw; a stale one is refused.
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The promise. "wall": hours as they pass; "working": the business calendar's hours.
    clock: Mapped[str] = mapped_column(String(8))
    first_response_due: Mapped[datetime | None] = mapped_column(UtcDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Start of the promised span (moved on by every pause), its length in the clock's
    # seconds, and the deadline; due_at is NULL while the item waits (the clock stopped).
    clock_start: Mapped[datetime] = mapped_column(UtcDateTime)
    span_seconds: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    remaining_seconds: Mapped[int | None] = mapped_column(Integer)
    # Escalation: the tier reached (0 none), when the next one is due, how many so far.
    escalation_tier: Mapped[int] = mapped_column(Integer, default=0)
    next_escalation_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_on_time: Mapped[bool | None] = mapped_column(Boolean)
    resolution: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    # Every UPDATE checks the version it read: two changes at once, one wins, the other
    # gets StaleDataError (told as 409 stale-item).
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads it)


class WorkItemCallRow(Base):
    """A call of the item (the one it came from, callbacks, later calls about it)."""

    __tablename__ = "work_item_calls"

    item_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("work_items.id", ondelete="CASCADE"), primary_key=True
    )
    call_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("call_records.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # origin, callback, later
    role: Mapped[str] = mapped_column(String(16))
    added_at: Mapped[datetime] = mapped_column(UtcDateTime)


class WorkItemEventRow(Base):
    """One line of the item's timeline: never updated, never deleted."""

    __tablename__ = "work_item_events"
    # The counts of escalations in a period.
    __table_args__ = (Index("ix_work_item_events_kind_at", "kind", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("work_items.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(BigId)
    # The user's name, "system", "ivr" or a department's label (a reply by link).
    actor_name: Mapped[str] = mapped_column(String(120))
    # created, note, status, owner, deadline, escalated, call, link, department, reply,
    # callback
    kind: Mapped[str] = mapped_column(String(24))
    text: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class WorkItemLinkRow(Base):
    """Items that belong together (a complaint and its satisfaction call, duplicates)."""

    __tablename__ = "work_item_links"
    __table_args__ = (UniqueConstraint("item_id", "other_id", name="uq_work_item_links_pair"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("work_items.id", ondelete="CASCADE"), index=True
    )
    other_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("work_items.id", ondelete="CASCADE"), index=True
    )
    # related, duplicate, satisfaction (other_id is the satisfaction call of item_id)
    relation: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[int | None] = mapped_column(BigId)


class CallbackScheduleRow(Base):
    """The dialling state of a callback item: when to try next, who it is offered to, and
    which replica holds it (a lease: one dial per item across replicas)."""

    __tablename__ = "work_callbacks"

    item_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("work_items.id", ondelete="CASCADE"), primary_key=True
    )
    pbx: Mapped[str] = mapped_column(String(32))
    number: Mapped[str] = mapped_column(String(40))
    queue: Mapped[str | None] = mapped_column(String(80))
    # waiting (for its time), offered (to an agent), dialling, done
    state: Mapped[str] = mapped_column(String(16), index=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    offered_to: Mapped[int | None] = mapped_column(BigId)
    offered_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CallbackAttemptRow(Base):
    """One dial of a callback: the agent's leg, then the customer's, and how it ended."""

    __tablename__ = "callback_attempts"
    __table_args__ = (UniqueConstraint("item_id", "attempt", name="uq_callback_attempts_try"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("work_items.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    pbx: Mapped[str] = mapped_column(String(32))
    # The agent leg's Uniqueid, chosen by the service (Originate ChannelId).
    channel_id: Mapped[str] = mapped_column(String(64), unique=True)
    agent_id: Mapped[int | None] = mapped_column(BigId)
    agent_interface: Mapped[str | None] = mapped_column(String(120))
    number: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    agent_answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    customer_answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # reached, not-reached (agent says so), no-answer, busy, failed, agent-missed; NULL
    # while the attempt runs.
    outcome: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    # The call record written for this attempt (direction "outbound").
    call_id: Mapped[int | None] = mapped_column(BigId)


class DepartmentRequestRow(Base):
    """An item sent to a department outside the tool, and the reply link's token (hashed)."""

    __tablename__ = "work_department_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("work_items.id", ondelete="CASCADE"), index=True
    )
    department: Mapped[str] = mapped_column(String(40))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    sent_by: Mapped[int | None] = mapped_column(BigId)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # email, webhook; delivered or the error of the last try
    channel: Mapped[str] = mapped_column(String(16))
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
