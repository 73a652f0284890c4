"""Tables of the agents room (migration 0013); imported by ``callcenter.store.registry``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.clock import utc_now
from callcenter.store.base import Base, BigId
from callcenter.store.types import UtcDateTime


class TeamRow(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    label_zh: Mapped[str] = mapped_column(String(120), default="")
    label_en: Mapped[str] = mapped_column(String(120), default="")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TeamQueueRow(Base):
    """A queue the team serves (by queue name, on every PBX that has it)."""

    __tablename__ = "team_queues"

    team_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    queue: Mapped[str] = mapped_column(String(80), primary_key=True)


class TeamMemberRow(Base):
    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    leader: Mapped[bool] = mapped_column(Boolean, default=False)


class AgentProfileRow(Base):
    """What the phone needs to know of an agent: the number keyed at the feature code and
    the hash of the PIN that goes with it."""

    __tablename__ = "agent_profiles"

    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    agent_number: Mapped[str | None] = mapped_column(String(16), unique=True)
    pin_hash: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SkillRow(Base):
    """One skill of an agent: a queue (``queue:<name>``) or a language (``lang:zh``), with a
    level 1 (backup) .. 5 (expert)."""

    __tablename__ = "agent_skills"

    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    skill: Mapped[str] = mapped_column(String(90), primary_key=True)
    level: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class NotReadyCodeRow(Base):
    """An admin-defined reason for not taking calls (lunch, training, coaching...)."""

    __tablename__ = "not_ready_codes"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    label_zh: Mapped[str] = mapped_column(String(80))
    label_en: Mapped[str] = mapped_column(String(80))
    paid: Mapped[bool] = mapped_column(Boolean, default=True)
    # Longer than this in the code alerts the agent and their team leader (None: no limit).
    limit_seconds: Mapped[int | None] = mapped_column(Integer)
    # At most this many agents in the code at once (None: any number).
    max_agents: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AgentStatusRow(Base):
    """Where an agent is signed in and their state now: one row per agent who ever signed
    in. The unique key on (pbx, interface) is what refuses two agents on one phone, on
    every replica; the primary key, one agent on two phones."""

    __tablename__ = "agent_status"
    __table_args__ = (UniqueConstraint("pbx", "interface", name="uq_agent_status_phone"),)

    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # NULL while signed out (NULLs never collide in a unique key).
    pbx: Mapped[str | None] = mapped_column(String(32))
    interface: Mapped[str | None] = mapped_column(String(120))
    # How they signed in: "console" (ends with their web session) or "phone".
    via: Mapped[str] = mapped_column(String(16), default="console")
    signed_in_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(32), default="")
    reason: Mapped[str] = mapped_column(String(120), default="")
    since: Mapped[datetime] = mapped_column(UtcDateTime)
    # The not-ready code the agent chose (their wish, restored after a PBX restart).
    wanted_code: Mapped[str] = mapped_column(String(32), default="")
    # Set once the state went over its code's limit and the alert went out (one replica).
    alerted: Mapped[bool] = mapped_column(Boolean, default=False)
    # Every write sets it: replicas re-read only the rows changed since their last look.
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime, default=utc_now, onupdate=utc_now, index=True
    )


class AgentStateRow(Base):
    """The history of every agent's state: start, end (NULL: now), code."""

    __tablename__ = "agent_states"
    __table_args__ = (
        Index("ix_agent_states_user_started", "user_id", "started_at"),
        Index("ix_agent_states_started", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(32), default="")
    reason: Mapped[str] = mapped_column(String(120), default="")
    paid: Mapped[bool] = mapped_column(Boolean, default=True)
    pbx: Mapped[str] = mapped_column(String(32), default="")
    interface: Mapped[str] = mapped_column(String(120), default="")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
