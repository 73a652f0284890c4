"""A work log drafted from a day of calls made on the real rig, submitted and signed off.

A real `callcenter serve`, the rig's Asterisk, a SIPp phone 1003 that answers and talks six
seconds, SIPp callers. The agent signs in at the phone; two callers are answered there; the
agent's log of today shows exactly those two calls and their talk time (within 2 s of what
the phone held); the agent wraps one up and takes a short break through the API, and the
log shows the disposition and the break; the agent submits it and the supervisor signs it
off.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from callcenter.rig.asterisk import AsteriskRig
from callcenter.rig.sipp import start_calls
from tests.service_proc import ServiceProcess
from tests.supervisor.helpers import Browser, add_users, queue_status, wait_for

QUEUE = "consultation"
PHONE = "PJSIP/1003"
CALLERS = ("13900000801", "13900000802")
TALK_SECONDS = 6  # the agent's phone hangs up after this long
BREAK_SECONDS = 3


def test_a_log_drafted_from_calls_on_the_rig_is_submitted_and_signed_off(
    rig: AsteriskRig, tmp_path: Path, agent_phones: Any
) -> None:
    service = ServiceProcess(tmp_path, log_level="INFO")
    add_users(
        service.config,
        ("boss", "admin"),
        ("lead", "supervisor"),
        ("li", "agent"),
    )
    service.start()
    agent_phones(1, first_ext=1003, ring_seconds=1, talk_seconds=TALK_SECONDS)
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
        assert log["figures"]["calls"] - before["figures"]["calls"] == len(CALLERS)
        talk = log["figures"]["talk_seconds"] - before["figures"]["talk_seconds"]
        assert abs(talk - len(CALLERS) * TALK_SECONDS) <= 2, log["figures"]

        # A wrap-up of the first call, through the API: its disposition is counted.
        status, page = li.call("GET", "/api/calls", None)
        assert status == 200, page
        (first,) = [c for c in page["calls"] if c["caller_number"] == CALLERS[0]]
        status, body = li.call(
            "POST", f"/api/calls/{first['id']}/wrapup", {"disposition": "resolved"}
        )
        assert status == 201, body
        # A short break: the pause time by reason.
        status, body = li.call("POST", "/api/agent/not-ready", {"code": "break"})
        assert status == 200, body
        time.sleep(BREAK_SECONDS)
        status, body = li.call("POST", "/api/agent/ready", {})
        assert status == 200, body

        before_break = {p["reason"]: p["seconds"] for p in before["figures"]["pauses"]}.get(
            "break", 0
        )

        def wrapped() -> dict[str, Any] | None:
            status, log = li.call("GET", "/api/worklog/day", None)
            assert status == 200, log
            pauses = {p["reason"]: p["seconds"] for p in log["figures"]["pauses"]}
            took = pauses.get("break", 0) - before_break
            return log if log["figures"]["dispositions"] and took >= BREAK_SECONDS - 1 else None

        log = wait_for(wrapped, 15, "the wrap-up and the break in the log draft")
        counted = {d["code"]: d["count"] for d in log["figures"]["dispositions"]}
        before_counted = {d["code"]: d["count"] for d in before["figures"]["dispositions"]}
        assert counted.get("resolved", 0) - before_counted.get("resolved", 0) == 1, counted
        took = {p["reason"]: p["seconds"] for p in log["figures"]["pauses"]}["break"]
        assert BREAK_SECONDS - 1 <= took - before_break <= BREAK_SECONDS + 2, log["figures"]

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
        assert submitted["figures"]["calls"] == log["figures"]["calls"]

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
