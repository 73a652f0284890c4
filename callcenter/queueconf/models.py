"""Tables of the queue-settings room (migration 0016); imported by ``callcenter.store.registry``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.base import Base, BigId
from callcenter.store.types import UtcDateTime


class QueueSettingsRow(Base):
    """What supervisors set for one managed queue of one PBX (the desired state).

    ``settings`` is the JSON of ``callcenter.queueconf.spec.QueueSpec``; ``version`` grows by
    one with every accepted change (two editors: the second is told). ``applied_version`` is
    the version Asterisk last confirmed, ``apply_error`` Asterisk's words when it did not.
    """

    __tablename__ = "queue_settings"
    __table_args__ = (UniqueConstraint("pbx", "queue", name="uq_queue_settings_pbx_queue"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pbx: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(Integer)
    settings: Mapped[str] = mapped_column(Text)
    set_by: Mapped[str] = mapped_column(String(80))
    set_at: Mapped[datetime] = mapped_column(UtcDateTime)
    applied_version: Mapped[int | None] = mapped_column(Integer)
    applied_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    apply_error: Mapped[str | None] = mapped_column(Text)


class Announcement(Base):
    """A recorded (uploaded) or drafted (espeak-ng) prompt, kept as Asterisk plays it:
    WAV, 8 kHz, mono, 16-bit. Written to each PBX's sounds folder when a queue uses it."""

    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    language: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)
    audio: Mapped[bytes] = mapped_column(LargeBinary)
    duration_ms: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
