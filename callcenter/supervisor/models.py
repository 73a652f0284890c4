"""Tables of the supervisor room (migration 0005); imported by ``callcenter.store.registry``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.base import Base, BigId
from callcenter.store.types import UtcDateTime


class DesiredMember(Base):
    """What supervisors set for one queue member; re-applied after a PBX restart.

    NULL means "no opinion": a pause set on a static member does not make the service
    re-add that member if someone later removes it from queues.conf.
    """

    __tablename__ = "supervisor_desired_members"
    __table_args__ = (
        UniqueConstraint("pbx", "queue", "interface", name="uq_supervisor_desired_members_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pbx: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str] = mapped_column(String(80))
    interface: Mapped[str] = mapped_column(String(120))
    present: Mapped[bool | None] = mapped_column(Boolean)
    member_name: Mapped[str | None] = mapped_column(String(120))
    state_interface: Mapped[str | None] = mapped_column(String(120))
    penalty: Mapped[int | None] = mapped_column(Integer)
    paused: Mapped[bool | None] = mapped_column(Boolean)
    paused_reason: Mapped[str | None] = mapped_column(String(120))
    ringinuse: Mapped[bool | None] = mapped_column(Boolean)
    set_by: Mapped[str] = mapped_column(String(80))
    set_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CallerAction(Base):
    """A one-shot action on a waiting caller (move, withdraw), claimed before it is sent.

    The unique key (one join of one caller to one queue: ``joined_at`` is the PBX's
    timestamp of QueueCallerJoin, the same on every replica) is what stops a second click,
    or a second replica, from acting twice, while a caller who returns to the queue later
    is a new caller (migration 0008).
    """

    __tablename__ = "supervisor_caller_actions"
    __table_args__ = (
        UniqueConstraint(
            "pbx", "uniqueid", "queue", "joined_at", name="uq_supervisor_caller_actions_join"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pbx: Mapped[str] = mapped_column(String(32))
    uniqueid: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str] = mapped_column(String(80))
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime)
    action: Mapped[str] = mapped_column(String(16))
    destination: Mapped[str] = mapped_column(String(200), default="")
    username: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
