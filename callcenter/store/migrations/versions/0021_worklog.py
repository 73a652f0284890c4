"""Work log: each agent's daily log (its narrative entries and frozen figures) and the
supervisors' comments, sign-offs and returns.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.store.types import UtcDateTime

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "worklogs",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("covers_start", UtcDateTime, nullable=False),
        sa.Column("covers_end", UtcDateTime, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("entries", sa.JSON, nullable=False),
        sa.Column("figures", sa.JSON, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("first_submitted_at", UtcDateTime, nullable=True),
        sa.Column("submitted_at", UtcDateTime, nullable=True),
        sa.Column("on_time", sa.Boolean, nullable=True),
        sa.Column("signed_by", BigId, nullable=True),
        sa.Column("signed_by_name", sa.String(120), nullable=True),
        sa.Column("signed_at", UtcDateTime, nullable=True),
        sa.Column("returned_by", BigId, nullable=True),
        sa.Column("returned_by_name", sa.String(120), nullable=True),
        sa.Column("returned_at", UtcDateTime, nullable=True),
        sa.Column("return_comment", sa.Text, nullable=True),
        sa.UniqueConstraint("user_id", "day", name="uq_worklogs_user_day"),
    )
    op.create_index("ix_worklogs_day_state", "worklogs", ["day", "state"])
    op.create_table(
        "worklog_comments",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "log_id", BigId, sa.ForeignKey("worklogs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("author_id", BigId, nullable=True),
        sa.Column("author_name", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_index("ix_worklog_comments_log_id", "worklog_comments", ["log_id"])
    # A log's figures and the completion read one user's calls and callback attempts of a
    # span: without these the reads grow with the history (declared in worklog/models.py).
    op.create_index(
        "ix_call_records_user_answered", "call_records", ["answered_by_user", "answered_at"]
    )
    op.create_index(
        "ix_callback_attempts_agent_started", "callback_attempts", ["agent_id", "started_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_callback_attempts_agent_started", table_name="callback_attempts")
    op.drop_index("ix_call_records_user_answered", table_name="call_records")
    op.drop_index("ix_worklog_comments_log_id", table_name="worklog_comments")
    op.drop_table("worklog_comments")
    op.drop_index("ix_worklogs_day_state", table_name="worklogs")
    op.drop_table("worklogs")
