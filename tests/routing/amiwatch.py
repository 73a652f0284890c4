"""A second, independent AMI login that records events with Asterisk's own timestamps.

The rig's manager.conf has ``timestampevents = yes``: every event carries ``Timestamp`` (epoch
with microseconds, set by Asterisk), so lags are measured by the PBX's clock, not ours.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from callcenter.rig import AMI_HOST, AMI_PORT, AMI_SECRET, AMI_USERNAME


class AmiEvents:
    """Records every event whose name starts with one of ``wanted``, in arrival order."""

    def __init__(self, wanted: tuple[str, ...], classes: str = "agent") -> None:
        self.wanted = wanted
        self.events: list[dict[str, str]] = []
        self._sock = socket.create_connection((AMI_HOST, AMI_PORT), timeout=5)
        self._sock.sendall(
            f"Action: Login\r\nUsername: {AMI_USERNAME}\r\nSecret: {AMI_SECRET}\r\n"
            f"Events: {classes}\r\n\r\n".encode()
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        buffer = b""
        self._sock.settimeout(0.5)
        while not self._stop.is_set():
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b"\r\n\r\n" in buffer:
                block, buffer = buffer.split(b"\r\n\r\n", 1)
                fields = dict(
                    line.split(": ", 1)
                    for line in block.decode("utf-8", "replace").split("\r\n")
                    if ": " in line
                )
                if fields.get("Event", "").startswith(self.wanted):
                    self.events.append(fields)

    def of(self, event: str, queue: str | None = None) -> list[dict[str, str]]:
        return [
            e
            for e in list(self.events)
            if e.get("Event") == event and (queue is None or e.get("Queue") == queue)
        ]

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._sock.sendall(b"Action: Logoff\r\n\r\n")
        self._sock.close()
        self._thread.join(2)


class JoinWatcher(AmiEvents):
    """Queue joins: when each caller joined which queue."""

    def __init__(self) -> None:
        super().__init__(("QueueCallerJoin",))

    @property
    def joins(self) -> list[dict[str, str]]:
        return self.events

    def join_time(self, uniqueid: str, queue: str) -> float | None:
        for fields in list(self.joins):
            if fields.get("Uniqueid") == uniqueid and fields.get("Queue") == queue:
                return float(fields["Timestamp"])
        return None

    def uniqueid_of(self, number: str, queue: str) -> str | None:
        for fields in list(self.joins):
            if fields.get("CallerIDNum") == number and fields.get("Queue") == queue:
                return fields["Uniqueid"]
        return None

    def wait(self, condition: object, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():  # type: ignore[operator]
                return True
            time.sleep(0.05)
        return False
