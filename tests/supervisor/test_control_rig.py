"""The supervisor control API through a real `callcenter serve`, checked on the rig's Asterisk.

Every action is checked three ways: what the PBX itself says (AMI QueueStatus or the CLI),
what the live model shows (/api/queues), and the audit row it left.
"""

from __future__ import annotations

import re
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from callcenter.rig.asterisk import AsteriskRig
from tests.service_proc import ServiceProcess
from tests.supervisor.helpers import (
    Browser,
    add_users,
    member_path,
    queue_status,
    wait_for,
)


@pytest.fixture(scope="module")
def console(rig: AsteriskRig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    service = ServiceProcess(tmp_path_factory.mktemp("supervisor"), log_level="INFO")
    add_users(
        service.config,
        ("lead", "supervisor", "PJSIP/1009"),
        ("agent1", "agent", "PJSIP/1001"),
    )
    service.start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def boss(console: ServiceProcess) -> Browser:
    return Browser(console.base_url).login("lead")


def model_member(console: ServiceProcess, queue: str, interface: str) -> dict[str, Any] | None:
    _, view = console.get_json(f"/api/queues/{queue}")
    return next((m for m in view["members"] if m["interface"] == interface), None)


def last_audit(boss: Browser, **filters: str) -> dict[str, Any]:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    status, body = boss.call("GET", f"/api/audit?{query}&limit=1")
    assert status == 200, body
    entry: dict[str, Any] = body["entries"][0]
    return entry


def test_nobody_logged_in_gets_401_and_an_agent_gets_403(console: ServiceProcess) -> None:
    anonymous = Browser(console.base_url)
    path = member_path("support", "PJSIP/1002", "pause")
    status, body = anonymous.call("POST", path, {"paused": True, "reason": "x"})
    assert status == 401 and body["error"] == "not-logged-in"
    agent = Browser(console.base_url).login("agent1")
    for method, url, payload in [
        ("POST", path, {"paused": True, "reason": "x"}),
        ("POST", "/api/queues/support/members", {"interface": "PJSIP/1007"}),
        ("POST", "/api/agents/PJSIP%2F1002/logout", None),
        ("GET", "/api/audit", None),
        ("GET", "/api/stats/intervals", None),
    ]:
        status, body = agent.call(method, url, payload)
        assert (status, body["error"]) == (403, "forbidden"), (url, body)
    members, _ = queue_status("support")
    assert members["PJSIP/1002"]["Paused"] == "0"  # nothing reached the PBX


def test_add_pause_penalty_ringinuse_and_remove_a_member(
    rig: AsteriskRig, console: ServiceProcess, boss: Browser
) -> None:
    queue, interface = "consultation", "PJSIP/1003"
    status, body = boss.call(
        "POST",
        f"/api/queues/{queue}/members",
        {"interface": interface, "name": "王芳 Wang Fang", "penalty": 2},
    )
    assert status == 200, body
    members, _ = queue_status(queue)
    assert members[interface]["Name"] == "王芳 Wang Fang"
    assert (members[interface]["Penalty"], members[interface]["Membership"]) == ("2", "dynamic")
    wait_for(lambda: model_member(console, queue, interface), 5, "member in the live model")

    try:
        status, body = boss.call(
            "POST", member_path(queue, interface, "pause"), {"paused": True, "reason": "午休 lunch"}
        )
        assert status == 200, body
        members, _ = queue_status(queue)
        assert (members[interface]["Paused"], members[interface]["PausedReason"]) == (
            "1",
            "午休 lunch",
        )
        wait_for(
            lambda: (
                (model_member(console, queue, interface) or {}).get("paused_reason") == "午休 lunch"
            ),
            5,
            "pause in the live model",
        )

        status, body = boss.call("POST", member_path(queue, interface, "pause"), {"paused": False})
        assert status == 200, body
        assert queue_status(queue)[0][interface]["Paused"] == "0"

        status, body = boss.call("POST", member_path(queue, interface, "penalty"), {"penalty": 7})
        assert status == 200, body
        assert queue_status(queue)[0][interface]["Penalty"] == "7"
        wait_for(
            lambda: (model_member(console, queue, interface) or {}).get("penalty") == 7,
            5,
            "penalty in the live model",
        )

        status, body = boss.call(
            "POST", member_path(queue, interface, "ringinuse"), {"ringinuse": True}
        )
        assert status == 200, body
        # QueueStatus has no ring-in-use field; the CLI shows it per member.
        line = next(x for x in rig.rx(f"queue show {queue}").splitlines() if interface in x)
        assert "ringinuse enabled" in line, line
        wait_for(
            lambda: (model_member(console, queue, interface) or {}).get("ringinuse") is True,
            5,
            "ringinuse in the live model",
        )
    finally:
        status, body = boss.call("DELETE", member_path(queue, interface))
    assert status == 200, body
    assert interface not in queue_status(queue)[0]
    wait_for(lambda: model_member(console, queue, interface) is None, 5, "member gone")

    status, audit = boss.call("GET", f"/api/audit?queue={queue}&user=lead&limit=100")
    actions = [e["action"] for e in audit["entries"]]
    assert actions[:6] == [
        "member.remove",
        "member.ringinuse",
        "member.penalty",
        "member.unpause",
        "member.pause",
        "member.add",
    ]
    pause = audit["entries"][4]
    assert pause["ok"] and pause["target"] == interface and pause["user"] == "lead"
    assert pause["parameters"] == {"interface": interface, "paused": True, "reason": "午休 lunch"}


def test_unknown_targets_bad_bodies_and_refusals_get_clear_errors(
    console: ServiceProcess, boss: Browser
) -> None:
    cases: list[tuple[str, str, Any, int, str]] = [
        (
            "POST",
            member_path("nosuchqueue", "PJSIP/1001", "pause"),
            {"paused": True},
            404,
            "no-such-queue",
        ),
        (
            "POST",
            member_path("support", "PJSIP/1099", "pause"),
            {"paused": True},
            404,
            "no-such-member",
        ),
        ("POST", "/api/queues/support/callers/123.456/withdraw", {}, 404, "no-such-caller"),
        ("POST", "/api/agents/PJSIP%2F1099/logout", None, 404, "no-such-agent"),
        (
            "POST",
            member_path("support", "PJSIP/1002", "pause"),
            {"paused": "yes"},
            400,
            "invalid-body",
        ),
        (
            "POST",
            member_path("support", "PJSIP/1002", "penalty"),
            {"penalty": -1},
            400,
            "invalid-body",
        ),
        (
            "POST",
            member_path("support", "PJSIP/1002", "pause"),
            {"paused": True, "reason": "x\r\nAction: Originate"},
            400,
            "invalid-body",
        ),
        ("POST", "/api/queues/support/members", {"interface": "PJSIP/1001"}, 409, "already-member"),
        (
            "POST",
            "/api/queues/support/callers/1.2/move",
            {"to_queue": "a", "context": "b"},
            400,
            "invalid-body",
        ),
        ("POST", "/api/agents/PJSIP%2F1002/logout", None, 409, "no-dynamic-membership"),
    ]
    for method, path, payload, code, error in cases:
        status, body = boss.call(method, path, payload)
        assert (status, body["error"]) == (code, error), (path, body)
        assert body["message"]
    status, body = boss.call(
        "POST", member_path("support", "PJSIP/1002", "pause"), raw=b"{not json"
    )
    assert (status, body["error"]) == (400, "bad-json")

    # The PBX refuses to remove a static member: 502 with its own words, audited as failed.
    status, body = boss.call("DELETE", member_path("support", "PJSIP/1002"))
    assert (status, body["error"]) == (502, "pbx-refused"), body
    assert "QueueRemove" in body["message"]
    assert "PJSIP/1002" in queue_status("support")[0]
    entry = last_audit(boss, action="member.remove")
    assert entry["ok"] is False and entry["target"] == "PJSIP/1002"
    assert entry["message"] == body["message"]


def test_logout_removes_the_agent_from_every_dynamic_queue(
    console: ServiceProcess, boss: Browser
) -> None:
    interface = "PJSIP/1004"
    for queue in ("consultation", "aftersales"):
        status, body = boss.call(
            "POST",
            f"/api/queues/{queue}/members",
            {"interface": interface, "paused": True, "reason": "setup"},
        )
        assert status == 200, body
    wait_for(lambda: model_member(console, "aftersales", interface), 5, "second membership")
    status, body = boss.call("POST", "/api/agents/PJSIP%2F1004/logout")
    assert status == 200, body
    assert len(body["done"]) == 2
    for queue in ("consultation", "aftersales"):
        assert interface not in queue_status(queue)[0]
    entry = last_audit(boss, action="agent.logout")
    assert entry["ok"] and sorted(entry["parameters"]["queues"]) == ["aftersales", "consultation"]


def originate_caller(rig: AsteriskRig, queue: str) -> None:
    rig.rx(f"channel originate Local/{queue}@local-callers application Wait 120")


def waiting_caller(console: ServiceProcess, queue: str) -> dict[str, Any] | None:
    _, view = console.get_json(f"/api/queues/{queue}")
    return view["callers"][0] if view["callers"] else None


def test_priority_move_and_withdraw_a_waiting_caller(
    rig: AsteriskRig, console: ServiceProcess, boss: Browser
) -> None:
    # Queue "consultation" has no members, so a caller stays there until acted on.
    originate_caller(rig, "consultation")
    try:
        caller = wait_for(lambda: waiting_caller(console, "consultation"), 10, "a caller")
        uid = caller["uniqueid"]

        status, body = boss.call(
            "POST", f"/api/queues/consultation/callers/{uid}/priority", {"priority": 7}
        )
        assert status == 200, body
        _, entries = queue_status("consultation")
        assert [(e["Uniqueid"], e["Priority"]) for e in entries] == [(uid, "7")]
        assert (waiting_caller(console, "consultation") or {}).get("priority") == 7

        # Two supervisors click "move" at the same moment: the caller moves once.
        results: list[tuple[int, Any]] = []

        def move() -> None:
            results.append(
                boss.call(
                    "POST",
                    f"/api/queues/consultation/callers/{uid}/move",
                    {"to_queue": "complaints"},
                )
            )

        threads = [threading.Thread(target=move) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        codes = sorted(status for status, _ in results)
        assert codes[0] == 200 and codes[1] in (404, 409), results
        moved = wait_for(lambda: queue_status("complaints")[1], 10, "caller in complaints")
        assert [e["Uniqueid"] for e in moved] == [uid]
        assert queue_status("consultation")[1] == []
        wait_for(lambda: waiting_caller(console, "complaints"), 5, "move in the live model")
        entry = last_audit(boss, action="caller.move")
        assert entry["ok"] and entry["target"] == uid
        assert entry["parameters"]["destination"] == "hotline-select,complaints,1"

        status, body = boss.call(
            "POST", f"/api/queues/complaints/callers/{uid}/withdraw", {"info": "called back later"}
        )
        assert status == 200, body
        wait_for(lambda: not queue_status("complaints")[1], 10, "caller withdrawn")
        wait_for(lambda: waiting_caller(console, "complaints") is None, 5, "model updated")
        status, body = boss.call("POST", f"/api/queues/complaints/callers/{uid}/withdraw", {})
        assert status in (404, 409)
    finally:
        rig.rx("channel request hangup all")


def test_spy_rings_the_supervisor_phone_into_chanspy(
    rig: AsteriskRig, console: ServiceProcess, boss: Browser, agent_phones: Any
) -> None:
    agent = agent_phones(1, first_ext=1001, ring_seconds=0.5)
    supervisor_phone = agent_phones(1, first_ext=1009, ring_seconds=0.5)
    # Earlier tests may have left other members in support: only 1001 may take this call.
    others = only_member_available(rig, "support", "PJSIP/1001")
    try:
        originate_caller(rig, "support")
        # Asterisk sets a member's InCall without always sending an event for it, so the
        # model's device state ("busy") is what says the agent is on the call.
        wait_for(
            lambda: (model_member(console, "support", "PJSIP/1001") or {}).get("state") == "busy",
            20,
            "agent 1001 on a call",
        )
        status, body = boss.call("POST", "/api/agents/PJSIP%2F1001/spy", {"mode": "listen"})
        assert status == 200, body
        assert body["channel"].startswith("PJSIP/1001-")
        wait_for(
            lambda: re.search(r"PJSIP/1009-\S+.*ChanSpy", rig.rx("core show channels")),
            10,
            "ChanSpy running",
        )
        entry = last_audit(boss, action="agent.listen")
        assert entry["ok"] and entry["parameters"]["supervisor_interface"] == "PJSIP/1009"
        status, body = boss.call("POST", "/api/agents/PJSIP%2F1003/spy", {"mode": "barge"})
        assert status == 404
    finally:
        rig.rx("channel request hangup all")
        for interface in others:
            rig.rx(f"queue unpause member {interface} queue support")
    assert agent.stats().answered >= 1 and supervisor_phone.stats().answered >= 1


def only_member_available(rig: AsteriskRig, queue: str, interface: str) -> list[str]:
    """Pause every other unpaused member of ``queue``; return those paused here."""
    rig.rx(f"queue unpause member {interface} queue {queue}")
    paused = []
    for line in rig.rx(f"queue show {queue}").splitlines():
        found = re.search(r"\b((?:PJSIP|Local|SIP)/[^\s)]+)", line)
        if found is None or found.group(1) == interface or "paused" in line.lower():
            continue
        rig.rx(f"queue pause member {found.group(1)} queue {queue} reason spy-test")
        paused.append(found.group(1))
    return paused


def test_audit_filters_by_time_and_pages(console: ServiceProcess, boss: Browser) -> None:
    for reason in ("a", "b", "c"):
        status, body = boss.call(
            "POST",
            member_path("support", "PJSIP/1002", "pause"),
            {"paused": True, "reason": reason},
        )
        assert status == 200, body
    status, body = boss.call(
        "POST", member_path("support", "PJSIP/1002", "pause"), {"paused": False}
    )
    assert status == 200, body
    status, page1 = boss.call("GET", "/api/audit?action=member.pause&limit=2")
    status2, page2 = boss.call("GET", "/api/audit?action=member.pause&limit=2&offset=2")
    assert status == status2 == 200
    assert page1["total"] == page2["total"] >= 3
    newest = [e["parameters"]["reason"] for e in page1["entries"]] + [
        e["parameters"]["reason"] for e in page2["entries"]
    ]
    assert newest[:3] == ["c", "b", "a"]
    newest_at = page1["entries"][0]["at"]
    quoted = urllib.parse.quote(newest_at)
    status, after = boss.call("GET", f"/api/audit?action=member.pause&since={quoted}")
    assert [e["parameters"]["reason"] for e in after["entries"]] == ["c"]
    status, before = boss.call("GET", f"/api/audit?action=member.pause&until={quoted}")
    assert "c" not in [e["parameters"]["reason"] for e in before["entries"]]
    status, body = boss.call("GET", "/api/audit?since=2026-11-23T08:00:00")
    assert (status, body["error"]) == (400, "invalid-query")  # a time needs its zone
    status, body = boss.call("GET", "/api/stats/intervals?minutes=60&step=5")
    assert status == 200 and len(body["intervals"]) == 12
    status, body = boss.call("GET", "/api/stats/intervals?minutes=5&step=10")
    assert (status, body["error"]) == (400, "invalid-query")
