"""HTTP adapter of the agents room: the agent's own desk, the roster of teams for
supervisors and team leaders, and the admin's teams, codes and agent numbers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from callcenter.agents import store
from callcenter.agents.desk import AgentDesk
from callcenter.agents.problems import (
    CODE_FULL,
    NO_SUCH_AGENT,
    NO_SUCH_CODE,
    NO_SUCH_SKILL_QUEUE,
    NOT_SIGNED_IN,
    NOT_STORED,
    OUTSIDE_YOUR_TEAMS,
    PBX_PROBLEMS,
    SIGN_IN_PROBLEMS,
)
from callcenter.agents.skills import MAX_LEVEL, MIN_LEVEL, SKILL_PATTERN
from callcenter.agents.tracker import code_data, state_data
from callcenter.ami.values import Interface
from callcenter.auth.identity import User
from callcenter.auth.permissions import P
from callcenter.feed.serialize import to_data
from callcenter.web import http
from callcenter.web.http import (
    Route,
    needs,
    read_body,
    read_path,
    read_query,
    reply,
    request_user,
)
from callcenter.web.text import ONE_LINE

TEXT = ONE_LINE  # callcenter/web/text.py
Label = Annotated[str, Field(min_length=1, max_length=80, pattern=TEXT)]
QueueName = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[^\x00-\x1f\x7f,|]+$")]
UserId = Annotated[int, Field(ge=1, le=2**53)]


class StrictBody(BaseModel):
    """A JSON body: unknown fields and loose types refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


class SignInBody(StrictBody):
    interface: Interface
    pbx: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")] | None = (
        None
    )


class Empty(StrictBody):
    pass


class NotReadyBody(StrictBody):
    code: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9_-]*$")]


class SignOutBody(StrictBody):
    reason: Annotated[str, Field(max_length=120, pattern=TEXT)] = ""


class SkillsBody(StrictBody):
    skills: dict[str, Annotated[int, Field(ge=MIN_LEVEL, le=MAX_LEVEL)]] = Field(max_length=200)

    @field_validator("skills")
    @classmethod
    def _names(cls, value: dict[str, int]) -> dict[str, int]:
        bad = [name for name in value if not SKILL_PATTERN.match(name)]
        if bad:
            raise ValueError(
                f"not a skill: {', '.join(map(repr, bad[:5]))} (queue:<name> or lang:zh/en)"
            )
        return value


class UserPath(BaseModel):
    user_id: UserId


class HistoryQuery(BaseModel):
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None


# --- answers --------------------------------------------------------------------------------


class SeatData(BaseModel):
    pbx: str
    interface: str
    via: str
    since: datetime | None


class StateData(BaseModel):
    state: str
    code: str
    reason: str
    since: datetime | None
    limit_seconds: int | None
    over_limit: bool


class CodeData(BaseModel):
    # Agents in the code now (or who chose it), as this service instance knows.
    in_use: int
    code: str
    label_zh: str
    label_en: str
    paid: bool
    limit_seconds: int | None
    max_agents: int | None
    active: bool


class MembershipData(BaseModel):
    pbx: str
    queue: str
    penalty: int
    paused: bool
    paused_reason: str
    state: str


class DeskAnswer(BaseModel):
    user_id: int
    signed_in: SeatData | None
    state: StateData
    codes: list[CodeData]
    skills: dict[str, int]
    queues: list[MembershipData]
    pbxs: list[str]
    # The server's clock: pages count time in state from it, not from the browser's.
    now: datetime


class TeamData(BaseModel):
    id: int
    name: str
    label_zh: str
    label_en: str
    queues: list[str]
    leaders: list[int]
    members: list[int]


class RosterAgent(BaseModel):
    user_id: int
    username: str
    display_name: str
    role: str
    teams: list[int]
    signed_in: SeatData | None
    state: StateData
    skills: dict[str, int]
    agent_number: str | None
    pin_set: bool


class RosterAnswer(BaseModel):
    teams: list[TeamData]
    agents: list[RosterAgent]
    codes: list[CodeData]
    queues: list[str]
    scope: str
    now: datetime


class SkillsAnswer(BaseModel):
    user_id: int
    skills: dict[str, int]
    applied: list[str]
    failed: list[str]


class StateRowData(BaseModel):
    state: str
    code: str
    reason: str
    paid: bool
    pbx: str
    interface: str
    started_at: datetime
    ended_at: datetime | None


class HistoryAnswer(BaseModel):
    states: list[StateRowData]


class AgentsApi:
    def __init__(self, desk: AgentDesk) -> None:
        self.desk = desk

    def routes(self) -> Sequence[Route]:
        agent = needs(P.AGENT_SELF)
        tag = "agents"
        return [
            http.get(
                "/api/agent/desk",
                self.my_desk,
                access=agent,
                tag=tag,
                summary="The user's seat, state, codes, skills and queue memberships",
                response=DeskAnswer,
            ),
            http.post(
                "/api/agent/sign-in",
                self.sign_in,
                access=agent,
                tag=tag,
                summary="Sign in at a phone: join the queues of one's skills there",
                body=SignInBody,
                response=DeskAnswer,
                errors=(*SIGN_IN_PROBLEMS, NOT_STORED),
            ),
            http.post(
                "/api/agent/sign-out",
                self.sign_out,
                access=agent,
                tag=tag,
                summary="Sign out: leave every queue at the phone",
                body=Empty,
                response=DeskAnswer,
                errors=(NOT_SIGNED_IN, NOT_STORED),
            ),
            http.post(
                "/api/agent/ready",
                self.ready,
                access=agent,
                tag=tag,
                summary="Ready for calls (ends a not-ready code)",
                body=Empty,
                response=DeskAnswer,
                errors=(NOT_SIGNED_IN, *PBX_PROBLEMS),
            ),
            http.post(
                "/api/agent/not-ready",
                self.not_ready,
                access=agent,
                tag=tag,
                summary="Not ready, with a code (break, lunch...)",
                body=NotReadyBody,
                response=DeskAnswer,
                errors=(NOT_SIGNED_IN, NO_SUCH_CODE, CODE_FULL, NOT_STORED, *PBX_PROBLEMS),
            ),
            http.get(
                "/api/roster",
                self.roster,
                access=needs(P.TEAMS_READ),
                tag=tag,
                summary="Teams and their agents with state, seat and skills (one's scope)",
                response=RosterAnswer,
            ),
            http.put(
                "/api/agents/{user_id}/skills",
                self.set_skills,
                access=needs(P.AGENTS_STEER, P.TEAMS_EDIT),
                tag=tag,
                summary="Set an agent's skills; applied at once to the phone they sit at",
                path_params=UserPath,
                body=SkillsBody,
                response=SkillsAnswer,
                errors=(NO_SUCH_AGENT, NO_SUCH_SKILL_QUEUE, OUTSIDE_YOUR_TEAMS, NOT_STORED),
            ),
            http.post(
                "/api/agents/{user_id}/sign-out",
                self.force_sign_out,
                access=needs(P.AGENTS_STEER),
                tag=tag,
                summary="Sign an agent out of their phone (a supervisor's decision)",
                path_params=UserPath,
                body=SignOutBody,
                response=DeskAnswer,
                errors=(NO_SUCH_AGENT, OUTSIDE_YOUR_TEAMS, NOT_SIGNED_IN, NOT_STORED),
            ),
            http.get(
                "/api/agents/{user_id}/states",
                self.history,
                access=needs(P.TEAMS_READ),
                tag=tag,
                summary="An agent's states over a period (default: the last 24 hours)",
                path_params=UserPath,
                query=HistoryQuery,
                response=HistoryAnswer,
                errors=(NO_SUCH_AGENT, OUTSIDE_YOUR_TEAMS),
            ),
        ]

    # --- the agent's own desk ------------------------------------------------------------

    def desk_data(self, user: User) -> dict[str, Any]:
        desk = self.desk
        now = desk.clock()
        status = desk.status.get(user.id)
        phone = desk.phone_of(user.id)
        members = desk.members.get(phone, {}) if phone is not None else {}
        return {
            "user_id": user.id,
            "signed_in": _seat(status),
            "state": state_data(status, desk.codes, now),
            "codes": [code_data(c, desk.in_code(c.code)) for c in desk.codes.values() if c.active],
            "skills": desk.skills.get(user.id, {}),
            "queues": [
                {
                    "pbx": m.pbx,
                    "queue": m.queue,
                    "penalty": m.penalty,
                    "paused": m.paused,
                    "paused_reason": m.paused_reason,
                    "state": m.state,
                }
                for m in sorted(members.values(), key=lambda m: m.queue)
            ],
            "pbxs": list(desk.pbx_names),
            "now": to_data(now),
        }

    async def my_desk(self, request: web.Request) -> web.Response:
        return reply(self.desk_data(request_user(request)))

    async def sign_in(self, request: web.Request) -> web.Response:
        user = request_user(request)
        body = await read_body(request, SignInBody)
        await self.desk.sign_in(user, user.id, body.interface, body.pbx, "console")
        return reply(self.desk_data(user))

    async def sign_out(self, request: web.Request) -> web.Response:
        user = request_user(request)
        await read_body(request, Empty)
        await self.desk.sign_out(user, user.id, "signed out")
        return reply(self.desk_data(user))

    async def ready(self, request: web.Request) -> web.Response:
        user = request_user(request)
        await read_body(request, Empty)
        await self.desk.ready(user)
        return reply(self.desk_data(user))

    async def not_ready(self, request: web.Request) -> web.Response:
        user = request_user(request)
        body = await read_body(request, NotReadyBody)
        await self.desk.not_ready(user, body.code)
        return reply(self.desk_data(user))

    # --- supervisors and team leaders ----------------------------------------------------

    async def roster(self, request: web.Request) -> web.Response:
        user = request_user(request)
        desk = self.desk
        scope = desk.scope_of(user)
        now = desk.clock()
        teams = [t for t in desk.teams if scope.has_team(t.id)]
        agents = [
            {
                "user_id": u.id,
                "username": u.username,
                "display_name": u.display_name,
                "role": u.role,
                "teams": [t.id for t in desk.teams if t.has(u.id)],
                "signed_in": _seat(desk.status.get(u.id)),
                "state": state_data(desk.status.get(u.id), desk.codes, now),
                "skills": desk.skills.get(u.id, {}),
                "agent_number": desk.numbers.get(u.id, (None, False))[0],
                "pin_set": desk.numbers.get(u.id, (None, False))[1],
            }
            for u in sorted(desk.users.values(), key=lambda u: u.display_name)
            if u.id not in desk.disabled
            and scope.has_user(u.id)
            and (u.may(P.AGENT_SELF) or u.id in desk.status)
        ]
        return reply(
            {
                "teams": [team_data(t) for t in teams],
                "agents": agents,
                "codes": [code_data(c, desk.in_code(c.code)) for c in desk.codes.values()],
                "queues": sorted(
                    desk.all_queues() if scope.everything else desk.all_queues() & scope.queues
                ),
                "scope": "all" if scope.everything else "teams",
                "now": to_data(now),
            }
        )

    def _in_scope(self, actor: User, user_id: int) -> User:
        user = self.desk.user(user_id)
        if not self.desk.scope_of(actor).has_user(user_id):
            raise OUTSIDE_YOUR_TEAMS(f"{user.display_name} is not in your teams")
        return user

    async def set_skills(self, request: web.Request) -> web.Response:
        user_id = read_path(request, UserPath).user_id
        body = await read_body(request, SkillsBody)
        applied, failed = await self.desk.set_skills(request_user(request), user_id, body.skills)
        return reply(
            {"user_id": user_id, "skills": body.skills, "applied": applied, "failed": failed}
        )

    async def force_sign_out(self, request: web.Request) -> web.Response:
        actor = request_user(request)
        user_id = read_path(request, UserPath).user_id
        body = await read_body(request, SignOutBody)
        user = self._in_scope(actor, user_id)
        await self.desk.sign_out(actor, user_id, body.reason or f"signed out by {actor.username}")
        return reply(self.desk_data(user))

    async def history(self, request: web.Request) -> web.Response:
        user_id = read_path(request, UserPath).user_id
        query = read_query(request, HistoryQuery)
        self._in_scope(request_user(request), user_id)
        until = query.until or self.desk.clock()
        since = query.since or until - timedelta(hours=24)
        rows = await store.state_history(self.desk.engine, user_id, since, until)
        return reply(
            {
                "states": [
                    {
                        "state": r.state,
                        "code": r.code,
                        "reason": r.reason,
                        "paid": r.paid,
                        "pbx": r.pbx,
                        "interface": r.interface,
                        "started_at": to_data(r.started_at),
                        "ended_at": to_data(r.ended_at),
                    }
                    for r in rows
                ]
            }
        )


def _seat(status: store.Status | None) -> dict[str, Any] | None:
    if status is None or status.pbx is None or status.interface is None:
        return None
    return {
        "pbx": status.pbx,
        "interface": status.interface,
        "via": status.via,
        "since": to_data(status.signed_in_at),
    }


def team_data(team: Any) -> dict[str, Any]:
    return {
        "id": team.id,
        "name": team.name,
        "label_zh": team.label_zh,
        "label_en": team.label_en,
        "queues": sorted(team.queues),
        "leaders": sorted(team.leaders),
        "members": sorted(team.members),
    }
