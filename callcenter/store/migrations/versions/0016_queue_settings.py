"""Queue settings (desired state per PBX and queue), announcements, caller screening
(blocked numbers and every use of screening) and voicemail messages left through a queue's
exit.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.store.types import UtcDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "queue_settings",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("pbx", sa.String(32), nullable=False),
        sa.Column("queue", sa.String(80), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("set_by", sa.String(80), nullable=False),
        sa.Column("set_at", UtcDateTime, nullable=False),
        sa.Column("applied_version", sa.Integer, nullable=True),
        sa.Column("applied_at", UtcDateTime, nullable=True),
        sa.Column("apply_error", sa.Text, nullable=True),
        sa.UniqueConstraint("pbx", "queue", name="uq_queue_settings_pbx_queue"),
    )
    op.create_table(
        "announcements",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(80), nullable=False, unique=True),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("audio", sa.LargeBinary, nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "screening_blocked_numbers",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("number", sa.String(40), nullable=False, unique=True),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("added_by", sa.String(80), nullable=False),
        sa.Column("added_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "screening_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("at", UtcDateTime, nullable=False, index=True),
        sa.Column("pbx", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False, index=True),
        sa.Column("number", sa.String(40), nullable=True),
        sa.Column("linkedid", sa.String(64), nullable=True),
        sa.Column("interface", sa.String(120), nullable=True),
        sa.Column("username", sa.String(80), nullable=True),
        sa.Column("detail", sa.String(200), nullable=False),
    )
    op.create_table(
        "voicemail_messages",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("pbx", sa.String(32), nullable=False),
        sa.Column("queue", sa.String(80), nullable=False),
        sa.Column("mailbox", sa.String(80), nullable=False),
        sa.Column("msg_id", sa.String(64), nullable=False),
        sa.Column("linkedid", sa.String(64), nullable=True),
        sa.Column("caller", sa.String(80), nullable=True),
        sa.Column("duration_seconds", sa.Integer, nullable=False),
        sa.Column("audio", sa.LargeBinary, nullable=False),
        sa.Column(
            "work_item_id",
            BigId,
            sa.ForeignKey("work_items.id", ondelete="SET NULL"),
            nullable=True,
            index=True,
        ),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("pbx", "mailbox", "msg_id", name="uq_voicemail_messages_msg"),
    )


def downgrade() -> None:
    for table in (
        "voicemail_messages",
        "screening_events",
        "screening_blocked_numbers",
        "announcements",
        "queue_settings",
    ):
        op.drop_table(table)
