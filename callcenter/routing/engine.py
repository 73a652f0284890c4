"""The routing decision: queue figures + engine state + policy + clock → new state + actions.

Theory of operation
===================

Pure: no I/O and no clock of its own (``now`` is an argument), so every path is tested with
a controlled clock. One ``EngineState`` per (pbx, queue). Levels follow the peak-season plan
(seed 004: 预警 → 应急响应 → 恢复 → 总结评估)::

    normal ──warning trigger──▶ warning ──surge trigger──▶ surge
       ▲                          │  ▲                       │
       │                 nothing active                 surge released
       │                          ▼  │ (fires again)         ▼
       └──recovery_seconds calm── recovery ◀─────────────────┘

A trigger fires once its figure has been beyond ``threshold`` for ``min_duration`` and its
``cooldown`` since its last release has passed; it releases only beyond ``release``
(hysteresis). The level is the highest level of the active triggers. Leaving surge undoes
what the surge did (members the engine added come out, the surge flag goes off); recovery
turns into normal after ``recovery_seconds`` without any active trigger, which closes the
episode (its summary is the ``CloseEpisode`` action).

While in surge, waiting callers past ``over_seconds`` are moved (longest-waiting first), each
at most once: the state remembers whom it handed to the actuator, and the actuator's database
claim (unique per pbx + uniqueid) makes that hold across restarts and replicas.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from callcenter.live.changes import CallerView, QueueView
from callcenter.routing.erlang import predicted_wait
from callcenter.routing.policy import Metric, QueuePolicy, TriggerPolicy

Level = Literal["normal", "warning", "surge", "recovery"]
MoveKind = Literal["move", "callback"]
_RANK = {"warning": 1, "surge": 2}
# The fields every action of one decision shares (time, queue, level, figures, reason).
_Base = Callable[[], dict[str, Any]]


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True, slots=True)
class Figures:
    """The numbers a decision is made on (kept with every action for the audit)."""

    callers_waiting: int
    longest_wait: float
    service_level: float | None  # percent answered within the queue's SL, rolling window
    predicted_wait: float | None
    agents_available: int
    agents_staffed: int
    # Of agents_available, members the engine itself added: no_agent judges the queue's own
    # staff, or the tier it brings in would release it at once and be taken out again.
    engine_members_available: int = 0

    def value(self, metric: Metric) -> float | None:
        if metric == "longest_wait":
            return self.longest_wait
        if metric == "callers_waiting":
            return float(self.callers_waiting)
        if metric == "service_level":
            return self.service_level
        if metric == "predicted_wait":
            return self.predicted_wait
        return 1.0 if self.agents_available - self.engine_members_available <= 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "callers_waiting": self.callers_waiting,
            "longest_wait": round(self.longest_wait, 3),
            "service_level": None if self.service_level is None else round(self.service_level, 2),
            "predicted_wait": (
                None if self.predicted_wait is None else round(self.predicted_wait, 1)
            ),
            "agents_available": self.agents_available,
            "agents_staffed": self.agents_staffed,
            "engine_members_available": self.engine_members_available,
        }


def figures(view: QueueView, added: frozenset[str] = frozenset()) -> Figures:
    stats = view.stats
    staffed = view.agents_available + view.agents_busy + view.agents_ringing
    arrivals = stats.offered / stats.window_seconds if stats.window_seconds > 0 else 0.0
    sl = stats.service_level_offered
    return Figures(
        callers_waiting=view.callers_waiting,
        longest_wait=view.longest_wait_seconds or 0.0,
        service_level=None if sl is None else sl * 100.0,
        predicted_wait=predicted_wait(staffed, view.callers_waiting, arrivals, stats.aht_seconds),
        agents_available=view.agents_available,
        agents_staffed=staffed,
        engine_members_available=sum(
            1 for m in view.members if m.interface in added and m.state == "available"
        ),
    )


# --------------------------------------------------------------------------- state


@dataclass(frozen=True, slots=True)
class TriggerState:
    pending_since: datetime | None = None  # figure beyond threshold since
    active: bool = False
    released_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Episode:
    started_at: datetime
    history: tuple[tuple[datetime, Level], ...]
    peak_callers_waiting: int = 0
    peak_longest_wait: float = 0.0
    calls_affected: int = 0

    def summary(self, ended_at: datetime) -> dict[str, Any]:
        return {
            "started_at": self.started_at.isoformat(),
            "ended_at": ended_at.isoformat(),
            "duration_seconds": round((ended_at - self.started_at).total_seconds(), 3),
            "levels": [{"at": at.isoformat(), "level": level} for at, level in self.history],
            "peak_callers_waiting": self.peak_callers_waiting,
            "peak_longest_wait": round(self.peak_longest_wait, 3),
            "calls_affected": self.calls_affected,
        }


@dataclass(frozen=True, slots=True)
class EngineState:
    level: Level = "normal"
    since: datetime | None = None
    triggers: Mapping[str, TriggerState] = field(default_factory=dict)
    episode: Episode | None = None
    added_members: frozenset[str] = frozenset()
    # Joins handed over and still seen waiting, as ``join_key``: a caller who comes back
    # (declined a callback) before a round saw them leave is a new join, decided again, and
    # it is the store's claim per caller that refuses a second move.
    moved: frozenset[str] = frozenset()
    surge_flag: bool = False


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    at: datetime
    pbx: str
    queue: str
    level: Level
    figures: Figures
    reason: str  # the active triggers with their figures, e.g. "longest_wait/surge=8.2>=8"

    @property
    def kind(self) -> str:
        return _KINDS[type(self)]


@dataclass(frozen=True, slots=True, kw_only=True)
class Notify(Action):
    previous: Level


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenEpisode(Action):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseEpisode(Action):
    summary: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class AddMember(Action):
    interface: str
    penalty: int
    member_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoveMember(Action):
    interface: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MoveCaller(Action):
    move: MoveKind
    uniqueid: str
    channel: str
    joined_at: datetime
    waited: float
    to_queue: str | None  # None: a dialplan destination
    context: str
    exten: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SetSurgeFlag(Action):
    on: bool


_KINDS: dict[type, str] = {
    Notify: "notify",
    OpenEpisode: "episode_open",
    CloseEpisode: "episode_close",
    AddMember: "add_member",
    RemoveMember: "remove_member",
    MoveCaller: "move_caller",
    SetSurgeFlag: "surge_flag",
}

OVERFLOW_CONTEXT = "overflow-entry"
CALLBACK_CONTEXT = "overflow-callback"


@dataclass(frozen=True, slots=True)
class Decision:
    state: EngineState
    actions: tuple[Action, ...]


# --------------------------------------------------------------------------- decide


def decide(view: QueueView, state: EngineState, policy: QueuePolicy, now: datetime) -> Decision:
    figs = figures(view, state.added_members)
    triggers = _step_triggers(state.triggers, policy, figs, now)
    active = [t for t in policy.triggers if triggers[t.key].active] if policy.enabled else []
    reason = ", ".join(_describe(t, figs) for t in active) or "calm"
    target = max((t.level for t in active), key=_RANK.__getitem__, default=None)
    level = _next_level(state, target, policy, now)

    def base() -> dict[str, Any]:
        return {
            "at": now,
            "pbx": view.pbx,
            "queue": view.queue,
            "level": level,
            "figures": figs,
            "reason": reason,
        }

    episode, actions = _step_episode(state, level, now, base)
    added, surge_flag, surge_actions = _step_surge(view, state, policy, level, base)
    actions.extend(surge_actions)
    moved, episode, moves = _step_moves(view, state, policy, level, episode, now, base)
    actions.extend(moves)
    episode, closing = _finish_episode(episode, level, figs, now, base)
    actions.extend(closing)

    new_state = EngineState(
        level=level,
        since=now if level != state.level or state.since is None else state.since,
        triggers=triggers,
        episode=episode,
        added_members=added,
        moved=moved,
        surge_flag=surge_flag,
    )
    return Decision(new_state, tuple(actions))


def _step_episode(
    state: EngineState, level: Level, now: datetime, base: _Base
) -> tuple[Episode | None, list[Action]]:
    """Open an episode on leaving normal, note a change of level in it, and notify it."""
    actions: list[Action] = []
    episode = state.episode
    if episode is None and level != "normal":
        episode = Episode(started_at=now, history=((now, level),))
        actions.append(OpenEpisode(**base()))
    elif episode is not None and level != state.level:
        episode = replace(episode, history=(*episode.history, (now, level)))
    if level != state.level:
        actions.append(Notify(previous=state.level, **base()))
    return episode, actions


def _step_surge(
    view: QueueView, state: EngineState, policy: QueuePolicy, level: Level, base: _Base
) -> tuple[frozenset[str], bool, list[Action]]:
    """Entering surge adds the policy's members and raises the flag; leaving it undoes that."""
    if level == "surge" and state.level != "surge":
        return _enter_surge(view, state, policy, base)
    if level != "surge" and state.level == "surge":
        return _leave_surge(state, base)
    return state.added_members, state.surge_flag, []


def _enter_surge(
    view: QueueView, state: EngineState, policy: QueuePolicy, base: _Base
) -> tuple[frozenset[str], bool, list[Action]]:
    actions: list[Action] = []
    added, surge_flag = state.added_members, state.surge_flag
    present = {m.interface for m in view.members}
    for member in policy.actions.add_members:
        # A member someone else put there is not ours to add, nor later to remove.
        if member.interface not in added and member.interface not in present:
            actions.append(
                AddMember(
                    interface=member.interface,
                    penalty=member.penalty,
                    member_name=member.name,
                    **base(),
                )
            )
            added |= {member.interface}
    if policy.actions.surge_flag and not surge_flag:
        actions.append(SetSurgeFlag(on=True, **base()))
        surge_flag = True
    return added, surge_flag, actions


def _leave_surge(state: EngineState, base: _Base) -> tuple[frozenset[str], bool, list[Action]]:
    actions: list[Action] = [
        RemoveMember(interface=interface, **base()) for interface in sorted(state.added_members)
    ]
    if state.surge_flag:
        actions.append(SetSurgeFlag(on=False, **base()))
    return frozenset(), False, actions


def _step_moves(
    view: QueueView,
    state: EngineState,
    policy: QueuePolicy,
    level: Level,
    episode: Episode | None,
    now: datetime,
    base: _Base,
) -> tuple[frozenset[str], Episode | None, list[MoveCaller]]:
    """In surge, move the callers waiting too long; forget moved joins no longer waiting."""
    moved = state.moved & {join_key(c.uniqueid, c.joined_at) for c in view.callers}
    if level != "surge":
        return moved, episode, []
    moves = _moves(view, policy, moved, now, base)
    moved |= {join_key(m.uniqueid, m.joined_at) for m in moves}
    if episode is not None and moves:
        episode = replace(episode, calls_affected=episode.calls_affected + len(moves))
    return moved, episode, moves


def _finish_episode(
    episode: Episode | None, level: Level, figs: Figures, now: datetime, base: _Base
) -> tuple[Episode | None, list[Action]]:
    """Keep the episode's peaks; back at normal, close it with its summary."""
    if episode is None:
        return None, []
    episode = replace(
        episode,
        peak_callers_waiting=max(episode.peak_callers_waiting, figs.callers_waiting),
        peak_longest_wait=max(episode.peak_longest_wait, figs.longest_wait),
    )
    if level == "normal":
        return None, [CloseEpisode(summary=episode.summary(now), **base())]
    return episode, []


def join_key(uniqueid: str, joined_at: datetime) -> str:
    return f"{uniqueid}@{joined_at.isoformat()}"


def _step_triggers(
    previous: Mapping[str, TriggerState], policy: QueuePolicy, figs: Figures, now: datetime
) -> dict[str, TriggerState]:
    states: dict[str, TriggerState] = {}
    for trigger in policy.triggers:
        ts = previous.get(trigger.key, TriggerState())
        value = figs.value(trigger.metric)
        if not policy.enabled:
            ts = TriggerState(released_at=now if ts.active else ts.released_at)
        elif ts.active:
            if trigger.released(value):
                ts = TriggerState(released_at=now)
        elif trigger.breached(value):
            since = ts.pending_since or now
            cooled = (
                ts.released_at is None or (now - ts.released_at).total_seconds() >= trigger.cooldown
            )
            if (now - since).total_seconds() >= trigger.min_duration and cooled:
                ts = TriggerState(pending_since=since, active=True, released_at=ts.released_at)
            else:
                ts = replace(ts, pending_since=since)
        elif ts.pending_since is not None:
            ts = replace(ts, pending_since=None)
        states[trigger.key] = ts
    return states


def _next_level(
    state: EngineState, target: str | None, policy: QueuePolicy, now: datetime
) -> Level:
    if target == "surge":
        return "surge"
    if target == "warning":
        return "warning"
    if state.level in ("warning", "surge"):
        return "recovery"
    if state.level == "recovery":
        calm_since = state.since or now
        if (now - calm_since).total_seconds() >= policy.recovery_seconds:
            return "normal"
        return "recovery"
    return "normal"


def _moves(
    view: QueueView, policy: QueuePolicy, moved: frozenset[str], now: datetime, base: Any
) -> list[MoveCaller]:
    taken = {c.uniqueid for c in view.callers if join_key(c.uniqueid, c.joined_at) in moved}
    result: list[MoveCaller] = []
    ordered = sorted(view.callers, key=lambda c: c.joined_at)
    move, callback = policy.actions.move_callers, policy.actions.offer_callback
    if move is not None:
        for caller in _eligible(ordered, taken, move.over_seconds, move.max_per_round, now):
            to_queue = move.to_queue
            context = OVERFLOW_CONTEXT if to_queue is not None else (move.context or "")
            exten = to_queue if to_queue is not None else move.exten
            result.append(_move(caller, "move", to_queue, context, exten, now, base))
            taken.add(caller.uniqueid)
    if callback is not None:
        for caller in _eligible(ordered, taken, callback.over_seconds, callback.max_per_round, now):
            result.append(_move(caller, "callback", None, CALLBACK_CONTEXT, view.queue, now, base))
            taken.add(caller.uniqueid)
    return result


def _eligible(
    callers: list[CallerView], taken: set[str], over: float, limit: int, now: datetime
) -> list[CallerView]:
    chosen = [
        c
        for c in callers
        if c.uniqueid not in taken and (now - c.joined_at).total_seconds() >= over
    ]
    return chosen[:limit] if limit else chosen


def _move(
    caller: CallerView,
    kind: MoveKind,
    to_queue: str | None,
    context: str,
    exten: str,
    now: datetime,
    base: Any,
) -> MoveCaller:
    return MoveCaller(
        move=kind,
        uniqueid=caller.uniqueid,
        channel=caller.channel,
        joined_at=caller.joined_at,
        waited=max(0.0, (now - caller.joined_at).total_seconds()),
        to_queue=to_queue,
        context=context,
        exten=exten,
        **base(),
    )


def _describe(trigger: TriggerPolicy, figs: Figures) -> str:
    value = figs.value(trigger.metric)
    shown = "none" if value is None else f"{value:g}"
    if trigger.metric == "no_agent":
        return f"{trigger.key}"
    sign = "<=" if trigger.metric == "service_level" else ">="
    return f"{trigger.key}={shown}{sign}{trigger.threshold:g}"


# --------------------------------------------------------------------------- persistence


def state_to_json(state: EngineState) -> str:
    def ts(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    episode = state.episode
    data = {
        "level": state.level,
        "since": ts(state.since),
        "triggers": {
            k: {
                "pending_since": ts(t.pending_since),
                "active": t.active,
                "released_at": ts(t.released_at),
            }
            for k, t in state.triggers.items()
        },
        "episode": None
        if episode is None
        else {
            "started_at": episode.started_at.isoformat(),
            "history": [[at.isoformat(), level] for at, level in episode.history],
            "peak_callers_waiting": episode.peak_callers_waiting,
            "peak_longest_wait": episode.peak_longest_wait,
            "calls_affected": episode.calls_affected,
        },
        "added_members": sorted(state.added_members),
        "moved": sorted(state.moved),
        "surge_flag": state.surge_flag,
    }
    return json.dumps(data, sort_keys=True)


def state_from_json(text: str) -> EngineState:
    data = json.loads(text)

    def ts(value: str | None) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)

    raw_episode = data.get("episode")
    episode = None
    if raw_episode is not None:
        episode = Episode(
            started_at=datetime.fromisoformat(raw_episode["started_at"]),
            history=tuple(
                (datetime.fromisoformat(at), level) for at, level in raw_episode["history"]
            ),
            peak_callers_waiting=int(raw_episode["peak_callers_waiting"]),
            peak_longest_wait=float(raw_episode["peak_longest_wait"]),
            calls_affected=int(raw_episode["calls_affected"]),
        )
    return EngineState(
        level=data["level"],
        since=ts(data["since"]),
        triggers={
            k: TriggerState(ts(v["pending_since"]), bool(v["active"]), ts(v["released_at"]))
            for k, v in data["triggers"].items()
        },
        episode=episode,
        added_members=frozenset(data["added_members"]),
        moved=frozenset(data["moved"]),
        surge_flag=bool(data["surge_flag"]),
    )
