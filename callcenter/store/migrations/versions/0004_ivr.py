"""IVR: callback requests and tasks, survey results.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.store.types import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "callback_requests",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("pbx", sa.String(32), nullable=False),
        sa.Column("uniqueid", sa.String(64), nullable=False),
        sa.Column("linkedid", sa.String(64)),
        sa.Column("queue", sa.String(80), nullable=False),
        sa.Column("caller_number", sa.String(40), nullable=False),
        sa.Column("account", sa.String(64)),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("requested_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("pbx", "uniqueid", name="uq_callback_requests_call"),
    )
    op.create_table(
        "callback_tasks",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "request_id",
            BigId,
            sa.ForeignKey("callback_requests.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("pbx", sa.String(32), nullable=False),
        sa.Column("queue", sa.String(80), nullable=False),
        sa.Column("number", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("due_at", UtcDateTime, nullable=False),
        sa.Column("assigned_to", sa.String(120)),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("closed_at", UtcDateTime),
        sa.UniqueConstraint("request_id"),
    )
    op.create_index("ix_callback_tasks_queue", "callback_tasks", ["queue"])
    op.create_index("ix_callback_tasks_status", "callback_tasks", ["status"])
    op.create_index("ix_callback_tasks_due_at", "callback_tasks", ["due_at"])
    op.create_table(
        "survey_results",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("pbx", sa.String(32), nullable=False),
        sa.Column("uniqueid", sa.String(64), nullable=False),
        sa.Column("linkedid", sa.String(64)),
        sa.Column("queue", sa.String(80)),
        sa.Column("agent_interface", sa.String(120)),
        sa.Column("agent_name", sa.String(120)),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("answered_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("pbx", "uniqueid", name="uq_survey_results_call"),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name="ck_survey_results_score"),
    )
    op.create_index("ix_survey_results_agent_interface", "survey_results", ["agent_interface"])
    op.create_index("ix_survey_results_answered_at", "survey_results", ["answered_at"])


def downgrade() -> None:
    op.drop_table("survey_results")
    op.drop_table("callback_tasks")
    op.drop_table("callback_requests")
