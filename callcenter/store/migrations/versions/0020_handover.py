"""Handover: handover documents, their items, questions and answers, and the ownerless check.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.store.types import UtcDateTime

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
LIVE = "state IN ('pending', 'asked', 'refused')"
FOLLOWED = "returned_at IS NULL AND cleared_at IS NULL"
TAGS_INDEX = "ix_customers_tags_jsonb"


def _item_fk() -> sa.Column[int]:
    return sa.Column(
        "item_id",
        BigId,
        sa.ForeignKey("work_items.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )


def upgrade() -> None:
    op.create_table(
        "handovers",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(16), nullable=True),
        sa.Column("giver_id", BigId, nullable=False, index=True),
        sa.Column("successor_id", BigId, nullable=True, index=True),
        sa.Column("team_id", BigId, nullable=True, index=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("work_done", sa.Text, nullable=False),
        sa.Column("results", sa.Text, nullable=False),
        sa.Column("problems", sa.Text, nullable=False),
        sa.Column("shift", sa.String(80), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("submitted_at", UtcDateTime, nullable=False),
        sa.Column("done_at", UtcDateTime, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_handovers_state_submitted", "handovers", ["state", "submitted_at"])
    op.create_index("ix_handovers_submitted_at", "handovers", ["submitted_at"])
    op.create_index("ix_handovers_done_at", "handovers", ["done_at"])
    op.create_table(
        "handover_items",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "handover_id",
            BigId,
            sa.ForeignKey("handovers.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        _item_fk(),
        sa.Column("ticket", sa.String(12), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("promised", sa.Boolean, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decided_at", UtcDateTime, nullable=True, index=True),
        sa.Column("decided_by", BigId, nullable=True, index=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("to_user", BigId, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.UniqueConstraint("handover_id", "item_id", name="uq_handover_items_item"),
    )
    op.create_index(
        "uq_handover_items_live",
        "handover_items",
        ["item_id"],
        unique=True,
        postgresql_where=sa.text(LIVE),
        sqlite_where=sa.text(LIVE),
    )
    op.create_table(
        "handover_messages",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "handover_item_id",
            BigId,
            sa.ForeignKey("handover_items.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("author_id", BigId, nullable=True),
        sa.Column("author_name", sa.String(120), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_table(
        "handover_ownerless",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _item_fk(),
        sa.Column("owner_id", BigId, nullable=False),
        sa.Column("team_id", BigId, nullable=True),
        sa.Column("why", sa.String(24), nullable=False),
        sa.Column("first_seen_at", UtcDateTime, nullable=False),
        sa.Column("since_at", UtcDateTime, nullable=False),
        sa.Column("handover_id", BigId, nullable=True),
        sa.Column("told_at", UtcDateTime, nullable=True),
        sa.Column("returned_at", UtcDateTime, nullable=True),
        sa.Column("cleared_at", UtcDateTime, nullable=True),
    )
    op.create_index(
        "uq_handover_ownerless_followed",
        "handover_ownerless",
        ["item_id"],
        unique=True,
        postgresql_where=sa.text(FOLLOWED),
        sqlite_where=sa.text(FOLLOWED),
    )
    if op.get_bind().dialect.name == "postgresql":
        # A handover draft's key contacts include the customers tagged as the agent's own:
        # a JSONB containment query (tags @> '["agent:wang"]') through this index, instead
        # of a scan of every customer's tags as text. SQLite sites look only at the
        # customers of the agent's recent calls and open items (desk.key_contacts).
        op.execute(
            f"CREATE INDEX {TAGS_INDEX} ON customers USING gin ((tags::jsonb) jsonb_path_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {TAGS_INDEX}")
    op.drop_index("uq_handover_ownerless_followed", table_name="handover_ownerless")
    op.drop_table("handover_ownerless")
    op.drop_table("handover_messages")
    op.drop_index("uq_handover_items_live", table_name="handover_items")
    op.drop_table("handover_items")
    op.drop_index("ix_handovers_done_at", table_name="handovers")
    op.drop_index("ix_handovers_submitted_at", table_name="handovers")
    op.drop_index("ix_handovers_state_submitted", table_name="handovers")
    op.drop_table("handovers")
