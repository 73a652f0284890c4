"""The calls API of a real `callcenter serve` with real logins, after real calls on the rig:
an agent sees only their own calls, a supervisor all, CSV with the session, the customer on
the record, and submitting the wrap-up releases the enforced wrap-up pause at once."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from callcenter.rig.asterisk import AsteriskRig
from callcenter.rig.sipp import AgentPhones, default_caller_numbers, start_calls
from tests.auth.test_api import add_user
from tests.records.rigcalls import logged_calls, wait_for
from tests.service_proc import ServiceProcess

QUEUE = "support"  # static members PJSIP/1001 and PJSIP/1002
AGENTS = ("PJSIP/1001", "PJSIP/1002")
WRAPUP_SECONDS = 300  # far longer than the test: only the submission can end it


def paused_for_wrapup(rig: AsteriskRig, interface: str) -> bool:
    for line in rig.rx(f"queue show {QUEUE}").splitlines():
        if interface in line:
            return "(paused:wrap-up" in line or ("(paused" in line and "wrap-up" in line)
    raise AssertionError(f"{interface} not a member of {QUEUE}")


async def call(
    session: aiohttp.ClientSession, method: str, path: str, **kwargs: Any
) -> tuple[int, Any]:
    async with session.request(method, path, **kwargs) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def logged_in(service: ServiceProcess, username: str) -> aiohttp.ClientSession:
    # unsafe=True: the jar keeps cookies of an IP address such as 127.0.0.1.
    session = aiohttp.ClientSession(
        service.base_url,
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        headers={"Origin": service.base_url},
    )
    status, _ = await call(
        session,
        "POST",
        "/api/login",
        json={"username": username, "password": "copper-meadow-lantern"},
    )
    assert status == 200
    return session


async def test_agents_see_their_calls_and_the_wrap_up_releases_their_pause(
    rig: AsteriskRig,
    tmp_path: Path,
    agent_phones: Callable[..., AgentPhones],
) -> None:
    service = ServiceProcess(
        tmp_path,
        log_level="INFO",
        extra_toml=(f'[records]\nenforced_wrapup = {{ "{QUEUE}" = {WRAPUP_SECONDS} }}\n'),
    )
    add_user(service, "wang", "copper-meadow-lantern", "--interface", AGENTS[0])
    add_user(service, "li", "copper-meadow-lantern", "--interface", AGENTS[1])
    add_user(service, "boss", "copper-meadow-lantern", "--role", "supervisor")
    numbers = default_caller_numbers(2)
    agent_phones(2, first_ext=1001, ring_seconds=0.3)
    service.start()
    sessions: list[aiohttp.ClientSession] = []
    try:
        boss = await logged_in(service, "boss")
        sessions.append(boss)
        status, customer = await call(
            boss, "POST", "/api/customers", json={"name": "王先生", "phones": [numbers[0]]}
        )
        assert status == 201, customer
        # Two calls at once: each agent answers one (ringinuse=no).
        result = start_calls(
            2,
            dial=QUEUE,
            caller_numbers=numbers,
            rate_per_s=4,
            hold_seconds=3.0,
            work_dir=tmp_path / "callers",
        ).wait(30)
        assert result.completed == 2, result.errors
        logged = logged_calls(rig, set(numbers))
        answered = {c.agent: c for c in logged.values()}
        assert sorted(a or "" for a in answered) == ["Agent 1001", "Agent 1002"], logged
        wait_for(
            lambda: all(paused_for_wrapup(rig, a) for a in AGENTS),
            15,
            "both agents paused for wrap-up",
        )

        wang, li = await logged_in(service, "wang"), await logged_in(service, "li")
        sessions += [wang, li]
        mine: list[dict[str, Any]] = []
        for _ in range(50):  # the writer's batch is due within a fraction of a second
            status, everything = await call(boss, "GET", f"/api/calls?queue={QUEUE}")
            assert status == 200, everything
            mine = [c for c in everything["calls"] if c["caller_number"] in numbers]
            if len(mine) == 2:
                break
            await asyncio.sleep(0.1)
        assert len(mine) == 2, everything
        by_agent = {c["answered_by"]: c for c in mine}
        assert sorted(by_agent) == list(AGENTS)
        first_caller = next(c for c in mine if c["caller_number"] == numbers[0])
        assert first_caller["customer_id"] == customer["id"]
        other = next(c for c in mine if c["caller_number"] == numbers[1])
        assert other["customer_id"] is None

        status, own = await call(wang, "GET", "/api/calls")
        assert status == 200
        assert {c["answered_by"] for c in own["calls"]} == {AGENTS[0]}
        assert by_agent[AGENTS[0]]["id"] in [c["id"] for c in own["calls"]]
        status, body = await call(wang, "GET", f"/api/calls?agent={AGENTS[1]}")
        assert status == 403 and body["error"] == "not-your-calls"
        status, body = await call(wang, "GET", f"/api/calls/{by_agent[AGENTS[1]]['id']}")
        assert status == 403
        status, text = await call(wang, "GET", "/api/calls.csv")
        assert status == 200
        exported = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
        assert exported and {r["answered_by"] for r in exported} == {AGENTS[0]}
        status, text = await call(boss, "GET", f"/api/calls.csv?queue={QUEUE}")
        assert status == 200
        assert {
            r["caller_number"] for r in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        } >= set(numbers)
        async with aiohttp.ClientSession(
            service.base_url, headers={"Origin": service.base_url}
        ) as nobody:
            for path in ("/api/calls", "/api/calls.csv", f"/api/calls/{by_agent[AGENTS[0]]['id']}"):
                status, body = await call(nobody, "GET", path)
                assert status == 401, (path, body)

        # Wang's wrap-up releases Wang at once; Li stays paused until Li's is in.
        status, body = await call(
            wang,
            "POST",
            f"/api/calls/{by_agent[AGENTS[0]]['id']}/wrapup",
            json={"disposition": "resolved", "notes": "已解答"},
        )
        assert status == 201, body
        wait_for(lambda: not paused_for_wrapup(rig, AGENTS[0]), 5, "Agent 1001 released")
        assert paused_for_wrapup(rig, AGENTS[1])
        status, body = await call(
            li,
            "POST",
            f"/api/calls/{by_agent[AGENTS[0]]['id']}/wrapup",
            json={"disposition": "resolved"},
        )
        assert status == 403
        status, body = await call(
            li,
            "POST",
            f"/api/calls/{by_agent[AGENTS[1]]['id']}/wrapup",
            json={"disposition": "other"},
        )
        assert status == 201, body
        wait_for(lambda: not paused_for_wrapup(rig, AGENTS[1]), 5, "Agent 1002 released")
    finally:
        for session in sessions:
            await session.close()
        service.stop()
        for agent in AGENTS:  # the rig is shared: no member stays paused after this test
            rig.rx(f"queue unpause member {agent} queue {QUEUE}")
