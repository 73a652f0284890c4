"""Routing policies over the real `callcenter serve` API: staff only, validated, stored, audited."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from callcenter.rig.asterisk import AsteriskRig
from tests.fixtures_pg import free_port
from tests.service_proc import ServiceProcess
from tests.supervisor.helpers import Browser, add_user, add_users

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
        {
            "metric": "predicted_wait",
            "level": "warning",
            "threshold": 45,
            "release": 30,
            "min_duration": 15,
            "cooldown": 120,
        },
        {"metric": "service_level", "level": "surge", "threshold": 60, "release": 75},
    ],
    "actions": {
        "add_members": [{"interface": "PJSIP/1009", "penalty": 4}],
        "move_callers": {"to_queue": "overflow", "over_seconds": 90},
        "surge_flag": True,
    },
}


@pytest.fixture
def service(tmp_path: Path, database_url: str) -> Iterator[ServiceProcess]:
    # No PBX: the API and its storage need none (no rig lock taken).
    process = ServiceProcess(
        tmp_path, database_url=database_url, pbx=[], log_level="INFO", extra_toml=POLICY_TOML
    )
    add_users(
        process.config,
        ("lead", "supervisor"),
        ("agent1", "agent", "PJSIP/1001"),
    )
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
    assert status == 400 and body["error"] == "invalid-body"
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


def test_delete_drops_the_live_edit_back_to_the_file_policy_audited(
    service: ServiceProcess,
) -> None:
    path = "/api/routing/policies/support"
    lead = Browser(service.base_url).login("lead")
    agent = Browser(service.base_url).login("agent1")
    assert lead.call("DELETE", path)[1]["error"] == "no-live-policy"  # nothing to drop
    assert lead.call("PUT", path, EDITED)[0] == 200
    assert Browser(service.base_url).call("DELETE", path)[0] == 401
    assert agent.call("DELETE", path)[0] == 403
    assert lead.call("GET", path)[1]["source"] == "live"  # refused deletes changed nothing

    status, body = lead.call("DELETE", path)
    assert status == 200, body
    assert body["source"] == "config" and body["updated_by"] is None
    assert body["policy"]["triggers"] == [
        {
            "metric": "longest_wait",
            "level": "surge",
            "threshold": 60,
            "release": 20,
            "min_duration": 0,
            "cooldown": 0,
        }
    ]
    status, body = lead.call("DELETE", path)
    assert status == 404 and body["error"] == "no-live-policy"

    # A queue with no policy in the file has none at all once its live edit is dropped.
    assert lead.call("PUT", "/api/routing/policies/aftersales", EDITED)[0] == 200
    status, body = lead.call("DELETE", "/api/routing/policies/aftersales")
    assert status == 200 and body["policy"] is None and body["source"] is None
    assert lead.call("GET", "/api/routing/policies/aftersales")[0] == 404

    service.stop()
    service.start()
    lead = Browser(service.base_url).login("lead")
    status, body = lead.call("GET", path)
    assert status == 200 and body["source"] == "config"
    reset, edit = body["changes"]
    assert (reset["kind"], reset["username"], edit["kind"]) == ("reset", "lead", "edit")
    assert reset["before"]["recovery_seconds"] == 10  # the live edit that was dropped
    assert reset["after"]["triggers"][0]["threshold"] == 60  # the file's policy again
    assert [p["queue"] for p in lead.call("GET", "/api/routing/policies")[1]["policies"]] == [
        "support"
    ]


MOVE_TO = {
    "triggers": [{"metric": "longest_wait", "threshold": 30, "release": 10}],
    "actions": {"move_callers": {"to_queue": "overflow"}},
}


def test_move_target_cannot_be_checked_while_the_pbx_model_is_not_loaded(
    tmp_path: Path, database_url: str
) -> None:
    # A configured PBX nobody answers for: its live model is never loaded.
    down = {
        "name": "far",
        "host": "127.0.0.1",
        "port": free_port(),
        "username": "callcenter",
        "secret": "nobody-listens",
    }
    process = ServiceProcess(
        tmp_path, database_url=database_url, pbx=[down], log_level="INFO", extra_toml=POLICY_TOML
    )
    add_user(process.config, "lead", "supervisor")
    try:
        process.start(wait_healthy=False)  # /healthz says 503 while a PBX is down
        process.wait_until(lambda: process.get("/healthz")[0] == 503, 30, "serving")
        lead = Browser(process.base_url).login("lead")
        path = "/api/routing/policies/support"
        status, body = lead.call("PUT", path, MOVE_TO)
        assert status == 503 and body["error"] == "pbx-not-synced", body
        assert "'far'" in body["message"] and "'overflow'" in body["message"]
        status, body = lead.call("PUT", path, {**MOVE_TO, "pbx": "elsewhere"})
        assert status == 400 and body["error"] == "unknown-pbx", body
        status, body = lead.call(
            "PUT", path, {**MOVE_TO, "actions": {"move_callers": {"to_queue": "support"}}}
        )
        assert status == 400 and body["error"] == "move-to-same-queue", body
        # A dialplan destination needs no queue check.
        status, body = lead.call(
            "PUT",
            path,
            {**MOVE_TO, "actions": {"move_callers": {"context": "voicemail", "exten": "100"}}},
        )
        assert status == 200 and body["source"] == "live", body
        assert lead.call("GET", path)[1]["policy"]["actions"]["move_callers"]["to_queue"] is None
    finally:
        process.stop()


def test_move_target_must_exist_in_the_live_model_of_the_pbx(
    rig: AsteriskRig, tmp_path: Path, database_url: str
) -> None:
    process = ServiceProcess(
        tmp_path, database_url=database_url, log_level="INFO", extra_toml=POLICY_TOML
    )
    add_user(process.config, "lead", "supervisor")
    try:
        process.start()
        process.wait_until(lambda: "PBX rig: resynced" in process.log_text(), 20, "resynced")
        lead = Browser(process.base_url).login("lead")
        path = "/api/routing/policies/support"
        status, body = lead.call(
            "PUT", path, {**MOVE_TO, "actions": {"move_callers": {"to_queue": "no-such-queue"}}}
        )
        if status == 503:  # resynced, the routing room not yet told: a moment later
            time.sleep(1)
            status, body = lead.call(
                "PUT", path, {**MOVE_TO, "actions": {"move_callers": {"to_queue": "no-such-queue"}}}
            )
        assert status == 400 and body["error"] == "unknown-target-queue", body
        assert body["message"] == ("move target queue 'no-such-queue' does not exist on PBX 'rig'")
        assert lead.call("GET", path)[1]["source"] == "config"  # nothing stored
        status, body = lead.call("PUT", path, MOVE_TO)  # overflow exists on the rig
        assert status == 200 and body["source"] == "live", body
        status, body = lead.call("PUT", path, {**MOVE_TO, "pbx": "rig"})
        assert status == 200 and body["policy"]["pbx"] == "rig", body
    finally:
        process.stop()
