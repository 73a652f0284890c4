"""A work log drafted from a day of calls made on the real rig, submitted and signed off.

A real `callcenter serve`, the rig's Asterisk, a SIPp phone 1003 that answers and talks,
SIPp callers. The agent signs in at the phone; two callers are answered there; the agent's
log of today shows those two calls and their talk time; the agent submits it and the
supervisor signs it off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from callcenter.rig.asterisk import AsteriskRig
from callcenter.rig.sipp import start_calls
from tests.service_proc import ServiceProcess
from tests.supervisor.helpers import Browser, add_user, queue_status, wait_for

QUEUE = "consultation"
PHONE = "PJSIP/1003"
CALLERS = ("13900000801", "13900000802")


def test_a_log_drafted_from_calls_on_the_rig_is_submitted_and_signed_off(
    rig: AsteriskRig, tmp_path: Path, agent_phones: Any
) -> None:
    service = ServiceProcess(tmp_path, log_level="INFO")
    add_user(service.config, "boss", "admin")
    add_user(service.config, "lead", "supervisor")
    add_user(service.config, "li", "agent")
    service.start()
    agent_phones(1, first_ext=1003, ring_seconds=1, talk_seconds=6)
    boss = Browser(service.base_url).login("boss")
    lead = Browser(service.base_url).login("lead")
    li = Browser(service.base_url).login("li")
    try:
        status, roster = boss.call("GET", "/api/roster")
        assert status == 200, roster
        ids = {a["username"]: a["user_id"] for a in roster["agents"]}
        status, body = boss.call(
            "PUT", f"/api/agents/{ids['li']}/skills", {"skills": {f"queue:{QUEUE}": 5}}
        )
        assert status == 200, body
        status, body = boss.call(
            "POST", "/api/teams", {"name": "first-line", "queues": [QUEUE], "members": [ids["li"]]}
        )
        assert status == 201, body
        status, body = li.call("POST", "/api/agent/sign-in", {"interface": PHONE})
        assert status == 200, body
        status, before = li.call("GET", "/api/worklog/day")
        assert status == 200, before

        for number in CALLERS:
            caller = start_calls(1, dial=QUEUE, caller_numbers=[number], hold_seconds=12)
            caller.wait(timeout=40)

        def drafted() -> dict[str, Any] | None:
            status, log = li.call("GET", "/api/worklog/day", None)
            assert status == 200, log
            calls = log["figures"]["calls"] - before["figures"]["calls"]
            return log if calls >= len(CALLERS) else None

        log = wait_for(drafted, 30, "the two calls in the agent's log draft")
        assert log["day"] == before["day"] and log["state"] == "draft"
        talk = log["figures"]["talk_seconds"] - before["figures"]["talk_seconds"]
        assert talk >= 2 * 3, log["figures"]

        status, submitted = li.call(
            "POST",
            "/api/worklog/day/submit",
            {
                "day": log["day"],
                "version": log["version"],
                "summary": "两通来电，均已解答。",  # noqa: RUF001
                "entries": [{"kind": "note", "category": "other", "text": "rig day"}],
            },
        )
        assert status == 200, submitted
        assert submitted["state"] == "submitted" and submitted["on_time"] is True
        assert submitted["figures"]["calls"] >= len(CALLERS)

        status, review = lead.call("GET", "/api/worklog/review")
        assert status == 200, review
        assert [r["id"] for r in review["logs"]] == [submitted["id"]]
        status, signed = lead.call(
            "POST", f"/api/worklogs/{submitted['id']}/sign", {"version": submitted["version"]}
        )
        assert status == 200, signed
        assert signed["state"] == "signed"
        status, mine = li.call("GET", "/api/worklog/day", None)
        assert (mine["state"], mine["figures"]["calls"]) == (
            "signed",
            submitted["figures"]["calls"],
        )
    finally:
        try:
            li.call("POST", "/api/agent/sign-out", {})
            if PHONE in queue_status(QUEUE)[0]:
                rig.rx(f"queue remove member {PHONE} from {QUEUE}")
        finally:
            service.stop()
