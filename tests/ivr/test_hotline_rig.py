"""The IVR hotline on the real rig: real calls, real DTMF, the real `callcenter serve`.

Callers are Local channels whose other half presses keys with SendDTMF (tests/ivr/rig_calls).
The dialplan reaches the service's FastAGI on 127.0.0.1:4573 (IVR_AGI in extensions.conf).
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session

from callcenter.customers.models import CustomerRow
from callcenter.ivr.models import CallbackRequest, SurveyResult
from callcenter.rig.asterisk import AsteriskRig
from callcenter.work.models import CallbackScheduleRow, WorkItemRow
from tests.ivr.rig_calls import (
    call_hotline,
    channels,
    entered,
    hang_up_test_calls,
    install_test_phone,
    wait_for,
)
from tests.service_proc import ServiceProcess
from tests.supervisor.helpers import PASSWORD, Browser

FASTAGI_PORT = 4573  # IVR_AGI in config/asterisk/extensions.conf
ALWAYS_OPEN = (
    "[ivr]\nhours = { "
    + ", ".join(
        f'{day} = ["00:00-24:00"]' for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    )
    + " }\nvip_priorities = { 1 = 5, 3 = 20 }\n"
)
NEVER_OPEN = "[ivr]\nhours = {}\n"
# Keys: wait for the language prompt, 1 = 中文 / 2 = English, then the menu choice.
LANG_ZH, LANG_EN = "1", "2"
PAUSE = "wwww"  # 2 s: the next prompt has started (AGI answers in milliseconds)


@pytest.fixture(scope="module")
def ivr_rig(rig: AsteriskRig) -> Iterator[AsteriskRig]:
    install_test_phone(rig)
    yield rig
    hang_up_test_calls(rig)


StartService = Callable[..., ServiceProcess]


@pytest.fixture
def start_service(ivr_rig: AsteriskRig, tmp_path: Path) -> Iterator[StartService]:
    """``start(extra_toml, customers=[...])``: customers are stored before the service starts
    (the screen-pop's customer index loads them at start-up)."""
    started: list[ServiceProcess] = []

    def start(
        extra_toml: str = ALWAYS_OPEN, customers: Sequence[dict[str, object]] = ()
    ) -> ServiceProcess:
        service = ServiceProcess(tmp_path, fastagi_port=FASTAGI_PORT, extra_toml=extra_toml)
        if customers:
            env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
            subprocess.run(
                [sys.executable, "-m", "callcenter", "migrate", "--config", str(service.config)],
                check=True,
                cwd=tmp_path,
                env=env,
                capture_output=True,
                timeout=60,
            )
            for values in customers:
                add_customer(service, **values)
        started.append(service)
        service.start()
        return service

    try:
        yield start
    finally:
        hang_up_test_calls(ivr_rig)
        for service in started:
            service.stop()


@pytest.fixture
def members(ivr_rig: AsteriskRig) -> Iterator[Callable[[str, str], None]]:
    """Add a Local agent to a queue for this test only."""
    added: list[tuple[str, str]] = []

    def add(queue: str, interface: str) -> None:
        ivr_rig.rx(f"queue add member {interface} to {queue}")
        added.append((queue, interface))

    try:
        yield add
    finally:
        for queue, interface in added:
            ivr_rig.rx(f"queue remove member {interface} from {queue}")


def db(service: ServiceProcess) -> Engine:
    return create_engine(f"sqlite:///{service.workdir / 'callcenter.db'}")


def add_customer(service: ServiceProcess, **values: object) -> int:
    now = datetime.now(UTC)
    engine = db(service)
    try:
        with Session(engine) as session, session.begin():
            row = CustomerRow(tags=[], notes="", created_at=now, updated_at=now, **values)
            session.add(row)
            session.flush()
            return row.id
    finally:
        engine.dispose()


def queue_of(rig: AsteriskRig, number: str, timeout: float = 20) -> str:
    wait_for(lambda: entered(rig, number), timeout, f"{number} in a queue")
    return entered(rig, number)[0][2]


def messages(rig: AsteriskRig) -> str:
    return rig.messages_log_path.read_text(encoding="utf-8", errors="replace")


def test_menu_choices_reach_their_queues_and_the_account_reaches_the_pop(
    ivr_rig: AsteriskRig, start_service: StartService
) -> None:
    service = start_service(
        ALWAYS_OPEN,
        customers=[
            dict(
                name="李雷",
                phones=["+8613900000000"],
                account_number="88001234",
                vip_level=1,
                language="zh",
            )
        ],
    )
    call_hotline("13800550001", LANG_ZH + PAUSE + "1")
    call_hotline("13800550002", LANG_EN + PAUSE + "2")
    call_hotline("13800550003", LANG_ZH + PAUSE + "3")
    # 9, then the account number and #, then after-sales from the menu played again.
    call_hotline("13800550004", LANG_EN + PAUSE + "9" + PAUSE + "88001234#" + PAUSE + "2")
    assert queue_of(ivr_rig, "13800550001") == "consultation"
    assert queue_of(ivr_rig, "13800550002") == "aftersales"
    assert queue_of(ivr_rig, "13800550003") == "complaints"
    assert queue_of(ivr_rig, "13800550004", timeout=30) == "aftersales"

    def account_caller() -> dict[str, str] | None:
        status, body = service.get_json("/api/queues/aftersales")
        if status != 200:
            return None
        return next((c["ivr"] for c in body["callers"] if c["caller_num"] == "13800550004"), None)

    ivr = wait_for(account_caller, 10, "the account caller in the live model")
    assert isinstance(ivr, dict)
    assert ivr["CC_ACCOUNT"] == "88001234"
    assert ivr["CC_CUSTOMER"] == "1" and ivr["CC_VIP"] == "1"  # the one customer stored
    assert ivr["CC_LANG"] == "en" and ivr["CC_MENU"] == "aftersales"
    assert ivr["CC_PRIORITY"] == "5" and ivr["CC_HOURS"] == "open"


def test_a_vip_is_answered_before_earlier_callers(
    ivr_rig: AsteriskRig, start_service: StartService, members: Callable[[str, str], None]
) -> None:
    start_service(
        ALWAYS_OPEN,
        customers=[dict(name="VIP 客户", phones=["+8613800660003"], vip_level=3, language="zh")],
    )
    for number in ("13800660001", "13800660002", "13800660003"):  # the VIP joins last
        call_hotline(number, LANG_ZH + PAUSE + "1")
        wait_for(functools.partial(entered, ivr_rig, number), 20, f"{number} waiting")
    joined = [entered(ivr_rig, n)[0] for n in ("13800660001", "13800660002", "13800660003")]
    assert [f[2] for f in joined] == ["consultation"] * 3
    callids = {f[1]: f[6] for f in joined}
    members("consultation", "Local/agent61@agents/n")

    def first_connect() -> str | None:
        return next(
            (f[1] for f in ivr_rig.queue_log_lines() if f[4] == "CONNECT" and f[1] in callids), None
        )

    first = wait_for(first_connect, 20, "a caller connected")
    assert callids[str(first)] == "13800660003"


def test_out_of_hours_plays_the_closed_message_and_queues_nobody(
    ivr_rig: AsteriskRig, start_service: StartService
) -> None:
    start_service(NEVER_OPEN)
    before = len(messages(ivr_rig))
    call_hotline("13800770001", "1wwww1", hold=10)
    wait_for(
        lambda: "/callcenter/zh/closed" in messages(ivr_rig)[before:],
        15,
        "the closed message playing",
    )
    log = messages(ivr_rig)[before:]
    assert "CC_HOURS=closed" in log
    time.sleep(3)  # the keys were pressed; a wrong path would have queued the caller by now
    assert entered(ivr_rig, "13800770001") == []


def test_surge_flag_offers_a_callback_that_books_a_callback_item(
    ivr_rig: AsteriskRig, start_service: StartService
) -> None:
    service = start_service(ALWAYS_OPEN)
    # The callback goes to the pool of the team serving the queue.
    service.add_user("boss", PASSWORD, "--role", "admin")
    boss = Browser(service.base_url).login("boss")
    status, body = boss.call("POST", "/api/teams", {"name": "complaints", "queues": ["complaints"]})
    assert status == 201, body
    ivr_rig.rx("database put callcenter/surge complaints 1")
    try:
        call_hotline("13800880001", LANG_ZH + PAUSE + "3" + PAUSE + "1", hold=20)
        engine = db(service)
        try:

            def item() -> WorkItemRow | None:
                with Session(engine) as session:
                    return session.execute(select(WorkItemRow)).scalar_one_or_none()

            found = wait_for(item, 20, "a callback item")
            assert isinstance(found, WorkItemRow)
            with Session(engine) as session:
                request = session.execute(select(CallbackRequest)).scalar_one()
                schedule = session.get(CallbackScheduleRow, found.id)
        finally:
            engine.dispose()
        assert (found.kind, found.source, found.status) == ("callback", "ivr", "open")
        assert (found.queue, found.phone, found.pbx) == ("complaints", "13800880001", "rig")
        assert found.source_key == f"ivr:rig:{request.uniqueid}"
        assert found.team_id == body["id"] and found.owner_id is None
        assert schedule is not None and (schedule.state, schedule.number) == (
            "waiting",
            "13800880001",
        )
        assert (request.pbx, request.queue, request.language) == ("rig", "complaints", "zh")
        time.sleep(2)
        assert entered(ivr_rig, "13800880001") == []  # booked a callback instead of waiting
    finally:
        ivr_rig.rx("database del callcenter/surge complaints")


def test_survey_stores_the_digit_for_the_call_and_the_agent(
    ivr_rig: AsteriskRig, start_service: StartService, members: Callable[[str, str], None]
) -> None:
    service = start_service(ALWAYS_OPEN)
    members("aftersales", "Local/agent62@agents/n")
    # The agent talks 2 s, then hangs up; the caller stays for the survey.
    call_hotline(
        "13800990011", LANG_EN + PAUSE + "2", hold=40, score="4", extra={"__AGENT_TALK": "2"}
    )
    callid = wait_for(lambda: entered(ivr_rig, "13800990011"), 20, "queued")[0][1]  # type: ignore[index]

    def in_survey() -> str | None:
        rows = channels(ivr_rig)
        caller = next((r[0] for r in rows if r[1] == "ivr-survey"), None)
        return caller.replace(";2", ";1") if caller else None

    phone = wait_for(in_survey, 20, "the caller in the survey")
    ivr_rig.rx(f"channel redirect {phone} ivr-test-phone,score,1")
    engine = db(service)
    try:

        def stored() -> SurveyResult | None:
            with Session(engine) as session:
                return session.execute(select(SurveyResult)).scalar_one_or_none()

        result = wait_for(stored, 15, "the survey result")
    finally:
        engine.dispose()
    assert isinstance(result, SurveyResult)
    assert (result.pbx, result.uniqueid, result.score) == ("rig", callid, 4)
    assert result.agent_interface == "Local/agent62@agents/n"
    assert result.queue == "aftersales"


def test_with_the_service_stopped_callers_still_reach_a_queue(ivr_rig: AsteriskRig) -> None:
    try:
        before = len(messages(ivr_rig))
        call_hotline("13800990021", LANG_ZH + PAUSE + "2")
        assert queue_of(ivr_rig, "13800990021") == "aftersales"
        log = messages(ivr_rig)[before:]
        assert "IVR_SERVICE=FAILURE" in log
    finally:
        hang_up_test_calls(ivr_rig)
