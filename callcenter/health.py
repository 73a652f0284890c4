"""What ``/healthz`` reports (each PBX link and the database, named when down), and the
health room that serves it with ``/metrics``."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.ami.link import AmiLink
from callcenter.component import PbxLinks, Room
from callcenter.metrics import ServiceMetrics
from callcenter.store.db import database_is_up
from callcenter.web import http
from callcenter.web.errors import Problem
from callcenter.web.http import PUBLIC, Route, reply


@dataclass(frozen=True)
class HealthReport:
    pbx: dict[str, dict[str, str]] = field(default_factory=dict)
    database: dict[str, str] = field(default_factory=dict)

    @property
    def down(self) -> list[str]:
        names = [f"pbx {name}" for name, info in self.pbx.items() if info["state"] != "connected"]
        if self.database.get("state") != "up":
            names.append("database")
        return names

    @property
    def ok(self) -> bool:
        return not self.down

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ok else "degraded",
            "down": self.down,
            "pbx": self.pbx,
            "database": self.database,
        }


async def check_health(links: Iterable[AmiLink], engine: AsyncEngine) -> HealthReport:
    up, reason = await database_is_up(engine)
    return HealthReport(
        pbx={link.name: {"state": link.state.value, "error": link.last_error} for link in links},
        database={"state": "up" if up else "down", "error": "" if up else reason},
    )


class HealthAnswer(BaseModel):
    status: Literal["ok", "degraded"]
    down: list[str]
    pbx: dict[str, dict[str, str]]
    database: dict[str, str]


METRICS_TOKEN_NEEDED = Problem(401, "metrics-token-needed", "send Authorization: Bearer")


class HealthRoom(Room):
    """``/healthz`` for load balancers and orchestrators."""

    name: ClassVar[str] = "health"

    def __init__(
        self, links: PbxLinks[AmiLink], engine: AsyncEngine, metrics: ServiceMetrics
    ) -> None:
        self.links = links
        self.engine = engine
        self.metrics = metrics

    def routes(self) -> Sequence[Route]:
        return [
            http.get(
                "/healthz",
                self.healthz,
                access=PUBLIC,
                tag="operations",
                summary="ok, or degraded naming each PBX or the database that is down (503)",
                response=HealthAnswer,
            ),
        ]

    async def healthz(self, request: web.Request) -> web.Response:
        report = await check_health(self.links, self.engine)
        self.metrics.database_up.set(1 if report.database["state"] == "up" else 0)
        return reply(report.as_json(), status=200 if report.ok else 503)


class MetricsRoom(Room):
    """``/metrics`` for Prometheus: on its own listener (loopback by default), and behind a
    bearer token when one is configured. It tells how busy queues are: not for everyone."""

    name: ClassVar[str] = "metrics"

    def __init__(self, registry: CollectorRegistry, token: SecretStr | None) -> None:
        self.registry = registry
        self.token = token

    def routes(self) -> Sequence[Route]:
        return [
            http.get(
                "/metrics",
                self.scrape,
                access=PUBLIC,
                kind="text",
                tag="operations",
                summary="Prometheus metrics (Bearer token when metrics_token is set)",
                content_type=CONTENT_TYPE_LATEST,
                errors=(METRICS_TOKEN_NEEDED,),
            ),
        ]

    async def scrape(self, request: web.Request) -> web.Response:
        if self.token is not None:
            given = request.headers.get("Authorization", "")
            expected = "Bearer " + self.token.get_secret_value()
            if not hmac.compare_digest(given.encode(), expected.encode()):
                raise METRICS_TOKEN_NEEDED("/metrics needs Authorization: Bearer <metrics_token>")
        # generate_latest walks every series on the event loop: the event label is bounded
        # (callcenter/metrics.py), so a scrape stays small.
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
