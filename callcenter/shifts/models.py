"""The shifts room's table (migration 0019): the rota's shifts.

A deleted shift stays as a tombstone (``deleted_at``): the configuration seeds only names
the table has never held, so a shift supervisors deleted does not come back at the next start.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.base import Base, BigId
from callcenter.store.types import UtcDateTime


class Shift(Base):
    """One shift: local times of day (``HH:MM``; an end not after the start is the next day),
    the weekdays it starts on, and who works it (users and teams, by id)."""

    __tablename__ = "shifts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    label: Mapped[str] = mapped_column(String(80))
    start_time: Mapped[str] = mapped_column(String(5))
    end_time: Mapped[str] = mapped_column(String(5))
    # Weekdays the shift starts on: "mon".."sun".
    days: Mapped[list[str]] = mapped_column(JSON, default=list)
    user_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    team_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
