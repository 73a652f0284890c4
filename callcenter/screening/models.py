"""Tables of the screening room (migration 0016); imported by ``callcenter.store.registry``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.base import Base, BigId
from callcenter.store.types import UtcDateTime


class BlockedNumber(Base):
    """A caller number that is not put through (stored as the IVR compares it: digits, an
    optional leading +)."""

    __tablename__ = "screening_blocked_numbers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    reason: Mapped[str] = mapped_column(String(200))
    added_by: Mapped[str] = mapped_column(String(80))
    added_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ScreeningEvent(Base):
    """One use of screening: a blocked or withheld caller turned away or sent aside, or an
    agent's abusive-caller button."""

    __tablename__ = "screening_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    pbx: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16), index=True)
    number: Mapped[str | None] = mapped_column(String(40))
    linkedid: Mapped[str | None] = mapped_column(String(64))
    interface: Mapped[str | None] = mapped_column(String(120))
    username: Mapped[str | None] = mapped_column(String(80))
    detail: Mapped[str] = mapped_column(String(200))
