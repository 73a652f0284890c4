"""Use cases of the agents room: sign-in at any phone, states, skills, and what the PBX is
told about each.

A sign-in is claimed in the database *before* the PBX is asked (so two replicas cannot seat
two agents on one phone), and undone there when the PBX refuses. What the room knows in
memory is ``floor.py``; how states are stored and announced, ``tracker.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.agents import store
from callcenter.agents.problems import (
    CODE_FULL,
    NO_QUEUES,
    NO_SUCH_CODE,
    NO_SUCH_PBX,
    NO_SUCH_PHONE,
    NO_SUCH_SKILL_QUEUE,
    NOT_SIGNED_IN,
    NOT_STORED,
    OUTSIDE_YOUR_TEAMS,
    PBX_REQUIRED,
    PHONE_RESULTS,
    PHONE_TAKEN,
    SIGNED_IN_ELSEWHERE,
)
from callcenter.agents.seats import Seats
from callcenter.agents.skills import Membership, Plan, plan_memberships
from callcenter.agents.states import (
    SIGNED_OUT,
)
from callcenter.agents.store import Code, Status
from callcenter.agents.tracker import StateTracker
from callcenter.ami import actions
from callcenter.ami.errors import AmiError, AmiRefused, AmiUnavailable
from callcenter.ami.problems import PBX_UNAVAILABLE, pbx_failure
from callcenter.audit.models import AuditEntry
from callcenter.auth.identity import User
from callcenter.auth.passwords import verify_password
from callcenter.auth.ratelimit import LoginLimiter
from callcenter.clock import Clock, utc_now
from callcenter.component import LinkDirectory, LiveReader, PbxLink, Publish
from callcenter.settings import AgentsSettings
from callcenter.web.errors import ApiError

log = logging.getLogger(__name__)

# What the PBX says of a device it has never heard of.
UNKNOWN_DEVICE_STATES = frozenset({"INVALID", ""})
# The actor of what the service does by itself (session ended, PBX restarted).
SYSTEM = User(0, "system", "system", "admin")

UsersWithSessions = Callable[[Iterable[int]], Awaitable[set[int]]]


class AgentDesk(StateTracker):
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
        super().__init__(
            engine, live, links, publish, settings, seats=seats, pbx_names=pbx_names, clock=clock
        )
        self.pins = LoginLimiter(
            engine, settings.pin_max_failures, settings.pin_window_seconds, clock
        )
        # Dynamic memberships left behind by a sign-out while the PBX was away.
        self.leftover: dict[tuple[str, str], set[str]] = {}

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
