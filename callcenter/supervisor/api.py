"""HTTP adapter of the supervisor console: control API, audit, intervals, the wallboard page."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.ami.values import PLAIN_PATTERN, Interface, Plain
from callcenter.auth.permissions import P, Permission
from callcenter.feed.serialize import to_data
from callcenter.supervisor import intervals, store
from callcenter.supervisor.control import (
    AGENT_NOT_ON_CALL,
    ALREADY_HANDLED,
    ALREADY_MEMBER,
    AMBIGUOUS_AGENT,
    AMBIGUOUS_QUEUE,
    NO_DYNAMIC_MEMBERSHIP,
    NO_SUCH_AGENT,
    NO_SUCH_CALLER,
    NO_SUCH_MEMBER,
    NO_SUCH_QUEUE,
    NO_SUPERVISOR_PHONE,
    OUTSIDE_YOUR_TEAMS,
    PBX_ERROR,
    PBX_REFUSED,
    PBX_TIMEOUT,
    PBX_UNAVAILABLE,
    SAME_QUEUE,
    Control,
    Outcome,
)
from callcenter.supervisor.intervals import Interval
from callcenter.web import http
from callcenter.web.errors import INVALID_QUERY, Handler, Problem
from callcenter.web.http import (
    PUBLIC,
    Method,
    Route,
    needs,
    read_body,
    read_path,
    read_query,
    reply,
    request_user,
)

STATIC_DIR = Path(__file__).resolve().parents[1] / "web" / "static" / "wallboard"

# Everything that ends up in an AMI header: no control characters (a CR/LF would let a
# request add headers of its own to the action).
_PLAIN = PLAIN_PATTERN
Word = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.+-]+$")]
# A queue as the live model names it (queues.conf section); an unknown one is a 404 later.
QueueName = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[^\x00-\x1f\x7f]+$")]
# Asterisk's uniqueid: "1700000000.12", with the system name in front when one is set.
UniqueId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
PbxName = Annotated[str, Field(max_length=32, pattern=_PLAIN)]

# The ways every queue or member action can end without changing anything. A user without
# ``teams:all`` acting on another team's queue or agent: OUTSIDE_YOUR_TEAMS (control.py).
_PBX = (PBX_REFUSED, PBX_ERROR, PBX_UNAVAILABLE, PBX_TIMEOUT)
_QUEUE = (OUTSIDE_YOUR_TEAMS, NO_SUCH_QUEUE, AMBIGUOUS_QUEUE)
_MEMBER = (*_QUEUE, NO_SUCH_MEMBER, *_PBX)
_CALLER = (*_QUEUE, NO_SUCH_CALLER, *_PBX)
_AGENT = (OUTSIDE_YOUR_TEAMS, NO_SUCH_AGENT, AMBIGUOUS_AGENT, *_PBX)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class AddMemberBody(_Body):
    interface: Interface
    name: Plain = ""
    penalty: int = Field(default=0, ge=0, le=1000)
    paused: bool = False
    reason: Annotated[str, Field(max_length=80, pattern=_PLAIN)] = ""
    state_interface: Annotated[
        str, Field(max_length=120, pattern=r"^([A-Za-z0-9]+/[^\s,|\x00-\x1f\x7f]+)?$")
    ] = ""


class PauseBody(_Body):
    paused: bool
    reason: Annotated[str, Field(max_length=80, pattern=_PLAIN)] = ""


class PenaltyBody(_Body):
    penalty: int = Field(ge=0, le=1000)


class RingInUseBody(_Body):
    ringinuse: bool


class MoveBody(_Body):
    to_queue: Word | None = None
    context: Word | None = None
    exten: Word | None = None
    priority: int = Field(default=1, ge=1, le=10000)

    @model_validator(mode="after")
    def _one_destination(self) -> MoveBody:
        if (self.to_queue is None) == (self.context is None or self.exten is None):
            raise ValueError("give either to_queue, or context and exten")
        if self.to_queue is not None and (self.context or self.exten):
            raise ValueError("give either to_queue, or context and exten, not both")
        return self


class WithdrawBody(_Body):
    info: Annotated[str, Field(max_length=120, pattern=_PLAIN)] = ""


class PriorityBody(_Body):
    priority: int = Field(ge=0, le=1_000_000)


class SpyBody(_Body):
    mode: Literal["listen", "whisper", "barge"]
    supervisor_interface: Interface | None = None


# --- URL parts ---------------------------------------------------------------------------
# The URL carries an interface encoded (PJSIP%2F1001); aiohttp hands it back decoded.


class QueuePath(BaseModel):
    queue: QueueName


class MemberPath(BaseModel):
    queue: QueueName
    interface: Interface


class CallerPath(BaseModel):
    queue: QueueName
    uniqueid: UniqueId


class AgentPath(BaseModel):
    interface: Interface


class PbxQuery(BaseModel):
    """``?pbx=NAME`` when the queue or agent exists on several PBXs (empty: any)."""

    pbx: PbxName = ""


class AuditParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str | None = Field(default=None, max_length=80)
    action: str | None = Field(default=None, max_length=40)
    queue: str | None = Field(default=None, max_length=80)
    pbx: str | None = Field(default=None, max_length=32)
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    limit: int = Field(default=50, ge=1, le=500)
    # Bounded so that no number too big for SQL's OFFSET reaches the database.
    offset: int = Field(default=0, ge=0, le=10_000_000)


class IntervalParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    minutes: int = Field(default=60, ge=1, le=1440)
    step: int = Field(default=5, ge=1, le=240)
    queue: str | None = Field(default=None, max_length=80)
    pbx: str | None = Field(default=None, max_length=32)


# --- answers ----------------------------------------------------------------------------


class ActionDone(BaseModel):
    """A control action went through; extra keys are the action's own details (the spied
    channel, the re-apply failures...)."""

    model_config = ConfigDict(extra="allow")
    ok: bool
    action: str
    pbx: str
    done: list[str]


class AuditRow(BaseModel):
    id: int
    at: datetime
    user: str
    action: str
    pbx: str
    queue: str | None
    target: str
    parameters: dict[str, Any]
    ok: bool
    message: str
    # Where the request came from (acts of users; empty for the service's own re-applies).
    address: str | None


class AuditPage(BaseModel):
    total: int
    limit: int
    offset: int
    entries: list[AuditRow]


class IntervalBars(BaseModel):
    minutes: int
    step: int
    queue: str | None
    intervals: list[Interval]


async def _answer(step: Awaitable[Outcome]) -> web.Response:
    """Runs one control step. A refusal is a ``ControlError`` (an ``ApiError``): it leaves
    through here as its own HTTP error, with nothing changed."""
    outcome = await step
    return reply(
        {
            "ok": True,
            "action": outcome.action,
            "pbx": outcome.pbx,
            "done": list(outcome.done),
            **to_data(dict(outcome.details)),
        }
    )


def _pbx(request: web.Request) -> str | None:
    return read_query(request, PbxQuery).pbx or None


class SupervisorApi:
    def __init__(self, control: Control, engine: AsyncEngine) -> None:
        self.control = control
        self.engine = engine

    def routes(self) -> Sequence[Route]:
        tag = "supervisor"
        member = "/api/queues/{queue}/members/{interface}"
        caller = "/api/queues/{queue}/callers/{uniqueid}"

        def action(
            method: Method,
            path: str,
            handler: Handler,
            summary: str,
            where: type[BaseModel],
            errors: tuple[Problem, ...],
            body: type[BaseModel] | None = None,
            access: Permission = P.QUEUES_CONTROL,
        ) -> Route:
            """A control action: ``?pbx=``, the target in the path, one ``ActionDone``."""
            return http.route(
                method,
                path,
                handler,
                access=needs(access),
                tag=tag,
                summary=summary,
                path_params=where,
                query=PbxQuery,
                body=body,
                response=ActionDone,
                errors=errors,
            )

        return [
            action(
                "POST",
                "/api/queues/{queue}/members",
                self.add_member,
                "Add a member to a queue (a dynamic member)",
                QueuePath,
                (*_QUEUE, ALREADY_MEMBER, *_PBX),
                AddMemberBody,
            ),
            action(
                "DELETE",
                member,
                self.remove_member,
                "Remove a member from a queue",
                MemberPath,
                _MEMBER,
            ),
            action(
                "POST",
                member + "/pause",
                self.pause,
                "Pause or unpause a member in a queue",
                MemberPath,
                _MEMBER,
                PauseBody,
            ),
            action(
                "POST",
                member + "/penalty",
                self.penalty,
                "Set a member's penalty in a queue",
                MemberPath,
                _MEMBER,
                PenaltyBody,
            ),
            action(
                "POST",
                member + "/ringinuse",
                self.ringinuse,
                "Ring a member who is already on a call, or not",
                MemberPath,
                _MEMBER,
                RingInUseBody,
            ),
            action(
                "POST",
                caller + "/move",
                self.move,
                "Move a waiting caller to another queue or a dialplan place",
                CallerPath,
                (*_CALLER, SAME_QUEUE, ALREADY_HANDLED),
                MoveBody,
            ),
            action(
                "POST",
                caller + "/withdraw",
                self.withdraw,
                "Withdraw a waiting caller from the queue",
                CallerPath,
                (*_CALLER, ALREADY_HANDLED),
                WithdrawBody,
            ),
            action(
                "POST",
                caller + "/priority",
                self.priority,
                "Change a waiting caller's priority",
                CallerPath,
                _CALLER,
                PriorityBody,
            ),
            action(
                "POST",
                "/api/agents/{interface}/spy",
                self.spy,
                "Listen to, whisper to or barge into an agent's call",
                AgentPath,
                (*_AGENT, NO_SUPERVISOR_PHONE, AGENT_NOT_ON_CALL),
                SpyBody,
                access=P.AGENTS_SPY,
            ),
            action(
                "POST",
                "/api/agents/{interface}/logout",
                self.logout,
                "Log an agent out of every queue they joined dynamically",
                AgentPath,
                (*_AGENT, NO_DYNAMIC_MEMBERSHIP),
            ),
            http.get(
                "/api/audit",
                self.audit,
                access=needs(P.AUDIT_READ),
                tag=tag,
                summary="Supervisor actions, newest first",
                query=AuditParams,
                response=AuditPage,
            ),
            http.get(
                "/api/stats/intervals",
                self.intervals,
                access=needs(P.STATS_READ),
                tag=tag,
                summary="Calls offered, answered and abandoned per interval",
                query=IntervalParams,
                response=IntervalBars,
            ),
            # The page asks /api/me itself and shows its login form to nobody logged in.
            http.get(
                "/wallboard",
                self.wallboard,
                access=PUBLIC,
                kind="page",
                content_type="text/html",
                tag=tag,
                summary="The wallboard and supervisor console page",
            ),
            http.static(
                "/wallboard/static",
                STATIC_DIR,
                access=PUBLIC,
                summary="Scripts and styles of the wallboard page",
            ),
        ]

    async def add_member(self, request: web.Request) -> web.Response:
        queue = read_path(request, QueuePath).queue
        pbx = _pbx(request)
        body = await read_body(request, AddMemberBody)
        return await _answer(
            self.control.add_member(
                request_user(request),
                queue,
                pbx,
                interface=body.interface,
                name=body.name,
                penalty=body.penalty,
                paused=body.paused,
                reason=body.reason,
                state_interface=body.state_interface,
            )
        )

    async def remove_member(self, request: web.Request) -> web.Response:
        path = read_path(request, MemberPath)
        pbx = _pbx(request)
        return await _answer(
            self.control.remove_member(request_user(request), path.queue, pbx, path.interface)
        )

    async def pause(self, request: web.Request) -> web.Response:
        path = read_path(request, MemberPath)
        pbx = _pbx(request)
        body = await read_body(request, PauseBody)
        return await _answer(
            self.control.pause_member(
                request_user(request), path.queue, pbx, path.interface, body.paused, body.reason
            )
        )

    async def penalty(self, request: web.Request) -> web.Response:
        path = read_path(request, MemberPath)
        pbx = _pbx(request)
        body = await read_body(request, PenaltyBody)
        return await _answer(
            self.control.set_penalty(
                request_user(request), path.queue, pbx, path.interface, body.penalty
            )
        )

    async def ringinuse(self, request: web.Request) -> web.Response:
        path = read_path(request, MemberPath)
        pbx = _pbx(request)
        body = await read_body(request, RingInUseBody)
        return await _answer(
            self.control.set_ringinuse(
                request_user(request), path.queue, pbx, path.interface, body.ringinuse
            )
        )

    async def move(self, request: web.Request) -> web.Response:
        path = read_path(request, CallerPath)
        pbx = _pbx(request)
        body = await read_body(request, MoveBody)
        return await _answer(
            self.control.move_caller(
                request_user(request),
                path.queue,
                pbx,
                path.uniqueid,
                to_queue=body.to_queue,
                context=body.context,
                exten=body.exten,
                priority=body.priority,
            )
        )

    async def withdraw(self, request: web.Request) -> web.Response:
        path = read_path(request, CallerPath)
        pbx = _pbx(request)
        body = await read_body(request, WithdrawBody)
        return await _answer(
            self.control.withdraw_caller(
                request_user(request), path.queue, pbx, path.uniqueid, body.info
            )
        )

    async def priority(self, request: web.Request) -> web.Response:
        path = read_path(request, CallerPath)
        pbx = _pbx(request)
        body = await read_body(request, PriorityBody)
        return await _answer(
            self.control.change_priority(
                request_user(request), path.queue, pbx, path.uniqueid, body.priority
            )
        )

    async def spy(self, request: web.Request) -> web.Response:
        interface = read_path(request, AgentPath).interface
        pbx = _pbx(request)
        body = await read_body(request, SpyBody)
        return await _answer(
            self.control.spy(
                request_user(request), interface, pbx, body.mode, body.supervisor_interface
            )
        )

    async def logout(self, request: web.Request) -> web.Response:
        interface = read_path(request, AgentPath).interface
        pbx = _pbx(request)
        return await _answer(self.control.logout_agent(request_user(request), interface, pbx))

    async def audit(self, request: web.Request) -> web.Response:
        params = read_query(request, AuditParams)
        if params.since and params.until and params.since >= params.until:
            raise INVALID_QUERY("since must be before until", field="since")
        total, rows = await store.query_audit(
            self.engine,
            store.AuditQuery(
                username=params.user,
                action=params.action,
                queue=params.queue,
                pbx=params.pbx,
                since=params.since,
                until=params.until,
                limit=params.limit,
                offset=params.offset,
            ),
        )
        entries = [
            {
                "id": row.id,
                "at": row.at.isoformat(),
                "user": row.username,
                "action": row.action,
                "pbx": row.pbx,
                "queue": row.queue,
                "target": row.target,
                "parameters": row.parameters,
                "ok": row.ok,
                "message": row.message,
                "address": row.address,
            }
            for row in rows
        ]
        return reply(
            {"total": total, "limit": params.limit, "offset": params.offset, "entries": entries}
        )

    async def intervals(self, request: web.Request) -> web.Response:
        params = read_query(request, IntervalParams)
        if params.step > params.minutes:
            raise INVALID_QUERY("step must not exceed minutes", field="step")
        # Bars end on the next step boundary, so a bar covers the same minutes on every load.
        now = datetime.now(UTC)
        step = timedelta(minutes=params.step)
        end = datetime.fromtimestamp(
            (now.timestamp() // step.total_seconds() + 1) * step.total_seconds(), UTC
        )
        count = max(1, params.minutes // params.step)
        since = end - step * count
        samples = await intervals.load_samples(self.engine, since, end, params.queue, params.pbx)
        bars = intervals.bucket_calls(samples, end, params.minutes, params.step)
        return reply(
            {
                "minutes": params.minutes,
                "step": params.step,
                "queue": params.queue,
                "intervals": to_data(bars),
            }
        )

    async def wallboard(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})
