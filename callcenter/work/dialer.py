"""The callback dialler: the adapter around the pure rules of ``callbacks.py``.

Every ``work.callbacks.interval`` seconds a round:

1. schedules callback items that have no schedule yet (made by an agent; the IVR's come with
   theirs) and lets offers that ran out go to the next agent;
2. takes the due callbacks (``callbacks.take_due``: business hours, callers waiting), each
   under a lease (``UPDATE work_callbacks ... WHERE lease_until < now``, rowcount checked: one
   dial per item across replicas, on PostgreSQL and SQLite alike), picks an agent
   (``callbacks.pick_agent``) and offers it on the agent's console, or dials at once for the
   queues in ``auto_dial_queues``;
3. renews the leases of the callbacks it is dialling and asks the PBX about attempts that went
   quiet (a lost OriginateResponse, a link that was down, a replica that died).

A dial writes the attempt row first, then sends ``Originate`` (``Async``, ``ChannelId`` = the
attempt's channel id): the agent's phone rings; once answered its channel runs the outbound
context, which dials the customer. The attempt's AMI events come through the Host's raw AMI
tap (``on_ami_event``: a dict look-up, then a queue), and ``callbacks.apply_event`` folds
them. A finished attempt is one transaction (attempt row, outbound call record, the item's
call link, the schedule's next step), then a "callback" line on the item's timeline, and the
item resolved as unreachable (then closed) after its last unsuccessful try.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.agents.scope import Team
from callcenter.ami import actions
from callcenter.ami.errors import AmiError
from callcenter.clock import Clock, utc_now
from callcenter.component import Host, LinkDirectory, LiveReader
from callcenter.customers.models import CustomerRow
from callcenter.feed.serialize import to_data
from callcenter.ivr.routes import CallbackBooking
from callcenter.logs import mask_number
from callcenter.records.models import CallRecord
from callcenter.settings import CallbackSettings
from callcenter.tasks import Spawn, every
from callcenter.work import callbacks as rules
from callcenter.work.callbacks import AttemptState, DueCallback, OpenHours
from callcenter.work.items import SERVICE, Actor, NewItem, WorkItems
from callcenter.work.lifecycle import TRANSITIONS
from callcenter.work.models import CallbackAttemptRow, CallbackScheduleRow, WorkItemCallRow
from callcenter.work.models import WorkItemRow as ItemRow
from callcenter.work.ports import ReadyAgent

log = logging.getLogger(__name__)

IVR = Actor(None, "ivr")
# Seconds a lease outlives what it covers (an offer, a round): a replica that died is
# replaced after this much.
LEASE_MARGIN = 15.0
# A dialling attempt with no OriginateResponse this long after its agent's ring time: the
# PBX is asked whether its channel still exists.
ORIGINATE_GRACE = 15.0
# How often every running attempt is checked against the PBX's channels (calls can be long;
# a Hangup lost while the AMI link was down must not keep an attempt open for ever).
RECONCILE_SECONDS = 300.0
# How often callback items without a schedule are looked for, and how far back.
HEAL_SECONDS = 60.0
HEAL_WINDOW = timedelta(days=2)
DUE_BATCH = 200
STARTED_SERVICE_RESTARTED = "service restarted"


def replica_id() -> str:
    """This process's name in leases: host, pid and a random part (a restart is a new id)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(slots=True)
class Running:
    """An attempt this replica is dialling and following."""

    item_id: int
    attempt_id: int
    attempt: int
    pbx: str
    agent_id: int | None
    interface: str
    number: str
    started_at: datetime
    action_id: str
    state: AttemptState
    last_checked: float = field(default_factory=time.monotonic)


@dataclass(frozen=True, slots=True)
class DialResult:
    item_id: int
    attempt: int
    channel_id: str
    ended: bool
    outcome: str | None
    reason: str | None


class CallbackError(Exception):
    """An accept / decline / result the dialler refuses; ``code`` names why (the API maps
    it to its problem)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _rows(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


class CallbackDialer:
    def __init__(
        self,
        host: Host,
        settings: CallbackSettings,
        items: WorkItems,
        hours: OpenHours,
        *,
        replica: str | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.engine: AsyncEngine = host.engine
        self.live: LiveReader = host.live
        self.links: LinkDirectory = host.links
        self.settings = settings
        self.items = items
        self.workforce = items.workforce
        self.hours = hours
        self.replica = (replica or replica_id())[:64]
        self.clock = clock
        # Attempts dialled by this replica, by channel id, and their Originates' ActionIDs.
        self.running: dict[str, Running] = {}
        self.by_action: dict[str, str] = {}
        # Agents who let an item pass (declined, or the offer ran out), until when.
        self.passed: dict[int, dict[int, datetime]] = {}
        self._events: asyncio.Queue[tuple[str, Mapping[str, str], datetime]] = asyncio.Queue()
        self._created: asyncio.Queue[int] = asyncio.Queue()
        self._last_heal = 0.0
        self._last_reconcile = time.monotonic()
        host.ami_taps.add(self.on_ami_event)
        items.on_created.append(self.on_item_created)

    # --- life cycle ---------------------------------------------------------------------------

    def start(self, spawn: Spawn) -> None:
        spawn(self._consume(), "callback-events")
        spawn(every(self.settings.interval, self.round, "callback round"), "callbacks")

    # --- the event path (enqueue only) --------------------------------------------------------

    def on_ami_event(self, pbx: str, fields: Mapping[str, str], received_at: datetime) -> None:
        if not self.running:
            return
        channel_id = rules.concerns(fields, self.running, self.by_action)
        if channel_id is not None:
            self._events.put_nowait((channel_id, fields, received_at))

    def on_item_created(self, row: ItemRow) -> None:
        # The IVR's callbacks are scheduled by ``book`` with their due time.
        if row.kind == "callback" and row.source != "ivr":
            self._created.put_nowait(row.id)

    async def _consume(self) -> None:
        while True:
            channel_id, fields, at = await self._events.get()
            try:
                await self._on_event(channel_id, fields, at)
            except Exception:
                log.exception(
                    "callback event %s of %s not handled", fields.get("Event"), channel_id
                )

    async def _on_event(self, channel_id: str, fields: Mapping[str, str], at: datetime) -> None:
        run = self.running.get(channel_id)
        if run is None:
            return
        before = run.state
        run.state = rules.apply_event(before, fields, at)
        run.last_checked = time.monotonic()
        if run.state.ended:
            await self._finish(run)
            return
        if before.agent_answered_at is None and run.state.agent_answered_at is not None:
            await self._store_progress(run, agent_answered_at=run.state.agent_answered_at)
        if before.customer_answered_at is None and run.state.customer_answered_at is not None:
            await self._store_progress(run, customer_answered_at=run.state.customer_answered_at)
            if run.agent_id is not None:
                self.workforce.tell(
                    run.agent_id,
                    {
                        "type": "callback_connected",
                        "item_id": run.item_id,
                        "attempt": run.attempt,
                    },
                )

    async def _store_progress(self, run: Running, **values: datetime) -> None:
        # Kept in the row so that a restarted service knows the customer was reached.
        async with AsyncSession(self.engine) as session, session.begin():
            await session.execute(
                update(CallbackAttemptRow)
                .where(CallbackAttemptRow.id == run.attempt_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    # --- booking --------------------------------------------------------------------------------

    async def book(self, booking: CallbackBooking) -> str:
        """The IVR's callback: an item in the pool of the team serving the queue, and its
        schedule (both idempotent per caller channel). Returns the ticket."""
        items = self.items
        category = "callback" if "callback" in items.categories else next(iter(items.categories))
        details = [f"queue {booking.queue}", f"language {booking.language}"]
        if booking.account:
            details.append(f"account {booking.account}")
        row = await items.create(
            IVR,
            NewItem(
                kind="callback",
                title=f"Callback requested in the IVR ({booking.queue})"[:200],
                category=category,
                phone=booking.number,
                team_id=items.team_for_queue(booking.queue),
                note="Caller asked to be called back: " + ", ".join(details),
                source="ivr",
                source_key=f"ivr:{booking.pbx}:{booking.uniqueid}",
                pbx=booking.pbx,
                queue=booking.queue,
                language=booking.language,
                owner_is_creator=False,
            ),
        )
        await self.schedule(row, booking.due_at)
        return row.ticket

    async def schedule(self, row: ItemRow, due: datetime | None = None) -> bool:
        """Give a callback item its schedule (if it has none); True if one was made."""
        if not row.phone:
            return False
        now = self.clock()
        try:
            async with AsyncSession(self.engine) as session, session.begin():
                if await session.get(CallbackScheduleRow, row.id) is not None:
                    return False
                session.add(
                    CallbackScheduleRow(
                        item_id=row.id,
                        pbx=row.pbx or next(iter(self.links.names()), ""),
                        number=row.phone,
                        queue=row.queue,
                        state=rules.WAITING,
                        next_attempt_at=due or now,
                        attempts=0,
                        updated_at=now,
                    )
                )
        except IntegrityError:
            return False  # scheduled by another replica (or request) meanwhile
        log.info("callback of item %s scheduled for %s", row.ticket, (due or now).isoformat())
        return True

    # --- the round ------------------------------------------------------------------------------

    async def round(self) -> None:
        now = self.clock()
        await self._schedule_created()
        if time.monotonic() - self._last_heal >= HEAL_SECONDS:
            self._last_heal = time.monotonic()
            await self._heal(now)
        await self._expire_offers(now)
        await self._watch_running(now)
        await self._take_due(now)

    async def _schedule_created(self) -> None:
        while not self._created.empty():
            item_id = self._created.get_nowait()
            async with AsyncSession(self.engine) as session:
                row = await session.get(ItemRow, item_id)
            if row is not None and row.is_open:
                await self.schedule(row)

    async def _heal(self, now: datetime) -> None:
        """Recent open callback items with no schedule (an IVR booking cut off by its budget
        between the item and the schedule, a listener lost to a crash) get one."""
        async with AsyncSession(self.engine) as session:
            orphans = (
                await session.scalars(
                    select(ItemRow)
                    .outerjoin(CallbackScheduleRow, CallbackScheduleRow.item_id == ItemRow.id)
                    .where(
                        ItemRow.kind == "callback",
                        ItemRow.is_open.is_(True),
                        ItemRow.created_at >= now - HEAL_WINDOW,
                        CallbackScheduleRow.item_id.is_(None),
                    )
                    .limit(DUE_BATCH)
                )
            ).all()
        for row in orphans:
            await self.schedule(row)

    def _lease_until(self, now: datetime, seconds: float = 0.0) -> datetime:
        return now + timedelta(seconds=seconds + 2 * self.settings.interval + LEASE_MARGIN)

    def _passed(self, item_id: int, now: datetime) -> set[int]:
        passed = self.passed.get(item_id)
        if not passed:
            return set()
        for user_id, until in list(passed.items()):
            if until <= now:
                del passed[user_id]
        if not passed:
            del self.passed[item_id]
        return set(passed)

    def _pass(self, item_id: int, user_id: int, now: datetime) -> None:
        hold = max(60.0, float(self.settings.offer_seconds))
        self.passed.setdefault(item_id, {})[user_id] = now + timedelta(seconds=hold)

    async def _expire_offers(self, now: datetime) -> None:
        async with AsyncSession(self.engine) as session:
            ran_out = (
                await session.execute(
                    select(CallbackScheduleRow.item_id, CallbackScheduleRow.offered_to).where(
                        CallbackScheduleRow.state == rules.OFFERED,
                        CallbackScheduleRow.offered_until < now,
                        CallbackScheduleRow.lease_owner == self.replica,
                    )
                )
            ).all()
        for item_id, user_id in ran_out:
            if user_id is None:
                continue
            if await self._withdraw(item_id, user_id, now):
                await self._note(item_id, SERVICE, "Callback offer ran out", user_id=user_id)

    async def _withdraw(self, item_id: int, user_id: int, now: datetime) -> bool:
        """Take the offer back from the agent (kept under this replica's lease, so that this
        replica, which knows who passed, offers it next)."""
        async with AsyncSession(self.engine) as session, session.begin():
            result = await session.execute(
                update(CallbackScheduleRow)
                .where(
                    CallbackScheduleRow.item_id == item_id,
                    CallbackScheduleRow.state == rules.OFFERED,
                    CallbackScheduleRow.offered_to == user_id,
                )
                .values(
                    state=rules.WAITING,
                    offered_to=None,
                    offered_until=None,
                    lease_owner=self.replica,
                    lease_until=self._lease_until(now),
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
        if _rows(result) != 1:
            return False
        self._pass(item_id, user_id, now)
        self.workforce.tell(user_id, {"type": "callback_offer_gone", "item_id": item_id})
        return True

    async def _watch_running(self, now: datetime) -> None:
        if self.running:
            items = {run.item_id for run in self.running.values()}
            async with AsyncSession(self.engine) as session, session.begin():
                await session.execute(
                    update(CallbackScheduleRow)
                    .where(
                        CallbackScheduleRow.item_id.in_(items),
                        CallbackScheduleRow.lease_owner == self.replica,
                    )
                    .values(lease_until=self._lease_until(now))
                    .execution_options(synchronize_session=False)
                )
        quiet_after = self.settings.agent_ring_seconds + ORIGINATE_GRACE
        every_pbx = time.monotonic() - self._last_reconcile >= RECONCILE_SECONDS
        if every_pbx:
            self._last_reconcile = time.monotonic()
        to_check = {
            run.pbx
            for run in self.running.values()
            if every_pbx
            or (
                run.state.agent_answered_at is None
                and (now - run.started_at).total_seconds() > quiet_after
            )
        }
        for pbx in sorted(to_check):
            await self.reconcile(pbx, "no word from the PBX about the call")

    async def reconcile(self, pbx: str, reason: str) -> None:
        """Attempts of this PBX whose channel no longer exists ended unseen: close them."""
        runs = [run for run in self.running.values() if run.pbx == pbx]
        if not runs:
            return
        alive = await self._channels(pbx)
        if alive is None:
            return
        now = self.clock()
        for run in runs:
            channel_id = run.state.channel_id
            if channel_id in alive or channel_id not in self.running:
                continue
            if (now - run.started_at).total_seconds() < 5:
                continue  # the Originate may not have made the channel yet
            run.state = rules.lost(run.state, now, reason)
            await self._finish(run)

    async def pbx_ready(self, pbx: str) -> None:
        """After a (re)connect: events may have been lost while the link was down."""
        await self.reconcile(pbx, "the call ended while the AMI link was down")

    async def _channels(self, pbx: str) -> set[str] | None:
        link = self.links.connected(pbx)
        if link is None:
            return None
        try:
            records = await actions.core_show_channels(link, timeout=10)
        except AmiError as exc:
            log.warning("PBX %s: channels not read for callbacks: %s", pbx, exc.message)
            return None
        return {r["Uniqueid"] for r in records if r.get("Uniqueid")}

    async def _busy_agents(self, now: datetime) -> set[int]:
        """Agents with an offer pending or a callback running (on any replica)."""
        async with AsyncSession(self.engine) as session:
            found = (
                await session.scalars(
                    select(CallbackScheduleRow.offered_to).where(
                        CallbackScheduleRow.state.in_((rules.OFFERED, rules.DIALLING)),
                        CallbackScheduleRow.offered_to.is_not(None),
                    )
                )
            ).all()
        return {int(user_id) for user_id in found if user_id is not None}

    async def _candidates(self, now: datetime) -> dict[int, tuple[CallbackScheduleRow, ItemRow]]:
        """Due callbacks this replica may take; on the way, schedules of items closed meanwhile
        are ended and dials whose replica died are adopted."""
        async with AsyncSession(self.engine) as session:
            found = (
                await session.execute(
                    select(CallbackScheduleRow, ItemRow)
                    .join(ItemRow, ItemRow.id == CallbackScheduleRow.item_id)
                    .where(
                        or_(
                            and_(
                                CallbackScheduleRow.state == rules.WAITING,
                                CallbackScheduleRow.next_attempt_at <= now,
                            ),
                            # An offer or a dial whose replica stopped renewing its lease.
                            and_(
                                CallbackScheduleRow.state.in_((rules.OFFERED, rules.DIALLING)),
                                CallbackScheduleRow.lease_until < now,
                            ),
                        )
                    )
                    .order_by(CallbackScheduleRow.next_attempt_at)
                    .limit(DUE_BATCH)
                )
            ).all()
        if not found:
            return {}
        candidates: dict[int, tuple[CallbackScheduleRow, ItemRow]] = {}
        for schedule, item in found:
            if not item.is_open:
                await self._close_schedule(schedule.item_id, now)
            elif schedule.state == rules.DIALLING:
                await self._adopt(schedule, now)
            elif schedule.lease_owner in (None, self.replica) or (
                schedule.lease_until is None or schedule.lease_until < now
            ):
                candidates[item.id] = (schedule, item)
        return candidates

    async def _take_due(self, now: datetime) -> None:
        candidates = await self._candidates(now)
        if not candidates:
            return
        waiting = rules.callers_waiting(
            (view.queue, view.callers_waiting) for view in self.live.queue_views(now)
        )
        due = rules.take_due(
            [
                DueCallback(
                    item.id, item.queue, item.owner_id, item.team_id, schedule.next_attempt_at
                )
                for schedule, item in candidates.values()
            ],
            now,
            self.hours,
            waiting,
            self.settings.max_waiting,
        )
        if not due:
            return
        # Only agents whose PBX is connected: a dial that cannot be sent would cost a try.
        ready = [a for a in self.workforce.ready_agents() if self.links.connected(a.pbx)]
        if not ready:
            return
        teams: dict[int, Team] = {team.id: team for team in self.workforce.teams()}
        busy = await self._busy_agents(now)
        busy |= {run.agent_id for run in self.running.values() if run.agent_id is not None}
        for callback in due:
            schedule, item = candidates[callback.item_id]
            team = teams.get(item.team_id) if item.team_id is not None else None
            agent = rules.pick_agent(item.owner_id, team, ready, busy, self._passed(item.id, now))
            if agent is None:
                continue
            auto = item.queue is not None and item.queue in self.settings.auto_dial_queues
            if auto:
                if await self._lease(schedule, rules.DIALLING, agent.user_id, None, now):
                    busy.add(agent.user_id)
                    await self.dial(item, schedule, agent)
            else:
                until = now + timedelta(seconds=self.settings.offer_seconds)
                if await self._lease(schedule, rules.OFFERED, agent.user_id, until, now):
                    busy.add(agent.user_id)
                    await self._offer(item, agent.user_id, until)

    async def _lease(
        self,
        schedule: CallbackScheduleRow,
        state: str,
        agent_id: int | None,
        offered_until: datetime | None,
        now: datetime,
    ) -> bool:
        """Take the item for this replica (one dial per item across replicas): the update
        names the state it read and a lease that is free, expired or already ours."""
        seconds = self.settings.offer_seconds if state == rules.OFFERED else 0
        async with AsyncSession(self.engine) as session, session.begin():
            result = await session.execute(
                update(CallbackScheduleRow)
                .where(
                    CallbackScheduleRow.item_id == schedule.item_id,
                    CallbackScheduleRow.state == schedule.state,
                    or_(
                        CallbackScheduleRow.lease_until.is_(None),
                        CallbackScheduleRow.lease_until < now,
                        CallbackScheduleRow.lease_owner == self.replica,
                    ),
                )
                .values(
                    state=state,
                    offered_to=agent_id,
                    offered_until=offered_until,
                    lease_owner=self.replica,
                    lease_until=self._lease_until(now, seconds),
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
        return _rows(result) == 1

    async def _close_schedule(self, item_id: int, now: datetime) -> None:
        """The item was resolved or closed meanwhile: nothing more to dial."""
        await self._unleash(item_id, rules.DONE, None, now, (rules.WAITING, rules.OFFERED))

    async def _unleash(
        self,
        item_id: int,
        state: str,
        next_attempt_at: datetime | None,
        now: datetime,
        only_from: tuple[str, ...] | None = None,
    ) -> None:
        """Put the schedule in ``state`` with no offer and no lease (if it is in one of
        ``only_from``, when given)."""
        conditions = [CallbackScheduleRow.item_id == item_id]
        if only_from is not None:
            conditions.append(CallbackScheduleRow.state.in_(only_from))
        async with AsyncSession(self.engine) as session, session.begin():
            await session.execute(
                update(CallbackScheduleRow)
                .where(*conditions)
                .values(
                    state=state,
                    next_attempt_at=next_attempt_at,
                    offered_to=None,
                    offered_until=None,
                    lease_owner=None,
                    lease_until=None,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )

    async def _adopt(self, schedule: CallbackScheduleRow, now: datetime) -> None:
        """A dial whose replica died (or this one before a restart): follow its channel if the
        PBX still has it, else close it as failed and let it be retried."""
        if not await self._lease(schedule, rules.DIALLING, schedule.offered_to, None, now):
            return
        async with AsyncSession(self.engine) as session:
            open_attempts = (
                await session.scalars(
                    select(CallbackAttemptRow).where(
                        CallbackAttemptRow.item_id == schedule.item_id,
                        CallbackAttemptRow.ended_at.is_(None),
                    )
                )
            ).all()
        if not open_attempts:
            await self._release(schedule.item_id, now)
            return
        for attempt in open_attempts:
            alive = await self._channels(attempt.pbx)
            if alive is None:
                return  # the PBX cannot say now: the lease is kept and renewed next round
            run = Running(
                item_id=attempt.item_id,
                attempt_id=attempt.id,
                attempt=attempt.attempt,
                pbx=attempt.pbx,
                agent_id=attempt.agent_id,
                interface=attempt.agent_interface or "",
                number=attempt.number,
                started_at=attempt.started_at,
                action_id="",
                state=AttemptState(
                    attempt.channel_id,
                    agent_answered_at=attempt.agent_answered_at,
                    customer_answered_at=attempt.customer_answered_at,
                ),
            )
            self.running[attempt.channel_id] = run
            if attempt.channel_id in alive:
                log.info("callback attempt %s of item %s adopted", attempt.attempt, run.item_id)
                continue
            run.state = rules.lost(run.state, now, STARTED_SERVICE_RESTARTED)
            await self._finish(run)

    async def _release(self, item_id: int, now: datetime) -> None:
        await self._unleash(item_id, rules.WAITING, now, now)

    # --- offers -----------------------------------------------------------------------------------

    async def offer_data(
        self, item: ItemRow, schedule: CallbackScheduleRow, auto: bool = False
    ) -> dict[str, Any]:
        """The preview on the agent's console: the item, the customer, the tries so far."""
        async with AsyncSession(self.engine) as session:
            customer = (
                await session.get(CustomerRow, item.customer_id)
                if item.customer_id is not None
                else None
            )
            history = (
                await session.scalars(
                    select(CallbackAttemptRow)
                    .where(CallbackAttemptRow.item_id == item.id)
                    .order_by(CallbackAttemptRow.attempt)
                )
            ).all()
        return {
            "item_id": item.id,
            "ticket": item.ticket,
            "number": schedule.number,
            "queue": item.queue,
            "offered_until": to_data(schedule.offered_until),
            "auto_dial": auto,
            "attempts": schedule.attempts,
            "max_attempts": self.settings.attempts,
            "item": self.items.item_data(item),
            "customer": None
            if customer is None
            else {
                "id": customer.id,
                "name": customer.name,
                "vip_level": customer.vip_level,
                "language": customer.language,
            },
            "history": [
                {
                    "attempt": a.attempt,
                    "started_at": to_data(a.started_at),
                    "outcome": a.outcome,
                    "reason": a.reason,
                    "agent_id": a.agent_id,
                }
                for a in history
            ],
        }

    async def _offer(self, item: ItemRow, user_id: int, until: datetime) -> None:
        async with AsyncSession(self.engine) as session:
            schedule = await session.get(CallbackScheduleRow, item.id)
        if schedule is None:
            return
        offer = await self.offer_data(item, schedule)
        self.workforce.tell(user_id, {"type": "callback_offer", "offer": offer})
        log.info("callback of item %s offered to user %s until %s", item.ticket, user_id, until)

    async def pending_offer(self, user_id: int) -> dict[str, Any] | None:
        now = self.clock()
        async with AsyncSession(self.engine) as session:
            found = (
                await session.execute(
                    select(CallbackScheduleRow, ItemRow)
                    .join(ItemRow, ItemRow.id == CallbackScheduleRow.item_id)
                    .where(
                        CallbackScheduleRow.state == rules.OFFERED,
                        CallbackScheduleRow.offered_to == user_id,
                        CallbackScheduleRow.offered_until >= now,
                    )
                    .order_by(CallbackScheduleRow.offered_until)
                    .limit(1)
                )
            ).first()
        if found is None:
            return None
        schedule, item = found
        return await self.offer_data(item, schedule)

    async def _offered(self, item_id: int, user_id: int) -> CallbackScheduleRow:
        """The schedule of an offer made to this user, or why not."""
        async with AsyncSession(self.engine) as session:
            schedule = await session.get(CallbackScheduleRow, item_id)
        if schedule is None:
            raise CallbackError("no-such-callback", f"item {item_id} has no callback")
        now = self.clock()
        if (
            schedule.state != rules.OFFERED
            or schedule.offered_until is None
            or schedule.offered_until < now
        ):
            raise CallbackError("offer-gone", f"item {item_id} has no open callback offer")
        if schedule.offered_to != user_id:
            raise CallbackError("not-your-offer", f"the callback of item {item_id} is not yours")
        return schedule

    async def accept(self, item_id: int, user_id: int) -> DialResult:
        schedule = await self._offered(item_id, user_id)
        agent = self._seat(user_id)
        if agent is None:
            raise CallbackError("not-ready", "you are not signed in and ready at a phone")
        if self.links.connected(agent.pbx) is None:
            raise CallbackError("pbx-unavailable", f"PBX {agent.pbx} is not connected")
        now = self.clock()
        # The accept may reach another replica than the one that offered: it takes the lease.
        async with AsyncSession(self.engine, expire_on_commit=False) as session, session.begin():
            result = await session.execute(
                update(CallbackScheduleRow)
                .where(
                    CallbackScheduleRow.item_id == item_id,
                    CallbackScheduleRow.state == rules.OFFERED,
                    CallbackScheduleRow.offered_to == user_id,
                    CallbackScheduleRow.offered_until >= now,
                )
                .values(
                    state=rules.DIALLING,
                    offered_until=None,
                    lease_owner=self.replica,
                    lease_until=self._lease_until(now),
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            item = await session.get(ItemRow, item_id)
        if _rows(result) != 1 or item is None:
            raise CallbackError("offer-gone", f"the offer of item {item_id} is no longer open")
        return await self.dial(item, schedule, agent)

    async def decline(self, item_id: int, user_id: int, reason: str, actor: Actor) -> None:
        await self._offered(item_id, user_id)
        now = self.clock()
        if not await self._withdraw(item_id, user_id, now):
            raise CallbackError("offer-gone", f"the offer of item {item_id} is no longer open")
        text = "Callback offer declined" + (f": {reason}" if reason else "")
        await self._note(item_id, actor, text, declined=True)

    def _seat(self, user_id: int) -> ReadyAgent | None:
        return next((a for a in self.workforce.ready_agents() if a.user_id == user_id), None)

    # --- dialling ---------------------------------------------------------------------------------

    async def dial(
        self, item: ItemRow, schedule: CallbackScheduleRow, agent: ReadyAgent
    ) -> DialResult:
        """Write the attempt, then ring the agent's phone; the customer is dialled from the
        outbound context once the agent answers. A refusal ends the attempt as failed."""
        now = self.clock()
        channel_id = f"cc-cb-{uuid.uuid4().hex[:24]}"
        action_id = f"callback/{channel_id}"
        async with AsyncSession(self.engine) as session, session.begin():
            last = await session.scalar(
                select(func.max(CallbackAttemptRow.attempt)).where(
                    CallbackAttemptRow.item_id == item.id
                )
            )
            row = CallbackAttemptRow(
                item_id=item.id,
                attempt=int(last or 0) + 1,
                pbx=agent.pbx,
                channel_id=channel_id,
                agent_id=agent.user_id,
                agent_interface=agent.interface,
                number=schedule.number,
                started_at=now,
            )
            session.add(row)
            await session.flush()
            attempt_id, attempt = row.id, row.attempt
        run = Running(
            item_id=item.id,
            attempt_id=attempt_id,
            attempt=attempt,
            pbx=agent.pbx,
            agent_id=agent.user_id,
            interface=agent.interface,
            number=schedule.number,
            started_at=now,
            action_id=action_id,
            state=AttemptState(channel_id),
        )
        self.running[channel_id] = run
        self.by_action[action_id] = channel_id
        log.info(
            "callback of item %s, attempt %d: ringing %s for %s",
            item.ticket,
            attempt,
            agent.interface,
            mask_number(schedule.number),
        )
        link = self.links.connected(agent.pbx)
        if link is None:
            run.state = rules.refused(run.state, self.clock(), f"PBX {agent.pbx} is not connected")
        else:
            fields = {
                "Action": "Originate",
                "ActionID": action_id,
                "ChannelId": channel_id,
                "Channel": agent.interface,
                "Context": self.settings.outbound_context,
                "Exten": schedule.number,
                "Priority": "1",
                "Timeout": str(self.settings.agent_ring_seconds * 1000),
                "Async": "true",
                "Variable": f"CC_WORK_ITEM={item.id}",
            }
            if self.settings.caller_id:
                fields["CallerID"] = self.settings.caller_id
            try:
                await link.send(fields)
            except AmiError as exc:
                log.warning("callback of item %s refused by the PBX: %s", item.ticket, exc.message)
                run.state = rules.refused(run.state, self.clock(), exc.message)
        if run.state.ended:
            await self._finish(run)
        return DialResult(
            item.id, attempt, channel_id, run.state.ended, run.state.outcome, run.state.reason
        )

    # --- the end of an attempt -------------------------------------------------------------

    async def _finish(self, run: Running) -> None:
        """Store how the attempt ended, its call record and the schedule's next step; then the
        timeline, and the item resolved as unreachable after the last unsuccessful try."""
        channel_id = run.state.channel_id
        if self.running.get(channel_id) is not run:
            return
        state = run.state
        assert state.outcome is not None and state.ended_at is not None
        now = self.clock()
        async with AsyncSession(self.engine, expire_on_commit=False) as session, session.begin():
            attempt = await session.get(CallbackAttemptRow, run.attempt_id, with_for_update=True)
            item = await session.get(ItemRow, run.item_id)
            schedule = await session.get(CallbackScheduleRow, run.item_id, with_for_update=True)
            if attempt is None or attempt.ended_at is not None or item is None:
                self._forget(run)
                return  # finished by another replica
            # An agent's word given while the call ran is the attempt's outcome already.
            verdict = {rules.REACHED: True, rules.NOT_REACHED: False}.get(attempt.outcome or "")
            outcome = rules.final_outcome(state.outcome, verdict)
            attempt.agent_answered_at = attempt.agent_answered_at or state.agent_answered_at
            attempt.customer_answered_at = (
                attempt.customer_answered_at or state.customer_answered_at
            )
            attempt.ended_at = state.ended_at
            attempt.outcome = outcome
            attempt.reason = state.reason
            call = await self._call_record(session, run, attempt, item, outcome)
            attempt.call_id = call.id
            if await session.get(WorkItemCallRow, (item.id, call.id)) is None:
                session.add(
                    WorkItemCallRow(item_id=item.id, call_id=call.id, role="callback", added_at=now)
                )
            step = None
            if schedule is not None:
                tries = rules.tries_after(outcome, schedule.attempts)
                step = rules.next_step(
                    outcome, tries, now, self.settings.attempts, self.settings.retry_minutes
                )
                if not item.is_open:
                    step = replace(step, state=rules.DONE, next_attempt_at=None, unreachable=False)
                schedule.state = step.state
                schedule.next_attempt_at = step.next_attempt_at
                schedule.attempts = step.tries
                schedule.offered_to = None
                schedule.offered_until = None
                schedule.lease_owner = None
                schedule.lease_until = None
                schedule.updated_at = now
            call_id = call.id
        # Forgotten once stored: a write that failed leaves the attempt to the next check.
        self._forget(run)
        if outcome == rules.AGENT_MISSED and run.agent_id is not None:
            self._pass(run.item_id, run.agent_id, now)
        log.info(
            "callback of item %s, attempt %d: %s (%s); next: %s",
            item.ticket,
            run.attempt,
            outcome,
            state.reason or "-",
            "none" if step is None else f"{step.state} {to_data(step.next_attempt_at)}",
        )
        await self._note(
            run.item_id,
            SERVICE,
            rules.describe(outcome, state.reason, run.attempt, run.number),
            attempt=run.attempt,
            outcome=outcome,
            reason=state.reason,
            call_id=call_id,
            agent_id=run.agent_id,
            agent_interface=run.interface,
            next_attempt_at=None if step is None else step.next_attempt_at,
            tries=None if step is None else step.tries,
        )
        if run.agent_id is not None:
            self.workforce.tell(
                run.agent_id,
                {
                    "type": "callback_ended",
                    "item_id": run.item_id,
                    "attempt": run.attempt,
                    "outcome": outcome,
                    "reason": state.reason,
                },
            )
        if step is not None and step.unreachable:
            await self._unreachable(run.item_id, step.tries)

    def _forget(self, run: Running) -> None:
        self.running.pop(run.state.channel_id, None)
        self.by_action.pop(run.action_id, None)

    async def _call_record(
        self,
        session: AsyncSession,
        run: Running,
        attempt: CallbackAttemptRow,
        item: ItemRow,
        outcome: str,
    ) -> CallRecord:
        """The attempt's outbound call record (one per attempt, whoever writes it again)."""
        found = await session.scalar(
            select(CallRecord).where(
                CallRecord.pbx == attempt.pbx,
                CallRecord.uniqueid == attempt.channel_id,
                CallRecord.joined_at == attempt.started_at,
            )
        )
        talk = rules.talk_seconds(
            replace(
                run.state,
                customer_answered_at=attempt.customer_answered_at,
                ended_at=attempt.ended_at,
            )
        )
        agent_name = self.items.name_of(attempt.agent_id)
        if found is None:
            found = CallRecord(
                pbx=attempt.pbx,
                uniqueid=attempt.channel_id,
                linkedid=attempt.channel_id,
                queue=item.queue or "callback",
                caller_number=attempt.number,
                joined_at=attempt.started_at,
                agents_rung=[attempt.agent_interface] if attempt.agent_interface else [],
                ring_no_answer_count=1 if outcome == rules.AGENT_MISSED else 0,
                ivr_data={},
                direction="outbound",
                customer_id=item.customer_id,
            )
            session.add(found)
        found.answered_at = attempt.customer_answered_at
        found.ended_at = attempt.ended_at
        found.left_at = attempt.ended_at
        found.talk_seconds = talk
        found.answered_by = attempt.agent_interface if attempt.agent_answered_at else None
        found.answered_by_name = agent_name if attempt.agent_answered_at else None
        found.answered_by_user = attempt.agent_id if attempt.agent_answered_at else None
        found.outcome = outcome[:16]
        found.channel = attempt.agent_interface
        await session.flush()
        return found

    async def _unreachable(self, item_id: int, tries: int) -> None:
        note = f"Customer not reached after {tries} callback attempts"
        try:
            await self.items.set_status(
                item_id, None, SERVICE, "resolved", note, resolution=rules.UNREACHABLE
            )
            await self.items.set_status(item_id, None, SERVICE, "closed", "unreachable")
        except Exception as exc:  # moved on by someone meanwhile (a 409): theirs stands
            log.info("callback item %s not closed as unreachable: %s", item_id, exc)

    async def _note(self, item_id: int, actor: Actor, text: str, **data: Any) -> None:
        try:
            await self.items.note(item_id, actor, text, kind="callback", **data)
        except Exception:
            log.exception("timeline of item %s: %r not written", item_id, text)

    # --- the agent's word ------------------------------------------------------------------

    async def result(
        self, item_id: int, attempt_no: int, user_id: int, reached: bool, note: str, actor: Actor
    ) -> CallbackAttemptRow:
        """The agent says whether the customer was reached: reached puts the item in progress
        (the callback is done); not reached counts as an unsuccessful try unless the PBX
        already said so (then the retry is the one planned)."""
        now = self.clock()
        async with AsyncSession(self.engine, expire_on_commit=False) as session, session.begin():
            attempt = await session.scalar(
                select(CallbackAttemptRow)
                .where(
                    CallbackAttemptRow.item_id == item_id,
                    CallbackAttemptRow.attempt == attempt_no,
                )
                .with_for_update()
            )
            if attempt is None:
                raise CallbackError(
                    "no-such-attempt", f"item {item_id} has no callback attempt {attempt_no}"
                )
            if attempt.agent_id != user_id:
                raise CallbackError("not-your-callback", "that callback attempt was not yours")
            if attempt.outcome == rules.AGENT_MISSED or (
                attempt.ended_at is not None and attempt.agent_answered_at is None
            ):
                raise CallbackError("no-call", "your phone never answered that attempt")
            step = None
            if attempt.ended_at is None:
                # Still running: the agent's word is kept and applied when it ends.
                attempt.outcome = rules.REACHED if reached else rules.NOT_REACHED
            else:
                before = attempt.outcome or rules.FAILED
                after = rules.final_outcome(before, reached)
                if after != before:
                    attempt.outcome = after
                    if attempt.call_id is not None:
                        call = await session.get(CallRecord, attempt.call_id)
                        if call is not None:
                            call.outcome = after
                    schedule = await session.get(CallbackScheduleRow, item_id, with_for_update=True)
                    if schedule is not None and schedule.state in (rules.WAITING, rules.DONE):
                        step = rules.next_step(
                            after,
                            schedule.attempts,
                            now,
                            self.settings.attempts,
                            self.settings.retry_minutes,
                        )
                        schedule.state = step.state
                        schedule.next_attempt_at = step.next_attempt_at
                        schedule.updated_at = now
        text = note or ("Customer reached" if reached else "Customer not reached")
        await self._note(
            item_id,
            actor,
            text,
            attempt=attempt_no,
            reached=reached,
            outcome=attempt.outcome,
        )
        if reached:
            await self._in_progress(item_id, actor)
        elif step is not None and step.unreachable:
            await self._unreachable(item_id, step.tries)
        return attempt

    async def _in_progress(self, item_id: int, actor: Actor) -> None:
        """The customer was reached: the item is in progress, and a pool's item is the
        reaching agent's (taken); someone else's item stays theirs."""
        item = await self.items.load(item_id)
        user = actor.user
        try:
            if item.owner_id is None and user is not None and item.is_open:
                await self.items.take(item_id, item.version, user)
                return
            if item.status == "in-progress" or "in-progress" not in TRANSITIONS.get(
                item.status, ()
            ):
                return
            mine = user is not None and item.owner_id == user.id
            await self.items.set_status(
                item_id, None, actor if mine else SERVICE, "in-progress", "Customer reached"
            )
        except Exception as exc:
            log.info("callback item %s not put in progress: %s", item_id, exc)
