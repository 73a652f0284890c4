"""From the PBX's spool to a work item: the FastAGI route ``voicemail-left`` and the sweep.

The exits' dialplan (dialplan/exits.conf) calls ``voicemail-left`` from a hangup handler once
the caller's channel ends after VoiceMail():

  voicemail-left  PBX, queue, channel, linkedid, caller number, VMSTATUS

and the route answers VOICEMAIL_RESULT:

  ok       the message is stored and filed as a work item (or was already);
  none     nothing to store: VMSTATUS is not SUCCESS (the caller hung up before the beep, or
           the message was too short and app_voicemail dropped it), or no message of that
           channel is in the mailbox;
  failed   the message could not be stored now (database, work items, unreadable file): it
           stays in the spool and the sweep takes it later;
  pending  still being stored when the route's time ran out (it goes on in the background).

Taking a message (``Collector.collect``), the same for the route and the sweep, each step
idempotent so that a retry, a sweep and another replica meet without doubles:

1. read its .txt and .wav (the mailbox is named like the queue: ``spool.mailbox_of``);
2. store a ``VoicemailMessage`` (unique on PBX, mailbox and the .txt's ``msg_id``);
3. file it as a work item through the work-items room (``WorkDesk.file_voicemail``, itself
   idempotent on the message) and link the row to it;
4. remove its files from the spool (``[voicemail] remove_from_spool``).

The sweep (``[voicemail] sweep_seconds``, and once at start) takes every message of every
mailbox of the context older than ``sweep_after`` seconds: those whose FastAGI call was lost
(the service down, a restart).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.clock import Clock, utc_now
from callcenter.ivr.agi import AgiChannel, AgiRequest, Handler
from callcenter.logs import mask_number
from callcenter.settings import VoicemailSettings
from callcenter.voicemail import spool
from callcenter.voicemail.ports import VoicemailFiling, WorkDesk
from callcenter.voicemail.spool import SpoolError, SpoolMessage
from callcenter.voicemail.store import (
    NewMessage,
    StoredMessage,
    find_message,
    link_item,
    store_message,
)
from callcenter.web.errors import ApiError

log = logging.getLogger(__name__)

ROUTE = "voicemail-left"
# How long the route waits for a message to be stored before it answers "pending" (the caller
# has hung up already; this only keeps the hangup handler short).
ROUTE_BUDGET = 5.0
_UNSAFE = re.compile(r"[^\x21-\x7e]")


def audio_url(message_id: int) -> str:
    return f"/api/voicemail/{message_id}/audio"


def _clean(text: str, limit: int) -> str:
    """A value from the PBX fit for a row and a log line (printable ASCII, cut short)."""
    return _UNSAFE.sub("", text)[:limit]


@dataclass(frozen=True, slots=True)
class Collected:
    message: StoredMessage
    item_id: int
    # False: the message was stored and filed before (a retry, the sweep, another replica).
    new: bool


class Collector:
    def __init__(
        self,
        engine: AsyncEngine,
        settings: VoicemailSettings,
        spools: Mapping[str, Path],
        desk: WorkDesk,
        *,
        pbx_names: Sequence[str] = (),
        registry: CollectorRegistry | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.spools = dict(spools)
        self.desk = desk
        self.pbx_names = tuple(pbx_names)
        self.clock = clock
        self.messages = Counter(
            "callcenter_voicemail_messages",
            "Voicemail exits heard of, by result (stored, none, failed)",
            ["result"],
            registry=registry,
        )
        # One message at a time in this process: the route and the sweep never race here.
        self._lock = asyncio.Lock()
        self._pending: set[asyncio.Future[str]] = set()

    # --- the FastAGI route -------------------------------------------------------------------

    def handlers(self) -> dict[str, Handler]:
        return {ROUTE: self.voicemail_left}

    def _pbx(self, request: AgiRequest) -> str:
        given = _clean(request.arg(0), 32)
        if given:
            return given
        return self.pbx_names[0] if len(self.pbx_names) == 1 else "unknown"

    async def voicemail_left(self, request: AgiRequest, channel: AgiChannel) -> None:
        pbx = self._pbx(request)
        queue = _clean(request.arg(1), 80)
        chan = _clean(request.arg(2, request.get("agi_channel")), 120)
        linkedid = _clean(request.arg(3), 64) or None
        caller = _clean(request.arg(4, request.get("agi_callerid")), 80) or None
        status = _clean(request.arg(5), 32)
        if status != "SUCCESS":
            log.info(
                "voicemail exit of %s from queue %s: VMSTATUS=%s, no message",
                chan,
                queue,
                status or "(none)",
            )
            self.messages.labels("none").inc()
            await channel.set_variable("VOICEMAIL_RESULT", "none")
            return
        task = asyncio.ensure_future(self.take_for_channel(pbx, queue, chan, linkedid, caller))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        try:
            outcome = await asyncio.wait_for(asyncio.shield(task), ROUTE_BUDGET)
        except TimeoutError:
            log.warning("voicemail of %s still being stored after %.0f s", chan, ROUTE_BUDGET)
            outcome = "pending"
        await channel.set_variable("VOICEMAIL_RESULT", outcome)

    async def drain(self, timeout: float = 10.0) -> None:
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=timeout)

    async def take_for_channel(
        self, pbx: str, queue: str, channel: str, linkedid: str | None, caller: str | None
    ) -> str:
        """Store and file the newest message ``channel`` left in the queue's mailbox."""
        folder = self._inbox(pbx, queue)
        if folder is None:
            self.messages.labels("failed").inc()
            return "failed"
        message = await asyncio.to_thread(spool.find_for_channel, folder, channel)
        if message is None:
            log.warning("voicemail: no message of %s in %s", channel, folder)
            self.messages.labels("none").inc()
            return "none"
        taken = await self._take(pbx, queue, message, linkedid, caller)
        return "failed" if taken is None else "ok"

    def _inbox(self, pbx: str, queue: str) -> Path | None:
        root = self.spools.get(pbx)
        if root is None:
            log.warning(
                "voicemail of queue %s: PBX %s has no voicemail_spool configured", queue, pbx
            )
            return None
        try:
            return spool.inbox(root, self.settings.context, spool.mailbox_of(queue))
        except ValueError as exc:
            log.warning("voicemail of PBX %s: %s", pbx, exc)
            return None

    async def _take(
        self,
        pbx: str,
        queue: str,
        message: SpoolMessage,
        linkedid: str | None,
        caller: str | None,
    ) -> Collected | None:
        try:
            collected = await self.collect(pbx, queue, message, linkedid, caller)
        except SpoolError as exc:
            log.warning("voicemail %s of queue %s not read: %s", message.name, queue, exc)
        except (SQLAlchemyError, ApiError, OSError) as exc:
            log.warning(
                "voicemail %s of queue %s not stored now (%s: %s); the sweep tries again",
                message.info.msg_id,
                queue,
                type(exc).__name__,
                exc,
            )
        except Exception:
            # A bug: logged with its traceback; the next message (and the sweep) go on.
            log.exception("voicemail %s of queue %s not stored", message.info.msg_id, queue)
        else:
            if collected.new:
                self.messages.labels("stored").inc()
            log.info(
                "voicemail %s from %s in queue %s (%d s): message %d, work item %d%s",
                message.info.msg_id,
                mask_number(collected.message.caller),
                queue,
                collected.message.duration_seconds,
                collected.message.id,
                collected.item_id,
                "" if collected.new else " (stored before)",
            )
            return collected
        self.messages.labels("failed").inc()
        return None

    async def collect(
        self,
        pbx: str,
        queue: str,
        message: SpoolMessage,
        linkedid: str | None = None,
        caller: str | None = None,
    ) -> Collected:
        """Store the message, file it as a work item, link both, empty it from the spool."""
        async with self._lock:
            mailbox = spool.mailbox_of(queue)
            info = message.info
            stored = await find_message(self.engine, pbx, mailbox, info.msg_id)
            if stored is not None and stored.work_item_id is not None:
                # Stored and filed before (a retry, a sweep, another replica): only the
                # spool is left to empty.
                if self.settings.remove_from_spool:
                    await asyncio.to_thread(spool.remove, message)
                return Collected(stored, stored.work_item_id, new=False)
            audio, seconds = await asyncio.to_thread(
                spool.read_audio, message, self.settings.max_message_bytes
            )
            stored, new = await store_message(
                self.engine,
                NewMessage(
                    pbx=pbx,
                    queue=queue,
                    mailbox=mailbox,
                    msg_id=info.msg_id,
                    linkedid=linkedid,
                    caller=caller or info.caller_number,
                    duration_seconds=round(seconds),
                    audio=audio,
                    received_at=info.origtime or self.clock(),
                ),
            )
            item_id = stored.work_item_id
            if item_id is None:
                item_id = await self.desk.file_voicemail(
                    VoicemailFiling(
                        pbx=pbx,
                        queue=queue,
                        mailbox=mailbox,
                        msg_id=stored.msg_id,
                        message_id=stored.id,
                        audio_url=audio_url(stored.id),
                        caller=stored.caller,
                        linkedid=stored.linkedid,
                        duration_seconds=stored.duration_seconds,
                        received_at=stored.received_at,
                    )
                )
                await link_item(self.engine, stored.id, item_id)
            if self.settings.remove_from_spool:
                await asyncio.to_thread(spool.remove, message)
            return Collected(stored, item_id, new)

    # --- the sweep ---------------------------------------------------------------------------

    async def sweep(self) -> int:
        """Take every message older than ``sweep_after`` from every PBX's mailboxes; how
        many were new to the database."""
        taken = 0
        context = self.settings.context
        for pbx, root in self.spools.items():
            for mailbox in await asyncio.to_thread(spool.mailboxes, root, context):
                folder = spool.inbox(root, context, mailbox)
                messages = await asyncio.to_thread(spool.list_messages, folder)
                for message in messages:
                    if time.time() - message.modified < self.settings.sweep_after:
                        continue
                    collected = await self._take(pbx, mailbox, message, None, None)
                    if collected is not None and collected.new:
                        taken += 1
        if taken:
            log.info("voicemail sweep took %d message(s) whose FastAGI call was lost", taken)
        return taken
