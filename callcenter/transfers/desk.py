"""Use cases of the transfers room: the console's transfer, escalate, complete, cancel, hold,
mute and conference, the PBX's FastAGI reports, and the call legs they make.

Every action is a ``Transfer`` row first (state ``requested``), then the AMI action, then the
move the PBX's answer allows (``flow.advance``); a refused action leaves the call as it was
and the row ``failed`` with Asterisk's words. The PBX reports what happened through FastAGI
(dialplan/transfer.conf: the target asked for, answered, the Dial's end) and the caller's
Hangup; each report is a conditional move in the database, so replicas and repeated
reports agree. What the agent sees is pushed to their console (``TransferState``) and
the agent the call comes to gets the note (``TransferNote``).

How each mode reaches Asterisk (checked on Asterisk 22, docs/transfers.md):

- blind: ``Setvar CC_XFER_BACK`` (the queue to put the caller back in) on the caller's
  channel, ``BlindTransfer`` of the agent's channel to ``9<number>@<context>``;
- warm and escalation to a person: ``Atxfer`` of the agent's channel (the caller hears music
  on hold); complete = ``Hangup`` of the agent's channel (Asterisk then joins caller and
  target: AttendedTransfer, queue_log ATTENDEDTRANSFER); cancel = ``CancelAtxfer``;
- hold: ``Atxfer`` to the hold extension, resume = ``CancelAtxfer``;
- conference: ``Originate`` of ``Local/9<number>@<context>`` into ``ChanSpy(<agent>,qBE)``;
- mute: ``MuteAudio`` (res_mutestream) of what the agent's phone sends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.agents.scope import Team
from callcenter.agents.states import AgentState, StateName
from callcenter.ami import actions
from callcenter.ami.calls import call_at_phone
from callcenter.ami.errors import AmiError, AmiTimeout
from callcenter.ami.problems import PBX_UNAVAILABLE, pbx_failure
from callcenter.auth.identity import User
from callcenter.clock import Clock, utc_now
from callcenter.component import LinkDirectory, LiveReader, PbxLink
from callcenter.customers.index import Customer
from callcenter.feed.serialize import to_data
from callcenter.live import CallConnected, CallEnded, CallerJoined, CallRinging, Change
from callcenter.live.connected import AgentCalls, ConnectedCall
from callcenter.logs import mask_number
from callcenter.settings import TransfersSettings
from callcenter.transfers import store
from callcenter.transfers.directory import (
    Route,
    Target,
    escalation_target,
    route_of,
    tier_of_queue,
)
from callcenter.transfers.flow import (
    ACTIVE,
    LEG_END,
    Mode,
    NotNow,
    Result,
    State,
    Trigger,
    advance,
)
from callcenter.transfers.flow import dial_result as result_of_dial
from callcenter.web.errors import ApiError, Problem

log = logging.getLogger(__name__)

IN_PROGRESS = Problem(409, "transfer-in-progress", "a transfer or hold is under way already")
NO_SUCH_TARGET = Problem(404, "no-such-target", "no transfer target of that name")
TARGET_BUSY = Problem(409, "target-busy", "the target is on a call")
TARGET_UNREACHABLE = Problem(409, "target-unreachable", "the target cannot be reached now")
TO_SELF = Problem(400, "transfer-to-self", "a call cannot be transferred to oneself")
NEEDS_A_PHONE = Problem(
    400, "needs-a-phone", "a consultation or conference needs a person or phones, not a queue"
)
NO_ESCALATION = Problem(409, "no-escalation-target", "there is no tier above this call's")
NOTHING_TO_COMPLETE = Problem(409, "nothing-to-complete", "no consultation to complete")
NOTHING_TO_CANCEL = Problem(409, "nothing-to-cancel", "no transfer to go back from")
NOT_ON_HOLD = Problem(409, "not-on-hold", "the call is not on hold")

# A transfer still ringing this long after the ring time has lost its report.
SWEEP_MARGIN_SECONDS = 30
# Roles that count as supervisors in the directory (a team leader is seed 003's next tier).
SUPERVISOR_ROLES = frozenset({"team_leader", "supervisor", "admin"})
BUSY_STATES = frozenset({StateName.ON_CALL, StateName.ACW})


class TransferPeople(Protocol):
    """What the transfers room uses of the agents room."""

    def active_user(self, user_id: int) -> User | None: ...

    def active_users(self) -> Sequence[User]: ...

    def teams(self) -> Sequence[Team]: ...

    def phone_of(self, user_id: int) -> tuple[str, str] | None:
        """(PBX, interface) the user is signed in at, if any."""

    def state_of(self, user_id: int) -> AgentState: ...

    def user_at(self, pbx: str, interface: str) -> int | None:
        """The user signed in at this phone now."""

    def tell(self, user_id: int, message: Mapping[str, Any]) -> None: ...


class CallerCards(Protocol):
    """The customer a number belongs to (the customer directory's memory)."""

    def find(self, raw_number: str, account: str | None) -> tuple[Customer | None, str | None]: ...


@dataclass(frozen=True, slots=True)
class Resolved:
    kind: str  # agent | supervisor | target | queue
    ref: str
    label: str
    route: Route
    user_id: int | None


def interface_of(channel: str) -> str:
    """PJSIP/1004-0000002a -> PJSIP/1004 (a channel's name without its counter)."""
    head, sep, _tail = channel.rpartition("-")
    return head if sep else channel


class TransferDesk:
    def __init__(
        self,
        settings: TransfersSettings,
        engine: AsyncEngine,
        links: LinkDirectory,
        live: LiveReader,
        people: TransferPeople,
        cards: CallerCards,
        *,
        var_prefix: str = "CC_",
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.links = links
        self.live = live
        self.people = people
        self.cards = cards
        self.clock = clock
        self.calls = AgentCalls()
        self.targets: list[Target] = []
        self.xfer_var = f"{var_prefix}XFER_ID"
        # (pbx, agent channel) -> muted; MuteAudio has no event to follow.
        self.muted: dict[tuple[str, str], bool] = {}
        # (pbx, caller uniqueid) watched for the caller's Hangup: active transfers, open legs.
        self.watched: set[tuple[str, str]] = set()
        # (pbx, linkedid) of calls with legs open: only their ends touch the legs table.
        self.leg_calls: set[tuple[str, str]] = set()
        # (pbx, agent channel) -> the consultation or hold it started: its Hangup matters.
        self.agent_watch: dict[tuple[str, str], int] = {}
        self.jobs: asyncio.Queue[Callable[[], Awaitable[None]]] = asyncio.Queue()

    # ------------------------------------------------------------------ life

    async def load(self) -> None:
        for row in await store.all_active(self.engine):
            self.watched.add((row.pbx, row.caller_uniqueid))
        for leg in await store.open_legs(self.engine):
            self.watched.add((leg.pbx, leg.caller_uniqueid))
            self.leg_calls.add((leg.pbx, leg.linkedid))

    async def work(self) -> None:
        while True:
            job = await self.jobs.get()
            try:
                await job()
            except Exception:
                log.exception("transfer job failed")

    # ------------------------------------------------------------------ the event path

    def on_change(self, change: Change) -> None:
        if isinstance(change, CallEnded) and change.record.answered_by:
            # The mute ends with the agent's channel (looked up before the tracker drops it).
            ended = self.calls.connected(change.record.pbx, change.record.answered_by)
            if ended is not None and ended.uniqueid == change.record.uniqueid:
                self.muted.pop((ended.pbx, ended.agent_channel), None)
        self.calls.on_change(change)
        if isinstance(change, CallerJoined) and change.caller.ivr.get(self.xfer_var):
            caller = change.caller
            number = caller.ivr[self.xfer_var]
            self.jobs.put_nowait(lambda: self._queued(caller.pbx, caller.uniqueid, number))
        elif isinstance(change, CallRinging) and change.ivr.get(self.xfer_var):
            self.jobs.put_nowait(lambda: self._note_to_ringing(change))
        elif isinstance(change, CallConnected) and change.ivr.get(self.xfer_var):
            self.jobs.put_nowait(lambda: self._leg_from_queue(change))
        elif isinstance(change, CallEnded):
            record = change.record
            if (
                record.answered_by
                and record.completed_by != "transfer"
                and (record.pbx, record.linkedid) in self.leg_calls
            ):
                self.jobs.put_nowait(
                    lambda: self._call_ended(
                        record.pbx, record.linkedid, record.answered_by or "", record.ended_at
                    )
                )

    def on_ami_event(self, pbx: str, fields: Mapping[str, str], at: datetime) -> None:
        event = fields.get("Event")
        if event == "VarSet":
            # Every replica sees the transfer context set the number on the caller's (or the
            # consultation's) channel: the one holding the target's console tells them.
            if fields.get("Variable") == "CC_XFER_ID" and fields.get("Value"):
                number = fields["Value"]
                self.jobs.put_nowait(lambda: self._note_to_target(pbx, number))
            return
        if event != "Hangup":
            return
        key = (pbx, fields.get("Uniqueid", ""))
        if key in self.watched:
            self.watched.discard(key)
            self.jobs.put_nowait(lambda: self._caller_gone(key[0], key[1], at))
        transfer_id = self.agent_watch.pop((pbx, fields.get("Channel", "")), None)
        if transfer_id is not None:
            self.jobs.put_nowait(lambda: self._agent_gone(transfer_id, at))

    # ------------------------------------------------------------------ reading

    async def find_call(self, user: User) -> ConnectedCall:
        return await call_at_phone(
            self.calls,
            self.live,
            self.links,
            self.people.phone_of(user.id),
            user.display_name,
            needs_agent_channel=True,
        )

    def _link(self, pbx: str) -> PbxLink:
        link = self.links.connected(pbx)
        if link is None:
            raise PBX_UNAVAILABLE(f"PBX {pbx} is not connected", pbx=pbx)
        return link

    def escalation_of(self, user: User, call: ConnectedCall) -> dict[str, Any] | None:
        tier = tier_of_queue(self.targets, call.pbx, call.queue)
        target = escalation_target(self.targets, call.pbx, tier)
        if target is not None:
            return {
                "kind": "target",
                "slug": target.slug,
                "label_zh": target.label_zh,
                "label_en": target.label_en,
                "tier": target.tier,
            }
        leader = self._team_leader(user, call.pbx)
        if leader is not None:
            return {"kind": "team-leader", "user_id": leader.id, "name": leader.display_name}
        return None

    def _team_leader(self, user: User, pbx: str) -> User | None:
        if not self.settings.escalate_to_team_leader:
            return None
        for team in self.people.teams():
            if user.id not in team.members:
                continue
            for leader_id in sorted(team.leaders - {user.id}):
                leader = self.people.active_user(leader_id)
                if leader is not None and self._phone(leader, pbx) is not None:
                    return leader
        return None

    def _phone(self, user: User, pbx: str) -> str | None:
        """The phone the user is reached at on this PBX: where they signed in, else their
        fixed phone (a supervisor need not sign in to queues)."""
        phone = self.people.phone_of(user.id)
        if phone is not None:
            return phone[1] if phone[0] == pbx else None
        if user.role in SUPERVISOR_ROLES and user.interfaces:
            return user.interfaces[0]
        return None

    async def console(self, user: User) -> dict[str, Any]:
        """What the agent's console shows of transfers now."""
        phone = self.people.phone_of(user.id)
        call = None
        if phone is not None:
            call = self.calls.connected(*phone)
        active = (
            None if call is None else await store.active_on(self.engine, call.pbx, call.uniqueid)
        )
        shown = active
        if shown is None and call is not None:
            shown = await store.last_of(self.engine, user.id, call.linkedid)
        data: dict[str, Any] = {
            "call": None,
            "active": None if shown is None else shown.as_data(),
            "held": active is not None and active.mode is Mode.HOLD,
            "muted": False,
            "tier": None,
            "escalation": None,
        }
        if call is not None:
            data["call"] = {
                "pbx": call.pbx,
                "uniqueid": call.uniqueid,
                "queue": call.queue,
                "caller_num": call.caller_num,
                "since": call.answered_at,
            }
            data["muted"] = self.muted.get((call.pbx, call.agent_channel), False)
            data["tier"] = tier_of_queue(self.targets, call.pbx, call.queue)
            data["escalation"] = self.escalation_of(user, call)
        return data

    def directory(self, user: User) -> dict[str, Any]:
        people = []
        for other in self.people.active_users():
            if other.id == user.id:
                continue
            phone = self.people.phone_of(other.id)
            reachable_phone = phone is not None or (
                other.role in SUPERVISOR_ROLES and bool(other.interfaces)
            )
            if not reachable_phone:
                continue
            state = self.people.state_of(other.id).state
            people.append(
                {
                    "user_id": other.id,
                    "name": other.display_name,
                    "role": other.role,
                    "state": state.value,
                    "reachable": state not in BUSY_STATES,
                }
            )
        people.sort(key=lambda p: (p["role"] not in SUPERVISOR_ROLES, p["name"]))
        return {
            "targets": [
                {
                    "slug": t.slug,
                    "label_zh": t.label_zh,
                    "label_en": t.label_en,
                    "tier": t.tier,
                    "kind": t.kind,
                    "escalation": t.escalation,
                }
                for t in self.targets
                if t.enabled
            ],
            "people": people,
        }

    async def took_part(
        self, pbx: str, linkedid: str, user_id: int, interfaces: tuple[str, ...]
    ) -> bool:
        """CallParts (work items): did this person take a leg of the call?"""
        return any(
            leg.agent_user == user_id or leg.agent_interface in interfaces
            for leg in await store.legs_of(self.engine, pbx, linkedid)
        )

    # ------------------------------------------------------------------ targets

    def resolve(self, user: User, call: ConnectedCall, kind: str, ref: str) -> Resolved:
        if kind in {"agent", "supervisor"}:
            if not (ref.isascii() and ref.isdigit() and len(ref) <= 18):
                raise NO_SUCH_TARGET(f"no user {ref}", kind=kind, ref=ref)
            other = self.people.active_user(int(ref))
            if other is None:
                raise NO_SUCH_TARGET(f"no active user {ref}", kind=kind, ref=ref)
            if other.id == user.id:
                raise TO_SELF("a call cannot be transferred to oneself")
            interface = self._phone(other, call.pbx)
            if interface is None:
                raise TARGET_UNREACHABLE(
                    f"{other.display_name} is not at a phone on {call.pbx}", user_id=other.id
                )
            state = self.people.state_of(other.id).state
            if state in BUSY_STATES or self.calls.connected(call.pbx, interface) is not None:
                raise TARGET_BUSY(f"{other.display_name} is on a call", user_id=other.id)
            return Resolved(
                kind, str(other.id), other.display_name, Route("dial", interface), other.id
            )
        if kind == "target":
            target = next((t for t in self.targets if t.slug == ref and t.enabled), None)
            if target is None or not target.serves(call.pbx):
                raise NO_SUCH_TARGET(f"no transfer target {ref}", kind=kind, ref=ref)
            if target.kind == "queue" and target.queue not in self._queues(call.pbx):
                raise TARGET_UNREACHABLE(
                    f"{target.label(user.language)}: queue {target.queue} is not on {call.pbx}",
                    slug=target.slug,
                )
            return Resolved(kind, target.slug, target.label(user.language), route_of(target), None)
        if kind == "queue":
            if ref not in self._queues(call.pbx):
                raise NO_SUCH_TARGET(f"no queue {ref} on {call.pbx}", kind=kind, ref=ref)
            return Resolved(kind, ref, ref, Route("queue", ref), None)
        raise NO_SUCH_TARGET(f"no target of kind {kind}", kind=kind, ref=ref)

    def _queues(self, pbx: str) -> set[str]:
        return {q.queue for q in self.live.queue_views(self.clock()) if q.pbx == pbx}

    # ------------------------------------------------------------------ console actions

    async def _begin(
        self,
        user: User,
        call: ConnectedCall,
        mode: Mode,
        resolved: Resolved | None,
        *,
        note: str = "",
        reason: str = "",
        escalation: bool = False,
    ) -> store.Row:
        active = await store.active_on(self.engine, call.pbx, call.uniqueid)
        if active is not None:
            raise IN_PROGRESS(
                f"transfer {active.id} is {active.state.value}", transfer=active.as_data()
            )
        route = resolved.route if resolved is not None else Route("hold", "")
        try:
            row = await self._create(call, user, mode, resolved, route, note, reason, escalation)
        except store.AlreadyActive:
            raise IN_PROGRESS("another transfer of this call was started just now") from None
        self.watched.add((call.pbx, call.uniqueid))
        if mode in (Mode.WARM, Mode.HOLD):
            # Its hang-up completes a consultation, or leaves the caller on hold.
            self.agent_watch[(call.pbx, call.agent_channel)] = row.id
        self.leg_calls.add((call.pbx, row.linkedid))
        await store.open_leg(
            self.engine,
            pbx=call.pbx,
            linkedid=row.linkedid,
            caller_uniqueid=call.uniqueid,
            agent_interface=call.agent_interface,
            agent_user=user.id,
            queue=call.queue or None,
            via_transfer=None,
            started_at=call.answered_at or row.requested_at,
        )
        return row

    async def _create(
        self,
        call: ConnectedCall,
        user: User,
        mode: Mode,
        resolved: Resolved | None,
        route: Route,
        note: str,
        reason: str,
        escalation: bool,
    ) -> store.Row:
        return await store.create(
            self.engine,
            {
                "pbx": call.pbx,
                "linkedid": call.linkedid or call.uniqueid,
                "caller_uniqueid": call.uniqueid,
                "caller_num": call.caller_num or None,
                "caller_channel": call.channel or None,
                "queue": call.queue or None,
                "mode": mode.value,
                "escalation": escalation,
                "from_user": user.id,
                "from_username": user.username,
                "from_interface": call.agent_interface,
                "target_kind": resolved.kind if resolved else "hold",
                "target_ref": resolved.ref if resolved else "",
                "target_label": resolved.label if resolved else "",
                "target_user": resolved.user_id if resolved else None,
                "target_dial": f"{route.kind}:{route.dest}",
                "note": note,
                "reason": reason,
                "state": State.REQUESTED.value,
                "requested_at": self.clock(),
            },
        )

    async def _step(self, row: store.Row, trigger: Trigger, **values: Any) -> store.Row | None:
        """Move the transfer by ``trigger`` from the state it is in now; None when the
        trigger does not fit that state. A FastAGI report and the console's own action
        race (BlindTransfer answers after the caller reached the dialplan): a move that
        finds the row moved meanwhile reads it again and decides once more."""
        current: store.Row | None = row
        for _ in range(3):
            if current is None:
                return None
            try:
                after = advance(current.mode, current.state, trigger)
            except NotNow as exc:
                log.info("transfer %d: %s", current.id, exc)
                return None
            moved_values = dict(values)
            if after not in ACTIVE:
                moved_values.setdefault("ended_at", self.clock())
            moved = await store.move(self.engine, current.id, current.state, after, **moved_values)
            if moved is not None:
                self._push(moved)
                return moved
            current = await store.get(self.engine, current.id)
        return None

    async def _refused(self, row: store.Row, exc: AmiError) -> ApiError:
        if isinstance(exc, AmiTimeout):
            # The PBX may have done it: the FastAGI reports and the caller's Hangup decide.
            sent = await self._step(row, Trigger.SENT)
            log.warning("transfer %d: no answer from %s in time", row.id, row.pbx)
            return pbx_failure(exc, transfer=(sent or row).as_data())
        failed = await self._step(
            row, Trigger.REFUSED, result=Result.REFUSED.value, detail=exc.message[:300]
        )
        log.warning("transfer %d refused by %s: %s", row.id, row.pbx, exc.message)
        return pbx_failure(exc, transfer=(failed or row).as_data())

    async def transfer(
        self,
        user: User,
        mode: Mode,
        kind: str,
        ref: str,
        *,
        note: str = "",
        reason: str = "",
        escalation: bool = False,
    ) -> store.Row:
        call = await self.find_call(user)
        resolved = self.resolve(user, call, kind, ref)
        if mode is not Mode.BLIND and resolved.route.kind == "queue":
            raise NEEDS_A_PHONE(f"{resolved.label} is a queue: transfer blind")
        link = self._link(call.pbx)
        row = await self._begin(
            user, call, mode, resolved, note=note, reason=reason, escalation=escalation
        )
        exten = f"9{store.number_of(row.id)}"
        try:
            if mode is Mode.BLIND:
                # Where the dialplan puts the caller back when the target is not reached.
                await actions.setvar(link, call.channel, "CC_XFER_BACK", call.queue)
                await actions.blind_transfer(link, call.agent_channel, self.settings.context, exten)
            elif mode is Mode.WARM:
                await actions.atxfer(link, call.agent_channel, self.settings.context, exten)
            else:
                await actions.originate_chanspy(
                    link,
                    f"Local/{exten}@{self.settings.context}",
                    call.agent_channel,
                    "qBE",
                    ring_seconds=self.settings.ring_seconds + 5,
                )
        except AmiError as exc:
            raise await self._refused(row, exc) from None
        sent = await self._step(row, Trigger.SENT) or await store.get(self.engine, row.id) or row
        if mode is Mode.BLIND:
            await store.close_leg(
                self.engine,
                call.pbx,
                row.linkedid,
                call.agent_interface,
                self.clock(),
                LEG_END[Mode.BLIND],
            )
        log.info(
            "%s transfer %d of %s on %s by %s to %s %s",
            mode.value,
            row.id,
            mask_number(call.caller_num),
            call.pbx,
            user.username,
            resolved.kind,
            resolved.ref,
        )
        return sent

    async def escalate(self, user: User, reason: str, note: str) -> store.Row:
        call = await self.find_call(user)
        target = self.escalation_of(user, call)
        if target is None:
            raise NO_ESCALATION(f"no tier above {call.queue} and no team leader at a phone")
        if target["kind"] == "team-leader":
            return await self.transfer(
                user,
                Mode.WARM,
                "supervisor",
                str(target["user_id"]),
                note=note,
                reason=reason,
                escalation=True,
            )
        slug = str(target["slug"])
        found = next(t for t in self.targets if t.slug == slug)
        mode = Mode.BLIND if found.kind == "queue" else Mode.WARM
        return await self.transfer(
            user, mode, "target", slug, note=note, reason=reason, escalation=True
        )

    async def _current(self, user: User) -> tuple[ConnectedCall, store.Row | None]:
        """The agent's connected call and the transfer under way on it (if any): an action
        on the console always concerns the call the agent is on now."""
        call = await self.find_call(user)
        row = await store.active_on(self.engine, call.pbx, call.uniqueid)
        if row is not None and row.from_user != user.id:
            row = None
        return call, row

    async def _add_hold(self, row: store.Row, moved: store.Row | None, at: datetime) -> None:
        """The caller's time on hold (music) from the request to ``at``, counted by the one
        step that ended the consultation or hold (a racing report changes nothing)."""
        if moved is not None:
            await store.add_hold(
                self.engine,
                row.pbx,
                row.linkedid,
                row.from_interface,
                (at - row.requested_at).total_seconds(),
            )

    async def complete(self, user: User) -> store.Row:
        call, row = await self._current(user)
        if row is None or row.mode is not Mode.WARM or row.state is not State.CONSULTING:
            raise NOTHING_TO_COMPLETE("no consultation with an answered target")
        link = self._link(row.pbx)
        # The agent's hang-up completes the transfer only while they still talk to the
        # target: had the target just left, Asterisk has put the agent back with the caller,
        # and hanging up would end the caller's call.
        try:
            peer = await actions.getvar(link, f"IMPORT({call.agent_channel},BRIDGEPEER)")
        except AmiError as exc:
            raise pbx_failure(exc, transfer=row.as_data()) from None
        if not peer.startswith(f"Local/9{store.number_of(row.id)}@"):
            raise NOTHING_TO_COMPLETE(
                "the agent is no longer talking to the target", transfer=row.as_data()
            )
        self.agent_watch.pop((row.pbx, call.agent_channel), None)
        try:
            await actions.hangup(link, call.agent_channel)
        except AmiError as exc:
            self.agent_watch[(row.pbx, call.agent_channel)] = row.id
            raise pbx_failure(exc, transfer=row.as_data()) from None
        return await self._completed(row, self.clock())

    async def _completed(self, row: store.Row, at: datetime) -> store.Row:
        done = await self._step(row, Trigger.COMPLETE, result=Result.COMPLETED.value)
        await self._add_hold(row, done, at)
        if done is not None:
            await store.close_leg(
                self.engine, row.pbx, row.linkedid, row.from_interface, at, LEG_END[Mode.WARM]
            )
        return done or await store.get(self.engine, row.id) or row

    async def cancel(self, user: User) -> store.Row:
        call, row = await self._current(user)
        if row is None or row.mode is Mode.HOLD:
            raise NOTHING_TO_CANCEL("no transfer under way")
        if row.mode is Mode.BLIND:
            raise NOTHING_TO_CANCEL("a blind transfer cannot be taken back")
        link = self._link(row.pbx)
        if row.mode is Mode.WARM:
            try:
                await actions.cancel_atxfer(link, call.agent_channel)
            except AmiError as exc:
                raise pbx_failure(exc, transfer=row.as_data()) from None
            self.agent_watch.pop((row.pbx, call.agent_channel), None)
        elif row.answered_channel:
            try:
                await actions.hangup(link, row.answered_channel)
            except AmiError as exc:
                raise pbx_failure(exc, transfer=row.as_data()) from None
        now = self.clock()
        cancelled = await self._step(row, Trigger.CANCEL, result=Result.CANCELLED.value)
        if row.mode is Mode.WARM:
            await self._add_hold(row, cancelled, now)
            if cancelled is not None and row.answered_by:
                await store.close_leg(
                    self.engine, row.pbx, row.linkedid, row.answered_by, now, "returned"
                )
        return cancelled or await store.get(self.engine, row.id) or row

    async def hold(self, user: User, on: bool) -> dict[str, Any]:
        if on:
            call = await self.find_call(user)
            link = self._link(call.pbx)
            row = await self._begin(user, call, Mode.HOLD, None)
            try:
                await actions.atxfer(
                    link, call.agent_channel, self.settings.context, self.settings.hold_extension
                )
            except AmiError as exc:
                raise await self._refused(row, exc) from None
            await self._step(row, Trigger.SENT)
        else:
            call, held = await self._current(user)
            if held is None or held.mode is not Mode.HOLD:
                raise NOT_ON_HOLD("the call is not on hold")
            try:
                await actions.cancel_atxfer(self._link(held.pbx), call.agent_channel)
            except AmiError as exc:
                raise pbx_failure(exc) from None
            self.agent_watch.pop((held.pbx, call.agent_channel), None)
            now = self.clock()
            resumed = await self._step(held, Trigger.RESUME, result=Result.RESUMED.value)
            await self._add_hold(held, resumed, now)
        return await self.console(user)

    async def mute(self, user: User, on: bool) -> dict[str, Any]:
        call = await self.find_call(user)
        try:
            await actions.mute_audio(self._link(call.pbx), call.agent_channel, "in", on)
        except AmiError as exc:
            raise pbx_failure(exc) from None
        self.muted[(call.pbx, call.agent_channel)] = on
        state = await self.console(user)
        self.people.tell(user.id, to_data({"type": "TransferState", **state}))
        return state

    # ------------------------------------------------------------------ FastAGI reports

    async def target_of(self, pbx: str, number: str, current_priority: str) -> dict[str, str]:
        """transfer-target: where the PBX sends the caller or the consultation."""
        row = await store.by_number(self.engine, pbx, number)
        if row is None or not row.active or row.mode is Mode.HOLD:
            log.warning("transfer number %s on %s: no transfer under way", number, pbx)
            return {"CC_XFER_KIND": ""}
        kind, _, dest = row.target_dial.partition(":")
        priority = int(current_priority) if current_priority.isdigit() else 0
        # The kind goes last: a connection lost half-way leaves it empty (the caller goes
        # back), never a kind without its destination.
        return {
            "CC_XFER_DEST": dest,
            "CC_XFER_RING": str(self.settings.ring_seconds),
            "CC_XFER_WAIT": str(self.settings.queue_timeout),
            "CC_XFER_PRIO": str(priority + self.settings.queue_priority_boost),
            "CC_XFER_KIND": kind,
        }

    async def answered(self, pbx: str, number: str, channel: str) -> None:
        row = await store.by_number(self.engine, pbx, number)
        if row is None:
            return
        interface = interface_of(channel)
        now = self.clock()
        if row.mode is Mode.CONFERENCE and not row.active:
            # Cancelled while it rang, or the call ended: not let into the call.
            await self._hang_up(row, channel)
            return
        values: dict[str, Any] = {
            "answered_by": interface,
            "answered_at": now,
            "answered_channel": channel or None,
        }
        if row.mode is Mode.BLIND:
            values["result"] = Result.COMPLETED.value
        moved = await self._step(row, Trigger.ANSWERED, **values)
        if moved is None:
            if row.mode is Mode.CONFERENCE:
                await self._hang_up(row, channel)
            return
        if row.mode in (Mode.BLIND, Mode.WARM):
            user_id = row.target_user or self.people.user_at(pbx, interface)
            await store.open_leg(
                self.engine,
                pbx=pbx,
                linkedid=row.linkedid,
                caller_uniqueid=row.caller_uniqueid,
                agent_interface=interface,
                agent_user=user_id,
                queue=None,
                via_transfer=row.id,
                started_at=now,
            )

    async def _hang_up(self, row: store.Row, channel: str) -> None:
        link = self.links.connected(row.pbx)
        if link is None or not channel:
            return
        try:
            await actions.hangup(link, channel)
        except AmiError as exc:
            log.warning("transfer %d: %s not hung up: %s", row.id, channel, exc.message)

    async def dial_ended(self, pbx: str, number: str, dialstatus: str) -> None:
        row = await store.by_number(self.engine, pbx, number)
        if row is None:
            return
        now = self.clock()
        status = dialstatus.upper()
        if status.startswith("QUEUE-"):
            # After Queue() in the target queue: a caller who never joined (no such queue,
            # full, no members) is put back by the dialplan.
            if row.state in (State.REQUESTED, State.RINGING):
                await self._step(
                    row,
                    Trigger.UNANSWERED,
                    result=Result.QUEUE_REFUSED.value,
                    detail=status[len("QUEUE-") :][:40] or "not joined",
                )
            return
        if status == "ANSWER":
            # The target's part is over: after a completed transfer, the call's end; during a
            # consultation, the target hung up (the agent is back with the caller).
            if row.state is State.CONSULTING:
                back = await self._step(
                    row,
                    Trigger.UNANSWERED,
                    result=Result.CANCELLED.value,
                    detail="the target hung up",
                )
                await self._add_hold(row, back, now)
            elif row.state is State.CONFERENCE:
                await self._step(row, Trigger.ENDED, result=Result.LEFT.value)
            if row.answered_by:
                await store.close_leg(
                    self.engine,
                    pbx,
                    row.linkedid,
                    row.answered_by,
                    now,
                    "returned" if row.state is State.CONSULTING else "completed",
                )
            return
        failed = await self._step(
            row, Trigger.UNANSWERED, result=result_of_dial(dialstatus).value, detail=dialstatus[:40]
        )
        if row.mode is Mode.WARM:
            await self._add_hold(row, failed, now)

    # ------------------------------------------------------------------ jobs

    async def _caller_gone(self, pbx: str, uniqueid: str, at: datetime) -> None:
        for row in await store.active_for_caller(self.engine, pbx, uniqueid):
            ended = await self._step(row, Trigger.CALLER_GONE, result=Result.CALLER_HUNG_UP.value)
            if row.mode is Mode.HOLD or (
                row.mode is Mode.WARM and row.state in (State.RINGING, State.CONSULTING)
            ):
                await self._add_hold(row, ended, at)
        for leg in await store.open_legs_of_caller(self.engine, pbx, uniqueid):
            await store.close_leg(
                self.engine, pbx, leg.linkedid, leg.agent_interface, at, "completed"
            )
            self.leg_calls.discard((pbx, leg.linkedid))

    async def _agent_gone(self, transfer_id: int, at: datetime) -> None:
        """The agent's phone hung up during their consultation or hold."""
        row = await store.get(self.engine, transfer_id)
        if row is None or not row.active:
            return
        if row.mode is Mode.WARM:
            # Asterisk completes the attended transfer: the caller goes to the target (a
            # target still ringing gets them when they answer). Unless the caller had hung
            # up first and their Hangup is still on its way: asked of the PBX.
            channels = await self._channels(row.pbx)
            if channels is not None and row.caller_uniqueid not in channels:
                await self._caller_gone(row.pbx, row.caller_uniqueid, at)
                return
            done = await self._step(row, Trigger.AGENT_GONE, result=Result.COMPLETED.value)
            await self._add_hold(row, done, at)
            if done is not None:
                await store.close_leg(
                    self.engine,
                    row.pbx,
                    row.linkedid,
                    row.from_interface,
                    at,
                    LEG_END[Mode.WARM],
                )
            return
        if row.mode is not Mode.HOLD:
            return
        # The caller was left with the hold extension: back into the queue they came from.
        failed = await self._step(row, Trigger.AGENT_GONE, result=Result.AGENT_HUNG_UP.value)
        await self._add_hold(row, failed, at)
        if failed is None:
            return
        await store.close_leg(
            self.engine, row.pbx, row.linkedid, row.from_interface, at, "completed"
        )
        link = self.links.connected(row.pbx)
        if link is None or not row.caller_channel or not row.queue:
            log.error(
                "transfer %d: the agent hung up on hold and %s cannot be put back",
                row.id,
                row.caller_channel,
            )
            return
        try:
            await actions.setvar(link, row.caller_channel, "CC_XFER_BACK", row.queue)
            await actions.redirect(link, row.caller_channel, self.settings.context, "requeue")
        except AmiError as exc:
            log.error("transfer %d: caller not put back: %s", row.id, exc.message)

    async def _note_to_target(self, pbx: str, number: str) -> None:
        row = await store.by_number(self.engine, pbx, number)
        if row is None or not row.active or row.target_user is None:
            return
        self.people.tell(row.target_user, self._note(row))

    async def _queued(self, pbx: str, uniqueid: str, number: str) -> None:
        """The caller joined the target queue: the blind transfer is done."""
        row = await store.by_number(self.engine, pbx, number)
        if row is not None and row.caller_uniqueid == uniqueid:
            await self._step(row, Trigger.QUEUED, result=Result.QUEUED.value)

    async def sweep(self) -> None:
        """Transfers whose report never came (a replica or a link away at the wrong time):
        ringing long after the ring time, or whose caller's channel is gone."""
        now = self.clock()
        rows = await store.all_active(self.engine)
        due = timedelta(seconds=self.settings.ring_seconds + SWEEP_MARGIN_SECONDS)
        alive: dict[str, set[str] | None] = {}
        for row in rows:
            self.watched.add((row.pbx, row.caller_uniqueid))
            if row.pbx not in alive:
                alive[row.pbx] = await self._channels(row.pbx)
            channels = alive[row.pbx]
            if channels is not None and row.caller_uniqueid not in channels:
                await self._caller_gone(row.pbx, row.caller_uniqueid, now)
            elif row.state in (State.REQUESTED, State.RINGING) and now - row.requested_at > due:
                await self._step(row, Trigger.TIMED_OUT, result=Result.NO_REPORT.value)

    async def _channels(self, pbx: str) -> set[str] | None:
        link = self.links.connected(pbx)
        if link is None:
            return None
        try:
            return {f.get("Uniqueid", "") for f in await actions.core_show_channels(link)}
        except AmiError:
            return None

    async def _call_ended(self, pbx: str, linkedid: str, interface: str, at: datetime) -> None:
        await store.close_leg(self.engine, pbx, linkedid, interface, at, "completed")

    async def _leg_from_queue(self, change: CallConnected) -> None:
        """A caller transferred into a queue is answered there: the new agent's leg."""
        number = change.ivr.get(self.xfer_var, "")
        row = await store.by_number(self.engine, change.pbx, number)
        if row is None or row.caller_uniqueid != change.uniqueid:
            return
        self.watched.add((change.pbx, change.uniqueid))
        self.leg_calls.add((change.pbx, row.linkedid))
        await store.open_leg(
            self.engine,
            pbx=change.pbx,
            linkedid=row.linkedid,
            caller_uniqueid=change.uniqueid,
            agent_interface=change.agent_interface,
            agent_user=self.people.user_at(change.pbx, change.agent_interface),
            queue=change.queue,
            via_transfer=row.id,
            started_at=change.at,
        )

    async def _note_to_ringing(self, change: CallRinging) -> None:
        number = change.ivr.get(self.xfer_var, "")
        row = await store.by_number(self.engine, change.pbx, number)
        if row is None or row.caller_uniqueid != change.uniqueid:
            return
        user_id = self.people.user_at(change.pbx, change.agent_interface)
        if user_id is not None:
            self.people.tell(user_id, self._note(row))

    # ------------------------------------------------------------------ telling

    def _note(self, row: store.Row) -> dict[str, Any]:
        giver = self.people.active_user(row.from_user) if row.from_user is not None else None
        number = row.caller_num or ""
        return {
            "type": "TransferNote",
            "transfer_id": row.id,
            "mode": row.mode.value,
            "escalation": row.escalation,
            "from_name": giver.display_name if giver is not None else row.from_username,
            "reason": row.reason,
            "note": row.note,
            "caller_num": number,
            "caller_name": "",
            "customer_name": self._customer_name(number),
            "queue": row.queue,
            "target_label": row.target_label,
            "waiting_since": row.requested_at.isoformat(),
        }

    def _customer_name(self, number: str) -> str | None:
        if not number:
            return None
        try:
            customer, _key = self.cards.find(number, None)
        except ValueError:
            return None
        return customer.name if customer is not None else None

    def _push(self, row: store.Row) -> None:
        if row.from_user is None:
            return
        user = self.people.active_user(row.from_user)
        if user is None:
            return
        self.jobs.put_nowait(lambda: self._push_state(user))

    async def _push_state(self, user: User) -> None:
        self.people.tell(user.id, to_data({"type": "TransferState", **await self.console(user)}))


# What the audit trail keeps of a transfer (the API writes it).
AUDITED = frozenset(
    {"id", "mode", "escalation", "target_kind", "target_ref", "state", "result", "reason"}
)
