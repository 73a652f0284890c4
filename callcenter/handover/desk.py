"""The handover room's use cases: the draft, submitting, deciding item by item, the lists, the
end-of-shift pool and the ownerless check (docs/handover.md).

Ownership of a work item moves only through the work room's ``WorkLedger``, at the moment the
successor accepts (or a supervisor reassigns), in one transaction with the handover item's own
claim: two accepts of one item at once, one wins; an item that changed owner meanwhile stores
nothing. Every change of a handover's own tables is a conditional UPDATE on the state it read.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, cast, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql.expression import ColumnElement, Update

from callcenter.auth.identity import User
from callcenter.auth.models import UserRow
from callcenter.auth.permissions import P
from callcenter.clock import Clock, utc_now
from callcenter.customers.models import CustomerRow
from callcenter.handover import rules
from callcenter.handover.models import (
    LIVE_STATES,
    HandoverItemRow,
    HandoverMessageRow,
    HandoverRow,
    OwnerlessRow,
)
from callcenter.handover.ports import (
    DayFigures,
    HandoverPeople,
    LedgerActor,
    LedgerItem,
    OwnedItem,
    RotaView,
    ShiftSpan,
    WorkLedger,
)
from callcenter.handover.problems import (
    ALREADY_DECIDED,
    DUPLICATE_ITEM,
    HANDOVER_CLOSED,
    ITEM_IN_HANDOVER,
    ITEM_MOVED,
    ITEM_NOT_YOURS,
    NO_SUCH_HANDOVER,
    NO_SUCH_HANDOVER_ITEM,
    NO_SUCH_USER,
    NO_TEAM,
    NOT_THE_GIVER,
    NOT_THE_SUCCESSOR,
    NOTHING_TO_HAND_OVER,
    OUTSIDE_YOUR_TEAMS,
    REASON_REQUIRED,
    SELF_HANDOVER,
    SUCCESSOR_REQUIRED,
    USER_DISABLED,
)
from callcenter.records.models import CallRecord
from callcenter.settings import HandoverSettings
from callcenter.work.models import WorkItemRow

log = logging.getLogger(__name__)

SYSTEM = LedgerActor(None, "system")


@dataclass(frozen=True, slots=True)
class Summary:
    work_done: str = ""
    results: str = ""
    problems: str = ""

    def empty(self) -> bool:
        return not (self.work_done.strip() or self.results.strip() or self.problems.strip())


@dataclass(frozen=True, slots=True)
class Submission:
    kind: str  # end_of_shift, permanent
    reason: str | None
    successor_id: int | None
    items: Sequence[tuple[int, str]]  # (item id, the giver's note)
    summary: Summary


def name_of(user: User) -> str:
    return user.display_name or user.username


def actor_of(user: User) -> LedgerActor:
    return LedgerActor(user.id, name_of(user))


def span_data(span: ShiftSpan | None) -> dict[str, Any] | None:
    if span is None:
        return None
    return {"shift": span.shift, "label": span.label, "start": span.start, "end": span.end}


def ledger_data(item: LedgerItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "ticket": item.ticket,
        "title": item.title,
        "kind": item.kind,
        "status": item.status,
        "priority": item.priority,
        "due_at": item.due_at,
        "last_note": item.last_note,
        "customer_id": item.customer_id,
        "customer_name": item.customer_name,
        "phone": item.phone,
        "owner_id": item.owner_id,
        "team_id": item.team_id,
        "promised": item.promised,
        "callback_at": item.callback_at,
    }


class HandoverDesk:
    def __init__(
        self,
        engine: AsyncEngine,
        settings: HandoverSettings,
        *,
        rota: RotaView,
        ledger: WorkLedger,
        people: HandoverPeople,
        zone: ZoneInfo,
        clock: Clock = utc_now,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.rota = rota
        self.ledger = ledger
        self.people = people
        self.zone = zone
        self.clock = clock
        self.figures: DayFigures | None = None

    # --- who ----------------------------------------------------------------------------------

    def team_ids_of(self, user_id: int) -> list[int]:
        return [team.id for team in self.people.teams() if team.has(user_id)]

    def leaders_of(self, team_ids: Iterable[int]) -> set[int]:
        wanted = set(team_ids)
        leaders = {u for t in self.people.teams() if t.id in wanted for u in t.leaders}
        if not leaders:
            # A team without a leader: the floor's supervisors hear of it.
            leaders = {u.id for u in self.people.active_users() if u.role == "supervisor"}
        return leaders

    def supervises(self, user: User, handover: HandoverRow) -> bool:
        if not user.may(P.WORK_SUPERVISE):
            return False
        scope = self.people.scope_of(user)
        return scope.everything or (
            (handover.team_id is not None and scope.has_team(handover.team_id))
            or scope.has_user(handover.giver_id)
        )

    def takes(self, user: User, handover: HandoverRow) -> bool:
        """Whether the user decides on the document's items: its successor, or for a handover
        to the team pool any member of the team but the giver."""
        if handover.successor_id is not None:
            return handover.successor_id == user.id
        if user.id == handover.giver_id or handover.team_id is None:
            return False
        team = next((t for t in self.people.teams() if t.id == handover.team_id), None)
        return team is not None and team.has(user.id)

    def may_read(self, user: User, handover: HandoverRow) -> bool:
        return (
            user.id == handover.giver_id
            or self.takes(user, handover)
            or self.supervises(user, handover)
        )

    async def check_user(self, giver_id: int, user_id: int) -> None:
        """A successor (or a supervisor's choice): an account, not the giver, not disabled."""
        async with AsyncSession(self.engine) as session:
            row = await session.get(UserRow, user_id)
        active = self.people.active_user(user_id) is not None
        problem = rules.successor_problem(
            giver_id, user_id, row is not None, row is not None and (row.disabled or not active)
        )
        if problem == "self":
            raise SELF_HANDOVER("the successor is the giver", user_id=user_id)
        if problem == "no-such-user":
            raise NO_SUCH_USER(f"there is no user {user_id}", user_id=user_id)
        if problem == "disabled":
            raise USER_DISABLED(f"user {user_id} is disabled", user_id=user_id)

    async def names(self, ids: Iterable[int | None]) -> dict[int, str]:
        wanted = {i for i in ids if i is not None}
        if not wanted:
            return {}
        async with AsyncSession(self.engine) as session:
            rows = (
                await session.execute(
                    select(UserRow.id, UserRow.display_name, UserRow.username).where(
                        UserRow.id.in_(wanted)
                    )
                )
            ).all()
        return {i: (display or username) for i, display, username in rows}

    def tell(self, user_ids: Iterable[int], message: Mapping[str, Any]) -> None:
        for user_id in sorted(set(user_ids)):
            self.people.tell(user_id, message)

    # --- the draft --------------------------------------------------------------------------

    async def pending_item_ids(self, item_ids: Collection[int] | None = None) -> dict[int, int]:
        """Items waiting in a handover now: item id → handover id."""
        query = select(HandoverItemRow.item_id, HandoverItemRow.handover_id).where(
            HandoverItemRow.state.in_(LIVE_STATES)
        )
        if item_ids is not None:
            if not item_ids:
                return {}
            query = query.where(HandoverItemRow.item_id.in_(list(item_ids)))
        async with AsyncSession(self.engine) as session:
            return {i: h for i, h in (await session.execute(query)).all()}

    async def draft(self, user: User) -> dict[str, Any]:
        now = self.clock()
        items = rules.promised_first(await self.ledger.open_of_owner(user.id))
        pending = await self.pending_item_ids([i.id for i in items])
        current = self.rota.current(user.id, now)
        successors = list(self.rota.successors(user.id, now))
        names = await self.names(successors)
        needs: dict[int, dict[str, Any]] = {}
        for item in items:
            if item.customer_id is None:
                continue
            need = needs.setdefault(
                item.customer_id,
                {
                    "customer_id": item.customer_id,
                    "name": item.customer_name,
                    "phone": item.phone,
                    "tickets": [],
                },
            )
            need["tickets"].append(item.ticket)
        figures = await self.figures.day_figures(user.id, now) if self.figures else None
        return {
            "now": now,
            "giver": {"id": user.id, "name": name_of(user)},
            "shift": span_data(current or self.rota.last_ended(user.id, now)),
            "on_shift": current is not None,
            "next_shift": span_data(self.rota.next_shift(user.id, now)),
            "successors": [
                {"id": i, "name": names.get(i, f"#{i}")}
                for i in successors
                if self.people.active_user(i) is not None
            ],
            "items": [ledger_data(i) | {"in_handover": pending.get(i.id)} for i in items],
            "callbacks": [
                {"id": i.id, "ticket": i.ticket, "title": i.title, "callback_at": i.callback_at}
                for i in sorted(
                    (i for i in items if i.callback_at is not None),
                    key=lambda i: i.callback_at or now,
                )
            ],
            "customers": list(needs.values()),
            "key_contacts": await self.key_contacts(user, now, set(needs)),
            "figures": figures,
            "to_pool": rules.to_pool_at_end_of_shift(items, pending),
        }

    async def key_contacts(
        self, user: User, now: datetime, open_needs: set[int]
    ) -> list[dict[str, Any]]:
        """The customers the agent talked with most lately, then VIP customers with open needs
        and the customers tagged as the agent's own ("dedicated")."""
        since = now - timedelta(days=self.settings.contact_days)
        limit = self.settings.contact_limit
        tag = f'"{self.settings.dedicated_tag_prefix}{user.username}"'
        async with AsyncSession(self.engine) as session:
            talked = (
                await session.execute(
                    select(CallRecord.customer_id, func.count())
                    .where(
                        CallRecord.answered_by_user == user.id,
                        CallRecord.answered_at >= since,
                        CallRecord.customer_id.is_not(None),
                    )
                    .group_by(CallRecord.customer_id)
                    .order_by(func.count().desc(), CallRecord.customer_id)
                    .limit(limit)
                )
            ).all()
            calls = {cid: int(n) for cid, n in talked if cid is not None}
            wanted = set(calls) | open_needs
            conditions: list[ColumnElement[bool]] = [CustomerRow.id.in_(wanted)] if wanted else []
            if self.settings.dedicated_tag_prefix:
                # JSON as text on both databases: the tag with its quotes is matched whole.
                conditions.append(cast(CustomerRow.tags, String).contains(tag, autoescape=True))
            rows = (
                (
                    await session.scalars(select(CustomerRow).where(or_(*conditions)).limit(500))
                ).all()
                if conditions
                else []
            )
        found: list[dict[str, Any]] = []
        for row in rows:
            dedicated = tag.strip('"') in (row.tags or [])
            if not (row.id in calls or dedicated or row.vip_level > 0):
                continue
            found.append(
                {
                    "customer_id": row.id,
                    "name": row.name,
                    "phone": row.phones[0] if row.phones else None,
                    "vip_level": row.vip_level,
                    "dedicated": dedicated,
                    "calls": calls.get(row.id, 0),
                }
            )
        found.sort(key=lambda c: (-c["calls"], -c["vip_level"], c["customer_id"]))
        return found

    # --- submitting ---------------------------------------------------------------------------

    async def _checked(self, user: User, spec: Submission) -> dict[int, LedgerItem]:
        """Every refusal of a submission, before anything is stored; the giver's open items."""
        if spec.kind == "permanent":
            if spec.successor_id is None:
                raise SUCCESSOR_REQUIRED("name the successor of a permanent handover")
            if spec.reason is None:
                raise REASON_REQUIRED("say why: leaving, job_change or absence")
        if spec.successor_id is not None:
            await self.check_user(user.id, spec.successor_id)
        if not spec.items and spec.summary.empty():
            raise NOTHING_TO_HAND_OVER("list an item or write a summary")
        ids = [item_id for item_id, _ in spec.items]
        if len(set(ids)) != len(ids):
            raise DUPLICATE_ITEM("an item is listed twice")
        mine = {i.id: i for i in await self.ledger.open_of_owner(user.id)}
        for item_id in ids:
            if item_id not in mine:
                raise ITEM_NOT_YOURS(
                    f"item {item_id} is not an open item of yours", item_id=item_id
                )
        taken = await self.pending_item_ids(ids)
        if taken:
            first = next(iter(taken))
            raise ITEM_IN_HANDOVER(
                f"item {first} already waits in handover {taken[first]}",
                item_id=first,
                handover_id=taken[first],
            )
        return mine

    async def submit(self, user: User, spec: Submission) -> int:
        now = self.clock()
        mine = await self._checked(user, spec)
        ids = [item_id for item_id, _ in spec.items]
        teams = self.team_ids_of(user.id)
        team_id = teams[0] if teams else None
        if spec.successor_id is None and team_id is None:
            raise NO_TEAM("you are in no team: name a successor")
        current = self.rota.current(user.id, now) or self.rota.last_ended(user.id, now)
        row = HandoverRow(
            kind=spec.kind,
            reason=spec.reason if spec.kind == "permanent" else None,
            giver_id=user.id,
            successor_id=spec.successor_id,
            team_id=team_id,
            state="submitted",
            work_done=spec.summary.work_done,
            results=spec.summary.results,
            problems=spec.summary.problems,
            shift=current.label[:80] if current is not None else None,
            created_at=now,
            submitted_at=now,
            version=1,
        )
        try:
            async with (
                AsyncSession(self.engine, expire_on_commit=False) as session,
                session.begin(),
            ):
                session.add(row)
                await session.flush()
                session.add_all(
                    HandoverItemRow(
                        handover_id=row.id,
                        item_id=item_id,
                        ticket=mine[item_id].ticket,
                        title=mine[item_id].title,
                        promised=mine[item_id].promised,
                        note=note,
                        state="pending",
                        version=1,
                    )
                    for item_id, note in spec.items
                )
        except IntegrityError:
            # Another handover listed one of these items a moment ago.
            raise ITEM_IN_HANDOVER("an item already waits in another handover") from None
        log.info(
            "handover %s (%s) by %s to %s: %d items",
            row.id,
            spec.kind,
            user.id,
            spec.successor_id if spec.successor_id is not None else f"team {team_id}",
            len(ids),
        )
        message = {"type": "handover", "event": "submitted", "handover_id": row.id}
        if spec.successor_id is not None:
            self.tell([spec.successor_id], message)
        else:
            team = next(t for t in self.people.teams() if t.id == team_id)
            self.tell((team.members | team.leaders) - {user.id}, message)
        if spec.kind == "permanent":
            self.tell(self.leaders_of(teams) - {user.id}, message | {"kind": "permanent"})
        if not ids:
            await self._maybe_done(row.id)
        return row.id

    async def end_of_shift_pool(self, user: User) -> list[int]:
        """The giver's items without a promise and not in a handover, back to the pool."""
        now = self.clock()
        items = await self.ledger.open_of_owner(user.id)
        pending = await self.pending_item_ids([i.id for i in items])
        ids = rules.to_pool_at_end_of_shift(items, pending)
        if not ids:
            return []
        moved = await self.ledger.return_to_pool(
            ids, user.id, actor_of(user), "end of shift: back to the team pool", at=now
        )
        return list(moved)

    # --- reading ------------------------------------------------------------------------------

    async def load(self, handover_id: int) -> HandoverRow:
        async with AsyncSession(self.engine) as session:
            row = await session.get(HandoverRow, handover_id)
        if row is None:
            raise NO_SUCH_HANDOVER(f"there is no handover {handover_id}", id=handover_id)
        return row

    async def readable(self, user: User, handover_id: int) -> HandoverRow:
        row = await self.load(handover_id)
        if not self.may_read(user, row):
            raise OUTSIDE_YOUR_TEAMS(f"handover {handover_id} is not yours to read")
        return row

    async def described(self, rows: Sequence[HandoverRow]) -> list[dict[str, Any]]:
        if not rows:
            return []
        ids = [r.id for r in rows]
        async with AsyncSession(self.engine) as session:
            items = (
                await session.scalars(
                    select(HandoverItemRow)
                    .where(HandoverItemRow.handover_id.in_(ids))
                    .order_by(HandoverItemRow.id)
                )
            ).all()
            messages = (
                await session.scalars(
                    select(HandoverMessageRow)
                    .where(HandoverMessageRow.handover_item_id.in_([i.id for i in items]))
                    .order_by(HandoverMessageRow.at, HandoverMessageRow.id)
                )
                if items
                else None
            )
            thread: dict[int, list[HandoverMessageRow]] = {}
            for m in messages.all() if messages is not None else []:
                thread.setdefault(m.handover_item_id, []).append(m)
        now_of = {i.id: i for i in await self.ledger.items_of({i.item_id for i in items})}
        names = await self.names(
            [r.giver_id for r in rows]
            + [r.successor_id for r in rows]
            + [i.decided_by for i in items]
            + [i.to_user for i in items]
            + [i.owner_id for i in now_of.values()]
        )
        teams = {t.id: t for t in self.people.teams()}
        found = []
        for r in rows:
            team = teams.get(r.team_id) if r.team_id is not None else None
            mine = [i for i in items if i.handover_id == r.id]
            found.append(
                {
                    "id": r.id,
                    "kind": r.kind,
                    "reason": r.reason,
                    "giver_id": r.giver_id,
                    "giver_name": names.get(r.giver_id, f"#{r.giver_id}"),
                    "successor_id": r.successor_id,
                    "successor_name": names.get(r.successor_id) if r.successor_id else None,
                    "team_id": r.team_id,
                    "team_name": team.name if team is not None else None,
                    "state": r.state,
                    "summary": {
                        "work_done": r.work_done,
                        "results": r.results,
                        "problems": r.problems,
                    },
                    "shift": r.shift,
                    "created_at": r.created_at,
                    "submitted_at": r.submitted_at,
                    "done_at": r.done_at,
                    "version": r.version,
                    "items": [self._item_data(i, now_of, names, thread) for i in mine],
                }
            )
        return found

    def _item_data(
        self,
        item: HandoverItemRow,
        now_of: Mapping[int, LedgerItem],
        names: Mapping[int, str],
        thread: Mapping[int, list[HandoverMessageRow]],
    ) -> dict[str, Any]:
        current = now_of.get(item.item_id)
        return {
            "item_id": item.item_id,
            "ticket": item.ticket,
            "title": item.title,
            "promised": item.promised,
            "note": item.note,
            "state": item.state,
            "decided_at": item.decided_at,
            "decided_by": item.decided_by,
            "decided_by_name": names.get(item.decided_by) if item.decided_by else None,
            "reason": item.reason,
            "to_user": item.to_user,
            "to_user_name": names.get(item.to_user) if item.to_user else None,
            "version": item.version,
            "now": None
            if current is None
            else ledger_data(current)
            | {"owner_name": names.get(current.owner_id) if current.owner_id else None},
            "messages": [
                {
                    "kind": m.kind,
                    "author_id": m.author_id,
                    "author": m.author_name,
                    "at": m.at,
                    "text": m.text,
                }
                for m in thread.get(item.id, [])
            ],
        }

    async def one(self, user: User, handover_id: int) -> dict[str, Any]:
        row = await self.readable(user, handover_id)
        return (await self.described([row]))[0]

    async def mine(self, user: User) -> dict[str, Any]:
        """The handovers I gave that still wait or were decided today, and those to me."""
        start, _ = self.day_span(self.clock().astimezone(self.zone).date())
        my_teams = self.team_ids_of(user.id)
        recent = or_(HandoverRow.state == "submitted", HandoverRow.submitted_at >= start)
        async with AsyncSession(self.engine) as session:
            given = (
                await session.scalars(
                    select(HandoverRow)
                    .where(HandoverRow.giver_id == user.id, recent)
                    .order_by(HandoverRow.submitted_at.desc(), HandoverRow.id.desc())
                    .limit(50)
                )
            ).all()
            to_me = (
                await session.scalars(
                    select(HandoverRow)
                    .where(
                        or_(
                            HandoverRow.successor_id == user.id,
                            and_(
                                HandoverRow.successor_id.is_(None),
                                HandoverRow.team_id.in_(my_teams or [-1]),
                                HandoverRow.giver_id != user.id,
                            ),
                        ),
                        recent,
                        HandoverRow.state != "withdrawn",
                    )
                    .order_by(HandoverRow.submitted_at, HandoverRow.id)
                    .limit(50)
                )
            ).all()
        return {
            "now": self.clock(),
            "given": await self.described(given),
            "to_me": await self.described(to_me),
        }

    def day_span(self, day: date) -> tuple[datetime, datetime]:
        start = datetime.combine(day, time(0), tzinfo=self.zone)
        return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone)

    async def for_supervisor(self, user: User, state: str | None, day: date) -> dict[str, Any]:
        """The day's handovers in the supervisor's scope: waiting ones whatever day they were
        submitted, done ones of that day."""
        start, end = self.day_span(day)
        scope = self.people.scope_of(user)
        query = select(HandoverRow).where(
            or_(
                and_(HandoverRow.state == "submitted", HandoverRow.submitted_at < end),
                and_(HandoverRow.submitted_at >= start, HandoverRow.submitted_at < end),
                and_(HandoverRow.done_at >= start, HandoverRow.done_at < end),
            )
        )
        if state == "pending":
            query = query.where(HandoverRow.state == "submitted")
        elif state == "done":
            query = query.where(HandoverRow.state == "done")
        if not scope.everything:
            query = query.where(
                or_(
                    HandoverRow.team_id.in_(list(scope.team_ids) or [-1]),
                    HandoverRow.giver_id.in_(list(scope.user_ids) or [-1]),
                )
            )
        async with AsyncSession(self.engine) as session:
            rows = (
                await session.scalars(
                    query.order_by(HandoverRow.submitted_at, HandoverRow.id).limit(500)
                )
            ).all()
        return {
            "day": day.isoformat(),
            "now": self.clock(),
            "handovers": await self.described(rows),
        }

    # --- deciding item by item ----------------------------------------------------------------

    async def _item(self, handover_id: int, item_id: int) -> tuple[HandoverRow, HandoverItemRow]:
        handover = await self.load(handover_id)
        async with AsyncSession(self.engine) as session:
            item = await session.scalar(
                select(HandoverItemRow).where(
                    HandoverItemRow.handover_id == handover_id,
                    HandoverItemRow.item_id == item_id,
                )
            )
        if item is None:
            raise NO_SUCH_HANDOVER_ITEM(
                f"handover {handover_id} has no item {item_id}", item_id=item_id
            )
        if handover.state != "submitted":
            raise HANDOVER_CLOSED(
                f"handover {handover_id} is {handover.state}", state=handover.state
            )
        return handover, item

    def _refuse_move(self, move: str, item: HandoverItemRow) -> None:
        if not rules.may(move, item.state):
            raise ALREADY_DECIDED(
                f"item {item.ticket} is {item.state}: it cannot be {move}ed now",
                state=item.state,
            )

    @staticmethod
    def _claim(item: HandoverItemRow, **values: Any) -> Update:
        """The handover item's change, only if nobody changed it since it was read."""
        return (
            update(HandoverItemRow)
            .where(
                HandoverItemRow.id == item.id,
                HandoverItemRow.version == item.version,
                HandoverItemRow.state == item.state,
            )
            .values(version=HandoverItemRow.version + 1, **values)
            .execution_options(synchronize_session=False)
        )

    async def accept(self, user: User, handover_id: int, item_id: int) -> None:
        handover, item = await self._item(handover_id, item_id)
        if not self.takes(user, handover):
            raise NOT_THE_SUCCESSOR(f"handover {handover_id} is not to you")
        self._refuse_move("accept", item)
        now = self.clock()
        outcome = await self.ledger.move_owner(
            item.item_id,
            handover.giver_id,
            user.id,
            actor_of(user),
            item.note,
            handover.id,
            at=now,
            guard=self._claim(
                item, state="accepted", decided_at=now, decided_by=user.id, to_user=user.id
            ),
        )
        if await self._after_move(outcome, handover, item, now):
            self.tell([handover.giver_id], self._told("accepted", handover, item))
        await self._maybe_done(handover.id)

    async def reassign(self, user: User, handover_id: int, item_id: int, to_user: int) -> None:
        handover, item = await self._item(handover_id, item_id)
        if not self.supervises(user, handover):
            raise OUTSIDE_YOUR_TEAMS(f"handover {handover_id} is not in your teams")
        self._refuse_move("reassign", item)
        await self.check_user(handover.giver_id, to_user)
        now = self.clock()
        outcome = await self.ledger.move_owner(
            item.item_id,
            handover.giver_id,
            to_user,
            actor_of(user),
            item.note,
            handover.id,
            at=now,
            guard=self._claim(
                item, state="reassigned", decided_at=now, decided_by=user.id, to_user=to_user
            ),
        )
        if await self._after_move(outcome, handover, item, now):
            message = self._told("reassigned", handover, item)
            self.tell({handover.giver_id, to_user} | self._takers(handover) - {user.id}, message)
        await self._maybe_done(handover.id)

    async def _after_move(
        self, outcome: str, handover: HandoverRow, item: HandoverItemRow, now: datetime
    ) -> bool:
        """Whether the item moved; a refusal when nothing was stored. An item closed
        meanwhile leaves the document (nothing to take any more): no refusal, not moved."""
        if outcome == "guard":
            raise ALREADY_DECIDED(f"item {item.ticket} was decided on meanwhile")
        if outcome == "item-moved":
            found = await self.ledger.items_of([item.item_id])
            current = found[0] if found else None
            if current is not None and current.status in ("resolved", "closed"):
                await self._withdraw_items([item], f"{current.status} meanwhile", now)
                return False
            raise ITEM_MOVED(
                f"item {item.ticket} is no longer {handover.giver_id}'s: nothing was changed",
                item_id=item.item_id,
                owner_id=current.owner_id if current is not None else None,
            )
        return True

    async def ask(self, user: User, handover_id: int, item_id: int, text: str) -> None:
        handover, item = await self._item(handover_id, item_id)
        if not self.takes(user, handover):
            raise NOT_THE_SUCCESSOR(f"handover {handover_id} is not to you")
        self._refuse_move("ask", item)
        await self._say(item, user, "question", text, state="asked")
        self.tell([handover.giver_id], self._told("asked", handover, item) | {"text": text})

    async def answer(self, user: User, handover_id: int, item_id: int, text: str) -> None:
        handover, item = await self._item(handover_id, item_id)
        if user.id != handover.giver_id:
            raise NOT_THE_GIVER(f"only the giver of handover {handover_id} answers")
        self._refuse_move("answer", item)
        await self._say(item, user, "answer", text, state="pending")
        self.tell(self._takers(handover), self._told("answered", handover, item) | {"text": text})

    async def refuse(self, user: User, handover_id: int, item_id: int, reason: str) -> None:
        handover, item = await self._item(handover_id, item_id)
        if not self.takes(user, handover):
            raise NOT_THE_SUCCESSOR(f"handover {handover_id} is not to you")
        self._refuse_move("refuse", item)
        now = self.clock()
        await self._say(
            item,
            user,
            "refusal",
            reason,
            state="refused",
            reason=reason,
            decided_at=now,
            decided_by=user.id,
        )
        leaders = self.leaders_of([handover.team_id] if handover.team_id is not None else [])
        self.tell(
            leaders | {handover.giver_id}, self._told("refused", handover, item) | {"text": reason}
        )

    async def _say(
        self, item: HandoverItemRow, user: User, kind: str, text: str, **values: Any
    ) -> None:
        now = self.clock()
        async with AsyncSession(self.engine) as session, session.begin():
            done = await session.execute(self._claim(item, **values))
            if getattr(done, "rowcount", 0) != 1:
                await session.rollback()
                raise ALREADY_DECIDED(f"item {item.ticket} changed meanwhile: read it again")
            session.add(
                HandoverMessageRow(
                    handover_item_id=item.id,
                    kind=kind,
                    author_id=user.id,
                    author_name=name_of(user)[:120],
                    at=now,
                    text=text,
                )
            )

    def _takers(self, handover: HandoverRow) -> set[int]:
        if handover.successor_id is not None:
            return {handover.successor_id}
        team = next((t for t in self.people.teams() if t.id == handover.team_id), None)
        return set() if team is None else set(team.members | team.leaders) - {handover.giver_id}

    @staticmethod
    def _told(what: str, handover: HandoverRow, item: HandoverItemRow) -> dict[str, Any]:
        return {
            "type": "handover",
            "event": what,
            "handover_id": handover.id,
            "item_id": item.item_id,
            "ticket": item.ticket,
        }

    async def withdraw(self, user: User, handover_id: int) -> None:
        handover = await self.load(handover_id)
        if user.id != handover.giver_id:
            raise NOT_THE_GIVER(f"only the giver withdraws handover {handover_id}")
        now = self.clock()
        async with AsyncSession(self.engine) as session, session.begin():
            done = await session.execute(
                update(HandoverRow)
                .where(HandoverRow.id == handover.id, HandoverRow.state == "submitted")
                .values(state="withdrawn", done_at=now, version=HandoverRow.version + 1)
                .execution_options(synchronize_session=False)
            )
            if getattr(done, "rowcount", 0) != 1:
                await session.rollback()
                raise HANDOVER_CLOSED(f"handover {handover_id} is {handover.state}")
            await session.execute(
                update(HandoverItemRow)
                .where(
                    HandoverItemRow.handover_id == handover.id,
                    HandoverItemRow.state.in_(LIVE_STATES),
                )
                .values(
                    state="withdrawn",
                    reason="withdrawn by the giver",
                    decided_at=now,
                    decided_by=user.id,
                    version=HandoverItemRow.version + 1,
                )
                .execution_options(synchronize_session=False)
            )
        self.tell(
            self._takers(handover),
            {"type": "handover", "event": "withdrawn", "handover_id": handover.id},
        )

    async def _withdraw_items(
        self, items: Sequence[HandoverItemRow], why: str, now: datetime
    ) -> None:
        async with AsyncSession(self.engine) as session, session.begin():
            for item in items:
                await session.execute(
                    self._claim(item, state="withdrawn", reason=why, decided_at=now)
                )

    async def _maybe_done(self, handover_id: int) -> None:
        """The document is done once no item waits; the giver is told (once: conditional)."""
        now = self.clock()
        async with AsyncSession(self.engine) as session, session.begin():
            states = (
                await session.scalars(
                    select(HandoverItemRow.state).where(HandoverItemRow.handover_id == handover_id)
                )
            ).all()
            if not rules.is_done(states):
                return
            done = await session.execute(
                update(HandoverRow)
                .where(HandoverRow.id == handover_id, HandoverRow.state == "submitted")
                .values(state="done", done_at=now, version=HandoverRow.version + 1)
                .execution_options(synchronize_session=False)
            )
            giver = await session.scalar(
                select(HandoverRow.giver_id).where(HandoverRow.id == handover_id)
            )
        if getattr(done, "rowcount", 0) == 1 and giver is not None:
            log.info("handover %s done", handover_id)
            self.tell([giver], {"type": "handover", "event": "done", "handover_id": handover_id})

    # --- the ownerless check ------------------------------------------------------------------

    async def check(self) -> None:
        """Items waiting in a handover that closed or moved meanwhile leave it; open items of
        owners off shift (or disabled) with nothing pending are followed: listed, the team's
        leaders told once, back in the pool after the grace time. Every step is a conditional
        update, so replicas running the check at once do each thing once."""
        now = self.clock()
        await self._drop_stale(now)
        wanted, whys = await self._ownerless_now(now)
        await self._follow(wanted, whys, now)
        grace = timedelta(minutes=self.settings.grace_minutes)
        to_tell: dict[int | None, list[dict[str, Any]]] = {}
        for row in await self._followed():
            item = wanted.get(row.item_id)
            if item is None:
                continue
            if row.told_at is None and await self._set_ownerless(row, told_at=now):
                to_tell.setdefault(row.team_id, []).append(
                    {
                        "item_id": item.id,
                        "ticket": item.ticket,
                        "title": item.title,
                        "owner_id": item.owner_id,
                        "why": row.why,
                    }
                )
            if rules.pool_due(row.first_seen_at, grace, now) and await self._set_ownerless(
                row, returned_at=now
            ):
                await self.ledger.return_to_pool(
                    [row.item_id],
                    row.owner_id,
                    SYSTEM,
                    "nobody owns it: its owner is off shift with nothing handed over"
                    if row.why == "off-shift"
                    else "nobody owns it: its owner's account is disabled",
                    at=now,
                )
        for team_id, listed in to_tell.items():
            self.tell(
                self.leaders_of([team_id] if team_id is not None else []),
                {"type": "handover", "event": "ownerless", "items": listed},
            )

    async def _ownerless_now(
        self, now: datetime
    ) -> tuple[dict[int, OwnedItem], dict[int, str | None]]:
        """Open items whose owner is off shift or disabled, with nothing pending; and why."""
        owned = await self.ledger.owned_open()
        pending = set(await self.pending_item_ids())
        whys: dict[int, str | None] = {}
        for item in owned:
            if item.owner_id not in whys:
                active = self.people.active_user(item.owner_id) is not None
                whys[item.owner_id] = rules.ownerless_why(active, self.rota, item.owner_id, now)
        wanted = {item.id: item for item in owned if whys[item.owner_id] and item.id not in pending}
        return wanted, whys

    async def _followed(self) -> Sequence[OwnerlessRow]:
        async with AsyncSession(self.engine) as session:
            return (
                await session.scalars(
                    select(OwnerlessRow).where(
                        OwnerlessRow.returned_at.is_(None), OwnerlessRow.cleared_at.is_(None)
                    )
                )
            ).all()

    async def _follow(
        self, wanted: Mapping[int, OwnedItem], whys: Mapping[int, str | None], now: datetime
    ) -> None:
        """Stop following what is no longer ownerless; start following what newly is."""
        known: set[int] = set()
        for row in await self._followed():
            item = wanted.get(row.item_id)
            if item is None or item.owner_id != row.owner_id:
                await self._set_ownerless(row, cleared_at=now)
            else:
                known.add(row.item_id)
        for item_id, item in wanted.items():
            if item_id in known:
                continue
            try:
                async with AsyncSession(self.engine) as session, session.begin():
                    session.add(
                        OwnerlessRow(
                            item_id=item_id,
                            owner_id=item.owner_id,
                            team_id=item.team_id,
                            why=whys.get(item.owner_id) or "off-shift",
                            first_seen_at=now,
                        )
                    )
            except IntegrityError:
                continue  # another replica followed it a moment ago

    async def _set_ownerless(self, row: OwnerlessRow, **values: Any) -> bool:
        column = next(iter(values))
        async with AsyncSession(self.engine) as session, session.begin():
            done = await session.execute(
                update(OwnerlessRow)
                .where(OwnerlessRow.id == row.id, getattr(OwnerlessRow, column).is_(None))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        return getattr(done, "rowcount", 0) == 1

    async def _drop_stale(self, now: datetime) -> None:
        async with AsyncSession(self.engine) as session:
            live = (
                await session.execute(
                    select(HandoverItemRow, HandoverRow.giver_id)
                    .join(HandoverRow, HandoverRow.id == HandoverItemRow.handover_id)
                    .where(HandoverItemRow.state.in_(LIVE_STATES))
                )
            ).all()
        if not live:
            return
        current = {i.id: i for i in await self.ledger.items_of({h.item_id for h, _ in live})}
        stale: dict[int, list[tuple[HandoverItemRow, str]]] = {}
        for item, giver in live:
            now_item = current.get(item.item_id)
            if now_item is None or now_item.status in ("resolved", "closed"):
                why = f"{now_item.status if now_item else 'gone'} meanwhile"
            elif now_item.owner_id != giver:
                why = "moved to someone else meanwhile"
            else:
                continue
            stale.setdefault(item.handover_id, []).append((item, why))
        for handover_id, found in stale.items():
            async with AsyncSession(self.engine) as session, session.begin():
                for item, why in found:
                    await session.execute(
                        self._claim(item, state="withdrawn", reason=why, decided_at=now)
                    )
            await self._maybe_done(handover_id)

    async def ownerless(self, user: User) -> dict[str, Any]:
        scope = self.people.scope_of(user)
        async with AsyncSession(self.engine) as session:
            rows = (
                await session.execute(
                    select(OwnerlessRow, WorkItemRow.ticket, WorkItemRow.title)
                    .join(WorkItemRow, WorkItemRow.id == OwnerlessRow.item_id)
                    .where(OwnerlessRow.returned_at.is_(None), OwnerlessRow.cleared_at.is_(None))
                    .order_by(OwnerlessRow.first_seen_at, OwnerlessRow.id)
                )
            ).all()
        mine = [
            (row, ticket, title)
            for row, ticket, title in rows
            if scope.everything
            or (row.team_id is not None and scope.has_team(row.team_id))
            or scope.has_user(row.owner_id)
        ]
        names = await self.names(row.owner_id for row, _, _ in mine)
        grace = timedelta(minutes=self.settings.grace_minutes)
        return {
            "now": self.clock(),
            "items": [
                {
                    "item_id": row.item_id,
                    "ticket": ticket,
                    "title": title,
                    "owner_id": row.owner_id,
                    "owner_name": names.get(row.owner_id, f"#{row.owner_id}"),
                    "team_id": row.team_id,
                    "why": row.why,
                    "first_seen_at": row.first_seen_at,
                    "returns_at": row.first_seen_at + grace,
                }
                for row, ticket, title in mine
            ],
        }

    # --- the work-log room's HandoverTally ---------------------------------------------------

    async def tally(self, user_id: int, start: datetime, end: datetime) -> tuple[int, int]:
        async with AsyncSession(self.engine) as session:
            given = await session.scalar(
                select(func.count())
                .select_from(HandoverItemRow)
                .join(HandoverRow, HandoverRow.id == HandoverItemRow.handover_id)
                .where(
                    HandoverRow.giver_id == user_id,
                    HandoverRow.submitted_at >= start,
                    HandoverRow.submitted_at < end,
                )
            )
            taken = await session.scalar(
                select(func.count())
                .select_from(HandoverItemRow)
                .where(
                    HandoverItemRow.to_user == user_id,
                    HandoverItemRow.state.in_(("accepted", "reassigned")),
                    HandoverItemRow.decided_at >= start,
                    HandoverItemRow.decided_at < end,
                )
            )
        return int(given or 0), int(taken or 0)
