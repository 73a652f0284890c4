"""Use cases of the agents room: sign-in at any phone, states, skills, and what the PBX is
told about each.

The desk keeps in memory what every decision needs (users, teams, codes, skills, who sits
where, each agent's memberships from the live model) and the database holds the truth that
several replicas share: a sign-in is claimed in the database *before* the PBX is asked (so
two replicas cannot seat two agents on one phone), and undone there when the PBX refuses.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.agents import store
from callcenter.agents.scope import EVERYTHING, Scope, Team, scope_of
from callcenter.agents.seats import Seats
from callcenter.agents.skills import Membership, Plan, plan_memberships
from callcenter.agents.states import (
    OTHER,
    SIGNED_OUT,
    AgentState,
    StateName,
    derive,
    over_limit,
)
from callcenter.agents.store import Code, Status
from callcenter.ami import actions
from callcenter.ami.errors import AmiError, AmiRefused, AmiTimeout, AmiUnavailable
from callcenter.audit.models import AuditEntry
from callcenter.auth import users as user_store
from callcenter.auth.identity import User
from callcenter.auth.passwords import verify_password
from callcenter.auth.permissions import P
from callcenter.auth.ratelimit import LoginLimiter
from callcenter.clock import Clock, utc_now
from callcenter.component import LinkDirectory, LiveReader, PbxLink, Publish
from callcenter.feed.serialize import dumps, to_data
from callcenter.live import MemberView
from callcenter.settings import AgentsSettings
from callcenter.web.errors import ApiError, Problem

log = logging.getLogger(__name__)

PHONE_TAKEN = Problem(409, "phone-taken", "another agent is signed in at that phone")
SIGNED_IN_ELSEWHERE = Problem(
    409, "signed-in-elsewhere", "the agent is signed in at another phone: sign out there first"
)
NO_SUCH_PHONE = Problem(409, "no-such-phone", "the PBX does not know that phone")
NO_QUEUES = Problem(409, "no-queues", "the agent's skills name no queue of that PBX")
PBX_REQUIRED = Problem(400, "pbx-required", "several PBXs are configured: name one")
NO_SUCH_PBX = Problem(404, "no-such-pbx", "no PBX of that name")
NOT_SIGNED_IN = Problem(409, "not-signed-in", "the agent is not signed in at a phone")
NO_SUCH_CODE = Problem(404, "no-such-code", "no active not-ready code of that name")
CODE_FULL = Problem(409, "code-full", "the code has as many agents as it allows")
NO_SUCH_AGENT = Problem(404, "no-such-agent", "no user of that id")
NO_SUCH_SKILL_QUEUE = Problem(404, "no-such-queue", "no PBX has a queue of that name")
OUTSIDE_YOUR_TEAMS = Problem(403, "outside-your-teams", "that agent or queue is not in your teams")
PBX_REFUSED = Problem(502, "pbx-refused", "the PBX refused the action")
PBX_UNAVAILABLE = Problem(503, "pbx-unavailable", "the PBX is not connected")
PBX_TIMEOUT = Problem(504, "pbx-timeout", "the PBX did not answer in time")
NOT_STORED = Problem(503, "database-unavailable", "the database did not store the change")

SIGN_IN_PROBLEMS = (
    PHONE_TAKEN,
    SIGNED_IN_ELSEWHERE,
    NO_SUCH_PHONE,
    NO_QUEUES,
    PBX_REQUIRED,
    NO_SUCH_PBX,
    PBX_REFUSED,
    PBX_UNAVAILABLE,
    PBX_TIMEOUT,
)
PBX_PROBLEMS = (PBX_REFUSED, PBX_UNAVAILABLE, PBX_TIMEOUT)
# What the PBX says of a device it has never heard of.
UNKNOWN_DEVICE_STATES = frozenset({"INVALID", ""})
# Re-reads overlap by this much: a row committed just before a read started is not missed.
REFRESH_OVERLAP = timedelta(seconds=5)
# At most this many agents' state changes per transaction.
STATE_BATCH = 200
# The actor of what the service does by itself (session ended, PBX restarted).
SYSTEM = User(0, "system", "system", "admin")
# Reasons a phone sign-in answers (FastAGI AGENT_RESULT), by problem id.
PHONE_RESULTS = {
    PHONE_TAKEN.error: "phone-taken",
    SIGNED_IN_ELSEWHERE.error: "signed-in-elsewhere",
    NO_SUCH_PHONE.error: "no-such-phone",
    NO_QUEUES.error: "no-queues",
    NOT_SIGNED_IN.error: "not-signed-in",
}

UsersWithSessions = Callable[[Iterable[int]], Awaitable[set[int]]]


def pbx_failure(exc: AmiError, **details: Any) -> ApiError:
    if isinstance(exc, AmiRefused):
        return PBX_REFUSED(exc.message, pbx=exc.pbx, **details)
    if isinstance(exc, AmiTimeout):
        return PBX_TIMEOUT(exc.message, pbx=exc.pbx, **details)
    if isinstance(exc, AmiUnavailable):
        return PBX_UNAVAILABLE(f"PBX {exc.pbx} is not connected", pbx=exc.pbx, **details)
    return PBX_REFUSED(exc.message, pbx=exc.pbx, **details)


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


class AgentDesk:
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
        self.pins = LoginLimiter(
            engine, settings.pin_max_failures, settings.pin_window_seconds, clock
        )
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
        # Dynamic memberships left behind by a sign-out while the PBX was away.
        self.leftover: dict[tuple[str, str], set[str]] = {}
        # Sign-ins, sign-outs and code claims of this replica, one at a time (the database
        # keeps replicas apart; this keeps one replica's own requests in order).
        self.lock = asyncio.Lock()
        self._users_seen_at = clock()
        self._status_seen_at: datetime | None = None
        self._marks: dict[str, tuple[int, datetime | None]] = {}
        self._dirty: set[int] = set()
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
        fixed = user.interfaces if user is not None else ()
        status = self.status.get(user_id)
        if status is not None and status.interface is not None:
            return (*fixed, status.interface) if status.interface not in fixed else fixed
        return fixed

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
            [c for c in self.codes if c != OTHER],
            self.acw_until.get(user_id),
            self.clock(),
            on_call=phone in self.on_call if phone is not None else False,
        )

    async def work_states(self) -> None:
        """The state worker: store each agent's state when it differs from the stored one,
        every agent that changed since the last round in one transaction."""
        while True:
            await self._wake.wait()
            self._wake.clear()
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

    async def store_state(self, user_id: int) -> None:
        await self.store_states({user_id})

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

    # ------------------------------------------------------------------ sign-in

    def pick_pbx(self, pbx: str | None) -> str:
        if pbx is None:
            if len(self.pbx_names) != 1:
                raise PBX_REQUIRED("name the PBX of the phone", pbxs=list(self.pbx_names))
            return self.pbx_names[0]
        if pbx not in self.pbx_names:
            raise NO_SUCH_PBX(f"no PBX {pbx!r}", pbxs=list(self.pbx_names))
        return pbx

    def _link(self, pbx: str) -> PbxLink:
        link = self.links.connected(pbx)
        if link is None:
            raise PBX_UNAVAILABLE(f"PBX {pbx} is not connected", pbx=pbx)
        return link

    def plan_for(self, user_id: int, pbx: str, queues: Collection[str] | None = None) -> Plan:
        return plan_memberships(
            self.skills.get(user_id, {}),
            self.queues_on(pbx) if queues is None else queues,
            self.settings.queue_languages,
        )

    async def sign_in(
        self, actor: User, user_id: int, interface: str, pbx: str | None, via: str
    ) -> Status:
        user = self.user(user_id)
        pbx = self.pick_pbx(pbx)
        link = self._link(pbx)
        async with self.lock:
            try:
                device = await actions.device_state(link, interface)
            except AmiError as exc:
                raise pbx_failure(exc, interface=interface) from None
            if device in UNKNOWN_DEVICE_STATES:
                raise NO_SUCH_PHONE(
                    f"PBX {pbx} does not know the phone {interface} ({device or 'no state'})",
                    pbx=pbx,
                    interface=interface,
                )
            plan = self.plan_for(user_id, pbx)
            if not plan.memberships:
                raise NO_QUEUES(
                    f"{user.display_name}'s skills name no queue of PBX {pbx}",
                    skipped=[{"queue": q, "why": why} for q, why in plan.skipped],
                )
            before = self.status.get(user_id)
            # Signing in again at the same phone tops the memberships up; a failure then
            # must not sign the agent out of where they already were.
            again = before is not None and (before.pbx, before.interface) == (pbx, interface)
            status = await self._claim(user, pbx, interface, via)
            added: list[str] = []
            try:
                for membership in plan.memberships:
                    if await self._join(link, user, interface, membership, status.wanted_code):
                        added.append(membership.queue)
            except AmiError as exc:
                await self._undo_sign_in(link, user, interface, added, release=not again)
                await self._audit(actor, "agent.sign-in", user, pbx, interface, False, exc.message)
                raise pbx_failure(exc, interface=interface, rolled_back=added) from None
            await self._audit(
                actor,
                "agent.sign-in",
                user,
                pbx,
                interface,
                True,
                f"{user.username} at {interface} ({via}): "
                + ", ".join(f"{m.queue} penalty {m.penalty}" for m in plan.memberships),
            )
        log.info("agent %s signed in at %s on %s (%s)", user.username, interface, pbx, via)
        self._keep_status(status)
        return status

    async def _claim(self, user: User, pbx: str, interface: str, via: str) -> Status:
        try:
            async with AsyncSession(self.engine) as session, session.begin():
                current = await store.status_of(session, user.id)
                if (
                    current is not None
                    and current.signed_in
                    and (
                        current.pbx,
                        current.interface,
                    )
                    != (pbx, interface)
                ):
                    raise SIGNED_IN_ELSEWHERE(
                        f"{user.display_name} is signed in at {current.interface} on "
                        f"{current.pbx}: sign out there first",
                        pbx=current.pbx,
                        interface=current.interface,
                    )
                return await store.claim_phone(session, user.id, pbx, interface, via, self.clock())
        except store.PhoneTaken as taken:
            holder = self.users.get(taken.args[0]) if taken.args[0] else None
            who = holder.display_name if holder is not None else "another agent"
            raise PHONE_TAKEN(
                f"{who} is signed in at {interface}",
                pbx=pbx,
                interface=interface,
                holder=holder.username if holder is not None else None,
            ) from None
        except SQLAlchemyError as exc:
            raise NOT_STORED(f"the sign-in was not stored ({type(exc).__name__})") from None

    async def _join(
        self, link: PbxLink, user: User, interface: str, membership: Membership, code: str
    ) -> bool:
        """Add the phone to one queue (True) or, when it is there already, set its penalty."""
        try:
            await actions.queue_add(
                link,
                membership.queue,
                interface,
                penalty=membership.penalty,
                paused=bool(code),
                member_name=user.display_name,
                reason=code,
            )
            return True
        except AmiRefused as exc:
            if "already there" not in exc.message.lower():
                raise
        await actions.queue_penalty(link, interface, membership.penalty, queue=membership.queue)
        return False

    async def _undo_sign_in(
        self, link: PbxLink, user: User, interface: str, added: list[str], *, release: bool
    ) -> None:
        for queue in reversed(added):
            try:
                await actions.queue_remove(link, queue, interface)
            except AmiError as exc:
                log.error("could not undo %s joining %s: %s", interface, queue, exc.message)
        if not release:
            return
        try:
            async with AsyncSession(self.engine) as session, session.begin():
                await store.release_phone(session, user.id)
        except SQLAlchemyError as exc:
            log.error("sign-in of %s not released (%s)", user.username, type(exc).__name__)

    async def sign_out(self, actor: User, user_id: int, why: str) -> Status:
        user = self.user(user_id)
        async with self.lock:
            try:
                async with AsyncSession(self.engine) as session, session.begin():
                    before = await store.release_phone(session, user_id)
            except SQLAlchemyError as exc:
                raise NOT_STORED(f"the sign-out was not stored ({type(exc).__name__})") from None
            if before is None or before.pbx is None or before.interface is None:
                raise NOT_SIGNED_IN(f"{user.display_name} is not signed in at a phone")
            pbx, interface = before.pbx, before.interface
            removed, left = await self._leave_all(pbx, interface)
            await self._audit(
                actor,
                "agent.sign-out",
                user,
                pbx,
                interface,
                True,
                f"{user.username} left {interface} ({why}): removed from "
                + (", ".join(removed) or "no queue")
                + (f"; to remove when PBX {pbx} is back: {', '.join(left)}" if left else ""),
            )
        log.info("agent %s signed out of %s on %s (%s)", user.username, interface, pbx, why)
        after = replace(before, pbx=None, interface=None, signed_in_at=None, wanted_code="")
        self._keep_status(after)
        return after

    async def _leave_all(self, pbx: str, interface: str) -> tuple[list[str], list[str]]:
        """Remove the phone from every queue it joined dynamically; what could not be
        removed now (PBX away) is remembered and removed when the PBX is back."""
        queues = [
            q for q, m in self.members.get((pbx, interface), {}).items() if m.membership != "static"
        ]
        link = self.links.connected(pbx)
        removed: list[str] = []
        left: list[str] = []
        for queue in queues:
            try:
                if link is None:
                    raise AmiUnavailable(pbx, "not connected")
                await actions.queue_remove(link, queue, interface)
                removed.append(queue)
            except AmiRefused as exc:
                if "not there" not in exc.message.lower():
                    log.error("PBX %s: %s not removed from %s: %s", pbx, interface, queue, exc)
                    left.append(queue)
            except AmiError:
                left.append(queue)
        if left:
            self.leftover.setdefault((pbx, interface), set()).update(left)
        return removed, left

    # ------------------------------------------------------------------ states

    def _phone_or_refuse(self, user: User) -> tuple[str, str]:
        phone = self.phone_of(user.id)
        if phone is None:
            raise NOT_SIGNED_IN(f"{user.display_name} is not signed in at a phone")
        return phone

    async def not_ready(self, user: User, code_name: str) -> Status:
        code = self.codes.get(code_name)
        if code is None or not code.active:
            raise NO_SUCH_CODE(f"no active not-ready code {code_name!r}", code=code_name)
        pbx, interface = self._phone_or_refuse(user)
        link = self._link(pbx)
        async with self.lock:
            previous = await self._want_code(user, code)
            try:
                await actions.queue_pause(link, interface, True, reason=code.code)
            except AmiError as exc:
                await self._set_wanted(user.id, previous)
                raise pbx_failure(exc, interface=interface) from None
        log.info("agent %s not ready (%s) at %s", user.username, code.code, interface)
        return self.status[user.id]

    async def _want_code(self, user: User, code: Code) -> str:
        """Claim a place in the code (its max_agents, counted on every replica)."""
        try:
            async with AsyncSession(self.engine) as session, session.begin():
                locked = await store.lock_code(session, code.code)
                if locked is None or not locked.active:
                    raise NO_SUCH_CODE(f"no active not-ready code {code.code!r}")
                row = await store.ensure_status(session, user.id, self.clock())
                previous = row.wanted_code
                if locked.max_agents is not None and previous != code.code:
                    taken = await store.agents_in_code(session, code.code, user.id)
                    if taken >= locked.max_agents:
                        raise CODE_FULL(
                            f"{taken} agent(s) are in {code.label_en} / {code.label_zh} "
                            f"already: at most {locked.max_agents}",
                            code=code.code,
                            max_agents=locked.max_agents,
                        )
                row.wanted_code = code.code
        except SQLAlchemyError as exc:
            raise NOT_STORED(f"the state was not stored ({type(exc).__name__})") from None
        status = self.status.get(user.id)
        if status is not None:
            self.status[user.id] = replace(status, wanted_code=code.code)
        return previous

    async def _set_wanted(self, user_id: int, code: str) -> None:
        try:
            async with AsyncSession(self.engine) as session, session.begin():
                row = await store.ensure_status(session, user_id, self.clock())
                row.wanted_code = code
        except SQLAlchemyError as exc:
            log.error("wanted code of %s not restored (%s)", user_id, type(exc).__name__)
        status = self.status.get(user_id)
        if status is not None:
            self.status[user_id] = replace(status, wanted_code=code)

    async def ready(self, user: User) -> Status:
        pbx, interface = self._phone_or_refuse(user)
        link = self._link(pbx)
        async with self.lock:
            try:
                await actions.queue_pause(link, interface, False)
            except AmiError as exc:
                raise pbx_failure(exc, interface=interface) from None
            await self._set_wanted(user.id, "")
        log.info("agent %s ready at %s", user.username, interface)
        return self.status.get(user.id) or Status(
            user.id, None, None, "fixed", None, SIGNED_OUT, self.clock(), "", False
        )

    # ------------------------------------------------------------------ skills

    async def set_skills(
        self, actor: User, user_id: int, skills: Mapping[str, int]
    ) -> tuple[list[str], list[str]]:
        """Store an agent's skills and apply them to the phone they sit at now."""
        user = self.user(user_id)
        scope = self.scope_of(actor)
        if not scope.has_user(user_id):
            raise OUTSIDE_YOUR_TEAMS(f"{user.display_name} is not in your teams")
        known = self.all_queues() | {q for t in self.teams for q in t.queues}
        queues = {s.removeprefix("queue:") for s in skills if s.startswith("queue:")}
        unknown = sorted(queues - known)
        if unknown:
            raise NO_SUCH_SKILL_QUEUE(f"no PBX has queue(s) {', '.join(unknown)}", queues=unknown)
        before = dict(self.skills.get(user_id, {}))
        changed = {q.removeprefix("queue:") for q in set(before) ^ set(skills)} | {
            s.removeprefix("queue:") for s in skills if before.get(s) != skills[s]
        }
        outside = sorted(q for q in changed & (queues | _queues(before)) if not scope.has_queue(q))
        if outside:
            raise OUTSIDE_YOUR_TEAMS(f"queue(s) {', '.join(outside)} are not your teams'")
        async with self.lock:  # not overwritten by a refresh that read the table before
            try:
                async with AsyncSession(self.engine) as session, session.begin():
                    await store.replace_skills(session, user_id, skills)
                    session.add(
                        self._entry(
                            actor,
                            "agent.skills",
                            user,
                            "",
                            "",
                            True,
                            f"{user.username}: {_skills_text(before)} -> {_skills_text(skills)}",
                            {"before": before, "after": dict(skills)},
                        )
                    )
            except SQLAlchemyError as exc:
                raise NOT_STORED(f"the skills were not stored ({type(exc).__name__})") from None
            self.skills[user_id] = dict(skills)
        return await self.apply_skills(user)

    async def apply_skills(self, user: User) -> tuple[list[str], list[str]]:
        status = self.status.get(user.id)
        if status is None or status.pbx is None or status.interface is None:
            return [], []
        return await self._bring_in_line(status.pbx, status.interface, user, status.wanted_code)

    async def _bring_in_line(
        self,
        pbx: str,
        interface: str,
        user: User,
        code: str,
        *,
        remove_extra: bool = True,
        queues: Collection[str] | None = None,
    ) -> tuple[list[str], list[str]]:
        """Make the phone's memberships what the agent's skills say (add, penalty, pause;
        remove dynamic memberships no skill gives)."""
        link = self.links.connected(pbx)
        plan = self.plan_for(user.id, pbx, queues)
        have = self.members.get((pbx, interface), {})
        applied: list[str] = []
        failed: list[str] = []
        if link is None:
            return [], [f"PBX {pbx} is not connected"]
        wanted = {m.queue: m for m in plan.memberships}
        for queue, membership in wanted.items():
            member = have.get(queue)
            try:
                if member is None:
                    await self._join(link, user, interface, membership, code)
                    applied.append(f"joined {queue} (penalty {membership.penalty})")
                    continue
                if member.penalty != membership.penalty:
                    await actions.queue_penalty(link, interface, membership.penalty, queue=queue)
                    applied.append(f"penalty {membership.penalty} in {queue}")
                if code and not member.paused:
                    await actions.queue_pause(link, interface, True, queue=queue, reason=code)
                    applied.append(f"paused ({code}) in {queue}")
            except AmiError as exc:
                failed.append(f"{queue}: {exc.message}")
        for queue, member in have.items():
            if not remove_extra or queue in wanted or member.membership == "static":
                continue
            try:
                await actions.queue_remove(link, queue, interface)
                applied.append(f"left {queue}")
            except AmiError as exc:
                failed.append(f"{queue}: {exc.message}")
        return applied, failed

    # ------------------------------------------------------------------ PBX (re)connected

    async def reapply(self, link: PbxLink) -> None:
        """A (re)connected PBX gets every signed-in agent's memberships back."""
        pbx = link.name
        self.rebuild_members(pbx)
        for (where, interface), queues in list(self.leftover.items()):
            if where != pbx or self.owner(pbx, interface) is not None:
                continue
            for queue in sorted(queues):
                try:
                    await actions.queue_remove(link, queue, interface)
                except AmiError as exc:
                    log.info("PBX %s: leftover %s in %s: %s", pbx, interface, queue, exc.message)
            del self.leftover[(where, interface)]
        restored = 0
        queues = self.queues_on(pbx)
        for user_id, status in list(self.status.items()):
            user = self.users.get(user_id)
            if user is None or status.pbx != pbx or status.interface is None:
                continue
            applied, failed = await self._bring_in_line(
                pbx, status.interface, user, status.wanted_code, remove_extra=False, queues=queues
            )
            restored += bool(applied)
            if failed:
                log.error("PBX %s: %s not restored: %s", pbx, user.username, "; ".join(failed))
        if restored:
            log.info("PBX %s: %d signed-in agent(s) put back in their queues", pbx, restored)
            await self._audit(SYSTEM, "agent.restore", None, pbx, "", True, f"{restored} agents")

    # ------------------------------------------------------------------ sessions and phones

    async def sign_out_sessionless(self, users_with_sessions: UsersWithSessions) -> None:
        """Console sign-ins end with the agent's last web session."""
        console = [uid for uid, s in self.status.items() if s.signed_in and s.via == "console"]
        if not console:
            return
        alive = await users_with_sessions(console)
        for user_id in console:
            if user_id in alive:
                continue
            try:
                await self.sign_out(SYSTEM, user_id, "web session ended")
            except ApiError as exc:
                log.info("session-end sign-out of %s: %s", user_id, exc.message)

    async def sign_in_at_phone(
        self, pbx: str | None, agent_number: str, pin: str, interface: str
    ) -> str:
        key = LoginLimiter.key("pin:" + agent_number, pbx or "")
        if await self.pins.retry_after(key) is not None:
            return "locked"
        found = await store.find_agent_number(self.engine, agent_number)
        if found is None or not verify_password(found[1], pin):
            await self.pins.failed(key)
            return "bad-pin" if found is not None else "unknown-agent"
        await self.pins.succeeded(key)
        user_id = found[0]
        if user_id not in self.users:
            await self.refresh()
        try:
            user = self.user(user_id)
            await self.sign_in(user, user_id, interface, pbx, "phone")
        except ApiError as exc:
            return PHONE_RESULTS.get(exc.error, "pbx-error")
        return "ok"

    async def sign_out_at_phone(self, pbx: str | None, interface: str) -> str:
        try:
            where = self.pick_pbx(pbx)
        except ApiError:
            return "pbx-error"
        user_id = self.owner(where, interface)
        status = self.status.get(user_id) if user_id is not None else None
        if user_id is None or status is None or not status.signed_in:
            return "not-signed-in"
        try:
            await self.sign_out(self.users[user_id], user_id, "phone feature code")
        except ApiError as exc:
            return PHONE_RESULTS.get(exc.error, "pbx-error")
        return "ok"

    # ------------------------------------------------------------------ audit

    def _entry(
        self,
        actor: User,
        action: str,
        user: User | None,
        pbx: str,
        interface: str,
        ok: bool,
        message: str,
        parameters: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        return AuditEntry(
            at=self.clock(),
            username=actor.username[:80],
            user_id=actor.id or None,
            action=action,
            pbx=pbx,
            queue=None,
            target=(user.username if user is not None else interface)[:200],
            parameters={"interface": interface, **(parameters or {})},
            ok=ok,
            message=message[:500],
            address=None,
        )

    async def _audit(
        self,
        actor: User,
        action: str,
        user: User | None,
        pbx: str,
        interface: str,
        ok: bool,
        message: str,
    ) -> None:
        try:
            async with AsyncSession(self.engine) as session, session.begin():
                session.add(self._entry(actor, action, user, pbx, interface, ok, message))
        except SQLAlchemyError as exc:
            log.error("audit of %s not written (%s): %s", action, type(exc).__name__, message)


def _queues(skills: Mapping[str, int]) -> set[str]:
    return {s.removeprefix("queue:") for s in skills if s.startswith("queue:")}


def _skills_text(skills: Mapping[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(skills.items())) or "none"
