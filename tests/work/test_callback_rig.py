"""Callbacks dialled on the real rig: the real `callcenter serve`, the rig's Asterisk 22, SIPp
agent and customer phones, a caller in the IVR pressing keys.

The rig's outbound context (dialplan/callback.conf, ``callcenter-callback``) dials customer
number 7NNN at a SIPp phone on 127.0.0.1:7NNN; any other number is refused with cause 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.agents.scope import Scope, Team
from callcenter.ami.errors import AmiRefused
from callcenter.auth.identity import User
from callcenter.component import PbxLinks
from callcenter.ivr.routes import CallbackBooking
from callcenter.rig.asterisk import AsteriskRig
from callcenter.rig.sipp import AgentPhone, AgentPhones
from callcenter.settings import IvrSettings, WorkSettings
from callcenter.work.calendar import BusinessCalendar
from callcenter.work.dialer import CallbackDialer
from callcenter.work.items import WorkItems
from callcenter.work.ports import ReadyAgent
from tests.fixtures_pg import PostgresServer
from tests.ivr.rig_calls import call_hotline, hang_up_test_calls, install_test_phone
from tests.rooms import make_host
from tests.service_proc import ServiceProcess
from tests.supervisor.helpers import Browser, add_users, wait_for

FASTAGI_PORT = 4573  # IVR_AGI in config/asterisk/extensions.conf
QUEUE = "aftersales"
PHONE = "PJSIP/1005"
ALWAYS_OPEN = ", ".join(
    f'{day} = ["00:00-24:00"]' for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
)
# Keys: 1 = 中文, then 2 = after-sales from the menu, then 1 = "call me back" at the surge offer.
CALLBACK_KEYS = "1wwww2wwww1"


def config(*, attempts: int = 2, context: str = "callcenter-callback") -> str:
    return f"""
[ivr]
hours = {{ {ALWAYS_OPEN} }}
callback_due_minutes = 0

[work.callbacks]
interval = 0.5
offer_seconds = 60
agent_ring_seconds = 8
attempts = {attempts}
retry_minutes = 0.05
caller_id = '"Hotline" <4008001234>'
outbound_context = "{context}"
"""


@pytest.fixture(scope="module")
def callback_rig(rig: AsteriskRig) -> Iterator[AsteriskRig]:
    install_test_phone(rig)
    yield rig
    hang_up_test_calls(rig)


class Desk:
    """The service with an admin and agent Li, Li in the after-sales team, signed in at
    phone 1005 (a SIPp phone that answers and talks until Asterisk hangs up)."""

    def __init__(self, service: ServiceProcess) -> None:
        self.service = service
        self.boss = Browser(service.base_url).login("boss")
        self.li = Browser(service.base_url).login("li")
        status, me = self.li.call("GET", "/api/me")
        assert status == 200, me
        self.li_id = int(me["user"]["id"])
        status, body = self.boss.call(
            "POST",
            "/api/teams",
            {"name": "after-sales", "queues": [QUEUE], "members": [self.li_id]},
        )
        assert status == 201, body
        status, body = self.boss.call(
            "PUT", f"/api/agents/{self.li_id}/skills", {"skills": {f"queue:{QUEUE}": 5}}
        )
        assert status == 200, body
        status, body = self.li.call("POST", "/api/agent/sign-in", {"interface": PHONE})
        assert status == 200, body

    def offer(self, timeout: float = 20) -> dict[str, Any]:
        def pending() -> dict[str, Any] | None:
            status, body = self.li.call("GET", "/api/work/callbacks/offer")
            assert status == 200, body
            return body["offer"]  # type: ignore[no-any-return]

        found = wait_for(pending, timeout, "a callback offered to Li")
        assert isinstance(found, dict)
        return found

    def item(self, item_id: int) -> dict[str, Any]:
        status, body = self.li.call("GET", f"/api/work/items/{item_id}")
        assert status == 200, body
        return body  # type: ignore[no-any-return]

    def ended_attempts(self, item_id: int, count: int, timeout: float = 40) -> list[dict[str, Any]]:
        def ended() -> list[dict[str, Any]] | None:
            attempts = self.item(item_id)["attempts"]
            done = [a for a in attempts if a["ended_at"] is not None]
            return attempts if len(done) >= count else None

        found = wait_for(ended, timeout, f"{count} callback attempt(s) ended")
        assert isinstance(found, list)
        return found

    def accept(self, item_id: int) -> dict[str, Any]:
        status, body = self.li.call("POST", f"/api/work/callbacks/{item_id}/accept")
        assert status == 200, body
        return body  # type: ignore[no-any-return]


StartDesk = Callable[..., Desk]


@pytest.fixture
def start_desk(callback_rig: AsteriskRig, tmp_path: Path) -> Iterator[StartDesk]:
    started: list[ServiceProcess] = []

    def start(extra_toml: str, database_url: str | None = None) -> Desk:
        service = ServiceProcess(
            tmp_path,
            database_url=database_url,
            fastagi_port=FASTAGI_PORT,
            log_level="INFO",
            extra_toml=extra_toml,
        )
        add_users(
            service.config,
            ("boss", "admin"),
            ("li", "agent"),
        )
        service.start()
        started.append(service)
        return Desk(service)

    try:
        yield start
    finally:
        hang_up_test_calls(callback_rig)
        for service in started:
            with contextlib.suppress(Exception):
                callback_rig.rx(f"queue remove member {PHONE} from {QUEUE}")
            service.stop()


def resolved_as(item: dict[str, Any]) -> str | None:
    """The resolution of the item's last move to resolved, from its timeline."""
    moves = [
        e["data"]
        for e in item["timeline"]
        if e["kind"] == "status" and e["data"].get("after") == "resolved"
    ]
    return moves[-1].get("resolution") if moves else None


def rows(db: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as connection:
        return list(connection.execute(sql, args))


def test_a_callback_booked_in_the_ivr_rings_the_agent_then_the_customer(
    callback_rig: AsteriskRig, start_desk: StartDesk, agent_phones: Any, tmp_path: Path
) -> None:
    rig = callback_rig
    phones: AgentPhones = agent_phones(1, first_ext=1005, ring_seconds=1, talk_seconds=None)
    customer = AgentPhone("7001", port=7001, ring_seconds=1, talk_seconds=3, work_dir=tmp_path)
    customer.start()
    rig.rx(f"database put callcenter/surge {QUEUE} 1")
    try:
        desk = start_desk(config())
        # A caller from 7001 hears the surge offer in after-sales and asks to be called back.
        call_hotline("7001", CALLBACK_KEYS, hold=20)
        offer = desk.offer(timeout=30)
        item_id = offer["item_id"]
        assert offer["number"] == "7001" and offer["queue"] == QUEUE
        assert (offer["attempts"], offer["max_attempts"]) == (0, 2)
        item = offer["item"]
        assert (item["kind"], item["source"], item["status"]) == ("callback", "ivr", "open")
        assert item["owner_id"] is None and item["team_name"] == "after-sales"

        # Only the agent it is offered to may take it.
        status, body = desk.boss.call("POST", f"/api/work/callbacks/{item_id}/accept")
        assert status == 403, body
        dialled = desk.accept(item_id)
        assert (dialled["attempt"], dialled["ended"]) == (1, False), dialled
        # Li's phone rings and answers, then the customer's phone rings and answers; the
        # customer talks 3 s and hangs up.
        wait_for(lambda: customer.stats().hung_up == 1, 30, "the customer's call done")
        assert phones.stats().answered == 1 and customer.stats().answered == 1
        attempts = desk.ended_attempts(item_id, 1)
        first = attempts[0]
        assert first["outcome"] == "reached", first
        assert first["agent_interface"] == PHONE and first["agent_id"] == desk.li_id
        assert first["agent_answered_at"] and first["customer_answered_at"] and first["ended_at"]
        assert first["agent_answered_at"] <= first["customer_answered_at"] < first["ended_at"]
        detail = desk.item(item_id)
        assert detail["callback"]["state"] == "done" and detail["callback"]["attempts"] == 1
        [call] = [c for c in detail["calls"] if c["role"] == "callback"]
        assert (call["direction"], call["caller_number"], call["outcome"]) == (
            "outbound",
            "7001",
            "reached",
        )
        assert call["answered_by"] == PHONE and call["queue"] == QUEUE
        # The dialler writes the timeline's line after the attempt's end (dialer.py).
        wait_for(
            lambda: any(e["kind"] == "callback" for e in desk.item(item_id)["timeline"]),
            10,
            "the callback line on the timeline",
        )

        # In the database: the attempt (both legs) and the outbound record, linked to the item.
        db = desk.service.workdir / "callcenter.db"
        [(channel_id, agent_at, customer_at, call_id)] = rows(
            db,
            "SELECT channel_id, agent_answered_at, customer_answered_at, call_id "
            "FROM callback_attempts WHERE item_id = ?",
            item_id,
        )
        assert agent_at and customer_at
        [(uniqueid, direction, answered_by_user, talk)] = rows(
            db,
            "SELECT uniqueid, direction, answered_by_user, talk_seconds FROM call_records "
            "WHERE id = ?",
            call_id,
        )
        assert (uniqueid, direction, answered_by_user) == (channel_id, "outbound", desk.li_id)
        assert 2 <= talk <= 6
        assert rows(
            db,
            "SELECT role FROM work_item_calls WHERE item_id = ? AND call_id = ?",
            item_id,
            call_id,
        ) == [("callback",)]
        assert rows(db, "SELECT count(*) FROM callback_tasks") == [(0,)]

        # Li says the customer was reached, then resolves the item (the console's wrap-up).
        status, body = desk.li.call(
            "POST",
            f"/api/work/callbacks/{item_id}/result",
            {"attempt": 1, "reached": True, "note": "Explained the refund"},
        )
        assert status == 200 and body["outcome"] == "reached", body
        item = desk.item(item_id)
        assert item["status"] == "in-progress"
        status, body = desk.li.call(
            "POST",
            f"/api/work/items/{item_id}/status",
            {"version": item["version"], "status": "resolved", "resolution": "refund explained"},
        )
        assert status == 200 and body["status"] == "resolved", body
        # An offer that is gone cannot be accepted, and nobody else's.
        status, body = desk.li.call("POST", f"/api/work/callbacks/{item_id}/accept")
        assert (status, body["error"]) == (409, "offer-gone"), body
    finally:
        rig.rx(f"database del callcenter/surge {QUEUE}")
        customer.stop()


def test_a_customer_who_never_answers_is_retried_then_closed_as_unreachable(
    callback_rig: AsteriskRig, start_desk: StartDesk, agent_phones: Any, tmp_path: Path
) -> None:
    rig = callback_rig
    phones: AgentPhones = agent_phones(1, first_ext=1005, ring_seconds=1, talk_seconds=None)
    customer = AgentPhone("7002", port=7002, answer=False, work_dir=tmp_path)
    customer.start()
    rig.rx("dialplan set global CALLBACK_RING_SECONDS 3")
    try:
        desk = start_desk(config(attempts=2))
        # A callback an agent promised: the item's schedule comes from the created listener.
        status, created = desk.li.call(
            "POST",
            "/api/work/items",
            {"kind": "callback", "title": "Call back about the parcel", "category": "callback",
             "phone": "7002"},
        )  # fmt: skip
        assert status == 201, created
        item_id = created["id"]
        for attempt in (1, 2):
            offer = desk.offer()
            assert (offer["item_id"], offer["attempts"]) == (item_id, attempt - 1)
            assert desk.accept(item_id)["attempt"] == attempt
            attempts = desk.ended_attempts(item_id, attempt)
            assert attempts[-1]["outcome"] == "no-answer", attempts
            assert attempts[-1]["reason"] == "NOANSWER"
        item = wait_for(
            lambda: (found := desk.item(item_id))["status"] == "closed" and found,
            15,
            "the item closed as unreachable",
        )
        assert resolved_as(item) == "unreachable" and item["callback"]["state"] == "done"
        assert item["callback"]["attempts"] == 2
        assert [c["outcome"] for c in item["calls"] if c["role"] == "callback"] == [
            "no-answer",
            "no-answer",
        ]
        assert customer.stats().rang == 2 and customer.stats().cancelled == 2
        assert phones.stats().answered >= 2
        # No third offer: the schedule is done.
        status, body = desk.li.call("GET", "/api/work/callbacks/offer")
        assert body["offer"] is None

        # A number the outbound context refuses: failed with the PBX's cause.
        status, created = desk.li.call(
            "POST",
            "/api/work/items",
            {"kind": "callback", "title": "Wrong number", "category": "callback", "phone": "123"},
        )
        assert status == 201, created
        other = created["id"]
        assert desk.offer()["item_id"] == other
        desk.accept(other)
        [failed] = desk.ended_attempts(other, 1)
        assert (failed["outcome"], failed["reason"]) == (
            "failed",
            "Unallocated (unassigned) number",
        )
        # The agent's "not reached" does not count the PBX's failure twice.
        status, body = desk.li.call(
            "POST", f"/api/work/callbacks/{other}/result", {"attempt": 1, "reached": False}
        )
        assert status == 200 and body["outcome"] == "failed", body
        assert desk.item(other)["callback"]["attempts"] == 1
    finally:
        rig.rx("dialplan set global CALLBACK_RING_SECONDS 30")
        customer.stop()


def test_a_dial_the_pbx_refuses_ends_as_failed_in_its_words_on_postgresql(
    callback_rig: AsteriskRig,
    start_desk: StartDesk,
    agent_phones: Any,
    postgres_server: PostgresServer,
) -> None:
    agent_phones(1, first_ext=1005, ring_seconds=1, talk_seconds=None)
    desk = start_desk(
        config(attempts=1, context="no-such-context"),
        database_url=postgres_server.create_database(),
    )
    status, created = desk.li.call(
        "POST",
        "/api/work/items",
        {"kind": "callback", "title": "Call back", "category": "callback", "phone": "7003"},
    )
    assert status == 201, created
    item_id = created["id"]
    assert desk.offer()["item_id"] == item_id
    dialled = desk.accept(item_id)
    # Asterisk refuses the Originate at once: the attempt ended before the answer came back.
    assert (dialled["ended"], dialled["outcome"]) == (True, "failed"), dialled
    assert dialled["reason"] == "Originate: Extension does not exist.", dialled
    item = wait_for(
        lambda: (found := desk.item(item_id))["status"] == "closed" and found,
        15,
        "the item closed as unreachable after its one try",
    )
    [attempt] = item["attempts"]
    assert (attempt["outcome"], attempt["reason"]) == ("failed", dialled["reason"])
    assert attempt["agent_answered_at"] is None
    assert resolved_as(item) == "unreachable"
    # The service is still up and serving.
    assert desk.service.get("/healthz")[0] == 200


# --- two replicas on one database (no PBX: a link that records what it is sent) ---------------


class RecordingLink:
    """Stands in for one PBX's AMI link: records each action, optionally refuses it."""

    def __init__(self, refuse: str | None = None) -> None:
        self.name = "rig"
        self.connected = True
        self.reconnects = 1
        self.last_error = ""
        self.sent: list[dict[str, str]] = []
        self.refuse = refuse

    async def send(
        self, fields: Mapping[str, str], *, as_list: bool = False, timeout: float | None = None
    ) -> Any:
        self.sent.append(dict(fields))
        if self.refuse is not None:
            raise AmiRefused(self.name, f"{fields['Action']}: {self.refuse}")
        return {"Response": "Success", "Message": "Originate successfully queued"}


class Staff:
    """The agents room's WorkForce: one team serving support, agent 7 ready at PJSIP/1005."""

    def __init__(self) -> None:
        self.told: list[tuple[int, dict[str, Any]]] = []
        self.team = Team(1, "first-line", "一线", "First line", frozenset({"support"}),
                         frozenset({7}), frozenset())  # fmt: skip

    def scope_of(self, user: User) -> Scope:
        return Scope(everything=True)

    def teams(self) -> Sequence[Team]:
        return (self.team,)

    def active_user(self, user_id: int) -> User | None:
        return None

    def active_users(self) -> Sequence[User]:
        return ()

    def ready_agents(self) -> Sequence[ReadyAgent]:
        return (ReadyAgent(7, "rig", PHONE, datetime.now(UTC) - timedelta(minutes=5)),)

    def tell(self, user_id: int, message: Mapping[str, Any]) -> None:
        self.told.append((user_id, dict(message)))


def replica(
    engine: AsyncEngine, name: str, staff: Staff, link: RecordingLink, **callbacks: Any
) -> CallbackDialer:
    ivr = IvrSettings.model_validate({"hours": {d: ["00:00-24:00"] for d in DAYS}})
    settings = WorkSettings.model_validate({"callbacks": callbacks})
    calendar = BusinessCalendar.from_ivr(ivr)
    items = WorkItems(engine, settings, calendar, staff, tell=staff.tell, publish=lambda m: None)
    host = make_host(engine, links=PbxLinks([link]))
    return CallbackDialer(host, settings.callbacks, items, calendar, replica=name)


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def booking(uniqueid: str) -> CallbackBooking:
    now = datetime.now(UTC)
    return CallbackBooking("rig", uniqueid, "7001", "support", "zh", None, None, now)


class NoTeams(Staff):
    """A centre with no teams configured yet."""

    def teams(self) -> Sequence[Team]:
        return ()


async def test_a_callback_on_a_pbx_with_no_teams_is_kept_and_offered(
    engine: AsyncEngine,
) -> None:
    # No team serves any queue yet (and no work.default_team): the caller's callback is
    # still an item, offered to the longest-ready agent.
    staff = NoTeams()
    dialler = replica(engine, "a", staff, RecordingLink(None))
    ticket = await dialler.book(booking("1700.9"))
    item = await dialler.items.load(ticket=ticket)
    assert (item.kind, item.owner_id, item.team_id, item.phone) == ("callback", None, None, "7001")
    await dialler.round()
    offers = [
        (user, m["offer"]["ticket"]) for user, m in staff.told if m["type"] == "callback_offer"
    ]
    assert offers == [(7, ticket)]


@pytest.mark.parametrize("refuse", [None, "Extension does not exist."])
async def test_two_replicas_dial_an_item_once_and_a_refusal_is_a_failed_try(
    engine: AsyncEngine, refuse: str | None
) -> None:
    staff = Staff()
    links = [RecordingLink(refuse), RecordingLink(refuse)]
    a, b = (
        replica(engine, name, staff, link, auto_dial_queues=["support"], attempts=2)
        for name, link in zip(("a", "b"), links, strict=True)
    )
    ticket = await a.book(booking("1700.1"))
    assert await b.book(booking("1700.1")) == ticket  # the same caller channel: one item
    await asyncio.gather(a.round(), b.round())
    sent = [f for link in links for f in link.sent]
    assert len(sent) == 1, sent  # one dial, whichever replica took the lease
    originate = sent[0]
    assert (originate["Action"], originate["Channel"], originate["Exten"]) == (
        "Originate",
        PHONE,
        "7001",
    )
    assert originate["Context"] == "callcenter-callback" and originate["Async"] == "true"
    assert originate["Variable"].startswith("CC_WORK_ITEM=")
    item = await a.items.load(ticket=ticket)
    detail = await a.items.detail(item)
    [attempt] = detail["attempts"]
    assert attempt["number"] == "7001" and attempt["agent_interface"] == PHONE
    if refuse is not None:
        assert (attempt["outcome"], attempt["reason"]) == (
            "failed",
            "Originate: Extension does not exist.",
        )
        assert detail["callback"]["state"] == "waiting" and detail["callback"]["attempts"] == 1
        assert [c["direction"] for c in detail["calls"]] == ["outbound"]
    else:
        # The Originate was accepted: the PBX's events end the attempt, on the replica that
        # dialled (the other one ignores them: not its channel).
        dialler, other = (a, b) if a.running else (b, a)
        assert not other.running
        channel = originate["ChannelId"]
        at = datetime.now(UTC)
        for fields in (
            {"Event": "OriginateResponse", "Response": "Success", "Uniqueid": channel},
            {"Event": "DialEnd", "Uniqueid": channel, "DialStatus": "BUSY"},
            {"Event": "Hangup", "Uniqueid": channel, "Cause-txt": "Normal Clearing"},
        ):
            other.on_ami_event("rig", fields, at)
            dialler.on_ami_event("rig", fields, at)
        consumer = asyncio.create_task(dialler._consume())
        try:
            # The attempt is stored, then its line is written on the timeline.
            for _ in range(300):
                detail = await a.items.detail(await a.items.load(ticket=ticket))
                if not dialler.running and any(e["kind"] == "callback" for e in detail["timeline"]):
                    break
                await asyncio.sleep(0.02)
        finally:
            consumer.cancel()
        [attempt] = detail["attempts"]
        assert (attempt["outcome"], attempt["reason"]) == ("busy", "BUSY")
        assert detail["callback"]["attempts"] == 1
    assert any(e["kind"] == "callback" for e in detail["timeline"])
