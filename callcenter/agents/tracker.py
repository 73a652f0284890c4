"""The state worker: each agent's derived state stored when it changes (one history row per
change, batched per round), told to their console and to the wallboard, and the alert of a
not-ready code held over its limit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.agents import store
from callcenter.agents.floor import Floor
from callcenter.agents.states import (
    SIGNED_OUT,
    AgentState,
    StateName,
    over_limit,
)
from callcenter.agents.store import Code, Status
from callcenter.feed.serialize import dumps, to_data

log = logging.getLogger(__name__)

# At most this many agents' state changes per transaction.
STATE_BATCH = 200


def state_data(status: Status | None, codes: Mapping[str, Code], now: datetime) -> dict[str, Any]:
    state = SIGNED_OUT if status is None else status.state
    since = None if status is None else status.since
    code = codes.get(state.code) if state.state is StateName.NOT_READY else None
    limit = None if code is None else code.limit_seconds
    return {
        "state": state.state.value,
        "code": state.code,
        "reason": state.reason,
        "since": to_data(since),  # JSON text: the feed and the API send it as it is
        "limit_seconds": limit,
        "over_limit": since is not None and over_limit(state, since, limit, now),
    }


def code_data(code: Code, in_use: int = 0) -> dict[str, Any]:
    return {
        "in_use": in_use,
        "code": code.code,
        "label_zh": code.label_zh,
        "label_en": code.label_en,
        "paid": code.paid,
        "limit_seconds": code.limit_seconds,
        "max_agents": code.max_agents,
        "active": code.active,
    }


class StateTracker(Floor):
    async def work_states(self) -> None:
        """The state worker: store each agent's state when it differs from the stored one,
        every agent that changed since the last round in one transaction."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            stale, self._stale = self._stale, set()
            for pbx in stale:
                self.rebuild_members(pbx)
            dirty, self._dirty = self._dirty, set()
            try:
                await self.store_states(dirty)
            except (SQLAlchemyError, OSError) as exc:
                log.error(
                    "states of %d agent(s) not stored (database: %s); retrying",
                    len(dirty),
                    type(exc).__name__,
                )
                self._dirty |= dirty
                await asyncio.sleep(1.0)
                self._wake.set()

    async def store_states(self, user_ids: Iterable[int]) -> None:
        changed: list[tuple[int, AgentState]] = []
        for user_id in user_ids:
            if user_id not in self.users:
                continue
            state = self.derived(user_id)
            status = self.status.get(user_id)
            if status is not None and status.state == state:
                continue
            if status is None and state == SIGNED_OUT:
                continue
            changed.append((user_id, state))
        for start in range(0, len(changed), STATE_BATCH):
            await self._store_batch(changed[start : start + STATE_BATCH])

    async def _store_batch(self, changed: list[tuple[int, AgentState]]) -> None:
        now = self.clock()
        stored: list[Status] = []
        async with AsyncSession(self.engine) as session, session.begin():
            for user_id, state in changed:
                phone = self.phone_of(user_id) or ("", "")
                code = self.codes.get(state.code)
                await store.record_state(
                    session,
                    user_id,
                    state,
                    now,
                    paid=code.paid if code is not None else True,
                    pbx=phone[0],
                    interface=phone[1],
                )
                status = await store.status_of(session, user_id)
                if status is not None:
                    stored.append(status)
        for status in stored:
            self.status[status.user_id] = status
            self._announce(status.user_id, status)

    def _announce(self, user_id: int, status: Status) -> None:
        user = self.users[user_id]
        data = state_data(status, self.codes, self.clock())
        self.seats.tell(user_id, {"type": "agent_state", "state": data})
        self.publish(
            dumps(
                {
                    "type": "AgentState",
                    "user_id": user_id,
                    "username": user.username,
                    "display_name": user.display_name,
                    "teams": [t.id for t in self.teams if t.has(user_id)],
                    "pbx": status.pbx,
                    "interface": status.interface,
                    "state": data,
                }
            )
        )

    async def check_limits(self) -> None:
        """Alert each agent (and their team leaders, on the feed) once per over-long code."""
        now = self.clock()
        for user_id, status in list(self.status.items()):
            code = self.codes.get(status.state.code)
            if status.alerted or code is None:
                continue
            if not over_limit(status.state, status.since, code.limit_seconds, now):
                continue
            if not await store.mark_alerted(self.engine, user_id, status.since):
                continue
            self.status[user_id] = replace(status, alerted=True)
            user = self.users.get(user_id)
            message = {
                "code": code.code,
                "label_zh": code.label_zh,
                "label_en": code.label_en,
                "limit_seconds": code.limit_seconds,
                "since": to_data(status.since),
            }
            log.info(
                "agent %s over the limit of %s (%s s)",
                user.username if user else user_id,
                code.code,
                code.limit_seconds,
            )
            self.seats.tell(user_id, {"type": "state_over_limit", **message})
            self.publish(
                dumps(
                    {
                        "type": "AgentStateOverLimit",
                        "user_id": user_id,
                        "username": user.username if user else "",
                        "display_name": user.display_name if user else "",
                        "teams": [t.id for t in self.teams if t.has(user_id)],
                        **message,
                    }
                )
            )
