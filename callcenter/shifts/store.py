"""Database side of the rota: the shifts seeded from the configuration, then edited by
supervisors (``api.py``). Each function is one short transaction; what it reads or writes
comes back as the pure ``rota.ShiftDef``.

- Seeding stores a configured shift only when its name was never stored: a shift edited
  since is left as supervisors made it, and a deleted one stays deleted (its row is kept as a
  tombstone, ``deleted_at``). Two replicas seeding at once both succeed: whichever stores a
  name first wins it (the other's IntegrityError on the unique name is no failure).
- Changes are whole replacements guarded by the shift's ``version``: an edit names the
  version it read, and a shift changed meanwhile is refused (``StaleShift``), never
  overwritten. A deletion and a re-creation of a deleted name move the version on as well;
  of two re-creations of one deleted name at once, one wins and the other is ``ShiftExists``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.auth.models import UserRow
from callcenter.shifts.models import Shift
from callcenter.shifts.rota import WEEKDAYS, ShiftDef, parse_hhmm

log = logging.getLogger(__name__)

SEEDED_BY = "config"


class ShiftExists(Exception):
    """A shift of that name is in the rota already (the name in ``args[0]``)."""


class NoSuchShift(Exception):
    """No shift of that name (or only a deleted one)."""


class StaleShift(Exception):
    """The shift changed since the version the caller read; ``current`` is how it is now."""

    def __init__(self, current: ShiftDef, version: int) -> None:
        super().__init__(f"shift {current.name} is at version {current.version}, not {version}")
        self.current = current
        self.version = version


def to_shift(row: Shift) -> ShiftDef:
    return ShiftDef(
        name=row.name,
        label=row.label,
        start=parse_hhmm(row.start_time),
        end=parse_hhmm(row.end_time),
        days=frozenset(WEEKDAYS.index(d) for d in row.days or () if d in WEEKDAYS),
        user_ids=frozenset(int(u) for u in row.user_ids or ()),
        team_ids=frozenset(int(t) for t in row.team_ids or ()),
        version=row.version,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


def _values(shift: ShiftDef) -> dict[str, Any]:
    """The row's columns a change replaces (all but id, name, version and who/when)."""
    return {
        "label": shift.label,
        "start_time": shift.start.strftime("%H:%M"),
        "end_time": shift.end.strftime("%H:%M"),
        "days": shift.day_names(),
        "user_ids": sorted(shift.user_ids),
        "team_ids": sorted(shift.team_ids),
    }


def _new_row(shift: ShiftDef, by: str, at: datetime) -> Shift:
    return Shift(name=shift.name, version=1, updated_by=by[:80], updated_at=at, **_values(shift))


def _stored(shift: ShiftDef, row: Shift) -> ShiftDef:
    return replace(shift, version=row.version, updated_by=row.updated_by, updated_at=row.updated_at)


async def stored_names(engine: AsyncEngine) -> set[str]:
    """Every name the table holds, deleted shifts' too."""
    async with AsyncSession(engine) as session:
        return set((await session.scalars(select(Shift.name))).all())


async def seed_shifts(engine: AsyncEngine, seeds: Sequence[ShiftDef], at: datetime) -> list[str]:
    """Store the configured shifts whose name was never stored; the names added, in the
    order of ``seeds``."""
    present = await stored_names(engine)
    added: list[str] = []
    for shift in seeds:
        if shift.name in present:
            continue
        try:
            async with AsyncSession(engine) as session, session.begin():
                session.add(_new_row(shift, SEEDED_BY, at))
        except IntegrityError:
            log.info("shift %s was seeded by another replica", shift.name)
            continue
        added.append(shift.name)
    if added:
        log.info("rota seeded with shift(s) %s", ", ".join(added))
    return added


async def load_shifts(engine: AsyncEngine) -> list[ShiftDef]:
    """The rota: every shift not deleted, by name."""
    async with AsyncSession(engine) as session:
        rows = (
            await session.scalars(
                select(Shift).where(Shift.deleted_at.is_(None)).order_by(Shift.name)
            )
        ).all()
    return [to_shift(row) for row in rows]


async def get_shift(engine: AsyncEngine, name: str) -> ShiftDef | None:
    async with AsyncSession(engine) as session:
        row = await session.scalar(
            select(Shift).where(Shift.name == name, Shift.deleted_at.is_(None))
        )
        return None if row is None else to_shift(row)


async def create_shift(engine: AsyncEngine, shift: ShiftDef, by: str, at: datetime) -> ShiftDef:
    """Store a new shift (``shift.version`` is not read); ``ShiftExists`` when its name is
    taken. The name of a deleted shift may be used again: its tombstone comes back to life
    at the next version (so the configuration still does not seed it)."""
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            row = await session.scalar(
                select(Shift).where(Shift.name == shift.name).with_for_update()
            )
            if row is None:
                row = _new_row(shift, by, at)
                session.add(row)
                await session.flush()
                return _stored(shift, row)
            if row.deleted_at is None:
                raise ShiftExists(shift.name)
            version = row.version + 1
            # Guarded by the version: of two re-creations at once (SQLite takes no row lock
            # on the SELECT above), the second changes nothing and must not answer 201.
            changed = await session.execute(
                update(Shift)
                .where(Shift.id == row.id, Shift.version == row.version)
                .values(
                    version=version,
                    updated_by=by[:80],
                    updated_at=at,
                    deleted_at=None,
                    **_values(shift),
                )
                .execution_options(synchronize_session=False)
            )
            if not getattr(changed, "rowcount", 0):
                raise ShiftExists(shift.name)
            return replace(shift, version=version, updated_by=by[:80], updated_at=at)
    except IntegrityError:
        raise ShiftExists(shift.name) from None


async def user_names(engine: AsyncEngine, ids: Collection[int]) -> dict[int, str]:
    """The names of these accounts, disabled ones too (the agents room offers only the
    active ones; a shift keeps a disabled member, and the page names them)."""
    if not ids:
        return {}
    async with AsyncSession(engine) as session:
        found = (
            await session.execute(
                select(UserRow.id, UserRow.display_name, UserRow.username).where(
                    UserRow.id.in_(sorted(ids))
                )
            )
        ).all()
    return {uid: display or username for uid, display, username in found}


async def update_shift(
    engine: AsyncEngine, shift: ShiftDef, version: int, by: str, at: datetime
) -> tuple[ShiftDef, ShiftDef]:
    """Replace the shift of ``shift.name`` with ``shift``, if it is still at ``version``:
    (before, after). ``NoSuchShift`` or ``StaleShift`` (with the stored shift); nothing is
    changed then."""
    name = shift.name
    by_name = select(Shift).where(Shift.name == name, Shift.deleted_at.is_(None))
    async with AsyncSession(engine) as session, session.begin():
        row = await session.scalar(by_name.with_for_update())
        if row is None:
            raise NoSuchShift(name)
        before = to_shift(row)
        if before.version != version:
            raise StaleShift(before, version)
        # Guarded by the version too: a writer that slipped in between is not overwritten.
        changed = await session.execute(
            update(Shift)
            .where(Shift.id == row.id, Shift.version == version, Shift.deleted_at.is_(None))
            .values(version=version + 1, updated_by=by[:80], updated_at=at, **_values(shift))
            .execution_options(synchronize_session=False)
        )
        if not getattr(changed, "rowcount", 0):
            now = await session.scalar(by_name.execution_options(populate_existing=True))
            if now is None:
                raise NoSuchShift(name)
            raise StaleShift(to_shift(now), version)
    return before, replace(shift, version=version + 1, updated_by=by[:80], updated_at=at)


async def delete_shift(engine: AsyncEngine, name: str, by: str, at: datetime) -> ShiftDef | None:
    """Delete one shift (kept as a tombstone); what it was, or None when there was none."""
    async with AsyncSession(engine) as session, session.begin():
        row = await session.scalar(
            select(Shift).where(Shift.name == name, Shift.deleted_at.is_(None)).with_for_update()
        )
        if row is None:
            return None
        before = to_shift(row)
        await session.execute(
            update(Shift)
            .where(Shift.id == row.id)
            .values(version=row.version + 1, updated_by=by[:80], updated_at=at, deleted_at=at)
            .execution_options(synchronize_session=False)
        )
    return before
