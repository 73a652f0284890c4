"""Raw rows for the reports' tests: call records, wrap-ups, surveys, agent states, users."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.agents.models import AgentStateRow
from callcenter.auth.models import UserRow
from callcenter.ivr.models import SurveyResult
from callcenter.records.models import CallRecord, CallWrapup
from callcenter.reports.models import (
    AgentDayRollup,
    QueueDayRollup,
    QueueSlotRollup,
    ReportDirty,
    StateDayRollup,
    WorkDayRollup,
    WrapupDayRollup,
)
from callcenter.work.models import WorkItemRow

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALLS: Table = CallRecord.__table__  # type: ignore[assignment]
WRAPUPS: Table = CallWrapup.__table__  # type: ignore[assignment]
SURVEYS: Table = SurveyResult.__table__  # type: ignore[assignment]
STATES: Table = AgentStateRow.__table__  # type: ignore[assignment]
USERS: Table = UserRow.__table__  # type: ignore[assignment]
ITEMS: Table = WorkItemRow.__table__  # type: ignore[assignment]
DIRTY: Table = ReportDirty.__table__  # type: ignore[assignment]
ROLLUPS: tuple[Table, ...] = tuple(
    m.__table__  # type: ignore[misc]
    for m in (
        QueueSlotRollup,
        QueueDayRollup,
        AgentDayRollup,
        WrapupDayRollup,
        StateDayRollup,
        WorkDayRollup,
    )
)
_ids = itertools.count(1)


def local(text: str) -> datetime:
    """A Shanghai wall-clock time as an aware UTC instant."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


async def add_user(engine: AsyncEngine, username: str) -> int:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    async with engine.begin() as conn:
        result = await conn.execute(
            insert(USERS).values(
                username=username,
                display_name=username.title(),
                role="agent",
                password_hash="x",
                interfaces=[],
                language="zh",
                disabled=False,
                created_at=now,
                updated_at=now,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


async def add_call(
    engine: AsyncEngine,
    *,
    queue: str,
    joined: datetime,
    outcome: str,
    wait: float | None = None,
    talk: float | None = None,
    wrapup: int | None = None,
    user: int | None = None,
    number: str | None = None,
    short: bool = False,
    direction: str = "inbound",
    uniqueid: str | None = None,
    answered_by: str | None = None,
) -> tuple[int, str]:
    uid = uniqueid or f"1700000000.{next(_ids)}"
    async with engine.begin() as conn:
        result = await conn.execute(
            insert(CALLS).values(
                pbx="pbx1",
                uniqueid=uid,
                queue=queue,
                caller_number=number,
                joined_at=joined,
                outcome=outcome,
                wait_seconds=wait,
                talk_seconds=talk,
                wrapup_seconds=wrapup,
                answered_by_user=user,
                answered_by=answered_by,
                # As the records room writes them: an answered leg has its answer time.
                answered_at=(
                    joined + timedelta(seconds=wait or 0)
                    if user is not None and talk is not None
                    else None
                ),
                short_abandon=short,
                direction=direction,
                agents_rung=[],
                ring_no_answer_count=0,
                ivr_data={},
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0]), uid


async def add_wrapup(
    engine: AsyncEngine, call_id: int, disposition: str, category: str, at: datetime
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            insert(WRAPUPS).values(
                call_id=call_id,
                disposition=disposition,
                category=category,
                notes="",
                submitted_at=at,
            )
        )


async def add_survey(
    engine: AsyncEngine,
    uniqueid: str,
    queue: str | None,
    score: int,
    at: datetime,
    agent: str | None = None,
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            insert(SURVEYS).values(
                pbx="pbx1",
                uniqueid=uniqueid,
                queue=queue,
                score=score,
                answered_at=at,
                agent_interface=agent,
            )
        )


async def add_state(
    engine: AsyncEngine,
    user: int,
    state: str,
    started: datetime,
    ended: datetime | None,
    code: str = "",
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            insert(STATES).values(
                user_id=user,
                state=state,
                code=code,
                reason="",
                paid=True,
                pbx="pbx1",
                interface="PJSIP/1001",
                started_at=started,
                ended_at=ended,
            )
        )


async def snapshot(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Every roll-up row, sorted, floats rounded: what a rebuild must reproduce."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with engine.connect() as conn:
        for table in ROLLUPS:
            rows = (await conn.execute(select(table))).all()
            out[table.name] = sorted(
                tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in rows
            )
    return out


async def add_item(
    engine: AsyncEngine,
    kind: str,
    queue: str | None,
    created: datetime,
    *,
    owner: int | None = None,
    resolved: datetime | None = None,
    on_time: bool | None = None,
) -> None:
    """A work item as the work-items room stores one (only what the reports read matters)."""
    number = next(_ids)
    async with engine.begin() as conn:
        await conn.execute(
            insert(ITEMS).values(
                ticket=f"T{number:07d}",
                kind=kind,
                status="resolved" if resolved else "new",
                is_open=resolved is None,
                priority="normal",
                category="general",
                title="test",
                queue=queue,
                owner_id=owner,
                source="agent",
                created_at=created,
                updated_at=created,
                version=1,
                clock="wall",
                clock_start=created,
                span_seconds=86_400,
                escalation_tier=0,
                escalations=0,
                resolved_at=resolved,
                resolved_on_time=on_time,
            )
        )
