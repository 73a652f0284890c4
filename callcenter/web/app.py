"""The aiohttp application factory: health, metrics, and the API routes of each room."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from callcenter.health import check_health
from callcenter.web import live_api
from callcenter.web.errors import database_unavailable
from callcenter.web.keys import SERVICE

if TYPE_CHECKING:
    from callcenter.service import Service


async def healthz(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    report = await check_health(service.links, service.engine)
    service.metrics.database_up.set(1 if report.database["state"] == "up" else 0)
    return web.json_response(report.as_json(), status=200 if report.ok else 503)


async def metrics(request: web.Request) -> web.Response:
    registry = request.app[SERVICE].metrics.registry
    body = generate_latest(registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def create_app(service: Service) -> web.Application:
    # Outermost: whatever room's handler met the database away answers the same 503.
    app = web.Application(middlewares=[database_unavailable])
    app[SERVICE] = service
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    live_api.add_routes(app)
    for component in service.components:
        component.add_routes(app)
    return app
