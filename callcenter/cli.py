"""The ``callcenter`` command."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any, cast

import click

from callcenter.auth.identity import ROLES
from callcenter.logs import configure_logging
from callcenter.settings import ConfigError, Settings, load_settings

CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
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


# Secrets that ship with the project (the test rig's and config/callcenter.example.toml's AMI
# secret, docker-compose.yml's database password, the placeholders in the example's comments)
# or with Asterisk's and FreePBX's samples: anyone can read them, so `serve` refuses them
# unless --demo says this is the demo or the test rig. Compared without regard to case.
EXAMPLE_SECRETS = frozenset(
    {
        "rig-secret-not-for-production",
        "change-me",
        "changeme",
        "password",
        "...",
        "secret",
        "mysecret",
        "amp111",
    }
)


def example_secrets_in_use(settings: Settings) -> list[str]:
    """The settings (never their values) that hold an example secret."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from callcenter.rig.asterisk import AMI_SECRET

    examples = EXAMPLE_SECRETS | {AMI_SECRET.casefold()}
    found = [
        f"pbx[{index}].secret (PBX {pbx.name!r})"
        for index, pbx in enumerate(settings.pbx)
        if pbx.secret.get_secret_value().casefold() in examples
    ]
    try:
        password = make_url(settings.database.url.get_secret_value()).password
    except ArgumentError:
        password = None
    if password is not None and str(password).casefold() in examples:
        found.append("database.url (its password)")
    return found


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
    click.echo(
        f"{source}: ok (PBX: {names}; HTTP {settings.http.host}:{settings.http.port}; "
        f"FastAGI {settings.fastagi.host}:{settings.fastagi.port})"
    )
    for setting in example_secrets_in_use(settings):
        click.echo(
            f"warning: {setting} is an example secret shipped with callcenter: "
            "`serve` refuses it without --demo",
            err=True,
        )


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
@click.option(
    "--demo",
    is_flag=True,
    help="Allow the example secrets of the demo, the test rig and docker-compose.yml "
    "(never for real use).",
)
def serve(config_path: Path | None, demo: bool) -> None:
    """Run the service (AMI links, HTTP, FastAGI) until SIGTERM/SIGINT.

    Refuses to start (exit status 1) while a secret is one of the examples shipped with the
    project, unless --demo is given."""
    settings = _settings_or_exit(config_path)
    found = example_secrets_in_use(settings)
    if found and not demo:
        for setting in found:
            click.echo(f"error: {setting} is an example secret shipped with callcenter", err=True)
        click.echo(
            "refusing to start: set secrets of your own (the AMI secret here and in Asterisk's "
            "manager.conf, the database password), or pass --demo to run the demo or the test "
            "rig on purpose",
            err=True,
        )
        sys.exit(1)
    for setting in found:
        click.echo(f"warning: --demo: {setting} is an example secret; never for real use", err=True)
    _run_service(settings)


def _run_service(settings: Settings) -> None:
    from callcenter.service import serve as run_service

    asyncio.run(run_service(settings))


@main.command()
@click.option("--agents", default=4, show_default=True, help="SIPp agent phones to run.")
@click.option("--http-port", default=8080, show_default=True)
def demo(agents: int, http_port: int) -> None:
    """Start the rig's Asterisk, the service on SQLite and live SIPp traffic."""
    from callcenter.demo import run_demo

    database = Path("var/demo.db").resolve()
    asyncio.run(run_demo(agents=agents, http_port=http_port, database=database))


# --- users ------------------------------------------------------------------------------


def _user_job(config_path: Path | None, job: Any) -> Any:
    """Run ``job(engine)`` on the migrated database; a UserError ends with exit status 1."""
    from callcenter.auth.passwords import WeakPassword
    from callcenter.auth.users import UserError
    from callcenter.store.db import create_engine
    from callcenter.store.migrate import upgrade_to_head

    settings = _settings_or_exit(config_path)

    async def run() -> Any:
        engine = create_engine(settings.database.url.get_secret_value())
        try:
            await upgrade_to_head(engine)
            return await job(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except (UserError, WeakPassword) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


def _read_password(from_stdin: bool, username: str) -> str:
    """The new password of ``username``; exit status 1 with the reason if the policy refuses
    it (12+ characters, not containing the username, not common or easy to guess)."""
    from callcenter.auth.passwords import WeakPassword, check_password

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    try:
        check_password(password, username)
    except WeakPassword as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    return password


@main.group()
def user() -> None:
    """Agents, supervisors and admins who log in to the pages."""


@user.command("add")
@CONFIG_OPTION
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default="agent",
    show_default=True,
)
@click.option("--name", "display_name", default="", help="Name shown on the pages.")
@click.option(
    "--interface",
    "interfaces",
    multiple=True,
    help="Queue-member interface of the person's phone, e.g. PJSIP/1001 (repeatable).",
)
@click.option("--language", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_add(
    config_path: Path | None,
    username: str,
    role: str,
    display_name: str,
    interfaces: tuple[str, ...],
    language: str,
    password_stdin: bool,
) -> None:
    """Create a user."""
    from callcenter.auth.users import add_user

    password = _read_password(password_stdin, username)
    created = _user_job(
        config_path,
        lambda engine: add_user(
            engine,
            username,
            password,
            role=role,
            display_name=display_name,
            interfaces=interfaces,
            language=language,
        ),
    )
    click.echo(f"user {created.username} ({created.role}) created")


@user.command("import")
@CONFIG_OPTION
@click.argument("source", type=click.File("r", encoding="utf-8-sig"))
@click.option(
    "--skip-existing",
    is_flag=True,
    help="Leave users that exist already as they are (else: nothing is imported).",
)
def user_import(config_path: Path | None, source: Any, skip_existing: bool) -> None:
    """Create many users from a CSV file ('-': standard input).

    Header: username,password[,role,name,interfaces,language]; interfaces separated by
    spaces or ';'. Every row is checked first (fields, password policy); one problem and
    nothing is created."""
    from callcenter.auth.user_import import parse_user_rows
    from callcenter.auth.users import add_users

    users, problems = parse_user_rows(source.read())
    if problems:
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        click.echo(f"{len(problems)} problem(s) found; nothing imported", err=True)
        sys.exit(1)
    created, existing = _user_job(
        config_path, lambda engine: add_users(engine, users, skip_existing=skip_existing)
    )
    for found in created:
        click.echo(f"user {found.username} ({found.role}) created")
    for name in existing:
        click.echo(f"user {name} exists already: left as it is")


@user.command("list")
@CONFIG_OPTION
def user_list(config_path: Path | None) -> None:
    """Every user with role, phone interfaces and state."""
    from callcenter.auth.users import list_users

    for found, disabled in _user_job(config_path, list_users):
        click.echo(
            "\t".join(
                [
                    found.username,
                    found.role,
                    found.display_name,
                    ",".join(found.interfaces) or "-",
                    found.language,
                    "disabled" if disabled else "active",
                ]
            )
        )


@user.command("set-password")
@CONFIG_OPTION
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_set_password(config_path: Path | None, username: str, password_stdin: bool) -> None:
    """Change a user's password (ends the user's sessions)."""
    from callcenter.auth.users import set_password

    password = _read_password(password_stdin, username)
    _user_job(config_path, lambda engine: set_password(engine, username, password))
    click.echo(f"password of {username} changed")


@user.command("disable")
@CONFIG_OPTION
@click.argument("username")
def user_disable(config_path: Path | None, username: str) -> None:
    """Stop a user from logging in (ends the user's sessions)."""
    from callcenter.auth.users import disable_user

    _user_job(config_path, lambda engine: disable_user(engine, username))
    click.echo(f"user {username} disabled")


@main.group()
def reports() -> None:
    """Report roll-ups and scheduled reports."""


def _reports_job(config_path: Path | None, job: Any) -> Any:
    """Run ``job(engine, settings)`` on the migrated database."""
    from callcenter.store.db import create_engine
    from callcenter.store.migrate import upgrade_to_head

    settings = _settings_or_exit(config_path)

    async def run() -> Any:
        engine = create_engine(settings.database.url.get_secret_value())
        try:
            await upgrade_to_head(engine)
            return await job(engine, settings)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@reports.command("rebuild")
@CONFIG_OPTION
def reports_rebuild(config_path: Path | None) -> None:
    """Recompute every report roll-up from the raw records (after an import, or a change of
    a service-level threshold). Idempotent: on roll-ups kept up to date it changes nothing."""
    from zoneinfo import ZoneInfo

    from callcenter.reports.refresh import RollupRefresher

    async def job(engine: Any, settings: Settings) -> Any:
        refresher = RollupRefresher(engine, settings.reports, ZoneInfo(settings.ivr.timezone))
        return await refresher.rebuild()

    started = time.monotonic()
    done = _reports_job(config_path, job)
    click.echo(
        f"rebuilt the report roll-ups: {done.calls} calls over {done.days} days, "
        f"{done.agent_days} agent-days of states, in {time.monotonic() - started:.1f} s"
    )


@reports.command("write")
@CONFIG_OPTION
@click.option(
    "--kind", type=click.Choice(["daily", "weekly", "monthly"]), required=True, help="Period"
)
@click.option(
    "--start",
    "start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    required=True,
    help="First day of the period (a Monday for weekly, the 1st for monthly)",
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder (default: [reports] schedule_dir)",
)
def reports_write(config_path: Path | None, kind: str, start: Any, out: Path | None) -> None:
    """Write one period's standard reports as a workbook, as the schedule does."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from callcenter.agents.store import load_teams
    from callcenter.auth.permissions import P
    from callcenter.auth.users import list_users
    from callcenter.reports.labels import FixedPeople
    from callcenter.reports.query import Reports
    from callcenter.reports.schedule import Kind, Period, ScheduledReports
    from callcenter.shifts.rota import ShiftBoard
    from callcenter.shifts.store import load_shifts
    from callcenter.worklog.book import Worklogs

    first = start.date()
    if kind == "weekly" and first.weekday() != 0:
        raise click.BadParameter("a week starts on a Monday", param_hint="--start")
    if kind == "monthly" and first.day != 1:
        raise click.BadParameter("a month starts on the 1st", param_hint="--start")
    if kind == "daily":
        last = first
    elif kind == "weekly":
        last = first + timedelta(days=6)
    else:
        last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)

    async def job(engine: Any, settings: Settings) -> Path:
        folder = out or settings.reports.schedule_dir
        if folder is None:
            raise click.UsageError("give --out or set [reports] schedule_dir")
        zone = ZoneInfo(settings.ivr.timezone)
        users = [u for u, disabled in await list_users(engine) if not disabled]
        teams = await load_teams(engine)
        people = FixedPeople(teams, users)
        # The work-log figures as the service computes them: the rota and the logs' tables.
        rota = ShiftBoard(zone)
        rota.load(await load_shifts(engine), teams, [u.id for u in users])
        logs = Worklogs(engine, settings.worklog, zone, rota=rota)
        writers = [u.id for u in users if u.may(P.WORKLOG_WRITE)]
        logs.writers = lambda: writers
        scheduled = ScheduledReports(
            engine,
            Reports(engine, settings.reports, zone, logs),
            settings.reports,
            people,
            settings.records.dispositions,
            zone,
            None,
        )
        period = Period(cast(Kind, kind), first, last)
        return await scheduled.write(period, folder)

    click.echo(f"written {_reports_job(config_path, job)}")
