"""AMI framing on top of panoramisk's ``AMIProtocol``, with its stream traps fixed.

panoramisk 1.4 decodes every TCP chunk on its own with ``errors='ignore'``, so a UTF-8
character split across two reads (a Chinese caller name) is silently dropped, and it wraps
every event in a case-insensitive ``Message`` even when nobody waits for it. Here the bytes
go through one incremental decoder per connection; events become plain ``dict[str, str]``
(cheap, and what the pure live model wants); only answers to our own actions become
panoramisk ``Message`` objects that resolve the action's future. When the connection closes,
pending actions fail at once instead of waiting for a ``FullyBooted`` that may never come.

Two guards sit here because every byte passes here: ``frame_problem`` refuses an action whose
header names or values would break the framing (CR, LF, NUL), and the reader drops the
connection when one message grows past ``max_message_bytes`` without its frame end.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from typing import Any, Protocol

from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

log = logging.getLogger(__name__)

EOL = "\r\n"
MESSAGE_END = EOL + EOL
BANNER = "Asterisk Call Manager/"
_EOL_BYTES = EOL.encode()
_MESSAGE_END_BYTES = MESSAGE_END.encode()
_BANNER_BYTES = BANNER.encode()
DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024
Fields = dict[str, str]

# CR and LF end a header line and NUL ends a C string in Asterisk's manager parser: any of
# them in a name or value would let the rest be read as further headers or a second action.
_FRAME_BREAKERS = re.compile("[\r\n\x00]")
# A colon in a header name would move the rest of the name into the value.
_NAME_BREAKERS = re.compile("[\r\n\x00:]")
# Values of these headers are never shown, even refused ones (the Login secret).
_HIDDEN_HEADERS = frozenset({"secret"})
_SHOWN_CHARS = 60


class FrameSink(Protocol):
    """What the protocol hands its messages to (the link)."""

    def event_received(self, fields: Fields) -> None: ...

    def connection_lost(self, exc: BaseException | None) -> None: ...

    def pending_failed(self) -> BaseException: ...


def shown(text: str) -> str:
    """``text`` for a log line or an error: repr'd (a CR cannot split the line) and cut short."""
    return repr(text[:_SHOWN_CHARS]) + ("..." if len(text) > _SHOWN_CHARS else "")


def frame_problem(fields: Mapping[str, object]) -> str | None:
    """Why ``fields`` cannot be written as one AMI action; None when they can.

    Values may be lists (panoramisk writes one header line per item), so each item is checked.
    """
    for name, value in fields.items():
        if not name or _NAME_BREAKERS.search(name):
            return f"header name {shown(name)} is not allowed"
        items = value if isinstance(value, list | tuple) else (value,)
        for item in items:
            if _FRAME_BREAKERS.search(str(item)):
                what = "(hidden)" if name.lower() in _HIDDEN_HEADERS else shown(str(item))
                return f"header {name} carries CR, LF or NUL: {what}"
    return None


def parse_block(block: str) -> Fields:
    """One AMI message (headers separated by CRLF) as a dict; later duplicates win."""
    fields: Fields = {}
    for line in block.split(EOL):
        key, sep, value = line.partition(": ")
        if sep:
            fields[key] = value
    return fields


class AmiProtocol(AMIProtocol):  # type: ignore[misc]
    """An asyncio protocol for one AMI connection."""

    version: str | None
    closed: bool

    def __init__(self, sink: FrameSink, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        super().__init__()
        self.sink = sink
        self.max_message_bytes = max_message_bytes
        # Bytes after the last frame end. Frames are cut as bytes and decoded whole: CR and
        # LF never occur inside a UTF-8 sequence, so no character is ever split.
        self._pending = b""
        self._drop_reason: str | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.encoding = "utf-8"

    def data_received(self, data: bytes) -> None:
        if self._drop_reason is not None:
            return
        buffer = self._pending + data
        if self.version is None and buffer.startswith(_BANNER_BYTES) and _EOL_BYTES in buffer:
            banner, _, buffer = buffer.partition(_EOL_BYTES)
            self.version = banner[len(_BANNER_BYTES) :].decode("utf-8", "replace").strip()
        end = buffer.rfind(_MESSAGE_END_BYTES)
        complete, self._pending = (b"", buffer) if end < 0 else (buffer[:end], buffer[end + 4 :])
        if len(self._pending) > self.max_message_bytes:
            self._drop(f"AMI message over {self.max_message_bytes} bytes without a frame end")
            return
        if not complete:
            return
        # Whole frames only, so one decode for all of them splits no character.
        blocks = complete.decode("utf-8", "replace").split(MESSAGE_END)
        for block in blocks:
            if len(complete) > self.max_message_bytes and self._oversize(block):
                return
            self._handle_block(block.strip(EOL))

    def _oversize(self, block: str) -> bool:
        size = len(block.encode())
        if size <= self.max_message_bytes:
            return False
        self._drop(f"AMI message of {size} bytes (limit {self.max_message_bytes})")
        return True

    def _drop(self, reason: str) -> None:
        # A peer that never ends its message would grow the buffer without bound; the link
        # sees the connection lost with this reason, logs it and reconnects with back-off.
        self._drop_reason = reason
        self._pending = b""
        self.transport.abort()

    def _handle_block(self, block: str) -> None:
        if not block:
            return
        fields = parse_block(block)
        action_id = fields.get("ActionID")
        if action_id is not None and action_id in self.responses:
            self._answer_action(block)
        elif "Event" in fields:
            self.sink.event_received(fields)
        else:
            log.debug("AMI message with no event and no waiting action dropped")

    def _answer_action(self, block: str) -> None:
        message = Message.from_line(block)
        if message is None:
            return
        try:
            self.handle_message(message)
        except Exception:
            # panoramisk's completion logic can raise on odd acks (KeyError on a missing
            # Async header); the action then fails instead of taking the connection down.
            log.exception("AMI answer could not be matched to its action")
            action = self.responses.pop(message.action_id, None)
            if action is not None and not action.future.done():
                action.future.set_exception(RuntimeError("unreadable AMI answer"))
            return
        self._end_refused_list(message)

    def _end_refused_list(self, message: Message) -> None:
        # panoramisk keeps waiting for the "...Complete" of a list action refused outright
        # (QueueStatus while app_queue is still loading after a restart): the refusal is the
        # whole answer, and the link turns it into AmiRefused.
        action = self.responses.get(message.action_id)
        if (
            action is None
            or action.future.done()
            or len(action.responses) != 1
            or message.get("Response") not in ("Error", "Fail", "Failure")
        ):
            return
        self.responses.pop(message.action_id, None)
        action.future.set_result(list(action.responses))

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._drop_reason is not None:
            exc = ConnectionAbortedError(self._drop_reason)
        if not self.closed:
            # The sink first learns why, so the pending actions failed by close() can say so.
            self.sink.connection_lost(exc)
            self.close()

    def close(self) -> None:
        error = self.sink.pending_failed()
        for action in list(self.responses.values()):
            if not action.future.done():
                action.future.set_exception(error)
        self.responses.clear()
        if not self.closed:
            self.closed = True
            self.transport.close()

    def send_action(self, action: Any) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = self.send(action, as_list=action.as_list)
        return future
