"""Per-queue leases on SQLite and PostgreSQL with a controlled clock: one holder at a time,
renewal, takeover after expiry with a new epoch, and fencing of the old holder."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.routing.engine import EngineState, decide, state_to_json
from callcenter.routing.leases import Leases
from callcenter.routing.models import RoutingAction, RoutingMovedCaller
from callcenter.routing.store import LeaseLost, RoutingStore
from tests.routing.test_store import POLICY
from tests.routing.views import at, caller, view

LEASE = 1.5


class Clock:
    def __init__(self) -> None:
        self.now = at(0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def _rows(engine: AsyncEngine) -> list[tuple[str, str | None, int | None, str]]:
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(RoutingAction.__table__).order_by(RoutingAction.__table__.c.id)
            )
        ).all()
    return [(r.kind, r.target, r.epoch, r.status) for r in rows]


async def test_one_holder_renews_the_other_takes_over_after_expiry_with_a_new_epoch(
    engine: AsyncEngine,
) -> None:
    clock = Clock()
    first, second = (Leases(engine, "a", LEASE, clock), Leases(engine, "b", LEASE, clock))
    assert await first.acquire("rig", ["support", "sales"]) == {"support": 1, "sales": 1}
    assert await second.acquire("rig", ["support", "sales"]) == {}
    assert await second.acquire("other", ["support"]) == {"support": 1}  # every key has pbx

    clock.advance(1.0)
    assert await first.acquire("rig", ["support", "sales"]) == {"support": 1, "sales": 1}
    clock.advance(1.4)  # renewed at 1.0: still held at 2.4
    assert await second.acquire("rig", ["support", "sales"]) == {}

    clock.advance(0.2)  # 2.6: expired (nobody renewed since 1.0)
    assert await second.acquire("rig", ["support"]) == {"support": 2}
    # The old holder's renewal now fails for that queue; the queue it still holds is kept.
    assert await first.acquire("rig", ["support", "sales"]) == {"sales": 1}
    holders = await first.holders()
    assert holders[("rig", "support")][:2] == ("b", 2)
    assert holders[("rig", "sales")][:2] == ("a", 1)

    # A lease that expired with nobody taking it over is still its holder's, same epoch:
    # nobody else can have acted in between.
    clock.advance(10)
    assert await first.acquire("rig", ["sales"]) == {"sales": 1}

    # A clean stop releases at once; the epoch goes on (never back to 1).
    await first.release()
    assert await second.acquire("rig", ["support", "sales"]) == {"support": 2, "sales": 2}


async def test_racing_takeovers_give_one_holder(engine: AsyncEngine) -> None:
    clock = Clock()
    replicas = [Leases(engine, f"r{i}", LEASE, clock) for i in range(4)]
    results = await asyncio.gather(*(r.acquire("rig", ["support"]) for r in replicas))
    assert sorted(len(r) for r in results) == [0, 0, 0, 1]
    clock.advance(LEASE + 0.1)
    results = await asyncio.gather(*(r.acquire("rig", ["support"]) for r in replicas))
    # Either the holder renewed first (epoch 1) or one other replica took over (epoch 2).
    winners = [r for r in results if r]
    assert len(winners) == 1 and winners[0] in ({"support": 1}, {"support": 2}), results


async def test_fencing_refuses_the_old_epoch_and_the_new_holder_adopts_its_rows(
    engine: AsyncEngine,
) -> None:
    clock = Clock()
    first, second = (Leases(engine, "a", LEASE, clock), Leases(engine, "b", LEASE, clock))
    store_a, store_b = RoutingStore(engine, first), RoutingStore(engine, second)
    assert await first.acquire("rig", ["support"]) == {"support": 1}

    # "a" decides a surge (add a member, move a caller) and starts sending the add...
    decision = decide(view(9, [caller("c1", 0)]), EngineState(), POLICY, at(9))
    stored = await store_a.commit(
        "rig",
        "support",
        state_to_json(decision.state),
        decision.state.episode,
        decision.actions,
        clock(),
        epoch=1,
    )
    runnable = {s.action.kind: s for s in stored if s.skipped is None}
    assert await first.fence(runnable["add_member"].id, "rig", "support", 1) is None
    # ... then stalls past its lease; "b" takes over.
    clock.advance(LEASE + 0.1)
    assert await second.acquire("rig", ["support"]) == {"support": 2}
    assert await _rows(engine) == [
        ("episode_open", None, 1, "ok"),
        ("notify", None, 2, "pending"),
        ("add_member", "PJSIP/1004", 1, "unknown"),  # was being sent: never sent twice
        ("move_caller", "c1", 2, "pending"),
    ]  # adopted: the new holder runs it

    # "a" wakes up: whatever it still had to send is refused, and it stores nothing more.
    refused = await first.fence(runnable["move_caller"].id, "rig", "support", 1)
    assert refused is not None and "lease lost" in refused and "epoch 1" in refused
    assert not await store_a.skip_fenced(runnable["move_caller"], refused, clock())
    calm = decide(view(10), decision.state, POLICY, at(10))
    try:
        await store_a.commit(
            "rig",
            "support",
            state_to_json(calm.state),
            calm.state.episode,
            calm.actions,
            clock(),
            epoch=1,
        )
        raise AssertionError("a commit under a lost lease was stored")
    except LeaseLost:
        pass
    assert len(await _rows(engine)) == 4

    # The new holder finds the adopted rows and may send them under its epoch, once.
    pending = await store_b.pending("rig", "support")
    assert [(p.action.kind, p.epoch) for p in pending] == [("notify", 2), ("move_caller", 2)]
    assert await second.fence(pending[1].id, "rig", "support", 2) is None
    assert await second.fence(pending[1].id, "rig", "support", 2) is not None  # not pending
    async with engine.connect() as connection:
        moves = (await connection.execute(select(RoutingMovedCaller.__table__))).all()
    assert [(m.uniqueid, m.status) for m in moves] == [("c1", "pending")]
    assert (await _rows(engine))[3] == ("move_caller", "c1", 2, "sending")
