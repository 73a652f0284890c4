"""Supervisor console: desired member state, audit log, one-shot caller actions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.store.types import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "supervisor_desired_members",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("pbx", sa.String(32), nullable=False),
        sa.Column("queue", sa.String(80), nullable=False),
        sa.Column("interface", sa.String(120), nullable=False),
        sa.Column("present", sa.Boolean),
        sa.Column("member_name", sa.String(120)),
        sa.Column("state_interface", sa.String(120)),
        sa.Column("penalty", sa.Integer),
        sa.Column("paused", sa.Boolean),
        sa.Column("paused_reason", sa.String(120)),
        sa.Column("ringinuse", sa.Boolean),
        sa.Column("set_by", sa.String(80), nullable=False),
        sa.Column("set_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("pbx", "queue", "interface", name="uq_supervisor_desired_members_key"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("username", sa.String(80), nullable=False),
        sa.Column("user_id", sa.Integer),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("pbx", sa.String(32), nullable=False),
        sa.Column("queue", sa.String(80)),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("message", sa.String(500), nullable=False),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_username", "audit_log", ["username"])
    op.create_index("ix_audit_log_action", "audit_log", ["action"])
    op.create_index("ix_audit_log_queue", "audit_log", ["queue"])
    op.create_table(
        "supervisor_caller_actions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("pbx", sa.String(32), nullable=False),
        sa.Column("uniqueid", sa.String(64), nullable=False),
        sa.Column("queue", sa.String(80), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("destination", sa.String(200), nullable=False),
        sa.Column("username", sa.String(80), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("pbx", "uniqueid", "queue", name="uq_supervisor_caller_actions_key"),
    )


def downgrade() -> None:
    op.drop_table("supervisor_caller_actions")
    op.drop_table("audit_log")
    op.drop_table("supervisor_desired_members")
