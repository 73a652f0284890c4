"""HTTP adapter of the transfer directory: the teams and departments agents pass calls to.

GET    /api/transfer-targets          the directory, by tier then slug (disabled ones too)
POST   /api/transfer-targets          a new target -> 201; 409 target-exists
PUT    /api/transfer-targets/{slug}   the whole target with the version read -> 200;
                                      404 no-such-target, 409 stale-target (the stored one)
DELETE /api/transfer-targets/{slug}   404 no-such-target

A target its kind cannot reach (a queue target without a queue, a bad interface, an outside
number without its trunk context) is a 400 incomplete-target. Every change is audited
(``transfer.target.create|update|delete``, with the target before and after) and then
``on_change`` is awaited, so the room reloads its directory.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.audit.log import Audit
from callcenter.auth.permissions import P
from callcenter.clock import Clock, utc_now
from callcenter.feed.serialize import to_data
from callcenter.transfers import targets as store
from callcenter.transfers.directory import Target
from callcenter.web import http
from callcenter.web.errors import ApiError, Problem
from callcenter.web.http import Route, needs, read_body, read_path, reply, request_user
from callcenter.web.text import ONE_LINE

TARGET_EXISTS = Problem(409, "target-exists", "a transfer target of that slug exists already")
NO_SUCH_TARGET = Problem(404, "no-such-target", "no transfer target of that slug")
STALE_TARGET = Problem(
    409, "stale-target", "the target changed since you read it: read it again (in `target`)"
)
INCOMPLETE_TARGET = Problem(
    400, "incomplete-target", "the target's kind lacks what reaches it (queue, interfaces, ...)"
)

TAG = "transfers"
# Printable text only: no control characters (PostgreSQL text cannot even hold NUL).
TEXT = ONE_LINE  # callcenter/web/text.py
SLUG = r"^[a-z0-9][a-z0-9_-]{0,39}$"
NAME = r"^[A-Za-z0-9_-]{1,80}$"
PBX = r"^[A-Za-z0-9_-]{1,32}$"
NUMBER = r"^\+?[0-9]{2,20}$"

Label = Annotated[str, Field(min_length=1, max_length=80, pattern=TEXT)]
# Checked against the interface pattern by the room (a bad one is an incomplete target).
Interface = Annotated[str, Field(min_length=1, max_length=120)]


class _TargetFields(BaseModel):
    """What a target is, but its slug."""

    model_config = ConfigDict(extra="forbid", strict=True)
    label_zh: Label
    label_en: Label
    # Seed 003's pyramid: 1 first line, 2 specialist teams, 3 management.
    tier: int = Field(default=2, ge=1, le=9)
    kind: Literal["queue", "interfaces", "external"] = "queue"
    # The PBX the target is on; none: whichever PBX the call is on.
    pbx: str | None = Field(default=None, pattern=PBX)
    queue: str | None = Field(default=None, pattern=NAME)
    interfaces: list[Interface] = Field(default_factory=list, max_length=16)
    number: str | None = Field(default=None, pattern=NUMBER)
    trunk_context: str | None = Field(default=None, pattern=NAME)
    # The target "escalate" picks in its tier.
    escalation: bool = False
    enabled: bool = True

    @field_validator("label_zh", "label_en")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value

    def target(self, slug: str, version: int = 1) -> Target:
        return Target(
            slug=slug,
            label_zh=self.label_zh,
            label_en=self.label_en,
            tier=self.tier,
            kind=self.kind,
            pbx=self.pbx,
            queue=self.queue,
            interfaces=tuple(self.interfaces),
            number=self.number,
            trunk_context=self.trunk_context,
            escalation=self.escalation,
            enabled=self.enabled,
            version=version,
        )


class TargetBody(_TargetFields):
    """A new target."""

    slug: str = Field(pattern=SLUG)


class TargetChange(_TargetFields):
    """The whole target as it should be, with the version it was read at."""

    version: int = Field(ge=1, le=2**31 - 1)


class TargetPath(BaseModel):
    slug: str = Field(pattern=SLUG)


class TransferTargetData(BaseModel):
    slug: str
    label_zh: str
    label_en: str
    tier: int
    kind: str
    pbx: str | None
    queue: str | None
    interfaces: list[str]
    number: str | None
    trunk_context: str | None
    escalation: bool
    enabled: bool
    version: int


class TransferTargetList(BaseModel):
    targets: list[TransferTargetData]


class TargetDeleted(BaseModel):
    deleted: bool
    slug: str
    target: TransferTargetData


def target_data(target: Target) -> dict[str, Any]:
    data: dict[str, Any] = to_data(target)
    return data


class TargetsApi:
    def __init__(
        self,
        engine: AsyncEngine,
        audit: Audit,
        on_change: Callable[[], Awaitable[None]],
        clock: Clock = utc_now,
    ) -> None:
        self._engine = engine
        self._audit = audit
        self._on_change = on_change
        self._clock = clock

    def routes(self) -> Sequence[Route]:
        edit = needs(P.TRANSFERS_EDIT)
        return [
            http.get(
                "/api/transfer-targets",
                self.list_targets,
                access=edit,
                tag=TAG,
                summary="The transfer directory: every target by tier, disabled ones too",
                response=TransferTargetList,
            ),
            http.post(
                "/api/transfer-targets",
                self.create_target,
                access=edit,
                tag=TAG,
                summary="Add a transfer target (a queue, a list of phones or an outside number)",
                body=TargetBody,
                response=TransferTargetData,
                status=201,
                errors=(TARGET_EXISTS, INCOMPLETE_TARGET),
            ),
            http.put(
                "/api/transfer-targets/{slug}",
                self.update_target,
                access=edit,
                tag=TAG,
                summary="Replace a transfer target, if unchanged since the version read",
                path_params=TargetPath,
                body=TargetChange,
                response=TransferTargetData,
                errors=(NO_SUCH_TARGET, STALE_TARGET, INCOMPLETE_TARGET),
            ),
            http.delete(
                "/api/transfer-targets/{slug}",
                self.delete_target,
                access=edit,
                tag=TAG,
                summary="Remove a transfer target from the directory",
                path_params=TargetPath,
                response=TargetDeleted,
                errors=(NO_SUCH_TARGET,),
            ),
        ]

    async def list_targets(self, request: web.Request) -> web.Response:
        targets = await store.load_targets(self._engine)
        return reply({"targets": [target_data(t) for t in targets]})

    async def create_target(self, request: web.Request) -> web.Response:
        user = request_user(request)
        body = await read_body(request, TargetBody)
        try:
            target = await store.create_target(
                self._engine, body.target(body.slug), user.username, self._clock()
            )
        except store.IncompleteTarget as exc:
            raise _incomplete(exc) from None
        except store.TargetExists:
            raise TARGET_EXISTS(
                f"there is a transfer target {body.slug} already", slug=body.slug
            ) from None
        await self._on_change()
        await self._audit.record(
            request,
            user,
            "transfer.target.create",
            target.slug,
            parameters={"before": None, "after": target_data(target)},
            message=f"added transfer target {target.slug} ({_describe(target)})",
        )
        return reply(target_data(target), status=201)

    async def update_target(self, request: web.Request) -> web.Response:
        user = request_user(request)
        slug = read_path(request, TargetPath).slug
        body = await read_body(request, TargetChange)
        try:
            before, after = await store.update_target(
                self._engine, body.target(slug), body.version, user.username, self._clock()
            )
        except store.IncompleteTarget as exc:
            raise _incomplete(exc) from None
        except store.NoSuchTarget:
            raise NO_SUCH_TARGET(f"there is no transfer target {slug}", slug=slug) from None
        except store.StaleTarget as exc:
            raise STALE_TARGET(
                f"transfer target {slug} is at version {exc.current.version}, "
                f"not {body.version}: read it again",
                slug=slug,
                target=target_data(exc.current),
            ) from None
        await self._on_change()
        await self._audit.record(
            request,
            user,
            "transfer.target.update",
            slug,
            parameters={"before": target_data(before), "after": target_data(after)},
            message=f"changed transfer target {slug} ({_describe(after)})",
        )
        return reply(target_data(after))

    async def delete_target(self, request: web.Request) -> web.Response:
        user = request_user(request)
        slug = read_path(request, TargetPath).slug
        before = await store.delete_target(self._engine, slug)
        if before is None:
            raise NO_SUCH_TARGET(f"there is no transfer target {slug}", slug=slug)
        await self._on_change()
        await self._audit.record(
            request,
            user,
            "transfer.target.delete",
            slug,
            parameters={"before": target_data(before), "after": None},
            message=f"removed transfer target {slug} ({_describe(before)})",
        )
        return reply({"deleted": True, "slug": slug, "target": target_data(before)})


def _incomplete(exc: store.IncompleteTarget) -> ApiError:
    return INCOMPLETE_TARGET(str(exc), field=exc.field, slug=exc.slug)


def _describe(target: Target) -> str:
    state = "" if target.enabled else ", disabled"
    return f"{target.label_en}, tier {target.tier}, {target.kind}{state}"
