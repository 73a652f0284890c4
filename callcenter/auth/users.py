"""Users in the database: create, list, change password, disable (CLI and service)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.auth.identity import ROLES, Role, User
from callcenter.auth.models import SessionRow, UserRow
from callcenter.auth.passwords import hash_password

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
INTERFACE_PATTERN = re.compile(r"^[A-Za-z0-9]+/[^\s,]+$")
LANGUAGES = ("zh", "en")


@dataclass(frozen=True, slots=True)
class NewUser:
    """A user to create, as ``add_users`` takes it (``user_import`` reads them from CSV)."""

    username: str
    password: str
    role: str
    display_name: str
    interfaces: tuple[str, ...]
    language: str

    def __repr__(self) -> str:  # never the password, in a log or a traceback
        return f"NewUser({self.username!r}, role={self.role!r})"


class UserError(ValueError):
    """A user cannot be created or changed as asked; the text says why."""


def user_from_row(row: UserRow) -> User:
    return User(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=cast(Role, row.role),
        interfaces=tuple(row.interfaces or ()),
        language=row.language,
    )


def check_user_fields(username: str, role: str, interfaces: Sequence[str], language: str) -> None:
    if not USERNAME_PATTERN.match(username):
        raise UserError("a username is 1-64 letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    for interface in interfaces:
        if not INTERFACE_PATTERN.match(interface):
            raise UserError(f"{interface!r} is not a queue-member interface like PJSIP/1001")
    if language not in LANGUAGES:
        raise UserError(f"language must be one of {', '.join(LANGUAGES)}")


async def add_user(
    engine: AsyncEngine,
    username: str,
    password: str,
    *,
    role: str,
    display_name: str = "",
    interfaces: Sequence[str] = (),
    language: str = "zh",
) -> User:
    check_user_fields(username, role, interfaces, language)
    user = NewUser(username, password, role, display_name, tuple(interfaces), language)
    row = _new_row(user, hash_password(password), datetime.now(UTC))
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            session.add(row)
    except IntegrityError:
        raise UserError(f"user {username!r} exists already") from None
    return user_from_row(row)


async def add_users(
    engine: AsyncEngine, users: Sequence[NewUser], *, skip_existing: bool = False
) -> tuple[list[User], list[str]]:
    """Create many users in one transaction: all of them, or none if one exists already
    (unless ``skip_existing``: those are left as they are). The users created, and the
    usernames that existed."""
    for user in users:
        check_user_fields(user.username, user.role, user.interfaces, user.language)
    names = [user.username for user in users]
    # Hashed before the transaction opens: argon2 takes a while per password, and a write
    # transaction held meanwhile would hold up the running service (SQLite's one writer).
    hashes = [hash_password(user.password) for user in users]
    now = datetime.now(UTC)
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        existing = set(
            (await session.execute(select(UserRow.username).where(UserRow.username.in_(names))))
            .scalars()
            .all()
        )
        if existing and not skip_existing:
            raise UserError(f"these users exist already: {', '.join(sorted(existing))}")
        rows = [
            _new_row(user, password_hash, now)
            for user, password_hash in zip(users, hashes, strict=True)
            if user.username not in existing
        ]
        session.add_all(rows)
        try:
            await session.flush()
        except IntegrityError:
            # Another process created one of them meanwhile: nothing of this file is kept.
            raise UserError("a user of the file was created meanwhile; nothing imported") from None
    return [user_from_row(row) for row in rows], sorted(existing)


def _new_row(user: NewUser, password_hash: str, now: datetime) -> UserRow:
    return UserRow(
        username=user.username,
        display_name=user.display_name or user.username,
        role=user.role,
        password_hash=password_hash,
        interfaces=list(user.interfaces),
        language=user.language,
        disabled=False,
        created_at=now,
        updated_at=now,
    )


async def list_users(engine: AsyncEngine) -> list[tuple[User, bool]]:
    """Every user with whether it is disabled, by username."""
    async with AsyncSession(engine) as session:
        rows = (await session.execute(select(UserRow).order_by(UserRow.username))).scalars()
        return [(user_from_row(row), row.disabled) for row in rows]


async def find_login(engine: AsyncEngine, username: str) -> tuple[User, str] | None:
    """The enabled user with this username and its password hash."""
    async with AsyncSession(engine) as session:
        row = (
            await session.execute(
                select(UserRow).where(UserRow.username == username, UserRow.disabled.is_(False))
            )
        ).scalar_one_or_none()
        return None if row is None else (user_from_row(row), row.password_hash)


async def users_changed_since(
    engine: AsyncEngine, since: datetime, page_size: int = 500
) -> list[tuple[User, bool]]:
    """Users changed since a time, with whether each is disabled now.

    Read a page at a time, handing the loop back between pages: a refresh after a bulk
    import must not hold up the pops for the whole list."""
    changed: list[tuple[User, bool]] = []
    last_id = 0
    while True:
        async with AsyncSession(engine) as session:
            rows = (
                (
                    await session.execute(
                        select(UserRow)
                        .where(UserRow.updated_at >= since, UserRow.id > last_id)
                        .order_by(UserRow.id)
                        .limit(page_size)
                    )
                )
                .scalars()
                .all()
            )
            changed.extend((user_from_row(row), row.disabled) for row in rows)
        if len(rows) < page_size:
            return changed
        last_id = rows[-1].id
        await asyncio.sleep(0)


async def set_password(engine: AsyncEngine, username: str, password: str) -> None:
    password_hash = hash_password(password)
    async with AsyncSession(engine) as session, session.begin():
        row = await _get(session, username)
        row.password_hash = password_hash
        row.updated_at = datetime.now(UTC)
        # A new password ends every session opened with the old one.
        await session.execute(delete(SessionRow).where(SessionRow.user_id == row.id))


async def disable_user(engine: AsyncEngine, username: str) -> None:
    async with AsyncSession(engine) as session, session.begin():
        row = await _get(session, username)
        row.disabled = True
        row.updated_at = datetime.now(UTC)
        await session.execute(delete(SessionRow).where(SessionRow.user_id == row.id))


async def set_role(engine: AsyncEngine, user_id: int, role: str) -> tuple[str, str]:
    """Give the user another role and end their sessions; returns (username, old role)."""
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    async with AsyncSession(engine) as session, session.begin():
        row = await session.get(UserRow, user_id)
        if row is None:
            raise UserError(f"no user {user_id}")
        # Read inside the transaction: the row's attributes expire at its commit.
        username, before = row.username, row.role
        row.role = role
        row.updated_at = datetime.now(UTC)
        await session.execute(delete(SessionRow).where(SessionRow.user_id == row.id))
    return username, before


async def _get(session: AsyncSession, username: str) -> UserRow:
    row = (
        await session.execute(select(UserRow).where(UserRow.username == username))
    ).scalar_one_or_none()
    if row is None:
        raise UserError(f"no user {username!r}")
    return row
