"""AMI framing on top of panoramisk's ``AMIProtocol``, with its stream traps fixed.

panoramisk 1.4 decodes every TCP chunk on its own with ``errors='ignore'``, so a UTF-8
character split across two reads (a Chinese caller name) is silently dropped, and it wraps
every event in a case-insensitive ``Message`` even when nobody waits for it. Here the bytes
go through one incremental decoder per connection; events become plain ``dict[str, str]``
(cheap, and what the pure live model wants); only answers to our own actions become
panoramisk ``Message`` objects that resolve the action's future. When the connection closes,
pending actions fail at once instead of waiting for a ``FullyBooted`` that may never come.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
from typing import Any, Protocol

from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

log = logging.getLogger(__name__)

EOL = "\r\n"
MESSAGE_END = EOL + EOL
BANNER = "Asterisk Call Manager/"
Fields = dict[str, str]


class FrameSink(Protocol):
    """What the protocol hands its messages to (the link)."""

    def event_received(self, fields: Fields) -> None: ...

    def connection_lost(self, exc: BaseException | None) -> None: ...

    def pending_failed(self) -> BaseException: ...


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

    def __init__(self, sink: FrameSink) -> None:
        super().__init__()
        self.sink = sink
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending_text = ""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.encoding = "utf-8"

    def data_received(self, data: bytes) -> None:
        text = self._pending_text + self._decoder.decode(data)
        if self.version is None and text.startswith(BANNER):
            banner, _, text = text.partition(EOL)
            self.version = banner[len(BANNER) :].strip()
        blocks = text.split(MESSAGE_END)
        self._pending_text = blocks.pop()
        for block in blocks:
            self._handle_block(block.strip(EOL))

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
        if not self.closed:
            self.close()
            self.sink.connection_lost(exc)

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
