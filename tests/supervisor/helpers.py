"""What supervisor tests need beside the service: logged-in HTTP sessions, the PBX's own
QueueStatus (straight from AMI, not through the service), users made with the CLI."""

from __future__ import annotations

import http.cookiejar
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from callcenter.rig import AMI_HOST, AMI_PORT, AMI_SECRET, AMI_USERNAME
from tests.service_proc import UserSpec, import_users

PASSWORD = "correct-horse-battery"


def add_user(config: Path, username: str, role: str, *interfaces: str) -> None:
    """Create a user the way an admin would: ``callcenter user add``."""
    args = [
        sys.executable,
        "-m",
        "callcenter",
        "user",
        "add",
        username,
        "--role",
        role,
        "--password-stdin",
        "--config",
        str(config),
        "--language",
        "en",
    ]
    for interface in interfaces:
        args += ["--interface", interface]
    result = subprocess.run(
        args,
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        cwd=config.parent,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def add_users(config: Path, *users: tuple[str, ...]) -> None:
    """Many users in one ``callcenter user import``: each (username, role, *interfaces)."""
    import_users(
        config,
        PASSWORD,
        [
            UserSpec(name, role, language="en", interfaces=tuple(phones))
            for name, role, *phones in users
        ],
    )


class Browser:
    """A cookie-keeping HTTP client: one logged-in person."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def login(self, username: str, password: str = PASSWORD) -> Browser:
        status, body = self.call("POST", "/api/login", {"username": username, "password": password})
        assert status == 200, body
        return self

    def call(
        self, method: str, path: str, body: Any = None, raw: bytes | None = None
    ) -> tuple[int, Any]:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            # Our own pages send their Origin; other sites' requests are refused.
            headers={"Content-Type": "application/json", "Origin": self.base_url},
        )
        try:
            with self.opener.open(request, timeout=15) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read()
        return status, json.loads(text) if text else None


def member_path(queue: str, interface: str, action: str = "") -> str:
    path = f"/api/queues/{queue}/members/{urllib.parse.quote(interface, safe='')}"
    return f"{path}/{action}" if action else path


def queue_status(queue: str) -> tuple[dict[str, dict[str, str]], list[dict[str, str]]]:
    """The PBX's own answer to QueueStatus: members by interface, and the waiting entries."""
    with socket.create_connection((AMI_HOST, AMI_PORT), timeout=10) as sock:
        reader = sock.makefile("r", encoding="utf-8", newline="\r\n")
        reader.readline()  # banner
        sock.sendall(
            (
                f"Action: Login\r\nUsername: {AMI_USERNAME}\r\nSecret: {AMI_SECRET}\r\n"
                "Events: off\r\n\r\n"
            ).encode()
        )
        assert _read_message(reader).get("Response") == "Success"
        sock.sendall(f"Action: QueueStatus\r\nQueue: {queue}\r\nActionID: qs\r\n\r\n".encode())
        members: dict[str, dict[str, str]] = {}
        entries: list[dict[str, str]] = []
        while True:
            message = _read_message(reader)
            event = message.get("Event")
            if event == "QueueMember":
                members[message["Location"]] = message
            elif event == "QueueEntry":
                entries.append(message)
            elif event == "QueueStatusComplete" or message.get("Response") == "Error":
                break
        sock.sendall(b"Action: Logoff\r\n\r\n")
    return members, entries


def _read_message(reader: Any) -> dict[str, str]:
    message: dict[str, str] = {}
    while True:
        line = reader.readline()
        if not line:
            raise ConnectionError("AMI closed the connection")
        line = line.rstrip("\r\n")
        if not line:
            if message:
                return message
            continue
        key, _, value = line.partition(":")
        message[key.strip()] = value.strip()


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"not {what} within {timeout} s (last: {last!r})")


def member_event(
    queue: str, interface: str, event: str = "QueueMemberAdded", **extra: str
) -> dict[str, str]:
    """An AMI member event as Asterisk 22 sends it (a paused dynamic member by default)."""
    fields = {
        "Event": event,
        "Queue": queue,
        "Interface": interface,
        "MemberName": "Agent 1004",
        "StateInterface": interface,
        "Membership": "dynamic",
        "Penalty": "2",
        "CallsTaken": "0",
        "LastCall": "0",
        "LastPause": "0",
        "LoginTime": "0",
        "InCall": "0",
        "Status": "1",
        "Paused": "1",
        "PausedReason": "training",
        "Ringinuse": "0",
        "Wrapuptime": "0",
    }
    fields.update(extra)
    return fields
