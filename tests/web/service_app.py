"""The service's real aiohttp application, built without starting anything (no I/O)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from callcenter.service import Service
from callcenter.settings import Settings
from callcenter.web.app import create_app


def service_app(workdir: Path) -> tuple[Service, web.Application]:
    settings = Settings.model_validate(
        {
            "database": {"url": f"sqlite+aiosqlite:///{workdir / 'unused.db'}"},
            "records": {"spool_dir": str(workdir / "spool")},
            "pbx": [{"name": "rig", "username": "callcenter", "secret": "not-a-real-secret-123"}],
        }
    )
    service = Service(settings)
    return service, create_app(service.rooms, service.auth.authenticate)
