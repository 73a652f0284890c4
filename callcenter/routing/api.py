"""Routing API (staff only): policies read and edited live (stored, audited), episodes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import ValidationError

from callcenter.auth.identity import require_user
from callcenter.feed.serialize import dumps, to_data
from callcenter.routing.policy import QueuePolicy, valid_queue_name
from callcenter.web.errors import api_error

if TYPE_CHECKING:
    from callcenter.routing.component import RoutingComponent


def _queue(request: web.Request) -> str:
    queue = request.match_info["queue"]
    if not valid_queue_name(queue):
        raise api_error(400, "bad-queue-name", f"{queue!r} is not a queue name")
    return queue


def _policy_data(
    component: RoutingComponent, queue: str, levels: dict[tuple[str, str], str]
) -> dict[str, Any] | None:
    live = component.live_policies.get(queue)
    policy = component.policies().get(queue)
    if policy is None:
        return None
    states = {pbx: level for (pbx, q), level in levels.items() if q == queue}
    return {
        "queue": queue,
        "policy": policy.model_dump(mode="json"),
        "source": "live" if live is not None else "config",
        "updated_at": None if live is None else live["updated_at"],
        "updated_by": None if live is None else live["updated_by"],
        "levels": states,
    }


def add_routes(app: web.Application, component: RoutingComponent) -> None:
    async def list_policies(request: web.Request) -> web.Response:
        require_user(request, "supervisor", "admin")
        levels = await component.levels()
        data = [_policy_data(component, q, levels) for q in sorted(component.policies())]
        return web.json_response({"policies": to_data(data)}, dumps=dumps)

    async def get_policy(request: web.Request) -> web.Response:
        require_user(request, "supervisor", "admin")
        queue = _queue(request)
        data = _policy_data(component, queue, await component.levels())
        if data is None:
            raise api_error(404, "no-such-policy", f"no routing policy for queue {queue!r}")
        data["changes"] = await component.store.policy_changes(queue, limit=20)
        return web.json_response(to_data(data), dumps=dumps)

    async def put_policy(request: web.Request) -> web.Response:
        user = require_user(request, "supervisor", "admin")
        queue = _queue(request)
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise api_error(400, "bad-json", "the body is not JSON") from None
        try:
            policy = QueuePolicy.model_validate(body)
        except ValidationError as exc:
            problems = [
                {"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]}
                for e in exc.errors(include_input=False, include_url=False)
            ]
            raise api_error(
                400, "invalid-policy", "the policy is not valid", problems=problems
            ) from None
        if (
            policy.actions.move_callers is not None
            and policy.actions.move_callers.to_queue == queue
        ):
            raise api_error(
                400,
                "move-to-same-queue",
                f"callers of {queue!r} cannot be moved to {queue!r} itself",
            )
        problem = component.target_problem(policy)
        if problem is not None:
            raise api_error(*problem)
        previous = component.policies().get(queue)
        stored = policy.model_dump(mode="json")
        now = datetime.now(UTC)
        await component.store.put_policy(
            queue,
            stored,
            user.username,
            None if previous is None else previous.model_dump(mode="json"),
            now,
        )
        component.live_policies[queue] = {
            "policy": stored,
            "updated_at": now,
            "updated_by": user.username,
        }
        data = _policy_data(component, queue, await component.levels())
        return web.json_response(to_data(data), dumps=dumps)

    async def delete_policy(request: web.Request) -> web.Response:
        """Drop the live edit: the queue goes back to the configuration file's policy."""
        user = require_user(request, "supervisor", "admin")
        queue = _queue(request)
        live = component.live_policies.get(queue)
        if live is None:
            raise api_error(
                404,
                "no-live-policy",
                f"queue {queue!r} has no live edit; it runs the file's policy",
            )
        from_file = component.settings.queues.get(queue)
        after = None if from_file is None else from_file.model_dump(mode="json")
        now = datetime.now(UTC)
        if not await component.store.reset_policy(queue, user.username, live["policy"], after, now):
            # Another request (or replica) dropped it first: say so rather than pretend.
            component.live_policies.pop(queue, None)
            raise api_error(
                404,
                "no-live-policy",
                f"queue {queue!r} has no live edit; it runs the file's policy",
            )
        component.live_policies.pop(queue, None)
        data = _policy_data(component, queue, await component.levels())
        if data is None:
            data = {
                "queue": queue,
                "policy": None,
                "source": None,
                "updated_at": None,
                "updated_by": None,
                "levels": {},
            }
        return web.json_response(to_data(data), dumps=dumps)

    async def list_episodes(request: web.Request) -> web.Response:
        require_user(request, "supervisor", "admin")
        try:
            limit = max(1, min(500, int(request.query.get("limit", "50"))))
        except ValueError:
            raise api_error(400, "bad-limit", "limit must be a whole number") from None
        episodes = await component.store.episodes(request.query.get("queue"), limit)
        return web.json_response({"episodes": to_data(episodes)}, dumps=dumps)

    async def episode_actions(request: web.Request) -> web.Response:
        require_user(request, "supervisor", "admin")
        try:
            episode_id = int(request.match_info["episode"])
        except ValueError:
            raise api_error(400, "bad-episode", "episode ids are numbers") from None
        actions = await component.store.actions(episode_id)
        return web.json_response({"episode": episode_id, "actions": to_data(actions)}, dumps=dumps)

    app.router.add_get("/api/routing/policies", list_policies)
    app.router.add_get("/api/routing/policies/{queue}", get_policy)
    app.router.add_put("/api/routing/policies/{queue}", put_policy)
    app.router.add_delete("/api/routing/policies/{queue}", delete_policy)
    app.router.add_get("/api/routing/episodes", list_episodes)
    app.router.add_get("/api/routing/episodes/{episode}/actions", episode_actions)
