"""Database side of the agents room: teams, skills, agent numbers, codes, status, history.

Each function is one short transaction or runs inside the caller's. The status row of an
agent is the unit of concurrency: sign-in claims it (the unique phone key refuses a second
agent on one phone on every replica), and a state change locks it (``FOR UPDATE`` on
PostgreSQL) so two replicas seeing the same change store one history row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.agents.models import (
    AgentProfileRow,
    AgentStateRow,
    AgentStatusRow,
    NotReadyCodeRow,
    SkillRow,
    TeamMemberRow,
    TeamQueueRow,
    TeamRow,
)
from callcenter.agents.scope import Team
from callcenter.agents.states import AgentState, StateName
from callcenter.auth.models import UserRow
from callcenter.clock import utc_now


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    label_zh: str
    label_en: str
    paid: bool
    limit_seconds: int | None
    max_agents: int | None
    active: bool = True


@dataclass(frozen=True, slots=True)
class Status:
    """An agent's status row as the room keeps it in memory."""

    user_id: int
    pbx: str | None
    interface: str | None
    via: str
    signed_in_at: datetime | None
    state: AgentState
    since: datetime
    wanted_code: str
    alerted: bool

    @property
    def signed_in(self) -> bool:
        return self.interface is not None


class PhoneTaken(Exception):
    """Another agent is signed in at this phone."""


# --- teams --------------------------------------------------------------------------------


async def load_teams(engine: AsyncEngine) -> list[Team]:
    async with AsyncSession(engine) as session:
        teams = (await session.execute(select(TeamRow).order_by(TeamRow.name))).scalars().all()
        queues = (await session.execute(select(TeamQueueRow))).scalars().all()
        members = (await session.execute(select(TeamMemberRow))).scalars().all()
    return [
        Team(
            id=t.id,
            name=t.name,
            label_zh=t.label_zh,
            label_en=t.label_en,
            queues=frozenset(q.queue for q in queues if q.team_id == t.id),
            members=frozenset(m.user_id for m in members if m.team_id == t.id and not m.leader),
            leaders=frozenset(m.user_id for m in members if m.team_id == t.id and m.leader),
        )
        for t in teams
    ]


async def save_team(
    session: AsyncSession,
    team_id: int | None,
    *,
    name: str,
    label_zh: str,
    label_en: str,
    queues: Iterable[str],
    members: Iterable[int],
    leaders: Iterable[int],
    at: datetime,
) -> int:
    """Create (``team_id`` None) or replace a team; returns its id. IntegrityError when the
    name is taken or a user does not exist."""
    if team_id is None:
        row = TeamRow(name=name, label_zh=label_zh, label_en=label_en, updated_at=at)
        session.add(row)
        await session.flush()
        team_id = row.id
    else:
        await session.execute(
            update(TeamRow)
            .where(TeamRow.id == team_id)
            .values(name=name, label_zh=label_zh, label_en=label_en, updated_at=at)
        )
        await session.execute(delete(TeamQueueRow).where(TeamQueueRow.team_id == team_id))
        await session.execute(delete(TeamMemberRow).where(TeamMemberRow.team_id == team_id))
    leader_ids = set(leaders)
    session.add_all(TeamQueueRow(team_id=team_id, queue=q) for q in sorted(set(queues)))
    session.add_all(
        TeamMemberRow(team_id=team_id, user_id=u, leader=u in leader_ids)
        for u in sorted(set(members) | leader_ids)
    )
    await session.flush()
    return team_id


async def delete_team(session: AsyncSession, team_id: int) -> bool:
    result = await session.execute(delete(TeamRow).where(TeamRow.id == team_id))
    await session.execute(delete(TeamQueueRow).where(TeamQueueRow.team_id == team_id))
    await session.execute(delete(TeamMemberRow).where(TeamMemberRow.team_id == team_id))
    return bool(getattr(result, "rowcount", 0))


# --- users, agent numbers and skills --------------------------------------------------------


async def user_ids(engine: AsyncEngine, ids: Iterable[int]) -> set[int]:
    wanted = set(ids)
    if not wanted:
        return set()
    async with AsyncSession(engine) as session:
        rows = await session.execute(select(UserRow.id).where(UserRow.id.in_(wanted)))
        return {row[0] for row in rows}


async def load_skills(engine: AsyncEngine) -> dict[int, dict[str, int]]:
    async with AsyncSession(engine) as session:
        rows = (await session.execute(select(SkillRow))).scalars().all()
    skills: dict[int, dict[str, int]] = {}
    for row in rows:
        skills.setdefault(row.user_id, {})[row.skill] = row.level
    return skills


async def replace_skills(session: AsyncSession, user_id: int, skills: Mapping[str, int]) -> None:
    await session.execute(delete(SkillRow).where(SkillRow.user_id == user_id))
    now = utc_now()
    session.add_all(
        SkillRow(user_id=user_id, skill=skill, level=level, updated_at=now)
        for skill, level in sorted(skills.items())
    )
    await session.flush()


async def load_profiles(engine: AsyncEngine) -> dict[int, tuple[str | None, bool]]:
    """Agent number of every user who has a profile, and whether a PIN goes with it."""
    async with AsyncSession(engine) as session:
        rows = (await session.execute(select(AgentProfileRow))).scalars().all()
    return {row.user_id: (row.agent_number, row.pin_hash is not None) for row in rows}


async def save_profile(
    session: AsyncSession,
    user_id: int,
    agent_number: str | None,
    pin_hash: str | None,
    at: datetime,
    *,
    keep_pin: bool,
) -> None:
    row = await session.get(AgentProfileRow, user_id)
    if row is None:
        row = AgentProfileRow(user_id=user_id, updated_at=at)
        session.add(row)
    row.agent_number = agent_number
    if not keep_pin:
        row.pin_hash = pin_hash
    row.updated_at = at
    await session.flush()


async def find_agent_number(
    engine: AsyncEngine, agent_number: str
) -> tuple[int, str | None] | None:
    """The user id and PIN hash of an agent number (enabled users only)."""
    async with AsyncSession(engine) as session:
        row = (
            await session.execute(
                select(AgentProfileRow.user_id, AgentProfileRow.pin_hash)
                .join(UserRow, UserRow.id == AgentProfileRow.user_id)
                .where(AgentProfileRow.agent_number == agent_number, UserRow.disabled.is_(False))
            )
        ).first()
    return None if row is None else (row[0], row[1])


# --- not-ready codes -------------------------------------------------------------------------


def _code(row: NotReadyCodeRow) -> Code:
    return Code(
        row.code,
        row.label_zh,
        row.label_en,
        row.paid,
        row.limit_seconds,
        row.max_agents,
        row.active,
    )


async def load_codes(engine: AsyncEngine) -> list[Code]:
    async with AsyncSession(engine) as session:
        rows = (
            (await session.execute(select(NotReadyCodeRow).order_by(NotReadyCodeRow.code)))
            .scalars()
            .all()
        )
    return [_code(row) for row in rows]


async def seed_codes(engine: AsyncEngine, codes: Iterable[Code], at: datetime) -> int:
    """Create these codes when there are none yet (first start); returns how many."""
    async with AsyncSession(engine) as session, session.begin():
        count = (await session.execute(select(func.count()).select_from(NotReadyCodeRow))).scalar()
        if count:
            return 0
        rows = [
            NotReadyCodeRow(
                code=c.code,
                label_zh=c.label_zh,
                label_en=c.label_en,
                paid=c.paid,
                limit_seconds=c.limit_seconds,
                max_agents=c.max_agents,
                active=c.active,
                updated_at=at,
            )
            for c in codes
        ]
        session.add_all(rows)
    return len(rows)


async def seed_missing_codes(engine: AsyncEngine, codes: Iterable[Code], at: datetime) -> list[str]:
    """Create those of these codes that do not exist (an admin's edits of existing ones are
    kept); returns the names created."""
    created: list[str] = []
    async with AsyncSession(engine) as session, session.begin():
        for code in codes:
            if await session.get(NotReadyCodeRow, code.code) is None:
                await save_code(session, code, at)
                created.append(code.code)
    return created


async def save_code(session: AsyncSession, code: Code, at: datetime) -> Code | None:
    """Create or replace a code; returns the one it replaced."""
    row = await session.get(NotReadyCodeRow, code.code)
    before = None if row is None else _code(row)
    if row is None:
        row = NotReadyCodeRow(code=code.code, updated_at=at)
        session.add(row)
    row.label_zh, row.label_en, row.paid = code.label_zh, code.label_en, code.paid
    row.limit_seconds, row.max_agents, row.active = code.limit_seconds, code.max_agents, code.active
    row.updated_at = at
    await session.flush()
    return before


# --- status and history ---------------------------------------------------------------------


def _status(row: AgentStatusRow) -> Status:
    return Status(
        user_id=row.user_id,
        pbx=row.pbx,
        interface=row.interface,
        via=row.via,
        signed_in_at=row.signed_in_at,
        state=AgentState(StateName(row.state), row.code, row.reason),
        since=row.since,
        wanted_code=row.wanted_code,
        alerted=row.alerted,
    )


async def load_status(engine: AsyncEngine, since: datetime | None = None) -> dict[int, Status]:
    """Every agent's status row, or those changed since a time."""
    statement = select(AgentStatusRow)
    if since is not None:
        statement = statement.where(AgentStatusRow.updated_at >= since)
    async with AsyncSession(engine) as session:
        rows = (await session.execute(statement)).scalars().all()
    return {row.user_id: _status(row) for row in rows}


_MARKED = {
    "teams": TeamRow.updated_at,
    "codes": NotReadyCodeRow.updated_at,
    "skills": SkillRow.updated_at,
    "profiles": AgentProfileRow.updated_at,
}


async def table_marks(engine: AsyncEngine) -> dict[str, tuple[int, datetime | None]]:
    """(row count, latest change) of each small shared table: a refresh re-reads a table
    only when its mark moved (a deletion changes the count, anything else the time)."""
    marks: dict[str, tuple[int, datetime | None]] = {}
    async with AsyncSession(engine) as session:
        for name, column in _MARKED.items():
            count, latest = (await session.execute(select(func.count(), func.max(column)))).one()
            marks[name] = (int(count), latest)
    return marks


async def _locked_status(session: AsyncSession, user_id: int) -> AgentStatusRow | None:
    return (
        await session.execute(
            select(AgentStatusRow).where(AgentStatusRow.user_id == user_id).with_for_update()
        )
    ).scalar_one_or_none()


async def status_of(session: AsyncSession, user_id: int) -> Status | None:
    row = await _locked_status(session, user_id)
    return None if row is None else _status(row)


async def claim_phone(
    session: AsyncSession, user_id: int, pbx: str, interface: str, via: str, at: datetime
) -> Status:
    """Mark the agent signed in at the phone (the caller checked they are signed out or
    already there). PhoneTaken when another agent holds the phone."""
    holder = (
        await session.execute(
            select(AgentStatusRow.user_id).where(
                AgentStatusRow.pbx == pbx, AgentStatusRow.interface == interface
            )
        )
    ).scalar_one_or_none()
    if holder is not None and holder != user_id:
        raise PhoneTaken(holder)
    row = await ensure_status(session, user_id, at)
    if row.interface != interface or row.pbx != pbx:
        row.signed_in_at = at
    row.pbx, row.interface, row.via = pbx, interface, via
    try:
        await session.flush()
    except IntegrityError:
        raise PhoneTaken(None) from None
    return _status(row)


async def release_phone(session: AsyncSession, user_id: int) -> Status | None:
    """Mark the agent signed out; returns their status before (None: no row)."""
    row = await _locked_status(session, user_id)
    if row is None:
        return None
    before = _status(row)
    row.pbx = row.interface = row.signed_in_at = None
    row.wanted_code = ""
    await session.flush()
    return before


async def ensure_status(session: AsyncSession, user_id: int, at: datetime) -> AgentStatusRow:
    row = await _locked_status(session, user_id)
    if row is None:
        row = AgentStatusRow(
            user_id=user_id,
            via="fixed",
            state=StateName.SIGNED_OUT.value,
            code="",
            reason="",
            since=at,
            wanted_code="",
            alerted=False,
        )
        session.add(row)
        await session.flush()
    return row


async def agents_in_code(session: AsyncSession, code: str, other_than: int) -> int:
    return int(
        (
            await session.execute(
                select(func.count())
                .select_from(AgentStatusRow)
                .where(
                    AgentStatusRow.user_id != other_than,
                    (AgentStatusRow.wanted_code == code)
                    | (
                        (AgentStatusRow.state == StateName.NOT_READY.value)
                        & (AgentStatusRow.code == code)
                    ),
                )
            )
        ).scalar()
        or 0
    )


async def lock_code(session: AsyncSession, code: str) -> Code | None:
    row = (
        await session.execute(
            select(NotReadyCodeRow).where(NotReadyCodeRow.code == code).with_for_update()
        )
    ).scalar_one_or_none()
    return None if row is None else _code(row)


async def record_state(
    session: AsyncSession,
    user_id: int,
    state: AgentState,
    at: datetime,
    *,
    paid: bool,
    pbx: str,
    interface: str,
) -> bool:
    """Close the agent's open history row and open one for ``state``; False (nothing
    written) when the stored state is already this one or is newer than ``at`` (another
    replica stored this change, or a later one, first)."""
    row = await ensure_status(session, user_id, at)
    current = AgentState(StateName(row.state), row.code, row.reason)
    if current == state or row.since > at:
        return False
    await session.execute(
        update(AgentStateRow)
        .where(AgentStateRow.user_id == user_id, AgentStateRow.ended_at.is_(None))
        .values(ended_at=at)
    )
    session.add(
        AgentStateRow(
            user_id=user_id,
            state=state.state.value,
            code=state.code,
            reason=state.reason[:120],
            paid=paid,
            pbx=pbx,
            interface=interface,
            started_at=at,
            ended_at=None,
        )
    )
    row.state, row.code, row.reason = state.state.value, state.code, state.reason[:120]
    row.since, row.alerted = at, False
    # The chosen code is over once the agent is ready, signed out or in another code (a
    # call or after-call work in between leaves it: they go back to it).
    if state.state in (StateName.READY, StateName.SIGNED_OUT) or (
        state.state is StateName.NOT_READY and state.code != row.wanted_code
    ):
        row.wanted_code = ""
    await session.flush()
    return True


async def mark_alerted(engine: AsyncEngine, user_id: int, since: datetime) -> bool:
    """Claim the over-limit alert of this state (one replica wins)."""
    async with AsyncSession(engine) as session, session.begin():
        result = await session.execute(
            update(AgentStatusRow)
            .where(
                AgentStatusRow.user_id == user_id,
                AgentStatusRow.since == since,
                AgentStatusRow.alerted.is_(False),
            )
            .values(alerted=True)
        )
    return bool(getattr(result, "rowcount", 0))


async def state_history(
    engine: AsyncEngine, user_id: int, since: datetime, until: datetime, limit: int = 500
) -> list[AgentStateRow]:
    async with AsyncSession(engine) as session:
        rows = (
            await session.execute(
                select(AgentStateRow)
                .where(
                    AgentStateRow.user_id == user_id,
                    AgentStateRow.started_at < until,
                    (AgentStateRow.ended_at.is_(None)) | (AgentStateRow.ended_at > since),
                )
                .order_by(AgentStateRow.started_at.desc())
                .limit(limit)
            )
        ).scalars()
        return list(rows)
