"""HTTP adapter of the queue-settings room: read, change and stop managing a queue's settings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from callcenter.auth.permissions import P
from callcenter.queueconf.apply import (
    NEEDS_RESTART,
    NO_MAILBOX,
    NO_SUCH_ANNOUNCEMENT,
    NO_SUCH_OPERATOR_QUEUE,
    NO_SUCH_QUEUE,
    NOT_MANAGEABLE,
    PBX_REFUSED,
    PBX_UNAVAILABLE,
    STRATEGY_FIXED,
    UNKNOWN_MUSIC_CLASS,
)
from callcenter.queueconf.room import VERSION_CONFLICT
from callcenter.queueconf.spec import STRATEGIES, QueueSpec
from callcenter.web import http
from callcenter.web.http import Route, needs, read_body, read_path, read_query, reply, request_user

if TYPE_CHECKING:
    from callcenter.queueconf.room import QueueConfRoom

MAX_VERSION = 2**31 - 1


class QueuePath(BaseModel):
    pbx: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    # Any queue name the live model may show; one the service cannot manage is refused later.
    queue: str = Field(min_length=1, max_length=80, pattern=r"^[^\x00-\x1f\x7f/]+$")


class ChangeBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    # The version the editor loaded (0: the queue was not managed yet).
    version: int = Field(ge=0, le=MAX_VERSION)
    settings: QueueSpec


class DropQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=0, le=MAX_VERSION)


class LiveAnswer(BaseModel):
    strategy: str
    max: int
    weight: int
    servicelevel: int


class QueueSettingsAnswer(BaseModel):
    pbx: str
    queue: str
    managed: bool
    manageable: bool
    version: int
    settings: QueueSpec
    live: LiveAnswer | None
    applied_version: int | None
    applied_at: datetime | None
    apply_error: str | None
    set_by: str | None
    set_at: datetime | None
    drift: str | None


class QueueSettingsList(BaseModel):
    queues: list[QueueSettingsAnswer]
    strategies: list[str]
    music_classes: dict[str, list[str]]


_CHANGE_ERRORS = (
    NOT_MANAGEABLE,
    NO_SUCH_QUEUE,
    VERSION_CONFLICT,
    NEEDS_RESTART,
    STRATEGY_FIXED,
    UNKNOWN_MUSIC_CLASS,
    NO_SUCH_ANNOUNCEMENT,
    NO_MAILBOX,
    NO_SUCH_OPERATOR_QUEUE,
    PBX_REFUSED,
    PBX_UNAVAILABLE,
)


class QueueConfApi:
    def __init__(self, room: QueueConfRoom) -> None:
        self.room = room

    def routes(self) -> Sequence[Route]:
        read = needs(P.QUEUES_CONFIGURE, P.QUEUES_CONTROL)
        edit = needs(P.QUEUES_CONFIGURE)
        one = {"path_params": QueuePath, "tag": "queue-settings"}
        return [
            http.get(
                "/api/queue-settings",
                self.list,
                access=read,
                tag="queue-settings",
                summary="Every queue's settings: stored, running in Asterisk, drift",
                response=QueueSettingsList,
            ),
            http.get(
                "/api/queue-settings/{pbx}/{queue}",
                self.get,
                access=read,
                **one,
                summary="One queue's settings",
                response=QueueSettingsAnswer,
                errors=(NO_SUCH_QUEUE,),
            ),
            http.put(
                "/api/queue-settings/{pbx}/{queue}",
                self.put,
                access=edit,
                **one,
                summary="Change a queue's settings live (include file + QueueReload, checked)",
                body=ChangeBody,
                response=QueueSettingsAnswer,
                errors=_CHANGE_ERRORS,
            ),
            http.delete(
                "/api/queue-settings/{pbx}/{queue}",
                self.drop,
                access=edit,
                **one,
                summary="Stop managing a queue: it runs with queues.conf's own settings again",
                query=DropQuery,
                response=QueueSettingsAnswer,
                errors=_CHANGE_ERRORS,
            ),
        ]

    async def list(self, request: web.Request) -> web.Response:
        states = await self.room.states()
        return reply(
            {
                "queues": [s.to_data() for s in states],
                "strategies": list(STRATEGIES),
                "music_classes": await self.room.music_classes(),
            }
        )

    async def get(self, request: web.Request) -> web.Response:
        path = read_path(request, QueuePath)
        state = await self.room.one(path.pbx, path.queue)
        if state is None:
            raise NO_SUCH_QUEUE(f"no queue {path.queue} on {path.pbx}", pbx=path.pbx)
        return reply(state.to_data())

    async def put(self, request: web.Request) -> web.Response:
        path = read_path(request, QueuePath)
        body = await read_body(request, ChangeBody)
        await self._known(path)
        state = await self.room.change(
            request_user(request),
            self.room.audit.address_of(request),
            path.pbx,
            path.queue,
            body.version,
            body.settings,
        )
        return reply(state.to_data())

    async def drop(self, request: web.Request) -> web.Response:
        path = read_path(request, QueuePath)
        query = read_query(request, DropQuery)
        await self._known(path)
        state = await self.room.change(
            request_user(request),
            self.room.audit.address_of(request),
            path.pbx,
            path.queue,
            query.version,
            None,
        )
        return reply(state.to_data())

    async def _known(self, path: QueuePath) -> None:
        if await self.room.one(path.pbx, path.queue) is None:
            raise NO_SUCH_QUEUE(f"no queue {path.queue} on {path.pbx}", pbx=path.pbx)
