"""A small FastAGI server on asyncio streams.

Why not panoramisk's ``fast_agi``: its header reader loops without yielding when the peer
closes mid-header (the whole event loop, AMI included, freezes), sync endpoints break on
Python >= 3.11, route exceptions are swallowed and routes match the whole script path. The
protocol is small (``agi_*: value`` lines until a blank line, then ``COMMAND`` lines each
answered by ``200 result=...``), so this module reads it with a hard deadline and size cap
on the request and a timeout on every reply.

Nothing a peer sends can end a session in an unhandled exception: a request or a value that
cannot be served (a CR in the route name, a value that would split a command) is refused:
logged as one line that says what, with the value repr'd, and answered with a VERBOSE before
the server hangs up the FastAGI connection (the dialplan goes on with its defaults). Only a
bug in a route is logged with its traceback, once.
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
_ARG_NAME = re.compile(r"agi_arg_(?P<index>[0-9]{1,4})")
# Route names are dialplan script paths: letters, digits and a few separators, nothing that
# could split a log line or an AGI command when echoed.
_ROUTE_NAME = re.compile(r"[A-Za-z0-9_./-]{0,100}")
_COMMAND_BREAKERS = re.compile("[\r\n\x00]")
_SHOWN_CHARS = 60


class AgiError(Exception):
    """The peer broke the protocol, went away or did not answer in time."""


class AgiBadValue(AgiError, ValueError):
    """A request or a command value that cannot be served safely; refused, never sent.

    Also a ValueError: that is what ``command`` raised for a multi-line text before.
    """


def shown(text: str) -> str:
    """``text`` for a log line: repr'd, so a CR or LF cannot split the line, and cut short."""
    return repr(text[:_SHOWN_CHARS]) + ("..." if len(text) > _SHOWN_CHARS else "")


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
    return AgiRequest(env, route_of(env.get("agi_network_script", "")), _args_of(env))


def _args_of(env: dict[str, str]) -> list[str]:
    # ASCII digits only: str.isdigit() accepts "²", which int() then refuses.
    numbered = []
    for key, value in env.items():
        match = _ARG_NAME.fullmatch(key)
        if match is not None:
            numbered.append((int(match.group("index")), value))
    return [value for _, value in sorted(numbered)]


def route_problem(route: str) -> str | None:
    """Why ``route`` is not a route name anyone could have configured; None if it could be."""
    if _ROUTE_NAME.fullmatch(route):
        return None
    return f"route name {shown(route)} is not allowed"


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
        if _COMMAND_BREAKERS.search(text):
            # A CR or LF would end the command early and the rest would run as another one.
            raise AgiBadValue(f"an AGI command is one line: {shown(text)} not sent")
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
        except Exception as exc:
            # Last guard: asyncio would log an escaped exception as "Unhandled exception in
            # client_connected_cb"; here it is logged once, with its type, and the connection
            # still closes below.
            log.exception("FastAGI: session failed: %s", type(exc).__name__)
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
        channel = AgiChannel(reader, writer)
        problem = route_problem(request.route)
        if problem is not None:
            await self._refuse(request, channel, problem)
            return
        handler = self._routes.get(request.route)
        if handler is None:
            await self._refuse(request, channel, f"unknown route {request.route!r}")
            return
        try:
            await handler(request, channel)
        except AgiBadValue as exc:
            # Refused before it was written: the channel is still in step, so it can be told.
            # The value may be a caller's data: the log has it, the PBX console does not.
            await self._refuse(request, channel, f"route {request.route}: {exc}", "a bad value")
        except (AgiError, OSError) as exc:
            log.warning(
                "FastAGI %s on %s: %s",
                request.route,
                shown(request.get("agi_uniqueid")),
                shown(str(exc)),
            )
        except Exception:
            log.exception("FastAGI route %s failed", request.route)

    async def _refuse(
        self, request: AgiRequest, channel: AgiChannel, reason: str, answer: str = ""
    ) -> None:
        """Log one line for a request that cannot be served and tell the channel (VERBOSE).

        ``reason`` (logged) and ``answer`` (sent; default: the reason) show text from the
        peer only repr'd, so each fits in one line and one command. The server then hangs up
        the FastAGI connection and the dialplan goes on.
        """
        log.warning(
            "FastAGI: refused a request on %s: %s", shown(request.get("agi_uniqueid")), reason
        )
        with contextlib.suppress(AgiError, OSError):
            await channel.verbose(f"callcenter: FastAGI request refused: {answer or reason}", 1)
