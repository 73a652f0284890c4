"""The agent's abusive-caller button: warn the caller and end the call, give the agent a short
not-ready break, write it down.

In order: the agent's connected call is found (their phone from the agents room, the caller's
channel from the live model's changes, else from the PBX); the caller's channel is sent with
AMI ``Redirect`` to ``<warning_context>,s,1`` (dialplan/screening.conf: the warning, then a
hang-up), which ends the agent's leg at once. Only when the PBX took the Redirect is anything
else done: the ``ScreeningEvent`` (kind ``abusive``) is stored, the agent is put not-ready with
``abusive_code`` at once, and back to ready ``abusive_break_seconds`` later (if they are still
in that code then). A PBX that refuses the Redirect changes nothing: the agent is told.

Asterisk ends the queue call only when the caller is gone (after the warning): until then the
agent shows "on call". The break is given at once all the same, so that the PBX does not ring
the agent meanwhile; when the call ends, an enforced wrap-up pause that replaced it is turned
back into the break, and the return to ready waits for the end of a call still running.

The return to ready is a timer of the replica that gave the break; a replica that starts
again schedules the returns of the breaks still running from the stored events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.agents.states import AgentState, StateName
from callcenter.ami import actions
from callcenter.ami.calls import call_at_phone
from callcenter.ami.errors import AmiError
from callcenter.ami.problems import PBX_UNAVAILABLE, pbx_failure
from callcenter.auth.identity import User
from callcenter.clock import Clock, utc_now
from callcenter.component import LinkDirectory, LiveReader
from callcenter.live.connected import AgentCalls, ConnectedCall
from callcenter.logs import mask_number
from callcenter.screening import store
from callcenter.screening.recorder import EventRecorder
from callcenter.screening.rules import ABUSIVE
from callcenter.screening.store import Event
from callcenter.settings import ScreeningSettings
from callcenter.tasks import Spawn
from callcenter.web.errors import ApiError

log = logging.getLogger(__name__)

# After the call's end, what the records room does at the end of a call goes first.
SETTLE_SECONDS = 0.5
# At the break's end, an agent still on a call or in wrap-up is waited for this long at most.
RETURN_PATIENCE_SECONDS = 120.0
POLL_SECONDS = 0.5
# Breaks given this long before a start are not looked at again (beyond their own length).
RESTORE_MARGIN = timedelta(minutes=10)


class AgentBreaks(Protocol):
    """What the screening room uses of the agents room (its desk): the agent's phone and
    state, and the not-ready break and the return to ready."""

    @property
    def users(self) -> Mapping[int, User]: ...

    def phone_of(self, user_id: int) -> tuple[str, str] | None:
        """(PBX, interface) of the phone the agent's state comes from, if any."""

    def derived(self, user_id: int) -> AgentState: ...

    async def not_ready(self, user: User, code_name: str) -> object:
        """Pause the agent's phone with this code (an ``ApiError`` when refused)."""

    async def ready(self, user: User) -> object: ...


@dataclass(frozen=True, slots=True)
class Pressed:
    """What the button did."""

    call: ConnectedCall
    event_id: int | None
    at: datetime
    # The break given (code, until), or why none was (an error id).
    break_code: str | None
    break_until: datetime | None
    break_error: str | None


class RedirectRefused(Exception):
    """The PBX did not take the Redirect: nothing was changed."""

    def __init__(self, call: ConnectedCall, error: ApiError) -> None:
        super().__init__(error.message)
        self.call = call
        self.error = error


class AbusiveButton:
    def __init__(
        self,
        settings: ScreeningSettings,
        engine: AsyncEngine,
        live: LiveReader,
        links: LinkDirectory,
        agents: AgentBreaks,
        calls: AgentCalls,
        recorder: EventRecorder,
        spawn: Spawn,
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings
        self._engine = engine
        self._live = live
        self._links = links
        self._agents = agents
        self._calls = calls
        self._recorder = recorder
        self._spawn = spawn
        self._clock = clock
        # user id -> the task that returns them to ready
        self._returns: dict[int, asyncio.Task[None]] = {}

    # ------------------------------------------------------------------ the call

    async def find_call(self, user: User) -> ConnectedCall:
        return await call_at_phone(
            self._calls,
            self._live,
            self._links,
            self._agents.phone_of(user.id),
            user.display_name,
        )

    # ------------------------------------------------------------------ the button

    async def press(self, user: User, note: str) -> Pressed:
        call = await self.find_call(user)
        settings = self.settings
        link = self._links.connected(call.pbx)
        # Watched before the Redirect, so its end cannot be missed.
        ended = self._calls.watch_end(call.pbx, call.uniqueid)
        try:
            if link is None:
                raise RedirectRefused(
                    call, PBX_UNAVAILABLE(f"PBX {call.pbx} is not connected", pbx=call.pbx)
                )
            try:
                await actions.redirect(link, call.channel, settings.warning_context, "s", 1)
            except AmiError as exc:
                raise RedirectRefused(call, pbx_failure(exc, channel=call.channel)) from None
        except BaseException:
            self._calls.unwatch(call.pbx, call.uniqueid, ended)
            raise
        at = self._clock()
        log.info(
            "abusive caller %s on %s: %s sent to %s by %s",
            mask_number(call.caller_num),
            call.pbx,
            call.channel,
            settings.warning_context,
            user.username,
        )
        event_id = await self._record(call, user, note, at)
        code, until, error = await self._give_break(user, call, ended)
        return Pressed(call, event_id, at, code, until, error)

    async def _record(self, call: ConnectedCall, user: User, note: str, at: datetime) -> int | None:
        event = Event(
            at=at,
            pbx=call.pbx,
            kind=ABUSIVE,
            number=call.caller_num or None,
            linkedid=call.linkedid or None,
            interface=call.agent_interface,
            username=user.username,
            detail=note or f"warned and hung up (queue {call.queue})",
        )
        self._recorder.count(event)
        try:
            stored = await store.write_events(self._engine, [event])
        except (SQLAlchemyError, OSError) as exc:
            # The call is ended already: that is not undone for want of the log.
            log.error(
                "abusive-caller event of %s not stored (database: %s)",
                user.username,
                type(exc).__name__,
            )
            return None
        return stored[0].id

    async def _give_break(
        self, user: User, call: ConnectedCall, ended: asyncio.Event
    ) -> tuple[str | None, datetime | None, str | None]:
        """Pause the agent at once: their leg has ended, and the PBX must not ring them while
        the caller still hears the warning (the queue call lasts until the caller is gone)."""
        seconds = self.settings.abusive_break_seconds
        code = self.settings.abusive_code
        if seconds <= 0:
            self._calls.unwatch(call.pbx, call.uniqueid, ended)
            return None, None, None
        try:
            await self._agents.not_ready(user, code)
        except ApiError as exc:
            self._calls.unwatch(call.pbx, call.uniqueid, ended)
            log.warning(
                "no %s break for %s after an abusive caller: %s", code, user.username, exc.message
            )
            return None, None, exc.error
        until = self._clock() + timedelta(seconds=seconds)
        self._start(user.id, self._run_break(user.id, seconds, call, ended))
        log.info("agent %s on a %d s %s break", user.username, seconds, code)
        return code, until, None

    # ------------------------------------------------------------------ the break

    def _start(self, user_id: int, job: Coroutine[Any, Any, None]) -> None:
        """One break task per agent: a newer break replaces the one running."""
        previous = self._returns.pop(user_id, None)
        if previous is not None:
            previous.cancel()
        self._returns[user_id] = self._spawn(self._owned(user_id, job), f"break-{user_id}")

    async def _owned(self, user_id: int, job: Coroutine[Any, Any, None]) -> None:
        try:
            await job
        finally:
            if self._returns.get(user_id) is asyncio.current_task():
                del self._returns[user_id]

    def schedule_return(self, user_id: int, delay: float) -> None:
        """Return the agent to ready after ``delay`` seconds, if still in the break's code."""
        self._start(user_id, self._return_after(max(0.0, delay), user_id))

    async def _run_break(
        self, user_id: int, seconds: float, call: ConnectedCall, ended: asyncio.Event
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ended.wait(), seconds)
            if ended.is_set():
                await self._after_the_call(user_id)
        finally:
            self._calls.unwatch(call.pbx, call.uniqueid, ended)
        await self._return_after(deadline - loop.time(), user_id)

    async def _after_the_call(self, user_id: int) -> None:
        """The call is over: an enforced wrap-up pause made at its end (records room) would
        have replaced the break's; the break is put back (the wrap-up then leaves it)."""
        await asyncio.sleep(SETTLE_SECONDS)
        user = self._agents.users.get(user_id)
        if user is None or self._agents.derived(user_id).state is not StateName.ACW:
            return
        try:
            await self._agents.not_ready(user, self.settings.abusive_code)
            log.info("agent %s: the wrap-up pause gave way to the break", user.username)
        except ApiError as exc:
            log.warning("agent %s: break not put back after the call: %s", user.username, exc)

    async def _return_after(self, delay: float, user_id: int) -> None:
        await asyncio.sleep(max(0.0, delay))
        code = self.settings.abusive_code
        # Still on the call in the PBX's eyes (the caller hears a long warning), or in an
        # after-call wrap-up: back to ready once that is over.
        waited = 0.0
        while waited < RETURN_PATIENCE_SECONDS and self._agents.derived(user_id).state in (
            StateName.ON_CALL,
            StateName.ACW,
        ):
            await asyncio.sleep(POLL_SECONDS)
            waited += POLL_SECONDS
        user = self._agents.users.get(user_id)
        if user is None:
            return
        state = self._agents.derived(user_id)
        if state.state is not StateName.NOT_READY or state.code != code:
            log.info("agent %s left the %s break already (%s)", user.username, code, state)
            return
        try:
            await self._agents.ready(user)
        except ApiError as exc:
            log.warning("agent %s not returned to ready: %s", user.username, exc.message)
            return
        log.info("agent %s back to ready after the %s break", user.username, code)

    async def restore(self) -> None:
        """At start: the breaks given before it (by this or another process) that may still
        run get their return to ready."""
        seconds = self.settings.abusive_break_seconds
        if seconds <= 0:
            return
        now = self._clock()
        length = timedelta(seconds=seconds)
        events = await store.list_events(
            self._engine, since=now - length - RESTORE_MARGIN, kinds=[ABUSIVE], limit=1000
        )
        by_name = {user.username: user for user in self._agents.users.values()}
        seen: set[int] = set()
        for event in events:  # newest first: each agent's latest break counts
            user = by_name.get(event.username or "")
            if user is None or user.id in seen:
                continue
            seen.add(user.id)
            self.schedule_return(user.id, (event.at + length - now).total_seconds())
        if seen:
            log.info("screening: %d abusive-caller break(s) to end", len(seen))

    def pending_returns(self) -> int:
        return len(self._returns)
