"""The handover room's tables (migration 0020); imported by ``callcenter.store.registry``.

A handover document (``handovers``) lists work items (``handover_items``), each decided on by
the successor; a question and its answer are lines of the item's thread
(``handover_messages``). ``handover_ownerless`` follows the open items whose owner is off shift
or disabled with nothing handed over, until they are back in a pool or someone has them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, cast
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.customers.models import CustomerRow
from callcenter.store.base import Base, BigId
from callcenter.store.types import UtcDateTime

# The states of a handover item still waiting for someone: the item is in this handover and
# may be in no other one (the partial unique index below).
LIVE_STATES = ("pending", "asked", "refused")
_LIVE = "state IN ('pending', 'asked', 'refused')"


class HandoverRow(Base):
    __tablename__ = "handovers"
    __table_args__ = (
        # The supervisor's "today's handovers" (waiting ones, those submitted that day and
        # those done that day: one index each) and the giver's own list.
        Index("ix_handovers_state_submitted", "state", "submitted_at"),
        Index("ix_handovers_submitted_at", "submitted_at"),
        Index("ix_handovers_done_at", "done_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # end_of_shift, permanent
    kind: Mapped[str] = mapped_column(String(16))
    # A permanent handover's reason: leaving, job_change, absence.
    reason: Mapped[str | None] = mapped_column(String(16))
    giver_id: Mapped[int] = mapped_column(BigId, index=True)
    # NULL: the team's pool (an end-of-shift handover to whoever of the team takes it).
    successor_id: Mapped[int | None] = mapped_column(BigId, index=True)
    team_id: Mapped[int | None] = mapped_column(BigId, index=True)
    # submitted, done, withdrawn
    state: Mapped[str] = mapped_column(String(16))
    work_done: Mapped[str] = mapped_column(Text, default="")
    results: Mapped[str] = mapped_column(Text, default="")
    problems: Mapped[str] = mapped_column(Text, default="")
    # The giver's shift as the rota named it when submitted ("早班 / Early"), if any.
    shift: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Moved on by every change of the document's state (conditional updates).
    version: Mapped[int] = mapped_column(Integer, default=1)


class HandoverItemRow(Base):
    __tablename__ = "handover_items"
    __table_args__ = (
        UniqueConstraint("handover_id", "item_id", name="uq_handover_items_item"),
        # An item waits in at most one handover at a time.
        Index(
            "uq_handover_items_live",
            "item_id",
            unique=True,
            postgresql_where=sql_text(_LIVE),
            sqlite_where=sql_text(_LIVE),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    handover_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("handovers.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("work_items.id", ondelete="CASCADE"), index=True
    )
    # What the document showed when submitted (the item may change afterwards).
    ticket: Mapped[str] = mapped_column(String(12))
    title: Mapped[str] = mapped_column(String(200))
    promised: Mapped[bool] = mapped_column(Boolean, default=False)
    # The giver's words for the successor.
    note: Mapped[str] = mapped_column(Text, default="")
    # pending, asked, accepted, refused, reassigned, withdrawn
    state: Mapped[str] = mapped_column(String(16))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    decided_by: Mapped[int | None] = mapped_column(BigId, index=True)
    # A refusal's reason, or why an item was withdrawn.
    reason: Mapped[str | None] = mapped_column(Text)
    # Who has the item now (accepted: the successor; reassigned: whom the supervisor chose).
    to_user: Mapped[int | None] = mapped_column(BigId)
    version: Mapped[int] = mapped_column(Integer, default=1)


class HandoverMessageRow(Base):
    """A question of the successor or an answer of the giver, on one handover item."""

    __tablename__ = "handover_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    handover_item_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("handover_items.id", ondelete="CASCADE"), index=True
    )
    # question, answer, refusal
    kind: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[int | None] = mapped_column(BigId)
    author_name: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    text: Mapped[str] = mapped_column(Text)


_FOLLOWED = "returned_at IS NULL AND cleared_at IS NULL"


class OwnerlessRow(Base):
    """An open item whose owner is off shift (or disabled) with nothing handed over, or that
    waits in a handover nobody will take."""

    __tablename__ = "handover_ownerless"
    __table_args__ = (
        # One followed row per item: two replicas' checks insert it once.
        Index(
            "uq_handover_ownerless_followed",
            "item_id",
            unique=True,
            postgresql_where=sql_text(_FOLLOWED),
            sqlite_where=sql_text(_FOLLOWED),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("work_items.id", ondelete="CASCADE"), index=True
    )
    owner_id: Mapped[int] = mapped_column(BigId)
    team_id: Mapped[int | None] = mapped_column(BigId)
    # off-shift, disabled, successor-disabled, giver-disabled (rules.Why)
    why: Mapped[str] = mapped_column(String(24))
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Since when nobody works it: the end of the owner's last shift (off-shift), else when
    # first seen. The grace time runs from here.
    since_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The handover it waits in, when stuck there (withdrawn from it on the way to the pool).
    handover_id: Mapped[int | None] = mapped_column(BigId)
    # When the team's leaders were told (once).
    told_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Back in the team's pool after the grace time.
    returned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # No longer ownerless: the owner is back on shift, handed it over, or it moved or closed.
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


# A handover draft's key contacts include the customers tagged as the agent's own: on
# PostgreSQL a JSONB containment query (tags @> '["agent:wang"]') through this index of the
# customers' table (migration 0020), not a scan of every customer's tags as text.
TAGS_INDEX = Index(
    "ix_customers_tags_jsonb",
    cast(CustomerRow.tags, JSONB),
    postgresql_using="gin",
).ddl_if(dialect="postgresql")
