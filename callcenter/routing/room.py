"""The routing room plugged into the service: evaluate every queue, act, persist, serve the API.

Each round (``routing.interval``) takes every queue of every PBX whose link is up and whose
model was resynced, renews or takes over the queue's lease (``leases.py``: with several
replicas on one database, one of them per queue), and for each queue it holds asks the pure
``decide`` what to do, commits state + actions in one transaction (only while the lease is
still held), then runs the actions (each fenced by the lease again). On taking a queue over,
the replica reloads its engine state from the database (the previous holder's last write, not
its own stale copy) and first runs the queue's pending actions: a model still empty after a
restart would otherwise look like calm and undo a surge that is still going on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from callcenter.ami.actions import ActionSender
from callcenter.component import Host, PbxLink, Room
from callcenter.live import CallEnded, Change, QueueView, UnknownQueue
from callcenter.routing.actuator import Actuator
from callcenter.routing.api import RoutingApi
from callcenter.routing.engine import (
    EngineState,
    MoveCaller,
    decide,
    state_from_json,
    state_to_json,
)
from callcenter.routing.leases import Leases, new_holder_id
from callcenter.routing.policy import QueuePolicy
from callcenter.routing.store import LeaseLost, RoutingStore, StoredAction
from callcenter.settings import RoutingSettings
from callcenter.tasks import every
from callcenter.web.http import Route

log = logging.getLogger(__name__)

# Peaks change every round during a surge: they are written at most this often.
PEAK_WRITE_SECONDS = 5.0
# How often live policies edited through another replica are looked for.
POLICY_CHECK_SECONDS = 2.0
# On stop, how long a round that is acting may take to store what it sent.
STOP_GRACE_SECONDS = 5.0
_MOVED_LIMIT = 10_000
_UNDO = QueuePolicy(enabled=False, recovery_seconds=0)


class OverflowMarker(Protocol):
    """The records room: marks a moved caller's record as overflowed (event path safe)."""

    def mark_overflowed(self, pbx: str, uniqueid: str, target: str) -> None: ...


class RoutingRoom(Room):
    name: ClassVar[str] = "routing"

    def __init__(
        self,
        host: Host,
        settings: RoutingSettings,
        *,
        surge_db_family: str,
        pbx_names: list[str],
        overflow: OverflowMarker | None = None,
    ) -> None:
        self.host = host
        self.settings = settings
        self.pbx_names = list(pbx_names)
        self.overflow = overflow
        self._spawn = host.spawner(self.name)
        self.leases = Leases(host.engine, new_holder_id(), settings.lease)
        self.store = RoutingStore(host.engine, self.leases)
        self.actuator = Actuator(
            self.store,
            self._link,
            host.publish,
            self._is_waiting,
            surge_db_family,
            self._moved,
            fence=self._fence,
        )
        self.api = RoutingApi(self)
        self.live_policies: dict[str, dict[str, Any]] = {}
        self._policy_version: tuple[int, datetime | None] | None = None
        self._policy_checked: datetime | None = None
        self.states: dict[tuple[str, str], EngineState] = {}
        # (pbx, queue) -> lease epoch, for the queues this replica holds.
        self.held: dict[tuple[str, str], int] = {}
        self._written: dict[tuple[str, str], tuple[Any, datetime]] = {}
        self._ready: set[str] = set()
        # (pbx, uniqueid) -> (from queue, target) of callers moved: marks their record.
        self._moved_calls: OrderedDict[tuple[str, str], tuple[str, str]] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ policies

    def policies(self) -> dict[str, QueuePolicy]:
        """Effective policies: the file's, overridden by those edited live."""
        effective = dict(self.settings.queues)
        for queue, stored in self.live_policies.items():
            with contextlib.suppress(ValueError):
                effective[queue] = QueuePolicy.model_validate(stored["policy"])
        return effective

    def policy_for(self, pbx: str, queue: str) -> QueuePolicy | None:
        policy = self.policies().get(queue)
        if policy is None or (policy.pbx and policy.pbx != pbx):
            return None
        return policy

    async def levels(self) -> dict[tuple[str, str], str]:
        """Each queue's level as its lease holder sees it (here, or as stored by another)."""
        levels: dict[tuple[str, str], str] = {}
        for key, text in (await self.store.states()).items():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                levels[key] = state_from_json(text).level
        levels.update({key: self.states[key].level for key in self.held if key in self.states})
        return levels

    def target_problem(self, policy: QueuePolicy) -> tuple[int, str, str] | None:
        """Why a policy edit cannot run where it applies: (status, error id, message)."""
        names = self.pbx_names
        if policy.pbx and policy.pbx not in names:
            return 400, "unknown-pbx", f"no PBX named {policy.pbx!r} is configured"
        move = policy.actions.move_callers
        if move is None or move.to_queue is None:
            return None
        now = datetime.now(UTC)
        for pbx in [policy.pbx] if policy.pbx else names:
            if pbx not in self._ready:
                return (
                    503,
                    "pbx-not-synced",
                    f"cannot check move target {move.to_queue!r}: the live model of PBX "
                    f"{pbx!r} is not loaded yet (not connected); try again once it is",
                )
            try:
                self.host.live.queue_view(pbx, move.to_queue, now)
            except UnknownQueue:
                return (
                    400,
                    "unknown-target-queue",
                    f"move target queue {move.to_queue!r} does not exist on PBX {pbx!r}",
                )
        return None

    # ------------------------------------------------------------------ life cycle

    def routes(self) -> Sequence[Route]:
        return self.api.routes()

    async def start(self) -> None:
        self._policy_version = await self.store.policies_version()
        self.live_policies = await self.store.live_policies()
        # The states themselves are read on taking each queue's lease (the latest write then).
        resumed = {k: lv for k, lv in (await self.levels()).items() if lv != "normal"}
        if resumed:
            log.info(
                "routing: stored as %s",
                ", ".join(f"{p}/{q} in {lv}" for (p, q), lv in resumed.items()),
            )
        if self.settings.enabled:
            log.info("routing: replica %s, lease %g s", self.leases.holder, self.settings.lease)
            rounds = every(self.settings.interval, self._round, "routing round")
            self._task = self._spawn(rounds, "rounds")

    async def stop(self) -> None:
        # Nothing is undone on stop: a surge outlives a restart (the state is in the database).
        # The rounds end here, not with the room's other tasks: leases are released after.
        if self._task is not None:
            # A round in the middle of its actions ends first (bounded): an action the PBX
            # has done is then stored as done, not left "sending" for the next holder to
            # call unknown.
            locked = False
            try:
                async with asyncio.timeout(STOP_GRACE_SECONDS):
                    locked = await self._lock.acquire()
            except TimeoutError:
                log.warning(
                    "routing: a round still acting after %g s is cut short", STOP_GRACE_SECONDS
                )
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            if locked:
                self._lock.release()
            try:
                await self.leases.release()  # another replica takes over without waiting
            except Exception:
                log.warning(
                    "routing: leases not released (they expire by themselves)", exc_info=True
                )

    async def on_pbx_ready(self, link: PbxLink) -> None:
        # Pending rows of the queues this replica holds (e.g. cut short by a reconnect); those of
        # queues it does not hold are run by their holder, or on taking them over.
        name = str(link.name)
        async with self._lock:
            for pbx, queue in [key for key in self.held if key[0] == name]:
                await self._run_pending(pbx, queue)
        self._ready.add(name)

    async def _run_pending(self, pbx: str, queue: str) -> None:
        for stored in await self.store.pending(pbx, queue):
            log.info(
                "routing %s/%s: running %s decided earlier (before a restart or by the "
                "previous lease holder)",
                pbx,
                queue,
                stored.action.kind,
            )
            await self.actuator.run(stored)

    def on_change(self, change: Change) -> None:
        if isinstance(change, CallEnded):
            record = change.record
            moved = self._moved_calls.get((record.pbx, record.uniqueid))
            if moved is not None and moved[0] == record.queue:
                del self._moved_calls[(record.pbx, record.uniqueid)]
                if self.overflow is not None:
                    self.overflow.mark_overflowed(record.pbx, record.uniqueid, moved[1])

    # ------------------------------------------------------------------ the rounds

    async def _round(self) -> None:
        await self.evaluate(datetime.now(UTC))

    async def evaluate(self, now: datetime) -> None:
        async with self._lock:
            await self._refresh_policies(now)
            for link in self.host.links:
                if not link.connected or link.name not in self._ready:
                    continue
                views = [v for v in self.host.live.queue_views(now) if v.pbx == link.name]
                held = await self._hold(link.name, [v.queue for v in views], now)
                for view in views:
                    epoch = held.get(view.queue)
                    if epoch is not None and self.held.get((view.pbx, view.queue)) == epoch:
                        await self._evaluate_queue(view, now, epoch)

    async def _refresh_policies(self, now: datetime) -> None:
        """Live edits made through another replica reach this one within a few seconds."""
        checked = self._policy_checked
        if checked is not None and 0 <= (now - checked).total_seconds() < POLICY_CHECK_SECONDS:
            return
        self._policy_checked = now
        version = await self.store.policies_version()
        if version != self._policy_version:
            policies = await self.store.live_policies()
            if await self.store.policies_version() != version:
                # An edit landed while reading (maybe through this replica's API, which has
                # already changed live_policies): what was read is older; read it next round.
                self._policy_checked = None
                return
            self.live_policies = policies
            self._policy_version = version
            log.info("routing: live policies reloaded (%s stored)", version[0])

    async def _hold(self, pbx: str, queues: list[str], now: datetime) -> dict[str, int]:
        held = await self.leases.acquire(pbx, queues)
        for key in [k for k in self.held if k[0] == pbx and k[1] not in held]:
            self._drop(key, "lease lost to another replica")
        for queue, epoch in held.items():
            key = (pbx, queue)
            if self.held.get(key) != epoch:
                await self._take_over(key, epoch, now)
        return held

    async def _take_over(self, key: tuple[str, str], epoch: int, now: datetime) -> None:
        """Resume from what the previous holder wrote, then finish what it had decided."""
        text = await self.store.state(*key)
        state = EngineState()
        if text is not None:
            try:
                state = state_from_json(text)
            except (ValueError, KeyError, TypeError):
                log.warning("routing %s/%s: stored engine state unreadable; starting normal", *key)
        self.states[key] = state
        self._written[key] = (_durable(state), now)
        if state.level != "normal":
            log.info("routing %s/%s: taken over in %s (epoch %s)", *key, state.level, epoch)
        await self._run_pending(*key)
        # Only now: should any of this fail, the next round takes it over again.
        self.held[key] = epoch

    def _drop(self, key: tuple[str, str], why: str) -> None:
        log.info("routing %s/%s: %s; no longer evaluated here", *key, why)
        self.held.pop(key, None)
        self.states.pop(key, None)
        self._written.pop(key, None)

    async def _fence(self, stored: StoredAction) -> str | None:
        assert stored.epoch is not None
        action = stored.action
        return await self.leases.fence(stored.id, action.pbx, action.queue, stored.epoch)

    async def _evaluate_queue(self, view: QueueView, now: datetime, epoch: int) -> None:
        key = (view.pbx, view.queue)
        state = self.states.get(key, EngineState())
        policy = self.policy_for(view.pbx, view.queue)
        if policy is None:
            if state.level == "normal":
                return
            policy = _UNDO  # the policy went away mid-episode: undo and close
        decision = decide(view, state, policy, now)
        new = decision.state
        durable = _durable(new)
        written = self._written.get(key)
        before = written[0] if written is not None else _durable(state)
        peaks_due = new.episode != state.episode and (
            written is None or (now - written[1]).total_seconds() >= PEAK_WRITE_SECONDS
        )
        if decision.actions or before != durable or peaks_due:
            try:
                stored = await self.store.commit(
                    view.pbx,
                    view.queue,
                    state_to_json(new),
                    new.episode,
                    decision.actions,
                    now,
                    epoch,
                )
            except LeaseLost:
                self._drop(key, "lease lost before the decision was stored (nothing done)")
                return
            self._written[key] = (durable, now)
            self.states[key] = new
            for item in stored:
                await self.actuator.run(item)
        else:
            self.states[key] = new

    # ------------------------------------------------------------------ helpers

    def _link(self, pbx: str) -> ActionSender | None:
        return self.host.links.connected(pbx)

    def _is_waiting(self, pbx: str, queue: str, uniqueid: str) -> bool:
        try:
            view = self.host.live.queue_view(pbx, queue, datetime.now(UTC))
        except UnknownQueue:
            return False
        return any(c.uniqueid == uniqueid for c in view.callers)

    def _moved(self, action: MoveCaller) -> None:
        target = action.to_queue or f"{action.context},{action.exten}"
        self._moved_calls[(action.pbx, action.uniqueid)] = (action.queue, target)
        while len(self._moved_calls) > _MOVED_LIMIT:
            self._moved_calls.popitem(last=False)


def _durable(state: EngineState) -> tuple[Any, ...]:
    """What must be written at once when it changes (peaks may wait a little)."""
    episode = state.episode
    return (
        state.level,
        state.since,
        tuple(sorted(state.triggers.items(), key=lambda i: i[0])),
        state.added_members,
        state.moved,
        state.surge_flag,
        None if episode is None else (episode.started_at, episode.history, episode.calls_affected),
    )
