"""Routing storage on SQLite and PostgreSQL: one decision per transaction, claims that hold
across replicas and restarts, pending actions found again after a crash."""

from __future__ import annotations

from sqlalchemy import select

from callcenter.routing.engine import EngineState, decide, state_from_json, state_to_json
from callcenter.routing.models import RoutingEpisode, RoutingMovedCaller
from callcenter.routing.policy import QueuePolicy
from callcenter.routing.store import RoutingStore
from callcenter.store.db import create_engine
from callcenter.store.migrate import upgrade_to_head
from tests.routing.views import at, caller, view

POLICY = QueuePolicy.model_validate(
    {
        "triggers": [{"metric": "longest_wait", "threshold": 8, "release": 4}],
        "actions": {
            "move_callers": {"to_queue": "overflow", "over_seconds": 8},
            "add_members": [{"interface": "PJSIP/1004", "penalty": 7}],
        },
    }
)


async def test_two_replicas_never_move_one_caller_twice(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade_to_head(engine)
        first, second = RoutingStore(engine), RoutingStore(engine)
        waiting = view(9, [caller("c1", 0)])
        # Both replicas see the same queue and decide the same thing independently.
        decision = decide(waiting, EngineState(), POLICY, at(9))
        kinds = [a.kind for a in decision.actions]
        assert kinds == ["episode_open", "notify", "add_member", "move_caller"]
        stored_1 = await first.commit(
            "rig",
            "support",
            state_to_json(decision.state),
            decision.state.episode,
            decision.actions,
            at(9),
        )
        stored_2 = await second.commit(
            "rig",
            "support",
            state_to_json(decision.state),
            decision.state.episode,
            decision.actions,
            at(9.2),
        )
        runnable_1 = [s.action.kind for s in stored_1 if s.skipped is None]
        runnable_2 = [s.action.kind for s in stored_2 if s.skipped is None]
        assert runnable_1 == ["notify", "add_member", "move_caller"]
        assert runnable_2 == ["notify"]  # the claims were taken: no second move or add
        assert {s.skipped for s in stored_2 if s.action.kind != "notify"} == {
            "bookkeeping",
            "member already added by the engine",
            "caller already moved",
        }

        # A crash before the actions ran: they are pending, and found again.
        pending = await second.pending("rig")
        assert [p.action.kind for p in pending] == ["notify", "add_member", "move_caller", "notify"]
        move = pending[2]
        await first.finish(move, "ok", None, at(9.5))
        assert [p.action.kind for p in await first.pending("rig")] == [
            "notify",
            "add_member",
            "notify",
        ]
        assert await first.members("rig", "support") == ["PJSIP/1004"]

        states = await first.states()
        assert state_from_json(states[("rig", "support")]) == decision.state
        async with engine.connect() as connection:
            moved = (await connection.execute(select(RoutingMovedCaller.__table__))).all()
            episodes = (await connection.execute(select(RoutingEpisode.__table__))).all()
        assert [(m.uniqueid, m.from_queue, m.to_queue, m.status) for m in moved] == [
            ("c1", "support", "overflow", "ok")
        ]
        assert len(episodes) == 1 and episodes[0].peak_longest_wait == 9
    finally:
        await engine.dispose()
