"""The audit log's table: supervisors' actions on the PBX and the security-relevant acts of
every user (logins, customer views and edits, exports)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.base import Base, BigId
from callcenter.store.types import UtcDateTime


class AuditEntry(Base):
    """One act, with the PBX's or the service's answer."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(40), index=True)
    pbx: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str | None] = mapped_column(String(80), index=True)
    target: Mapped[str] = mapped_column(String(200))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ok: Mapped[bool] = mapped_column(Boolean)
    message: Mapped[str] = mapped_column(String(500), default="")
    # The client's address (behind trusted proxies: the one they name), from 0012.
    address: Mapped[str | None] = mapped_column(String(64))
