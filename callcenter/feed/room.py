"""Read API of the live model and the ``/ws/live`` change feed."""

from __future__ import annotations

import contextlib

from aiohttp import web

from callcenter.clock import utc_now
from callcenter.feed.serialize import dumps, to_data
from callcenter.live import UnknownQueue
from callcenter.web.errors import api_error
from callcenter.web.keys import SERVICE
from callcenter.web.sockets import open_socket, pump


async def list_queues(request: web.Request) -> web.Response:
    views = request.app[SERVICE].model.queue_views(utc_now())
    return web.json_response({"queues": to_data(views)}, dumps=dumps)


async def get_queue(request: web.Request) -> web.Response:
    model = request.app[SERVICE].model
    name = request.match_info["name"]
    pbx = request.query.get("pbx")
    now = utc_now()
    matches = [
        v for v in model.queue_views(now) if v.queue == name and (pbx is None or v.pbx == pbx)
    ]
    if not matches:
        raise api_error(
            404, "no-such-queue", f"no queue {name!r}" + (f" on PBX {pbx!r}" if pbx else "")
        )
    if len(matches) > 1:
        raise api_error(
            409,
            "ambiguous-queue",
            f"queue {name!r} exists on several PBXs; add ?pbx=NAME",
            pbx=[v.pbx for v in matches],
        )
    try:
        view = model.queue_view(matches[0].pbx, name, now)
    except UnknownQueue:
        raise api_error(404, "no-such-queue", f"no queue {name!r}") from None
    return web.json_response(to_data(view), dumps=dumps)


async def list_agents(request: web.Request) -> web.Response:
    views = request.app[SERVICE].model.agents_view(utc_now())
    return web.json_response({"agents": to_data(views)}, dumps=dumps)


async def live_feed(request: web.Request) -> web.WebSocketResponse:
    """Sends the current queues first, then every change as it happens."""
    service = request.app[SERVICE]
    socket = await open_socket(request)
    subscriber = service.hub.subscribe()
    try:
        snapshot = {"type": "snapshot", "queues": to_data(service.model.queue_views(utc_now()))}
        await socket.send_str(dumps(snapshot))
        await pump(socket, subscriber.queue)
    finally:
        service.hub.unsubscribe(subscriber)
        with contextlib.suppress(Exception):
            await socket.close()
    return socket


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/queues", list_queues)
    app.router.add_get("/api/queues/{name}", get_queue)
    app.router.add_get("/api/agents", list_agents)
    app.router.add_get("/ws/live", live_feed)
