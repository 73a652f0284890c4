"""The live views room: read API of the live model and the ``/ws/live`` change feed.

A user without ``teams:all`` (a team leader) sees their teams only: the queues in their
scope, the agents who are members of those queues or whose phones are in it, and on the
feed the changes of those queues (and those about no queue, a PBX link's state). A queue
outside the scope is answered like an unknown one: its existence is not given away.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from typing import ClassVar

from aiohttp import web
from pydantic import BaseModel, Field

from callcenter.agents.scope import Scope, TeamScopes
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


def visible_queues(views: Sequence[QueueView], scope: Scope) -> tuple[QueueView, ...]:
    if scope.everything:
        return tuple(views)
    return tuple(view for view in views if scope.has_queue(view.queue))


def visible_agents(agents: Sequence[AgentView], scope: Scope) -> tuple[AgentView, ...]:
    """Agents whose phone is in the scope, or who are members of a queue in it."""
    if scope.everything:
        return tuple(agents)
    return tuple(
        agent
        for agent in agents
        if scope.has_interface(agent.interface) or any(map(scope.has_queue, agent.queues))
    )


class LiveViewRoom(Room):
    name: ClassVar[str] = "live"

    def __init__(self, live: LiveReader, hub: Hub, scopes: TeamScopes) -> None:
        self.live = live
        self.hub = hub
        self.scopes = scopes

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
        user = request_user(request)
        views = visible_queues(self.live.queue_views(utc_now()), self.scopes.scope_of(user))
        if not user.may(P.CALLERS_SEE):
            views = tuple(masked(view) for view in views)
        return reply({"queues": to_data(views)})

    async def get_queue(self, request: web.Request) -> web.Response:
        name = read_path(request, QueuePath).name
        pbx = read_query(request, PbxQuery).pbx
        user = request_user(request)
        now = utc_now()
        # Out of the user's scope: the same answer as a queue that does not exist.
        in_scope = self.scopes.scope_of(user).has_queue(name)
        matches = [
            v
            for v in (self.live.queue_views(now) if in_scope else ())
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
        if not user.may(P.CALLERS_SEE):
            view = masked(view)
        return reply(to_data(view))

    async def list_agents(self, request: web.Request) -> web.Response:
        scope = self.scopes.scope_of(request_user(request))
        return reply({"agents": to_data(visible_agents(self.live.agents_view(utc_now()), scope))})

    async def live_feed(self, request: web.Request) -> web.WebSocketResponse:
        """Sends the current queues first, then every change as it happens (a scoped user:
        those of the queues in their scope, as the scope was when the socket opened)."""
        scope = self.scopes.scope_of(request_user(request))
        socket = await open_socket(request)
        subscriber = self.hub.subscribe(None if scope.everything else scope.has_queue)
        try:
            views = visible_queues(self.live.queue_views(utc_now()), scope)
            snapshot = {"type": "snapshot", "queues": to_data(views)}
            await socket.send_str(dumps(snapshot))
            await pump(socket, subscriber.queue)
        finally:
            self.hub.unsubscribe(subscriber)
            with contextlib.suppress(Exception):
                await socket.close()
        return socket
