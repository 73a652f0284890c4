"""Transfers and call legs in the database: the truth every replica reads.

A console action and the FastAGI reports of the PBX may reach different replicas, so a
transfer's state is never kept only in memory: each step is a conditional UPDATE from the
state the step was decided on (``move``), and the loser of a race changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.transfers.flow import ACTIVE, Mode, State
from callcenter.transfers.models import CallLeg, Transfer

# The transfer number the PBX is given: 9 and seven digits (dialplan/transfer.conf).
NUMBER_DIGITS = 7
NUMBER_MODULUS = 10**NUMBER_DIGITS


def number_of(transfer_id: int) -> str:
    return f"{transfer_id % NUMBER_MODULUS:0{NUMBER_DIGITS}d}"


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    pbx: str
    linkedid: str
    caller_uniqueid: str
    caller_num: str | None
    caller_channel: str | None
    queue: str | None
    mode: Mode
    escalation: bool
    from_user: int | None
    from_username: str
    from_interface: str
    target_kind: str
    target_ref: str
    target_label: str
    target_user: int | None
    target_dial: str
    note: str
    reason: str
    state: State
    result: str | None
    detail: str | None
    answered_by: str | None
    answered_channel: str | None
    requested_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def as_data(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "pbx": self.pbx,
            "linkedid": self.linkedid,
            "caller_uniqueid": self.caller_uniqueid,
            "queue": self.queue,
            "mode": self.mode.value,
            "escalation": self.escalation,
            "from_user": self.from_user,
            "from_username": self.from_username,
            "target_kind": self.target_kind,
            "target_ref": self.target_ref,
            "target_label": self.target_label,
            "target_user": self.target_user,
            "state": self.state.value,
            "result": self.result,
            "detail": self.detail,
            "note": self.note,
            "reason": self.reason,
            "answered_by": self.answered_by,
            "requested_at": self.requested_at,
            "answered_at": self.answered_at,
            "ended_at": self.ended_at,
        }


def _row(t: Transfer) -> Row:
    return Row(
        t.id,
        t.pbx,
        t.linkedid,
        t.caller_uniqueid,
        t.caller_num,
        t.caller_channel,
        t.queue,
        Mode(t.mode),
        t.escalation,
        t.from_user,
        t.from_username,
        t.from_interface,
        t.target_kind,
        t.target_ref,
        t.target_label,
        t.target_user,
        t.target_dial,
        t.note,
        t.reason,
        State(t.state),
        t.result,
        t.detail,
        t.answered_by,
        t.answered_channel,
        t.requested_at,
        t.answered_at,
        t.ended_at,
    )


class AlreadyActive(Exception):
    """The call has a transfer, consultation, conference or hold under way already."""


async def create(engine: AsyncEngine, values: Mapping[str, Any]) -> Row:
    try:
        async with engine.begin() as conn:
            result = await conn.execute(insert(Transfer).values(**values).returning(Transfer.id))
            new_id = int(result.scalar_one())
    except IntegrityError:
        raise AlreadyActive() from None
    found = await get(engine, new_id)
    assert found is not None
    return found


async def _rows(engine: AsyncEngine, query: Select[Any]) -> list[Row]:
    async with engine.connect() as conn:
        result = await conn.execute(query)
        return [_row(Transfer(**r._asdict())) for r in result.all()]


async def _first(engine: AsyncEngine, query: Select[Any]) -> Row | None:
    rows = await _rows(engine, query.limit(1))
    return rows[0] if rows else None


async def get(engine: AsyncEngine, transfer_id: int) -> Row | None:
    return await _first(engine, select(Transfer).where(Transfer.id == transfer_id))


async def by_number(engine: AsyncEngine, pbx: str, number: str) -> Row | None:
    """The newest transfer of this PBX whose transfer number is ``number``."""
    if not (number.isascii() and number.isdigit() and len(number) == NUMBER_DIGITS):
        return None
    return await _first(
        engine,
        select(Transfer)
        .where(Transfer.pbx == pbx, Transfer.id % NUMBER_MODULUS == int(number))
        .order_by(Transfer.id.desc()),
    )


async def active_on(engine: AsyncEngine, pbx: str, caller_uniqueid: str) -> Row | None:
    """The call's transfer still under way, if any (at most one: a unique index)."""
    rows = await active_for_caller(engine, pbx, caller_uniqueid)
    return rows[0] if rows else None


async def last_of(engine: AsyncEngine, user_id: int, linkedid: str) -> Row | None:
    return await _first(
        engine,
        select(Transfer)
        .where(Transfer.from_user == user_id, Transfer.linkedid == linkedid)
        .order_by(Transfer.id.desc()),
    )


async def active_for_caller(engine: AsyncEngine, pbx: str, uniqueid: str) -> list[Row]:
    return await _rows(
        engine,
        select(Transfer).where(
            Transfer.pbx == pbx,
            Transfer.caller_uniqueid == uniqueid,
            Transfer.state.in_([s.value for s in ACTIVE]),
        ),
    )


async def of_call(engine: AsyncEngine, pbx: str, linkedid: str) -> list[Row]:
    return await _rows(
        engine,
        select(Transfer)
        .where(Transfer.pbx == pbx, Transfer.linkedid == linkedid)
        .order_by(Transfer.id),
    )


async def all_active(engine: AsyncEngine) -> list[Row]:
    return await _rows(
        engine, select(Transfer).where(Transfer.state.in_([s.value for s in ACTIVE]))
    )


async def move(
    engine: AsyncEngine, transfer_id: int, before: State, after: State, **values: Any
) -> Row | None:
    """Move the transfer from ``before`` to ``after`` (with other columns); None when it was
    no longer in ``before`` (another replica or report came first): nothing changed."""
    async with engine.begin() as conn:
        result = await conn.execute(
            update(Transfer)
            .where(Transfer.id == transfer_id, Transfer.state == before.value)
            .values(state=after.value, **values)
        )
        if result.rowcount != 1:
            return None
    return await get(engine, transfer_id)


async def listing(
    engine: AsyncEngine,
    since: datetime,
    until: datetime,
    *,
    user_id: int | None = None,
    limit: int = 500,
) -> list[Row]:
    query = select(Transfer).where(
        Transfer.requested_at >= since, Transfer.requested_at < until, Transfer.mode != "hold"
    )
    if user_id is not None:
        query = query.where(Transfer.from_user == user_id)
    return await _rows(engine, query.order_by(Transfer.id.desc()).limit(limit))


async def counts(
    engine: AsyncEngine, since: datetime, until: datetime, by: str
) -> list[tuple[str, str, int, int]]:
    """(key, label, transfers, completed) per agent (``by="agent"``) or per target; holds
    are not transfers."""
    if by == "agent":
        key, label = Transfer.from_username, Transfer.from_username
    else:
        key, label = Transfer.target_ref, Transfer.target_label
    completed = func.sum(case((Transfer.result == "completed", 1), else_=0))
    async with engine.connect() as conn:
        result = await conn.execute(
            select(key, func.max(label), func.count(), completed)
            .where(
                Transfer.requested_at >= since,
                Transfer.requested_at < until,
                Transfer.mode != "hold",
            )
            .group_by(key)
            .order_by(func.count().desc(), key)
        )
        rows = result.all()
    return [(str(k), str(lab), int(n), int(c or 0)) for k, lab, n, c in rows]


# ------------------------------------------------------------------ legs


@dataclass(frozen=True, slots=True)
class Leg:
    id: int
    pbx: str
    linkedid: str
    caller_uniqueid: str
    agent_interface: str
    agent_user: int | None
    queue: str | None
    via_transfer: int | None
    started_at: datetime
    ended_at: datetime | None
    hold_seconds: float
    ended_how: str | None

    def as_data(self) -> dict[str, Any]:
        return {
            "agent_interface": self.agent_interface,
            "agent_user": self.agent_user,
            "queue": self.queue,
            "via_transfer": self.via_transfer,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "hold_seconds": round(self.hold_seconds, 1),
            "ended_how": self.ended_how,
        }


def _leg(row: Any) -> Leg:
    return Leg(
        row.id,
        row.pbx,
        row.linkedid,
        row.caller_uniqueid,
        row.agent_interface,
        row.agent_user,
        row.queue,
        row.via_transfer,
        row.started_at,
        row.ended_at,
        row.hold_seconds,
        row.ended_how,
    )


async def open_leg(
    engine: AsyncEngine,
    *,
    pbx: str,
    linkedid: str,
    caller_uniqueid: str,
    agent_interface: str,
    agent_user: int | None,
    queue: str | None,
    via_transfer: int | None,
    started_at: datetime,
) -> None:
    """Write the leg unless it is there already (idempotent: replicas, repeated reports)."""
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(CallLeg).values(
                    pbx=pbx,
                    linkedid=linkedid,
                    caller_uniqueid=caller_uniqueid,
                    agent_interface=agent_interface,
                    agent_user=agent_user,
                    queue=queue,
                    via_transfer=via_transfer,
                    started_at=started_at,
                    hold_seconds=0.0,
                )
            )
    except IntegrityError:
        return


async def open_legs(engine: AsyncEngine) -> list[Leg]:
    async with engine.connect() as conn:
        result = await conn.execute(select(CallLeg).where(CallLeg.ended_at.is_(None)))
        return [_leg(r) for r in result.all()]


async def open_legs_of_caller(engine: AsyncEngine, pbx: str, caller_uniqueid: str) -> list[Leg]:
    async with engine.connect() as conn:
        result = await conn.execute(
            select(CallLeg).where(
                CallLeg.pbx == pbx,
                CallLeg.caller_uniqueid == caller_uniqueid,
                CallLeg.ended_at.is_(None),
            )
        )
        return [_leg(r) for r in result.all()]


async def legs_of(engine: AsyncEngine, pbx: str, linkedid: str) -> list[Leg]:
    async with engine.connect() as conn:
        result = await conn.execute(
            select(CallLeg)
            .where(CallLeg.pbx == pbx, CallLeg.linkedid == linkedid)
            .order_by(CallLeg.started_at, CallLeg.id)
        )
        return [_leg(r) for r in result.all()]


async def close_leg(
    engine: AsyncEngine,
    pbx: str,
    linkedid: str,
    agent_interface: str,
    ended_at: datetime,
    how: str,
) -> bool:
    """End the agent's open leg of the call; False when there was none open."""
    async with engine.begin() as conn:
        result = await conn.execute(
            update(CallLeg)
            .where(
                CallLeg.pbx == pbx,
                CallLeg.linkedid == linkedid,
                CallLeg.agent_interface == agent_interface,
                CallLeg.ended_at.is_(None),
            )
            .values(ended_at=ended_at, ended_how=how)
        )
        return bool(result.rowcount)


async def add_hold(
    engine: AsyncEngine, pbx: str, linkedid: str, agent_interface: str, seconds: float
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            update(CallLeg)
            .where(
                CallLeg.pbx == pbx,
                CallLeg.linkedid == linkedid,
                CallLeg.agent_interface == agent_interface,
                CallLeg.ended_at.is_(None),
            )
            .values(hold_seconds=CallLeg.hold_seconds + max(0.0, seconds))
        )


def rows_of(rows: Sequence[Row]) -> list[dict[str, Any]]:
    return [r.as_data() for r in rows]
