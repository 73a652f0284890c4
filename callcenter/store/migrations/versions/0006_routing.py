"""Overflow and surge routing: policies, engine state, episodes, actions, members, moves.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.store.types import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "routing_policies",
        sa.Column("queue", sa.String(80), primary_key=True),
        sa.Column("policy", sa.JSON, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("updated_by", sa.String(80), nullable=False),
    )
    op.create_table(
        "routing_policy_changes",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("queue", sa.String(80), nullable=False),
        sa.Column("changed_at", UtcDateTime, nullable=False),
        sa.Column("username", sa.String(80), nullable=False),
        sa.Column("before", sa.JSON),
        sa.Column("after", sa.JSON, nullable=False),
    )
    op.create_index("ix_routing_policy_changes_queue", "routing_policy_changes", ["queue"])
    op.create_table(
        "routing_state",
        sa.Column("pbx", sa.String(32), primary_key=True),
        sa.Column("queue", sa.String(80), primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "routing_episodes",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("pbx", sa.String(32), nullable=False),
        sa.Column("queue", sa.String(80), nullable=False),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("ended_at", UtcDateTime),
        sa.Column("levels", sa.JSON, nullable=False),
        sa.Column("peak_callers_waiting", sa.Integer, nullable=False),
        sa.Column("peak_longest_wait", sa.Float, nullable=False),
        sa.Column("calls_affected", sa.Integer, nullable=False),
        sa.Column("summary", sa.JSON),
        sa.UniqueConstraint("pbx", "queue", "started_at", name="uq_routing_episodes_start"),
    )
    op.create_index("ix_routing_episodes_queue", "routing_episodes", ["queue"])
    op.create_index("ix_routing_episodes_started_at", "routing_episodes", ["started_at"])
    op.create_table(
        "routing_actions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("episode_id", BigId, sa.ForeignKey("routing_episodes.id", ondelete="SET NULL")),
        sa.Column("pbx", sa.String(32), nullable=False),
        sa.Column("queue", sa.String(80), nullable=False),
        sa.Column("decided_at", UtcDateTime, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("target", sa.String(160)),
        sa.Column("figures", sa.JSON, nullable=False),
        sa.Column("reason", sa.String(400), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("message", sa.String(400)),
        sa.Column("done_at", UtcDateTime),
    )
    op.create_index("ix_routing_actions_episode_id", "routing_actions", ["episode_id"])
    op.create_index("ix_routing_actions_queue", "routing_actions", ["queue"])
    op.create_index("ix_routing_actions_decided_at", "routing_actions", ["decided_at"])
    op.create_index("ix_routing_actions_status", "routing_actions", ["status"])
    op.create_table(
        "routing_members",
        sa.Column("pbx", sa.String(32), primary_key=True),
        sa.Column("queue", sa.String(80), primary_key=True),
        sa.Column("interface", sa.String(120), primary_key=True),
        sa.Column("penalty", sa.Integer, nullable=False),
        sa.Column("added_at", UtcDateTime, nullable=False),
        sa.Column("action_id", BigId),
    )
    op.create_table(
        "routing_moved_callers",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("pbx", sa.String(32), nullable=False),
        sa.Column("uniqueid", sa.String(64), nullable=False),
        sa.Column("from_queue", sa.String(80), nullable=False),
        sa.Column("to_queue", sa.String(80)),
        sa.Column("destination", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("joined_at", UtcDateTime, nullable=False),
        sa.Column("moved_at", UtcDateTime, nullable=False),
        sa.Column("waited_seconds", sa.Float, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("message", sa.String(400)),
        sa.Column("action_id", BigId),
        sa.UniqueConstraint("pbx", "uniqueid", name="uq_routing_moved_callers"),
    )
    op.create_index("ix_routing_moved_callers_from_queue", "routing_moved_callers", ["from_queue"])
    op.create_index("ix_routing_moved_callers_moved_at", "routing_moved_callers", ["moved_at"])


def downgrade() -> None:
    for table in (
        "routing_moved_callers",
        "routing_members",
        "routing_actions",
        "routing_episodes",
        "routing_state",
        "routing_policy_changes",
        "routing_policies",
    ):
        op.drop_table(table)
