"""The ``callcenter`` command."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from callcenter.logs import configure_logging
from callcenter.settings import ConfigError, Settings, load_settings

CONFIG_OPTION = click.option(
    "--config", "config_path", type=click.Path(path_type=Path), default=None,
    help="TOML file (default: $CALLCENTER_CONFIG, else config/callcenter.toml if present).",
)


def _load_or_exit(config_path: Path | None) -> tuple[Settings, Path | None]:
    """The settings, or every problem on stderr and exit status 2."""
    try:
        return load_settings(config_path)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(f"config error: {problem}", err=True)
        click.echo(f"{len(exc.problems)} problem(s) found", err=True)
        sys.exit(2)


def _settings_or_exit(config_path: Path | None) -> Settings:
    settings, _ = _load_or_exit(config_path)
    configure_logging(settings.log_level, settings.secrets())
    return settings


@click.group()
@click.version_option(package_name="callcenter")
def main() -> None:
    """Contact-centre server beside Asterisk."""


@main.command("check-config")
@CONFIG_OPTION
def check_config(config_path: Path | None) -> None:
    """Validate the configuration; name every mistake and exit non-zero."""
    settings, path = _load_or_exit(config_path)
    source = str(path) if path is not None else "built-in defaults"
    names = ", ".join(p.name for p in settings.pbx) or "none"
    click.echo(f"{source}: ok (PBX: {names}; HTTP {settings.http.host}:{settings.http.port}; "
               f"FastAGI {settings.fastagi.host}:{settings.fastagi.port})")


@main.command()
@CONFIG_OPTION
def migrate(config_path: Path | None) -> None:
    """Apply database migrations up to the newest."""
    from callcenter.store.db import create_engine
    from callcenter.store.migrate import upgrade_to_head

    settings = _settings_or_exit(config_path)

    async def run() -> str:
        engine = create_engine(settings.database.url.get_secret_value())
        try:
            return await upgrade_to_head(engine)
        finally:
            await engine.dispose()

    click.echo(f"database at revision {asyncio.run(run())}")


@main.command()
@CONFIG_OPTION
def serve(config_path: Path | None) -> None:
    """Run the service (AMI links, HTTP, FastAGI) until SIGTERM/SIGINT."""
    from callcenter.service import serve as run_service

    settings = _settings_or_exit(config_path)
    asyncio.run(run_service(settings))


@main.command()
@click.option("--agents", default=4, show_default=True, help="SIPp agent phones to run.")
@click.option("--http-port", default=8080, show_default=True)
def demo(agents: int, http_port: int) -> None:
    """Start the rig's Asterisk, the service on SQLite and live SIPp traffic."""
    from callcenter.demo import run_demo

    database = Path("var/demo.db").resolve()
    asyncio.run(run_demo(agents=agents, http_port=http_port, database=database))
