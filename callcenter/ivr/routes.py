"""The FastAGI routes the hotline calls: lookup, hours, callback, survey.

Each route reads its AGI arguments, gathers facts within the route budget (200 ms by
default), lets ``decisions`` decide and answers with channel variables. When the budget
runs out or a fact source fails, the route answers the safe default so the caller moves on.

Dialplan arguments (the first is always the PBX name, ``${IVR_PBX}``):
  lookup   PBX, caller number, account, chosen language
  hours    PBX
  callback PBX, queue, linkedid, account, language   (caller and uniqueid from the AGI env)
  survey   PBX, score, member interface, member name, queue, linkedid

A callback is booked through the ``CallbackBook`` port (the work-items room): a callback item
with its ticket and dialling schedule; the caller's ``CallbackRequest`` row stays the record of
the ask. The route answers IVR_CALLBACK (ok / failed) and, when booked, IVR_TICKET (the item's
ticket number, for the dialplan to read out).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.clock import Clock, utc_now
from callcenter.ivr.agi import AgiChannel, AgiRequest, Handler
from callcenter.ivr.decisions import (
    DEFAULT_HOURS,
    CustomerFacts,
    LookupAnswer,
    PriorityPolicy,
    Schedule,
    decide_lookup,
    default_lookup,
    hours_at,
    normalise_language,
    parse_account,
    parse_score,
    safe_value,
)
from callcenter.ivr.directory import CustomerDirectory
from callcenter.ivr.models import CallbackRequest, SurveyResult
from callcenter.logs import mask_number
from callcenter.settings import IvrSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CallbackBooking:
    """A caller asked in the IVR to be called back (one per caller channel)."""

    pbx: str
    uniqueid: str
    number: str
    queue: str
    language: str
    account: str | None
    linkedid: str | None
    # When the first try is due (``ivr.callback_due_minutes`` after the ask).
    due_at: datetime


class CallbackBook(Protocol):
    """Books the callback a caller asked for (the work-items room); idempotent per caller
    channel. Returns the item's ticket number."""

    async def book_callback(self, booking: CallbackBooking) -> str: ...


class IvrRoutes:
    def __init__(
        self,
        settings: IvrSettings,
        engine: AsyncEngine,
        directory: CustomerDirectory,
        pbx_names: Sequence[str],
        clock: Clock = utc_now,
        callbacks: CallbackBook | None = None,
    ) -> None:
        self._settings = settings
        # None: nothing can dial a callback, so none is promised (the caller is queued).
        self._callbacks = callbacks
        self._engine = engine
        self._directory = directory
        self._pbx_names = tuple(pbx_names)
        self._clock = clock
        self._budget = settings.route_timeout_ms / 1000
        self._schedule = Schedule.from_config(
            settings.timezone,
            settings.hours,
            settings.holidays,
            settings.make_up_days,
            settings.make_up_hours,
        )
        self._policy = PriorityPolicy(
            settings.vip_priorities, settings.complaint_priority, settings.default_language
        )
        # Survey writes that outlived the budget; stop() waits for them.
        self._pending: set[asyncio.Task[str]] = set()
        self._pending_lookups: set[asyncio.Task[CustomerFacts | None]] = set()

    def handlers(self) -> dict[str, Handler]:
        return {
            "lookup": self.lookup,
            "hours": self.hours,
            "callback": self.callback,
            "survey": self.survey,
        }

    async def drain(self, timeout: float = 5.0) -> None:
        pending = {*self._pending, *self._pending_lookups}
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    def _pbx(self, request: AgiRequest) -> str:
        given = safe_value(request.arg(0), 32)
        if given:
            return given
        # A dialplan without IVR_PBX still works when only one PBX is configured.
        return self._pbx_names[0] if len(self._pbx_names) == 1 else "unknown"

    # --- lookup --------------------------------------------------------------------------

    async def lookup(self, request: AgiRequest, channel: AgiChannel) -> None:
        number = safe_value(request.arg(1, request.get("agi_callerid")), 40)
        account = parse_account(request.arg(2))
        chosen = normalise_language(request.arg(3))
        answer = await self.decide_lookup(number, account, chosen)
        log.info(
            "IVR lookup %s account=%s: %s priority=%s vip=%s",
            mask_number(number),
            "yes" if account else "no",
            answer.result,
            answer.priority,
            answer.vip_level,
        )
        variables = answer.variables()
        if chosen:
            variables.pop("IVR_LANG")  # the caller's own choice stays
        await channel.set_variables(variables)

    async def decide_lookup(
        self, number: str, account: str | None, chosen: str | None
    ) -> LookupAnswer:
        # A task, not asyncio.timeout(): cancelling a database call waits for its clean-up
        # (a rollback queued behind other queries), which would blow the budget again.
        task: asyncio.Task[CustomerFacts | None] = asyncio.create_task(
            self._directory.facts(number, account)
        )
        done, _ = await asyncio.wait([task], timeout=self._budget)
        if not done:
            task.cancel()
            self._pending_lookups.add(task)
            task.add_done_callback(self._lookup_abandoned)
            log.warning(
                "IVR lookup over its %d ms budget: default answer", self._settings.route_timeout_ms
            )
            return _with_language(default_lookup(self._policy), chosen)
        try:
            facts = task.result()
        except Exception as exc:
            log.warning("IVR lookup failed (%s): default answer", type(exc).__name__)
            return _with_language(default_lookup(self._policy), chosen)
        return decide_lookup(facts, self._policy, chosen)

    def _lookup_abandoned(self, task: asyncio.Task[CustomerFacts | None]) -> None:
        self._pending_lookups.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("abandoned IVR lookup failed: %s", type(task.exception()).__name__)

    # --- hours ---------------------------------------------------------------------------

    async def hours(self, request: AgiRequest, channel: AgiChannel) -> None:
        try:
            state = hours_at(self._clock(), self._schedule)
        except Exception:
            log.exception("IVR hours failed: answering %s", DEFAULT_HOURS)
            state = DEFAULT_HOURS
        await channel.set_variable("IVR_HOURS", state.value)

    # --- callback ------------------------------------------------------------------------

    async def callback(self, request: AgiRequest, channel: AgiChannel) -> None:
        pbx = self._pbx(request)
        uniqueid = safe_value(request.get("agi_uniqueid"), 64)
        number = safe_value(request.get("agi_callerid"), 40)
        queue = safe_value(request.arg(1), 80) or "unknown"
        if not uniqueid or not number or number == "unknown":
            # Nobody to call back: the dialplan queues the caller instead.
            await channel.set_variable("IVR_CALLBACK", "failed")
            return
        now = self._clock()
        callback = CallbackRequest(
            pbx=pbx,
            uniqueid=uniqueid,
            linkedid=safe_value(request.arg(2), 64) or None,
            queue=queue,
            caller_number=number,
            account=parse_account(request.arg(3)),
            language=normalise_language(request.arg(4)) or self._settings.default_language,
            requested_at=now,
        )
        ticket: str | None = None
        try:
            # Not shielded: a request that is not stored in time is rolled back, and the
            # caller, told nothing was booked, waits in the queue instead.
            async with asyncio.timeout(self._budget):
                ticket = await self._store_callback(callback, now)
            outcome = "ok" if ticket is not None else "failed"
        except TimeoutError:
            log.warning(
                "IVR callback for %s not stored within %d ms",
                mask_number(number),
                self._settings.route_timeout_ms,
            )
            outcome = "failed"
        except Exception as exc:
            log.warning(
                "IVR callback for %s not stored (%s)", mask_number(number), type(exc).__name__
            )
            outcome = "failed"
        log.info(
            "IVR callback pbx=%s uniqueid=%s queue=%s number=%s: %s ticket=%s",
            pbx,
            uniqueid,
            queue,
            mask_number(number),
            outcome,
            ticket,
        )
        variables = {"IVR_CALLBACK": outcome}
        if outcome == "ok" and ticket:
            variables["IVR_TICKET"] = safe_value(ticket, 12)
        await channel.set_variables(variables)

    async def _store_callback(self, callback: CallbackRequest, now: datetime) -> str | None:
        """The request row (once per caller channel), then the callback item booked through
        the work room; the item's ticket, or None when nothing can dial it."""
        if self._callbacks is None:
            log.warning("IVR callback asked but no callback service is wired: not promised")
            return None
        booking = CallbackBooking(
            pbx=callback.pbx,
            uniqueid=callback.uniqueid,
            number=callback.caller_number,
            queue=callback.queue,
            language=callback.language,
            account=callback.account,
            linkedid=callback.linkedid,
            due_at=now + timedelta(minutes=self._settings.callback_due_minutes),
        )
        try:
            async with AsyncSession(self._engine) as session, session.begin():
                session.add(callback)
        except IntegrityError:
            # The same caller channel asked already (AGI retried): one request; the booking
            # below answers the item made the first time.
            pass
        return await self._callbacks.book_callback(booking)

    # --- survey --------------------------------------------------------------------------

    async def survey(self, request: AgiRequest, channel: AgiChannel) -> None:
        pbx = self._pbx(request)
        uniqueid = safe_value(request.get("agi_uniqueid"), 64)
        score = parse_score(request.arg(1))
        if score is None or not uniqueid:
            await channel.set_variable("IVR_SURVEY", "invalid")
            return
        result = SurveyResult(
            pbx=pbx,
            uniqueid=uniqueid,
            linkedid=safe_value(request.arg(5), 64) or None,
            queue=safe_value(request.arg(4), 80) or None,
            agent_interface=request.arg(2)[:120] or None,
            agent_name=request.arg(3)[:120] or None,
            score=score,
            answered_at=self._clock(),
        )
        # Shielded: the caller has given the score; keep storing it after the budget.
        task = asyncio.ensure_future(self._store_survey(result))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        outcome = "pending"
        with contextlib.suppress(TimeoutError):
            outcome = await asyncio.wait_for(asyncio.shield(task), self._budget)
        await channel.set_variable("IVR_SURVEY", outcome)

    async def _store_survey(self, result: SurveyResult) -> str:
        # Read before the commit expires the instance.
        where = f"pbx={result.pbx} uniqueid={result.uniqueid}"
        agent, score = result.agent_interface, result.score
        try:
            async with AsyncSession(self._engine) as session, session.begin():
                session.add(result)
        except IntegrityError:
            log.info("IVR survey for %s already stored", where)
            return "ok"
        except Exception:
            log.exception("IVR survey for %s lost", where)
            return "failed"
        log.info("IVR survey %s agent=%s score=%d", where, agent, score)
        return "ok"


def _with_language(answer: LookupAnswer, chosen: str | None) -> LookupAnswer:
    if chosen is None:
        return answer
    return LookupAnswer(answer.result, answer.priority, chosen)
