"""Routing leases: one replica per queue evaluates and acts; action rows carry the epoch.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.store.types import UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "routing_leases",
        sa.Column("pbx", sa.String(32), primary_key=True),
        sa.Column("queue", sa.String(80), primary_key=True),
        sa.Column("holder", sa.String(120), nullable=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
    )
    with op.batch_alter_table("routing_actions") as batch:
        batch.add_column(sa.Column("epoch", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("routing_actions") as batch:
        batch.drop_column("epoch")
    op.drop_table("routing_leases")
