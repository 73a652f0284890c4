"""Work items: follow-ups, callbacks, complaints and inquiries with owners, deadlines,
timelines, links, callback dialling and department requests; call records get a direction
(callback attempts are outbound records). Open callback tasks of the IVR become callback items.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from callcenter.store.types import UtcDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _item_fk(
    name: str = "item_id", *, primary_key: bool = False, index: bool = False
) -> sa.Column[int]:
    return sa.Column(
        name,
        BigId,
        sa.ForeignKey("work_items.id", ondelete="CASCADE"),
        nullable=False,
        primary_key=primary_key,
        index=index,
    )


def upgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.add_column(
            sa.Column("direction", sa.String(8), nullable=False, server_default="inbound")
        )
    op.create_table(
        "work_items",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("ticket", sa.String(12), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False, index=True),
        sa.Column("status", sa.String(24), nullable=False, index=True),
        sa.Column("is_open", sa.Boolean, nullable=False),
        sa.Column("priority", sa.String(8), nullable=False, index=True),
        sa.Column("category", sa.String(40), nullable=False, index=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("customer_id", BigId, nullable=True, index=True),
        sa.Column("phone", sa.String(40), nullable=True, index=True),
        sa.Column("pbx", sa.String(32), nullable=True),
        sa.Column("queue", sa.String(80), nullable=True),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("owner_id", BigId, nullable=True),
        sa.Column("team_id", BigId, nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("source_key", sa.String(160), nullable=True, unique=True),
        sa.Column("created_by", BigId, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False, index=True),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("clock", sa.String(8), nullable=False),
        sa.Column("first_response_due", UtcDateTime, nullable=True),
        sa.Column("first_response_at", UtcDateTime, nullable=True),
        sa.Column("clock_start", UtcDateTime, nullable=False),
        sa.Column("span_seconds", sa.Integer, nullable=False),
        sa.Column("due_at", UtcDateTime, nullable=True),
        sa.Column("paused_at", UtcDateTime, nullable=True),
        sa.Column("remaining_seconds", sa.Integer, nullable=True),
        sa.Column("escalation_tier", sa.Integer, nullable=False),
        sa.Column("next_escalation_at", UtcDateTime, nullable=True),
        sa.Column("escalations", sa.Integer, nullable=False),
        sa.Column("resolved_at", UtcDateTime, nullable=True),
        sa.Column("resolved_on_time", sa.Boolean, nullable=True),
        sa.Column("resolution", sa.Text, nullable=True),
        sa.Column("closed_at", UtcDateTime, nullable=True),
    )
    op.create_index("ix_work_items_owner_open_due", "work_items", ["owner_id", "is_open", "due_at"])
    op.create_index("ix_work_items_team_open_due", "work_items", ["team_id", "is_open", "due_at"])
    op.create_index("ix_work_items_open_due", "work_items", ["is_open", "due_at"])
    op.create_index("ix_work_items_next_escalation", "work_items", ["next_escalation_at"])
    # The "resolved on time" counts read only resolved items.
    op.create_index(
        "ix_work_items_resolved",
        "work_items",
        ["resolved_at", "resolved_on_time"],
        postgresql_where=sa.text("resolved_at IS NOT NULL"),
        sqlite_where=sa.text("resolved_at IS NOT NULL"),
    )
    op.create_table(
        "work_item_calls",
        _item_fk(primary_key=True),
        sa.Column(
            "call_id",
            BigId,
            sa.ForeignKey("call_records.id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
            index=True,
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("added_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "work_item_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _item_fk(index=True),
        sa.Column("at", UtcDateTime, nullable=False, index=True),
        sa.Column("actor_id", BigId, nullable=True),
        sa.Column("actor_name", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_index("ix_work_item_events_kind_at", "work_item_events", ["kind", "at"])
    op.create_table(
        "work_item_links",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _item_fk(index=True),
        _item_fk("other_id", index=True),
        sa.Column("relation", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("created_by", BigId, nullable=True),
        sa.UniqueConstraint("item_id", "other_id", name="uq_work_item_links_pair"),
    )
    op.create_table(
        "work_callbacks",
        _item_fk(primary_key=True),
        sa.Column("pbx", sa.String(32), nullable=False),
        sa.Column("number", sa.String(40), nullable=False),
        sa.Column("queue", sa.String(80), nullable=True),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("next_attempt_at", UtcDateTime, nullable=True, index=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("offered_to", BigId, nullable=True),
        sa.Column("offered_until", UtcDateTime, nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", UtcDateTime, nullable=True),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "callback_attempts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _item_fk(index=True),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("pbx", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(64), nullable=False, unique=True),
        sa.Column("agent_id", BigId, nullable=True),
        sa.Column("agent_interface", sa.String(120), nullable=True),
        sa.Column("number", sa.String(40), nullable=False),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("agent_answered_at", UtcDateTime, nullable=True),
        sa.Column("customer_answered_at", UtcDateTime, nullable=True),
        sa.Column("ended_at", UtcDateTime, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("call_id", BigId, nullable=True),
        sa.UniqueConstraint("item_id", "attempt", name="uq_callback_attempts_try"),
    )
    op.create_table(
        "work_department_requests",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _item_fk(index=True),
        sa.Column("department", sa.String(40), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("sent_by", BigId, nullable=True),
        sa.Column("sent_at", UtcDateTime, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("delivered", sa.Boolean, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("answered_at", UtcDateTime, nullable=True),
    )
    _open_tasks_become_items()


def _ticket() -> str:
    body = str(secrets.randbelow(9_000_000) + 1_000_000)
    return body + _luhn_digit(body)


def _luhn_digit(body: str) -> str:
    total = 0
    for index, char in enumerate(reversed(body)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def _open_tasks_become_items() -> None:
    """Callers promised a callback before this version get a callback item each."""
    bind = op.get_bind()
    tasks = sa.table(
        "callback_tasks",
        sa.column("id", BigId),
        sa.column("pbx", sa.String),
        sa.column("queue", sa.String),
        sa.column("number", sa.String),
        sa.column("status", sa.String),
        sa.column("due_at", UtcDateTime),
        sa.column("created_at", UtcDateTime),
        sa.column("request_id", BigId),
    )
    requests = sa.table(
        "callback_requests", sa.column("id", BigId), sa.column("language", sa.String)
    )
    team_queues = sa.table(
        "team_queues", sa.column("team_id", BigId), sa.column("queue", sa.String)
    )
    items = sa.table("work_items", *_items_columns())
    schedules = sa.table(
        "work_callbacks", *(sa.column(c.name, c.type) for c in _callback_columns())
    )
    events = sa.table(
        "work_item_events",
        sa.column("item_id", BigId),
        sa.column("at", UtcDateTime),
        sa.column("actor_id", BigId),
        sa.column("actor_name", sa.String),
        sa.column("kind", sa.String),
        sa.column("text", sa.Text),
        sa.column("data", sa.JSON),
    )
    rows = bind.execute(
        sa.select(tasks, requests.c.language)
        .join(requests, requests.c.id == tasks.c.request_id, isouter=True)
        .where(tasks.c.status == "open")
    ).all()
    # The pool of a queue is the team that serves it (the lowest id when several do).
    pools: dict[str, int] = {}
    for team_id, queue in bind.execute(
        sa.select(team_queues.c.team_id, team_queues.c.queue).order_by(team_queues.c.team_id)
    ).all():
        pools.setdefault(queue, team_id)
    now = datetime.now(UTC)
    used: set[str] = set()
    for row in rows:
        ticket = _ticket()
        while ticket in used:
            ticket = _ticket()
        used.add(ticket)
        due = row.due_at or now
        item_id = bind.execute(
            sa.insert(items)
            .values(
                ticket=ticket,
                kind="callback",
                status="open",
                is_open=True,
                priority="normal",
                category="callback",
                title=f"Callback requested in the IVR ({row.queue})",
                phone=row.number,
                pbx=row.pbx,
                queue=row.queue,
                language=row.language,
                team_id=pools.get(row.queue),
                source="ivr",
                source_key=f"task:{row.id}",
                created_at=row.created_at or now,
                updated_at=now,
                version=1,
                clock="wall",
                clock_start=row.created_at or now,
                span_seconds=max(1, int((due - (row.created_at or now)).total_seconds())),
                due_at=due,
                escalation_tier=0,
                # Due for the first sweep, which puts the item on the configured ladder.
                next_escalation_at=now,
                escalations=0,
            )
            .returning(items.c.id)
        ).scalar_one()
        bind.execute(
            sa.insert(schedules).values(
                item_id=item_id,
                pbx=row.pbx,
                number=row.number,
                queue=row.queue,
                state="waiting",
                next_attempt_at=due,
                attempts=0,
                updated_at=now,
            )
        )
        bind.execute(
            sa.insert(events).values(
                item_id=item_id,
                at=now,
                actor_id=None,
                actor_name="system",
                kind="created",
                text="from the IVR's callback task list (upgrade)",
                data={"task": row.id},
            )
        )
        bind.execute(sa.update(tasks).where(tasks.c.id == row.id).values(status="moved"))


def _items_columns() -> list[sa.ColumnClause[Any]]:
    names = [
        "id",
        "ticket",
        "kind",
        "status",
        "is_open",
        "priority",
        "category",
        "title",
        "phone",
        "pbx",
        "queue",
        "language",
        "team_id",
        "source",
        "source_key",
        "created_at",
        "updated_at",
        "version",
        "clock",
        "clock_start",
        "span_seconds",
        "due_at",
        "escalation_tier",
        "next_escalation_at",
        "escalations",
    ]
    types: dict[str, Any] = {
        "id": BigId,
        "team_id": BigId,
        "next_escalation_at": UtcDateTime(),
        "is_open": sa.Boolean(),
        "version": sa.Integer(),
        "span_seconds": sa.Integer(),
        "escalation_tier": sa.Integer(),
        "escalations": sa.Integer(),
        "created_at": UtcDateTime(),
        "updated_at": UtcDateTime(),
        "clock_start": UtcDateTime(),
        "due_at": UtcDateTime(),
    }
    return [sa.column(name, types.get(name, sa.String())) for name in names]


def _callback_columns() -> list[sa.ColumnClause[Any]]:
    names = [
        "item_id",
        "pbx",
        "number",
        "queue",
        "state",
        "next_attempt_at",
        "attempts",
        "updated_at",
    ]
    types: dict[str, Any] = {
        "item_id": BigId,
        "attempts": sa.Integer(),
        "next_attempt_at": UtcDateTime(),
        "updated_at": UtcDateTime(),
    }
    return [sa.column(name, types.get(name, sa.String())) for name in names]


def downgrade() -> None:
    _open_callbacks_back_to_tasks()
    op.drop_index("ix_work_item_events_kind_at", table_name="work_item_events")
    for table in (
        "work_department_requests",
        "callback_attempts",
        "work_callbacks",
        "work_item_links",
        "work_item_events",
        "work_item_calls",
    ):
        op.drop_table(table)
    for index in (
        "ix_work_items_resolved",
        "ix_work_items_next_escalation",
        "ix_work_items_open_due",
        "ix_work_items_team_open_due",
        "ix_work_items_owner_open_due",
    ):
        op.drop_index(index, table_name="work_items")
    op.drop_table("work_items")
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("direction")


def _open_callbacks_back_to_tasks() -> None:
    """Callbacks still open when going back to 0014 return to its task list, so no caller's
    promise is lost with the work-items tables."""
    bind = op.get_bind()
    items = sa.table(
        "work_items",
        sa.column("source_key", sa.String),
        sa.column("is_open", sa.Boolean),
    )
    tasks = sa.table("callback_tasks", sa.column("id", BigId), sa.column("status", sa.String))
    rows = bind.execute(
        sa.select(items.c.source_key, items.c.is_open).where(items.c.source_key.like("task:%"))
    ).all()
    for key, is_open in rows:
        task_id = key.removeprefix("task:")
        if task_id.isdigit():
            bind.execute(
                sa.update(tasks)
                .where(tasks.c.id == int(task_id), tasks.c.status == "moved")
                .values(status="open" if is_open else "done")
            )
