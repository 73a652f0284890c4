"""The handover room's use cases: the draft, submitting, deciding item by item, the lists, the
end-of-shift pool and the ownerless check (docs/handover.md).

Ownership of a work item moves only through the work room's ``WorkLedger``, at the moment the
successor accepts (or a supervisor reassigns), in one transaction with the handover item's own
claim: two accepts of one item at once, one wins; an item that changed owner meanwhile stores
nothing. Every change of a handover's own tables is a conditional UPDATE on the state it read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    String,
    and_,
    cast,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql.expression import ColumnElement, Update

from callcenter.auth.identity import User
from callcenter.auth.models import UserRow
from callcenter.auth.permissions import P, permissions_of
from callcenter.clock import Clock, local_day_bounds, utc_now
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
    ALREADY_SUBMITTED,
    DUPLICATE_ITEM,
    HANDOVER_CLOSED,
    ITEM_IN_HANDOVER,
    ITEM_MOVED,
    ITEM_NOT_YOURS,
    NO_SUCH_HANDOVER,
    NO_SUCH_HANDOVER_ITEM,
    NO_SUCH_USER,
    NO_TEAM,
    NOT_AN_AGENT,
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
from callcenter.store.base import BigId
from callcenter.store.types import UtcDateTime
from callcenter.work.models import WorkItemRow

log = logging.getLogger(__name__)

SYSTEM = LedgerActor(None, "system")

# The lines written on an item's timeline and a handover item's reasons: the work page shows
# them as stored, so they say it in both languages in one line.
POOL_AT_END_OF_SHIFT = "下班交接：退回班组池 · end of shift: back to the team pool"  # noqa: RUF001
NOBODY_OWNS_IT: dict[str, str] = {
    "off-shift": "无人负责：负责人已下班且未交接，退回班组池 · "  # noqa: RUF001
    "nobody owns it: its owner is off shift with nothing handed over",
    "disabled": "无人负责：负责人账号已停用，退回班组池 · "  # noqa: RUF001
    "nobody owns it: its owner's account is disabled",
    "successor-disabled": "无人负责：接班人账号已停用，无人接收，退回班组池 · "  # noqa: RUF001
    "nobody owns it: the handover's successor is disabled, nobody takes it",
    "giver-disabled": "无人负责：交班人账号已停用且交接久无人接收，退回班组池 · "  # noqa: RUF001
    "nobody owns it: its giver is disabled and nobody took the handover in time",
}
WITHDRAWN_BY_GIVER = "交班人已撤回 · withdrawn by the giver"
MEANWHILE: dict[str, str] = {
    "resolved": "期间已解决 · resolved meanwhile",
    "closed": "期间已关闭 · closed meanwhile",
    "gone": "工单已不存在 · gone meanwhile",
    "moved": "期间已转给他人 · moved to someone else meanwhile",
}
# A summary-only handover submitted again within this time is the same one (a double click).
RESUBMIT_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Found:
    """An open item nobody works now: why, since when (the grace runs from then), and the
    handover it is stuck in, if any."""

    item: OwnedItem
    why: str
    since: datetime
    handover_id: int | None = None


@dataclass(frozen=True, slots=True)
class Waiting:
    """A handover item still waiting, with what the check needs of its handover."""

    handover_id: int
    giver_id: int
    successor_id: int | None
    team_id: int | None
    submitted_at: datetime


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


def claim(item_id: int, version: int, was: str, **values: Any) -> Update:
    """A handover item's change (by its row id), only if nobody changed it since it was read
    at this version and in the state ``was``."""
    return (
        update(HandoverItemRow)
        .where(
            HandoverItemRow.id == item_id,
            HandoverItemRow.version == version,
            HandoverItemRow.state == was,
        )
        .values(version=HandoverItemRow.version + 1, **values)
        .execution_options(synchronize_session=False)
    )


def still_owned(item_id: int, owner_id: int) -> ColumnElement[bool]:
    """The work item is still open and still ``owner_id``'s (checked in the same statement as
    the change it guards: a replica never acts on what another one already moved)."""
    return exists().where(
        WorkItemRow.id == item_id, WorkItemRow.owner_id == owner_id, WorkItemRow.is_open.is_(True)
    )


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
        """A successor (or a supervisor's choice): an account, not the giver, not disabled,
        one that works items."""
        async with AsyncSession(self.engine) as session:
            row = await session.get(UserRow, user_id)
        active = self.people.active_user(user_id) is not None
        problem = rules.successor_problem(
            giver_id,
            user_id,
            row is not None,
            row is not None and (row.disabled or not active),
            row is not None and P.WORK_OWN in permissions_of(row.role),
        )
        if problem == "not-an-agent":
            raise NOT_AN_AGENT(f"user {user_id} does not work items", user_id=user_id)
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

    def agents(self, wanted: Callable[[int], bool] = lambda _: True) -> list[dict[str, Any]]:
        """Whom work may be given to (active accounts that work items), by name."""
        found = [
            {"id": u.id, "name": name_of(u)}
            for u in self.people.active_users()
            if u.may(P.WORK_OWN) and wanted(u.id)
        ]
        return sorted(found, key=lambda p: (str(p["name"]), p["id"]))

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
            "zone": self.zone.key,
            "giver": {"id": user.id, "name": name_of(user)},
            "shift": span_data(current or self.rota.last_ended(user.id, now)),
            "on_shift": current is not None,
            "next_shift": span_data(self.rota.next_shift(user.id, now)),
            "successors": [
                {"id": i, "name": names.get(i, f"#{i}")}
                for i in successors
                if (u := self.people.active_user(i)) is not None and u.may(P.WORK_OWN)
            ],
            "people": self.agents(lambda i: i != user.id),
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
        and the customers tagged as the agent's own ("dedicated").

        No scan of every customer: the calls are read through their answering agent's index,
        the customers by id; the dedicated ones, on PostgreSQL, by a JSONB containment query
        through the GIN index of migration 0020; on SQLite only among the customers already
        found (the agent's recent calls and open items)."""
        since = now - timedelta(days=self.settings.contact_days)
        limit = self.settings.contact_limit
        prefix = self.settings.dedicated_tag_prefix
        tag = f"{prefix}{user.username}"
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
            rows = {
                row.id: row
                for row in (
                    await session.scalars(select(CustomerRow).where(CustomerRow.id.in_(wanted)))
                ).all()
            }
            if prefix and self.engine.dialect.name == "postgresql":
                tagged = await session.scalars(
                    select(CustomerRow)
                    .where(cast(CustomerRow.tags, JSONB).contains([tag]))
                    .order_by(CustomerRow.id)
                    .limit(200)
                )
                rows.update((row.id, row) for row in tagged.all())
        found: list[dict[str, Any]] = []
        for row in rows.values():
            dedicated = bool(prefix) and tag in (row.tags or [])
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
                if not spec.items:
                    await self._refuse_twice(session, user, spec, now)
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

    async def _refuse_twice(
        self, session: AsyncSession, user: User, spec: Submission, now: datetime
    ) -> None:
        """A summary-only handover the giver submitted a moment ago, the same, is not stored
        twice (a double click, a resent request). The giver's row is locked first (PostgreSQL)
        so that two such requests at once are told apart here too."""
        await session.execute(select(UserRow.id).where(UserRow.id == user.id).with_for_update())
        earlier = await session.scalar(
            select(HandoverRow.id)
            .where(
                HandoverRow.giver_id == user.id,
                HandoverRow.submitted_at >= now - RESUBMIT_WINDOW,
                HandoverRow.state != "withdrawn",
                HandoverRow.kind == spec.kind,
                HandoverRow.successor_id.is_not_distinct_from(spec.successor_id),
                HandoverRow.work_done == spec.summary.work_done,
                HandoverRow.results == spec.summary.results,
                HandoverRow.problems == spec.summary.problems,
                ~exists().where(HandoverItemRow.handover_id == HandoverRow.id),
            )
            .limit(1)
        )
        if earlier is not None:
            raise ALREADY_SUBMITTED(
                f"the same summary was submitted as handover {earlier}", handover_id=earlier
            )

    async def end_of_shift_pool(self, user: User) -> list[int]:
        """The giver's items without a promise and not in a handover, back to the pool."""
        now = self.clock()
        items = await self.ledger.open_of_owner(user.id)
        pending = await self.pending_item_ids([i.id for i in items])
        ids = rules.to_pool_at_end_of_shift(items, pending)
        if not ids:
            return []
        moved = await self.ledger.return_to_pool(
            ids, user.id, actor_of(user), POOL_AT_END_OF_SHIFT, at=now
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
                    "team_label_zh": team.label_zh if team is not None else None,
                    "team_label_en": team.label_en if team is not None else None,
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
            "zone": self.zone.key,
            "given": await self.described(given),
            "to_me": await self.described(to_me),
        }

    def day_span(self, day: date) -> tuple[datetime, datetime]:
        return local_day_bounds(day, self.zone)

    async def for_supervisor(self, user: User, state: str | None, day: date) -> dict[str, Any]:
        """The day's handovers in the supervisor's scope: waiting ones whatever day they were
        submitted, done ones of that day; and whom the supervisor may give an item to.

        Three index range reads (waiting, submitted that day, done that day: one index each)
        merged here, not an OR over the whole history."""
        start, end = self.day_span(day)
        scope = self.people.scope_of(user)
        ranges: list[ColumnElement[bool]] = [
            and_(HandoverRow.state == "submitted", HandoverRow.submitted_at < end),
            and_(HandoverRow.submitted_at >= start, HandoverRow.submitted_at < end),
            and_(HandoverRow.done_at >= start, HandoverRow.done_at < end),
        ]
        narrow: list[ColumnElement[bool]] = []
        if state == "pending":
            narrow.append(HandoverRow.state == "submitted")
            ranges = ranges[:2]
        elif state == "done":
            narrow.append(HandoverRow.state == "done")
            ranges = ranges[1:]
        if not scope.everything:
            narrow.append(
                or_(
                    HandoverRow.team_id.in_(list(scope.team_ids) or [-1]),
                    HandoverRow.giver_id.in_(list(scope.user_ids) or [-1]),
                )
            )
        found: dict[int, HandoverRow] = {}
        async with AsyncSession(self.engine) as session:
            for span in ranges:
                query = select(HandoverRow).where(span, *narrow)
                for row in (
                    await session.scalars(
                        query.order_by(HandoverRow.submitted_at, HandoverRow.id).limit(500)
                    )
                ).all():
                    found[row.id] = row
        rows = sorted(found.values(), key=lambda r: (r.submitted_at, r.id))[:500]
        return {
            "day": day.isoformat(),
            "now": self.clock(),
            "zone": self.zone.key,
            "people": self.agents(scope.has_user),
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
        return claim(item.id, item.version, item.state, **values)

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
        if not self.people.scope_of(user).has_user(to_user):
            # A team leader gives work to the people of their own teams only.
            raise OUTSIDE_YOUR_TEAMS(f"user {to_user} is not in your teams", user_id=to_user)
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
                await self._withdraw_items([item], MEANWHILE[current.status], now)
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
        return self._takers_of(handover.successor_id, handover.team_id, handover.giver_id)

    def _takers_of(self, successor_id: int | None, team_id: int | None, giver_id: int) -> set[int]:
        """Who may take a handover's items: its successor, or the team's people but the
        giver."""
        if successor_id is not None:
            return {successor_id}
        team = next((t for t in self.people.teams() if t.id == team_id), None)
        return set() if team is None else set(team.members | team.leaders) - {giver_id}

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
                    reason=WITHDRAWN_BY_GIVER,
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
        """Items waiting in a handover that closed or moved meanwhile leave it, and a handover
        whose items are all decided is closed (a crash between the two steps). Open items
        nobody works are followed: of owners off shift (or disabled) with nothing pending,
        or waiting in a handover nobody will take; listed, the team's leaders told once, back
        in the pool once the grace time has passed since their owner went (the stuck ones
        withdrawn from their handover on the way). Every step is a conditional statement that
        checks in SQL that the item is still open and its owner's, so replicas running the
        check at once do each thing once."""
        now = self.clock()
        await self._drop_stale(now)
        await self._close_decided()
        wanted = await self._ownerless_now(now)
        await self._follow(wanted, now)
        grace = timedelta(minutes=self.settings.grace_minutes)
        to_tell: dict[int | None, list[dict[str, Any]]] = {}
        for row in await self._followed():
            found = wanted.get(row.item_id)
            if found is None:
                continue
            if row.told_at is None and await self._set_ownerless(row, told_at=now):
                to_tell.setdefault(row.team_id, []).append(
                    {
                        "item_id": found.item.id,
                        "ticket": found.item.ticket,
                        "title": found.item.title,
                        "owner_id": found.item.owner_id,
                        "why": row.why,
                    }
                )
            if rules.pool_due(row.since_at, grace, now):
                await self._pool(row, now)
        for team_id, listed in to_tell.items():
            self.tell(
                self.leaders_of([team_id] if team_id is not None else []),
                {"type": "handover", "event": "ownerless", "items": listed},
            )

    async def _pool(self, row: OwnerlessRow, now: datetime) -> None:
        """Back to the team pool: the followed row's "returned" and the move in one
        transaction (the ledger runs the row's conditional update as its guard); an item
        stuck in a handover is withdrawn from it first."""
        if row.handover_id is not None:
            async with AsyncSession(self.engine) as session, session.begin():
                await session.execute(
                    update(HandoverItemRow)
                    .where(
                        HandoverItemRow.handover_id == row.handover_id,
                        HandoverItemRow.item_id == row.item_id,
                        HandoverItemRow.state.in_(LIVE_STATES),
                        still_owned(row.item_id, row.owner_id),
                    )
                    .values(
                        state="withdrawn",
                        reason=NOBODY_OWNS_IT.get(row.why, row.why),
                        decided_at=now,
                        version=HandoverItemRow.version + 1,
                    )
                    .execution_options(synchronize_session=False)
                )
        await self.ledger.return_to_pool(
            [row.item_id],
            row.owner_id,
            SYSTEM,
            NOBODY_OWNS_IT.get(row.why, row.why),
            at=now,
            guard=self._ownerless_change(row, returned_at=now),
        )
        if row.handover_id is not None:
            await self._maybe_done(row.handover_id)

    async def _waiting(self) -> dict[int, Waiting]:
        """Items waiting in a handover now, with their handover: item id → what the check
        needs."""
        async with AsyncSession(self.engine) as session:
            rows = (
                await session.execute(
                    select(
                        HandoverItemRow.item_id,
                        HandoverRow.id,
                        HandoverRow.giver_id,
                        HandoverRow.successor_id,
                        HandoverRow.team_id,
                        HandoverRow.submitted_at,
                    )
                    .join(HandoverRow, HandoverRow.id == HandoverItemRow.handover_id)
                    .where(HandoverItemRow.state.in_(LIVE_STATES))
                )
            ).all()
        return {
            item: Waiting(h, giver, successor, team, at)
            for item, h, giver, successor, team, at in rows
        }

    def _is_active(self, user_id: int) -> bool:
        return self.people.active_user(user_id) is not None

    async def _ownerless_now(self, now: datetime) -> dict[int, Found]:
        """Open items nobody works now: of owners off shift or disabled with nothing pending,
        or stuck in a handover nobody will take; why and since when."""
        owned = await self.ledger.owned_open()
        waiting = await self._waiting()
        gap = timedelta(minutes=self.settings.shift_gap_minutes)
        grace = timedelta(minutes=self.settings.grace_minutes)
        whys: dict[int, tuple[rules.Why, datetime] | None] = {}
        found: dict[int, Found] = {}
        for item in owned:
            wait = waiting.get(item.id)
            if wait is None:
                if item.owner_id not in whys:
                    whys[item.owner_id] = rules.ownerless_why(
                        self._is_active(item.owner_id), self.rota, item.owner_id, now, gap
                    )
                why = whys[item.owner_id]
                if why is not None:
                    found[item.id] = Found(item, why[0], why[1])
                continue
            if wait.giver_id != item.owner_id:
                continue  # moved meanwhile: the next check takes it out of the handover
            takers = self._takers_of(wait.successor_id, wait.team_id, wait.giver_id)
            stuck = rules.stuck_why(
                None if wait.successor_id is None else self._is_active(wait.successor_id),
                sum(1 for u in takers if self._is_active(u)),
                self._is_active(wait.giver_id),
                wait.submitted_at,
                grace,
                now,
            )
            if stuck is not None:
                found[item.id] = Found(item, stuck, now, wait.handover_id)
        return found

    async def _followed(self) -> Sequence[OwnerlessRow]:
        async with AsyncSession(self.engine) as session:
            return (
                await session.scalars(
                    select(OwnerlessRow).where(
                        OwnerlessRow.returned_at.is_(None), OwnerlessRow.cleared_at.is_(None)
                    )
                )
            ).all()

    async def _follow(self, wanted: Mapping[int, Found], now: datetime) -> None:
        """Stop following what is no longer ownerless; start following what newly is."""
        known: set[int] = set()
        for row in await self._followed():
            found = wanted.get(row.item_id)
            if found is None or found.item.owner_id != row.owner_id:
                await self._set_ownerless(row, cleared_at=now)
            else:
                known.add(row.item_id)
        for item_id, found in wanted.items():
            if item_id in known:
                continue
            try:
                async with AsyncSession(self.engine) as session, session.begin():
                    await session.execute(self._start_following(found, now))
            except IntegrityError:
                continue  # another replica followed it a moment ago

    @staticmethod
    def _start_following(found: Found, now: datetime) -> Any:
        """INSERT ... SELECT ... WHERE the item is still open and its owner's, and still
        waits in no handover (or still in the one it is stuck in): what another replica
        returned to the pool a moment ago is not followed again."""
        item = found.item
        live = exists().where(
            HandoverItemRow.item_id == item.id, HandoverItemRow.state.in_(LIVE_STATES)
        )
        waits = (
            ~live
            if found.handover_id is None
            else live.where(HandoverItemRow.handover_id == found.handover_id)
        )
        values = select(
            literal(item.id, BigId),
            literal(item.owner_id, BigId),
            literal(item.team_id, BigId),
            literal(found.why, String(24)),
            literal(now, UtcDateTime()),
            literal(found.since, UtcDateTime()),
            literal(found.handover_id, BigId),
        ).where(still_owned(item.id, item.owner_id), waits)
        return insert(OwnerlessRow).from_select(
            [
                "item_id",
                "owner_id",
                "team_id",
                "why",
                "first_seen_at",
                "since_at",
                "handover_id",
            ],
            values,
        )

    @staticmethod
    def _ownerless_change(row: OwnerlessRow, **values: Any) -> Update:
        """A followed row's change (told, returned, cleared), once, while it is followed;
        telling and returning only while the item is still open and its owner's."""
        column = next(iter(values))
        conditions = [
            OwnerlessRow.id == row.id,
            getattr(OwnerlessRow, column).is_(None),
            OwnerlessRow.returned_at.is_(None),
            OwnerlessRow.cleared_at.is_(None),
        ]
        if column != "cleared_at":
            conditions.append(still_owned(row.item_id, row.owner_id))
        return (
            update(OwnerlessRow)
            .where(*conditions)
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    async def _set_ownerless(self, row: OwnerlessRow, **values: Any) -> bool:
        async with AsyncSession(self.engine) as session, session.begin():
            done = await session.execute(self._ownerless_change(row, **values))
        return getattr(done, "rowcount", 0) == 1

    async def _close_decided(self) -> None:
        """Submitted handovers none of whose items waits any more: done (the step after the
        last decision did not run, e.g. a crash between the two)."""
        async with AsyncSession(self.engine) as session:
            ids = (
                await session.scalars(
                    select(HandoverRow.id).where(
                        HandoverRow.state == "submitted",
                        ~exists().where(
                            HandoverItemRow.handover_id == HandoverRow.id,
                            HandoverItemRow.state.in_(LIVE_STATES),
                        ),
                    )
                )
            ).all()
        for handover_id in ids:
            await self._maybe_done(handover_id)

    async def _drop_stale(self, now: datetime) -> None:
        """Waiting items that closed or changed owner meanwhile leave their handover. One slim
        query: the handover item's claim columns, its giver, the work item's owner and status."""
        async with AsyncSession(self.engine) as session:
            live = (
                await session.execute(
                    select(
                        HandoverItemRow.id,
                        HandoverItemRow.version,
                        HandoverItemRow.state,
                        HandoverItemRow.handover_id,
                        HandoverRow.giver_id,
                        WorkItemRow.owner_id,
                        WorkItemRow.status,
                        WorkItemRow.is_open,
                    )
                    .join(HandoverRow, HandoverRow.id == HandoverItemRow.handover_id)
                    .outerjoin(WorkItemRow, WorkItemRow.id == HandoverItemRow.item_id)
                    .where(HandoverItemRow.state.in_(LIVE_STATES))
                )
            ).all()
        stale: dict[int, list[Update]] = {}
        for row_id, version, state, handover_id, giver, owner, status, is_open in live:
            if status is None:
                why = MEANWHILE["gone"]
            elif not is_open:
                why = MEANWHILE.get(status, MEANWHILE["closed"])
            elif owner != giver:
                why = MEANWHILE["moved"]
            else:
                continue
            stale.setdefault(handover_id, []).append(
                claim(row_id, version, state, state="withdrawn", reason=why, decided_at=now)
            )
        for handover_id, claims in stale.items():
            async with AsyncSession(self.engine) as session, session.begin():
                for change in claims:
                    await session.execute(change)
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
            "zone": self.zone.key,
            "items": [
                {
                    "item_id": row.item_id,
                    "ticket": ticket,
                    "title": title,
                    "owner_id": row.owner_id,
                    "owner_name": names.get(row.owner_id, f"#{row.owner_id}"),
                    "team_id": row.team_id,
                    "why": row.why,
                    "handover_id": row.handover_id,
                    "first_seen_at": row.first_seen_at,
                    "since": row.since_at,
                    "returns_at": max(row.since_at + grace, row.first_seen_at),
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
                    # Submitted is given (waiting or decided); what the giver took back is not.
                    HandoverRow.state != "withdrawn",
                    HandoverItemRow.state != "withdrawn",
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
