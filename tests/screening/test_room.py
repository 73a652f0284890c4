"""The screening room from real small parts, on SQLite and on PostgreSQL: the ``screen`` route
over real FastAGI (TCP, the protocol Asterisk speaks), the blocked list in memory and re-read
from the database, the events written off the caller's path; the abusive-caller button with
the PBX link as an in-memory stand-in that records the actions it is sent (what the PBX then
does is the rig test's, tests/screening/test_screening_rig.py) and the agents room's desk as a
typed stand-in of the ``AgentBreaks`` port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.agents.states import READY, AgentState, StateName
from callcenter.ami.calls import NOT_ON_A_CALL
from callcenter.ami.errors import AmiRefused
from callcenter.audit.log import AuditLog
from callcenter.auth.identity import User
from callcenter.component import PbxLinks
from callcenter.ivr.agi import FastAgiServer
from callcenter.live import CallConnected, CallEnded, CallRinging
from callcenter.screening import store
from callcenter.screening.abusive import RedirectRefused
from callcenter.screening.models import ScreeningEvent
from callcenter.screening.room import ScreeningRoom
from callcenter.settings import ScreeningSettings
from callcenter.web.errors import ApiError
from tests.ivr.agi_client import call_route
from tests.records.helpers import call_record
from tests.rooms import make_host

PBX = "rig"
LI = User(7, "li", "Li Na", "agent")
PHONE = "PJSIP/1003"
CALLER_CHANNEL = "PJSIP/callers-0000002a"
T0 = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


class Desk:
    """The agents room's desk as the screening room sees it (``AgentBreaks``)."""

    def __init__(self) -> None:
        self.users: dict[int, User] = {LI.id: LI}
        self.phones: dict[int, tuple[str, str]] = {LI.id: (PBX, PHONE)}
        self.states: dict[int, AgentState] = {LI.id: AgentState(StateName.ON_CALL)}
        self.calls: list[tuple[str, str]] = []
        self.refuse: ApiError | None = None

    def phone_of(self, user_id: int) -> tuple[str, str] | None:
        return self.phones.get(user_id)

    def derived(self, user_id: int) -> AgentState:
        return self.states.get(user_id, READY)

    async def not_ready(self, user: User, code_name: str) -> object:
        self.calls.append(("not-ready", code_name))
        if self.refuse is not None:
            raise self.refuse
        self.states[user.id] = AgentState(StateName.NOT_READY, code_name, code_name)
        return None

    async def ready(self, user: User) -> object:
        self.calls.append(("ready", ""))
        self.states[user.id] = READY
        return None


@dataclass
class Link:
    """A PBX link that records the actions sent to it (``PbxLink``)."""

    name: str = PBX
    connected: bool = True
    reconnects: int = 1
    last_error: str = ""
    sent: list[dict[str, str]] = field(default_factory=list)
    refuse: str = ""

    async def send(
        self, fields: Mapping[str, str], *, as_list: bool = False, timeout: float | None = None
    ) -> Any:
        if self.refuse:
            raise AmiRefused(self.name, self.refuse)
        self.sent.append(dict(fields))
        return {"Response": "Success"}


@dataclass
class Centre:
    room: ScreeningRoom
    desk: Desk
    link: Link
    agi_port: int
    engine: AsyncEngine


@pytest.fixture
async def centre(engine: AsyncEngine) -> AsyncIterator[Centre]:
    yield await start_centre(engine, ScreeningSettings(withheld="message"))


async def start_centre(engine: AsyncEngine, settings: ScreeningSettings) -> Centre:
    link = Link()
    host = make_host(engine, links=PbxLinks([link]))
    desk = Desk()
    room = ScreeningRoom(
        host,
        settings,
        desk,
        audit=AuditLog(engine),
        region="CN",
        pbx_names=[PBX],
    )
    await room.start()
    server = FastAgiServer("127.0.0.1", 0, dict(room.agi_routes()))
    await server.start()
    started.append((room, server, host.tasks))
    return Centre(room, desk, link, server.bound_port, engine)


started: list[Any] = []


@pytest.fixture(autouse=True)
async def stop_rooms() -> AsyncIterator[None]:
    yield
    while started:
        room, server, tasks = started.pop()
        await server.stop()
        await room.stop()
        await tasks.cancel_all()


async def screen(centre: Centre, number: str, pres: str = "") -> dict[str, str]:
    call = await call_route(
        centre.agi_port, "screen", [PBX, number, pres, "1700.9"], uniqueid="1700.9"
    )
    return call.variables


async def events(engine: AsyncEngine) -> list[ScreeningEvent]:
    async with AsyncSession(engine) as session:
        rows = (await session.execute(select(ScreeningEvent).order_by(ScreeningEvent.id))).scalars()
        return list(rows.all())


async def test_the_route_answers_from_memory_and_writes_down_who_was_turned_away(
    centre: Centre,
) -> None:
    row = await store.add_blocked(centre.engine, "+8613800138000", "threats", "boss", T0)
    centre.room.blocked.added(row)
    assert await screen(centre, "013800138000") == {
        "SCREEN_RESULT": "blocked",
        "SCREEN_QUEUE": "",
    }
    assert await screen(centre, "anonymous") == {
        "SCREEN_RESULT": "withheld-message",
        "SCREEN_QUEUE": "",
    }
    assert await screen(centre, "13900000001", "prohib_not_screened") == {
        "SCREEN_RESULT": "withheld-message",
        "SCREEN_QUEUE": "",
    }
    assert await screen(centre, "13900000001", "allowed_not_screened") == {
        "SCREEN_RESULT": "ok",
        "SCREEN_QUEUE": "",
    }
    await centre.room.recorder.drain(5)
    found = [(e.pbx, e.kind, e.number, e.linkedid) for e in await events(centre.engine)]
    assert found == [
        (PBX, "blocked", "+8613800138000", "1700.9"),
        (PBX, "withheld-message", "anonymous", "1700.9"),
        (PBX, "withheld-message", "13900000001", "1700.9"),
    ]


async def test_a_number_blocked_by_another_replica_is_turned_away_after_the_refresh(
    centre: Centre,
) -> None:
    assert (await screen(centre, "13800138001"))["SCREEN_RESULT"] == "ok"
    # Another replica (or SQL by hand) adds and later removes the number.
    row = await store.add_blocked(centre.engine, "+8613800138001", "", "boss", T0)
    await centre.room.blocked.refresh()
    assert (await screen(centre, "+86 138 0013 8001"))["SCREEN_RESULT"] == "blocked"
    await store.delete_blocked(centre.engine, row.id)
    await centre.room.blocked.refresh()
    assert (await screen(centre, "13800138001"))["SCREEN_RESULT"] == "ok"


async def test_a_refresh_started_before_a_local_change_does_not_undo_it(
    centre: Centre, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = centre.room.blocked
    gate = asyncio.Event()
    real = store.list_blocked

    async def slow_list(engine: AsyncEngine) -> list[store.Blocked]:
        rows = await real(engine)
        await gate.wait()
        return rows

    monkeypatch.setattr(store, "list_blocked", slow_list)
    await store.add_blocked(centre.engine, "+8613800138002", "", "other replica", T0)
    refresh = asyncio.ensure_future(blocked.refresh())
    await asyncio.sleep(0.1)
    mine = await store.add_blocked(centre.engine, "+8613800138003", "", "boss", T0)
    blocked.added(mine)  # this replica's own change, while the re-read is under way
    gate.set()
    await refresh
    monkeypatch.setattr(store, "list_blocked", real)
    assert "+8613800138003" in blocked
    await blocked.refresh()
    assert "+8613800138002" in blocked and "+8613800138003" in blocked


def connect(room: ScreeningRoom, uniqueid: str = "1700.5") -> None:
    room.on_change(
        CallRinging(
            at=T0,
            pbx=PBX,
            queue="consultation",
            uniqueid=uniqueid,
            agent_interface=PHONE,
            member_name="li",
            agent_channel="PJSIP/1003-00000011",
            caller_num="13900000451",
            caller_name="",
            channel=CALLER_CHANNEL,
            linkedid="1700.4",
            ivr={},
            waited_seconds=2.0,
        )
    )
    room.on_change(
        CallConnected(
            at=T0,
            pbx=PBX,
            queue="consultation",
            uniqueid=uniqueid,
            agent_interface=PHONE,
            member_name="li",
            agent_channel="PJSIP/1003-00000011",
            agent_uniqueid="1700.6",
            caller_num="13900000451",
            caller_name="",
            waited_seconds=3.0,
            ring_seconds=1,
            ivr={},
        )
    )


def end(room: ScreeningRoom, uniqueid: str = "1700.5") -> None:
    room.on_change(
        CallEnded(
            call_record(5, uniqueid=uniqueid, queue="consultation", answered_by=PHONE, pbx=PBX)
        )
    )


async def test_the_button_sends_the_caller_to_the_warning_then_gives_a_break(
    engine: AsyncEngine,
) -> None:
    centre = await start_centre(engine, ScreeningSettings(abusive_break_seconds=1))
    room, desk = centre.room, centre.desk
    connect(room)
    pressed = await room.button.press(LI, "shouting")
    assert centre.link.sent == [
        {
            "Action": "Redirect",
            "Channel": CALLER_CHANNEL,
            "Context": "callcenter-abusive",
            "Exten": "s",
            "Priority": "1",
        }
    ]
    # Paused at once: the PBX must not ring the agent while the caller hears the warning.
    assert desk.calls == [("not-ready", "abusive-caller")]
    assert (pressed.break_code, pressed.break_error) == ("abusive-caller", None)
    (event,) = await events(engine)
    assert (event.kind, event.number, event.linkedid, event.interface, event.username) == (
        "abusive",
        "13900000451",
        "1700.4",
        PHONE,
        "li",
    )
    assert event.detail == "shouting" and event.id == pressed.event_id
    end(room)  # the caller heard the warning and is gone
    # No call any more: the button says so.
    with pytest.raises(ApiError) as refused:
        await room.button.press(LI, "")
    assert refused.value.error == NOT_ON_A_CALL.error
    # Back to ready once the break is over.
    await asyncio.sleep(1.3)
    assert desk.calls[-1] == ("ready", "") and desk.derived(LI.id) == READY
    assert room.button.pending_returns() == 0


async def test_the_break_outlasts_a_warning_longer_than_itself(engine: AsyncEngine) -> None:
    centre = await start_centre(engine, ScreeningSettings(abusive_break_seconds=1))
    room, desk = centre.room, centre.desk
    connect(room)
    await room.button.press(LI, "")
    # The queue call lasts until the caller has heard the warning: "on call" meanwhile.
    desk.states[LI.id] = AgentState(StateName.ON_CALL)
    await asyncio.sleep(1.6)
    assert desk.calls == [("not-ready", "abusive-caller")]
    desk.states[LI.id] = AgentState(StateName.NOT_READY, "abusive-caller", "abusive-caller")
    end(room)
    await asyncio.sleep(1.2)
    assert desk.calls == [("not-ready", "abusive-caller"), ("ready", "")]


async def test_a_wrap_up_pause_at_the_call_end_gives_way_to_the_break(engine: AsyncEngine) -> None:
    centre = await start_centre(engine, ScreeningSettings(abusive_break_seconds=2))
    room, desk = centre.room, centre.desk
    connect(room)
    await room.button.press(LI, "")
    # The records room pauses the agent for an enforced wrap-up when the call ends.
    desk.states[LI.id] = AgentState(StateName.ACW, reason="wrap-up")
    end(room)
    await asyncio.sleep(0.8)
    assert desk.calls == [("not-ready", "abusive-caller")] * 2
    await asyncio.sleep(1.6)
    assert desk.calls[-1] == ("ready", "")


async def test_an_agent_who_left_the_break_is_not_sent_back_to_ready(engine: AsyncEngine) -> None:
    centre = await start_centre(engine, ScreeningSettings(abusive_break_seconds=1))
    connect(centre.room)
    await centre.room.button.press(LI, "")
    end(centre.room)
    centre.desk.states[LI.id] = AgentState(StateName.NOT_READY, "lunch", "lunch")
    await asyncio.sleep(1.3)
    assert centre.desk.calls == [("not-ready", "abusive-caller")]


async def test_a_pbx_that_refuses_the_redirect_changes_nothing(engine: AsyncEngine) -> None:
    centre = await start_centre(engine, ScreeningSettings(abusive_break_seconds=1))
    connect(centre.room)
    centre.link.refuse = "Channel does not exist"
    with pytest.raises(RedirectRefused) as refused:
        await centre.room.button.press(LI, "")
    assert (refused.value.error.status, refused.value.error.error) == (502, "pbx-refused")
    assert centre.desk.calls == [] and await events(engine) == []
    assert centre.room.button.pending_returns() == 0


async def test_a_break_that_cannot_be_given_still_ends_the_call(engine: AsyncEngine) -> None:
    centre = await start_centre(engine, ScreeningSettings(abusive_break_seconds=1))
    centre.desk.refuse = ApiError(404, "no-such-code", "no active not-ready code")
    connect(centre.room)
    pressed = await centre.room.button.press(LI, "")
    assert (pressed.break_code, pressed.break_error) == (None, "no-such-code")
    assert [f["Action"] for f in centre.link.sent] == ["Redirect"]
    assert len(await events(engine)) == 1


async def test_breaks_given_before_a_restart_still_end(engine: AsyncEngine) -> None:
    now = datetime.now(UTC)
    await store.write_events(
        engine,
        [
            store.Event(now - timedelta(seconds=1), PBX, "abusive", "1", "x", PHONE, "li", ""),
            store.Event(now - timedelta(hours=2), PBX, "abusive", "1", "y", PHONE, "li", ""),
        ],
    )
    centre = await start_centre(engine, ScreeningSettings(abusive_break_seconds=2))
    centre.desk.states[LI.id] = AgentState(StateName.NOT_READY, "abusive-caller", "abusive-caller")
    assert centre.room.button.pending_returns() == 1
    await asyncio.sleep(1.5)
    assert centre.desk.calls == [("ready", "")]
