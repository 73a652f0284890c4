"""Runs the engine's decided actions on the PBX over AMI and records each result.

Every run ends its action row: ``ok``, ``error`` with the PBX's own message, ``unknown`` (no
answer in time: the PBX may have done it) or ``skipped`` with the reason (a caller who is
already leaving is never touched).

With a ``fence`` (several replicas), a row is sent only once the fence has confirmed that this
replica still holds the queue's lease with the row's epoch; otherwise it is not sent, and it
ends ``skipped`` unless the new holder has already adopted it (then that holder runs it).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from callcenter.ami import actions as ami
from callcenter.ami.actions import ActionSender
from callcenter.ami.errors import AmiError, AmiRefused, AmiTimeout, AmiUnavailable
from callcenter.feed.serialize import dumps
from callcenter.routing.engine import (
    Action,
    AddMember,
    CloseEpisode,
    MoveCaller,
    Notify,
    RemoveMember,
    SetSurgeFlag,
)
from callcenter.routing.store import RoutingStore, StoredAction

log = logging.getLogger(__name__)

# Channel variables a moved caller carries into the next queue (CC_*: the live model keeps
# them as the call's IVR data, so the continuation's record shows where it came from).
ORIGINAL_JOIN_VARIABLE = "CC_ORIG_JOINED"
FROM_QUEUE_VARIABLE = "CC_OVERFLOW_FROM"
WAITED_VARIABLE = "CC_OVERFLOW_WAITED"

LinkLookup = Callable[[str], ActionSender | None]
WaitingCheck = Callable[[str, str, str], bool]
# Grants the right to send a row now: None, or why not (the lease is someone else's).
Fence = Callable[[StoredAction], Awaitable[str | None]]


class Actuator:
    def __init__(
        self,
        store: RoutingStore,
        links: LinkLookup,
        publish: Callable[[str], None],
        is_waiting: WaitingCheck,
        surge_family: str,
        on_moved: Callable[[MoveCaller], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        fence: Fence | None = None,
    ) -> None:
        self.store = store
        self.links = links
        self.publish = publish
        self.is_waiting = is_waiting
        self.surge_family = surge_family
        self.on_moved = on_moved
        self.clock = clock
        self.fence = fence

    async def run(self, stored: StoredAction) -> str:
        action = stored.action
        if stored.skipped is None and stored.epoch is not None and self.fence is not None:
            refused = await self.fence(stored)
            if refused is not None:
                ended = await self.store.skip_fenced(stored, refused, self.clock())
                log.warning(
                    "routing %s/%s: %s %s not sent: %s%s",
                    action.pbx,
                    action.queue,
                    action.kind,
                    getattr(action, "interface", getattr(action, "uniqueid", "")),
                    refused,
                    "" if ended else " (the lease holder runs it)",
                )
                return "fenced"
        if isinstance(action, Notify):
            self._notify(action)
            await self.store.finish(stored, "ok", None, self.clock())
            return "ok"
        if isinstance(action, CloseEpisode):
            log.info(
                "routing %s/%s: episode over: %s",
                action.pbx,
                action.queue,
                dumps(dict(action.summary)),
            )
            self.publish(
                dumps(
                    {
                        "type": "RoutingEpisode",
                        "pbx": action.pbx,
                        "queue": action.queue,
                        "summary": dict(action.summary),
                    }
                )
            )
        if stored.skipped is not None:
            if stored.skipped != "bookkeeping":
                log.info(
                    "routing %s/%s: %s %s skipped: %s",
                    action.pbx,
                    action.queue,
                    action.kind,
                    getattr(action, "interface", getattr(action, "uniqueid", "")),
                    stored.skipped,
                )
            return "skipped"
        link = self.links(action.pbx)
        if isinstance(action, MoveCaller) and not self.is_waiting(
            action.pbx, action.queue, action.uniqueid
        ):
            await self.store.finish(stored, "skipped", "caller already leaving", self.clock())
            return "skipped"
        if link is None:
            down = f"PBX {action.pbx} not connected"
            if isinstance(action, MoveCaller):
                await self.store.release_move(stored, down, self.clock())
            else:
                await self.store.finish(stored, "error", down, self.clock())
            return "error"
        status, message = await self._on_pbx(link, stored)
        await self.store.finish(stored, status, message, self.clock())
        level = logging.INFO if status == "ok" else logging.WARNING
        log.log(
            level,
            "routing %s/%s: %s %s: %s%s (%s)",
            action.pbx,
            action.queue,
            action.kind,
            getattr(action, "interface", getattr(action, "uniqueid", "")),
            status,
            f" {message}" if message else "",
            action.reason,
        )
        if status == "ok" and isinstance(action, MoveCaller) and self.on_moved is not None:
            self.on_moved(action)
        return status

    async def _on_pbx(self, link: ActionSender, stored: StoredAction) -> tuple[str, str | None]:
        action = stored.action
        try:
            await self._send(link, action)
        except AmiUnavailable as exc:
            if isinstance(action, MoveCaller):
                await self.store.release_move(stored, exc.message, self.clock())
            return "error", exc.message
        except AmiTimeout as exc:
            return "unknown", exc.message
        except AmiError as exc:
            return "error", exc.message
        return "ok", None

    async def _send(self, link: ActionSender, action: Action) -> None:
        """The AMI actions of one row; a refusal that means "already done" is no error."""
        if isinstance(action, AddMember):
            # Absent when decided: only a re-run after a crash finds it there.
            await _unless_refused(
                ami.queue_add(
                    link,
                    action.queue,
                    action.interface,
                    penalty=action.penalty,
                    member_name=action.member_name,
                ),
                "already there",
            )
        elif isinstance(action, RemoveMember):
            await _unless_refused(
                ami.queue_remove(link, action.queue, action.interface), "not there"
            )
        elif isinstance(action, SetSurgeFlag):
            await self._set_surge_flag(link, action)
        elif isinstance(action, MoveCaller):
            await self._move(link, action)

    async def _set_surge_flag(self, link: ActionSender, action: SetSurgeFlag) -> None:
        if action.on:
            await ami.db_put(link, self.surge_family, action.queue, "1")
        else:
            await _unless_refused(ami.db_del(link, self.surge_family, action.queue), "not found")

    async def _move(self, link: ActionSender, action: MoveCaller) -> None:
        channel = action.channel
        await ami.setvar(link, channel, ORIGINAL_JOIN_VARIABLE, action.joined_at.isoformat())
        await ami.setvar(link, channel, FROM_QUEUE_VARIABLE, action.queue)
        await ami.setvar(link, channel, WAITED_VARIABLE, f"{action.waited:.1f}")
        await ami.redirect(link, channel, action.context, action.exten)

    def _notify(self, action: Notify) -> None:
        level = logging.WARNING if action.level == "surge" else logging.INFO
        log.log(
            level,
            "routing %s/%s: %s -> %s (%s) %s",
            action.pbx,
            action.queue,
            action.previous,
            action.level,
            action.reason,
            dumps(action.figures.as_dict()),
        )
        self.publish(
            dumps(
                {
                    "type": "RoutingLevel",
                    "at": action.at.isoformat(),
                    "pbx": action.pbx,
                    "queue": action.queue,
                    "level": action.level,
                    "previous": action.previous,
                    "reason": action.reason,
                    "figures": action.figures.as_dict(),
                }
            )
        )


async def _unless_refused(sent: Awaitable[None], harmless: str) -> None:
    """Await an action; a refusal whose message contains ``harmless`` counts as done."""
    try:
        await sent
    except AmiRefused as exc:
        if harmless not in exc.message.lower():
            raise
