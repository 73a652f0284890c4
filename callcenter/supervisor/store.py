"""Database side of the supervisor room: desired member state, audit log, caller claims."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.audit.models import AuditEntry
from callcenter.live import MemberView
from callcenter.supervisor.models import CallerAction, DesiredMember
from callcenter.supervisor.plan import DesiredMember as Desired
from callcenter.supervisor.plan import desired_following


@dataclass(frozen=True, slots=True)
class AuditRecord:
    at: datetime
    username: str
    user_id: int | None
    action: str
    pbx: str
    queue: str | None
    target: str
    parameters: dict[str, Any]
    ok: bool
    message: str


def _to_desired(row: DesiredMember) -> Desired:
    return Desired(
        row.pbx,
        row.queue,
        row.interface,
        row.present,
        row.member_name,
        row.state_interface,
        row.penalty,
        row.paused,
        row.paused_reason,
        row.ringinuse,
        row.set_by,
        row.set_at,
    )


async def load_desired(engine: AsyncEngine, pbx: str) -> list[Desired]:
    async with AsyncSession(engine) as session:
        rows = (
            (
                await session.execute(
                    select(DesiredMember).where(DesiredMember.pbx == pbx).order_by(DesiredMember.id)
                )
            )
            .scalars()
            .all()
        )
    return [_to_desired(row) for row in rows]


async def load_desired_for(
    session: AsyncSession, pbx: str, queue: str, interface: str
) -> Desired | None:
    row = await _desired_row(session, pbx, queue, interface)
    return None if row is None else _to_desired(row)


async def _desired_row(
    session: AsyncSession, pbx: str, queue: str, interface: str
) -> DesiredMember | None:
    return (
        await session.execute(
            select(DesiredMember).where(
                DesiredMember.pbx == pbx,
                DesiredMember.queue == queue,
                DesiredMember.interface == interface,
            )
        )
    ).scalar_one_or_none()


async def save_desired(session: AsyncSession, desired: Desired) -> None:
    row = await _desired_row(session, desired.pbx, desired.queue, desired.interface)
    if row is None:
        row = DesiredMember(pbx=desired.pbx, queue=desired.queue, interface=desired.interface)
        session.add(row)
    row.present = desired.present
    row.member_name = desired.name
    row.state_interface = desired.state_interface
    row.penalty = desired.penalty
    row.paused = desired.paused
    row.paused_reason = desired.paused_reason
    row.ringinuse = desired.ringinuse
    row.set_by = desired.set_by
    assert desired.set_at is not None
    row.set_at = desired.set_at


async def follow_pbx_change(
    engine: AsyncEngine,
    pbx: str,
    queue: str,
    interface: str,
    cause: str,
    member: MemberView | None,
    at: datetime,
) -> tuple[Desired, Desired | None] | None:
    """Let a stored desired member follow a change the PBX reported; (before, after) if it did.

    A row stored after the change happened (a supervisor acting meanwhile) wins over it.
    """
    async with AsyncSession(engine) as session, session.begin():
        row = await _desired_row(session, pbx, queue, interface)
        if row is None or row.set_at > at:
            return None
        before = _to_desired(row)
        after = desired_following(before, cause, member, at)
        if after == before:
            return None
        if after is None:
            await session.delete(row)
        else:
            await save_desired(session, after)
    return before, after


def add_audit(session: AsyncSession, record: AuditRecord) -> None:
    session.add(
        AuditEntry(
            at=record.at,
            username=record.username,
            user_id=record.user_id,
            action=record.action,
            pbx=record.pbx,
            queue=record.queue,
            target=record.target[:200],
            parameters=record.parameters,
            ok=record.ok,
            message=record.message[:500],
        )
    )


async def write_audit(engine: AsyncEngine, records: Iterable[AuditRecord]) -> None:
    async with AsyncSession(engine) as session, session.begin():
        for record in records:
            add_audit(session, record)


async def claim_caller(
    engine: AsyncEngine,
    *,
    pbx: str,
    uniqueid: str,
    queue: str,
    joined_at: datetime,
    action: str,
    destination: str,
    username: str,
    at: datetime,
) -> bool:
    """Record a one-shot caller action; False when someone already claimed this join.

    The key is the caller's join, not the caller: one who comes back to the same queue
    (moved away and back, or through the IVR again) is a new caller there.
    """
    try:
        async with AsyncSession(engine) as session, session.begin():
            session.add(
                CallerAction(
                    pbx=pbx,
                    uniqueid=uniqueid,
                    queue=queue,
                    joined_at=joined_at,
                    action=action,
                    destination=destination,
                    username=username,
                    at=at,
                )
            )
    except IntegrityError:
        return False
    return True


async def release_caller(
    engine: AsyncEngine, pbx: str, uniqueid: str, queue: str, joined_at: datetime
) -> None:
    """Forget a claim whose action the PBX refused, so it may be tried again."""
    async with AsyncSession(engine) as session, session.begin():
        await session.execute(
            delete(CallerAction).where(
                CallerAction.pbx == pbx,
                CallerAction.uniqueid == uniqueid,
                CallerAction.queue == queue,
                CallerAction.joined_at == joined_at,
            )
        )


async def caller_claim(
    engine: AsyncEngine, pbx: str, uniqueid: str, queue: str, joined_at: datetime
) -> CallerAction | None:
    async with AsyncSession(engine) as session:
        return (
            await session.execute(
                select(CallerAction).where(
                    CallerAction.pbx == pbx,
                    CallerAction.uniqueid == uniqueid,
                    CallerAction.queue == queue,
                    CallerAction.joined_at == joined_at,
                )
            )
        ).scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class AuditQuery:
    username: str | None = None
    action: str | None = None
    queue: str | None = None
    pbx: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    offset: int = 0


async def query_audit(engine: AsyncEngine, query: AuditQuery) -> tuple[int, list[AuditEntry]]:
    """(total matching, one page newest first)."""
    conditions = []
    if query.username:
        conditions.append(AuditEntry.username == query.username)
    if query.action:
        conditions.append(AuditEntry.action == query.action)
    if query.queue:
        conditions.append(AuditEntry.queue == query.queue)
    if query.pbx:
        conditions.append(AuditEntry.pbx == query.pbx)
    if query.since:
        conditions.append(AuditEntry.at >= query.since)
    if query.until:
        conditions.append(AuditEntry.at < query.until)
    async with AsyncSession(engine) as session:
        total = (
            await session.execute(select(func.count()).select_from(AuditEntry).where(*conditions))
        ).scalar_one()
        rows = (
            (
                await session.execute(
                    select(AuditEntry)
                    .where(*conditions)
                    .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                    .limit(query.limit)
                    .offset(query.offset)
                )
            )
            .scalars()
            .all()
        )
    return int(total), list(rows)
