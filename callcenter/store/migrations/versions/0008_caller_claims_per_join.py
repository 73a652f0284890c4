"""Supervisor caller claims keyed by the caller's join, so a caller who returns is new.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.store.types import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLE = "supervisor_caller_actions"


def upgrade() -> None:
    # Batch mode: SQLite cannot alter constraints or nullability in place (it copies).
    with op.batch_alter_table(TABLE) as batch:
        batch.add_column(sa.Column("joined_at", UtcDateTime, nullable=True))
    # Claims made before this migration: the claim time stands in for the join time (after
    # the join, so no later join of that caller can collide with it).
    op.execute(sa.text(f"UPDATE {TABLE} SET joined_at = at"))
    with op.batch_alter_table(TABLE) as batch:
        batch.alter_column("joined_at", existing_type=UtcDateTime, nullable=False)
        batch.drop_constraint("uq_supervisor_caller_actions_key", type_="unique")
        batch.create_unique_constraint(
            "uq_supervisor_caller_actions_join", ["pbx", "uniqueid", "queue", "joined_at"]
        )


def downgrade() -> None:
    # Several claims of one caller in one queue cannot share the old key: keep the first.
    op.execute(
        sa.text(
            f"DELETE FROM {TABLE} WHERE id NOT IN (SELECT MIN(id) FROM {TABLE} "
            "GROUP BY pbx, uniqueid, queue)"
        )
    )
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_constraint("uq_supervisor_caller_actions_join", type_="unique")
        batch.create_unique_constraint(
            "uq_supervisor_caller_actions_key", ["pbx", "uniqueid", "queue"]
        )
        batch.drop_column("joined_at")
