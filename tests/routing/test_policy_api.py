"""Routing policies over the real `callcenter serve` API: staff only, validated, stored, audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service_proc import ServiceProcess
from tests.supervisor.helpers import Browser, add_user

POLICY_TOML = """
[routing.queues.support]
recovery_seconds = 30
[[routing.queues.support.triggers]]
metric = "longest_wait"
threshold = 60
release = 20
"""

EDITED = {
    "recovery_seconds": 10,
    "triggers": [
        {"metric": "predicted_wait", "level": "warning", "threshold": 45, "release": 30,
         "min_duration": 15, "cooldown": 120},
        {"metric": "service_level", "level": "surge", "threshold": 60, "release": 75},
    ],
    "actions": {"add_members": [{"interface": "PJSIP/1009", "penalty": 4}],
                "move_callers": {"to_queue": "overflow", "over_seconds": 90},
                "surge_flag": True},
}


@pytest.fixture
def service(tmp_path: Path, database_url: str) -> Iterator[ServiceProcess]:
    # No PBX: the API and its storage need none (no rig lock taken).
    process = ServiceProcess(tmp_path, database_url=database_url, pbx=[], log_level="INFO",
                             extra_toml=POLICY_TOML)
    add_user(process.config, "lead", "supervisor")
    add_user(process.config, "agent1", "agent", "PJSIP/1001")
    process.start()
    try:
        yield process
    finally:
        process.stop()


def test_policies_are_staff_only_validated_stored_and_audited(service: ServiceProcess) -> None:
    path = "/api/routing/policies/support"
    anonymous = Browser(service.base_url)
    assert anonymous.call("GET", path)[0] == 401
    agent = Browser(service.base_url).login("agent1")
    status, body = agent.call("PUT", path, EDITED)
    assert status == 403 and body["error"] == "forbidden"

    lead = Browser(service.base_url).login("lead")
    status, body = lead.call("GET", path)
    assert status == 200 and body["source"] == "config"
    assert body["policy"]["triggers"][0]["threshold"] == 60

    bad = {"triggers": [{"metric": "longest_wait", "threshold": 10, "release": 20}]}
    status, body = lead.call("PUT", path, bad)
    assert status == 400 and body["error"] == "invalid-policy"
    assert "release" in body["problems"][0]["problem"]
    status, body = lead.call("PUT", path, raw=b"{not json")
    assert status == 400 and body["error"] == "bad-json"
    assert lead.call("GET", "/api/routing/policies/no-such-queue")[0] == 404
    # Refused edits changed nothing.
    assert lead.call("GET", path)[1]["source"] == "config"

    status, body = lead.call("PUT", path, EDITED)
    assert status == 200, body
    assert body["source"] == "live" and body["updated_by"] == "lead"
    assert body["policy"]["triggers"][1]["metric"] == "service_level"

    service.stop()
    service.start()
    lead = Browser(service.base_url).login("lead")
    status, body = lead.call("GET", path)
    assert status == 200 and body["source"] == "live"
    assert body["policy"]["actions"]["move_callers"]["over_seconds"] == 90
    [change] = body["changes"]
    assert change["username"] == "lead"
    assert change["before"]["triggers"][0]["metric"] == "longest_wait"
    assert change["after"]["recovery_seconds"] == 10
    status, body = lead.call("GET", "/api/routing/policies")
    assert status == 200 and [p["queue"] for p in body["policies"]] == ["support"]
    status, body = lead.call("GET", "/api/routing/episodes")
    assert status == 200 and body["episodes"] == []
