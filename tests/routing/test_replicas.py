"""Two routing replicas on one database (SQLite and PostgreSQL), no rig: a controlled clock,
hand-made queue views and an in-memory stand-in for the PBX that both replicas' links reach.

Over a surge exactly one replica acts (one QueueAdd, one surge flag, one episode, each caller
moved once); when it dies the other takes over from the stored state and undoes the surge
exactly once. A unit test of the lease logic in the component, not an integration test (the
rig test with two real services is in test_routing_rig.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.component import PbxLinks
from callcenter.live import UnknownQueue
from callcenter.live.changes import AgentView, ModelSnapshot, QueueView
from callcenter.routing.models import RoutingAction, RoutingEpisode
from callcenter.routing.policy import QueuePolicy
from callcenter.routing.room import RoutingRoom
from callcenter.routing.store import RoutingStore
from callcenter.settings import RoutingSettings
from tests.rooms import make_host
from tests.routing.views import T0, at, caller, member, view

POLICY = QueuePolicy.model_validate(
    {
        "recovery_seconds": 1,
        "triggers": [{"metric": "callers_waiting", "level": "surge", "threshold": 1, "release": 0}],
        "actions": {
            "surge_flag": True,
            "add_members": [{"interface": "PJSIP/1004", "penalty": 7}],
            "move_callers": {"to_queue": "overflow", "over_seconds": 8},
        },
    }
)
INTERVAL = 0.5
# (uniqueid, joined at, leaves at) in seconds from T0; a Redirect takes a caller out earlier.
CALLERS = [("c1", 2.5, 99.0), ("c2", 3.0, 99.0), ("c3", 11.5, 18.0)]


class Pbx:
    """What both replicas' AMI links reach: a record of every action and its effect."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, str]]] = []
        self.members: set[str] = set()
        self.redirected: set[str] = set()
        self.surge_db: dict[str, str] = {}

    def receive(self, replica: str, fields: Mapping[str, str]) -> None:
        action = dict(fields)
        self.sent.append((replica, action))
        name = action["Action"]
        if name == "QueueAdd":
            self.members.add(action["Interface"])
        elif name == "QueueRemove":
            self.members.discard(action["Interface"])
        elif name == "Redirect":
            self.redirected.add(action["Channel"])
        elif name == "DBPut":
            self.surge_db[action["Key"]] = action["Val"]
        elif name == "DBDel":
            self.surge_db.pop(action["Key"], None)

    def view(self, now: datetime) -> QueueView:
        t = (now - T0).total_seconds()
        callers = [
            caller(uid, joined)
            for uid, joined, leaves in CALLERS
            if joined <= t < leaves and f"PJSIP/caller-{uid}" not in self.redirected
        ]
        members = [member(i) for i in sorted(self.members)]
        return view(t, callers, available=len(members), members=members)

    def sent_of(self, action: str) -> list[tuple[str, dict[str, str]]]:
        return [(r, f) for r, f in self.sent if f["Action"] == action]


class Link:
    def __init__(self, pbx: Pbx, replica: str) -> None:
        self.name = "rig"
        self.connected = True
        self.reconnects = 1
        self.last_error = ""
        self.pbx = pbx
        self.replica = replica

    async def send(
        self, fields: Mapping[str, str], *, as_list: bool = False, timeout: float | None = None
    ) -> Any:
        self.pbx.receive(self.replica, fields)
        return {"Response": "Success"}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Model:
    def __init__(self, pbx: Pbx, clock: Clock) -> None:
        self.pbx = pbx
        self.clock = clock  # the actuator asks with the wall clock: the test's clock rules

    def queue_views(self, now: datetime) -> tuple[QueueView, ...]:
        return (self.pbx.view(now),)

    def agents_view(self, now: datetime) -> tuple[AgentView, ...]:
        return ()

    def snapshot(self) -> ModelSnapshot:
        raise AssertionError("routing reads views, not snapshots")

    def queue_view(self, pbx: str, queue: str, now: datetime) -> QueueView:
        if (pbx, queue) != ("rig", "support"):
            raise UnknownQueue((pbx, queue))
        return self.pbx.view(self.clock())


async def replica(
    engine: AsyncEngine, pbx: Pbx, name: str, clock: Clock, published: list[str]
) -> RoutingRoom:
    settings = RoutingSettings(
        enabled=False, interval=INTERVAL, lease_seconds=3 * INTERVAL, queues={"support": POLICY}
    )
    link = Link(pbx, name)
    host = make_host(engine, live=Model(pbx, clock), links=PbxLinks([link]), published=published)
    component = RoutingRoom(host, settings, surge_db_family="callcenter/surge", pbx_names=["rig"])
    component.leases.clock = clock
    component.actuator.clock = clock
    await component.start()
    await component.on_pbx_ready(link)
    return component


async def test_two_replicas_act_once_and_the_survivor_undoes_the_surge_once(
    engine: AsyncEngine,
) -> None:
    pbx, clock = Pbx(), Clock()
    published: list[str] = []
    first = await replica(engine, pbx, "A", clock, published)
    second = await replica(engine, pbx, "B", clock, published)

    async def round_at(seconds: float, *replicas: RoutingRoom) -> None:
        clock.now = at(seconds)
        for component in replicas:
            await component.evaluate(clock.now)

    # B takes the queue while calm, then stalls; A takes over once B's lease expires.
    await round_at(0, second, first)
    assert second.held == {("rig", "support"): 1} and first.held == {}
    t = INTERVAL
    while not first.held:
        await round_at(t, first)
        t += INTERVAL
    assert first.held == {("rig", "support"): 2} and t - INTERVAL > 3 * INTERVAL

    # The surge, with A holding: both alive from here on.
    while t <= 12:
        await round_at(t, first, second)
        t += INTERVAL
    assert second.held == {} and "PJSIP/1004" in pbx.members
    assert {r for r, _ in pbx.sent} == {"A"}

    # A dies at 12: B takes over from the stored state (its own memory says "normal").
    while t <= 22:
        await round_at(t, second)
        t += INTERVAL
    assert second.held == {("rig", "support"): 3}
    # A wakes up once: it has lost the queue and neither sends nor stores anything.
    before = len(pbx.sent)
    await round_at(t, first)
    assert first.held == {} and len(pbx.sent) == before

    assert [(r, f["Interface"]) for r, f in pbx.sent_of("QueueAdd")] == [("A", "PJSIP/1004")]
    assert [(r, f["Interface"]) for r, f in pbx.sent_of("QueueRemove")] == [("B", "PJSIP/1004")]
    assert [r for r, _ in pbx.sent_of("DBPut")] == ["A"]
    assert [r for r, _ in pbx.sent_of("DBDel")] == ["B"]
    assert sorted((r, f["Channel"]) for r, f in pbx.sent_of("Redirect")) == [
        ("A", "PJSIP/caller-c1"),
        ("A", "PJSIP/caller-c2"),
    ]
    assert pbx.members == set() and pbx.surge_db == {}

    async with engine.connect() as connection:
        episodes = (await connection.execute(select(RoutingEpisode.__table__))).all()
        actions = (
            await connection.execute(
                select(RoutingAction.__table__).order_by(RoutingAction.__table__.c.id)
            )
        ).all()
    assert len(episodes) == 1 and episodes[0].ended_at is not None
    assert episodes[0].calls_affected == 2
    assert [lv["level"] for lv in episodes[0].levels] == ["surge", "recovery", "normal"]
    assert {a.status for a in actions} == {"ok"}
    assert [(a.kind, a.epoch) for a in actions if a.kind == "notify"] == [
        ("notify", 2),
        ("notify", 3),
        ("notify", 3),
    ]
    levels = [m for m in published if '"RoutingLevel"' in m]
    assert len(levels) == 3


async def test_a_live_policy_edit_on_one_replica_reaches_the_other(engine: AsyncEngine) -> None:
    pbx, clock = Pbx(), Clock()
    published: list[str] = []
    other = await replica(engine, pbx, "B", clock, published)
    await other.evaluate(at(0))
    assert other.policy_for("rig", "support") == POLICY
    edited = POLICY.model_copy(update={"recovery_seconds": 30}).model_dump(mode="json")
    # The PUT handler of another replica stores the edit.
    await RoutingStore(engine).put_policy("support", edited, "lead", None, at(0.5))
    await other.evaluate(at(2.0))
    policy = other.policy_for("rig", "support")
    assert policy is not None and policy.recovery_seconds == 30
    await RoutingStore(engine).reset_policy("support", "lead", edited, None, at(3))
    await other.evaluate(at(4.0))
    assert other.policy_for("rig", "support") == POLICY
