"""The security administrator's API: who the users are and which role each holds.

Kept apart from every other permission (``users:admin``) so that a site can give account
management to one person, the audit trail to another and the floor to supervisors (the
three-administrator separation 等保 asks for). A changed role ends the user's sessions: the
next request meets the new permissions at login, not up to a cache's lifetime later.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import get_args

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from callcenter.audit.log import Audit
from callcenter.auth import users
from callcenter.auth.identity import Role
from callcenter.auth.permissions import ROLE_PERMISSIONS, P, Permission
from callcenter.auth.sessions import SessionStore
from callcenter.web import http
from callcenter.web.errors import Problem
from callcenter.web.http import Route, needs, read_body, read_path, reply, request_user

NO_SUCH_USER = Problem(404, "no-such-user", "no user of that id")
OWN_ROLE = Problem(409, "own-role", "nobody changes their own role")


class RoleBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    role: Role


class UserPath(BaseModel):
    user_id: int = Field(ge=1, le=2**53)


class UserRowData(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    language: str
    interfaces: list[str]
    disabled: bool


class UserList(BaseModel):
    users: list[UserRowData]


class RoleData(BaseModel):
    role: str
    permissions: list[str]


class RoleList(BaseModel):
    roles: list[RoleData]
    permissions: list[str]


class RoleChanged(BaseModel):
    id: int
    role: str
    before: str


class UsersAdminApi:
    def __init__(self, sessions: SessionStore, audit: Audit | None) -> None:
        self.sessions = sessions
        self.engine = sessions.engine
        self.audit = audit

    def routes(self) -> Sequence[Route]:
        admin = needs(P.USERS_ADMIN)
        return [
            http.get(
                "/api/users",
                self.list_users,
                access=admin,
                tag="auth",
                summary="Every user with their role (the security administrator's list)",
                response=UserList,
            ),
            http.put(
                "/api/users/{user_id}/role",
                self.set_role,
                access=admin,
                tag="auth",
                summary="Give a user another role (ends their sessions)",
                path_params=UserPath,
                body=RoleBody,
                response=RoleChanged,
                errors=(NO_SUCH_USER, OWN_ROLE),
            ),
            http.get(
                "/api/roles",
                self.roles,
                access=needs(P.USERS_ADMIN, P.TEAMS_EDIT),
                tag="auth",
                summary="The roles and the permissions each holds",
                response=RoleList,
            ),
        ]

    async def list_users(self, request: web.Request) -> web.Response:
        listed = await users.list_users(self.engine)
        return reply(
            {
                "users": [
                    {
                        "id": u.id,
                        "username": u.username,
                        "display_name": u.display_name,
                        "role": u.role,
                        "language": u.language,
                        "interfaces": list(u.interfaces),
                        "disabled": disabled,
                    }
                    for u, disabled in listed
                ]
            }
        )

    async def set_role(self, request: web.Request) -> web.Response:
        actor = request_user(request)
        user_id = read_path(request, UserPath).user_id
        body = await read_body(request, RoleBody)
        if user_id == actor.id:
            raise OWN_ROLE("ask another security administrator to change your role")
        try:
            username, before = await users.set_role(self.engine, user_id, body.role)
        except users.UserError:
            raise NO_SUCH_USER(f"no user {user_id}") from None
        self.sessions.forget_user(user_id)
        if self.audit is not None:
            await self.audit.record(
                request,
                actor,
                "user.role",
                username,
                parameters={"before": before, "after": body.role},
                message=f"{username}: {before} -> {body.role}",
            )
        return reply({"id": user_id, "role": body.role, "before": before})

    async def roles(self, request: web.Request) -> web.Response:
        return reply(
            {
                "roles": [
                    {"role": role, "permissions": sorted(ROLE_PERMISSIONS[role])}
                    for role in get_args(Role)
                ],
                "permissions": [p.value for p in Permission],
            }
        )
