"""The security administrator's users & roles API, through the auth room's real sessions:
only ``users:admin`` lists users and changes roles, a changed role ends the user's sessions at
once, nobody changes their own role, and every role is listed with its permissions.

A real SQLite database (migrated to head), the auth room with its session store and audit
log, and the HTTP stack; each person holds a session made by the store, sent as the cookie.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.audit.log import AuditLog
from callcenter.audit.models import AuditEntry
from callcenter.auth.admin import RoleList, UserList
from callcenter.auth.identity import ROLES, Role, User
from callcenter.auth.models import SessionRow, UserRow
from callcenter.auth.permissions import ROLE_PERMISSIONS, Permission
from callcenter.auth.room import AuthRoom
from callcenter.auth.sessions import COOKIE_NAME
from callcenter.auth.users import user_from_row
from callcenter.settings import AuthSettings
from callcenter.store.db import create_engine
from callcenter.store.migrate import upgrade_to_head
from callcenter.web.app import create_app

ORIGIN = "http://admin.test"
# username: (role, disabled)
PEOPLE: dict[str, tuple[Role, bool]] = {
    "sec": ("security_admin", False),
    "sec2": ("security_admin", False),
    "root": ("admin", False),
    "boss": ("supervisor", False),
    "auditor": ("audit_admin", False),
    "wang": ("agent", False),
    "gone": ("agent", True),
}


class Office:
    """The auth room behind HTTP, and a session cookie per person."""

    client: TestClient[Any, Any]

    def __init__(self, engine: AsyncEngine, users: dict[str, User]) -> None:
        self.engine = engine
        self.users = users
        self.room = AuthRoom(engine, AuthSettings(), audit=AuditLog(engine))
        self.tokens: dict[str, str] = {}

    async def log_in(self, who: str) -> None:
        self.tokens[who] = await self.room.sessions.create(self.users[who])

    async def call(self, who: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Origin": ORIGIN}
        if who in self.tokens:
            headers["Cookie"] = f"{COOKIE_NAME}={self.tokens[who]}"
        async with self.client.request(method, path, json=body, headers=headers) as response:
            return response.status, await response.json()

    async def role_of(self, who: str) -> str:
        async with AsyncSession(self.engine) as session:
            role = await session.scalar(select(UserRow.role).where(UserRow.username == who))
        assert role is not None
        return role

    async def sessions_of(self, who: str) -> int:
        async with AsyncSession(self.engine) as session:
            count = await session.scalar(
                select(func.count())
                .select_from(SessionRow)
                .where(SessionRow.user_id == self.users[who].id)
            )
        return int(count or 0)

    async def audit(self, action: str) -> list[AuditEntry]:
        async with AsyncSession(self.engine) as session:
            rows = await session.execute(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
            return list(rows.scalars())


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    await upgrade_to_head(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def office(engine: AsyncEngine) -> AsyncIterator[Office]:
    now = datetime.now(UTC)
    rows = [
        UserRow(
            username=username,
            display_name=username.title(),
            role=role,
            password_hash="-",  # nobody logs in with a password here
            interfaces=["PJSIP/1001"] if username == "wang" else [],
            language="zh",
            disabled=disabled,
            created_at=now,
            updated_at=now,
        )
        for username, (role, disabled) in PEOPLE.items()
    ]
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        session.add_all(rows)
    office = Office(engine, {row.username: user_from_row(row) for row in rows})
    for who in PEOPLE:
        if who != "gone":
            await office.log_in(who)
    app = create_app([office.room], office.room.authenticate, public_origins=[ORIGIN])
    async with TestClient(TestServer(app)) as client:
        office.client = client
        yield office


async def test_only_the_security_administrator_lists_users(office: Office) -> None:
    for who in ("boss", "wang", "auditor"):
        status, body = await office.call(who, "GET", "/api/users")
        assert (status, body["error"]) == (403, "forbidden"), (who, body)
    status, body = await office.call("nobody", "GET", "/api/users")
    assert status == 401, body

    status, body = await office.call("sec", "GET", "/api/users")
    assert status == 200, body
    listed = UserList.model_validate(body).users
    assert [u.username for u in listed] == sorted(PEOPLE)  # by username
    wang = next(u for u in listed if u.username == "wang")
    assert (wang.id, wang.role, wang.interfaces, wang.language, wang.disabled) == (
        office.users["wang"].id,
        "agent",
        ["PJSIP/1001"],
        "zh",
        False,
    )
    assert next(u for u in listed if u.username == "gone").disabled is True
    # The all-powerful admin role holds users:admin too.
    status, _ = await office.call("root", "GET", "/api/users")
    assert status == 200


async def test_only_the_security_administrator_changes_roles(office: Office) -> None:
    wang = office.users["wang"].id
    for who in ("boss", "wang", "auditor"):
        status, body = await office.call(
            who, "PUT", f"/api/users/{wang}/role", {"role": "supervisor"}
        )
        assert (status, body["error"]) == (403, "forbidden"), (who, body)
    assert await office.role_of("wang") == "agent"
    assert await office.sessions_of("wang") == 1
    assert await office.audit("user.role") == []


async def test_a_changed_role_ends_the_users_sessions_at_once(office: Office) -> None:
    # wang works: his session is looked up (and cached by the store).
    status, body = await office.call("wang", "GET", "/api/me")
    assert (status, body["user"]["role"]) == (200, "agent")
    await office.log_in("wang")  # a second browser
    assert await office.sessions_of("wang") == 2

    wang = office.users["wang"].id
    status, body = await office.call(
        "sec", "PUT", f"/api/users/{wang}/role", {"role": "team_leader"}
    )
    assert status == 200, body
    assert body == {"id": wang, "role": "team_leader", "before": "agent"}
    assert await office.role_of("wang") == "team_leader"

    # Both of wang's sessions are over, the cached one included; nobody else's is.
    assert await office.sessions_of("wang") == 0
    status, body = await office.call("wang", "GET", "/api/me")
    assert (status, body["error"]) == (401, "not-logged-in"), body
    for who in ("sec", "boss"):
        status, _ = await office.call(who, "GET", "/api/me")
        assert status == 200, who
    # Logged in again, wang holds the new role's permissions.
    await office.log_in("wang")
    status, body = await office.call("wang", "GET", "/api/me")
    assert status == 200
    assert body["user"]["role"] == "team_leader"
    assert "agents:steer" in body["user"]["permissions"]

    (entry,) = await office.audit("user.role")
    assert (entry.username, entry.target, entry.ok) == ("sec", "wang", True)
    assert entry.parameters == {"before": "agent", "after": "team_leader"}
    assert entry.message == "wang: agent -> team_leader"


async def test_nobody_changes_their_own_role(office: Office) -> None:
    me = office.users["sec"].id
    status, body = await office.call("sec", "PUT", f"/api/users/{me}/role", {"role": "admin"})
    assert (status, body["error"]) == (409, "own-role"), body
    assert await office.role_of("sec") == "security_admin"
    assert await office.sessions_of("sec") == 1
    # Another security administrator may.
    status, body = await office.call("sec2", "PUT", f"/api/users/{me}/role", {"role": "agent"})
    assert status == 200, body
    assert await office.role_of("sec") == "agent"
    assert await office.audit("user.role") != []


async def test_role_changes_that_cannot_be(office: Office) -> None:
    wang = office.users["wang"].id
    cases: list[tuple[str, Any, int, str]] = [
        ("/api/users/999999/role", {"role": "agent"}, 404, "no-such-user"),
        (f"/api/users/{wang}/role", {"role": "emperor"}, 400, "invalid-body"),
        (f"/api/users/{wang}/role", {"role": "agent", "extra": 1}, 400, "invalid-body"),
        (f"/api/users/{wang}/role", {}, 400, "invalid-body"),
        ("/api/users/0/role", {"role": "agent"}, 400, "invalid-path"),
        ("/api/users/abc/role", {"role": "agent"}, 400, "invalid-path"),
    ]
    for path, payload, status, error in cases:
        got, body = await office.call("sec", "PUT", path, payload)
        assert (got, body["error"]) == (status, error), (path, payload, body)
    assert await office.role_of("wang") == "agent"
    assert await office.sessions_of("wang") == 1
    assert await office.audit("user.role") == []


async def test_every_role_is_listed_with_its_permissions(office: Office) -> None:
    for who in ("wang", "auditor"):
        status, body = await office.call(who, "GET", "/api/roles")
        assert (status, body["error"]) == (403, "forbidden"), (who, body)
    # users:admin, or teams:edit (the supervisor's team editor on the admin page).
    for who in ("sec", "root", "boss"):
        status, body = await office.call(who, "GET", "/api/roles")
        assert status == 200, (who, body)
        answer = RoleList.model_validate(body)
        assert [r.role for r in answer.roles] == list(ROLES)
        for role in answer.roles:
            assert set(role.permissions) == {p.value for p in ROLE_PERMISSIONS[role.role]}
            assert role.permissions == sorted(role.permissions)
        assert set(answer.permissions) == {p.value for p in Permission}
    by_role = {r["role"]: r["permissions"] for r in body["roles"]}
    assert by_role["security_admin"] == sorted(["users:admin", "teams:read", "teams:all"])
    assert "users:admin" not in by_role["supervisor"]
