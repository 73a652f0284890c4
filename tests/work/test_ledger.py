"""The work room's ``WorkLedger`` (the handover room's port), on SQLite and on PostgreSQL:
what an agent owns, moving an item in one transaction with its timeline line, the guard of the
caller, the pool, and a move that lost a race storing nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.handover.ports import LedgerActor
from callcenter.work.models import WorkItemEventRow, WorkItemRow
from tests.handover.helpers import Centre, local, open_centre


@pytest.fixture
async def centre(engine: AsyncEngine) -> AsyncIterator[Centre]:
    async with open_centre(engine) as centre:
        yield centre


async def events(centre: Centre) -> int:
    async with AsyncSession(centre.engine) as session:
        return int(await session.scalar(select(func.count()).select_from(WorkItemEventRow)) or 0)


async def test_open_items_moves_and_the_pool(centre: Centre) -> None:
    ledger = centre.work.ledger
    wang, li = centre.id("wang"), centre.id("li")
    customer = await centre.add_customer("王芳", "+8613800000009")
    first = await centre.create("wang", customer_id=customer)
    second = await centre.create("wang", kind="callback", phone="+8613800000001")
    await centre.schedule_callback(second["id"], local(3, 18))
    await centre.note("wang", first["id"], "客户说明天再打")
    found = await ledger.open_of_owner(wang)
    by_id = {i.id: i for i in found}
    assert by_id[first["id"]].promised and by_id[first["id"]].last_note == "客户说明天再打"
    assert by_id[first["id"]].customer_name == "王芳"
    assert by_id[first["id"]].phone == "+8613800000009"
    assert by_id[second["id"]].promised and by_id[second["id"]].callback_at == local(3, 18)
    assert {i.id for i in await ledger.owned_open([wang])} == {first["id"], second["id"]}
    assert await ledger.owned_open([]) == []

    actor = LedgerActor(li, "Li Na")
    at = local(3, 16)
    assert await ledger.move_owner(first["id"], wang, li, actor, "n", 7, at=at) == "moved"
    async with AsyncSession(centre.engine) as session:
        row = await session.get(WorkItemRow, first["id"])
    assert row is not None and row.owner_id == li and row.version == first["version"] + 2
    assert await centre.owner_events(first["id"]) == [(at, li, "n", wang, li)]
    # Again: the owner is Li now, not Wang: nothing stored.
    before = await events(centre)
    assert await ledger.move_owner(first["id"], wang, li, actor, "n", 7, at=at) == "item-moved"
    # A guard matching nothing stores nothing either.
    guard = update(WorkItemRow).where(WorkItemRow.id == -1).values(title="x")
    assert (
        await ledger.move_owner(second["id"], wang, li, actor, "n", 7, at=at, guard=guard)
        == "guard"
    )
    assert await events(centre) == before
    assert await centre.owner_of(second["id"]) == wang

    moved = await ledger.return_to_pool(
        [second["id"], first["id"]], wang, LedgerActor(None, "system"), "why", at=at
    )
    assert moved == [second["id"]]  # the first is Li's, not Wang's
    assert await centre.owner_of(second["id"]) is None
    assert await centre.owner_events(second["id"]) == [(at, None, "why", wang, None)]
    assert [i.id for i in await ledger.items_of([second["id"]])] == [second["id"]]


async def test_an_item_waiting_in_a_handover_never_goes_to_the_pool(centre: Centre) -> None:
    """The end-of-shift pool racing a submission: the item listed a moment ago stays."""
    ledger = centre.work.ledger
    wang = centre.id("wang")
    waiting = await centre.create("wang")
    free = await centre.create("wang")
    await centre.ok(
        "wang",
        "POST",
        "/api/handovers",
        {
            "kind": "end_of_shift",
            "successor_id": centre.id("li"),
            "items": [{"item_id": waiting["id"]}],
        },
    )
    system = LedgerActor(None, "system")
    moved = await ledger.return_to_pool(
        [waiting["id"], free["id"]], wang, system, "x", at=local(3, 16)
    )
    assert moved == [free["id"]]
    assert await centre.owner_of(waiting["id"]) == wang
    # A guard matching nothing moves nothing.
    other = await centre.create("wang")
    guard = update(WorkItemRow).where(WorkItemRow.id == -1).values(title="x")
    assert (
        await ledger.return_to_pool([other["id"]], wang, system, "x", at=local(3, 16), guard=guard)
        == []
    )
    assert await centre.owner_of(other["id"]) == wang


async def test_an_item_of_no_team_never_goes_to_a_pool(centre: Centre) -> None:
    """Without a team there is no pool: pooling it would leave it without any owner."""
    wang = centre.id("wang")
    item = await centre.create("wang")
    async with AsyncSession(centre.engine) as session, session.begin():
        await session.execute(
            update(WorkItemRow).where(WorkItemRow.id == item["id"]).values(team_id=None)
        )
    system = LedgerActor(None, "system")
    moved = await centre.work.ledger.return_to_pool(
        [item["id"]], wang, system, "x", at=local(3, 16)
    )
    assert moved == []
    assert await centre.owner_of(item["id"]) == wang


async def test_a_move_takes_the_item_to_the_new_owners_team(centre: Centre) -> None:
    ledger = centre.work.ledger
    front, back = centre.teams["front"], centre.teams["back"]
    item = await centre.create("wang")
    actor = LedgerActor(None, "system")
    at = local(3, 16)
    assert (
        await ledger.move_owner(
            item["id"], centre.id("wang"), centre.id("li"), actor, "n", 1, at=at
        )
        == "moved"
    )
    assert (
        await ledger.move_owner(
            item["id"], centre.id("li"), centre.id("other"), actor, "n", 1, at=at
        )
        == "moved"
    )
    assert (
        await ledger.move_owner(
            item["id"], centre.id("other"), centre.id("zhao"), actor, "n", 1, at=at
        )
        == "moved"
    )
    async with AsyncSession(centre.engine) as session:
        rows = (
            await session.scalars(
                select(WorkItemEventRow)
                .where(WorkItemEventRow.item_id == item["id"], WorkItemEventRow.kind == "owner")
                .order_by(WorkItemEventRow.id)
            )
        ).all()
    assert [(r.data["team_before"], r.data["team_after"]) for r in rows] == [
        (front, front),
        (front, back),
        (back, front),
    ]
