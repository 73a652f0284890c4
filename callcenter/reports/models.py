"""The reports room's tables (migration 0018): the roll-ups and the queue of what changed.

Every roll-up is a sum over raw rows of other rooms (call records, wrap-ups, surveys, agent
states), recomputed per queue-day or agent-day when ``report_dirty`` says a raw row of that
day changed. ``report_dirty`` is filled by database triggers on the raw tables, in the same
transaction as the change, so no write path (the records writer, the queue_log backfill, an
overflow mark, a wrap-up, the callback dialler, a hand-made SQL fix) can be missed.

Day tables carry the first day of the week, month, quarter and year the day is in, so any
calendar interval is one GROUP BY on a column, the same on PostgreSQL and SQLite.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.base import Base, BigId
from callcenter.store.types import UtcDateTime


class ReportDirty(Base):
    """A raw row changed: the roll-ups of its queue-day (kind "call"), agent-day (kind
    "state") or day of work items (kind "work") must be recomputed. Written by triggers
    only."""

    __tablename__ = "report_dirty"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))
    queue: Mapped[str | None] = mapped_column(String(80))
    user_id: Mapped[int | None] = mapped_column(BigId)
    # The caller's number of a call written: earlier calls from it may now be repeats.
    number: Mapped[str | None] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class _Measures:
    """The `rollup.Tally` columns, shared by every call roll-up table."""

    answered: Mapped[int] = mapped_column(Integer, default=0)
    abandoned: Mapped[int] = mapped_column(Integer, default=0)
    short_abandons: Mapped[int] = mapped_column(Integer, default=0)
    timeouts: Mapped[int] = mapped_column(Integer, default=0)
    withdrawn: Mapped[int] = mapped_column(Integer, default=0)
    overflowed: Mapped[int] = mapped_column(Integer, default=0)
    transferred: Mapped[int] = mapped_column(Integer, default=0)
    unknown: Mapped[int] = mapped_column(Integer, default=0)
    answered_within: Mapped[int] = mapped_column(Integer, default=0)
    wait_answered_sum: Mapped[float] = mapped_column(Float, default=0.0)
    wait_abandoned_sum: Mapped[float] = mapped_column(Float, default=0.0)
    wait_max: Mapped[float] = mapped_column(Float, default=0.0)
    talk_sum: Mapped[float] = mapped_column(Float, default=0.0)
    wrapup_sum: Mapped[float] = mapped_column(Float, default=0.0)
    wrapups: Mapped[int] = mapped_column(Integer, default=0)
    identified: Mapped[int] = mapped_column(Integer, default=0)
    repeats: Mapped[int] = mapped_column(Integer, default=0)
    surveys: Mapped[int] = mapped_column(Integer, default=0)
    surveys_satisfied: Mapped[int] = mapped_column(Integer, default=0)
    survey_score_sum: Mapped[int] = mapped_column(Integer, default=0)
    outbound: Mapped[int] = mapped_column(Integer, default=0)
    outbound_answered: Mapped[int] = mapped_column(Integer, default=0)


class _Periods:
    """The calendar periods a local day is in (``rollup.period_starts``)."""

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    week: Mapped[date] = mapped_column(Date)
    month: Mapped[date] = mapped_column(Date)
    quarter: Mapped[date] = mapped_column(Date)
    year: Mapped[date] = mapped_column(Date)


class QueueSlotRollup(_Measures, Base):
    """One queue's calls joined in one 15-minute slot."""

    __tablename__ = "report_queue_slots"
    __table_args__ = (Index("ix_report_queue_slots_day", "day", "queue"),)

    slot: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    queue: Mapped[str] = mapped_column(String(80), primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    hour: Mapped[int] = mapped_column(SmallInteger)
    weekday: Mapped[int] = mapped_column(SmallInteger)


class QueueDayRollup(_Periods, _Measures, Base):
    """One queue's calls of one local day."""

    __tablename__ = "report_queue_days"

    queue: Mapped[str] = mapped_column(String(80), primary_key=True)


class AgentDayRollup(_Periods, _Measures, Base):
    """The calls one agent (user) answered or dialled in one queue on one local day."""

    __tablename__ = "report_agent_days"
    __table_args__ = (Index("ix_report_agent_days_user", "user_id", "day"),)

    queue: Mapped[str] = mapped_column(String(80), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, primary_key=True)


class WrapupDayRollup(_Periods, Base):
    """Calls wrapped up with one disposition, per queue, agent (0: none) and local day."""

    __tablename__ = "report_wrapup_days"

    queue: Mapped[str] = mapped_column(String(80), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    category: Mapped[str] = mapped_column(String(20), primary_key=True)
    disposition: Mapped[str] = mapped_column(String(40), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)


class StateDayRollup(_Periods, Base):
    """Seconds one agent spent in one state (and not-ready code) on one local day."""

    __tablename__ = "report_state_days"
    __table_args__ = (Index("ix_report_state_days_user", "user_id", "day"),)

    user_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    state: Mapped[str] = mapped_column(String(16), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)


class WorkDayRollup(_Periods, Base):
    """Work items opened on one local day, per queue ("" none), owner (0 none) and kind,
    with how many of them are resolved and resolved on time (as they stand now)."""

    __tablename__ = "report_work_days"

    queue: Mapped[str] = mapped_column(String(80), primary_key=True)
    owner_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    opened: Mapped[int] = mapped_column(Integer, default=0)
    resolved: Mapped[int] = mapped_column(Integer, default=0)
    on_time: Mapped[int] = mapped_column(Integer, default=0)


class ReportRun(Base):
    """A scheduled report written (daily, weekly, monthly): one replica writes each. Kind
    "rebuild" is the marker of a rebuild in progress (refreshers wait for its end)."""

    __tablename__ = "report_runs"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    written_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Where it was written, and whether (and to how many) it was mailed.
    path: Mapped[str] = mapped_column(String(500))
    mailed_to: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(300))
