"""Runs the real `callcenter serve` as a child process for integration tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.fixtures_pg import free_port

RIG_PBX = {
    "name": "rig",
    "host": "127.0.0.1",
    "port": 5038,
    "username": "callcenter",
    "secret": "rig-secret-not-for-production",
}


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
        self.config = workdir / "callcenter.toml"
        self.log_path = workdir / "service.log"
        url = database_url or f"sqlite+aiosqlite:///{workdir / 'callcenter.db'}"
        lines = [
            f'log_level = "{log_level}"',
            "[database]",
            f'url = "{url}"',
            "[http]",
            f"port = {self.http_port}",
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
        if wait_healthy:
            self.wait_until(lambda: self.get("/healthz")[0] == 200, timeout, "healthy")

    def stop(self, timeout: float = 15) -> int:
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
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return 0, b""

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
