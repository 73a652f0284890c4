"""Database side of the screening room: the blocked numbers and the screening log. Each
function is one short transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.screening.models import BlockedNumber, ScreeningEvent


@dataclass(frozen=True, slots=True)
class Blocked:
    id: int
    number: str
    reason: str
    added_by: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class Event:
    """One use of screening (a row of ``screening_events``), before or after it is stored."""

    at: datetime
    pbx: str
    kind: str
    number: str | None
    linkedid: str | None
    interface: str | None
    username: str | None
    detail: str
    id: int | None = None


class AlreadyBlocked(Exception):
    """The number is in the list already (its row's id in ``args[0]``, None if unknown)."""


def _blocked(row: BlockedNumber) -> Blocked:
    return Blocked(row.id, row.number, row.reason, row.added_by, row.added_at)


def _event(row: ScreeningEvent) -> Event:
    return Event(
        row.at,
        row.pbx,
        row.kind,
        row.number,
        row.linkedid,
        row.interface,
        row.username,
        row.detail,
        row.id,
    )


async def list_blocked(engine: AsyncEngine) -> list[Blocked]:
    async with AsyncSession(engine) as session:
        rows = (
            (await session.execute(select(BlockedNumber).order_by(BlockedNumber.id)))
            .scalars()
            .all()
        )
    return [_blocked(row) for row in rows]


async def blocked_mark(engine: AsyncEngine) -> tuple[int, int]:
    """(row count, highest id): changes whenever a number is added or removed anywhere."""
    async with AsyncSession(engine) as session:
        count, top = (
            await session.execute(select(func.count(BlockedNumber.id), func.max(BlockedNumber.id)))
        ).one()
    return int(count or 0), int(top or 0)


async def add_blocked(
    engine: AsyncEngine, number: str, reason: str, added_by: str, at: datetime
) -> Blocked:
    """Store a number (already normalised); ``AlreadyBlocked`` when it is there."""
    try:
        async with AsyncSession(engine) as session, session.begin():
            row = BlockedNumber(number=number, reason=reason, added_by=added_by, added_at=at)
            session.add(row)
            await session.flush()
            return _blocked(row)
    except IntegrityError:
        async with AsyncSession(engine) as session:
            found = (
                await session.execute(
                    select(BlockedNumber.id).where(BlockedNumber.number == number)
                )
            ).scalar_one_or_none()
        raise AlreadyBlocked(found) from None


async def delete_blocked(engine: AsyncEngine, blocked_id: int) -> Blocked | None:
    """Remove one number; the row it was, or None when there was none of that id."""
    async with AsyncSession(engine) as session, session.begin():
        row = await session.get(BlockedNumber, blocked_id)
        if row is None:
            return None
        before = _blocked(row)
        await session.execute(delete(BlockedNumber).where(BlockedNumber.id == blocked_id))
    return before


async def write_events(engine: AsyncEngine, events: Sequence[Event]) -> list[Event]:
    """Store events in one transaction; returns them with their ids."""
    async with AsyncSession(engine) as session, session.begin():
        rows = [
            ScreeningEvent(
                at=e.at,
                pbx=e.pbx[:32],
                kind=e.kind[:16],
                number=None if e.number is None else e.number[:40],
                linkedid=None if e.linkedid is None else e.linkedid[:64],
                interface=None if e.interface is None else e.interface[:120],
                username=None if e.username is None else e.username[:80],
                detail=e.detail[:200],
            )
            for e in events
        ]
        session.add_all(rows)
        await session.flush()
        return [_event(row) for row in rows]


async def list_events(
    engine: AsyncEngine,
    *,
    since: datetime | None = None,
    kinds: Sequence[str] = (),
    limit: int = 200,
) -> list[Event]:
    """The newest events first."""
    query = select(ScreeningEvent)
    if since is not None:
        query = query.where(ScreeningEvent.at >= since)
    if kinds:
        query = query.where(ScreeningEvent.kind.in_(list(kinds)))
    query = query.order_by(ScreeningEvent.at.desc(), ScreeningEvent.id.desc()).limit(limit)
    async with AsyncSession(engine) as session:
        rows = (await session.execute(query)).scalars().all()
    return [_event(row) for row in rows]
