"""Tables of the voicemail room (migration 0016); imported by ``callcenter.store.registry``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.base import Base, BigId
from callcenter.store.types import UtcDateTime


class VoicemailMessage(Base):
    """A message a caller left through a queue's voicemail exit, copied from the PBX's
    mailbox (one row per message, whatever replica or retry reads it again)."""

    __tablename__ = "voicemail_messages"
    __table_args__ = (
        UniqueConstraint("pbx", "mailbox", "msg_id", name="uq_voicemail_messages_msg"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pbx: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str] = mapped_column(String(80))
    mailbox: Mapped[str] = mapped_column(String(80))
    msg_id: Mapped[str] = mapped_column(String(64))
    linkedid: Mapped[str | None] = mapped_column(String(64))
    caller: Mapped[str | None] = mapped_column(String(80))
    duration_seconds: Mapped[int] = mapped_column(Integer)
    audio: Mapped[bytes] = mapped_column(LargeBinary)
    work_item_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("work_items.id", ondelete="SET NULL"), index=True
    )
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
