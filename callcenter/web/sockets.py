"""One-way WebSockets to browsers: the live feed and the agent console share this pump."""

from __future__ import annotations

import asyncio
import contextlib
import random
import weakref

from aiohttp import WSCloseCode, WSMsgType, web

from callcenter.auth.sessions import COOKIE_NAME

# A browser that stops answering pings is noticed within about this long and its socket closed.
HEARTBEAT_SECONDS = 20.0
# aiohttp rounds timers longer than this up to a whole second of the loop's clock. Sockets
# opened within one second (all of them, when every console reconnects after a restart) would
# then ping in the same loop turn, and pops behind 2,000 pings wait; the service passes this
# to its runner so heartbeats keep their own times.
TIMEOUT_CEIL_THRESHOLD = HEARTBEAT_SECONDS * 2
# How long the service waits for browsers to answer a close when it shuts down.
CLOSE_SECONDS = 2.0


class SocketRegistry:
    """Every open browser socket with the session it was opened under: closed when that
    session ends (logout, expiry, the user disabled) and when the app shuts down."""

    def __init__(self) -> None:
        # Weak: a socket whose handler returned is forgotten without bookkeeping.
        self._sessions: weakref.WeakKeyDictionary[web.WebSocketResponse, str] = (
            weakref.WeakKeyDictionary()
        )

    def add(self, socket: web.WebSocketResponse, session: str) -> None:
        self._sessions[socket] = session

    def sessions(self) -> set[str]:
        return {s for s in list(self._sessions.values()) if s}

    async def close_session(self, session: str, why: str) -> int:
        """Close every socket of one session; how many were open."""
        doomed = [k for k, v in list(self._sessions.items()) if v == session]
        for socket in doomed:
            await _close(socket, WSCloseCode.POLICY_VIOLATION, why)
        return len(doomed)

    async def close_all(self, why: str) -> None:
        """Close every socket at once; a browser that does not answer the close is not
        waited for longer than CLOSE_SECONDS."""
        closing = [
            asyncio.ensure_future(_close(s, WSCloseCode.GOING_AWAY, why))
            for s in list(self._sessions)
        ]
        if closing:
            _, late = await asyncio.wait(closing, timeout=CLOSE_SECONDS)
            for task in late:
                task.cancel()


async def _close(socket: web.WebSocketResponse, code: int, why: str) -> None:
    with contextlib.suppress(Exception):
        await socket.close(code=code, message=why.encode()[:120])


SOCKETS: web.AppKey[SocketRegistry] = web.AppKey("sockets")


async def open_socket(request: web.Request) -> web.WebSocketResponse:
    # Spread, so that sockets opened together do not keep pinging together.
    socket = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS * random.uniform(0.8, 1.2))
    await socket.prepare(request)
    request.app[SOCKETS].add(socket, request.cookies.get(COOKIE_NAME, ""))
    return socket


def track_sockets(app: web.Application, registry: SocketRegistry) -> None:
    """The app's sockets are closed when it shuts down (browsers then reconnect to another
    replica, or to this one once it is back)."""
    app[SOCKETS] = registry

    async def close_all(app: web.Application) -> None:
        await registry.close_all("server stopping")

    app.on_shutdown.append(close_all)


async def pump(socket: web.WebSocketResponse, outbox: asyncio.Queue[str | None]) -> None:
    """Sends what ``outbox`` gives until it gives None (the sender was dropped) or the
    browser goes away; the caller closes the socket."""
    reader = asyncio.ensure_future(_drain_incoming(socket))
    try:
        while not reader.done():
            getter = asyncio.ensure_future(outbox.get())
            done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                return
            text = getter.result()
            if text is None:
                return
            await socket.send_str(text)
    finally:
        reader.cancel()


async def _drain_incoming(socket: web.WebSocketResponse) -> None:
    # The pages send nothing; reading is how a closed browser tab is noticed.
    async for message in socket:
        if message.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
            break
