"""Reports: the roll-up tables, the queue of changed queue-days and agent-days, the
triggers that fill it from call records, wrap-ups, surveys, agent states and work items,
and the scheduled reports written.

The roll-ups start empty: ``callcenter reports rebuild`` (or the refresher, for what changes
from now on) fills them from the raw records.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcenter.store.types import UtcDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_MEASURES_INT = (
    "answered",
    "abandoned",
    "short_abandons",
    "timeouts",
    "withdrawn",
    "overflowed",
    "transferred",
    "unknown",
    "answered_within",
    "wrapups",
    "identified",
    "repeats",
    "surveys",
    "surveys_satisfied",
    "survey_score_sum",
    "outbound",
    "outbound_answered",
)
_MEASURES_FLOAT = (
    "wait_answered_sum",
    "wait_abandoned_sum",
    "wait_max",
    "talk_sum",
    "wrapup_sum",
)


def _measures() -> list[sa.Column[int] | sa.Column[float]]:
    columns: list[sa.Column[int] | sa.Column[float]] = [
        sa.Column(name, sa.Integer, nullable=False) for name in _MEASURES_INT
    ]
    columns += [sa.Column(name, sa.Float, nullable=False) for name in _MEASURES_FLOAT]
    return columns


def _periods() -> list[sa.Column[object]]:
    return [
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("week", sa.Date, nullable=False),
        sa.Column("month", sa.Date, nullable=False),
        sa.Column("quarter", sa.Date, nullable=False),
        sa.Column("year", sa.Date, nullable=False),
    ]


# What each trigger writes: (table, events, the INSERT's SELECT for one changed row as NEW).
_CALL = "SELECT 'call', {r}.queue, NULL, {r}.caller_number, {r}.joined_at"
_WRAPUP = (
    "SELECT 'call', c.queue, NULL, NULL, c.joined_at FROM call_records c WHERE c.id = {r}.call_id"
)
_SURVEY = (
    "SELECT 'call', c.queue, NULL, NULL, c.joined_at FROM call_records c "
    "WHERE c.pbx = {r}.pbx AND c.uniqueid = {r}.uniqueid"
)
_STATE = "SELECT 'state', NULL, {r}.user_id, NULL, {r}.started_at"
_STATE_END = "SELECT 'state', NULL, {r}.user_id, NULL, {r}.ended_at WHERE {r}.ended_at IS NOT NULL"
_WORK = "SELECT 'work', NULL, NULL, NULL, {r}.created_at"
_INSERT = "INSERT INTO report_dirty (kind, queue, user_id, number, at) "
_TRIGGERS = {
    "call_records": (_CALL,),
    "call_wrapups": (_WRAPUP,),
    "survey_results": (_SURVEY,),
    "agent_states": (_STATE, _STATE_END),
    "work_items": (_WORK,),
}


def _statements(table: str, row: str) -> str:
    return "".join(f"{_INSERT}{select.format(r=row)}; " for select in _TRIGGERS[table])


def _create_triggers() -> None:
    dialect = op.get_bind().dialect.name
    for table in _TRIGGERS:
        if dialect == "postgresql":
            op.execute(
                f"CREATE FUNCTION report_mark_{table}() RETURNS trigger AS $$ BEGIN "
                f"IF TG_OP IN ('UPDATE', 'DELETE') THEN {_statements(table, 'OLD')} END IF; "
                f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {_statements(table, 'NEW')} END IF; "
                "RETURN NULL; END $$ LANGUAGE plpgsql"
            )
            op.execute(
                f"CREATE TRIGGER report_mark_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION report_mark_{table}()"
            )
        else:
            for event, rows in (
                ("INSERT", ("NEW",)),
                ("UPDATE", ("OLD", "NEW")),
                ("DELETE", ("OLD",)),
            ):
                body = "".join(_statements(table, r) for r in rows)
                op.execute(
                    f"CREATE TRIGGER report_mark_{table}_{event.lower()} AFTER {event} "
                    f"ON {table} FOR EACH ROW BEGIN {body}END"
                )


def _drop_triggers() -> None:
    dialect = op.get_bind().dialect.name
    for table in _TRIGGERS:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS report_mark_{table} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS report_mark_{table}()")
        else:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS report_mark_{table}_{event}")


def upgrade() -> None:
    op.create_table(
        "report_dirty",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("queue", sa.String(80), nullable=True),
        sa.Column("user_id", BigId, nullable=True),
        sa.Column("number", sa.String(40), nullable=True),
        sa.Column("at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "report_queue_slots",
        sa.Column("slot", UtcDateTime, primary_key=True),
        sa.Column("queue", sa.String(80), primary_key=True),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("hour", sa.SmallInteger, nullable=False),
        sa.Column("weekday", sa.SmallInteger, nullable=False),
        *_measures(),
    )
    op.create_index("ix_report_queue_slots_day", "report_queue_slots", ["day", "queue"])
    op.create_table(
        "report_queue_days",
        *_periods(),
        sa.Column("queue", sa.String(80), primary_key=True),
        *_measures(),
    )
    op.create_table(
        "report_agent_days",
        *_periods(),
        sa.Column("queue", sa.String(80), primary_key=True),
        sa.Column("user_id", BigId, primary_key=True),
        *_measures(),
    )
    op.create_index("ix_report_agent_days_user", "report_agent_days", ["user_id", "day"])
    op.create_table(
        "report_wrapup_days",
        *_periods(),
        sa.Column("queue", sa.String(80), primary_key=True),
        sa.Column("user_id", BigId, primary_key=True),
        sa.Column("category", sa.String(20), primary_key=True),
        sa.Column("disposition", sa.String(40), primary_key=True),
        sa.Column("calls", sa.Integer, nullable=False),
    )
    op.create_table(
        "report_state_days",
        *_periods(),
        sa.Column("user_id", BigId, primary_key=True),
        sa.Column("state", sa.String(16), primary_key=True),
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("seconds", sa.Float, nullable=False),
    )
    op.create_index("ix_report_state_days_user", "report_state_days", ["user_id", "day"])
    op.create_table(
        "report_work_days",
        *_periods(),
        sa.Column("queue", sa.String(80), primary_key=True),
        sa.Column("owner_id", BigId, primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("opened", sa.Integer, nullable=False),
        sa.Column("resolved", sa.Integer, nullable=False),
        sa.Column("on_time", sa.Integer, nullable=False),
    )
    op.create_table(
        "report_runs",
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("period_start", sa.Date, primary_key=True),
        sa.Column("written_at", UtcDateTime, nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("mailed_to", sa.Integer, nullable=False),
        sa.Column("error", sa.String(300), nullable=True),
    )
    # A queue-day's recomputation reads that queue's calls of that day.
    op.create_index("ix_call_records_queue_joined", "call_records", ["queue", "joined_at"])
    _create_triggers()


def downgrade() -> None:
    _drop_triggers()
    op.drop_index("ix_call_records_queue_joined", table_name="call_records")
    for table in (
        "report_runs",
        "report_work_days",
        "report_state_days",
        "report_wrapup_days",
        "report_agent_days",
        "report_queue_days",
        "report_queue_slots",
        "report_dirty",
    ):
        op.drop_table(table)
