"""Routing API (staff): policies read and edited live (stored, audited), episodes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from callcenter.auth.permissions import Permission as P
from callcenter.feed.serialize import to_data
from callcenter.routing.policy import QUEUE_NAME_PATTERN, QueuePolicy
from callcenter.web import http
from callcenter.web.errors import Problem
from callcenter.web.http import Route, needs, read_body, read_path, read_query, reply, request_user

if TYPE_CHECKING:
    from callcenter.routing.room import RoutingRoom

NO_SUCH_POLICY = Problem(404, "no-such-policy", "the queue has no routing policy")
NO_LIVE_POLICY = Problem(404, "no-live-policy", "the queue runs the file's policy")
MOVE_TO_SAME_QUEUE = Problem(400, "move-to-same-queue", "callers cannot move to their queue")
UNKNOWN_PBX = Problem(400, "unknown-pbx", "no PBX of that name is configured")
UNKNOWN_TARGET_QUEUE = Problem(400, "unknown-target-queue", "the move target does not exist")
PBX_NOT_SYNCED = Problem(503, "pbx-not-synced", "the PBX's live model is not loaded yet")
_TARGET_PROBLEMS = {p.error: p for p in (UNKNOWN_PBX, UNKNOWN_TARGET_QUEUE, PBX_NOT_SYNCED)}

# Largest id SQLite and PostgreSQL's BIGINT hold: anything larger is no episode.
MAX_ID = 2**63 - 1


class QueuePath(BaseModel):
    queue: str = Field(pattern=QUEUE_NAME_PATTERN)


class EpisodePath(BaseModel):
    episode: int = Field(ge=1, le=MAX_ID)


class EpisodesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    queue: str | None = Field(default=None, max_length=80)
    limit: int = Field(default=50, ge=1, le=500)


class PolicyAnswer(BaseModel):
    queue: str
    policy: QueuePolicy | None
    source: Literal["live", "config"] | None
    updated_at: datetime | None
    updated_by: str | None
    # PBX name -> the queue's routing level there (normal, alert, surge...).
    levels: dict[str, str]


class PolicyChange(BaseModel):
    changed_at: datetime
    username: str
    kind: Literal["edit", "reset"]
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class PolicyWithChanges(PolicyAnswer):
    changes: list[PolicyChange]


class PolicyList(BaseModel):
    policies: list[PolicyAnswer]


class Episode(BaseModel):
    id: int
    pbx: str
    queue: str
    started_at: AwareDatetime
    ended_at: AwareDatetime | None
    levels: list[Any]
    peak_callers_waiting: int
    peak_longest_wait: float
    calls_affected: int
    summary: dict[str, Any] | None


class EpisodeList(BaseModel):
    episodes: list[Episode]


class EpisodeAction(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: int
    episode_id: int | None
    pbx: str
    queue: str
    decided_at: AwareDatetime
    kind: str
    level: str
    target: str | None
    reason: str
    status: str
    message: str | None
    done_at: AwareDatetime | None


class EpisodeActions(BaseModel):
    episode: int
    actions: list[EpisodeAction]


class RoutingApi:
    def __init__(self, room: RoutingRoom) -> None:
        self.room = room

    def routes(self) -> Sequence[Route]:
        read, edit = needs(P.ROUTING_READ), needs(P.ROUTING_EDIT)
        queue = {"path_params": QueuePath, "tag": "routing"}
        return [
            http.get(
                "/api/routing/policies",
                self.list_policies,
                access=read,
                tag="routing",
                summary="Every queue's effective routing policy and its level",
                response=PolicyList,
            ),
            http.get(
                "/api/routing/policies/{queue}",
                self.get_policy,
                access=read,
                **queue,
                summary="One queue's policy with its last 20 changes",
                response=PolicyWithChanges,
                errors=(NO_SUCH_POLICY,),
            ),
            http.put(
                "/api/routing/policies/{queue}",
                self.put_policy,
                access=edit,
                **queue,
                summary="Edit a queue's policy live (stored, audited, every replica)",
                body=QueuePolicy,
                response=PolicyAnswer,
                errors=(MOVE_TO_SAME_QUEUE, *_TARGET_PROBLEMS.values()),
            ),
            http.delete(
                "/api/routing/policies/{queue}",
                self.delete_policy,
                access=edit,
                **queue,
                summary="Drop the live edit: back to the file's policy",
                response=PolicyAnswer,
                errors=(NO_LIVE_POLICY,),
            ),
            http.get(
                "/api/routing/episodes",
                self.list_episodes,
                access=read,
                tag="routing",
                summary="Overflow and surge episodes, newest first",
                query=EpisodesQuery,
                response=EpisodeList,
            ),
            http.get(
                "/api/routing/episodes/{episode}/actions",
                self.episode_actions,
                access=read,
                tag="routing",
                path_params=EpisodePath,
                summary="What the engine decided and did in one episode",
                response=EpisodeActions,
            ),
        ]

    def _policy_data(self, queue: str, levels: dict[tuple[str, str], str]) -> dict[str, Any]:
        room = self.room
        live = room.live_policies.get(queue)
        policy = room.policies().get(queue)
        return {
            "queue": queue,
            "policy": None if policy is None else policy.model_dump(mode="json"),
            "source": None if policy is None else "live" if live is not None else "config",
            "updated_at": None if live is None else live["updated_at"],
            "updated_by": None if live is None else live["updated_by"],
            "levels": {pbx: level for (pbx, q), level in levels.items() if q == queue},
        }

    async def list_policies(self, request: web.Request) -> web.Response:
        levels = await self.room.levels()
        data = [self._policy_data(q, levels) for q in sorted(self.room.policies())]
        return reply({"policies": to_data(data)})

    async def get_policy(self, request: web.Request) -> web.Response:
        queue = read_path(request, QueuePath).queue
        if queue not in self.room.policies():
            raise NO_SUCH_POLICY(f"no routing policy for queue {queue!r}")
        data = self._policy_data(queue, await self.room.levels())
        data["changes"] = await self.room.store.policy_changes(queue, limit=20)
        return reply(to_data(data))

    async def put_policy(self, request: web.Request) -> web.Response:
        user = request_user(request)
        queue = read_path(request, QueuePath).queue
        policy = await read_body(request, QueuePolicy)
        move = policy.actions.move_callers
        if move is not None and move.to_queue == queue:
            raise MOVE_TO_SAME_QUEUE(f"callers of {queue!r} cannot be moved to {queue!r} itself")
        problem = self.room.target_problem(policy)
        if problem is not None:
            _, error, message = problem
            raise _TARGET_PROBLEMS[error](message)
        previous = self.room.policies().get(queue)
        stored = policy.model_dump(mode="json")
        now = datetime.now(UTC)
        await self.room.store.put_policy(
            queue,
            stored,
            user.username,
            None if previous is None else previous.model_dump(mode="json"),
            now,
        )
        self.room.live_policies[queue] = {
            "policy": stored,
            "updated_at": now,
            "updated_by": user.username,
        }
        return reply(to_data(self._policy_data(queue, await self.room.levels())))

    async def delete_policy(self, request: web.Request) -> web.Response:
        user = request_user(request)
        queue = read_path(request, QueuePath).queue
        room = self.room
        live = room.live_policies.get(queue)
        no_live = NO_LIVE_POLICY(f"queue {queue!r} has no live edit; it runs the file's policy")
        if live is None:
            raise no_live
        from_file = room.settings.queues.get(queue)
        after = None if from_file is None else from_file.model_dump(mode="json")
        now = datetime.now(UTC)
        reset = await room.store.reset_policy(queue, user.username, live["policy"], after, now)
        levels = await room.levels()
        # Gone either way: when another request (or replica) dropped it first, say so. Popped
        # after the last await: the answer says what this request left in place.
        room.live_policies.pop(queue, None)
        if not reset:
            raise no_live
        return reply(to_data(self._policy_data(queue, levels)))

    async def list_episodes(self, request: web.Request) -> web.Response:
        query = read_query(request, EpisodesQuery)
        episodes = await self.room.store.episodes(query.queue, query.limit)
        return reply({"episodes": to_data(episodes)})

    async def episode_actions(self, request: web.Request) -> web.Response:
        episode_id = read_path(request, EpisodePath).episode
        actions = await self.room.store.actions(episode_id)
        return reply({"episode": episode_id, "actions": to_data(actions)})
