"""`callcenter serve` against the real rig: events of a real SIP call, health, clean stop."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from callcenter.rig.asterisk import AsteriskRig
from callcenter.rig.sipp import AgentPhones, start_calls
from tests.fixtures_pg import PostgresServer
from tests.service_proc import ServiceProcess
from tests.supervisor.helpers import Browser


@pytest.fixture
def service(rig: AsteriskRig, tmp_path: Path) -> Iterator[ServiceProcess]:
    process = ServiceProcess(tmp_path)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def only_phone_1001(rig: AsteriskRig) -> Iterator[None]:
    # support's static member 1002 has no phone; keep rrmemory from ringing it.
    rig.rx("queue pause member PJSIP/1002 queue support reason test")
    try:
        yield
    finally:
        rig.rx("queue unpause member PJSIP/1002 queue support")


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not {what} within {timeout} s")


def metric(service: ServiceProcess, name: str, **labels: str) -> float:
    for line in service.scrape_metrics().splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_serve_receives_queue_events_of_a_real_sip_call(
    rig: AsteriskRig,
    service: ServiceProcess,
    only_phone_1001: None,
    agent_phones: Callable[..., AgentPhones],
) -> None:
    phones = agent_phones(1, first_ext=1001, ring_seconds=1.0)
    number = "13800990001"
    batch = start_calls(1, dial="support", caller_numbers=[number], hold_seconds=5.0)
    try:

        def connect_line() -> list[str] | None:
            return next(
                (f for f in rig.queue_log_lines() if f[4] == "CONNECT" and f[1] in entered()), None
            )

        def entered() -> set[str]:
            return {f[1] for f in rig.queue_log_lines() if f[4] == "ENTERQUEUE" and f[6] == number}

        wait_for(connect_line, 20, "answered by the agent phone")
        callid = next(iter(entered()))
        log = service.log_text
        wait_for(
            lambda: f"AMI AgentConnect pbx=rig uniqueid={callid} " in log(),
            5,
            "AgentConnect seen by the service",
        )
        assert f"AMI QueueCallerJoin pbx=rig uniqueid={callid} queue=support" in log()
        assert phones.stats().answered == 1
    finally:
        result = batch.wait(30)
    assert result.ok, result.errors
    assert metric(service, "callcenter_ami_events_total", event="QueueCallerJoin") >= 1
    assert metric(service, "callcenter_ami_events_total", event="AgentConnect") >= 1
    # The service's own filters keep the chatty events away.
    assert metric(service, "callcenter_ami_events_total", event="Newexten") == 0


def test_healthz_turns_degraded_when_asterisk_stops(
    rig: AsteriskRig, service: ServiceProcess
) -> None:
    status, body = service.get_json("/healthz")
    assert status == 200 and body["status"] == "ok" and body["pbx"]["rig"]["state"] == "connected"
    rig.stop()
    try:
        wait_for(lambda: service.get("/healthz")[0] == 503, 10, "degraded")
        status, body = service.get_json("/healthz")
        assert body["status"] == "degraded"
        assert body["down"] == ["pbx rig"]
        assert body["pbx"]["rig"]["state"] != "connected" and body["pbx"]["rig"]["error"]
        assert metric(service, "callcenter_ami_link_up", pbx="rig") == 0
    finally:
        rig.start()
    wait_for(lambda: service.get("/healthz")[0] == 200, 15, "healthy after Asterisk came back")
    assert metric(service, "callcenter_ami_reconnects_total", pbx="rig") >= 1


def test_healthz_names_the_database_when_postgres_stops(
    rig: AsteriskRig, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    process = ServiceProcess(tmp_path, database_url=postgres_server.create_database())
    process.start()
    try:
        postgres_server.stop()
        try:
            wait_for(lambda: process.get("/healthz")[0] == 503, 15, "degraded")
            _, body = process.get_json("/healthz")
            assert body["down"] == ["database"]
            assert body["database"]["state"] == "down"
            assert "callcenter@" not in str(body)  # no URL or credentials in the report
            # A request that needs the database says so, in the API's error shape.
            status, error = Browser(process.base_url).call(
                "POST", "/api/login", {"username": "wang", "password": "secret"}
            )
            assert (status, error["error"]) == (503, "database-unavailable"), error
            assert "postgresql" not in str(error) and "SELECT" not in str(error)
        finally:
            postgres_server.start()
        wait_for(lambda: process.get("/healthz")[0] == 200, 20, "healthy again")
    finally:
        assert process.stop() == 0


def test_sigterm_stops_the_service_cleanly(rig: AsteriskRig, tmp_path: Path) -> None:
    process = ServiceProcess(tmp_path, log_level="INFO")
    process.start()
    assert process.stop() == 0
    text = process.log_text()
    assert "stop requested" in text and re.search(r"callcenter\.service: stopped", text)
    assert "Traceback" not in text
    assert "rig-secret-not-for-production" not in text
