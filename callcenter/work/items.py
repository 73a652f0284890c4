"""The work items' use cases: create, take, assign, note, move status, link; the sweep.

Every change is one transaction: the item's row (its version checked: two changes at once,
one wins), and one timeline event per thing that changed. Who may do what is decided here,
from the user's permissions and their scope (the agents room's teams).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from callcenter.agents.scope import Scope, Team
from callcenter.auth.identity import User
from callcenter.auth.permissions import P
from callcenter.clock import Clock, utc_now
from callcenter.customers.models import CustomerRow
from callcenter.feed.serialize import to_data
from callcenter.records.models import CallRecord
from callcenter.settings import WorkCategory, WorkSettings
from callcenter.work import lifecycle
from callcenter.work.calendar import BusinessCalendar
from callcenter.work.deadlines import promise
from callcenter.work.escalation import tiers_due
from callcenter.work.lifecycle import Timing
from callcenter.work.models import (
    CallbackAttemptRow,
    CallbackScheduleRow,
    WorkItemCallRow,
    WorkItemEventRow,
    WorkItemLinkRow,
    WorkItemRow,
)
from callcenter.work.ports import CallParts, VoicemailOfItem, WorkForce
from callcenter.work.problems import (
    DUE_IN_PAST,
    FORBIDDEN_TRANSITION,
    ITEM_CLOSED,
    NO_OWNER,
    NO_SUCH_CALL,
    NO_SUCH_CUSTOMER,
    NO_SUCH_ITEM,
    NO_SUCH_TEAM,
    NO_SUCH_USER,
    NOBODY_TO_CALL,
    NOT_STORED,
    NOT_YOUR_CALL,
    NOT_YOUR_ITEM,
    OUTSIDE_YOUR_TEAMS,
    SELF_LINK,
    STALE_ITEM,
    UNKNOWN_CATEGORY,
)
from callcenter.work.tickets import new_ticket

log = logging.getLogger(__name__)

SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change: a user, or the service itself (the IVR, the sweep, the dialler)."""

    user: User | None
    name: str

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(user, user.display_name or user.username)

    @property
    def user_id(self) -> int | None:
        return None if self.user is None else self.user.id


SERVICE = Actor(None, SYSTEM)


@dataclass(frozen=True, slots=True)
class NewItem:
    kind: str
    title: str
    category: str
    priority: str | None = None
    customer_id: int | None = None
    phone: str | None = None
    call_ids: tuple[int, ...] = ()
    owner_id: int | None = None
    team_id: int | None = None
    due_at: datetime | None = None
    note: str = ""
    source: str = "agent"
    source_key: str | None = None
    pbx: str | None = None
    queue: str | None = None
    language: str | None = None
    # Who is owner when neither owner nor team is named: the creator (an agent's wrap-up).
    owner_is_creator: bool = True


@dataclass(frozen=True, slots=True)
class Escalation:
    item: dict[str, Any]
    tier: str
    notified: tuple[int, ...]


# Told after a change committed: (user ids to tell, message) for consoles; feed messages.
Tell = Callable[[int, Mapping[str, Any]], None]
Publish = Callable[[Mapping[str, Any]], None]
Created = Callable[[WorkItemRow], None]


def event(
    item_id: int, actor: Actor, what: str, at: datetime, text: str = "", **data: Any
) -> WorkItemEventRow:
    """One timeline line; ``what`` is its kind (created, note, status, owner...)."""
    return WorkItemEventRow(
        item_id=item_id,
        at=at,
        actor_id=actor.user_id,
        actor_name=actor.name[:120],
        kind=what,
        text=text,
        data=to_data(data),
    )


def timing_of(row: WorkItemRow) -> Timing:
    return Timing(
        clock="working" if row.clock == "working" else "wall",
        span_seconds=row.span_seconds,
        due_at=row.due_at,
        first_response_due=row.first_response_due,
        paused_at=row.paused_at,
        remaining_seconds=row.remaining_seconds,
        escalation_tier=row.escalation_tier,
        next_escalation_at=row.next_escalation_at,
        resolved_at=row.resolved_at,
        resolved_on_time=row.resolved_on_time,
        closed_at=row.closed_at,
    )


def keep_timing(row: WorkItemRow, timing: Timing) -> None:
    row.clock = timing.clock
    row.span_seconds = timing.span_seconds
    row.due_at = timing.due_at
    row.first_response_due = timing.first_response_due
    row.paused_at = timing.paused_at
    row.remaining_seconds = timing.remaining_seconds
    row.escalation_tier = timing.escalation_tier
    row.next_escalation_at = timing.next_escalation_at
    row.resolved_at = timing.resolved_at
    row.resolved_on_time = timing.resolved_on_time
    row.closed_at = timing.closed_at


class WorkItems:
    def __init__(
        self,
        engine: AsyncEngine,
        settings: WorkSettings,
        calendar: BusinessCalendar,
        workforce: WorkForce,
        *,
        tell: Tell,
        publish: Publish,
        clock: Clock = utc_now,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.calendar = calendar
        self.workforce = workforce
        self.tell = tell
        self.publish = publish
        self.clock = clock
        self.rng = rng
        self.categories: dict[str, WorkCategory] = {c.code: c for c in settings.categories}
        # Listeners told of every item created (the dialler schedules callbacks).
        self.on_created: list[Created] = []
        # The voicemail room: the message an item was filed for, in its detail.
        self.voicemails: VoicemailOfItem | None = None
        # The transfers room: the legs of a transferred call (who may link items to it).
        self.call_parts: CallParts | None = None

    # --- who ----------------------------------------------------------------------------------

    def teams(self) -> dict[int, Team]:
        return {team.id: team for team in self.workforce.teams()}

    def name_of(self, user_id: int | None) -> str | None:
        if user_id is None:
            return None
        user = self.workforce.active_user(user_id)
        return None if user is None else (user.display_name or user.username)

    def scope(self, user: User) -> Scope:
        return self.workforce.scope_of(user)

    def supervises(self, user: User, row: WorkItemRow) -> bool:
        """A holder of work:supervise whose scope covers the item's team or owner."""
        if not user.may(P.WORK_SUPERVISE):
            return False
        scope = self.scope(user)
        if scope.everything:
            return True
        return (row.team_id is not None and scope.has_team(row.team_id)) or (
            row.owner_id is not None and scope.has_user(row.owner_id)
        )

    def my_team_ids(self, user: User) -> set[int]:
        return {team.id for team in self.workforce.teams() if team.has(user.id)}

    def may_change(self, user: User, row: WorkItemRow) -> bool:
        return row.owner_id == user.id or self.supervises(user, row)

    def handles(self, user: User, row: WorkItemRow) -> bool:
        """Whether the user works on the item or may take it: its owner, a member or leader of
        its team (its pool; an item in no team's pool: any holder of work:own), or a holder
        of work:supervise whose scope covers it. Narrower than reading the item (any agent
        reads any item by its ticket): a customer's own voice (a voicemail) is for those who
        handle the item."""
        if row.owner_id == user.id or self.supervises(user, row):
            return True
        if not user.may(P.WORK_OWN):
            return False
        if row.team_id is None:
            return row.owner_id is None
        return row.team_id in self.my_team_ids(user)

    # --- data ---------------------------------------------------------------------------------

    def item_data(self, row: WorkItemRow, now: datetime | None = None) -> dict[str, Any]:
        now = now or self.clock()
        teams = self.teams()
        team = teams.get(row.team_id) if row.team_id is not None else None
        return {
            "id": row.id,
            "ticket": row.ticket,
            "kind": row.kind,
            "status": row.status,
            "priority": row.priority,
            "category": row.category,
            "title": row.title,
            "customer_id": row.customer_id,
            "phone": row.phone,
            "owner_id": row.owner_id,
            "owner_name": self.name_of(row.owner_id),
            "team_id": row.team_id,
            "team_name": team.name if team is not None else None,
            "source": row.source,
            "queue": row.queue,
            "created_at": to_data(row.created_at),
            "updated_at": to_data(row.updated_at),
            "version": row.version,
            "first_response_due": to_data(row.first_response_due),
            "first_response_at": to_data(row.first_response_at),
            "due_at": to_data(row.due_at),
            "overdue": bool(row.is_open and row.due_at is not None and row.due_at < now),
            "waiting": row.status in lifecycle.WAITING,
            "remaining_seconds": row.remaining_seconds,
            "escalation_tier": row.escalation_tier,
            "escalations": row.escalations,
            "resolved_at": to_data(row.resolved_at),
            "resolved_on_time": row.resolved_on_time,
            "resolution": row.resolution,
            "closed_at": to_data(row.closed_at),
        }

    async def detail(self, row: WorkItemRow) -> dict[str, Any]:
        data = self.item_data(row)
        async with AsyncSession(self.engine) as session:
            events = (
                await session.scalars(
                    select(WorkItemEventRow)
                    .where(WorkItemEventRow.item_id == row.id)
                    .order_by(WorkItemEventRow.at, WorkItemEventRow.id)
                )
            ).all()
            calls = (
                await session.execute(
                    select(WorkItemCallRow.role, WorkItemCallRow.added_at, CallRecord)
                    .join(CallRecord, CallRecord.id == WorkItemCallRow.call_id)
                    .where(WorkItemCallRow.item_id == row.id)
                    .order_by(CallRecord.joined_at)
                )
            ).all()
            links = (
                await session.execute(
                    select(WorkItemLinkRow, WorkItemRow)
                    .join(WorkItemRow, WorkItemRow.id == WorkItemLinkRow.other_id)
                    .where(WorkItemLinkRow.item_id == row.id)
                )
            ).all()
            back = (
                await session.execute(
                    select(WorkItemLinkRow, WorkItemRow)
                    .join(WorkItemRow, WorkItemRow.id == WorkItemLinkRow.item_id)
                    .where(WorkItemLinkRow.other_id == row.id)
                )
            ).all()
            attempts = (
                await session.scalars(
                    select(CallbackAttemptRow)
                    .where(CallbackAttemptRow.item_id == row.id)
                    .order_by(CallbackAttemptRow.attempt)
                )
            ).all()
            schedule = await session.get(CallbackScheduleRow, row.id)
            customer = (
                await session.get(CustomerRow, row.customer_id)
                if row.customer_id is not None
                else None
            )
        data["customer_name"] = customer.name if customer is not None else None
        data["timeline"] = [
            {
                "at": to_data(e.at),
                "actor_id": e.actor_id,
                "actor": e.actor_name,
                "kind": e.kind,
                "text": e.text,
                "data": e.data,
            }
            for e in events
        ]
        data["calls"] = [
            {
                "id": call.id,
                "role": role,
                "direction": call.direction,
                "pbx": call.pbx,
                "queue": call.queue,
                "caller_number": call.caller_number,
                "joined_at": to_data(call.joined_at),
                "answered_at": to_data(call.answered_at),
                "ended_at": to_data(call.ended_at),
                "outcome": call.outcome,
                "answered_by": call.answered_by,
                "answered_by_name": call.answered_by_name,
                "added_at": to_data(added),
            }
            for role, added, call in calls
        ]
        data["links"] = [
            {
                "relation": link.relation,
                "id": other.id,
                "ticket": other.ticket,
                "kind": other.kind,
                "status": other.status,
                "title": other.title,
                "direction": "to",
            }
            for link, other in links
        ] + [
            {
                "relation": link.relation,
                "id": other.id,
                "ticket": other.ticket,
                "kind": other.kind,
                "status": other.status,
                "title": other.title,
                "direction": "from",
            }
            for link, other in back
        ]
        data["attempts"] = [
            {
                "attempt": a.attempt,
                "agent_id": a.agent_id,
                "agent_name": self.name_of(a.agent_id),
                "agent_interface": a.agent_interface,
                "number": a.number,
                "started_at": to_data(a.started_at),
                "agent_answered_at": to_data(a.agent_answered_at),
                "customer_answered_at": to_data(a.customer_answered_at),
                "ended_at": to_data(a.ended_at),
                "outcome": a.outcome,
                "reason": a.reason,
                "call_id": a.call_id,
            }
            for a in attempts
        ]
        data["callback"] = (
            None
            if schedule is None
            else {
                "state": schedule.state,
                "next_attempt_at": to_data(schedule.next_attempt_at),
                "attempts": schedule.attempts,
                "max_attempts": self.settings.callbacks.attempts,
                "offered_to": schedule.offered_to,
            }
        )
        voicemail = (
            await self.voicemails.voicemail_of_item(row.id) if self.voicemails is not None else None
        )
        data["voicemail"] = None if voicemail is None else to_data(voicemail)
        return data

    # --- reading ------------------------------------------------------------------------------

    async def load(self, item_id: int | None = None, ticket: str | None = None) -> WorkItemRow:
        async with AsyncSession(self.engine) as session:
            if item_id is not None:
                row = await session.get(WorkItemRow, item_id)
            else:
                row = await session.scalar(select(WorkItemRow).where(WorkItemRow.ticket == ticket))
        if row is None:
            what = f"item {item_id}" if item_id is not None else f"ticket {ticket}"
            raise NO_SUCH_ITEM(f"there is no work {what}")
        return row

    # --- creating -----------------------------------------------------------------------------

    async def create(self, actor: Actor, spec: NewItem) -> WorkItemRow:
        """A new item with its promise; raises a 4xx problem (nothing stored) on bad input.
        A repeated ``source_key`` answers the item made the first time."""
        now = self.clock()
        row = self._new_row(actor, spec, now)
        try:
            async with (
                AsyncSession(self.engine, expire_on_commit=False) as session,
                session.begin(),
            ):
                found = await self._by_source(session, spec.source_key)
                if found is not None:
                    return found
                await self._check_refs(session, actor, spec)
                row.ticket = await self._free_ticket(session)
                session.add(row)
                await session.flush()
                session.add(
                    event(
                        row.id,
                        actor,
                        "created",
                        now,
                        spec.note,
                        kind=spec.kind,
                        priority=row.priority,
                        category=spec.category,
                        owner_id=row.owner_id,
                        team_id=row.team_id,
                        due_at=row.due_at,
                        source=spec.source,
                    )
                )
                for call_id in dict.fromkeys(spec.call_ids):
                    session.add(
                        WorkItemCallRow(
                            item_id=row.id, call_id=call_id, role="origin", added_at=now
                        )
                    )
        except IntegrityError:
            # The same request stored by another replica a moment ago.
            async with AsyncSession(self.engine) as session:
                found = await self._by_source(session, spec.source_key)
            if found is None:
                raise
            return found
        except SQLAlchemyError as exc:
            log.warning("work item not stored: %s", type(exc).__name__)
            raise NOT_STORED("the work item was not stored; try again") from exc
        log.info(
            "work item %s created: %s %s priority=%s owner=%s team=%s",
            row.ticket,
            row.kind,
            row.category,
            row.priority,
            row.owner_id,
            row.team_id,
        )
        for listener in self.on_created:
            listener(row)
        if row.owner_id is not None and row.owner_id != actor.user_id:
            self._tell_item(row.owner_id, "assigned", row)
        return row

    def _new_row(self, actor: Actor, spec: NewItem, now: datetime) -> WorkItemRow:
        """The row of a new item, checked against what memory knows (categories, users,
        teams); what only the database knows is checked in the transaction."""
        category = self.categories.get(spec.category)
        if category is None:
            raise UNKNOWN_CATEGORY(f"no work category {spec.category!r}", category=spec.category)
        if spec.kind == "callback" and not spec.phone:
            raise NOBODY_TO_CALL("a callback needs the number to call")
        if spec.due_at is not None and spec.due_at <= now:
            raise DUE_IN_PAST("the promised deadline is in the past", due_at=to_data(spec.due_at))
        owner_id, team_id = spec.owner_id, spec.team_id
        if owner_id is None and team_id is None:
            if actor.user is None:
                # The IVR's or the service's item for a queue no team serves (and no
                # work.default_team): it is kept without a pool rather than lost; supervisors
                # see it, and a callback is offered to the longest-ready agent.
                log.warning("work item for queue %s has no owner and no team pool", spec.queue)
            elif not spec.owner_is_creator:
                raise NO_OWNER("name an owner or a team pool")
            else:
                owner_id = actor.user.id
        self.check_owner(owner_id, team_id)
        if team_id is None and owner_id is not None:
            team_id = self._team_of_user(owner_id, spec.queue)
        priority = lifecycle.priority_of(spec.priority, category)
        rule_promise = promise(self.settings.deadlines, self.calendar, spec.kind, priority, now)
        if spec.due_at is not None:
            # A deadline promised by hand runs as the clock runs; the first response is due
            # no later than the resolution.
            first = rule_promise.first_response_due
            rule_promise = replace(
                rule_promise,
                clock="wall",
                due_at=spec.due_at,
                span_seconds=max(1, int((spec.due_at - now).total_seconds())),
                first_response_due=min(first, spec.due_at) if first is not None else None,
            )
        row = WorkItemRow(
            kind=spec.kind,
            status="open",
            is_open=True,
            priority=priority,
            category=spec.category,
            title=spec.title,
            customer_id=spec.customer_id,
            phone=spec.phone,
            pbx=spec.pbx,
            queue=spec.queue,
            language=spec.language,
            owner_id=owner_id,
            team_id=team_id,
            source=spec.source,
            source_key=spec.source_key,
            created_by=actor.user_id,
            created_at=now,
            updated_at=now,
            clock_start=now,
            escalations=0,
        )
        keep_timing(row, lifecycle.promised(rule_promise, self.settings.escalation, self.calendar))
        return row

    async def _by_source(self, session: AsyncSession, key: str | None) -> WorkItemRow | None:
        if key is None:
            return None
        return await session.scalar(select(WorkItemRow).where(WorkItemRow.source_key == key))

    def check_owner(self, owner_id: int | None, team_id: int | None) -> None:
        if owner_id is not None and self.workforce.active_user(owner_id) is None:
            raise NO_SUCH_USER(f"no active user {owner_id}", owner_id=owner_id)
        if team_id is not None and team_id not in self.teams():
            raise NO_SUCH_TEAM(f"no team {team_id}", team_id=team_id)

    def _team_of_user(self, user_id: int, queue: str | None) -> int | None:
        """The owner's team (the one serving the item's queue first): whose leader the item
        escalates to."""
        mine = [team for team in self.workforce.teams() if team.has(user_id)]
        if queue is not None:
            serving = [team for team in mine if queue in team.queues]
            if serving:
                return serving[0].id
        return mine[0].id if mine else None

    def team_for_queue(self, queue: str | None) -> int | None:
        """The pool an item of this queue goes to when nobody is named: the team serving the
        queue, else ``work.default_team``, else (none set) the first team."""
        teams = list(self.workforce.teams())
        serving = next((t.id for t in teams if queue is not None and queue in t.queues), None)
        if serving is not None:
            return serving
        if self.settings.default_team is not None:
            return next((t.id for t in teams if t.name == self.settings.default_team), None)
        return teams[0].id if teams else None

    async def _check_refs(self, session: AsyncSession, actor: Actor, spec: NewItem) -> None:
        if (
            spec.customer_id is not None
            and await session.get(CustomerRow, spec.customer_id) is None
        ):
            raise NO_SUCH_CUSTOMER(f"no customer {spec.customer_id}", customer_id=spec.customer_id)
        for call_id in spec.call_ids:
            await self._check_call(session, actor, call_id)

    async def _check_call(self, session: AsyncSession, actor: Actor, call_id: int) -> CallRecord:
        call = await session.get(CallRecord, call_id)
        if call is None:
            raise NO_SUCH_CALL(f"no call record {call_id}", call_id=call_id)
        user = actor.user
        if user is not None and not user.may(P.CALLS_READ_ALL):
            own = call.answered_by_user == user.id or (
                call.answered_by is not None and call.answered_by in user.interfaces
            )
            if not own and self.call_parts is not None and call.linkedid:
                own = await self.call_parts.took_part(
                    call.pbx, call.linkedid, user.id, user.interfaces
                )
            if not own:
                raise NOT_YOUR_CALL(f"call {call_id} was answered by someone else", call_id=call_id)
        return call

    async def _free_ticket(self, session: AsyncSession) -> str:
        for _ in range(20):
            ticket = new_ticket()
            if (
                await session.scalar(select(WorkItemRow.id).where(WorkItemRow.ticket == ticket))
                is None
            ):
                return ticket
        raise NOT_STORED("no free ticket number; try again")

    # --- changing -----------------------------------------------------------------------------

    async def change(
        self,
        item_id: int,
        version: int | None,
        actor: Actor,
        apply: Callable[[WorkItemRow, datetime], Iterable[WorkItemEventRow]],
    ) -> WorkItemRow:
        """Load the item, check the version the caller saw, let ``apply`` change the row and
        name the events; store both in one transaction."""
        now = self.clock()
        try:
            async with (
                AsyncSession(self.engine, expire_on_commit=False) as session,
                session.begin(),
            ):
                row = await session.get(WorkItemRow, item_id, with_for_update=True)
                if row is None:
                    raise NO_SUCH_ITEM(f"there is no work item {item_id}", id=item_id)
                if version is not None and row.version != version:
                    raise STALE_ITEM(
                        f"item {row.ticket} is at version {row.version}, not {version}",
                        item=self.item_data(row, now),
                    )
                events = list(apply(row, now))
                if not events:
                    return row
                row.updated_at = now
                session.add_all(events)
        except StaleDataError:
            current = await self.load(item_id)
            raise STALE_ITEM(
                f"item {current.ticket} changed meanwhile", item=self.item_data(current)
            ) from None
        except SQLAlchemyError as exc:
            log.warning("work item %s not changed: %s", item_id, type(exc).__name__)
            raise NOT_STORED("the change was not stored; try again") from exc
        return row

    def _first_response(self, row: WorkItemRow, actor: Actor, now: datetime) -> None:
        if (
            row.first_response_at is None
            and actor.user_id is not None
            and (actor.user_id == row.owner_id)
        ):
            row.first_response_at = now

    async def take(self, item_id: int, version: int, user: User) -> WorkItemRow:
        actor = Actor.of(user)

        def apply(row: WorkItemRow, now: datetime) -> list[WorkItemEventRow]:
            if not row.is_open:
                raise ITEM_CLOSED(f"item {row.ticket} is {row.status}", current=row.status)
            if row.owner_id == user.id:
                return []
            pool_of_mine = row.owner_id is None and (
                row.team_id is None or row.team_id in self.my_team_ids(user)
            )
            if not pool_of_mine and not self.supervises(user, row):
                raise NOT_YOUR_ITEM(
                    f"item {row.ticket} belongs to someone else or another team's pool"
                )
            before = row.owner_id
            row.owner_id = user.id
            if row.team_id is None:
                row.team_id = self._team_of_user(user.id, row.queue)
            events = [event(row.id, actor, "owner", now, "", before=before, after=user.id)]
            if row.status == "open":
                row.status = "in-progress"
                events.append(
                    event(row.id, actor, "status", now, "", before="open", after="in-progress")
                )
            self._first_response(row, actor, now)
            return events

        return await self.change(item_id, version, actor, apply)

    async def assign(
        self,
        item_id: int,
        version: int | None,
        actor: Actor,
        owner_id: int | None,
        team_id: int | None,
        note: str = "",
    ) -> WorkItemRow:
        if owner_id is None and team_id is None:
            raise NO_OWNER("name an owner or a team pool")
        self.check_owner(owner_id, team_id)

        def apply(row: WorkItemRow, now: datetime) -> list[WorkItemEventRow]:
            if not row.is_open:
                raise ITEM_CLOSED(f"item {row.ticket} is {row.status}", current=row.status)
            user = actor.user
            if user is not None and not self.may_change(user, row):
                raise NOT_YOUR_ITEM(f"item {row.ticket}: only its owner or a supervisor")
            if user is not None and row.owner_id != user.id and team_id is not None:
                scope = self.scope(user)
                if not scope.has_team(team_id):
                    raise OUTSIDE_YOUR_TEAMS(f"team {team_id} is not one of yours", team_id=team_id)
            before_owner, before_team = row.owner_id, row.team_id
            row.owner_id = owner_id
            if team_id is not None:
                row.team_id = team_id
            elif owner_id is not None:
                row.team_id = self._team_of_user(owner_id, row.queue) or row.team_id
            if (before_owner, before_team) == (row.owner_id, row.team_id):
                return []
            return [
                event(
                    row.id,
                    actor,
                    "owner",
                    now,
                    note,
                    before=before_owner,
                    after=row.owner_id,
                    team_before=before_team,
                    team_after=row.team_id,
                )
            ]

        row = await self.change(item_id, version, actor, apply)
        if owner_id is not None and owner_id != actor.user_id:
            self._tell_item(owner_id, "assigned", row)
        return row

    async def note(
        self, item_id: int, actor: Actor, text: str, kind: str = "note", **data: Any
    ) -> WorkItemRow:
        """A line on the timeline (notes never conflict: no version)."""

        def apply(row: WorkItemRow, now: datetime) -> list[WorkItemEventRow]:
            self._first_response(row, actor, now)
            return [event(row.id, actor, kind, now, text, **data)]

        return await self.change(item_id, None, actor, apply)

    async def set_status(
        self,
        item_id: int,
        version: int | None,
        actor: Actor,
        status: str,
        note: str = "",
        resolution: str | None = None,
    ) -> WorkItemRow:
        def apply(row: WorkItemRow, now: datetime) -> list[WorkItemEventRow]:
            user = actor.user
            if user is not None and not self.may_change(user, row):
                raise NOT_YOUR_ITEM(f"item {row.ticket}: only its owner or a supervisor")
            if not lifecycle.allowed(row.status, status):
                raise FORBIDDEN_TRANSITION(
                    f"item {row.ticket} cannot go from {row.status} to {status}",
                    current=row.status,
                    allowed=sorted(lifecycle.TRANSITIONS.get(row.status, ())),
                )
            fresh = promise(self.settings.deadlines, self.calendar, row.kind, row.priority, now)
            before = row.status
            timing = lifecycle.move(
                timing_of(row), before, status, now, self.calendar, self.settings.escalation, fresh
            )
            keep_timing(row, timing)
            row.status = status
            row.is_open = lifecycle.is_open(status)
            if status == "resolved":
                row.resolution = resolution or note or row.resolution
            elif before in ("resolved", "closed") and lifecycle.is_open(status):
                # A reopened item is no longer answered; closing a resolved one keeps its answer.
                row.resolution = None
            self._first_response(row, actor, now)
            return [
                event(
                    row.id,
                    actor,
                    "status",
                    now,
                    note,
                    before=before,
                    after=status,
                    due_at=row.due_at,
                    on_time=row.resolved_on_time if status == "resolved" else None,
                    resolution=resolution,
                )
            ]

        row = await self.change(item_id, version, actor, apply)
        if (
            status == "resolved"
            and row.kind == "complaint"
            and await self._maybe_satisfaction_call(row)
        ):
            # The link and its note moved the complaint's version on: answer what is stored.
            return await self.load(item_id)
        return row

    async def attach_call(
        self, item_id: int, actor: Actor, call_id: int, role: str = "later"
    ) -> WorkItemRow:
        now = self.clock()
        async with AsyncSession(self.engine) as session:
            await self._check_call(session, actor, call_id)
        try:
            async with AsyncSession(self.engine) as session, session.begin():
                if await session.get(WorkItemCallRow, (item_id, call_id)) is None:
                    session.add(
                        WorkItemCallRow(item_id=item_id, call_id=call_id, role=role, added_at=now)
                    )
        except IntegrityError:
            raise NO_SUCH_ITEM(f"there is no work item {item_id}", id=item_id) from None
        return await self.note(item_id, actor, "", kind="call", call_id=call_id, role=role)

    async def link(
        self, item_id: int, actor: Actor, other_ticket: str, relation: str
    ) -> WorkItemRow:
        other = await self.load(ticket=other_ticket)
        if other.id == item_id:
            raise SELF_LINK("an item cannot be linked to itself")
        await self.load(item_id)
        now = self.clock()
        async with AsyncSession(self.engine) as session, session.begin():
            exists = await session.scalar(
                select(WorkItemLinkRow.id).where(
                    WorkItemLinkRow.item_id == item_id, WorkItemLinkRow.other_id == other.id
                )
            )
            if exists is None:
                session.add(
                    WorkItemLinkRow(
                        item_id=item_id,
                        other_id=other.id,
                        relation=relation,
                        created_at=now,
                        created_by=actor.user_id,
                    )
                )
        await self.note(
            other.id, actor, "", kind="link", other=item_id, relation=relation, direction="from"
        )
        return await self.note(
            item_id, actor, "", kind="link", other=other.id, ticket=other.ticket, relation=relation
        )

    # --- satisfaction return calls (seed 003) -----------------------------------------------

    async def _maybe_satisfaction_call(self, complaint: WorkItemRow) -> bool:
        """Whether a satisfaction call was created and linked to the complaint."""
        share = self.settings.satisfaction_share
        if share <= 0 or self.rng() >= share or complaint.source == "satisfaction":
            return False
        team_id = complaint.team_id
        if self.settings.satisfaction_team is not None:
            named = [t for t in self.workforce.teams() if t.name == self.settings.satisfaction_team]
            team_id = named[0].id if named else team_id
        if team_id is None:
            log.warning("no pool for the satisfaction call of %s", complaint.ticket)
            return False
        try:
            created = await self.create(
                SERVICE,
                NewItem(
                    kind="follow-up",
                    title=f"Satisfaction call: {complaint.title}"[:200],
                    category="satisfaction"
                    if "satisfaction" in self.categories
                    else complaint.category,
                    customer_id=complaint.customer_id,
                    phone=complaint.phone,
                    team_id=team_id,
                    source="satisfaction",
                    source_key=f"satisfaction:{complaint.id}:{complaint.resolved_at}",
                    queue=complaint.queue,
                    owner_is_creator=False,
                ),
            )
            await self.link(complaint.id, SERVICE, created.ticket, "satisfaction")
        except Exception:
            log.exception("satisfaction call for %s not created", complaint.ticket)
            return False
        return True

    # --- escalation -------------------------------------------------------------------------------

    async def sweep(self, limit: int = 5000, batch: int = 500) -> list[Escalation]:
        """Escalate every open item whose next tier is due, a batch per transaction. The rows are
        locked and skipped when locked (PostgreSQL), so two replicas' sweeps escalate an item
        once; on SQLite the one writer does the same."""
        done: list[Escalation] = []
        examined = 0
        while examined < limit:
            size = min(batch, limit - examined)
            reached, seen = await self._escalate_batch(size)
            done.extend(self._announce(row, tier, notified) for row, tier, notified in reached)
            examined += seen
            if seen < size:
                break
        return done

    async def _escalate_batch(
        self, size: int
    ) -> tuple[list[tuple[WorkItemRow, int, tuple[int, ...]]], int]:
        now = self.clock()
        reached: list[tuple[WorkItemRow, int, tuple[int, ...]]] = []
        try:
            async with (
                AsyncSession(self.engine, expire_on_commit=False) as session,
                session.begin(),
            ):
                rows = (
                    await session.scalars(
                        select(WorkItemRow)
                        .where(WorkItemRow.next_escalation_at <= now, WorkItemRow.is_open.is_(True))
                        .order_by(WorkItemRow.next_escalation_at, WorkItemRow.id)
                        .limit(size)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
                for row in rows:
                    events = self._escalation_events(row, now, reached)
                    if events:
                        row.updated_at = now
                        session.add_all(events)
        except (StaleDataError, SQLAlchemyError) as exc:
            # Nothing of the batch is stored; the next sweep finds the same items due.
            log.warning("escalation sweep not stored: %s", type(exc).__name__)
            return [], 0
        return reached, len(rows)

    def _escalation_events(
        self,
        row: WorkItemRow,
        now: datetime,
        reached: list[tuple[WorkItemRow, int, tuple[int, ...]]],
    ) -> list[WorkItemEventRow]:
        tiers = self.settings.escalation
        if not row.is_open or row.due_at is None:
            row.next_escalation_at = None
            return [event(row.id, SERVICE, "deadline", now, "", next_escalation_at=None)]
        indexes = tiers_due(
            tiers,
            row.escalation_tier,
            self.calendar,
            timing_of(row).clock,
            row.due_at,
            row.span_seconds,
            now,
        )
        if not indexes:
            timing = lifecycle.escalated(timing_of(row), row.escalation_tier, self.calendar, tiers)
            # Stored with the batch; not worth a line on the timeline.
            row.next_escalation_at = timing.next_escalation_at
            return []
        events = []
        for index in indexes:
            tier = tiers[index - 1]
            notified = self._notified(tier.to, row)
            reached.append((row, index, notified))
            events.append(
                event(
                    row.id,
                    SERVICE,
                    "escalated",
                    now,
                    "",
                    tier=tier.to,
                    share=tier.share,
                    notified=list(notified),
                    due_at=row.due_at,
                    # Whose item it was when it escalated (the work log counts it for them).
                    owner_id=row.owner_id,
                )
            )
        row.escalations += len(indexes)
        keep_timing(row, lifecycle.escalated(timing_of(row), indexes[-1], self.calendar, tiers))
        return events

    def _announce(self, row: WorkItemRow, index: int, notified: tuple[int, ...]) -> Escalation:
        data = self.item_data(row)
        tier = self.settings.escalation[index - 1].to
        # A top-level queue narrows the message to the team leaders who follow it.
        self.publish(
            {
                "type": "work_escalated",
                "queue": row.queue,
                "item": data,
                "tier": tier,
                "notified": list(notified),
            }
        )
        for user_id in notified:
            self.tell(
                user_id, {"type": "work_item", "event": "escalated", "tier": tier, "item": data}
            )
        log.info("work item %s escalated to %s (%s)", row.ticket, tier, list(notified))
        return Escalation(data, tier, notified)

    def _notified(self, tier: str, row: WorkItemRow) -> tuple[int, ...]:
        if tier == "owner":
            return (row.owner_id,) if row.owner_id is not None else self._leaders(row)
        if tier == "team-leader":
            return self._leaders(row)
        role = self.settings.manager_role
        return tuple(u.id for u in self.workforce.active_users() if u.role == role)

    def _leaders(self, row: WorkItemRow) -> tuple[int, ...]:
        team = self.teams().get(row.team_id) if row.team_id is not None else None
        return tuple(sorted(team.leaders)) if team is not None else ()

    def _tell_item(self, user_id: int, what: str, row: WorkItemRow) -> None:
        self.tell(user_id, {"type": "work_item", "event": what, "item": self.item_data(row)})


def sorted_for_work(rows: Sequence[WorkItemRow], now: datetime) -> list[WorkItemRow]:
    """Overdue first, then by deadline (waiting items, with no deadline, last)."""

    def key(row: WorkItemRow) -> tuple[int, float]:
        if row.due_at is None:
            return (2, 0.0)
        return (0 if row.due_at < now else 1, row.due_at.timestamp())

    return sorted(rows, key=key)
