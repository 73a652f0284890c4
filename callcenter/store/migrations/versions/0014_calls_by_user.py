"""Calls by user: the user signed in at the answering phone (hot-desking), on each call
record and on each open call (carried to its record after a restart).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # No foreign key: a record outlives the account it names (like `username` on wrap-ups).
    with op.batch_alter_table("call_records") as batch:
        batch.add_column(sa.Column("answered_by_user", BigId, nullable=True))
        batch.create_index("ix_call_records_answered_by_user", ["answered_by_user"])
    with op.batch_alter_table("open_calls") as batch:
        batch.add_column(sa.Column("answered_by_user", BigId, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("open_calls") as batch:
        batch.drop_column("answered_by_user")
    with op.batch_alter_table("call_records") as batch:
        batch.drop_index("ix_call_records_answered_by_user")
        batch.drop_column("answered_by_user")
