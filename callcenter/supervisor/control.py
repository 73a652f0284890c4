"""Supervisor use cases: check against the live model, act on the PBX, store, audit.

Each member action follows the same order: preconditions from the live model (404/409),
then the AMI actions, then one database transaction holding the new desired state and the
audit row. A multi-step action that fails midway undoes the steps already done (in reverse),
and so does a database failure after the PBX accepted everything: nothing is left half-done.
One-shot caller actions (move, withdraw) are claimed in the database *before* the PBX is
asked, so a second click or a second replica cannot act twice on one caller.

Before all of that, the user's team scope (``callcenter.agents.scope``): a user without
``teams:all`` acts only on the queues of their teams, and on agents who are in their teams
or members of one of those queues. Anything else is refused (403 ``outside-your-teams``)
whether it exists or not, so a refusal tells nothing about other teams' queues.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.agents.scope import Scope, TeamScopes
from callcenter.ami import actions
from callcenter.ami.actions import ActionSender
from callcenter.ami.errors import AmiError
from callcenter.ami.problems import PbxProblems, pbx_failure
from callcenter.auth.identity import User
from callcenter.component import LiveReader, Publish, Resync
from callcenter.feed.serialize import dumps
from callcenter.live import CallerView, MemberChanged, MemberView, QueueView
from callcenter.supervisor import store
from callcenter.supervisor.plan import (
    SPY_OPTIONS,
    DesiredMember,
    MemberOp,
    SpyMode,
    desired_after,
    is_already_done,
    plan_reapply,
    undo_of,
)
from callcenter.web.errors import ApiError, Problem

log = logging.getLogger(__name__)


class ActionLink(ActionSender, Protocol):
    """What control uses of a PBX's link: its name and the AMI actions."""

    @property
    def name(self) -> str: ...


class ControlError(ApiError):
    """A refusal with its HTTP status and machine-readable id: the API answers it as is."""


@dataclass(frozen=True, slots=True)
class Refusal(Problem):
    """One way a control action can be refused, named once; raising it gives a
    ``ControlError`` (``raise NO_SUCH_QUEUE("...")``)."""

    def __call__(self, message: str, **details: Any) -> ControlError:
        return ControlError(self.status, self.error, message, **details)


OUTSIDE_YOUR_TEAMS = Refusal(
    403, "outside-your-teams", "the queue or agent is not one of your teams'"
)
NO_SUCH_QUEUE = Refusal(404, "no-such-queue", "no queue of that name")
AMBIGUOUS_QUEUE = Refusal(409, "ambiguous-queue", "the queue exists on several PBXs")
NO_SUCH_MEMBER = Refusal(404, "no-such-member", "the interface is not a member of the queue")
NO_SUCH_CALLER = Refusal(404, "no-such-caller", "no such caller waiting in the queue")
NO_SUCH_AGENT = Refusal(404, "no-such-agent", "the interface is in no queue")
AMBIGUOUS_AGENT = Refusal(409, "ambiguous-agent", "the interface is on several PBXs")
ALREADY_MEMBER = Refusal(409, "already-member", "the interface is already a member")
NO_DYNAMIC_MEMBERSHIP = Refusal(
    409, "no-dynamic-membership", "only a static member: it cannot be logged out over AMI"
)
SAME_QUEUE = Refusal(409, "same-queue", "the caller is already in that queue")
ALREADY_HANDLED = Refusal(409, "already-handled", "the caller was already moved or withdrawn")
NO_SUPERVISOR_PHONE = Refusal(400, "no-supervisor-phone", "no phone to ring for the supervisor")
AGENT_NOT_ON_CALL = Refusal(409, "agent-not-on-call", "the agent is not on a call")
PBX_REFUSED = Refusal(502, "pbx-refused", "the PBX refused the action")
PBX_ERROR = Refusal(502, "pbx-error", "the PBX answered with an error")
PBX_UNAVAILABLE = Refusal(503, "pbx-unavailable", "the PBX is not connected")
PBX_TIMEOUT = Refusal(504, "pbx-timeout", "the PBX did not answer in time")
# The same id as the HTTP layer's own 503; here nothing was left changed on the PBX.
NOT_STORED = Refusal(503, "database-unavailable", "the database did not store the action")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an action did, for the API answer."""

    action: str
    pbx: str
    done: tuple[str, ...]
    details: Mapping[str, Any] = field(default_factory=dict)


SUPERVISOR_PBX_PROBLEMS = PbxProblems(PBX_REFUSED, PBX_UNAVAILABLE, PBX_TIMEOUT, PBX_ERROR)


def ami_failure(exc: AmiError, **details: Any) -> ApiError:
    """The supervisor's own PBX refusals (``ControlError``s) for a failed action."""
    return pbx_failure(exc, SUPERVISOR_PBX_PROBLEMS, **details)


async def send_member_op(link: ActionSender, op: MemberOp) -> None:
    if op.kind == "add":
        await actions.queue_add(
            link,
            op.queue,
            op.interface,
            penalty=op.penalty,
            paused=op.paused,
            member_name=op.name,
            state_interface=op.state_interface,
            reason=op.reason,
        )
    elif op.kind == "remove":
        await actions.queue_remove(link, op.queue, op.interface)
    elif op.kind == "pause":
        await actions.queue_pause(link, op.interface, op.paused, queue=op.queue, reason=op.reason)
    elif op.kind == "penalty":
        await actions.queue_penalty(link, op.interface, op.penalty, queue=op.queue)
    else:
        await actions.queue_member_ringinuse(link, op.interface, op.ringinuse, queue=op.queue)


def _describe_desired(desired: DesiredMember) -> str:
    parts = []
    if desired.paused is not None:
        parts.append(f"paused ({desired.paused_reason or '-'})" if desired.paused else "unpaused")
    if desired.penalty is not None:
        parts.append(f"penalty {desired.penalty}")
    if desired.ringinuse is not None:
        parts.append(f"ringinuse {'on' if desired.ringinuse else 'off'}")
    return "now " + (", ".join(parts) or "unchanged")


class Control:
    def __init__(
        self,
        model: LiveReader,
        find_link: Callable[[str], ActionLink | None],
        engine: AsyncEngine,
        publish: Publish,
        resync: Resync,
        *,
        scopes: TeamScopes,
        move_context: str,
        spy_caller_id: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.model = model
        self.find_link = find_link
        self.engine = engine
        self.publish = publish
        self.resync = resync
        self.scopes = scopes
        self.move_context = move_context
        self.spy_caller_id = spy_caller_id
        self.clock = clock
        # Agent channel on an answered call, by (pbx, member interface), from CallConnected.
        self.agent_channels: dict[tuple[str, str], str] = {}
        # Members a supervisor action is changing right now, by (pbx, queue, interface): the
        # PBX's events about them are that action's echo, not a change made elsewhere.
        self.acting: Counter[tuple[str, str, str]] = Counter()

    # ------------------------------------------------------------------ scope

    def check_queues(self, user: User, *queues: str) -> None:
        """Refuses unless every queue is in the user's scope (checked before any lookup)."""
        scope = self.scopes.scope_of(user)
        for queue in queues:
            if not scope.has_queue(queue):
                raise OUTSIDE_YOUR_TEAMS(
                    f"queue {queue!r} is not one of your teams' queues", queue=queue
                )

    def check_agent(self, user: User, interface: str, pbx: str | None) -> Scope:
        """Refuses unless the agent's phone is in the user's scope or the agent is a member
        of a queue in it; the scope, for what the action may then touch."""
        scope = self.scopes.scope_of(user)
        if scope.has_interface(interface) or any(
            scope.has_queue(view.queue)
            for view in self.model.queue_views(self.clock())
            if pbx is None or view.pbx == pbx
            for member in view.members
            if member.interface == interface
        ):
            return scope
        raise OUTSIDE_YOUR_TEAMS(
            f"{interface} is neither in your teams nor in one of their queues",
            interface=interface,
        )

    # ------------------------------------------------------------------ lookups

    def find_queue(self, queue: str, pbx: str | None) -> QueueView:
        matches = [
            v
            for v in self.model.queue_views(self.clock())
            if v.queue == queue and (pbx is None or v.pbx == pbx)
        ]
        if not matches:
            raise NO_SUCH_QUEUE(f"no queue {queue!r}" + (f" on PBX {pbx!r}" if pbx else ""))
        if len(matches) > 1:
            raise AMBIGUOUS_QUEUE(
                f"queue {queue!r} exists on several PBXs; add ?pbx=NAME",
                pbx=[v.pbx for v in matches],
            )
        return matches[0]

    def find_member(self, view: QueueView, interface: str) -> MemberView:
        for member in view.members:
            if member.interface == interface:
                return member
        raise NO_SUCH_MEMBER(f"{interface} is not a member of queue {view.queue!r}")

    def find_caller(self, view: QueueView, uniqueid: str) -> CallerView:
        for caller in view.callers:
            if caller.uniqueid == uniqueid:
                return caller
        raise NO_SUCH_CALLER(f"no caller {uniqueid} waiting in queue {view.queue!r}")

    def agent_memberships(self, interface: str, pbx: str | None) -> tuple[str, list[MemberView]]:
        found: dict[str, list[MemberView]] = {}
        for view in self.model.queue_views(self.clock()):
            if pbx is not None and view.pbx != pbx:
                continue
            for member in view.members:
                if member.interface == interface:
                    found.setdefault(view.pbx, []).append(member)
        if not found:
            raise NO_SUCH_AGENT(
                f"{interface} is in no queue" + (f" on PBX {pbx!r}" if pbx else ""),
            )
        if len(found) > 1:
            raise AMBIGUOUS_AGENT(
                f"{interface} is on several PBXs; add ?pbx=NAME",
                pbx=sorted(found),
            )
        ((name, members),) = found.items()
        return name, members

    def link(self, pbx: str) -> ActionLink:
        link = self.find_link(pbx)
        if link is None:
            raise PBX_UNAVAILABLE(f"no link to PBX {pbx!r}")
        return link

    # ------------------------------------------------------------------ member actions

    async def member_action(
        self,
        user: User,
        pbx: str,
        action: str,
        steps: Sequence[tuple[MemberOp, MemberView | None]],
        parameters: Mapping[str, Any],
    ) -> Outcome:
        """Send each step; on any failure undo what was done, then audit either way."""
        link = self.link(pbx)
        keys = [(pbx, op.queue, op.interface) for op, _ in steps]
        self.acting.update(keys)
        try:
            return await self._member_action(link, user, pbx, action, steps, parameters)
        finally:
            self.acting.subtract(keys)
            self.acting += Counter()  # drops the zero counts

    async def _member_action(
        self,
        link: ActionLink,
        user: User,
        pbx: str,
        action: str,
        steps: Sequence[tuple[MemberOp, MemberView | None]],
        parameters: Mapping[str, Any],
    ) -> Outcome:
        first = steps[0][0]
        queue = first.queue if len({op.queue for op, _ in steps}) == 1 else None
        target = first.interface
        done: list[tuple[MemberOp, MemberView | None]] = []
        for op, before in steps:
            try:
                await send_member_op(link, op)
            except AmiError as exc:
                undone, not_undone = await self._undo(link, done)
                error = ami_failure(
                    exc, failed=op.describe(), rolled_back=undone, not_rolled_back=not_undone
                )
                await self._audit_failure(
                    user,
                    pbx,
                    action,
                    queue,
                    target,
                    parameters,
                    self._failure_text(exc.message, undone, not_undone),
                )
                raise error from None
            done.append((op, before))
        now = self.clock()
        try:
            async with AsyncSession(self.engine) as session, session.begin():
                for op, _ in done:
                    current = await store.load_desired_for(session, pbx, op.queue, op.interface)
                    await store.save_desired(
                        session, desired_after(current, pbx, op, user.username, now)
                    )
                store.add_audit(
                    session,
                    self._audit(
                        user,
                        pbx,
                        action,
                        queue,
                        target,
                        parameters,
                        ok=True,
                        message="; ".join(op.describe() for op, _ in done),
                    ),
                )
        except (SQLAlchemyError, OSError) as exc:
            log.error(
                "supervisor %s on PBX %s: database failed (%s); undoing on the PBX",
                action,
                pbx,
                type(exc).__name__,
            )
            undone, not_undone = await self._undo(link, done)
            raise NOT_STORED(
                "the database did not store the change, so it was undone",
                rolled_back=undone,
                not_rolled_back=not_undone,
            ) from None
        log.info(
            "supervisor %s: %s on PBX %s",
            user.username,
            "; ".join(op.describe() for op, _ in done),
            pbx,
        )
        return Outcome(action, pbx, tuple(op.describe() for op, _ in done))

    async def _undo(
        self, link: ActionLink, done: Sequence[tuple[MemberOp, MemberView | None]]
    ) -> tuple[list[str], list[str]]:
        undone: list[str] = []
        not_undone: list[str] = []
        for op, before in reversed(done):
            try:
                for inverse in undo_of(op, before):
                    await send_member_op(link, inverse)
                undone.append(op.describe())
            except AmiError as exc:
                log.error("PBX %s: could not undo %s: %s", link.name, op.describe(), exc.message)
                not_undone.append(op.describe())
        return undone, not_undone

    @staticmethod
    def _failure_text(message: str, undone: list[str], not_undone: list[str]) -> str:
        text = message
        if undone:
            text += "; rolled back: " + ", ".join(undone)
        if not_undone:
            text += "; NOT rolled back: " + ", ".join(not_undone)
        return text

    def _audit(
        self,
        user: User,
        pbx: str,
        action: str,
        queue: str | None,
        target: str,
        parameters: Mapping[str, Any],
        *,
        ok: bool,
        message: str,
    ) -> store.AuditRecord:
        return store.AuditRecord(
            self.clock(),
            user.username,
            user.id or None,
            action,
            pbx,
            queue,
            target,
            dict(parameters),
            ok,
            message,
        )

    async def _audit_failure(
        self,
        user: User,
        pbx: str,
        action: str,
        queue: str | None,
        target: str,
        parameters: Mapping[str, Any],
        message: str,
    ) -> None:
        try:
            await store.write_audit(
                self.engine,
                [
                    self._audit(
                        user, pbx, action, queue, target, parameters, ok=False, message=message
                    )
                ],
            )
        except (SQLAlchemyError, OSError) as exc:
            log.error(
                "audit row lost (database: %s): %s %s on %s: %s",
                type(exc).__name__,
                user.username,
                action,
                target,
                message,
            )

    # ------------------------------------------------------------------ use cases

    async def add_member(
        self,
        user: User,
        queue: str,
        pbx: str | None,
        *,
        interface: str,
        name: str,
        penalty: int,
        paused: bool,
        reason: str,
        state_interface: str,
    ) -> Outcome:
        self.check_queues(user, queue)
        view = self.find_queue(queue, pbx)
        if any(m.interface == interface for m in view.members):
            raise ALREADY_MEMBER(f"{interface} is already a member of queue {queue!r}")
        op = MemberOp(
            "add",
            queue,
            interface,
            name=name,
            state_interface=state_interface,
            penalty=penalty,
            paused=paused,
            reason=reason if paused else "",
        )
        return await self.member_action(
            user,
            view.pbx,
            "member.add",
            [(op, None)],
            {
                "interface": interface,
                "name": name,
                "penalty": penalty,
                "paused": paused,
                "reason": reason,
                "state_interface": state_interface,
            },
        )

    async def remove_member(
        self, user: User, queue: str, pbx: str | None, interface: str
    ) -> Outcome:
        self.check_queues(user, queue)
        view = self.find_queue(queue, pbx)
        member = self.find_member(view, interface)
        op = MemberOp("remove", queue, interface)
        return await self.member_action(
            user, view.pbx, "member.remove", [(op, member)], {"interface": interface}
        )

    async def pause_member(
        self, user: User, queue: str, pbx: str | None, interface: str, paused: bool, reason: str
    ) -> Outcome:
        self.check_queues(user, queue)
        view = self.find_queue(queue, pbx)
        member = self.find_member(view, interface)
        op = MemberOp("pause", queue, interface, paused=paused, reason=reason if paused else "")
        return await self.member_action(
            user,
            view.pbx,
            "member.pause" if paused else "member.unpause",
            [(op, member)],
            {"interface": interface, "paused": paused, "reason": reason},
        )

    async def set_penalty(
        self, user: User, queue: str, pbx: str | None, interface: str, penalty: int
    ) -> Outcome:
        self.check_queues(user, queue)
        view = self.find_queue(queue, pbx)
        member = self.find_member(view, interface)
        op = MemberOp("penalty", queue, interface, penalty=penalty)
        return await self.member_action(
            user,
            view.pbx,
            "member.penalty",
            [(op, member)],
            {"interface": interface, "penalty": penalty},
        )

    async def set_ringinuse(
        self, user: User, queue: str, pbx: str | None, interface: str, ringinuse: bool
    ) -> Outcome:
        self.check_queues(user, queue)
        view = self.find_queue(queue, pbx)
        member = self.find_member(view, interface)
        op = MemberOp("ringinuse", queue, interface, ringinuse=ringinuse)
        return await self.member_action(
            user,
            view.pbx,
            "member.ringinuse",
            [(op, member)],
            {"interface": interface, "ringinuse": ringinuse},
        )

    async def logout_agent(self, user: User, interface: str, pbx: str | None) -> Outcome:
        scope = self.check_agent(user, interface, pbx)
        name, members = self.agent_memberships(interface, pbx)
        if not scope.has_interface(interface):
            # Let in as a member of the user's queues, not of their teams: only those queues.
            members = [m for m in members if scope.has_queue(m.queue)]
        dynamic = [m for m in members if m.membership == "dynamic"]
        if not dynamic:
            raise NO_DYNAMIC_MEMBERSHIP(
                f"{interface} is only a static member (queues.conf): "
                "it cannot be logged out over AMI",
                queues=[m.queue for m in members],
            )
        steps = [(MemberOp("remove", m.queue, interface), m) for m in dynamic]
        return await self.member_action(
            user,
            name,
            "agent.logout",
            steps,
            {"interface": interface, "queues": [m.queue for m in dynamic]},
        )

    # ------------------------------------------------------------------ callers

    async def move_caller(
        self,
        user: User,
        queue: str,
        pbx: str | None,
        uniqueid: str,
        *,
        to_queue: str | None,
        context: str | None,
        exten: str | None,
        priority: int,
    ) -> Outcome:
        # The dialplan place that queues a caller (what a move to a queue uses) names the
        # queue in its extension: a move there is a move to that queue.
        if to_queue is not None:
            self.check_queues(user, queue, to_queue)
        elif context == self.move_context and exten is not None:
            self.check_queues(user, queue, exten)
        else:
            self.check_queues(user, queue)
        view = self.find_queue(queue, pbx)
        caller = self.find_caller(view, uniqueid)
        if to_queue is not None:
            target = self.find_queue(to_queue, view.pbx)
            if target.queue == queue:
                raise SAME_QUEUE(f"the caller is already in {queue!r}")
            context, exten, priority = self.move_context, to_queue, 1
        assert context is not None and exten is not None
        destination = f"{context},{exten},{priority}"
        parameters = {"uniqueid": uniqueid, "to_queue": to_queue, "destination": destination}
        await self._claim(user, view.pbx, caller, "move", destination)
        try:
            await actions.redirect(self.link(view.pbx), caller.channel, context, exten, priority)
        except (AmiError, ControlError) as exc:
            await self._release(view.pbx, caller)
            await self._caller_failed(user, view.pbx, "caller.move", caller, parameters, exc)
        return await self._caller_done(
            user,
            view.pbx,
            "caller.move",
            caller,
            parameters,
            f"moved {caller.channel} to {destination}",
        )

    async def withdraw_caller(
        self, user: User, queue: str, pbx: str | None, uniqueid: str, info: str
    ) -> Outcome:
        self.check_queues(user, queue)
        view = self.find_queue(queue, pbx)
        caller = self.find_caller(view, uniqueid)
        parameters = {"uniqueid": uniqueid, "info": info}
        await self._claim(user, view.pbx, caller, "withdraw", info)
        try:
            await actions.queue_withdraw_caller(self.link(view.pbx), queue, caller.channel, info)
        except (AmiError, ControlError) as exc:
            await self._release(view.pbx, caller)
            await self._caller_failed(user, view.pbx, "caller.withdraw", caller, parameters, exc)
        return await self._caller_done(
            user,
            view.pbx,
            "caller.withdraw",
            caller,
            parameters,
            f"withdrew {caller.channel} from {queue}",
        )

    async def change_priority(
        self, user: User, queue: str, pbx: str | None, uniqueid: str, priority: int
    ) -> Outcome:
        self.check_queues(user, queue)
        view = self.find_queue(queue, pbx)
        caller = self.find_caller(view, uniqueid)
        parameters = {"uniqueid": uniqueid, "priority": priority}
        link = self.link(view.pbx)
        try:
            await actions.queue_change_priority_caller(link, queue, caller.channel, priority)
        except AmiError as exc:
            await self._caller_failed(user, view.pbx, "caller.priority", caller, parameters, exc)
        outcome = await self._caller_done(
            user,
            view.pbx,
            "caller.priority",
            caller,
            parameters,
            f"priority {priority} for {caller.channel} in {queue}",
        )
        # Asterisk announces no event for a priority change: positions are re-read instead.
        try:
            await self.resync(view.pbx)
        except AmiError as exc:
            log.warning("PBX %s: resync after a priority change failed: %s", view.pbx, exc.message)
        return outcome

    async def _claim(
        self, user: User, pbx: str, caller: CallerView, action: str, destination: str
    ) -> None:
        try:
            claimed = await store.claim_caller(
                self.engine,
                pbx=pbx,
                uniqueid=caller.uniqueid,
                queue=caller.queue,
                joined_at=caller.joined_at,
                action=action,
                destination=destination,
                username=user.username,
                at=self.clock(),
            )
        except (SQLAlchemyError, OSError) as exc:
            raise NOT_STORED(
                f"cannot record the {action} ({type(exc).__name__}); nothing was sent to the PBX",
            ) from None
        if not claimed:
            existing = await store.caller_claim(
                self.engine, pbx, caller.uniqueid, caller.queue, caller.joined_at
            )
            raise ALREADY_HANDLED(
                f"caller {caller.uniqueid} was already handled in {caller.queue!r}",
                by=existing.username if existing else None,
                action=existing.action if existing else None,
            )

    async def _release(self, pbx: str, caller: CallerView) -> None:
        try:
            await store.release_caller(
                self.engine, pbx, caller.uniqueid, caller.queue, caller.joined_at
            )
        except (SQLAlchemyError, OSError) as exc:
            log.error(
                "could not release the claim on caller %s: %s", caller.uniqueid, type(exc).__name__
            )

    async def _caller_failed(
        self,
        user: User,
        pbx: str,
        action: str,
        caller: CallerView,
        parameters: Mapping[str, Any],
        exc: AmiError | ControlError,
    ) -> None:
        message = exc.message
        await self._audit_failure(
            user, pbx, action, caller.queue, caller.uniqueid, parameters, message
        )
        if isinstance(exc, ControlError):
            raise exc
        raise ami_failure(exc) from None

    async def _caller_done(
        self,
        user: User,
        pbx: str,
        action: str,
        caller: CallerView,
        parameters: Mapping[str, Any],
        message: str,
    ) -> Outcome:
        log.info("supervisor %s: %s on PBX %s", user.username, message, pbx)
        try:
            await store.write_audit(
                self.engine,
                [
                    self._audit(
                        user,
                        pbx,
                        action,
                        caller.queue,
                        caller.uniqueid,
                        parameters,
                        ok=True,
                        message=message,
                    )
                ],
            )
        except (SQLAlchemyError, OSError) as exc:
            log.error("audit row lost (database: %s): %s", type(exc).__name__, message)
        return Outcome(action, pbx, (message,))

    # ------------------------------------------------------------------ agents

    async def spy(
        self,
        user: User,
        interface: str,
        pbx: str | None,
        mode: SpyMode,
        supervisor_interface: str | None,
    ) -> Outcome:
        self.check_agent(user, interface, pbx)
        name, _members = self.agent_memberships(interface, pbx)
        phone = supervisor_interface or (user.interfaces[0] if user.interfaces else "")
        if not phone:
            raise NO_SUPERVISOR_PHONE(
                "give supervisor_interface (your phone, e.g. PJSIP/1009): "
                "your user has no interface",
            )
        link = self.link(name)
        channel = self.agent_channels.get((name, interface))
        if channel is None:
            channel = await self._channel_from_pbx(link, interface)
        parameters = {"interface": interface, "mode": mode, "supervisor_interface": phone}
        if channel is None:
            raise AGENT_NOT_ON_CALL(f"{interface} is not on a call")
        try:
            await actions.originate_chanspy(
                link, phone, channel, SPY_OPTIONS[mode], caller_id=self.spy_caller_id
            )
        except AmiError as exc:
            await self._audit_failure(
                user, name, f"agent.{mode}", None, interface, parameters, exc.message
            )
            raise ami_failure(exc) from None
        message = f"{mode} on {channel} from {phone}"
        log.info("supervisor %s: %s on PBX %s", user.username, message, name)
        try:
            await store.write_audit(
                self.engine,
                [
                    self._audit(
                        user,
                        name,
                        f"agent.{mode}",
                        None,
                        interface,
                        parameters,
                        ok=True,
                        message=message,
                    )
                ],
            )
        except (SQLAlchemyError, OSError) as exc:
            log.error("audit row lost (database: %s): %s", type(exc).__name__, message)
        return Outcome(f"agent.{mode}", name, (message,), {"channel": channel})

    async def _channel_from_pbx(self, link: ActionLink, interface: str) -> str | None:
        """The agent's bridged channel, asked of the PBX (calls answered before we started)."""
        prefix = interface.removesuffix("/n") + "-"
        try:
            channels = await actions.core_show_channels(link)
        except AmiError as exc:
            raise ami_failure(exc) from None
        for fields in channels:
            channel = fields.get("Channel", "")
            if channel.startswith(prefix) and fields.get("BridgeId"):
                return channel
        return None

    # ------------------------------------------------------------------ desired state

    async def follow(self, change: MemberChanged) -> None:
        """Let the stored desired state follow a member change made outside the console."""
        if self.acting[(change.pbx, change.queue, change.interface)]:
            return  # a supervisor is setting this member right now: that wins
        followed = await store.follow_pbx_change(
            self.engine,
            change.pbx,
            change.queue,
            change.interface,
            change.cause,
            change.member,
            change.at,
        )
        if followed is None:
            return
        _before, after = followed
        log.info(
            "PBX %s: %s in %s changed outside the console (%s); desired state %s",
            change.pbx,
            change.interface,
            change.queue,
            change.cause,
            "dropped" if after is None else _describe_desired(after),
        )

    async def reapply(self, link: ActionLink) -> Outcome:
        """Bring a (re)connected PBX back to what supervisors set (best effort per member)."""
        pbx = link.name
        desired = await store.load_desired(self.engine, pbx)
        members = {
            (m.queue, m.interface): m
            for v in self.model.queue_views(self.clock())
            if v.pbx == pbx
            for m in v.members
        }
        ops = plan_reapply(desired, members)
        applied: list[str] = []
        failed: list[dict[str, str]] = []
        for op in ops:
            try:
                await send_member_op(link, op)
            except AmiError as exc:
                if is_already_done(op, exc.message):
                    continue
                failed.append({"action": op.describe(), "error": exc.message})
                continue
            applied.append(op.describe())
        if applied or failed:
            log.info(
                "PBX %s: desired state re-applied: %d action(s)%s%s",
                pbx,
                len(applied),
                (": " + "; ".join(applied)) if applied else "",
                (
                    f"; {len(failed)} failed: "
                    + "; ".join(f"{f['action']} ({f['error']})" for f in failed)
                )
                if failed
                else "",
            )
            system = User(0, "system", "system", "admin")
            try:
                await store.write_audit(
                    self.engine,
                    [
                        self._audit(
                            system,
                            pbx,
                            "desired.reapply",
                            None,
                            pbx,
                            {"applied": applied, "failed": failed},
                            ok=not failed,
                            message="; ".join(applied + [f["action"] for f in failed]),
                        )
                    ],
                )
            except (SQLAlchemyError, OSError) as exc:
                log.error("audit row lost (database: %s)", type(exc).__name__)
        else:
            log.info(
                "PBX %s: desired state already in place (%d member setting(s) stored)",
                pbx,
                len(desired),
            )
        self.publish(
            dumps(
                {
                    "type": "DesiredStateApplied",
                    "pbx": pbx,
                    "at": self.clock().isoformat(),
                    "applied": applied,
                    "failed": failed,
                }
            )
        )
        return Outcome("desired.reapply", pbx, tuple(applied), {"failed": failed})
