"""HTTP adapter of the floor's set-up: teams, not-ready codes, agent numbers and PINs, and
the admin page (users and roles are the auth room's, ``callcenter/auth/admin.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.agents import store
from callcenter.agents.api import (
    TEXT,
    CodeData,
    Label,
    QueueName,
    StrictBody,
    TeamData,
    UserId,
    UserPath,
    team_data,
)
from callcenter.agents.desk import AgentDesk
from callcenter.agents.problems import NO_SUCH_AGENT, NOT_STORED
from callcenter.agents.store import Code
from callcenter.agents.tracker import code_data
from callcenter.auth.identity import User
from callcenter.auth.passwords import hash_pin
from callcenter.auth.permissions import P
from callcenter.web import http
from callcenter.web.errors import Problem
from callcenter.web.http import PUBLIC, Route, needs, read_body, read_path, reply, request_user

STATIC_DIR = Path(__file__).resolve().parents[1] / "web" / "static" / "admin"
NO_SUCH_TEAM = Problem(404, "no-such-team", "no team of that id")
TEAM_NAME_TAKEN = Problem(409, "team-name-taken", "another team has that name")
NO_SUCH_USER = Problem(404, "no-such-user", "a user named in the team does not exist")
NUMBER_TAKEN = Problem(409, "agent-number-taken", "another agent has that number")


class TeamBody(StrictBody):
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=TEXT)]
    label_zh: Annotated[str, Field(max_length=120, pattern=TEXT)] = ""
    label_en: Annotated[str, Field(max_length=120, pattern=TEXT)] = ""
    queues: list[QueueName] = Field(default_factory=list, max_length=200)
    leaders: list[UserId] = Field(default_factory=list, max_length=1000)
    members: list[UserId] = Field(default_factory=list, max_length=5000)


class CodeBody(StrictBody):
    label_zh: Label
    label_en: Label
    paid: bool = True
    limit_seconds: Annotated[int, Field(ge=1, le=86_400)] | None = None
    max_agents: Annotated[int, Field(ge=1, le=10_000)] | None = None
    active: bool = True


class ProfileBody(StrictBody):
    agent_number: Annotated[str, Field(pattern=r"^[0-9]{1,16}$")] | None = None
    # None keeps the PIN there is; 4-8 digits.
    pin: Annotated[str, Field(pattern=r"^[0-9]{4,8}$")] | None = None


class TeamPath(BaseModel):
    team_id: UserId


class CodePath(BaseModel):
    code: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9_-]*$")]


class Deleted(BaseModel):
    deleted: bool


class ProfileAnswer(BaseModel):
    user_id: int
    agent_number: str | None
    pin_set: bool


class AdminApi:
    def __init__(self, desk: AgentDesk) -> None:
        self.desk = desk

    def routes(self) -> Sequence[Route]:
        tag = "agents"
        return [
            http.post(
                "/api/teams",
                self.create_team,
                access=needs(P.TEAMS_EDIT),
                tag=tag,
                summary="Create a team",
                body=TeamBody,
                response=TeamData,
                status=201,
                errors=(TEAM_NAME_TAKEN, NO_SUCH_USER, NOT_STORED),
            ),
            http.put(
                "/api/teams/{team_id}",
                self.update_team,
                access=needs(P.TEAMS_EDIT),
                tag=tag,
                summary="Replace a team's name, labels, queues, leaders and members",
                path_params=TeamPath,
                body=TeamBody,
                response=TeamData,
                errors=(NO_SUCH_TEAM, TEAM_NAME_TAKEN, NO_SUCH_USER, NOT_STORED),
            ),
            http.delete(
                "/api/teams/{team_id}",
                self.delete_team,
                access=needs(P.TEAMS_EDIT),
                tag=tag,
                summary="Delete a team (its agents stay)",
                path_params=TeamPath,
                response=Deleted,
                errors=(NO_SUCH_TEAM,),
            ),
            http.put(
                "/api/not-ready-codes/{code}",
                self.save_code,
                access=needs(P.TEAMS_EDIT),
                tag=tag,
                summary="Create or change a not-ready code",
                path_params=CodePath,
                body=CodeBody,
                response=CodeData,
                errors=(NOT_STORED,),
            ),
            http.put(
                "/api/agents/{user_id}/profile",
                self.save_profile,
                access=needs(P.TEAMS_EDIT),
                tag=tag,
                summary="An agent's number and PIN for signing in at a phone's feature code",
                path_params=UserPath,
                body=ProfileBody,
                response=ProfileAnswer,
                errors=(NO_SUCH_AGENT, NUMBER_TAKEN, NOT_STORED),
            ),
            http.get(
                "/admin",
                self.admin_page,
                access=PUBLIC,
                kind="page",
                content_type="text/html",
                tag=tag,
                summary="The admin page: teams, codes, agents, users and roles",
            ),
            http.static(
                "/admin/static",
                STATIC_DIR,
                access=PUBLIC,
                summary="Scripts and styles of the admin page",
            ),
        ]

    # --- admin -------------------------------------------------------------------------

    async def create_team(self, request: web.Request) -> web.Response:
        body = await read_body(request, TeamBody)
        team_id = await self._save_team(request_user(request), None, body)
        return reply(self._team_answer(team_id), status=201)

    async def update_team(self, request: web.Request) -> web.Response:
        team_id = read_path(request, TeamPath).team_id
        body = await read_body(request, TeamBody)
        if not any(t.id == team_id for t in self.desk.teams):
            await self.desk.refresh_shared(force=True)
            if not any(t.id == team_id for t in self.desk.teams):
                raise NO_SUCH_TEAM(f"no team {team_id}")
        await self._save_team(request_user(request), team_id, body)
        return reply(self._team_answer(team_id))

    async def _save_team(self, actor: User, team_id: int | None, body: TeamBody) -> int:
        desk = self.desk
        wanted = set(body.members) | set(body.leaders)
        missing = sorted(wanted - await store.user_ids(desk.engine, wanted))
        if missing:
            raise NO_SUCH_USER(f"no user(s) {', '.join(map(str, missing))}", users=missing)
        before = next((t for t in desk.teams if t.id == team_id), None)
        try:
            async with AsyncSession(desk.engine) as session, session.begin():
                saved = await store.save_team(
                    session,
                    team_id,
                    name=body.name,
                    label_zh=body.label_zh,
                    label_en=body.label_en,
                    queues=body.queues,
                    members=body.members,
                    leaders=body.leaders,
                    at=desk.clock(),
                )
                session.add(
                    desk._entry(
                        actor,
                        "team.save",
                        None,
                        "",
                        body.name,
                        True,
                        f"team {body.name}",
                        {
                            "before": None if before is None else team_data(before),
                            "after": body.model_dump(),
                        },
                    )
                )
        except IntegrityError:
            raise TEAM_NAME_TAKEN(f"a team named {body.name!r} exists already") from None
        except SQLAlchemyError as exc:
            raise NOT_STORED(f"the team was not stored ({type(exc).__name__})") from None
        await desk.refresh_shared(force=True)
        return saved

    def _team_answer(self, team_id: int) -> dict[str, Any]:
        team = next(t for t in self.desk.teams if t.id == team_id)
        return team_data(team)

    async def delete_team(self, request: web.Request) -> web.Response:
        team_id = read_path(request, TeamPath).team_id
        desk = self.desk
        async with AsyncSession(desk.engine) as session, session.begin():
            deleted = await store.delete_team(session, team_id)
            if deleted:
                session.add(
                    desk._entry(
                        request_user(request), "team.delete", None, "", str(team_id), True, ""
                    )
                )
        if not deleted:
            raise NO_SUCH_TEAM(f"no team {team_id}")
        await desk.refresh_shared(force=True)
        return reply({"deleted": True})

    async def save_code(self, request: web.Request) -> web.Response:
        name = read_path(request, CodePath).code
        body = await read_body(request, CodeBody)
        code = Code(
            name,
            body.label_zh,
            body.label_en,
            body.paid,
            body.limit_seconds,
            body.max_agents,
            body.active,
        )
        desk = self.desk
        try:
            async with AsyncSession(desk.engine) as session, session.begin():
                before = await store.save_code(session, code, desk.clock())
                session.add(
                    desk._entry(
                        request_user(request),
                        "code.save",
                        None,
                        "",
                        name,
                        True,
                        f"not-ready code {name}",
                        {
                            "before": None if before is None else code_data(before),
                            "after": code_data(code),
                        },
                    )
                )
        except SQLAlchemyError as exc:
            raise NOT_STORED(f"the code was not stored ({type(exc).__name__})") from None
        await desk.refresh_shared(force=True)
        return reply(code_data(code, desk.in_code(code.code)))

    async def save_profile(self, request: web.Request) -> web.Response:
        user_id = read_path(request, UserPath).user_id
        body = await read_body(request, ProfileBody)
        desk = self.desk
        user = desk.user(user_id)
        pin_hash = None if body.pin is None else hash_pin(body.pin)
        try:
            async with AsyncSession(desk.engine) as session, session.begin():
                await store.save_profile(
                    session,
                    user_id,
                    body.agent_number,
                    pin_hash,
                    desk.clock(),
                    keep_pin=body.pin is None,
                )
                session.add(
                    desk._entry(
                        request_user(request),
                        "agent.profile",
                        user,
                        "",
                        "",
                        True,
                        f"agent number {body.agent_number or '-'}"
                        + ("; PIN changed" if body.pin else ""),
                    )
                )
        except IntegrityError:
            raise NUMBER_TAKEN(f"agent number {body.agent_number} is taken") from None
        except SQLAlchemyError as exc:
            raise NOT_STORED(f"the profile was not stored ({type(exc).__name__})") from None
        await desk.refresh_shared(force=True)
        return reply(
            {
                "user_id": user_id,
                "agent_number": body.agent_number,
                "pin_set": desk.numbers.get(user_id, (None, False))[1],
            }
        )

    async def admin_page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})
