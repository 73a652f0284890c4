"""Open calls: the queue calls in progress, so a restarted service can close them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.store.types import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "open_calls",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("pbx", sa.String(32), nullable=False),
        sa.Column("uniqueid", sa.String(64), nullable=False),
        sa.Column("joined_at", UtcDateTime, nullable=False),
        sa.Column("queue", sa.String(80), nullable=False),
        sa.Column("linkedid", sa.String(64)),
        sa.Column("channel", sa.String(120)),
        sa.Column("caller_number", sa.String(40)),
        sa.Column("caller_name", sa.String(120)),
        sa.Column("position_at_join", sa.Integer),
        sa.Column("answered_at", UtcDateTime),
        sa.Column("answered_by", sa.String(120)),
        sa.Column("answered_by_name", sa.String(120)),
        sa.Column("wait_seconds", sa.Float),
        sa.Column("agents_rung", sa.JSON, nullable=False),
        sa.Column("ivr_data", sa.JSON, nullable=False),
        sa.UniqueConstraint(
            "pbx", "uniqueid", "joined_at", name="uq_open_calls_pbx_uniqueid_joined_at"
        ),
    )


def downgrade() -> None:
    op.drop_table("open_calls")
