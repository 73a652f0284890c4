"""Who is making a request: the contract every room's handlers rely on.

The session middleware (``callcenter/auth``) puts the logged-in ``User`` on the request under
``USER``; handlers ask for it with ``require_user(request, *roles)``, which answers 401 when
nobody is logged in and 403 when the role is not allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from callcenter.web.errors import api_error

Role = Literal["agent", "supervisor", "admin"]
ROLES: tuple[Role, ...] = ("agent", "supervisor", "admin")
STAFF: tuple[Role, ...] = ("supervisor", "admin")

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
    def is_staff(self) -> bool:
        return self.role in STAFF


def current_user(request: web.Request) -> User | None:
    return request.get(USER)


def require_user(request: web.Request, *roles: Role) -> User:
    user = current_user(request)
    if user is None:
        raise api_error(401, "not-logged-in", "log in first")
    if roles and user.role not in roles:
        raise api_error(403, "forbidden", f"a {user.role} may not do this", allowed=list(roles))
    return user
