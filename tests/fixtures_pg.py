"""A throw-away PostgreSQL server from the machine's own binaries, one per test session.

initdb refuses to run as root, so as root the server runs as the ``postgres`` system user
(Debian's postgresql package creates it). Each test that asks for a database gets a fresh
one, so tests never see each other's rows.
"""

from __future__ import annotations

import asyncio
import glob
import os
import random
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.store.db import create_engine
from callcenter.store.migrate import upgrade_to_head


def _bin_dir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not candidates:
        raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql")
    return Path(candidates[-1]).parent


# Listening ports for tests come from below the kernel's ephemeral range (32768-60999):
# a port the kernel picked with bind(0) is free when asked, but an outgoing connection (a
# client of PostgreSQL, AMI, HTTP) may take it as its own local port before the service
# binds it, and the service then fails with "address already in use" (seen in CI). Above
# SIPp's media ports (20000-29990, UDP) and Asterisk's RTP (10000-10999).
# Two test sessions run side by side (scripts/test.sh): each draws from its own slice,
# CALLCENTER_TEST_PORTS="<first>-<last>", so the two never race for one port.
_ALL_PORTS = range(30000, 32700)
_handed_out: set[int] = set()


def _session_ports() -> range:
    given = os.environ.get("CALLCENTER_TEST_PORTS", "")
    first, sep, last = given.partition("-")
    if sep and first.isdigit() and last.isdigit() and int(first) < int(last):
        return range(int(first), int(last) + 1)
    return _ALL_PORTS


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on, not handed out before in this run."""
    ports = _session_ports()
    for _ in range(500):
        port = random.choice(ports)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free TCP port in {ports.start}-{ports.stop - 1}")


class PostgresServer:
    """initdb + pg_ctl in a temporary folder, on 127.0.0.1 and a free port."""

    user = "callcenter"

    def __init__(self, *, durable: bool = False) -> None:
        # Tests trade durability for speed; the records bench measures the real thing.
        self.durable = durable
        self.bin = _bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="cc-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as_user: list[str] = []
        self._template: str | None = None
        if os.geteuid() == 0:
            self._as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres", "postgres")

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [*self._as_user, *args], capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}\n{result.stderr}")

    def init(self) -> None:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            self.user,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root}"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, *, migrated: bool = False) -> str:
        """A new empty database; ``migrated``: a copy of one with every migration applied
        (copying takes a fifth of the time migrating takes, for each of hundreds of tests)."""
        name = "t_" + uuid.uuid4().hex[:12]
        template = f" TEMPLATE {self._migrated_template()}" if migrated else ""
        self._psql(f"CREATE DATABASE {name}{template}")
        return self.url(name)

    def _psql(self, command: str) -> None:
        self._run(
            str(self.bin / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            self.user,
            "-d",
            "postgres",
            "-q",
            "-c",
            command,
        )

    def _migrated_template(self) -> str:
        if self._template is None:
            name = "t_migrated_" + uuid.uuid4().hex[:8]
            self._psql(f"CREATE DATABASE {name}")
            # Disposed when migrated: a template is copied only with nobody connected to it.
            _migrate_in_a_thread(self.url(name))
            self._template = name
        return self._template

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.init()
        server.start()
    except Exception as exc:
        server.cleanup()
        pytest.fail(f"PostgreSQL could not start: {exc}", pytrace=False)
    try:
        yield server
    finally:
        try:
            server.stop()
        finally:
            server.cleanup()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with every migration applied, made once: tests start from copies."""
    path = tmp_path_factory.mktemp("migrated-sqlite") / "template.db"
    _migrate_in_a_thread(f"sqlite+aiosqlite:///{path}")
    return path


def _migrate_in_a_thread(url: str) -> None:
    async def migrate() -> None:
        engine = create_engine(url)
        try:
            await upgrade_to_head(engine)
        finally:
            await engine.dispose()

    # A thread of its own: the caller may be a fixture of a test whose loop runs.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, migrate()).result()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every storage test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "callcenter.db"
        if "engine" in request.fixturenames:
            # As on PostgreSQL below: a copy of a database file migrated once.
            shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
        return f"sqlite+aiosqlite:///{path}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    # A test that takes the engine below gets its database migrated anyway: a copy of a
    # migrated one is the same and quicker. The others get an empty one (migration tests).
    return server.create_database(migrated="engine" in request.fixturenames)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on `database_url` with every migration applied, disposed afterwards."""
    engine = create_engine(database_url)
    await upgrade_to_head(engine)
    try:
        yield engine
    finally:
        await engine.dispose()
