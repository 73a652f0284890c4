"""Agents sign in at any phone of the real rig, and the PBX does what their skills say.

A real `callcenter serve`, the rig's Asterisk, SIPp phones 1003 and 1004 that answer and talk,
SIPp callers. Queue `consultation` has no members in queues.conf: whoever answers there is
there because they signed in.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from callcenter.rig.asterisk import AsteriskRig
from callcenter.rig.sipp import start_calls
from tests.service_proc import ServiceProcess
from tests.supervisor.helpers import (
    Browser,
    add_users,
    member_path,
    queue_status,
    wait_for,
)

QUEUE = "consultation"
OTHER_QUEUE = "aftersales"
LI_PHONE, WU_PHONE = "PJSIP/1003", "PJSIP/1004"


def roster_ids(boss: Browser) -> dict[str, int]:
    status, roster = boss.call("GET", "/api/roster")
    assert status == 200, roster
    return {agent["username"]: agent["user_id"] for agent in roster["agents"]}


def members() -> dict[str, dict[str, str]]:
    return queue_status(QUEUE)[0]


def calls_of(boss: Browser, caller: str) -> list[dict[str, Any]]:
    status, page = boss.call("GET", f"/api/calls?queue={QUEUE}&caller={caller}")
    assert status == 200, page
    return list(page["calls"])


def test_agents_sign_in_at_phones_ring_by_skill_pause_with_codes_and_survive_a_restart(
    rig: AsteriskRig, tmp_path: Path, agent_phones: Any
) -> None:
    service = ServiceProcess(tmp_path, log_level="INFO")
    add_users(
        service.config,
        ("boss", "admin"),
        ("li", "agent"),
        ("wu", "agent"),
        ("lead", "team_leader"),
    )
    service.start()
    agent_phones(2, first_ext=1003, ring_seconds=1, talk_seconds=8)
    boss = Browser(service.base_url).login("boss")
    li = Browser(service.base_url).login("li")
    wu = Browser(service.base_url).login("wu")
    lead = Browser(service.base_url).login("lead")
    try:
        ids = roster_ids(boss)
        # Li is the expert of the queue, Wu backs her up.
        for name, level in (("li", 5), ("wu", 2)):
            status, body = boss.call(
                "PUT", f"/api/agents/{ids[name]}/skills", {"skills": {f"queue:{QUEUE}": level}}
            )
            assert status == 200, body
        status, body = boss.call(
            "POST",
            "/api/teams",
            {
                "name": "first-line",
                "queues": [QUEUE],
                "leaders": [ids["lead"]],
                "members": [ids["li"]],
            },
        )
        assert status == 201, body
        status, body = boss.call(
            "POST",
            "/api/teams",
            {"name": "after-sales", "queues": [OTHER_QUEUE], "members": [ids["wu"]]},
        )
        assert status == 201, body

        # A phone the PBX does not know: refused with the PBX's word, nothing half-done.
        status, body = li.call("POST", "/api/agent/sign-in", {"interface": "PJSIP/7777"})
        assert (status, body["error"]) == (409, "no-such-phone"), body
        assert "PJSIP/7777" not in members()

        status, body = li.call("POST", "/api/agent/sign-in", {"interface": LI_PHONE})
        assert status == 200, body
        assert body["signed_in"]["interface"] == LI_PHONE
        # Two agents on one phone, one agent on two phones: refused, clearly.
        status, body = wu.call("POST", "/api/agent/sign-in", {"interface": LI_PHONE})
        assert (status, body["error"]) == (409, "phone-taken"), body
        assert "li" in body["message"]
        status, body = li.call("POST", "/api/agent/sign-in", {"interface": WU_PHONE})
        assert (status, body["error"]) == (409, "signed-in-elsewhere"), body
        status, body = wu.call("POST", "/api/agent/sign-in", {"interface": WU_PHONE})
        assert status == 200, body

        on_pbx = members()
        assert (on_pbx[LI_PHONE]["Penalty"], on_pbx[LI_PHONE]["Name"]) == ("0", "li")
        assert (on_pbx[WU_PHONE]["Penalty"], on_pbx[WU_PHONE]["Name"]) == ("3", "wu")

        # The first caller rings the expert only; the second, while she talks, the backup.
        first = start_calls(1, dial=QUEUE, caller_numbers=["13900000301"], hold_seconds=14)
        wait_for(lambda: members()[LI_PHONE].get("InCall") == "1", 20, "li on the first call")
        second = start_calls(1, dial=QUEUE, caller_numbers=["13900000302"], hold_seconds=12)
        first.wait(timeout=40)
        second.wait(timeout=40)
        one = wait_for(lambda: calls_of(boss, "13900000301"), 20, "the first call's record")
        two = wait_for(lambda: calls_of(boss, "13900000302"), 20, "the second call's record")
        assert (one[0]["answered_by"], one[0]["agents_rung"]) == (LI_PHONE, [LI_PHONE])
        assert (two[0]["answered_by"], two[0]["agents_rung"]) == (WU_PHONE, [WU_PHONE])

        # A not-ready code pauses the member on the PBX with the code as its reason.
        status, body = li.call("POST", "/api/agent/not-ready", {"code": "lunch"})
        assert status == 200, body
        paused = members()[LI_PHONE]
        assert (paused["Paused"], paused["PausedReason"]) == ("1", "lunch")

        def lunch_in_history() -> list[dict[str, Any]]:
            status, body = boss.call("GET", f"/api/agents/{ids['li']}/states")
            assert status == 200, body
            return [s for s in body["states"] if (s["state"], s["code"]) == ("not-ready", "lunch")]

        wait_for(lunch_in_history, 10, "lunch in li's state history")
        status, history = boss.call("GET", f"/api/agents/{ids['li']}/states")
        kinds = [s["state"] for s in reversed(history["states"])]
        assert kinds[:1] == ["ready"] and "on-call" in kinds, kinds

        # A team leader steers their own team only.
        status, body = lead.call(
            "POST", member_path(OTHER_QUEUE, WU_PHONE, "pause"), {"paused": True, "reason": "x"}
        )
        assert (status, body["error"]) == (403, "outside-your-teams"), body
        status, body = lead.call(
            "PUT", f"/api/agents/{ids['wu']}/skills", {"skills": {f"queue:{QUEUE}": 5}}
        )
        assert (status, body["error"]) == (403, "outside-your-teams"), body
        assert members()[WU_PHONE]["Penalty"] == "3"

        # Asterisk restarts: the signed-in agents are back, Li still at lunch.
        rig.stop()
        rig.start()

        def restored() -> bool:
            found = members()
            return (
                found.get(LI_PHONE, {}).get("PausedReason") == "lunch"
                and found.get(WU_PHONE, {}).get("Penalty") == "3"
            )

        wait_for(restored, 40, "signed-in agents back in their queue after the restart")

        # Sign-out (and a forced one) removes the members.
        status, body = li.call("POST", "/api/agent/sign-out", {})
        assert status == 200 and body["signed_in"] is None, body
        status, body = boss.call("POST", f"/api/agents/{ids['wu']}/sign-out", {"reason": "end"})
        assert status == 200, body
        wait_for(lambda: not members(), 10, "both phones out of the queue")
        time.sleep(0.5)
        status, body = boss.call("GET", f"/api/agents/{ids['wu']}/states")
        assert body["states"][0]["state"] == "signed-out", body
    finally:
        try:
            for phone in (LI_PHONE, WU_PHONE):
                rig.rx(f"queue remove member {phone} from {QUEUE}")
        finally:
            service.stop()
