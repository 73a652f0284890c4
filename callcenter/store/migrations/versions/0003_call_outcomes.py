"""Call outcomes: one record per queue *join*, the rest of the live record, and wrap-ups.

The key becomes (pbx, uniqueid, joined_at): one caller channel may join several queues in turn
(a timeout, then an overflow queue) and each join is its own record. joined_at comes from
Asterisk's own event Timestamp, so every writer (a restarted process, a second replica) derives
the same key for the same join and the insert stays idempotent.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.store.types import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.drop_constraint("uq_call_records_pbx_uniqueid", type_="unique")
        batch.create_unique_constraint(
            "uq_call_records_pbx_uniqueid_joined_at", ["pbx", "uniqueid", "joined_at"]
        )
        batch.add_column(sa.Column("channel", sa.String(120)))
        batch.add_column(sa.Column("left_at", UtcDateTime))
        batch.add_column(sa.Column("completed_by", sa.String(16)))
        batch.add_column(sa.Column("evidence", sa.String(32)))
        batch.add_column(sa.Column("queue_status", sa.String(32)))
        batch.add_column(
            sa.Column("short_abandon", sa.Boolean, nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("wrapup_seconds", sa.Integer))
        batch.add_column(sa.Column("overflow_queue", sa.String(80)))
        batch.add_column(sa.Column("customer_id", BigId))
        batch.create_index("ix_call_records_caller_number", ["caller_number"])
        batch.create_index("ix_call_records_customer_id", ["customer_id"])
        batch.create_index("ix_call_records_uniqueid", ["uniqueid"])
    op.create_table(
        "call_wrapups",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "call_id", BigId, sa.ForeignKey("call_records.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("disposition", sa.String(40), nullable=False),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("notes", sa.Text, nullable=False),
        sa.Column("follow_up_due", sa.Date),
        sa.Column("agent_interface", sa.String(120)),
        sa.Column("username", sa.String(80)),
        sa.Column("submitted_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("call_id", name="uq_call_wrapups_call_id"),
    )
    op.create_index("ix_call_wrapups_follow_up_due", "call_wrapups", ["follow_up_due"])


def downgrade() -> None:
    op.drop_table("call_wrapups")
    with op.batch_alter_table("call_records") as batch:
        for index in (
            "ix_call_records_uniqueid",
            "ix_call_records_customer_id",
            "ix_call_records_caller_number",
        ):
            batch.drop_index(index)
        for column in (
            "customer_id",
            "overflow_queue",
            "wrapup_seconds",
            "short_abandon",
            "queue_status",
            "evidence",
            "completed_by",
            "left_at",
            "channel",
        ):
            batch.drop_column(column)
        batch.drop_constraint("uq_call_records_pbx_uniqueid_joined_at", type_="unique")
        batch.create_unique_constraint("uq_call_records_pbx_uniqueid", ["pbx", "uniqueid"])
