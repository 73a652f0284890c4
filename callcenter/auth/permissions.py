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
    # Teams, their members and agents' states and skills (the wallboard's agents by team).
    TEAMS_READ = "teams:read"
    # Scope: every team's queues and agents. Without it, a user sees and steers only the
    # teams they lead or belong to (``callcenter.agents.scope``).
    TEAMS_ALL = "teams:all"
    # Steer agents: force a sign-out, change an agent's skills live.
    AGENTS_STEER = "agents:steer"
    # Define teams, not-ready codes, agent numbers and skills of anyone.
    TEAMS_EDIT = "teams:edit"
    # Users and the roles they hold (the security administrator's one job).
    USERS_ADMIN = "users:admin"
    # Review and score calls (the quality evaluator).
    QA_REVIEW = "qa:review"
    # Shifts, forecasts and staffing plans (the workforce planner).
    PLANNING_EDIT = "planning:edit"
    # Work items (follow-ups, callbacks, complaints): one's own and one's teams' pools.
    WORK_OWN = "work:own"
    # Every work item in one's scope (all teams, or the teams one leads): filters, counts,
    # bulk reassign, escalations.
    WORK_SUPERVISE = "work:supervise"
    # Queue settings (strategy, timeouts, announcements, exits) applied to the PBX, and the
    # announcements library.
    QUEUES_CONFIGURE = "queues:configure"
    # The blocked-numbers list and the screening log.
    SCREENING_EDIT = "screening:edit"
    # The transfer directory (teams and departments calls are passed to, their tiers).
    TRANSFERS_EDIT = "transfers:edit"
    # One's own daily work log: write, save, submit (seed 001: 客服代表每日填写工作日志).
    WORKLOG_WRITE = "worklog:write"
    # Check the work logs of one's teams: comment, sign off, send back, the roll-up.
    WORKLOG_REVIEW = "worklog:review"
    # The rota: shifts, their times, days and people (supervisors; everyone logged in reads).
    SHIFTS_EDIT = "shifts:edit"


P = Permission

_AGENT = frozenset(
    {
        P.LIVE_READ,
        P.AGENT_SELF,
        P.CALLS_READ_OWN,
        P.CALLS_WRAP_UP,
        P.CUSTOMERS_READ,
        P.CUSTOMERS_EDIT,
        P.WORK_OWN,
        P.WORKLOG_WRITE,
    }
)
# First line's team leader: steers their own teams' queues and agents only.
_TEAM_LEADER = _AGENT | {
    P.CALLERS_SEE,
    P.LIVE_FEED,
    P.CALLS_READ_ALL,
    P.QUEUES_CONTROL,
    P.AGENTS_SPY,
    P.AGENTS_STEER,
    P.STATS_READ,
    P.TEAMS_READ,
    P.ROUTING_READ,
    P.WORK_SUPERVISE,
    # 主管定期检查: a team leader checks their own teams' work logs (scope narrows it).
    P.WORKLOG_REVIEW,
}
# The floor's supervisor (seed 003's management tier): every team, and the floor's set-up
# (teams, not-ready codes, skills).
_SUPERVISOR = _TEAM_LEADER | {
    P.TEAMS_ALL,
    P.TEAMS_EDIT,
    P.CUSTOMERS_CLASSIFY,
    P.AUDIT_READ,
    P.ROUTING_EDIT,
    P.QUEUES_CONFIGURE,
    P.SCREENING_EDIT,
    P.SHIFTS_EDIT,
}
_QA_EVALUATOR = frozenset(
    {
        P.LIVE_READ,
        P.CALLS_READ_ALL,
        P.CUSTOMERS_READ,
        P.QA_REVIEW,
        P.STATS_READ,
        P.TEAMS_READ,
        P.TEAMS_ALL,
    }
)
_PLANNER = frozenset(
    {
        P.LIVE_READ,
        P.STATS_READ,
        P.TEAMS_READ,
        P.TEAMS_ALL,
        P.ROUTING_READ,
        P.PLANNING_EDIT,
        # The rota is the planner's work as much as the supervisor's.
        P.SHIFTS_EDIT,
    }
)
# Separation of duties (等保 three-administrator model): the security administrator manages
# accounts and roles and nothing else; the audit administrator only reads the audit trail.
_SECURITY_ADMIN = frozenset({P.USERS_ADMIN, P.TEAMS_READ, P.TEAMS_ALL})
_AUDIT_ADMIN = frozenset({P.AUDIT_READ})

ROLE_PERMISSIONS: Mapping[str, frozenset[Permission]] = {
    "agent": _AGENT,
    "team_leader": frozenset(_TEAM_LEADER),
    "qa_evaluator": _QA_EVALUATOR,
    "supervisor": frozenset(_SUPERVISOR),
    "planner": _PLANNER,
    # Everything: small sites. Sites that need separation of duties give nobody this role
    # and use security_admin and audit_admin instead.
    "admin": frozenset(Permission),
    "security_admin": _SECURITY_ADMIN,
    "audit_admin": _AUDIT_ADMIN,
}


def permissions_of(role: str) -> frozenset[Permission]:
    """An unknown role (a row written by a newer version, say) holds nothing."""
    return ROLE_PERMISSIONS.get(role, frozenset())
