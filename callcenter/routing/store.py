"""Database side of routing: policies as edited live, engine state, episodes and the action log.

A decision is committed in ONE transaction: the queue's new engine state, the episode, and
its actions as ``pending`` rows together with their claims (a moved caller, a member the
engine adds). Only then do the actions run, each row ending ``ok``/``error``/``skipped`` with
the PBX's message. So a crash at any point neither loses an action (pending rows run again
after the restart) nor repeats one (claims are unique per pbx + uniqueid / interface).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, and_, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.routing.engine import (
    Action,
    AddMember,
    CloseEpisode,
    Episode,
    MoveCaller,
    Notify,
    RemoveMember,
    SetSurgeFlag,
)
from callcenter.routing.models import (
    RoutingAction,
    RoutingEpisode,
    RoutingMember,
    RoutingMovedCaller,
    RoutingPolicy,
    RoutingPolicyChange,
    RoutingState,
)

ACTIONS = cast(Table, RoutingAction.__table__)
EPISODES = cast(Table, RoutingEpisode.__table__)
MEMBERS = cast(Table, RoutingMember.__table__)
MOVES = cast(Table, RoutingMovedCaller.__table__)
POLICIES = cast(Table, RoutingPolicy.__table__)
POLICY_CHANGES = cast(Table, RoutingPolicyChange.__table__)
STATES = cast(Table, RoutingState.__table__)
RESET_KEY = "reset_to"

if TYPE_CHECKING:
    from callcenter.routing.leases import Leases


class LeaseLost(Exception):
    """The queue's lease is no longer this replica's (with that epoch): nothing was stored."""


@dataclass(frozen=True, slots=True)
class StoredAction:
    """An action row to run: the decided action and its row id."""

    id: int
    action: Action
    skipped: str | None = None  # why it must not run (already claimed...)
    epoch: int | None = None  # the lease epoch it may be sent under (None: no fencing)


def target_of(action: Action) -> str | None:
    if isinstance(action, AddMember | RemoveMember):
        return action.interface
    if isinstance(action, MoveCaller):
        return action.uniqueid
    return None


def detail_of(action: Action) -> dict[str, Any]:
    if isinstance(action, Notify):
        return {"previous": action.previous}
    if isinstance(action, AddMember):
        return {
            "interface": action.interface,
            "penalty": action.penalty,
            "member_name": action.member_name,
        }
    if isinstance(action, RemoveMember):
        return {"interface": action.interface}
    if isinstance(action, MoveCaller):
        return {
            "move": action.move,
            "uniqueid": action.uniqueid,
            "channel": action.channel,
            "joined_at": action.joined_at.isoformat(),
            "waited": round(action.waited, 3),
            "to_queue": action.to_queue,
            "context": action.context,
            "exten": action.exten,
        }
    if isinstance(action, SetSurgeFlag):
        return {"on": action.on}
    if isinstance(action, CloseEpisode):
        return dict(action.summary)
    return {}


def action_from_row(row: Any) -> Action:
    """Rebuild a pending action from its row (after a restart)."""
    from callcenter.routing.engine import Figures

    figs = Figures(
        **{
            k: row.figures.get(k)
            for k in (
                "callers_waiting",
                "longest_wait",
                "service_level",
                "predicted_wait",
                "agents_available",
                "agents_staffed",
            )
        },
        engine_members_available=row.figures.get("engine_members_available", 0),
    )
    base: dict[str, Any] = {
        "at": row.decided_at,
        "pbx": row.pbx,
        "queue": row.queue,
        "level": row.level,
        "figures": figs,
        "reason": row.reason,
    }
    d = row.detail
    if row.kind == "add_member":
        return AddMember(
            interface=d["interface"], penalty=d["penalty"], member_name=d["member_name"], **base
        )
    if row.kind == "remove_member":
        return RemoveMember(interface=d["interface"], **base)
    if row.kind == "move_caller":
        return MoveCaller(
            move=d["move"],
            uniqueid=d["uniqueid"],
            channel=d["channel"],
            joined_at=datetime.fromisoformat(d["joined_at"]),
            waited=d["waited"],
            to_queue=d["to_queue"],
            context=d["context"],
            exten=d["exten"],
            **base,
        )
    if row.kind == "surge_flag":
        return SetSurgeFlag(on=d["on"], **base)
    if row.kind == "notify":
        return Notify(previous=d["previous"], **base)
    if row.kind == "episode_close":
        return CloseEpisode(summary=d, **base)
    from callcenter.routing.engine import OpenEpisode

    return OpenEpisode(**base)


class RoutingStore:
    def __init__(self, engine: AsyncEngine, leases: Leases | None = None) -> None:
        self.engine = engine
        self.leases = leases
        dialect = engine.dialect.name
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert

    # ------------------------------------------------------------------ policies

    async def live_policies(self) -> dict[str, dict[str, Any]]:
        async with self.engine.connect() as connection:
            rows = (await connection.execute(select(POLICIES))).all()
        return {
            row.queue: {
                "policy": row.policy,
                "updated_at": row.updated_at,
                "updated_by": row.updated_by,
            }
            for row in rows
        }

    async def put_policy(
        self,
        queue: str,
        policy: dict[str, Any],
        username: str,
        before: dict[str, Any] | None,
        now: datetime,
    ) -> None:
        statement = self._insert(POLICIES).values(
            queue=queue, policy=policy, updated_at=now, updated_by=username
        )
        statement = statement.on_conflict_do_update(
            index_elements=["queue"],
            set_={
                "policy": statement.excluded.policy,
                "updated_at": statement.excluded.updated_at,
                "updated_by": statement.excluded.updated_by,
            },
        )
        async with self.engine.begin() as connection:
            await connection.execute(statement)
            await connection.execute(
                POLICY_CHANGES.insert().values(
                    queue=queue, changed_at=now, username=username, before=before, after=policy
                )
            )

    async def reset_policy(
        self,
        queue: str,
        username: str,
        before: dict[str, Any],
        from_file: dict[str, Any] | None,
        now: datetime,
    ) -> bool:
        """Drop the live edit (audited); False when there was none to drop."""
        async with self.engine.begin() as connection:
            result = await connection.execute(delete(POLICIES).where(POLICIES.c.queue == queue))
            if not result.rowcount:
                return False
            # `after` is never null: a reset is recorded as {"reset_to": "config", ...}, a
            # shape no policy has (policies forbid unknown keys).
            await connection.execute(
                POLICY_CHANGES.insert().values(
                    queue=queue,
                    changed_at=now,
                    username=username,
                    before=before,
                    after={RESET_KEY: "config", "policy": from_file},
                )
            )
        return True

    async def policies_version(self) -> tuple[int, datetime | None]:
        """Changes whenever a live policy is stored or dropped (by any replica)."""
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(select(func.count(), func.max(POLICIES.c.updated_at)))
            ).one()
        latest = row[1]
        if isinstance(latest, str):  # SQLite gives an aggregate's datetime back as text
            latest = datetime.fromisoformat(latest)
        return int(row[0]), latest

    async def policy_changes(self, queue: str, limit: int = 50) -> list[dict[str, Any]]:
        async with self.engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(POLICY_CHANGES)
                    .where(POLICY_CHANGES.c.queue == queue)
                    .order_by(POLICY_CHANGES.c.id.desc())
                    .limit(limit)
                )
            ).all()
        changes = []
        for r in rows:
            reset = isinstance(r.after, dict) and RESET_KEY in r.after
            changes.append(
                {
                    "changed_at": r.changed_at,
                    "username": r.username,
                    "kind": "reset" if reset else "edit",
                    "before": r.before,
                    "after": r.after["policy"] if reset else r.after,
                }
            )
        return changes

    # ------------------------------------------------------------------ engine state

    async def states(self) -> dict[tuple[str, str], str]:
        async with self.engine.connect() as connection:
            rows = (await connection.execute(select(STATES))).all()
        return {(row.pbx, row.queue): row.state for row in rows}

    async def state(self, pbx: str, queue: str) -> str | None:
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(
                    select(STATES.c.state).where(STATES.c.pbx == pbx, STATES.c.queue == queue)
                )
            ).first()
        return None if row is None else str(row.state)

    async def commit(
        self,
        pbx: str,
        queue: str,
        state_json: str,
        episode: Episode | None,
        actions: Sequence[Action],
        now: datetime,
        epoch: int | None = None,
    ) -> list[StoredAction]:
        """Persist one decision: state, episode, pending actions and their claims.

        With an ``epoch``, only while this replica holds the queue's lease with it (checked
        and renewed in the same transaction), else ``LeaseLost`` and nothing is stored.
        """
        async with self.engine.begin() as connection:
            if (
                epoch is not None
                and self.leases is not None
                and not await self.leases.hold(connection, pbx, queue, epoch)
            ):
                raise LeaseLost(f"{pbx}/{queue}: lease epoch {epoch} no longer held")
            statement = self._insert(STATES).values(
                pbx=pbx, queue=queue, state=state_json, updated_at=now
            )
            await connection.execute(
                statement.on_conflict_do_update(
                    index_elements=["pbx", "queue"],
                    set_={
                        "state": statement.excluded.state,
                        "updated_at": statement.excluded.updated_at,
                    },
                )
            )
            episode_id = await self._episode(connection, pbx, queue, episode, actions)
            stored = []
            for action in actions:
                stored.append(await self._add_action(connection, episode_id, action, epoch))
        return stored

    async def _episode(
        self,
        connection: AsyncConnection,
        pbx: str,
        queue: str,
        episode: Episode | None,
        actions: Sequence[Action],
    ) -> int | None:
        closing = next((a for a in actions if isinstance(a, CloseEpisode)), None)
        if episode is None and closing is None:
            return None
        if closing is not None:
            summary = dict(closing.summary)
            started = datetime.fromisoformat(summary["started_at"])
            values: dict[str, Any] = {
                "ended_at": datetime.fromisoformat(summary["ended_at"]),
                "levels": summary["levels"],
                "summary": summary,
                "peak_callers_waiting": summary["peak_callers_waiting"],
                "peak_longest_wait": summary["peak_longest_wait"],
                "calls_affected": summary["calls_affected"],
            }
        else:
            assert episode is not None
            started = episode.started_at
            values = {
                "levels": [{"at": at.isoformat(), "level": level} for at, level in episode.history],
                "peak_callers_waiting": episode.peak_callers_waiting,
                "peak_longest_wait": episode.peak_longest_wait,
                "calls_affected": episode.calls_affected,
            }
        statement = self._insert(EPISODES).values(
            pbx=pbx, queue=queue, started_at=started, **values
        )
        await connection.execute(
            statement.on_conflict_do_update(
                index_elements=["pbx", "queue", "started_at"],
                set_={k: statement.excluded[k] for k in values},
            )
        )
        row = (
            await connection.execute(
                select(EPISODES.c.id).where(
                    EPISODES.c.pbx == pbx,
                    EPISODES.c.queue == queue,
                    EPISODES.c.started_at == started,
                )
            )
        ).first()
        return None if row is None else int(row.id)

    async def _add_action(
        self, connection: AsyncConnection, episode_id: int | None, action: Action, epoch: int | None
    ) -> StoredAction:
        bookkeeping = action.kind in ("episode_open", "episode_close")
        result = await connection.execute(
            ACTIONS.insert().values(
                episode_id=episode_id,
                pbx=action.pbx,
                queue=action.queue,
                decided_at=action.at,
                kind=action.kind,
                level=action.level,
                target=target_of(action),
                figures=action.figures.as_dict(),
                reason=action.reason[:400],
                detail=detail_of(action),
                status="ok" if bookkeeping else "pending",
                done_at=action.at if bookkeeping else None,
                epoch=epoch,
            )
        )
        action_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        skipped = await self._claim(connection, action_id, action)
        if skipped is not None:
            await connection.execute(
                update(ACTIONS)
                .where(ACTIONS.c.id == action_id)
                .values(status="skipped", message=skipped, done_at=action.at)
            )
        return StoredAction(action_id, action, "bookkeeping" if bookkeeping else skipped, epoch)

    async def _claim(
        self, connection: AsyncConnection, action_id: int, action: Action
    ) -> str | None:
        if isinstance(action, MoveCaller):
            destination = f"{action.context},{action.exten},1"
            result = await connection.execute(
                self._insert(MOVES)
                .values(
                    pbx=action.pbx,
                    uniqueid=action.uniqueid,
                    from_queue=action.queue,
                    to_queue=action.to_queue,
                    destination=destination,
                    kind=action.move,
                    joined_at=action.joined_at,
                    moved_at=action.at,
                    waited_seconds=action.waited,
                    status="pending",
                    action_id=action_id,
                )
                .on_conflict_do_nothing()
            )
            return None if result.rowcount else "caller already moved"
        if isinstance(action, AddMember):
            result = await connection.execute(
                self._insert(MEMBERS)
                .values(
                    pbx=action.pbx,
                    queue=action.queue,
                    interface=action.interface,
                    penalty=action.penalty,
                    added_at=action.at,
                    action_id=action_id,
                )
                .on_conflict_do_nothing()
            )
            return None if result.rowcount else "member already added by the engine"
        if isinstance(action, RemoveMember):
            row = (
                await connection.execute(
                    select(MEMBERS.c.interface).where(
                        MEMBERS.c.pbx == action.pbx,
                        MEMBERS.c.queue == action.queue,
                        MEMBERS.c.interface == action.interface,
                    )
                )
            ).first()
            return None if row is not None else "not a member the engine added"
        return None

    async def finish(
        self, stored: StoredAction, status: str, message: str | None, now: datetime
    ) -> None:
        action = stored.action
        async with self.engine.begin() as connection:
            await connection.execute(
                update(ACTIONS)
                .where(ACTIONS.c.id == stored.id)
                .values(
                    status=status, message=None if message is None else message[:400], done_at=now
                )
            )
            if isinstance(action, MoveCaller):
                moved = "ok" if status == "ok" else ("unknown" if status == "unknown" else "error")
                await connection.execute(
                    update(MOVES)
                    .where(
                        MOVES.c.pbx == action.pbx,
                        MOVES.c.uniqueid == action.uniqueid,
                        MOVES.c.action_id == stored.id,
                    )
                    .values(status=moved, message=None if message is None else message[:400])
                )
            member = and_(
                MEMBERS.c.pbx == action.pbx,
                MEMBERS.c.queue == action.queue,
                MEMBERS.c.interface == getattr(action, "interface", ""),
            )
            if isinstance(action, AddMember) and status != "ok":
                await connection.execute(delete(MEMBERS).where(member))
            if isinstance(action, RemoveMember) and status == "ok":
                await connection.execute(delete(MEMBERS).where(member))

    async def release_move(self, stored: StoredAction, message: str, now: datetime) -> None:
        """The PBX never saw the Redirect (link down): free the claim so it may be tried again."""
        action = stored.action
        assert isinstance(action, MoveCaller)
        async with self.engine.begin() as connection:
            await connection.execute(
                delete(MOVES).where(
                    MOVES.c.pbx == action.pbx,
                    MOVES.c.uniqueid == action.uniqueid,
                    MOVES.c.action_id == stored.id,
                )
            )
            await connection.execute(
                update(ACTIONS)
                .where(ACTIONS.c.id == stored.id)
                .values(status="error", message=message[:400], done_at=now)
            )

    async def pending(self, pbx: str, queue: str | None = None) -> list[StoredAction]:
        query = select(ACTIONS).where(ACTIONS.c.pbx == pbx, ACTIONS.c.status == "pending")
        if queue is not None:
            query = query.where(ACTIONS.c.queue == queue)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query.order_by(ACTIONS.c.id))).all()
        return [StoredAction(int(row.id), action_from_row(row), epoch=row.epoch) for row in rows]

    async def skip_fenced(self, stored: StoredAction, message: str, now: datetime) -> bool:
        """End a row this replica may no longer send, unless the new holder adopted it."""
        async with self.engine.begin() as connection:
            result = await connection.execute(
                update(ACTIONS)
                .where(
                    ACTIONS.c.id == stored.id,
                    ACTIONS.c.status == "pending",
                    ACTIONS.c.epoch == stored.epoch,
                )
                .values(status="skipped", message=message[:400], done_at=now)
            )
        return bool(result.rowcount)

    async def members(self, pbx: str, queue: str) -> list[str]:
        async with self.engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(MEMBERS.c.interface).where(
                        MEMBERS.c.pbx == pbx, MEMBERS.c.queue == queue
                    )
                )
            ).all()
        return [row.interface for row in rows]

    # ------------------------------------------------------------------ reading back

    async def episodes(self, queue: str | None, limit: int) -> list[dict[str, Any]]:
        query = select(EPISODES).order_by(EPISODES.c.started_at.desc()).limit(limit)
        if queue:
            query = query.where(EPISODES.c.queue == queue)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [dict(row._mapping) for row in rows]

    async def actions(self, episode_id: int) -> list[dict[str, Any]]:
        async with self.engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(ACTIONS).where(ACTIONS.c.episode_id == episode_id).order_by(ACTIONS.c.id)
                )
            ).all()
        return [dict(row._mapping) for row in rows]
