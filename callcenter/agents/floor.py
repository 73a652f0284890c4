"""What the agents room knows, in memory: users, teams, codes, skills, who sits where, and
each phone's queue memberships from the live model; and the state each agent is in by it.

The database holds the truth several replicas share; this picture is loaded at start,
refreshed from what changed every few seconds, and kept in step with the live model on the
event path (dictionary updates only: the state worker of ``tracker.py`` does the writing).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.agents import store
from callcenter.agents.problems import NO_SUCH_AGENT
from callcenter.agents.scope import EVERYTHING, Scope, Team, scope_of
from callcenter.agents.seats import Seats
from callcenter.agents.states import (
    AgentState,
    StateName,
    derive,
)
from callcenter.agents.store import Code, Status
from callcenter.auth import users as user_store
from callcenter.auth.identity import User
from callcenter.auth.permissions import P
from callcenter.clock import Clock, utc_now
from callcenter.component import LinkDirectory, LiveReader, Publish
from callcenter.live import MemberView
from callcenter.settings import AgentsSettings

log = logging.getLogger(__name__)

# Re-reads overlap by this much: a row committed just before a read started is not missed.
REFRESH_OVERLAP = timedelta(seconds=5)


class Floor:
    def __init__(
        self,
        engine: AsyncEngine,
        live: LiveReader,
        links: LinkDirectory,
        publish: Publish,
        settings: AgentsSettings,
        *,
        seats: Seats,
        pbx_names: Iterable[str],
        clock: Clock = utc_now,
    ) -> None:
        self.engine = engine
        self.live = live
        self.links = links
        self.publish = publish
        self.settings = settings
        self.seats = seats
        self.pbx_names = tuple(pbx_names)
        self.clock = clock
        self.users: dict[int, User] = {}
        # Fixed phones (users.interfaces) to their user.
        self.fixed: dict[str, int] = {}
        self.disabled: set[int] = set()
        self.teams: list[Team] = []
        self.codes: dict[str, Code] = {}
        self.skills: dict[int, dict[str, int]] = {}
        # Agent number and whether a PIN is set, by user.
        self.numbers: dict[int, tuple[str | None, bool]] = {}
        self.status: dict[int, Status] = {}
        # Memberships of each phone, by (pbx, interface) then queue, from the live model.
        self.members: dict[tuple[str, str], dict[str, MemberView]] = {}
        self.on_call: set[tuple[str, str]] = set()
        self.acw_until: dict[int, datetime] = {}
        # Sign-ins, sign-outs and code claims of this replica, one at a time (the database
        # keeps replicas apart; this keeps one replica's own requests in order).
        self.lock = asyncio.Lock()
        self._users_seen_at = clock()
        self._status_seen_at: datetime | None = None
        self._marks: dict[str, tuple[int, datetime | None]] = {}
        self._dirty: set[int] = set()
        # PBXs whose memberships a resync corrected: rebuilt in the state worker's next round.
        self._stale: set[str] = set()
        self._wake = asyncio.Event()

    # ------------------------------------------------------------------ memory

    async def load(self) -> None:
        """Everything from the database (at start; later ``refresh``)."""
        self._users_seen_at = self.clock()
        for user, disabled in await user_store.list_users(self.engine):
            self._keep_user(user, disabled)
        await self.refresh_shared()

    async def refresh(self) -> None:
        """Pick up what other replicas, the CLI and admins changed."""
        started = self.clock()
        changed = await user_store.users_changed_since(
            self.engine, self._users_seen_at - REFRESH_OVERLAP
        )
        self._users_seen_at = started
        for user, disabled in changed:
            self._keep_user(user, disabled)
        await self.refresh_shared()

    async def refresh_shared(self, *, force: bool = False) -> None:
        """Re-read what changed in the shared tables: the small ones when their marks (row
        count, latest change) moved, the status rows changed since the last look."""
        # Under the lock: a sign-in, sign-out or skill change of this replica committed
        # while these tables are read would otherwise be undone in memory by the older read.
        async with self.lock:
            started = self.clock()
            marks = await store.table_marks(self.engine)
            changed = {
                name for name, mark in marks.items() if force or self._marks.get(name) != mark
            }
            if "teams" in changed:
                self.teams = await store.load_teams(self.engine)
            if "codes" in changed:
                self.codes = {code.code: code for code in await store.load_codes(self.engine)}
            if "skills" in changed:
                self.skills = await store.load_skills(self.engine)
            if "profiles" in changed:
                self.numbers = await store.load_profiles(self.engine)
            self._marks = marks
            since = None if force or self._status_seen_at is None else self._status_seen_at
            fresh = await store.load_status(self.engine, since - REFRESH_OVERLAP if since else None)
            self._status_seen_at = started
            for status in fresh.values():
                known = self.status.get(status.user_id)
                # A row read just before this replica's own newer write is not taken back.
                if known is None or status.since >= known.since:
                    self._keep_status(status)

    def _keep_user(self, user: User, disabled: bool) -> None:
        old = self.users.get(user.id)
        for interface in old.interfaces if old is not None else ():
            if self.fixed.get(interface) == user.id:
                del self.fixed[interface]
        self.users[user.id] = user
        for interface in () if disabled else user.interfaces:
            self.fixed[interface] = user.id
        if disabled:
            self.disabled.add(user.id)
        else:
            self.disabled.discard(user.id)

    def _keep_status(self, status: Status) -> None:
        before = self.status.get(status.user_id)
        self.status[status.user_id] = status
        self.seats.sit(status.user_id, status.pbx, status.interface)
        if before is None or (before.pbx, before.interface) != (status.pbx, status.interface):
            self.mark(status.user_id)

    def in_code(self, code: str) -> int:
        """Agents in a not-ready code now, or who chose it (as this replica knows)."""
        return sum(
            1
            for status in self.status.values()
            if status.wanted_code == code
            or (status.state.state is StateName.NOT_READY and status.state.code == code)
        )

    def user(self, user_id: int) -> User:
        found = self.users.get(user_id)
        if found is None or user_id in self.disabled:
            raise NO_SUCH_AGENT(f"no user {user_id}", user_id=user_id)
        return found

    def scope_of(self, user: User) -> Scope:
        if user.may(P.TEAMS_ALL):
            return EVERYTHING
        mine = {
            uid for team in self.teams if team.has(user.id) for uid in team.members | team.leaders
        }
        return scope_of(user, self.teams, {uid: self.phones_of(uid) for uid in mine})

    def phones_of(self, user_id: int) -> tuple[str, ...]:
        user = self.users.get(user_id)
        return () if user is None else self.seats.phones(user)

    def owner(self, pbx: str, interface: str) -> int | None:
        """Who the phone belongs to now: the agent signed in there, else the user whose fixed
        phone it is. On the event path: two dictionary lookups."""
        seated = self.seats.holder(pbx, interface)
        return seated if seated is not None else self.fixed.get(interface)

    def phone_of(self, user_id: int) -> tuple[str, str] | None:
        """(pbx, interface) whose memberships make the agent's state."""
        status = self.status.get(user_id)
        if status is not None and status.pbx is not None and status.interface is not None:
            return status.pbx, status.interface
        user = self.users.get(user_id)
        for interface in user.interfaces if user is not None else ():
            for pbx in self.pbx_names:
                if self.members.get((pbx, interface)):
                    return pbx, interface
        return None

    def queues_on(self, pbx: str) -> set[str]:
        return {v.queue for v in self.live.snapshot().queues if v.pbx == pbx}

    def all_queues(self) -> set[str]:
        return {v.queue for v in self.live.snapshot().queues}

    # ------------------------------------------------------------------ live model

    def rebuild_members(self, pbx: str | None = None) -> None:
        snapshot = self.live.snapshot()
        for key in [k for k in self.members if pbx is None or k[0] == pbx]:
            del self.members[key]
        for queue in snapshot.queues:
            if pbx is not None and queue.pbx != pbx:
                continue
            for member in queue.members:
                self.members.setdefault((queue.pbx, member.interface), {})[queue.queue] = member
        for user_id in self.users:
            self.mark(user_id)

    def members_stale(self, pbx: str) -> None:
        """A resync corrected the model: the state worker reads this PBX's part again once
        in its next round, however many corrections the resync made."""
        self._stale.add(pbx)
        self._wake.set()

    def member_changed(self, pbx: str, queue: str, interface: str, view: MemberView | None) -> None:
        phone = (pbx, interface)
        if view is None:
            queues = self.members.get(phone)
            if queues is not None:
                queues.pop(queue, None)
                if not queues:
                    del self.members[phone]
        else:
            self.members.setdefault(phone, {})[queue] = view
        self._mark_phone(pbx, interface)

    def call_connected(self, pbx: str, interface: str) -> None:
        self.on_call.add((pbx, interface))
        self._mark_phone(pbx, interface)

    def call_ended(self, pbx: str, interface: str, queue: str, ended_at: datetime) -> None:
        self.on_call.discard((pbx, interface))
        user_id = self.owner(pbx, interface)
        seconds = self.settings.asterisk_wrapup.get(queue)
        if user_id is not None and seconds:
            until = ended_at + timedelta(seconds=seconds)
            self.acw_until[user_id] = until
            delay = max(0.0, (until - self.clock()).total_seconds()) + 0.05
            asyncio.get_running_loop().call_later(delay, self.mark, user_id)
        self._mark_phone(pbx, interface)

    def _mark_phone(self, pbx: str, interface: str) -> None:
        user_id = self.owner(pbx, interface)
        if user_id is not None:
            self.mark(user_id)

    def mark(self, user_id: int) -> None:
        """The agent's state may have changed: the state worker looks again."""
        self._dirty.add(user_id)
        self._wake.set()

    def derived(self, user_id: int) -> AgentState:
        phone = self.phone_of(user_id)
        status = self.status.get(user_id)
        members = list(self.members.get(phone, {}).values()) if phone is not None else []
        signed_in = (status is not None and status.signed_in) or bool(members)
        if not members and status is not None and status.signed_in and status.wanted_code:
            # In no queue yet: after a PBX restart, ``reapply`` adds the phone back paused
            # with this code. Deriving "ready" here would store a ready state that never was
            # and, through ``record_state``, forget the code before the next restart.
            code = status.wanted_code
            return AgentState(StateName.NOT_READY, code, code)
        return derive(
            signed_in,
            members,
            self.codes,
            self.acw_until.get(user_id),
            self.clock(),
            on_call=phone in self.on_call if phone is not None else False,
        )
