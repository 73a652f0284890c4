"""The routing room's tables (migrations 0006, 0010): policies, state, episodes, actions, leases.

What must outlive a process (and be shared by replicas) is here: the engine's per-queue state,
the members the engine added (only the engine removes them) and the callers it moved (unique
per pbx + uniqueid: no caller is moved twice, even by two replicas).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.base import Base, BigId
from callcenter.store.types import UtcDateTime


class RoutingPolicy(Base):
    """A queue's policy as edited live (wins over the configuration file's)."""

    __tablename__ = "routing_policies"

    queue: Mapped[str] = mapped_column(String(80), primary_key=True)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[str] = mapped_column(String(80))


class RoutingPolicyChange(Base):
    """Audit of every live policy edit: who, when, before and after."""

    __tablename__ = "routing_policy_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    queue: Mapped[str] = mapped_column(String(80), index=True)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    username: Mapped[str] = mapped_column(String(80))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any]] = mapped_column(JSON)


class RoutingState(Base):
    """The pure engine's state of one queue, so a restart resumes mid-surge."""

    __tablename__ = "routing_state"

    pbx: Mapped[str] = mapped_column(String(32), primary_key=True)
    queue: Mapped[str] = mapped_column(String(80), primary_key=True)
    state: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RoutingEpisode(Base):
    """One excursion from normal: levels, peaks, calls affected; summary once closed."""

    __tablename__ = "routing_episodes"
    __table_args__ = (
        UniqueConstraint("pbx", "queue", "started_at", name="uq_routing_episodes_start"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pbx: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str] = mapped_column(String(80), index=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    levels: Mapped[list[Any]] = mapped_column(JSON)
    peak_callers_waiting: Mapped[int] = mapped_column(Integer)
    peak_longest_wait: Mapped[float] = mapped_column(Float)
    calls_affected: Mapped[int] = mapped_column(Integer)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class RoutingAction(Base):
    """Each decided action with the numbers that triggered it, then the PBX's answer."""

    __tablename__ = "routing_actions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    episode_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("routing_episodes.id", ondelete="SET NULL"), index=True
    )
    pbx: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str] = mapped_column(String(80), index=True)
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    kind: Mapped[str] = mapped_column(String(20))
    level: Mapped[str] = mapped_column(String(10))
    target: Mapped[str | None] = mapped_column(String(160))
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(String(400))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The lease epoch it was decided (or, once taken over, adopted) under: only the replica
    # holding the queue's lease with this epoch may send it (fencing; null before 0010).
    epoch: Mapped[int | None] = mapped_column(Integer)
    # pending (decided, not yet run) | sending (fenced, on its way to the PBX) | ok | error |
    # unknown | skipped
    status: Mapped[str] = mapped_column(String(10), index=True)
    message: Mapped[str | None] = mapped_column(String(400))
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class RoutingMember(Base):
    """A queue member the engine added: only the engine removes it, on release."""

    __tablename__ = "routing_members"

    pbx: Mapped[str] = mapped_column(String(32), primary_key=True)
    queue: Mapped[str] = mapped_column(String(80), primary_key=True)
    interface: Mapped[str] = mapped_column(String(120), primary_key=True)
    penalty: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(UtcDateTime)
    action_id: Mapped[int | None] = mapped_column(BigId)


class RoutingMovedCaller(Base):
    """A caller the engine moved (or offered a callback): the claim that stops a second move.

    Also the overflow link for the call records: the caller's leg in ``from_queue`` ended as
    overflowed and continues (same pbx + uniqueid) in ``to_queue``.
    """

    __tablename__ = "routing_moved_callers"
    __table_args__ = (UniqueConstraint("pbx", "uniqueid", name="uq_routing_moved_callers"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pbx: Mapped[str] = mapped_column(String(32))
    uniqueid: Mapped[str] = mapped_column(String(64))
    from_queue: Mapped[str] = mapped_column(String(80), index=True)
    to_queue: Mapped[str | None] = mapped_column(String(80))
    destination: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime)
    moved_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    waited_seconds: Mapped[float] = mapped_column(Float)
    # pending | ok | error | unknown (a timeout: the PBX may or may not have done it)
    status: Mapped[str] = mapped_column(String(10))
    message: Mapped[str | None] = mapped_column(String(400))
    action_id: Mapped[int | None] = mapped_column(BigId)


class RoutingLease(Base):
    """Which replica evaluates and acts on a queue: one holder per (pbx, queue) at a time.

    ``epoch`` goes up by one at every change of holder and is never reset (a released lease
    is expired, not deleted), so an action row stamped with an old epoch can be refused.
    ``expires_at`` is on the database's clock.
    """

    __tablename__ = "routing_leases"

    pbx: Mapped[str] = mapped_column(String(32), primary_key=True)
    queue: Mapped[str] = mapped_column(String(80), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120))
    epoch: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
