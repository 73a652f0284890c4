"""Lists of work items: an agent's own work, the supervisor's filtered list, the counts the
reports use, a caller's open items. Each reads through an index of ``work_items``."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.agents.scope import Scope
from callcenter.work.models import WorkItemEventRow, WorkItemRow

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class ItemFilters:
    kind: str | None = None
    status: str | None = None
    owner: int | None = None
    team: int | None = None
    priority: str | None = None
    overdue: bool | None = None
    open: bool | None = None
    customer: int | None = None
    phone: str | None = None
    q: str | None = None
    limit: int = 50
    cursor: str | None = None


def scope_condition(scope: Scope) -> ColumnElement[bool] | None:
    """Items of the scope's teams or of its members (None: every item)."""
    if scope.everything:
        return None
    parts = []
    if scope.team_ids:
        parts.append(WorkItemRow.team_id.in_(sorted(scope.team_ids)))
    if scope.user_ids:
        parts.append(WorkItemRow.owner_id.in_(sorted(scope.user_ids)))
    return or_(*parts) if parts else false()


def _conditions(filters: ItemFilters, now: datetime) -> list[ColumnElement[bool]]:
    table = WorkItemRow
    found: list[ColumnElement[bool]] = []
    if filters.kind is not None:
        found.append(table.kind == filters.kind)
    if filters.status is not None:
        found.append(table.status == filters.status)
    if filters.owner is not None:
        found.append(table.owner_id == filters.owner)
    if filters.team is not None:
        found.append(table.team_id == filters.team)
    if filters.priority is not None:
        found.append(table.priority == filters.priority)
    found.extend(_overdue(filters.overdue, now))
    if filters.open is not None:
        found.append(table.is_open.is_(filters.open))
    if filters.customer is not None:
        found.append(table.customer_id == filters.customer)
    if filters.phone is not None:
        found.append(table.phone == filters.phone)
    if filters.q:
        found.append(_text(filters.q.strip()))
    return found


def _overdue(overdue: bool | None, now: datetime) -> list[ColumnElement[bool]]:
    table = WorkItemRow
    if overdue is None:
        return []
    if overdue:
        return [table.is_open.is_(True), table.due_at < now]
    return [or_(table.is_open.is_(False), table.due_at.is_(None), table.due_at >= now)]


def _text(text: str) -> ColumnElement[bool]:
    """A ticket number, or words of the title."""
    table = WorkItemRow
    if text.isdigit() and len(text) == 8:
        return table.ticket == text
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(table.title.ilike(f"%{escaped}%", escape="\\"), table.ticket == text)


def encode_cursor(due: datetime | None, item_id: int) -> str:
    text = f"{due.isoformat() if due else ''}|{item_id}"
    return base64.urlsafe_b64encode(text.encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime | None, int] | None:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        due_text, id_text = text.split("|")
        due = datetime.fromisoformat(due_text) if due_text else None
        item_id = int(id_text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if due is not None and due.tzinfo is None:
        return None
    return due, item_id


async def search(
    engine: AsyncEngine,
    scope: Scope,
    filters: ItemFilters,
    now: datetime,
    cursor: tuple[datetime | None, int] | None,
) -> tuple[list[WorkItemRow], str | None]:
    """Items by deadline (those without one last), then id; keyset paging."""
    table = WorkItemRow
    conditions = _conditions(filters, now)
    scoped = scope_condition(scope)
    if scoped is not None:
        conditions.append(scoped)
    if cursor is not None:
        due, last_id = cursor
        if due is None:
            conditions.append(and_(table.due_at.is_(None), table.id > last_id))
        else:
            conditions.append(
                or_(
                    table.due_at > due,
                    and_(table.due_at == due, table.id > last_id),
                    table.due_at.is_(None),
                )
            )
    limit = max(1, min(filters.limit, MAX_PAGE))
    query = (
        select(table)
        .where(*conditions)
        .order_by(table.due_at.asc().nulls_last(), table.id)
        .limit(limit + 1)
    )
    async with AsyncSession(engine) as session:
        rows = list((await session.scalars(query)).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(last.due_at, last.id)
    return rows, next_cursor


async def mine(
    engine: AsyncEngine, user_id: int, team_ids: set[int], limit: int = MAX_PAGE
) -> tuple[list[WorkItemRow], list[WorkItemRow]]:
    """The user's open items, and their teams' unowned open items (the pool)."""
    table = WorkItemRow
    async with AsyncSession(engine) as session:
        own = (
            await session.scalars(
                select(table)
                .where(table.owner_id == user_id, table.is_open.is_(True))
                .order_by(table.due_at.asc().nulls_last(), table.id)
                .limit(limit)
            )
        ).all()
        pool: list[WorkItemRow] = []
        if team_ids:
            pool = list(
                (
                    await session.scalars(
                        select(table)
                        .where(
                            table.team_id.in_(sorted(team_ids)),
                            table.owner_id.is_(None),
                            table.is_open.is_(True),
                        )
                        .order_by(table.due_at.asc().nulls_last(), table.id)
                        .limit(limit)
                    )
                ).all()
            )
    return list(own), pool


async def counts(
    engine: AsyncEngine, scope: Scope, now: datetime, team: int | None, since: datetime | None
) -> dict[str, int]:
    """Open, overdue, waiting now; resolved (on time, late) and escalations since ``since``."""
    table = WorkItemRow
    base: list[ColumnElement[bool]] = []
    scoped = scope_condition(scope)
    if scoped is not None:
        base.append(scoped)
    if team is not None:
        base.append(table.team_id == team)
    async with AsyncSession(engine) as session:
        open_count = await session.scalar(
            select(func.count()).select_from(table).where(*base, table.is_open.is_(True))
        )
        overdue = await session.scalar(
            select(func.count())
            .select_from(table)
            .where(*base, table.is_open.is_(True), table.due_at < now)
        )
        waiting = await session.scalar(
            select(func.count())
            .select_from(table)
            .where(*base, table.is_open.is_(True), table.due_at.is_(None))
        )
        resolved_where = [*base, table.resolved_at.is_not(None)]
        if since is not None:
            resolved_where.append(table.resolved_at >= since)
        resolved = (
            await session.execute(
                select(table.resolved_on_time, func.count())
                .where(*resolved_where)
                .group_by(table.resolved_on_time)
            )
        ).all()
        escalation_where = [WorkItemEventRow.kind == "escalated"]
        if since is not None:
            escalation_where.append(WorkItemEventRow.at >= since)
        escalation_query = (
            select(func.count()).select_from(WorkItemEventRow).where(*escalation_where)
        )
        if base:
            escalation_query = escalation_query.join(
                table, table.id == WorkItemEventRow.item_id
            ).where(*base)
        escalations = await session.scalar(escalation_query)
    on_time = sum(n for flag, n in resolved if flag)
    late = sum(n for flag, n in resolved if flag is False)
    return {
        "open": int(open_count or 0),
        "overdue": int(overdue or 0),
        "waiting": int(waiting or 0),
        "resolved": on_time + late,
        "resolved_on_time": on_time,
        "resolved_late": late,
        "escalations": int(escalations or 0),
    }


async def of_customer(
    engine: AsyncEngine, customer_id: int | None, phone: str | None, limit: int = 50
) -> list[WorkItemRow]:
    """A caller's open items: those naming the customer or the number."""
    table = WorkItemRow
    who = []
    if customer_id is not None:
        who.append(table.customer_id == customer_id)
    if phone:
        who.append(table.phone == phone)
    if not who:
        return []
    async with AsyncSession(engine) as session:
        rows = (
            await session.scalars(
                select(table)
                .where(or_(*who), table.is_open.is_(True))
                .order_by(table.due_at.asc().nulls_last(), table.id)
                .limit(limit)
            )
        ).all()
    return list(rows)
