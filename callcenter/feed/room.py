"""The live views room: read API of the live model and the ``/ws/live`` change feed."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from typing import ClassVar

from aiohttp import web
from pydantic import BaseModel, Field

from callcenter.auth.permissions import Permission as P
from callcenter.clock import utc_now
from callcenter.component import LiveReader, Room
from callcenter.feed.hub import Hub
from callcenter.feed.serialize import dumps, to_data
from callcenter.live import AgentView, QueueView, UnknownQueue
from callcenter.logs import mask_number
from callcenter.web import http
from callcenter.web.errors import Problem
from callcenter.web.http import Route, needs, read_path, read_query, reply, request_user
from callcenter.web.sockets import open_socket, pump

NO_SUCH_QUEUE = Problem(404, "no-such-queue", "no queue of that name")
AMBIGUOUS_QUEUE = Problem(409, "ambiguous-queue", "the queue exists on several PBXs")
LIVE = needs(P.LIVE_READ)


class QueueList(BaseModel):
    queues: list[QueueView]


class AgentList(BaseModel):
    agents: list[AgentView]


class QueuePath(BaseModel):
    name: str = Field(min_length=1, max_length=80)


class PbxQuery(BaseModel):
    pbx: str | None = Field(default=None, min_length=1, max_length=32)


def masked(view: QueueView) -> QueueView:
    """The queue as an agent may see it: who waits, not their number, name or IVR input
    (an agent sees a caller's card only when that caller rings their own phone)."""
    return dataclasses.replace(
        view,
        callers=tuple(
            dataclasses.replace(
                c,
                caller_num=mask_number(c.caller_num),
                caller_name="",
                ivr={},
                channel="",
                linkedid="",
            )
            for c in view.callers
        ),
    )


class LiveViewRoom(Room):
    name: ClassVar[str] = "live"

    def __init__(self, live: LiveReader, hub: Hub) -> None:
        self.live = live
        self.hub = hub

    def routes(self) -> Sequence[Route]:
        return [
            http.get(
                "/api/queues",
                self.list_queues,
                access=LIVE,
                tag="live",
                summary="Every queue of every PBX, as the live model sees it now",
                response=QueueList,
            ),
            http.get(
                "/api/queues/{name}",
                self.get_queue,
                access=LIVE,
                tag="live",
                summary="One queue now (add ?pbx= when several PBXs have it)",
                path_params=QueuePath,
                query=PbxQuery,
                response=QueueView,
                errors=(NO_SUCH_QUEUE, AMBIGUOUS_QUEUE),
            ),
            http.get(
                "/api/agents",
                self.list_agents,
                access=LIVE,
                tag="live",
                summary="Every queue member now",
                response=AgentList,
            ),
            http.get(
                "/ws/live",
                self.live_feed,
                access=needs(P.LIVE_FEED),
                kind="socket",
                tag="live",
                summary="WebSocket: a snapshot of the queues, then every change",
            ),
        ]

    async def list_queues(self, request: web.Request) -> web.Response:
        views = self.live.queue_views(utc_now())
        if not request_user(request).may(P.CALLERS_SEE):
            views = tuple(masked(view) for view in views)
        return reply({"queues": to_data(views)})

    async def get_queue(self, request: web.Request) -> web.Response:
        name = read_path(request, QueuePath).name
        pbx = read_query(request, PbxQuery).pbx
        now = utc_now()
        matches = [
            v
            for v in self.live.queue_views(now)
            if v.queue == name and (pbx is None or v.pbx == pbx)
        ]
        if not matches:
            raise NO_SUCH_QUEUE(f"no queue {name!r}" + (f" on PBX {pbx!r}" if pbx else ""))
        if len(matches) > 1:
            raise AMBIGUOUS_QUEUE(
                f"queue {name!r} exists on several PBXs; add ?pbx=NAME",
                pbx=[v.pbx for v in matches],
            )
        try:
            view = self.live.queue_view(matches[0].pbx, name, now)
        except UnknownQueue:
            raise NO_SUCH_QUEUE(f"no queue {name!r}") from None
        if not request_user(request).may(P.CALLERS_SEE):
            view = masked(view)
        return reply(to_data(view))

    async def list_agents(self, request: web.Request) -> web.Response:
        return reply({"agents": to_data(self.live.agents_view(utc_now()))})

    async def live_feed(self, request: web.Request) -> web.WebSocketResponse:
        """Sends the current queues first, then every change as it happens."""
        socket = await open_socket(request)
        subscriber = self.hub.subscribe()
        try:
            snapshot = {"type": "snapshot", "queues": to_data(self.live.queue_views(utc_now()))}
            await socket.send_str(dumps(snapshot))
            await pump(socket, subscriber.queue)
        finally:
            self.hub.unsubscribe(subscriber)
            with contextlib.suppress(Exception):
                await socket.close()
        return socket
