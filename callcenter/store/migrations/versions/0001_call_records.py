"""Call records: one row per queue call.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.store.types import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "call_records",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("pbx", sa.String(32), nullable=False),
        sa.Column("uniqueid", sa.String(64), nullable=False),
        sa.Column("linkedid", sa.String(64)),
        sa.Column("queue", sa.String(80), nullable=False),
        sa.Column("caller_number", sa.String(40)),
        sa.Column("caller_name", sa.String(120)),
        sa.Column("joined_at", UtcDateTime, nullable=False),
        sa.Column("answered_at", UtcDateTime),
        sa.Column("ended_at", UtcDateTime),
        sa.Column("wait_seconds", sa.Float),
        sa.Column("talk_seconds", sa.Float),
        sa.Column("agents_rung", sa.JSON, nullable=False),
        sa.Column("ring_no_answer_count", sa.Integer, nullable=False),
        sa.Column("answered_by", sa.String(120)),
        sa.Column("answered_by_name", sa.String(120)),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("position_at_join", sa.Integer),
        sa.Column("position_at_exit", sa.Integer),
        sa.Column("recording_ref", sa.String(255)),
        sa.Column("ivr_data", sa.JSON, nullable=False),
        sa.UniqueConstraint("pbx", "uniqueid", name="uq_call_records_pbx_uniqueid"),
    )
    op.create_index("ix_call_records_queue", "call_records", ["queue"])
    op.create_index("ix_call_records_joined_at", "call_records", ["joined_at"])
    op.create_index("ix_call_records_answered_by", "call_records", ["answered_by"])
    op.create_index("ix_call_records_outcome", "call_records", ["outcome"])


def downgrade() -> None:
    op.drop_table("call_records")
