"""The transfers room's tables (migration 0017): the transfer directory, every transfer an
agent started, and the legs of the calls the room took part in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.base import Base, BigId
from callcenter.store.types import UtcDateTime

ACTIVE_SQL = "state IN ('requested', 'ringing', 'consulting', 'conference', 'holding')"


class TransferTarget(Base):
    """A team or department calls are passed to: a queue, a list of phones or an outside
    number through a trunk context; with its tier in seed 003's pyramid."""

    __tablename__ = "transfer_targets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    label_zh: Mapped[str] = mapped_column(String(80))
    label_en: Mapped[str] = mapped_column(String(80))
    tier: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(12))
    pbx: Mapped[str | None] = mapped_column(String(32))
    queue: Mapped[str | None] = mapped_column(String(80))
    interfaces: Mapped[list[str]] = mapped_column(JSON, default=list)
    number: Mapped[str | None] = mapped_column(String(24))
    trunk_context: Mapped[str | None] = mapped_column(String(80))
    escalation: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Transfer(Base):
    """One transfer, consultation, escalation, conference or hold an agent started on a
    call, and how it ended."""

    __tablename__ = "transfers"
    __table_args__ = (
        # One transfer, consultation, conference or hold under way per call, whatever
        # replica or double click asks for a second one.
        Index(
            "uq_transfers_one_active_per_call",
            "pbx",
            "caller_uniqueid",
            unique=True,
            postgresql_where=text(ACTIVE_SQL),
            sqlite_where=text(ACTIVE_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pbx: Mapped[str] = mapped_column(String(32))
    # The call's identity across legs, and the caller's channel (queue_log callid).
    linkedid: Mapped[str] = mapped_column(String(64), index=True)
    caller_uniqueid: Mapped[str] = mapped_column(String(64), index=True)
    caller_num: Mapped[str | None] = mapped_column(String(40))
    caller_channel: Mapped[str | None] = mapped_column(String(120))
    queue: Mapped[str | None] = mapped_column(String(80))
    # blind | warm | conference | hold
    mode: Mapped[str] = mapped_column(String(12))
    escalation: Mapped[bool] = mapped_column(Boolean, default=False)
    from_user: Mapped[int | None] = mapped_column(BigId, index=True)
    from_username: Mapped[str] = mapped_column(String(80))
    from_interface: Mapped[str] = mapped_column(String(120))
    # agent | supervisor | target | queue | hold
    target_kind: Mapped[str] = mapped_column(String(12))
    # The user id, the directory slug or the queue name.
    target_ref: Mapped[str] = mapped_column(String(80), index=True)
    target_label: Mapped[str] = mapped_column(String(120))
    target_user: Mapped[int | None] = mapped_column(BigId)
    # What the PBX was given: a queue name or a Dial() string.
    target_dial: Mapped[str] = mapped_column(String(400))
    note: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(String(200), default="")
    # flow.py: requested, ringing, consulting, queued, connected, done, cancelled, failed
    state: Mapped[str] = mapped_column(String(12), index=True)
    # How it ended (flow.py's outcomes): completed, cancelled, busy, no-answer, ...
    result: Mapped[str | None] = mapped_column(String(24))
    detail: Mapped[str | None] = mapped_column(String(300))
    answered_by: Mapped[str | None] = mapped_column(String(120))
    # The target's channel once it answered (a conference's third party is hung up by it).
    answered_channel: Mapped[str | None] = mapped_column(String(120))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CallLeg(Base):
    """One agent's part of a call the transfers room took part in: from the answer to the
    end of their part, its hold time and how it ended."""

    __tablename__ = "call_legs"
    __table_args__ = (
        UniqueConstraint(
            "pbx", "linkedid", "agent_interface", "started_at", name="uq_call_legs_leg"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pbx: Mapped[str] = mapped_column(String(32))
    linkedid: Mapped[str] = mapped_column(String(64), index=True)
    caller_uniqueid: Mapped[str] = mapped_column(String(64))
    agent_interface: Mapped[str] = mapped_column(String(120))
    agent_user: Mapped[int | None] = mapped_column(BigId, index=True)
    queue: Mapped[str | None] = mapped_column(String(80))
    # The transfer that brought the call to this agent (None: the queue did).
    via_transfer: Mapped[int | None] = mapped_column(BigId)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    hold_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    # completed | transferred-blind | transferred-attended | returned | conference
    ended_how: Mapped[str | None] = mapped_column(String(24))
