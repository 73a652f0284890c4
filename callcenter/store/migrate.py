"""Apply Alembic migrations to the configured database (``callcenter migrate``)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


async def upgrade_to_head(engine: AsyncEngine) -> str:
    """Bring the schema up to date; returns the revision now in place."""
    async with engine.begin() as connection:
        revision = await connection.run_sync(_upgrade)
    log.info("database schema at revision %s", revision)
    return revision


def _upgrade(connection: Connection) -> str:
    from alembic.runtime.migration import MigrationContext

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    return MigrationContext.configure(connection).get_current_revision() or "none"
