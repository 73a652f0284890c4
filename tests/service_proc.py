"""Runs the real `callcenter serve` as a child process for integration tests."""

from __future__ import annotations

import csv
import http.cookiejar
import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fixtures_pg import free_port

# A supervisor that tests log in as to read the live views (they need a login).
WATCHER = "test-watcher"
WATCHER_PASSWORD = "Watcher-Quilt-Harbour-58"

RIG_PBX = {
    "name": "rig",
    "host": "127.0.0.1",
    "port": 5038,
    "username": "callcenter",
    "secret": "rig-secret-not-for-production",
}


@dataclass(frozen=True)
class UserSpec:
    """One user for ``ServiceProcess.add_users``."""

    username: str
    role: str
    name: str = ""
    language: str = "zh"
    interfaces: tuple[str, ...] = ()


def import_users(config: Path, password: str, users: Iterable[UserSpec]) -> None:
    """``callcenter user import`` of ``users``, all with ``password``: one command for many
    users (each command start costs the CLI's imports and the migration check, seconds on a
    loaded machine)."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["username", "password", "role", "name", "interfaces", "language"])
    for user in users:
        interfaces = " ".join(user.interfaces)
        writer.writerow([user.username, password, user.role, user.name, interfaces, user.language])
    result = subprocess.run(
        [sys.executable, "-m", "callcenter", "user", "import", "-", "--config", str(config)],
        input=text.getvalue(),
        capture_output=True,
        text=True,
        cwd=config.parent,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# Every service started and not yet stopped: tests/conftest.py stops what a test left behind.
RUNNING: set[ServiceProcess] = set()


class ServiceProcess:
    def __init__(
        self,
        workdir: Path,
        database_url: str | None = None,
        pbx: list[dict[str, Any]] | None = None,
        log_level: str = "DEBUG",
        fastagi_port: int | None = None,
        extra_toml: str = "",
    ) -> None:
        self.workdir = workdir
        self.http_port = free_port()
        self.metrics_port = free_port()
        self.config = workdir / "callcenter.toml"
        self.log_path = workdir / "service.log"
        url = database_url or f"sqlite+aiosqlite:///{workdir / 'callcenter.db'}"
        lines = [
            f'log_level = "{log_level}"',
            "[database]",
            f'url = "{url}"',
            "[http]",
            f"port = {self.http_port}",
            f"metrics_port = {self.metrics_port}",
            "[fastagi]",
            f"port = {fastagi_port or free_port()}",
        ]
        for entry in pbx if pbx is not None else [RIG_PBX]:
            lines.append("[[pbx]]")
            lines += [f"{key} = {json.dumps(value)}" for key, value in entry.items()]
            lines += ["ping_interval = 2", "action_timeout = 2", "reconnect_max_delay = 1"]
        # Extra tables (e.g. "[ivr]") go last: after [[pbx]] they start tables of their own.
        self.config.write_text("\n".join(lines) + "\n" + extra_toml, encoding="utf-8")
        self.process: subprocess.Popen[bytes] | None = None
        self._jar = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self._jar))
        self._watching = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, wait_healthy: bool = True, timeout: float = 30) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                # --demo: the rig's AMI secret is an example one, refused without it.
                [
                    sys.executable,
                    "-m",
                    "callcenter",
                    "serve",
                    "--demo",
                    "--config",
                    str(self.config),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env=env,
            )
        RUNNING.add(self)
        if wait_healthy:
            self.wait_until(lambda: self.get("/healthz")[0] == 200, timeout, "healthy")

    def stop(self, timeout: float = 15) -> int:
        RUNNING.discard(self)
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"service ignored SIGTERM:\n{self.log_tail()}") from None
        code = self.process.returncode
        self.process = None
        return code

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to flush anything."""
        RUNNING.discard(self)
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def get(self, path: str, *, anonymous: bool = False) -> tuple[int, bytes]:
        """GET as the watcher (a supervisor the tests use to read live views), logged in on
        the first answer that asks for it; ``anonymous``: as nobody."""
        status, body = self._get(path, anonymous)
        if status == 401 and not anonymous and not self._watching:
            self.log_in_watcher()
            status, body = self._get(path, anonymous)
        return status, body

    def _get(self, path: str, anonymous: bool) -> tuple[int, bytes]:
        opener = urllib.request.build_opener() if anonymous else self._opener
        try:
            with opener.open(self.base_url + path, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return 0, b""

    def add_user(self, username: str, password: str, *args: str, exist_ok: bool = False) -> None:
        """``callcenter user add`` against this service's configuration."""
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "callcenter",
                "user",
                "add",
                username,
                "--password-stdin",
                "--config",
                str(self.config),
                *args,
            ],
            input=password + "\n",
            capture_output=True,
            text=True,
            cwd=self.workdir,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0 or (exist_ok and "exists" in result.stderr), result.stderr

    def add_users(self, password: str, users: Iterable[UserSpec]) -> None:
        """Many users in one command (see ``import_users``)."""
        import_users(self.config, password, users)

    def log_in_watcher(self) -> str:
        """Log the watcher in (created on first use); the session cookie's value."""
        if not self._watching:
            self.add_user(WATCHER, WATCHER_PASSWORD, "--role", "supervisor", exist_ok=True)
            request = urllib.request.Request(
                self.base_url + "/api/login",
                data=json.dumps({"username": WATCHER, "password": WATCHER_PASSWORD}).encode(),
                method="POST",
                headers={"Content-Type": "application/json", "Origin": self.base_url},
            )
            with self._opener.open(request, timeout=10) as response:
                assert response.status == 200
            self._watching = True
        return next(str(c.value) for c in self._jar if c.name == "cc_session")

    def scrape_metrics(self) -> str:
        """/metrics from the service's own metrics listener."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())

    def get_json(self, path: str) -> tuple[int, Any]:
        status, body = self.get(path)
        return status, json.loads(body) if body else None

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_until(self, condition: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(
                    f"service exited ({self.process.returncode}) "
                    f"while waiting for {what}:\n{self.log_tail()}"
                )
            if condition():
                return
            time.sleep(0.1)
        raise AssertionError(f"not {what} within {timeout} s:\n{self.log_tail()}")
