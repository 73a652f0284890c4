"""A scripted AMI peer for protocol tests of the link (not a stand-in for Asterisk).

It answers Login and Ping like Asterisk does, records every action, and lets a test push
raw bytes, go silent, or drop the connection, which a real PBX cannot be made to do on cue.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass, field


@dataclass
class ScriptedPeer:
    secret: str = "peer-secret"
    answer_pings: bool = True
    answer_actions: bool = True
    actions: list[dict[str, str]] = field(default_factory=list)
    logins: int = 0
    # Every byte any client wrote, to prove that nothing at all reached the "PBX".
    received: bytearray = field(default_factory=bytearray)
    # Serve AMI over TLS with this context (Asterisk's tlsenable) instead of clear text.
    tls: ssl.SSLContext | None = None
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _logged_in: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def drop(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()
        self._logged_in.clear()

    async def wait_login(self, timeout: float = 5) -> None:
        await asyncio.wait_for(self._logged_in.wait(), timeout)

    async def push(self, *chunks: bytes, pause: float = 0.05) -> None:
        """Write each chunk as its own TCP send, with a pause so reads stay separate."""
        writer = self._writers[-1]
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(pause)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                block = await reader.readuntil(b"\r\n\r\n")
                self.received += block
                self._answer(writer, _fields(block.decode()))

    def _answer(self, writer: asyncio.StreamWriter, action: dict[str, str]) -> None:
        self.actions.append(action)
        name, action_id = action.get("Action", ""), action.get("ActionID", "")
        if name == "Login":
            ok = action.get("Secret") == self.secret
            self.logins += ok
            reply = (
                f"Response: {'Success' if ok else 'Error'}\r\nActionID: {action_id}\r\n"
                f"Message: {'Authentication accepted' if ok else 'Authentication failed'}"
            )
            writer.write((reply + "\r\n\r\n").encode())
            if ok:
                self._logged_in.set()
        elif name == "Ping":
            if self.answer_pings:
                writer.write(
                    f"Response: Success\r\nActionID: {action_id}\r\nPing: Pong\r\n\r\n".encode()
                )
        elif self.answer_actions:
            writer.write(
                f"Response: Success\r\nActionID: {action_id}\r\nMessage: ok\r\n\r\n".encode()
            )


def _fields(block: str) -> dict[str, str]:
    fields = {}
    for line in block.split("\r\n"):
        key, sep, value = line.partition(": ")
        if sep:
            fields[key] = value
    return fields
