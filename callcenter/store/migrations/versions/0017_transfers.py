"""Transfers: the transfer directory, every transfer started from the agent console, and the
legs of the calls the transfers room took part in.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.store.types import UtcDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "transfer_targets",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("slug", sa.String(40), nullable=False, unique=True),
        sa.Column("label_zh", sa.String(80), nullable=False),
        sa.Column("label_en", sa.String(80), nullable=False),
        sa.Column("tier", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("pbx", sa.String(32), nullable=True),
        sa.Column("queue", sa.String(80), nullable=True),
        sa.Column("interfaces", sa.JSON, nullable=False),
        sa.Column("number", sa.String(24), nullable=True),
        sa.Column("trunk_context", sa.String(80), nullable=True),
        sa.Column("escalation", sa.Boolean, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_by", sa.String(80), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "transfers",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("pbx", sa.String(32), nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False, index=True),
        sa.Column("caller_uniqueid", sa.String(64), nullable=False, index=True),
        sa.Column("caller_num", sa.String(40), nullable=True),
        sa.Column("caller_channel", sa.String(120), nullable=True),
        sa.Column("queue", sa.String(80), nullable=True),
        sa.Column("mode", sa.String(12), nullable=False),
        sa.Column("escalation", sa.Boolean, nullable=False),
        sa.Column("from_user", BigId, nullable=True, index=True),
        sa.Column("from_username", sa.String(80), nullable=False),
        sa.Column("from_interface", sa.String(120), nullable=False),
        sa.Column("target_kind", sa.String(12), nullable=False),
        sa.Column("target_ref", sa.String(80), nullable=False, index=True),
        sa.Column("target_label", sa.String(120), nullable=False),
        sa.Column("target_user", BigId, nullable=True),
        sa.Column("target_dial", sa.String(400), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("state", sa.String(12), nullable=False, index=True),
        sa.Column("result", sa.String(24), nullable=True),
        sa.Column("detail", sa.String(300), nullable=True),
        sa.Column("answered_by", sa.String(120), nullable=True),
        sa.Column("answered_channel", sa.String(120), nullable=True),
        sa.Column("requested_at", UtcDateTime, nullable=False, index=True),
        sa.Column("answered_at", UtcDateTime, nullable=True),
        sa.Column("ended_at", UtcDateTime, nullable=True),
    )
    active = "state IN ('requested', 'ringing', 'consulting', 'conference', 'holding')"
    op.create_index(
        "uq_transfers_one_active_per_call",
        "transfers",
        ["pbx", "caller_uniqueid"],
        unique=True,
        postgresql_where=sa.text(active),
        sqlite_where=sa.text(active),
    )
    op.create_table(
        "call_legs",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("pbx", sa.String(32), nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=False, index=True),
        sa.Column("caller_uniqueid", sa.String(64), nullable=False),
        sa.Column("agent_interface", sa.String(120), nullable=False),
        sa.Column("agent_user", BigId, nullable=True, index=True),
        sa.Column("queue", sa.String(80), nullable=True),
        sa.Column("via_transfer", BigId, nullable=True),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("ended_at", UtcDateTime, nullable=True),
        sa.Column("hold_seconds", sa.Float, nullable=False),
        sa.Column("ended_how", sa.String(24), nullable=True),
        sa.UniqueConstraint(
            "pbx", "linkedid", "agent_interface", "started_at", name="uq_call_legs_leg"
        ),
    )


def downgrade() -> None:
    for table in ("call_legs", "transfers", "transfer_targets"):
        op.drop_table(table)
