"""Tickets in the IVR on the real rig: a caller keys a ticket number and reaches its owner.

A real `callcenter serve` (FastAGI on 127.0.0.1:4573, IVR_AGI in extensions.conf), the rig's
Asterisk with the project's dialplan (hotline menu key 8: dialplan/tickets.conf), the owner's
phone a SIPp UAS (PJSIP/1005 or 1006) the owner signed in at through the agent API. The
ticket is made the way an agent makes one: ``POST /api/work/items``. Callers are Local
channels whose other half presses the keys with SendDTMF (tests/ivr/rig_calls.py).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from callcenter.customers.models import CustomerRow
from callcenter.rig.asterisk import AsteriskRig
from callcenter.rig.sipp import AgentPhones
from callcenter.work.tickets import luhn_digit
from tests.ivr.rig_calls import call_hotline, entered, hang_up_test_calls, install_test_phone
from tests.service_proc import ServiceProcess
from tests.supervisor.helpers import Browser, add_users, wait_for

FASTAGI_PORT = 4573  # IVR_AGI in config/asterisk/extensions.conf
ALWAYS_OPEN = (
    "[ivr]\nhours = { "
    + ", ".join(
        f'{day} = ["00:00-24:00"]' for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    )
    + " }\nvip_priorities = { 1 = 5, 3 = 20 }\n"
)
# Keys: the language prompt has started: 1 = 中文 / 2 = English, then the menu's 8.
LANG_ZH, LANG_EN = "1", "2"
PAUSE = "wwww"  # 2 s: the next prompt has started (AGI answers in milliseconds)
OWNER, BOSS = "owner", "boss"
TEAM_QUEUE = "aftersales"  # the owner's team's queue: where the caller goes otherwise
SKILL_QUEUE = "complaints"  # where the owner takes queue calls (a sign-in needs a queue)
NOBODY = "7654321" + luhn_digit("7654321")  # a valid number no item has


def messages(rig: AsteriskRig) -> str:
    return rig.messages_log_path.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def ticket_rig(rig: AsteriskRig) -> Iterator[AsteriskRig]:
    install_test_phone(rig)
    yield rig
    hang_up_test_calls(rig)


@pytest.fixture
def service(ticket_rig: AsteriskRig, tmp_path: Path) -> Iterator[ServiceProcess]:
    """The service with an admin, the owner (an agent, skill for complaints, member of the
    after-sales team) and a VIP customer (level 1: queue priority 5) calling from
    13800440003."""
    process = ServiceProcess(
        tmp_path, fastagi_port=FASTAGI_PORT, log_level="INFO", extra_toml=ALWAYS_OPEN
    )
    add_users(
        process.config,
        (BOSS, "admin"),
        (OWNER, "agent"),
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    subprocess.run(
        [sys.executable, "-m", "callcenter", "migrate", "--config", str(process.config)],
        check=True,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=60,
    )
    engine = create_engine(f"sqlite:///{tmp_path / 'callcenter.db'}")
    now = datetime.now(UTC)
    try:
        with Session(engine) as session, session.begin():
            session.add(
                CustomerRow(
                    name="王芳",
                    phones=["+8613800440003"],
                    vip_level=1,
                    language="zh",
                    tags=[],
                    notes="",
                    created_at=now,
                    updated_at=now,
                )
            )
    finally:
        engine.dispose()
    process.start()
    try:
        boss = Browser(process.base_url).login(BOSS)
        owner_id = user_id(boss, OWNER)
        status, body = boss.call(
            "PUT", f"/api/agents/{owner_id}/skills", {"skills": {f"queue:{SKILL_QUEUE}": 3}}
        )
        assert status == 200, body
        status, body = boss.call(
            "POST",
            "/api/teams",
            {"name": "after-sales", "queues": [TEAM_QUEUE], "members": [owner_id]},
        )
        assert status == 201, body
        yield process
    finally:
        hang_up_test_calls(ticket_rig)
        for phone in ("PJSIP/1005", "PJSIP/1006"):
            ticket_rig.rx(f"queue remove member {phone} from {SKILL_QUEUE}")
        process.stop()


def user_id(boss: Browser, username: str) -> int:
    status, roster = boss.call("GET", "/api/roster")
    assert status == 200, roster
    return int(next(a["user_id"] for a in roster["agents"] if a["username"] == username))


def sign_in_ready(service: ServiceProcess, interface: str) -> Browser:
    """The owner signs in at ``interface`` and is ready (as the service sees it)."""
    owner = Browser(service.base_url).login(OWNER)
    status, body = owner.call("POST", "/api/agent/sign-in", {"interface": interface})
    assert status == 200, body
    boss = Browser(service.base_url).login(BOSS)

    def ready() -> bool:
        _, roster = boss.call("GET", "/api/roster")
        agent = next(a for a in roster["agents"] if a["username"] == OWNER)
        return bool(agent["state"] and agent["state"].get("state") == "ready")

    wait_for(ready, 20, f"{OWNER} ready at {interface}")
    return owner


def new_ticket(owner: Browser, phone: str) -> str:
    """A complaint the owner creates (the owner: the creator; the team: the owner's)."""
    status, item = owner.call(
        "POST",
        "/api/work/items",
        {"kind": "complaint", "title": "Refund not received", "category": "billing",
         "phone": phone},
    )  # fmt: skip
    assert status == 201, item
    assert item["owner_id"] is not None and item["team_name"] == "after-sales", item
    return str(item["ticket"])


def caller_in_queue(service: ServiceProcess, queue: str, number: str) -> dict[str, str] | None:
    """The caller's IVR variables as the live model has them while they wait in ``queue``."""
    status, body = service.get_json(f"/api/queues/{queue}")
    if status != 200:
        return None
    found: dict[str, str] | None = next(
        (c["ivr"] for c in body["callers"] if c["caller_num"] == number), None
    )
    return found


AgentPhonesFactory = Callable[..., AgentPhones]


def test_a_caller_keys_a_ticket_and_the_owners_sipp_phone_answers(
    ticket_rig: AsteriskRig, service: ServiceProcess, agent_phones: AgentPhonesFactory
) -> None:
    rig = ticket_rig
    phone = agent_phones(1, first_ext=1005, ring_seconds=1, talk_seconds=4)["1005"]
    owner = sign_in_ready(service, "PJSIP/1005")
    ticket = new_ticket(owner, "+8613800440001")
    mistyped = ticket[:7] + str((int(ticket[7]) + 1) % 10)  # a wrong check digit
    before = len(messages(rig))
    log_before = len(service.log_text())
    # A mistyped number first: "not valid, enter it again", then the right one.
    call_hotline("13800440001", LANG_ZH + PAUSE + "8" + PAUSE + mistyped + PAUSE + ticket, hold=40)
    wait_for(lambda: phone.stats().answered >= 1, 40, "the owner's phone answering")
    log = messages(rig)[before:]
    assert "/callcenter/zh/ticket-invalid" in log
    assert f"CC_TICKET={ticket}" in log
    assert "PJSIP/1005,20,mt" in log  # Dial: the owner's phone, 20 s, music on hold
    assert entered(rig, "13800440001") == []  # put through, never queued
    service_log = service.log_text()[log_before:]
    assert "caller=138****0001" in service_log and "13800440001" not in service_log
    assert f"ticket='******{mistyped[-2:]}': invalid" in service_log
    assert "found item=1 owner_phone=PJSIP/1005 queue=aftersales" in service_log
    wait_for(lambda: phone.stats().bye_received + phone.stats().hung_up >= 1, 20, "call ended")


def test_an_owner_who_does_not_answer_leaves_the_caller_queued_with_ticket_and_priority(
    ticket_rig: AsteriskRig, service: ServiceProcess, agent_phones: AgentPhonesFactory
) -> None:
    rig = ticket_rig
    phone = agent_phones(1, first_ext=1006, answer=False)["1006"]
    owner = sign_in_ready(service, "PJSIP/1006")
    ticket = new_ticket(owner, "+8613800440003")
    before = len(messages(rig))
    # The VIP customer (priority 5); the owner's phone rings 3 s, then the team's queue.
    call_hotline(
        "13800440003",
        LANG_EN + PAUSE + "8" + PAUSE + ticket,
        hold=40,
        extra={"TICKET_RING_SECONDS": "3"},
    )
    ivr: Any = wait_for(
        lambda: caller_in_queue(service, TEAM_QUEUE, "13800440003"), 40, "the caller queued"
    )
    assert ivr["CC_TICKET"] == ticket and ivr["CC_MENU"] == "ticket"
    assert ivr["CC_PRIORITY"] == "5" and ivr["CC_QUEUE"] == TEAM_QUEUE
    assert phone.stats().rang >= 1  # the owner's phone rang first
    log = messages(rig)[before:]
    assert "Ticket owner PJSIP/1006: NOANSWER" in log
    assert [f[2] for f in entered(rig, "13800440003")] == [TEAM_QUEUE]


def test_an_unknown_ticket_goes_back_to_the_menu(
    ticket_rig: AsteriskRig, service: ServiceProcess
) -> None:
    rig = ticket_rig
    before = len(messages(rig))
    # The unknown number, its message (2.5 s), then the menu again: 2 = after-sales.
    call_hotline(
        "13800440002", LANG_EN + PAUSE + "8" + PAUSE + NOBODY + PAUSE + PAUSE + "2", hold=40
    )
    ivr: Any = wait_for(
        lambda: caller_in_queue(service, "aftersales", "13800440002"), 40, "the caller queued"
    )
    assert ivr["CC_MENU"] == "aftersales" and "CC_TICKET" not in ivr
    log = messages(rig)[before:]
    unknown = log.index("/callcenter/en/ticket-unknown")
    assert "/callcenter/en/menu" in log[unknown:]  # the menu played again after the message
    assert f"ticket='******{NOBODY[-2:]}': unknown item=-" in service.log_text()


def test_with_the_service_down_the_caller_is_queued_with_the_ticket_kept(
    ticket_rig: AsteriskRig,
) -> None:
    rig = ticket_rig
    with socket.socket() as probe:  # nothing answers FastAGI: every AGI() fails at once
        assert probe.connect_ex(("127.0.0.1", FASTAGI_PORT)) != 0
    before = len(messages(rig))
    try:
        call_hotline("13800440004", LANG_ZH + PAUSE + "8" + PAUSE + NOBODY, hold=30)
        wait_for(lambda: entered(rig, "13800440004"), 40, "the caller queued")
        assert [f[2] for f in entered(rig, "13800440004")] == ["consultation"]
        log = messages(rig)[before:]
        assert f"CC_TICKET={NOBODY}" in log  # default: the agent gets the number as keyed
    finally:
        hang_up_test_calls(rig)
