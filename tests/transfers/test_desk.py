"""The transfers room's desk from real small parts, on SQLite and on PostgreSQL: the database
(migrated to head) holds every transfer and call leg; the agents room and the customer
directory are typed stand-ins of ``TransferPeople`` and ``CallerCards``; the PBX link is an
in-memory stand-in that records the AMI actions it is sent and refuses the ones it is told
to; the agent's call comes from the live changes the service would feed (``CallRinging``
then ``CallConnected``); the clock is moved by hand. What the PBX then does with the actions
is the rig test's (tests/transfers/test_transfer_rig.py)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.agents.scope import Team
from callcenter.agents.states import READY, SIGNED_OUT, AgentState, StateName
from callcenter.ami.errors import AmiRefused
from callcenter.auth.identity import User
from callcenter.component import PbxLinks
from callcenter.customers.index import Customer
from callcenter.live import (
    CallConnected,
    CallerJoined,
    CallerView,
    CallRinging,
    LiveConfig,
    LiveModel,
)
from callcenter.settings import TransfersSettings
from callcenter.transfers import store
from callcenter.transfers.desk import TransferDesk
from callcenter.transfers.directory import Target
from callcenter.transfers.flow import Mode, State
from callcenter.web.errors import ApiError

PBX = "pbx1"
CONTEXT = "callcenter-transfer"
T0 = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)

WANG = User(2, "wang", "Wang Fang", "agent", ("PJSIP/1001",))
LI = User(3, "li", "Li Na", "agent", ("PJSIP/1002",))
ZHOU = User(4, "zhou", "Zhou Min", "agent")  # no fixed phone
LEADER = User(5, "zhao", "Zhao Lei", "team_leader", ("PJSIP/1009",))

WANG_PHONE = "PJSIP/1001"
LI_PHONE = "PJSIP/1002"
AGENT_CHANNEL = "PJSIP/1001-0000002b"
LI_CHANNEL = "PJSIP/1002-00000040"

CALLER_UID = "1764727200.41"
CALLER_CHANNEL = "PJSIP/trunk-00000029"
CALLER_NUM = "13800138000"
QUEUE = "support"

CHEN = Customer(9, "Chen Jie", ("+8613800138000",), None, 2, "zh", (), "")

TARGETS = [
    Target("billing", "账务组", "Billing", 2, "queue", queue="billing"),
    Target(
        "managers",
        "值班经理",
        "Duty managers",
        3,
        "interfaces",
        interfaces=("PJSIP/9001", "PJSIP/9002"),
        escalation=True,
    ),
    Target("closed", "已停用", "Closed", 2, "queue", queue="closed", enabled=False),
    Target("north", "北区", "North", 2, "queue", pbx="pbx2", queue="north"),
]

EXTEN = re.compile(r"9[0-9]{7}")


class People:
    """The agents room as the transfers room sees it (``TransferPeople``)."""

    def __init__(self) -> None:
        self.users: dict[int, User] = {u.id: u for u in (WANG, LI, ZHOU, LEADER)}
        self.phones: dict[int, tuple[str, str]] = {
            WANG.id: (PBX, WANG_PHONE),
            LI.id: (PBX, LI_PHONE),
        }
        self.states: dict[int, AgentState] = {
            WANG.id: AgentState(StateName.ON_CALL),
            LI.id: READY,
        }
        self.team_list: list[Team] = []
        self.told: list[tuple[int, dict[str, Any]]] = []

    def active_user(self, user_id: int) -> User | None:
        return self.users.get(user_id)

    def active_users(self) -> Sequence[User]:
        return list(self.users.values())

    def teams(self) -> Sequence[Team]:
        return self.team_list

    def phone_of(self, user_id: int) -> tuple[str, str] | None:
        return self.phones.get(user_id)

    def state_of(self, user_id: int) -> AgentState:
        return self.states.get(user_id, SIGNED_OUT)

    def user_at(self, pbx: str, interface: str) -> int | None:
        return next((u for u, phone in self.phones.items() if phone == (pbx, interface)), None)

    def tell(self, user_id: int, message: Mapping[str, Any]) -> None:
        self.told.append((user_id, dict(message)))

    def messages(self, user_id: int, kind: str) -> list[dict[str, Any]]:
        return [m for u, m in self.told if u == user_id and m.get("type") == kind]


class Cards:
    """The customer directory's memory (``CallerCards``)."""

    def find(self, raw_number: str, account: str | None) -> tuple[Customer | None, str | None]:
        if raw_number == CALLER_NUM:
            return CHEN, "+8613800138000"
        return None, None


@dataclass
class Link:
    """A PBX link that records the actions sent to it and refuses those it is told to."""

    name: str = PBX
    connected: bool = True
    reconnects: int = 1
    last_error: str = ""
    sent: list[dict[str, str]] = field(default_factory=list)
    # Action -> Asterisk's words when refusing it.
    refuse: dict[str, str] = field(default_factory=dict)
    # What Getvar answers (the agent channel's BRIDGEPEER, asked before completing).
    value: str = ""

    async def send(
        self, fields: Mapping[str, str], *, as_list: bool = False, timeout: float | None = None
    ) -> Any:
        self.sent.append(dict(fields))
        words = self.refuse.get(fields["Action"])
        if words is not None:
            raise AmiRefused(self.name, words)
        if fields["Action"] == "Getvar":
            return {"Response": "Success", "Value": self.value}
        return {"Response": "Success"}

    def actions(self) -> list[str]:
        return [f["Action"] for f in self.sent]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Room:
    desk: TransferDesk
    people: People
    link: Link
    clock: Clock
    engine: AsyncEngine


@pytest.fixture
async def room(engine: AsyncEngine) -> AsyncIterator[Room]:
    link = Link()
    people = People()
    clock = Clock(T0)
    desk = TransferDesk(
        TransfersSettings(),
        engine,
        PbxLinks([link]),
        LiveModel(LiveConfig()),
        people,
        Cards(),
        clock=clock,
    )
    desk.targets = list(TARGETS)
    # The queues the live model knows on the PBX (targets into a queue it does not know
    # are refused before anything is sent).
    desk._queues = lambda pbx: {"support", "billing", "sales"} if pbx == PBX else set()  # type: ignore[method-assign]
    connect(desk, answered_at=T0 - timedelta(seconds=60))
    yield Room(desk, people, link, clock, engine)


def connect(
    desk: TransferDesk,
    *,
    answered_at: datetime,
    uniqueid: str = CALLER_UID,
    interface: str = WANG_PHONE,
    agent_channel: str = AGENT_CHANNEL,
    caller_channel: str = CALLER_CHANNEL,
) -> None:
    """The live changes of a queue call ringing at ``interface`` and answered there."""
    desk.on_change(
        CallRinging(
            at=answered_at - timedelta(seconds=4),
            pbx=PBX,
            queue=QUEUE,
            uniqueid=uniqueid,
            agent_interface=interface,
            member_name=interface,
            agent_channel=agent_channel,
            caller_num=CALLER_NUM,
            caller_name="",
            channel=caller_channel,
            linkedid=uniqueid,
            ivr={},
            waited_seconds=12.0,
        )
    )
    desk.on_change(
        CallConnected(
            at=answered_at,
            pbx=PBX,
            queue=QUEUE,
            uniqueid=uniqueid,
            agent_interface=interface,
            member_name=interface,
            agent_channel=agent_channel,
            agent_uniqueid=uniqueid + "1",
            caller_num=CALLER_NUM,
            caller_name="",
            waited_seconds=16.0,
            ring_seconds=4,
            ivr={},
        )
    )


async def run_jobs(desk: TransferDesk) -> None:
    """What the desk's worker would do now: every queued job, in order."""
    while not desk.jobs.empty():
        job = await desk.jobs.get()
        await job()


async def transfers(room: Room) -> list[store.Row]:
    return await store.of_call(room.engine, PBX, CALLER_UID)


async def legs(room: Room) -> dict[str, store.Leg]:
    return {leg.agent_interface: leg for leg in await store.legs_of(room.engine, PBX, CALLER_UID)}


async def refused(room: Room, mode: Mode, kind: str, ref: str) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await room.desk.transfer(WANG, mode, kind, ref)
    return caught.value


# --- (a) the PBX refuses ------------------------------------------------------------------


async def test_a_refused_blind_transfer_fails_with_asterisks_words(room: Room) -> None:
    room.link.refuse["BlindTransfer"] = "No such channel"

    error = await refused(room, Mode.BLIND, "agent", str(LI.id))

    assert (error.status, error.error) == (502, "pbx-refused")
    assert error.message == "No such channel"
    assert error.details["pbx"] == PBX
    assert error.details["transfer"]["state"] == "failed"
    assert error.details["transfer"]["result"] == "pbx-refused"

    [row] = await transfers(room)
    assert (row.mode, row.state, row.result) == (Mode.BLIND, State.FAILED, "pbx-refused")
    assert row.detail == "No such channel"
    assert row.ended_at == T0
    assert error.details["transfer"]["id"] == row.id

    # Exactly what Asterisk was asked: the way back on the caller's channel, then the
    # transfer of the agent's channel to 9<number> in the transfer context.
    number = store.number_of(row.id)
    assert room.link.sent == [
        {
            "Action": "Setvar",
            "Channel": CALLER_CHANNEL,
            "Variable": "CC_XFER_BACK",
            "Value": QUEUE,
        },
        {
            "Action": "BlindTransfer",
            "Channel": AGENT_CHANNEL,
            "Context": CONTEXT,
            "Exten": f"9{number}",
        },
    ]
    assert EXTEN.fullmatch(room.link.sent[1]["Exten"])

    # The call stays with the agent: their leg is still open, nothing is under way.
    assert (await legs(room))[WANG_PHONE].ended_at is None
    assert await store.active_on(room.engine, PBX, CALLER_UID) is None


async def test_after_a_refusal_the_agent_can_transfer_again(room: Room) -> None:
    room.link.refuse["BlindTransfer"] = "Transfer failed"
    await refused(room, Mode.BLIND, "agent", str(LI.id))
    del room.link.refuse["BlindTransfer"]
    room.link.sent.clear()

    again = await room.desk.transfer(WANG, Mode.BLIND, "agent", str(LI.id))

    assert again.state is State.RINGING
    first, second = await transfers(room)
    assert (first.state, second.id, second.state) == (State.FAILED, again.id, State.RINGING)
    assert room.link.actions() == ["Setvar", "BlindTransfer"]
    assert room.link.sent[1]["Exten"] == f"9{store.number_of(again.id)}"
    assert room.link.sent[1]["Exten"] != f"9{store.number_of(first.id)}"


async def test_a_refused_setvar_sends_no_transfer(room: Room) -> None:
    room.link.refuse["Setvar"] = "No such channel"

    error = await refused(room, Mode.BLIND, "target", "billing")

    assert (error.status, error.error) == (502, "pbx-refused")
    assert room.link.actions() == ["Setvar"]
    [row] = await transfers(room)
    assert (row.state, row.result, row.detail) == (State.FAILED, "pbx-refused", "No such channel")


async def test_a_refused_consultation_fails_and_nothing_is_under_way(room: Room) -> None:
    room.link.refuse["Atxfer"] = "Unable to transfer"

    error = await refused(room, Mode.WARM, "agent", str(LI.id))

    assert (error.status, error.error, error.message) == (502, "pbx-refused", "Unable to transfer")
    [row] = await transfers(room)
    assert (row.state, row.result) == (State.FAILED, "pbx-refused")
    assert room.link.sent == [
        {
            "Action": "Atxfer",
            "Channel": AGENT_CHANNEL,
            "Context": CONTEXT,
            "Exten": f"9{store.number_of(row.id)}",
        }
    ]
    assert await store.active_on(room.engine, PBX, CALLER_UID) is None
    assert (await legs(room))[WANG_PHONE].hold_seconds == 0


async def test_a_pbx_that_is_not_connected_is_503_and_nothing_is_stored(room: Room) -> None:
    room.link.connected = False

    error = await refused(room, Mode.BLIND, "agent", str(LI.id))

    assert (error.status, error.error) == (503, "pbx-unavailable")
    assert await transfers(room) == []
    assert room.link.sent == []


# --- (b) targets that cannot take the call ------------------------------------------------


async def test_a_target_on_a_call_is_busy_and_nothing_is_stored(room: Room) -> None:
    room.people.states[LI.id] = AgentState(StateName.ON_CALL)

    error = await refused(room, Mode.BLIND, "agent", str(LI.id))

    assert (error.status, error.error) == (409, "target-busy")
    assert error.details == {"user_id": LI.id}
    assert await transfers(room) == []
    assert await legs(room) == {}
    assert room.link.sent == []


async def test_a_target_in_after_call_work_is_busy(room: Room) -> None:
    room.people.states[LI.id] = AgentState(StateName.ACW)
    assert (await refused(room, Mode.WARM, "agent", str(LI.id))).error == "target-busy"


async def test_a_target_whose_phone_has_a_call_is_busy_before_their_state_says_so(
    room: Room,
) -> None:
    connect(
        room.desk,
        answered_at=T0,
        uniqueid="1764727200.77",
        interface=LI_PHONE,
        agent_channel=LI_CHANNEL,
        caller_channel="PJSIP/trunk-00000030",
    )
    assert room.people.state_of(LI.id) == READY

    error = await refused(room, Mode.WARM, "agent", str(LI.id))

    assert (error.status, error.error) == (409, "target-busy")
    assert await transfers(room) == []


async def test_a_target_with_no_phone_is_unreachable(room: Room) -> None:
    # Zhou is not signed in and has no phone of their own.
    error = await refused(room, Mode.BLIND, "agent", str(ZHOU.id))

    assert (error.status, error.error) == (409, "target-unreachable")
    assert await transfers(room) == []
    assert room.link.sent == []


async def test_a_target_signed_in_on_another_pbx_is_unreachable(room: Room) -> None:
    room.people.phones[LI.id] = ("pbx2", LI_PHONE)
    assert (await refused(room, Mode.BLIND, "agent", str(LI.id))).error == "target-unreachable"


async def test_a_call_cannot_be_transferred_to_oneself(room: Room) -> None:
    error = await refused(room, Mode.BLIND, "agent", str(WANG.id))

    assert (error.status, error.error) == (400, "transfer-to-self")
    assert await transfers(room) == []
    assert room.link.sent == []


@pytest.mark.parametrize(
    ("kind", "ref"),
    [
        ("target", "no-such-team"),
        ("target", "closed"),  # disabled
        ("target", "north"),  # on another PBX
        ("agent", "999"),
        ("agent", "li"),
        ("queue", "nowhere"),
    ],
)
async def test_an_unknown_target_is_404(room: Room, kind: str, ref: str) -> None:
    error = await refused(room, Mode.BLIND, kind, ref)

    assert (error.status, error.error) == (404, "no-such-target")
    assert await transfers(room) == []
    assert room.link.sent == []


async def test_a_consultation_needs_a_phone_not_a_queue(room: Room) -> None:
    error = await refused(room, Mode.WARM, "target", "billing")

    assert (error.status, error.error) == (400, "needs-a-phone")
    assert await transfers(room) == []
    assert room.link.sent == []


async def test_a_second_transfer_while_one_is_under_way_is_refused(room: Room) -> None:
    first = await room.desk.transfer(WANG, Mode.WARM, "agent", str(LI.id))
    sent = list(room.link.sent)

    error = await refused(room, Mode.BLIND, "target", "billing")

    assert (error.status, error.error) == (409, "transfer-in-progress")
    assert error.details["transfer"]["id"] == first.id
    assert [r.id for r in await transfers(room)] == [first.id]
    assert room.link.sent == sent


async def test_an_agent_without_a_connected_call_has_nothing_to_transfer(room: Room) -> None:
    with pytest.raises(ApiError) as caught:
        await room.desk.transfer(LI, Mode.BLIND, "target", "billing")
    assert (caught.value.status, caught.value.error) == (409, "not-on-a-call")
    assert room.link.sent == []


# --- (c) a warm transfer, report by report ------------------------------------------------


async def test_a_warm_transfer_from_request_to_the_targets_hang_up(room: Room) -> None:
    desk, clock = room.desk, room.clock
    row = await desk.transfer(
        WANG, Mode.WARM, "agent", str(LI.id), note="wants a refund", reason="billing"
    )
    number = store.number_of(row.id)
    assert row.state is State.RINGING
    assert room.link.sent == [
        {"Action": "Atxfer", "Channel": AGENT_CHANNEL, "Context": CONTEXT, "Exten": f"9{number}"}
    ]

    # transfer-target: the dialplan dials Li's phone; Li's console gets the note.
    answer = await desk.target_of(PBX, number, "5")
    assert answer == {
        "CC_XFER_KIND": "dial",
        "CC_XFER_DEST": LI_PHONE,
        "CC_XFER_RING": "20",
        "CC_XFER_WAIT": "600",
        "CC_XFER_PRIO": "6",
    }
    # The transfer context sets the number on the channel: every replica sees the VarSet,
    # the one holding Li's console tells Li.
    desk.on_ami_event(
        PBX,
        {"Event": "VarSet", "Variable": "CC_XFER_ID", "Value": number, "Channel": "Local/x;2"},
        T0,
    )
    await run_jobs(desk)
    [note] = room.people.messages(LI.id, "TransferNote")
    assert note["transfer_id"] == row.id
    assert (note["mode"], note["from_name"], note["note"], note["reason"]) == (
        "warm",
        "Wang Fang",
        "wants a refund",
        "billing",
    )
    assert (note["caller_num"], note["customer_name"], note["queue"]) == (
        CALLER_NUM,
        "Chen Jie",
        QUEUE,
    )

    # transfer-answered: Li picked up; Wang consults.
    clock.advance(15)
    await desk.answered(PBX, number, LI_CHANNEL)
    [consulting] = await transfers(room)
    assert consulting.state is State.CONSULTING
    assert (consulting.answered_by, consulting.answered_at) == (
        LI_PHONE,
        T0 + timedelta(seconds=15),
    )
    now = await legs(room)
    assert now[LI_PHONE].ended_at is None
    assert (now[LI_PHONE].agent_user, now[LI_PHONE].via_transfer) == (LI.id, row.id)
    assert now[LI_PHONE].started_at == T0 + timedelta(seconds=15)
    assert now[WANG_PHONE].ended_at is None
    assert now[WANG_PHONE].started_at == T0 - timedelta(seconds=60)

    # complete: only while Wang still talks to Li (BRIDGEPEER is the consultation); had
    # Li just left, hanging Wang up would end the caller's call.
    clock.advance(30)
    room.link.value = CALLER_CHANNEL
    with pytest.raises(ApiError) as gone:
        await desk.complete(WANG)
    assert gone.value.error == "nothing-to-complete"
    assert room.link.sent[-1]["Action"] == "Getvar"
    room.link.value = f"Local/9{number}@{CONTEXT}-00000001;1"
    done = await desk.complete(WANG)
    assert room.link.sent[-2] == {
        "Action": "Getvar",
        "Variable": f"IMPORT({AGENT_CHANNEL},BRIDGEPEER)",
    }
    assert room.link.sent[-1] == {"Action": "Hangup", "Channel": AGENT_CHANNEL, "Cause": "16"}
    assert (done.state, done.result) == (State.DONE, "completed")
    assert done.ended_at == T0 + timedelta(seconds=45)
    now = await legs(room)
    wang = now[WANG_PHONE]
    assert wang.ended_how == "transferred-attended"
    assert wang.ended_at == T0 + timedelta(seconds=45)
    # the caller heard music from the request to the completion
    assert wang.hold_seconds == pytest.approx(45.0)
    assert now[LI_PHONE].ended_at is None
    assert await store.active_on(room.engine, PBX, CALLER_UID) is None

    # transfer-result ANSWER: Li's part of the call is over.
    clock.advance(120)
    await desk.dial_ended(PBX, number, "ANSWER")
    now = await legs(room)
    assert now[LI_PHONE].ended_how == "completed"
    assert now[LI_PHONE].ended_at == T0 + timedelta(seconds=165)
    assert now[LI_PHONE].hold_seconds == 0
    [final] = await transfers(room)
    assert (final.state, final.result, final.ended_at) == (
        State.DONE,
        "completed",
        T0 + timedelta(seconds=45),
    )


async def test_wang_sees_each_step_of_the_transfer_on_the_console(room: Room) -> None:
    row = await room.desk.transfer(WANG, Mode.WARM, "agent", str(LI.id))
    await room.desk.answered(PBX, store.number_of(row.id), LI_CHANNEL)
    await run_jobs(room.desk)

    states = [m["active"]["state"] for m in room.people.messages(WANG.id, "TransferState")]
    assert states == ["consulting", "consulting"]
    console = await room.desk.console(WANG)
    assert console["active"]["state"] == "consulting"
    assert console["call"]["uniqueid"] == CALLER_UID
    assert console["held"] is False


async def test_completing_before_the_target_answered_is_refused(room: Room) -> None:
    await room.desk.transfer(WANG, Mode.WARM, "agent", str(LI.id))

    with pytest.raises(ApiError) as caught:
        await room.desk.complete(WANG)

    assert (caught.value.status, caught.value.error) == (409, "nothing-to-complete")
    assert room.link.actions() == ["Atxfer"]
    [row] = await transfers(room)
    assert row.state is State.RINGING


async def test_the_target_hanging_up_during_the_consultation_returns_the_agent(
    room: Room,
) -> None:
    row = await room.desk.transfer(WANG, Mode.WARM, "agent", str(LI.id))
    number = store.number_of(row.id)
    room.clock.advance(10)
    await room.desk.answered(PBX, number, LI_CHANNEL)
    room.clock.advance(20)

    await room.desk.dial_ended(PBX, number, "ANSWER")

    [back] = await transfers(room)
    assert (back.state, back.result, back.detail) == (
        State.CANCELLED,
        "cancelled",
        "the target hung up",
    )
    now = await legs(room)
    assert (now[LI_PHONE].ended_how, now[LI_PHONE].ended_at) == (
        "returned",
        T0 + timedelta(seconds=30),
    )
    assert now[WANG_PHONE].ended_at is None
    assert now[WANG_PHONE].hold_seconds == pytest.approx(30.0)


async def test_going_back_from_a_consultation_cancels_it(room: Room) -> None:
    row = await room.desk.transfer(WANG, Mode.WARM, "agent", str(LI.id))
    await room.desk.answered(PBX, store.number_of(row.id), LI_CHANNEL)
    room.clock.advance(25)

    back = await room.desk.cancel(WANG)

    assert room.link.sent[-1] == {"Action": "CancelAtxfer", "Channel": AGENT_CHANNEL}
    assert (back.state, back.result) == (State.CANCELLED, "cancelled")
    now = await legs(room)
    assert now[LI_PHONE].ended_how == "returned"
    assert now[WANG_PHONE].ended_at is None
    assert now[WANG_PHONE].hold_seconds == pytest.approx(25.0)


# --- (d) a blind transfer nobody answers --------------------------------------------------


async def test_a_blind_transfer_nobody_answers_fails_as_no_answer(room: Room) -> None:
    row = await room.desk.transfer(WANG, Mode.BLIND, "agent", str(LI.id))
    number = store.number_of(row.id)
    assert row.state is State.RINGING
    # The agent is gone from the call as soon as the PBX took the transfer.
    wang = (await legs(room))[WANG_PHONE]
    assert (wang.ended_how, wang.ended_at) == ("transferred-blind", T0)

    assert (await room.desk.target_of(PBX, number, ""))["CC_XFER_DEST"] == LI_PHONE
    room.clock.advance(20)
    await room.desk.dial_ended(PBX, number, "NOANSWER")

    [failed] = await transfers(room)
    assert (failed.state, failed.result, failed.detail) == (State.FAILED, "no-answer", "NOANSWER")
    assert failed.ended_at == T0 + timedelta(seconds=20)
    assert await store.active_on(room.engine, PBX, CALLER_UID) is None

    # The same report again, another status, a late answer: nothing changes.
    room.clock.advance(5)
    await room.desk.dial_ended(PBX, number, "NOANSWER")
    await room.desk.dial_ended(PBX, number, "BUSY")
    await room.desk.answered(PBX, number, LI_CHANNEL)
    assert await transfers(room) == [failed]
    assert set(await legs(room)) == {WANG_PHONE}
    assert (await room.desk.target_of(PBX, number, "")) == {"CC_XFER_KIND": ""}


@pytest.mark.parametrize(
    ("dialstatus", "result"),
    [("BUSY", "busy"), ("CHANUNAVAIL", "unreachable"), ("CONGESTION", "unreachable")],
)
async def test_a_blind_transfer_that_does_not_reach_the_target_says_why(
    room: Room, dialstatus: str, result: str
) -> None:
    row = await room.desk.transfer(WANG, Mode.BLIND, "target", "managers")
    await room.desk.dial_ended(PBX, store.number_of(row.id), dialstatus)
    [failed] = await transfers(room)
    assert (failed.state, failed.result, failed.detail) == (State.FAILED, result, dialstatus)


async def test_a_blind_transfer_into_a_queue_is_done_once_the_caller_is_queued(
    room: Room,
) -> None:
    row = await room.desk.transfer(WANG, Mode.BLIND, "target", "billing")
    number = store.number_of(row.id)

    answer = await room.desk.target_of(PBX, number, "3")

    assert answer == {
        "CC_XFER_KIND": "queue",
        "CC_XFER_DEST": "billing",
        "CC_XFER_RING": "20",
        "CC_XFER_WAIT": "600",
        "CC_XFER_PRIO": "4",
    }
    [asked] = await transfers(room)
    assert asked.state is State.RINGING  # not before the caller is in the queue
    assert room.link.sent[0]["Value"] == QUEUE

    # The caller joins the queue with the transfer number in their channel's data.
    room.desk.on_change(joined(number))
    await run_jobs(room.desk)
    [queued] = await transfers(room)
    assert (queued.state, queued.result) == (State.DONE, "queued")


async def test_a_queue_the_caller_cannot_join_fails_the_transfer(room: Room) -> None:
    row = await room.desk.transfer(WANG, Mode.BLIND, "target", "billing")
    number = store.number_of(row.id)
    await room.desk.target_of(PBX, number, "")

    await room.desk.dial_ended(PBX, number, "QUEUE-JOINEMPTY")

    [failed] = await transfers(room)
    assert (failed.state, failed.result, failed.detail) == (
        State.FAILED,
        "queue-refused",
        "JOINEMPTY",
    )
    # The caller's join, had it come late, changes nothing.
    room.desk.on_change(joined(number))
    await run_jobs(room.desk)
    assert (await transfers(room))[0].state is State.FAILED


def joined(number: str) -> CallerJoined:
    return CallerJoined(
        at=T0,
        caller=CallerView(
            pbx=PBX,
            queue="billing",
            uniqueid=CALLER_UID,
            linkedid=CALLER_UID,
            channel=CALLER_CHANNEL,
            caller_num=CALLER_NUM,
            caller_name="",
            position=1,
            joined_at=T0,
            priority=None,
            ivr={"CC_XFER_ID": number},
        ),
        count=1,
    )


# --- (e) numbers the service does not know ------------------------------------------------


@pytest.mark.parametrize("number", ["0000000", "1234567", "9999999"])
async def test_an_unknown_transfer_number_answers_an_empty_kind(room: Room, number: str) -> None:
    assert await room.desk.target_of(PBX, number, "5") == {"CC_XFER_KIND": ""}


async def test_a_number_of_another_pbx_or_of_a_hold_answers_an_empty_kind(room: Room) -> None:
    row = await room.desk.transfer(WANG, Mode.BLIND, "agent", str(LI.id))
    assert await room.desk.target_of("pbx2", store.number_of(row.id), "") == {"CC_XFER_KIND": ""}

    await room.desk.dial_ended(PBX, store.number_of(row.id), "BUSY")
    await room.desk.hold(WANG, True)
    held = await store.active_on(room.engine, PBX, CALLER_UID)
    assert held is not None and held.mode is Mode.HOLD
    assert await room.desk.target_of(PBX, store.number_of(held.id), "") == {"CC_XFER_KIND": ""}


async def test_reports_of_an_unknown_number_change_nothing(room: Room) -> None:
    await room.desk.answered(PBX, "0000000", LI_CHANNEL)
    await room.desk.dial_ended(PBX, "0000000", "NOANSWER")
    assert await transfers(room) == []
    assert await legs(room) == {}


# --- (f) the caller hangs up --------------------------------------------------------------


async def test_the_callers_hang_up_ends_the_transfer_under_way(room: Room) -> None:
    row = await room.desk.transfer(WANG, Mode.WARM, "agent", str(LI.id))
    await run_jobs(room.desk)
    room.clock.advance(8)
    gone_at = T0 + timedelta(seconds=7)

    room.desk.on_ami_event(PBX, {"Event": "Hangup", "Uniqueid": CALLER_UID}, gone_at)
    assert not room.desk.jobs.empty()
    await run_jobs(room.desk)

    [ended] = await transfers(room)
    assert (ended.id, ended.state, ended.result) == (row.id, State.FAILED, "caller-hung-up")
    assert await store.active_on(room.engine, PBX, CALLER_UID) is None
    wang = (await legs(room))[WANG_PHONE]
    assert (wang.ended_how, wang.ended_at) == ("completed", gone_at)
    # Wang's console is told.
    last = room.people.messages(WANG.id, "TransferState")[-1]
    assert (last["active"]["state"], last["active"]["result"]) == ("failed", "caller-hung-up")


async def test_other_hang_ups_and_a_second_one_queue_nothing(room: Room) -> None:
    await room.desk.transfer(WANG, Mode.BLIND, "agent", str(LI.id))
    await run_jobs(room.desk)

    room.desk.on_ami_event(PBX, {"Event": "Hangup", "Uniqueid": "1764727200.99"}, T0)
    room.desk.on_ami_event("pbx2", {"Event": "Hangup", "Uniqueid": CALLER_UID}, T0)
    room.desk.on_ami_event(PBX, {"Event": "Newstate", "Uniqueid": CALLER_UID}, T0)
    assert room.desk.jobs.empty()
    [row] = await transfers(room)
    assert row.state is State.RINGING

    room.desk.on_ami_event(PBX, {"Event": "Hangup", "Uniqueid": CALLER_UID}, T0)
    room.desk.on_ami_event(PBX, {"Event": "Hangup", "Uniqueid": CALLER_UID}, T0)
    assert room.desk.jobs.qsize() == 1
    await run_jobs(room.desk)
    [row] = await transfers(room)
    assert (row.state, row.result) == (State.FAILED, "caller-hung-up")


async def test_the_callers_hang_up_after_the_end_changes_nothing(room: Room) -> None:
    row = await room.desk.transfer(WANG, Mode.BLIND, "agent", str(LI.id))
    await room.desk.answered(PBX, store.number_of(row.id), LI_CHANNEL)
    [done] = await transfers(room)
    assert (done.state, done.result) == (State.DONE, "completed")

    room.desk.on_ami_event(PBX, {"Event": "Hangup", "Uniqueid": CALLER_UID}, T0)
    await run_jobs(room.desk)

    assert await transfers(room) == [done]
    # Li's leg, opened when Li answered, ends with the caller.
    li = (await legs(room))[LI_PHONE]
    assert (li.ended_how, li.ended_at) == ("completed", T0)


async def test_the_callers_hang_up_during_a_consultation_keeps_the_hold_time(
    room: Room,
) -> None:
    row = await room.desk.transfer(WANG, Mode.WARM, "agent", str(LI.id))
    await room.desk.answered(PBX, store.number_of(row.id), LI_CHANNEL)
    gone_at = T0 + timedelta(seconds=40)
    room.clock.advance(40)

    room.desk.on_ami_event(PBX, {"Event": "Hangup", "Uniqueid": CALLER_UID}, gone_at)
    await run_jobs(room.desk)

    wang = (await legs(room))[WANG_PHONE]
    assert wang.ended_at == gone_at
    assert wang.hold_seconds == pytest.approx(40.0)


# --- (g) the transfer number --------------------------------------------------------------


async def _next_id_is(engine: AsyncEngine, next_id: int) -> None:
    """Make the next transfer's id ``next_id`` (a filler row just below it)."""
    await store.create(engine, {**_OLD, "id": next_id - 1, "pbx": "filler"})
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            await conn.execute(text(f"SELECT setval('transfers_id_seq', {next_id - 1})"))


_OLD: dict[str, Any] = {
    "pbx": PBX,
    "linkedid": "1764000000.1",
    "caller_uniqueid": "1764000000.1",
    "caller_num": None,
    "queue": QUEUE,
    "mode": "blind",
    "escalation": False,
    "from_user": LI.id,
    "from_username": "li",
    "from_interface": LI_PHONE,
    "target_kind": "target",
    "target_ref": "billing",
    "target_label": "Billing",
    "target_user": None,
    "target_dial": "queue:billing",
    "note": "",
    "reason": "",
    "state": "done",
    "result": "queued",
    "requested_at": T0 - timedelta(days=30),
    "ended_at": T0 - timedelta(days=30),
}


def test_the_transfer_number_is_seven_digits_that_wrap() -> None:
    assert store.number_of(42) == "0000042"
    assert store.number_of(10**7 - 1) == "9999999"
    assert store.number_of(10**7) == "0000000"
    assert store.number_of(10**7 + 42) == "0000042"
    assert store.number_of(3 * 10**7 + 42) == "0000042"


async def test_a_wrapped_number_finds_the_newest_transfer(room: Room) -> None:
    old = await store.create(room.engine, {**_OLD, "id": 42})
    await _next_id_is(room.engine, 10**7 + 42)

    row = await room.desk.transfer(WANG, Mode.BLIND, "agent", str(LI.id))

    assert row.id == 10**7 + 42
    assert room.link.sent[-1]["Exten"] == "90000042"
    found = await store.by_number(room.engine, PBX, "0000042")
    assert found is not None and found.id == row.id
    assert found.id != old.id
    # The PBX asking for 0000042 is sent to Li, not into the old transfer's queue.
    answer = await room.desk.target_of(PBX, "0000042", "")
    assert (answer["CC_XFER_KIND"], answer["CC_XFER_DEST"]) == ("dial", LI_PHONE)


async def test_a_number_is_looked_up_on_its_own_pbx(room: Room) -> None:
    here = await store.create(room.engine, {**_OLD, "id": 7})
    await store.create(room.engine, {**_OLD, "id": 10**7 + 7, "pbx": "pbx2"})

    found = await store.by_number(room.engine, PBX, "0000007")

    assert found is not None and found.id == here.id
    other = await store.by_number(room.engine, "pbx2", "0000007")
    assert other is not None and other.id == 10**7 + 7


@pytest.mark.parametrize(
    "number", ["42", "00000042", "000004a", "\uff10\uff10\uff10\uff10\uff10\uff14\uff12", ""]
)
async def test_a_number_that_is_not_seven_digits_finds_nothing(room: Room, number: str) -> None:
    await store.create(room.engine, {**_OLD, "id": 42})
    assert await store.by_number(room.engine, PBX, number) is None


# --- conferences ----------------------------------------------------------------------------


async def test_a_conference_ended_from_the_console_hangs_up_the_third_party(room: Room) -> None:
    row = await room.desk.transfer(WANG, Mode.CONFERENCE, "agent", str(LI.id))
    originate = room.link.sent[-1]
    assert (originate["Action"], originate["Application"]) == ("Originate", "ChanSpy")
    assert originate["Data"] == f"{AGENT_CHANNEL},qBE"
    await room.desk.answered(PBX, store.number_of(row.id), LI_CHANNEL)
    assert (await store.get(room.engine, row.id)).state is State.CONFERENCE  # type: ignore[union-attr]

    ended = await room.desk.cancel(WANG)

    assert room.link.sent[-1] == {"Action": "Hangup", "Channel": LI_CHANNEL, "Cause": "16"}
    assert ended.state is State.DONE


async def test_a_conference_cancelled_while_ringing_never_lets_the_third_party_in(
    room: Room,
) -> None:
    row = await room.desk.transfer(WANG, Mode.CONFERENCE, "agent", str(LI.id))
    cancelled = await room.desk.cancel(WANG)
    assert cancelled.state is State.CANCELLED

    # Li answers after all: hung up at once, and the conference stays cancelled.
    await room.desk.answered(PBX, store.number_of(row.id), LI_CHANNEL)

    assert room.link.sent[-1] == {"Action": "Hangup", "Channel": LI_CHANNEL, "Cause": "16"}
    after = await store.get(room.engine, row.id)
    assert after is not None and after.state is State.CANCELLED and after.answered_by is None
    assert LI_PHONE not in await legs(room)


# --- the agent's phone hangs up mid-way; reports that never come --------------------------


async def test_the_agents_hang_up_during_a_consultation_completes_it(room: Room) -> None:
    row = await room.desk.transfer(WANG, Mode.WARM, "agent", str(LI.id))
    await room.desk.answered(PBX, store.number_of(row.id), LI_CHANNEL)
    gone_at = T0 + timedelta(seconds=20)
    room.desk._channels = _alive({CALLER_UID})  # type: ignore[method-assign,assignment]

    room.desk.on_ami_event(PBX, {"Event": "Hangup", "Channel": AGENT_CHANNEL}, gone_at)
    await run_jobs(room.desk)

    [done] = await transfers(room)
    assert (done.state, done.result) == (State.DONE, "completed")
    wang = (await legs(room))[WANG_PHONE]
    assert (wang.ended_how, wang.ended_at) == ("transferred-attended", gone_at)
    assert wang.hold_seconds == pytest.approx(20.0)


async def test_the_agents_hang_up_after_the_caller_left_is_the_callers_hang_up(
    room: Room,
) -> None:
    # The caller hung up while the consultation rang; the agent's Hangup came first.
    await room.desk.transfer(WANG, Mode.WARM, "agent", str(LI.id))
    room.desk._channels = _alive(set())  # type: ignore[method-assign,assignment]

    room.desk.on_ami_event(PBX, {"Event": "Hangup", "Channel": AGENT_CHANNEL}, T0)
    await run_jobs(room.desk)

    [failed] = await transfers(room)
    assert (failed.state, failed.result) == (State.FAILED, "caller-hung-up")


async def test_the_agents_hang_up_on_hold_puts_the_caller_back_into_the_queue(room: Room) -> None:
    await room.desk.hold(WANG, True)
    gone_at = T0 + timedelta(seconds=12)

    room.desk.on_ami_event(PBX, {"Event": "Hangup", "Channel": AGENT_CHANNEL}, gone_at)
    await run_jobs(room.desk)

    [held] = await transfers(room)
    assert (held.state, held.result) == (State.FAILED, "agent-hung-up")
    assert room.link.sent[-2:] == [
        {
            "Action": "Setvar",
            "Channel": CALLER_CHANNEL,
            "Variable": "CC_XFER_BACK",
            "Value": QUEUE,
        },
        {
            "Action": "Redirect",
            "Channel": CALLER_CHANNEL,
            "Context": CONTEXT,
            "Exten": "requeue",
            "Priority": "1",
        },
    ]
    assert (await legs(room))[WANG_PHONE].hold_seconds == pytest.approx(12.0)


async def test_resuming_stops_watching_the_agents_channel(room: Room) -> None:
    await room.desk.hold(WANG, True)
    await room.desk.hold(WANG, False)
    sent = len(room.link.sent)

    room.desk.on_ami_event(PBX, {"Event": "Hangup", "Channel": AGENT_CHANNEL}, T0)
    await run_jobs(room.desk)

    assert len(room.link.sent) == sent
    [resumed] = await transfers(room)
    assert (resumed.state, resumed.result) == (State.DONE, "resumed")


async def test_a_transfer_whose_report_never_comes_is_swept(room: Room) -> None:
    await room.desk.transfer(WANG, Mode.BLIND, "agent", str(LI.id))
    # The caller is still there: only the ring time (20 s) plus the margin (30 s) decides.
    room.desk._channels = _alive({CALLER_UID})  # type: ignore[method-assign,assignment]
    room.clock.advance(20 + 10)
    await room.desk.sweep()
    assert (await transfers(room))[0].state is State.RINGING

    room.clock.advance(30)
    await room.desk.sweep()
    [swept] = await transfers(room)
    assert (swept.state, swept.result) == (State.FAILED, "no-report")


async def test_a_transfer_whose_caller_is_gone_is_swept(room: Room) -> None:
    await room.desk.transfer(WANG, Mode.WARM, "agent", str(LI.id))
    room.desk._channels = _alive(set())  # type: ignore[method-assign,assignment]

    await room.desk.sweep()

    [swept] = await transfers(room)
    assert (swept.state, swept.result) == (State.FAILED, "caller-hung-up")


def _alive(uniqueids: set[str]) -> Callable[[str], Awaitable[set[str] | None]]:
    async def channels(pbx: str) -> set[str] | None:
        return set(uniqueids)

    return channels
