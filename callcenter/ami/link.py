"""One resilient AMI link per PBX: login, keep-alive, reconnect with back-off and jitter.

The link owns the connection's life; what happens with events is the sink's business.
After every login ``on_ready`` runs (the service resyncs its model there). Every action has
a timeout, and an action pending when the connection drops fails at once with
``AmiUnavailable`` rather than hanging until some later reconnect.

``send`` is the one door every action goes through (Login, Filter, Ping and everything in
``actions.py``), so that is where values bound for the PBX are checked: a header name or value
with CR, LF or NUL is refused with ``AmiBadValue`` and nothing is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from panoramisk.actions import Action
from panoramisk.message import Message

from callcenter.ami.errors import (
    AmiAuthError,
    AmiBadValue,
    AmiError,
    AmiRefused,
    AmiTimeout,
    AmiUnavailable,
)
from callcenter.ami.protocol import AmiProtocol, Fields, frame_problem, shown
from callcenter.ami.tls import client_context, transport_warnings
from callcenter.settings import PbxSettings

log = logging.getLogger(__name__)

EventSink = Callable[[str, Fields, datetime], None]
ReadyHook = Callable[["AmiLink"], Awaitable[None]]
StateHook = Callable[["AmiLink"], None]


class LinkState(enum.StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    AUTH_FAILED = "auth-failed"
    STOPPED = "stopped"


def backoff_delay(attempt: int, base: float, cap: float, jitter: float) -> float:
    """Capped exponential back-off; ``jitter`` in [0, 1) spreads replicas apart."""
    return min(cap, base * 2.0 ** min(attempt, 30)) * (0.5 + jitter / 2)


class AmiLink:
    def __init__(
        self,
        pbx: PbxSettings,
        on_event: EventSink,
        *,
        on_ready: ReadyHook | None = None,
        on_state: StateHook | None = None,
        event_filters: Sequence[str] = (),
        base_delay: float = 0.5,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.settings = pbx
        self.name = pbx.name
        self.state = LinkState.DISCONNECTED
        self.last_error = ""
        self.reconnects = 0
        self.asterisk_version: str | None = None
        # When the current connection came up (UTC): events from then on reach the model.
        self.connected_at: datetime | None = None
        self._on_event = on_event
        self._on_ready = on_ready
        self._on_state = on_state
        self._filters = tuple(event_filters)
        self._base_delay = base_delay
        self._rng = rng
        self._protocol: AmiProtocol | None = None
        self._lost: asyncio.Future[None] | None = None
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- life cycle -------------------------------------------------------------------

    async def run(self) -> None:
        """Stay connected until ``stop()``."""
        for warning in transport_warnings(self.settings):
            log.warning("PBX %s: %s", self.name, warning)
        attempt = 0
        while not self._stopping.is_set():
            was_connected = await self._one_session()
            if self._stopping.is_set():
                break
            attempt = 0 if was_connected else attempt + 1
            delay = backoff_delay(
                attempt, self._base_delay, self.settings.reconnect_max_delay, self._rng()
            )
            log.info("PBX %s: reconnecting in %.1f s", self.name, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
        self._set_state(LinkState.STOPPED)

    async def stop(self) -> None:
        self._stopping.set()
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)
        for task in list(self._tasks):
            task.cancel()
        if self._protocol is not None:
            self._protocol.close()

    @property
    def connected(self) -> bool:
        return self.state is LinkState.CONNECTED

    async def _one_session(self) -> bool:
        """Connect, log in, serve until the connection is lost; True if it got that far."""
        self._set_state(LinkState.CONNECTING)
        loop = asyncio.get_running_loop()
        self._lost = loop.create_future()
        try:
            await self._connect_and_login(loop)
        except AmiAuthError as exc:
            self._fail(LinkState.AUTH_FAILED, exc.message)
            return False
        except (OSError, AmiError, TimeoutError) as exc:
            self._fail(LinkState.DISCONNECTED, _describe(exc))
            return False
        self.reconnects += 1
        self._set_state(LinkState.CONNECTED)
        self._spawn(self._keepalive())
        if self._on_ready is not None:
            self._spawn(self._run_ready_hook())
        await self._lost
        self._drop_connection()
        if not self._stopping.is_set():
            self._fail(LinkState.DISCONNECTED, self.last_error or "connection lost")
        return True

    async def _connect_and_login(self, loop: asyncio.AbstractEventLoop) -> None:
        timeout = self.settings.action_timeout
        # Built per attempt: a CA file fixed on disk is picked up by the next reconnect, and a
        # bad one fails this attempt (logged, retried) instead of the whole service.
        context = client_context(self.settings)
        _transport, protocol = await asyncio.wait_for(
            loop.create_connection(
                lambda: AmiProtocol(self, self.settings.max_message_bytes),
                self.settings.host,
                self.settings.port,
                ssl=context,
            ),
            timeout,
        )
        self._protocol = protocol
        self.last_error = ""
        try:
            await self.send(
                {
                    "Action": "Login",
                    "Username": self.settings.username,
                    "Secret": self.settings.secret.get_secret_value(),
                    "Events": "on",
                }
            )
        except AmiRefused:
            self._drop_connection()
            raise AmiAuthError(self.name, "login refused (check username and secret)") from None
        except BaseException:
            self._drop_connection()
            raise
        self.asterisk_version = protocol.version
        for pattern in self._filters:
            await self.send({"Action": "Filter", "Operation": "Add", "Filter": pattern})

    def _drop_connection(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._protocol is not None:
            self._protocol.close()
            self._protocol = None

    def _fail(self, state: LinkState, reason: str) -> None:
        self.last_error = reason
        log.warning(
            "PBX %s: %s (%s:%s): %s",
            self.name,
            state.value,
            self.settings.host,
            self.settings.port,
            reason,
        )
        self._set_state(state)

    def _set_state(self, state: LinkState) -> None:
        if state is self.state:
            return
        self.state = state
        if state is LinkState.CONNECTED:
            self.connected_at = datetime.now(UTC)
            log.info(
                "PBX %s: connected to %s:%s (AMI %s)",
                self.name,
                self.settings.host,
                self.settings.port,
                self.asterisk_version,
            )
        if self._on_state is not None:
            self._on_state(self)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_ready_hook(self) -> None:
        assert self._on_ready is not None
        try:
            await self._on_ready(self)
        except AmiError as exc:
            log.warning("PBX %s: resync failed: %s", self.name, exc.message)
        except Exception:
            log.exception("PBX %s: resync failed", self.name)

    async def _keepalive(self) -> None:
        # panoramisk's own Ping never reads the answer: a PBX that stops talking but keeps
        # the TCP connection open would go unnoticed. A missing Pong drops the connection.
        while True:
            await asyncio.sleep(self.settings.ping_interval)
            try:
                await self.send({"Action": "Ping"})
            except AmiTimeout:
                self.last_error = "no answer to Ping"
                log.warning(
                    "PBX %s: no Pong within %.1f s, reconnecting",
                    self.name,
                    self.settings.action_timeout,
                )
                if self._protocol is not None:
                    self._protocol.transport.abort()
                return
            except AmiError:
                return

    # --- FrameSink --------------------------------------------------------------------

    def event_received(self, fields: Fields) -> None:
        if fields.get("Event") == "Shutdown" and self._protocol is not None:
            self.last_error = "PBX is shutting down"
            self._protocol.transport.close()
        try:
            self._on_event(self.name, fields, datetime.now(UTC))
        except Exception:
            # A faulty consumer must never take the link (and the rest of the chunk) down.
            log.exception("PBX %s: event handler failed on %s", self.name, fields.get("Event"))

    def connection_lost(self, exc: BaseException | None) -> None:
        if exc is not None and not self.last_error:
            self.last_error = _describe(exc)
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)

    def pending_failed(self) -> BaseException:
        message = "connection closed while the action was pending"
        # The reason the connection was dropped (an oversize message...), when one is known.
        return AmiUnavailable(
            self.name, f"{message} ({self.last_error})" if self.last_error else message
        )

    # --- actions ----------------------------------------------------------------------

    async def send(
        self, fields: Mapping[str, str], *, as_list: bool = False, timeout: float | None = None
    ) -> Any:
        """Send one action; returns a Message, or the list of messages when ``as_list``.

        ``as_list`` is always explicit: panoramisk's guess misreads some acks (QueueAdd
        never resolves, and some "successfully queued" acks raise).
        Raises ``AmiBadValue`` (logged, nothing written) for a value that would break framing.
        """
        self._check_frame(fields)
        protocol = self._protocol
        if protocol is None or protocol.closed:
            raise AmiUnavailable(self.name, "not connected")
        action = Action(dict(fields), as_list=as_list)
        future = protocol.send_action(action)
        limit = self.settings.action_timeout if timeout is None else timeout
        try:
            result = await asyncio.wait_for(future, limit)
        except TimeoutError:
            protocol.responses.pop(action.id, None)
            message = f"{fields.get('Action')}: no answer within {limit:g} s"
            raise AmiTimeout(self.name, message) from None
        except AmiError:
            raise
        except Exception as exc:
            raise AmiError(self.name, f"{fields.get('Action')}: {exc}") from exc
        _raise_if_refused(self.name, fields.get("Action", ""), result)
        return result

    def _check_frame(self, fields: Mapping[str, str]) -> None:
        problem = frame_problem(fields)
        if problem is None:
            return
        error = AmiBadValue(
            self.name, f"{shown(str(fields.get('Action', '')))} not sent: {problem}"
        )
        log.warning("PBX %s: action refused: %s", self.name, error.message)
        raise error


def _raise_if_refused(pbx: str, action: str, result: Message | list[Message]) -> None:
    first = result[0] if isinstance(result, list) else result
    if first.get("Response") in ("Error", "Fail", "Failure"):
        raise AmiRefused(pbx, f"{action}: {first.get('Message', 'refused')}")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, AmiError):
        return exc.message
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__
