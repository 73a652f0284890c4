"""Shifts: the rota (shifts, their days and times, who works them).

One table: a shift's local times (``HH:MM``), the weekdays it starts on, its users and
teams by id (JSON lists), who changed it last and when, its version (edits name the version
they read) and ``deleted_at`` (a deleted shift is kept as a tombstone: the configuration
never seeds its name again).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.store.types import UtcDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "shifts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(32), nullable=False, unique=True),
        sa.Column("label", sa.String(80), nullable=False),
        sa.Column("start_time", sa.String(5), nullable=False),
        sa.Column("end_time", sa.String(5), nullable=False),
        sa.Column("days", sa.JSON, nullable=False),
        sa.Column("user_ids", sa.JSON, nullable=False),
        sa.Column("team_ids", sa.JSON, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_by", sa.String(80), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("deleted_at", UtcDateTime, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("shifts")
