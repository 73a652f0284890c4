"""A small FastAGI server on asyncio streams.

Why not panoramisk's ``fast_agi``: its header reader loops without yielding when the peer
closes mid-header (the whole event loop, AMI included, freezes), sync endpoints break on
Python >= 3.11, route exceptions are swallowed and routes match the whole script path. The
protocol is small (``agi_*: value`` lines until a blank line, then ``COMMAND`` lines each
answered by ``200 result=...``), so this module reads it with a hard deadline and size cap
on the request and a timeout on every reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 16 * 1024
MAX_LINE_BYTES = 4 * 1024
HEADER_TIMEOUT = 2.0
REPLY_TIMEOUT = 2.0
_REPLY = re.compile(r"(?P<code>\d{3})(?P<more>[ -])(?P<text>.*)")
_RESULT = re.compile(r"result=(?P<value>-?\d+)")


class AgiError(Exception):
    """The peer broke the protocol, went away or did not answer in time."""


@dataclass(frozen=True)
class AgiRequest:
    """The ``agi_*`` environment Asterisk sends first, split into route and arguments."""

    env: dict[str, str]
    route: str
    args: list[str] = field(default_factory=list)

    def get(self, name: str, default: str = "") -> str:
        return self.env.get(name, default)

    def arg(self, index: int, default: str = "") -> str:
        """The dialplan argument ``index`` (0-based), ``default`` when absent or empty."""
        value = self.args[index] if index < len(self.args) else ""
        return value if value else default


@dataclass(frozen=True)
class AgiReply:
    code: int
    result: int | None
    text: str


def route_of(script: str) -> str:
    """``agi://host:port/lookup`` sends ``lookup`` (with query or not) as the script."""
    path = urlsplit(script).path if "://" in script else script.split("?", 1)[0]
    return path.strip("/")


async def read_request(
    reader: asyncio.StreamReader, timeout: float = HEADER_TIMEOUT, max_bytes: int = MAX_HEADER_BYTES
) -> AgiRequest:
    """Read the environment block; fail on EOF, oversize or a slow peer."""
    env: dict[str, str] = {}
    total = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                line = await _read_line(reader)
                total += len(line)
                if total > max_bytes:
                    raise AgiError(f"AGI request larger than {max_bytes} bytes")
                text = line.decode("utf-8", "replace").rstrip("\r\n")
                if not text:
                    break
                name, sep, value = text.partition(":")
                if not sep or not name.startswith("agi_"):
                    raise AgiError(f"not an AGI environment line: {text[:60]!r}")
                env[name.strip()] = value.strip()
    except TimeoutError:
        raise AgiError(f"no complete AGI request within {timeout:g} s") from None
    args = [
        value
        for _, value in sorted(
            (
                (int(k[len("agi_arg_") :]), v)
                for k, v in env.items()
                if k.startswith("agi_arg_") and k[len("agi_arg_") :].isdigit()
            ),
        )
    ]
    return AgiRequest(env, route_of(env.get("agi_network_script", "")), args)


async def _read_line(reader: asyncio.StreamReader) -> bytes:
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        # EOF: readuntil returns at once, so a closed peer never spins the loop.
        raise AgiError("peer closed the connection") from exc
    except asyncio.LimitOverrunError as exc:
        raise AgiError("AGI line too long") from exc
    return line


class AgiChannel:
    """Commands to the channel behind one FastAGI connection."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        reply_timeout: float = REPLY_TIMEOUT,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._reply_timeout = reply_timeout

    async def command(self, text: str) -> AgiReply:
        if "\n" in text or "\r" in text:
            raise ValueError("an AGI command is one line")
        self._writer.write(text.encode("utf-8") + b"\n")
        try:
            async with asyncio.timeout(self._reply_timeout):
                await self._writer.drain()
                return await self._read_reply()
        except TimeoutError:
            raise AgiError(
                f"no reply to {text.split(' ', 1)[0]} within {self._reply_timeout:g} s"
            ) from None

    async def _read_reply(self) -> AgiReply:
        lines: list[str] = []
        while True:
            text = (await _read_line(self._reader)).decode("utf-8", "replace").rstrip("\r\n")
            if text == "HANGUP" and not lines:
                # Asterisk tells FastAGI about a hang-up out of band; the reply follows.
                continue
            match = _REPLY.fullmatch(text)
            if lines and not (match and match.group("more") == " "):
                lines.append(text)  # inside a "520-" usage block
                continue
            if match is None:
                raise AgiError(f"not an AGI reply: {text[:60]!r}")
            lines.append(match.group("text"))
            if match.group("more") == "-":
                continue
            result = _RESULT.search(lines[0])
            return AgiReply(
                int(match.group("code")),
                int(result.group("value")) if result else None,
                "\n".join(lines),
            )

    async def set_variable(self, name: str, value: str) -> None:
        quoted = value.replace("\\", "\\\\").replace('"', '\\"')
        reply = await self.command(f'SET VARIABLE {name} "{quoted}"')
        if reply.code != 200:
            raise AgiError(f"SET VARIABLE {name} refused: {reply.code} {reply.text[:80]}")

    async def set_variables(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            await self.set_variable(name, value)

    async def verbose(self, message: str, level: int = 3) -> None:
        quoted = message.replace("\\", "\\\\").replace('"', "'")
        await self.command(f'VERBOSE "{quoted}" {level}')


Handler = Callable[[AgiRequest, AgiChannel], Awaitable[None]]


class FastAgiServer:
    """Accepts FastAGI connections and runs the route named by the script path."""

    def __init__(
        self,
        host: str,
        port: int,
        routes: dict[str, Handler],
        header_timeout: float = HEADER_TIMEOUT,
    ) -> None:
        self.host = host
        self.port = port
        self._routes = routes
        self._header_timeout = header_timeout
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()

    @property
    def bound_port(self) -> int:
        if self._server is None or not self._server.sockets:
            return self.port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, limit=MAX_LINE_BYTES
        )
        log.info(
            "FastAGI on agi://%s:%s (routes: %s)",
            self.host,
            self.bound_port,
            ", ".join(sorted(self._routes)),
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._sessions):
            task.cancel()
        await asyncio.gather(*self._sessions, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._sessions.add(task)
        try:
            await self._session(reader, writer)
        finally:
            if task is not None:
                self._sessions.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await read_request(reader, self._header_timeout)
        except AgiError as exc:
            log.warning("FastAGI: dropped a connection: %s", exc)
            return
        handler = self._routes.get(request.route)
        channel = AgiChannel(reader, writer)
        if handler is None:
            log.warning("FastAGI: unknown route %r", request.route)
            with contextlib.suppress(AgiError, OSError):
                await channel.verbose(f"callcenter: unknown FastAGI route {request.route}", 1)
            return
        try:
            await handler(request, channel)
        except (AgiError, OSError) as exc:
            log.warning("FastAGI %s on %s: %s", request.route, request.get("agi_uniqueid"), exc)
        except Exception:
            log.exception("FastAGI route %s failed", request.route)
