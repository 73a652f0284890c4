"""HTTP adapter of the supervisor console: control API, audit, intervals, the wallboard page."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, TypeVar

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from callcenter.auth.identity import STAFF, User, require_user
from callcenter.feed.serialize import dumps, to_data
from callcenter.supervisor import intervals, store
from callcenter.supervisor.control import Control, ControlError, Outcome
from callcenter.web.errors import api_error

if TYPE_CHECKING:
    from callcenter.supervisor.component import SupervisorComponent

STATIC_DIR = Path(__file__).resolve().parents[1] / "web" / "static" / "wallboard"

# Everything that ends up in an AMI header: no control characters (a CR/LF would let a
# request add headers of its own to the action).
_PLAIN = r"^[^\x00-\x1f\x7f]*$"
Interface = Annotated[
    str, Field(min_length=3, max_length=120, pattern=r"^[A-Za-z0-9]+/[^\s,|\x00-\x1f\x7f]+$")
]
Plain = Annotated[str, Field(max_length=120, pattern=_PLAIN)]
Word = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.+-]+$")]


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


class AuditParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str | None = Field(default=None, max_length=80)
    action: str | None = Field(default=None, max_length=40)
    queue: str | None = Field(default=None, max_length=80)
    pbx: str | None = Field(default=None, max_length=32)
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class IntervalParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    minutes: int = Field(default=60, ge=1, le=1440)
    step: int = Field(default=5, ge=1, le=240)
    queue: str | None = Field(default=None, max_length=80)
    pbx: str | None = Field(default=None, max_length=32)


Model = TypeVar("Model", bound=BaseModel)


def _problems(exc: ValidationError) -> web.HTTPException:
    problems = [
        {
            "field": ".".join(str(p) for p in e["loc"]) or "body",
            "problem": e["msg"].removeprefix("Value error, "),
        }
        for e in exc.errors(include_input=False, include_url=False)
    ]
    first = problems[0]
    return api_error(
        400, "invalid-body", f"{first['field']}: {first['problem']}", problems=problems
    )


async def _body(request: web.Request, model: type[Model]) -> Model:
    try:
        data = await request.json()
    except ValueError:
        raise api_error(400, "bad-json", "the request body must be JSON") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _problems(exc) from None


def _query(request: web.Request, model: type[Model]) -> Model:
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise _problems(exc) from None


async def _answer(step: Awaitable[Outcome]) -> web.Response:
    """Runs one control step; a refusal becomes its HTTP error, with nothing changed."""
    try:
        outcome = await step
    except ControlError as exc:
        raise api_error(exc.status, exc.error, exc.message, **exc.details) from None
    return web.json_response(
        {
            "ok": True,
            "action": outcome.action,
            "pbx": outcome.pbx,
            "done": list(outcome.done),
            **to_data(dict(outcome.details)),
        },
        dumps=dumps,
    )


class SupervisorApi:
    def __init__(self, component: SupervisorComponent) -> None:
        self.component = component

    @property
    def control(self) -> Control:
        return self.component.control

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_post("/api/queues/{queue}/members", self.add_member)
        r.add_delete("/api/queues/{queue}/members/{interface}", self.remove_member)
        r.add_post("/api/queues/{queue}/members/{interface}/pause", self.pause)
        r.add_post("/api/queues/{queue}/members/{interface}/penalty", self.penalty)
        r.add_post("/api/queues/{queue}/members/{interface}/ringinuse", self.ringinuse)
        r.add_post("/api/queues/{queue}/callers/{uniqueid}/move", self.move)
        r.add_post("/api/queues/{queue}/callers/{uniqueid}/withdraw", self.withdraw)
        r.add_post("/api/queues/{queue}/callers/{uniqueid}/priority", self.priority)
        r.add_post("/api/agents/{interface}/spy", self.spy)
        r.add_post("/api/agents/{interface}/logout", self.logout)
        r.add_get("/api/audit", self.audit)
        r.add_get("/api/stats/intervals", self.intervals)
        r.add_get("/wallboard", self.wallboard)
        r.add_static("/wallboard/static", STATIC_DIR, append_version=True)

    # The URL carries the interface encoded (PJSIP%2F1001); aiohttp hands it back decoded.

    @staticmethod
    def _target(request: web.Request) -> tuple[User, str, str | None]:
        user = require_user(request, *STAFF)
        return user, request.match_info["queue"], request.query.get("pbx") or None

    async def add_member(self, request: web.Request) -> web.Response:
        user, queue, pbx = self._target(request)
        body = await _body(request, AddMemberBody)
        return await _answer(
            self.control.add_member(
                user,
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
        user, queue, pbx = self._target(request)
        return await _answer(
            self.control.remove_member(user, queue, pbx, request.match_info["interface"])
        )

    async def pause(self, request: web.Request) -> web.Response:
        user, queue, pbx = self._target(request)
        body = await _body(request, PauseBody)
        return await _answer(
            self.control.pause_member(
                user, queue, pbx, request.match_info["interface"], body.paused, body.reason
            )
        )

    async def penalty(self, request: web.Request) -> web.Response:
        user, queue, pbx = self._target(request)
        body = await _body(request, PenaltyBody)
        return await _answer(
            self.control.set_penalty(
                user, queue, pbx, request.match_info["interface"], body.penalty
            )
        )

    async def ringinuse(self, request: web.Request) -> web.Response:
        user, queue, pbx = self._target(request)
        body = await _body(request, RingInUseBody)
        return await _answer(
            self.control.set_ringinuse(
                user, queue, pbx, request.match_info["interface"], body.ringinuse
            )
        )

    async def move(self, request: web.Request) -> web.Response:
        user, queue, pbx = self._target(request)
        body = await _body(request, MoveBody)
        return await _answer(
            self.control.move_caller(
                user,
                queue,
                pbx,
                request.match_info["uniqueid"],
                to_queue=body.to_queue,
                context=body.context,
                exten=body.exten,
                priority=body.priority,
            )
        )

    async def withdraw(self, request: web.Request) -> web.Response:
        user, queue, pbx = self._target(request)
        body = await _body(request, WithdrawBody)
        return await _answer(
            self.control.withdraw_caller(
                user, queue, pbx, request.match_info["uniqueid"], body.info
            )
        )

    async def priority(self, request: web.Request) -> web.Response:
        user, queue, pbx = self._target(request)
        body = await _body(request, PriorityBody)
        return await _answer(
            self.control.change_priority(
                user, queue, pbx, request.match_info["uniqueid"], body.priority
            )
        )

    async def spy(self, request: web.Request) -> web.Response:
        user = require_user(request, *STAFF)
        body = await _body(request, SpyBody)
        return await _answer(
            self.control.spy(
                user,
                request.match_info["interface"],
                request.query.get("pbx") or None,
                body.mode,
                body.supervisor_interface,
            )
        )

    async def logout(self, request: web.Request) -> web.Response:
        user = require_user(request, *STAFF)
        return await _answer(
            self.control.logout_agent(
                user, request.match_info["interface"], request.query.get("pbx") or None
            )
        )

    async def audit(self, request: web.Request) -> web.Response:
        require_user(request, *STAFF)
        params = _query(request, AuditParams)
        if params.since and params.until and params.since >= params.until:
            raise api_error(400, "invalid-body", "since must be before until")
        total, rows = await store.query_audit(
            self.component.engine,
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
            }
            for row in rows
        ]
        return web.json_response(
            {"total": total, "limit": params.limit, "offset": params.offset, "entries": entries},
            dumps=dumps,
        )

    async def intervals(self, request: web.Request) -> web.Response:
        require_user(request, *STAFF)
        params = _query(request, IntervalParams)
        if params.step > params.minutes:
            raise api_error(400, "invalid-body", "step must not exceed minutes")
        # Bars end on the next step boundary, so a bar covers the same minutes on every load.
        now = datetime.now(UTC)
        step = timedelta(minutes=params.step)
        end = datetime.fromtimestamp(
            (now.timestamp() // step.total_seconds() + 1) * step.total_seconds(), UTC
        )
        count = max(1, params.minutes // params.step)
        since = end - step * count
        samples = await intervals.load_samples(
            self.component.engine, since, end, params.queue, params.pbx
        )
        bars = intervals.bucket_calls(samples, end, params.minutes, params.step)
        return web.json_response(
            {
                "minutes": params.minutes,
                "step": params.step,
                "queue": params.queue,
                "intervals": to_data(bars),
            },
            dumps=dumps,
        )

    async def wallboard(self, request: web.Request) -> web.FileResponse:
        # The page asks /api/me itself and shows the login form when nobody is logged in.
        return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})
