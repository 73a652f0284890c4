"""One-way WebSockets to browsers: the live feed and the agent console share this pump."""

from __future__ import annotations

import asyncio
import random

from aiohttp import WSMsgType, web

# A browser that stops answering pings is noticed within about this long and its socket closed.
HEARTBEAT_SECONDS = 20.0
# aiohttp rounds timers longer than this up to a whole second of the loop's clock. Sockets
# opened within one second (all of them, when every console reconnects after a restart) would
# then ping in the same loop turn, and pops behind 2,000 pings wait; the service passes this
# to its runner so heartbeats keep their own times.
TIMEOUT_CEIL_THRESHOLD = HEARTBEAT_SECONDS * 2


async def open_socket(request: web.Request) -> web.WebSocketResponse:
    # Spread, so that sockets opened together do not keep pinging together.
    socket = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS * random.uniform(0.8, 1.2))
    await socket.prepare(request)
    return socket


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
