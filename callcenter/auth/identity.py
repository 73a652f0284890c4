"""Who is making a request: the contract every room's handlers rely on.

The access middleware (``callcenter/web/http.py``) asks the auth room who holds the session
cookie and puts that ``User`` (or None) on the request under ``USER``; it has already refused
the request when the route's declared access does not admit that user. Handlers that need
the user read it with ``callcenter.web.http.request_user``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from aiohttp import web

from callcenter.auth.permissions import Permission, permissions_of

Role = Literal[
    "agent",
    "team_leader",
    "qa_evaluator",
    "supervisor",
    "planner",
    "admin",
    "security_admin",
    "audit_admin",
]
ROLES: tuple[Role, ...] = get_args(Role)

USER: web.RequestKey[User | None] = web.RequestKey("user")


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    display_name: str
    role: Role
    # Queue-member interfaces of this person's phone(s), e.g. ("PJSIP/1001",): how the
    # service knows whose phone rings.
    interfaces: tuple[str, ...] = ()
    language: str = "zh"

    @property
    def permissions(self) -> frozenset[Permission]:
        return permissions_of(self.role)

    def may(self, permission: Permission) -> bool:
        return permission in self.permissions
