"""The work room's side of the handover room's ``WorkLedger``: what an agent owns, and moving
it to a successor or back to the team pool (docs/handover.md).

Every move is one conditional UPDATE (the item still open and still the giver's) and one
"owner" line on the item's timeline, in one transaction: an item never passes through "nobody"
on its way from the giver to the successor, and a move that lost a race to another change
stores nothing. The item's version moves on as an assignment's does, so a page holding the
old version is told the item changed; its team follows the new owner as an assignment's does
(kept when the new owner is in it). An item waiting in a handover never goes to a pool: it is
the successor's to take (or withdrawn from the handover first, in the same transaction).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ColumnElement, Executable

from callcenter.customers.models import CustomerRow
from callcenter.feed.serialize import to_data
from callcenter.handover.models import LIVE_STATES, HandoverItemRow
from callcenter.handover.ports import LedgerActor, LedgerItem, MoveOutcome, OwnedItem
from callcenter.work.items import WorkItems, sorted_for_work
from callcenter.work.models import CallbackScheduleRow, WorkItemEventRow, WorkItemRow

log = logging.getLogger(__name__)

# Timeline kinds whose text says what was done or promised (the last one is shown).
NOTE_KINDS = ("note", "created", "status", "owner", "reply")


def owner_event(
    item_id: int,
    actor: LedgerActor,
    at: datetime,
    text: str,
    before: int | None,
    after: int | None,
    team_before: int | None,
    team_after: int | None,
    **data: object,
) -> WorkItemEventRow:
    """An "owner" line shaped as an assignment's (``WorkItems.assign``)."""
    return WorkItemEventRow(
        item_id=item_id,
        at=at,
        actor_id=actor.user_id,
        actor_name=actor.name[:120],
        kind="owner",
        text=text,
        data=to_data(
            {
                "before": before,
                "after": after,
                "team_before": team_before,
                "team_after": team_after,
                **data,
            }
        ),
    )


def waits_in_a_handover() -> ColumnElement[bool]:
    """The work item waits in a handover now: it is the successor's to take, not the pool's."""
    return exists().where(
        HandoverItemRow.item_id == WorkItemRow.id, HandoverItemRow.state.in_(LIVE_STATES)
    )


class WorkLedgerStore:
    def __init__(self, items: WorkItems) -> None:
        self.items = items
        self.engine = items.engine

    # --- reading ------------------------------------------------------------------------------

    async def open_of_owner(self, user_id: int) -> Sequence[LedgerItem]:
        async with AsyncSession(self.engine) as session:
            rows = (
                await session.scalars(
                    select(WorkItemRow).where(
                        WorkItemRow.owner_id == user_id, WorkItemRow.is_open.is_(True)
                    )
                )
            ).all()
            ordered = sorted_for_work(rows, self.items.clock())
            return await self._described(session, ordered)

    async def items_of(self, item_ids: Collection[int]) -> Sequence[LedgerItem]:
        if not item_ids:
            return []
        async with AsyncSession(self.engine) as session:
            rows = (
                await session.scalars(
                    select(WorkItemRow)
                    .where(WorkItemRow.id.in_(list(item_ids)))
                    .order_by(WorkItemRow.id)
                )
            ).all()
            return await self._described(session, rows)

    async def _described(
        self, session: AsyncSession, rows: Sequence[WorkItemRow]
    ) -> list[LedgerItem]:
        ids = [row.id for row in rows]
        if not ids:
            return []
        schedules = {
            s.item_id: s
            for s in (
                await session.scalars(
                    select(CallbackScheduleRow).where(
                        CallbackScheduleRow.item_id.in_(ids), CallbackScheduleRow.state != "done"
                    )
                )
            ).all()
        }
        notes: dict[int, str] = {}
        for item_id, text in (
            await session.execute(
                select(WorkItemEventRow.item_id, WorkItemEventRow.text)
                .where(
                    WorkItemEventRow.item_id.in_(ids),
                    WorkItemEventRow.kind.in_(NOTE_KINDS),
                    WorkItemEventRow.text != "",
                )
                .order_by(WorkItemEventRow.at, WorkItemEventRow.id)
            )
        ).all():
            notes[item_id] = text  # the latest wins
        customer_ids = {row.customer_id for row in rows if row.customer_id is not None}
        customers = (
            {
                c.id: c
                for c in (
                    await session.scalars(
                        select(CustomerRow).where(CustomerRow.id.in_(customer_ids))
                    )
                ).all()
            }
            if customer_ids
            else {}
        )
        found = []
        for row in rows:
            customer = customers.get(row.customer_id) if row.customer_id is not None else None
            schedule = schedules.get(row.id)
            phone = row.phone or (customer.phones[0] if customer and customer.phones else None)
            found.append(
                LedgerItem(
                    id=row.id,
                    ticket=row.ticket,
                    title=row.title,
                    kind=row.kind,
                    status=row.status,
                    priority=row.priority,
                    due_at=row.due_at,
                    last_note=notes.get(row.id, ""),
                    customer_id=row.customer_id,
                    customer_name=customer.name if customer is not None else None,
                    phone=phone,
                    owner_id=row.owner_id,
                    team_id=row.team_id,
                    version=row.version,
                    promised=schedule is not None or row.first_response_at is not None,
                    callback_at=schedule.next_attempt_at if schedule is not None else None,
                )
            )
        return found

    async def owned_open(self, user_ids: Collection[int] | None = None) -> Sequence[OwnedItem]:
        query = select(
            WorkItemRow.id,
            WorkItemRow.ticket,
            WorkItemRow.title,
            WorkItemRow.owner_id,
            WorkItemRow.team_id,
        ).where(WorkItemRow.is_open.is_(True), WorkItemRow.owner_id.is_not(None))
        if user_ids is not None:
            if not user_ids:
                return []
            query = query.where(WorkItemRow.owner_id.in_(list(user_ids)))
        async with AsyncSession(self.engine) as session:
            rows = (await session.execute(query.order_by(WorkItemRow.id))).all()
        return [
            OwnedItem(id=i, ticket=ticket, title=title, owner_id=owner, team_id=team)
            for i, ticket, title, owner, team in rows
            if owner is not None
        ]

    # --- moving -------------------------------------------------------------------------------

    async def move_owner(
        self,
        item_id: int,
        from_user: int,
        to_user: int,
        actor: LedgerActor,
        note: str,
        handover_id: int,
        *,
        at: datetime,
        guard: Executable | None = None,
    ) -> MoveOutcome:
        async with AsyncSession(self.engine, expire_on_commit=False) as session, session.begin():
            if guard is not None:
                claimed = await session.execute(guard)
                if getattr(claimed, "rowcount", 0) != 1:
                    await session.rollback()
                    return "guard"
            found = (
                await session.execute(
                    select(WorkItemRow.team_id, WorkItemRow.queue).where(WorkItemRow.id == item_id)
                )
            ).first()
            if found is None:
                await session.rollback()
                return "item-moved"
            team_before, queue = found
            team_after = self.team_for_owner(to_user, team_before, queue)
            result = await session.execute(
                update(WorkItemRow)
                .where(
                    WorkItemRow.id == item_id,
                    WorkItemRow.owner_id == from_user,
                    WorkItemRow.is_open.is_(True),
                    # The team read above, so that the owner line tells the truth.
                    WorkItemRow.team_id.is_not_distinct_from(team_before),
                )
                .values(
                    owner_id=to_user,
                    team_id=team_after,
                    version=WorkItemRow.version + 1,
                    updated_at=at,
                )
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) != 1:
                await session.rollback()
                return "item-moved"
            row = await session.get(WorkItemRow, item_id)
            session.add(
                owner_event(
                    item_id,
                    actor,
                    at,
                    note,
                    from_user,
                    to_user,
                    team_before,
                    team_after,
                    handover=handover_id,
                )
            )
        log.info(
            "work item %s handed from %s to %s (handover %s)",
            item_id,
            from_user,
            to_user,
            handover_id,
        )
        if row is not None:
            self.items.tell(
                to_user,
                {"type": "work_item", "event": "assigned", "item": self.items.item_data(row)},
            )
        return "moved"

    def team_for_owner(self, user_id: int, team_id: int | None, queue: str | None) -> int | None:
        """The item's team once ``user_id`` owns it: kept when the new owner is in it, else
        the new owner's team as an assignment decides it (``WorkItems.assign``: the owner's
        team serving the item's queue first), else kept (an owner in no team)."""
        if team_id is not None and any(
            t.id == team_id and t.has(user_id) for t in self.items.workforce.teams()
        ):
            return team_id
        return self.items._team_of_user(user_id, queue) or team_id

    async def return_to_pool(
        self,
        item_ids: Collection[int],
        from_user: int,
        actor: LedgerActor,
        reason: str,
        *,
        at: datetime,
        guard: Executable | None = None,
    ) -> Sequence[int]:
        moved: list[int] = []
        async with AsyncSession(self.engine) as session, session.begin():
            if guard is not None:
                claimed = await session.execute(guard)
                if getattr(claimed, "rowcount", 0) != 1:
                    await session.rollback()
                    return []
            for item_id in dict.fromkeys(item_ids):
                result = await session.execute(
                    update(WorkItemRow)
                    .where(
                        WorkItemRow.id == item_id,
                        WorkItemRow.owner_id == from_user,
                        WorkItemRow.is_open.is_(True),
                        # Submitted a moment ago: the successor's to take, not the pool's.
                        ~waits_in_a_handover(),
                        # No team, no pool: it would belong to nobody. It stays with its owner
                        # (and on the ownerless list) until a supervisor gives it to someone.
                        WorkItemRow.team_id.is_not(None),
                    )
                    .values(owner_id=None, version=WorkItemRow.version + 1, updated_at=at)
                    .execution_options(synchronize_session=False)
                )
                if getattr(result, "rowcount", 0) != 1:
                    continue
                team = await session.scalar(
                    select(WorkItemRow.team_id).where(WorkItemRow.id == item_id)
                )
                session.add(owner_event(item_id, actor, at, reason, from_user, None, team, team))
                moved.append(item_id)
        if moved:
            log.info("work items %s of %s back to their pools: %s", moved, from_user, reason)
        return moved
