"""Agents and teams: teams with their queues and members, agent numbers and PINs, skills,
not-ready codes, where each agent is signed in and the history of their states.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.store.types import UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _user_fk(primary_key: bool = True) -> sa.Column[int]:
    return sa.Column(
        "user_id",
        BigId,
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=primary_key,
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("label_zh", sa.String(120), nullable=False),
        sa.Column("label_en", sa.String(120), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "team_queues",
        sa.Column(
            "team_id",
            BigId,
            sa.ForeignKey("teams.id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
        ),
        sa.Column("queue", sa.String(80), primary_key=True, nullable=False),
    )
    op.create_table(
        "team_members",
        sa.Column(
            "team_id",
            BigId,
            sa.ForeignKey("teams.id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
        ),
        _user_fk(),
        sa.Column("leader", sa.Boolean, nullable=False),
    )
    op.create_index("ix_team_members_user_id", "team_members", ["user_id"])
    op.create_table(
        "agent_profiles",
        _user_fk(),
        sa.Column("agent_number", sa.String(16), nullable=True, unique=True),
        sa.Column("pin_hash", sa.String(255), nullable=True),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "agent_skills",
        _user_fk(),
        sa.Column("skill", sa.String(90), primary_key=True, nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "not_ready_codes",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("label_zh", sa.String(80), nullable=False),
        sa.Column("label_en", sa.String(80), nullable=False),
        sa.Column("paid", sa.Boolean, nullable=False),
        sa.Column("limit_seconds", sa.Integer, nullable=True),
        sa.Column("max_agents", sa.Integer, nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "agent_status",
        _user_fk(),
        sa.Column("pbx", sa.String(32), nullable=True),
        sa.Column("interface", sa.String(120), nullable=True),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("signed_in_at", UtcDateTime, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(120), nullable=False),
        sa.Column("since", UtcDateTime, nullable=False),
        sa.Column("wanted_code", sa.String(32), nullable=False),
        sa.Column("alerted", sa.Boolean, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("pbx", "interface", name="uq_agent_status_phone"),
    )
    op.create_index("ix_agent_status_updated_at", "agent_status", ["updated_at"])
    op.create_table(
        "agent_states",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _user_fk(primary_key=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(120), nullable=False),
        sa.Column("paid", sa.Boolean, nullable=False),
        sa.Column("pbx", sa.String(32), nullable=False),
        sa.Column("interface", sa.String(120), nullable=False),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("ended_at", UtcDateTime, nullable=True),
    )
    op.create_index("ix_agent_states_user_started", "agent_states", ["user_id", "started_at"])
    op.create_index("ix_agent_states_started", "agent_states", ["started_at"])


def downgrade() -> None:
    for table in (
        "agent_states",
        "agent_status",
        "not_ready_codes",
        "agent_skills",
        "agent_profiles",
        "team_members",
        "team_queues",
        "teams",
    ):
        op.drop_table(table)
