"""What ``/healthz`` reports: each PBX link and the database, named when down."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.ami.link import AmiLink
from callcenter.store.db import database_is_up


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
