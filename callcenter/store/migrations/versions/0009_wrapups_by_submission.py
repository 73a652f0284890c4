"""Wrap-ups indexed by submission time: the screen-pop refresh reads those since its last look.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_call_wrapups_submitted_at", "call_wrapups", ["submitted_at"])


def downgrade() -> None:
    op.drop_index("ix_call_wrapups_submitted_at", table_name="call_wrapups")
