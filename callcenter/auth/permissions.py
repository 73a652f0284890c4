"""Named permissions, and the roles that are sets of them.

Routes declare the permissions they need (``callcenter.web.http.needs``); a user holds the
permissions of their role. Adding a role means adding a set here, not touching any route.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class Permission(enum.StrEnum):
    # The live picture of queues and agents (callers' numbers masked unless CALLERS_SEE).
    LIVE_READ = "live:read"
    # Callers' full numbers and names on every live view, not only on one's own calls.
    CALLERS_SEE = "callers:see"
    # The wallboard's feed (/ws/live): every change, callers' numbers included, as it happens.
    LIVE_FEED = "live:feed"
    # One's own console: pops, pause, state of one's own phone(s).
    AGENT_SELF = "agent:self"
    CALLS_READ_OWN = "calls:read-own"
    CALLS_READ_ALL = "calls:read-all"
    CALLS_WRAP_UP = "calls:wrap-up"
    CUSTOMERS_READ = "customers:read"
    CUSTOMERS_EDIT = "customers:edit"
    # VIP level and tags steer routing (the IVR queues a VIP first): staff only.
    CUSTOMERS_CLASSIFY = "customers:classify"
    QUEUES_CONTROL = "queues:control"
    AGENTS_SPY = "agents:spy"
    AUDIT_READ = "audit:read"
    STATS_READ = "stats:read"
    ROUTING_READ = "routing:read"
    ROUTING_EDIT = "routing:edit"
    METRICS_READ = "metrics:read"


P = Permission

_AGENT = frozenset(
    {
        P.LIVE_READ,
        P.AGENT_SELF,
        P.CALLS_READ_OWN,
        P.CALLS_WRAP_UP,
        P.CUSTOMERS_READ,
        P.CUSTOMERS_EDIT,
    }
)
_SUPERVISOR = _AGENT | {
    P.CALLERS_SEE,
    P.LIVE_FEED,
    P.CALLS_READ_ALL,
    P.CUSTOMERS_CLASSIFY,
    P.QUEUES_CONTROL,
    P.AGENTS_SPY,
    P.AUDIT_READ,
    P.STATS_READ,
    P.ROUTING_READ,
    P.ROUTING_EDIT,
}

ROLE_PERMISSIONS: Mapping[str, frozenset[Permission]] = {
    "agent": _AGENT,
    "supervisor": frozenset(_SUPERVISOR),
    "admin": frozenset(Permission),
}


def permissions_of(role: str) -> frozenset[Permission]:
    """An unknown role (a row written by a newer version, say) holds nothing."""
    return ROLE_PERMISSIONS.get(role, frozenset())
