"""The agent API and socket of a real `callcenter serve` on the real rig: pausing drives the
PBX itself; a pop that rings unanswered, or whose caller hangs up, is withdrawn on the agent's
WebSocket; and a wrap-up with a follow-up date is on the caller's next card at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from callcenter.rig.asterisk import AsteriskRig
from callcenter.rig.sipp import AgentPhones, start_calls
from tests.auth.test_api import add_user
from tests.records.test_service_api import call, logged_in
from tests.service_proc import ServiceProcess

AGENT = "PJSIP/1001"
# A queue of its own: phone 1001 alone, ringing 3 s per try, so a ring-no-answer, the retry
# and the caller hanging up during that second ring fit in a few seconds.
POP_QUEUE = "cc-pop"
RING_SECONDS = 3
_SECTION = f"""
; --- added by tests/screenpop (removed when the test ends)
[{POP_QUEUE}](queue-common)
timeout = {RING_SECONDS}
retry = 1
member => {AGENT},0,Agent 1001
"""
CALLER = "13700990077"


def member_line(rig: AsteriskRig, queue: str, interface: str) -> str:
    for line in rig.rx(f"queue show {queue}").splitlines():
        if interface in line:
            return line
    raise AssertionError(
        f"{interface} is not a member of {queue}:\n{rig.rx(f'queue show {queue}')}"
    )


async def eventually(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} within {timeout} s")
        await asyncio.sleep(0.1)


async def my_members(session: aiohttp.ClientSession) -> list[dict[str, Any]]:
    status, state = await call(session, "GET", "/api/agent/state")
    assert status == 200, state
    return list(state["members"])


async def test_pause_and_ready_drive_the_pbx_and_refusals_change_nothing(
    rig: AsteriskRig,
    tmp_path: Path,
) -> None:
    service = ServiceProcess(tmp_path, log_level="INFO")
    add_user(service, "wang", "copper-meadow-lantern", "--interface", AGENT)
    add_user(service, "zhao", "copper-meadow-lantern", "--interface", "PJSIP/1009")  # in no queue
    add_user(service, "boss", "copper-meadow-lantern", "--role", "supervisor")  # no phone
    service.start()
    sessions: list[aiohttp.ClientSession] = []
    try:
        wang = await logged_in(service, "wang")
        sessions.append(wang)
        members = await eventually(lambda: my_members(wang), 15, "Agent 1001 in the model")
        assert [(m["pbx"], m["interface"]) for m in members] == [("rig", AGENT)]

        status, body = await call(wang, "POST", "/api/agent/not-ready", json={"code": "training"})
        assert status == 200, body
        assert "paused:training" in member_line(rig, "support", AGENT)

        async def paused_in_model() -> bool:
            return all(
                m["paused"] and m["paused_reason"] == "training" for m in await my_members(wang)
            )

        await eventually(paused_in_model, 10, "the pause seen back from the PBX")

        # A code that would add AMI headers of its own is refused before the PBX, and so is
        # a code nobody defined.
        status, body = await call(
            wang, "POST", "/api/agent/not-ready", json={"code": "x\r\nAction: Originate"}
        )
        assert status == 400, body
        status, body = await call(wang, "POST", "/api/agent/not-ready", json={"code": "nap"})
        assert (status, body["error"]) == (404, "no-such-code"), body
        assert "paused:training" in member_line(rig, "support", AGENT)

        status, body = await call(wang, "POST", "/api/agent/ready", json={})
        assert status == 200, body
        assert "paused" not in member_line(rig, "support", AGENT)

        async def ready_in_model() -> bool:
            return not any(m["paused"] for m in await my_members(wang))

        await eventually(ready_in_model, 10, "the unpause seen back from the PBX")

        zhao, boss = await logged_in(service, "zhao"), await logged_in(service, "boss")
        sessions += [zhao, boss]
        for nowhere in (zhao, boss):  # a phone in no queue, and no phone at all
            status, body = await call(
                nowhere, "POST", "/api/agent/not-ready", json={"code": "break"}
            )
            assert (status, body["error"]) == (409, "not-signed-in"), body
        async with aiohttp.ClientSession(
            service.base_url, headers={"Origin": service.base_url}
        ) as nobody:
            status, body = await call(
                nobody, "POST", "/api/agent/not-ready", json={"code": "break"}
            )
            assert status == 401, body
        assert "paused" not in member_line(rig, "support", AGENT)
    finally:
        for session in sessions:
            await session.close()
        service.stop()
        rig.rx(f"queue unpause member {AGENT}")  # the rig is shared: leave 1001 ready


@contextmanager
def pop_queue(rig: AsteriskRig) -> Iterator[str]:
    config = rig.etc_dir / "queues.conf"
    original = config.read_text(encoding="utf-8")
    config.write_text(original + _SECTION, encoding="utf-8")
    try:
        rig.rx("queue reload all")
        yield POP_QUEUE
    finally:
        config.write_text(original, encoding="utf-8")
        rig.rx("queue reload all")


async def pop_messages(
    socket: aiohttp.ClientWebSocketResponse, count: int, timeout: float
) -> list[dict[str, Any]]:
    """The next `count` messages about pops (member state changes are skipped)."""
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(found) < count:
        try:
            message = await asyncio.wait_for(
                socket.receive_json(), max(deadline - time.monotonic(), 0.01)
            )
        except TimeoutError:
            raise AssertionError(f"only {found} within {timeout} s") from None
        if message["type"] != "member":
            found.append(message)
    return found


async def test_an_unanswered_pop_is_withdrawn_and_a_follow_up_is_on_the_next_card(
    rig: AsteriskRig,
    tmp_path: Path,
    agent_phones: Callable[..., AgentPhones],
) -> None:
    service = ServiceProcess(tmp_path, log_level="INFO")
    add_user(service, "wang", "copper-meadow-lantern", "--interface", AGENT)
    due = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=1)).date()  # [ivr] zone
    with pop_queue(rig) as queue:
        answering = agent_phones(1, first_ext=1001, ring_seconds=0.3)
        service.start()
        wang = await logged_in(service, "wang")
        try:
            # A first call, answered and wrapped up with a follow-up date.
            result = start_calls(
                1, dial=queue, caller_numbers=[CALLER], hold_seconds=2, work_dir=tmp_path / "first"
            ).wait(20)
            assert result.ok and answering.stats().answered == 1, result.errors

            async def my_call() -> list[dict[str, Any]]:
                status, listed = await call(wang, "GET", f"/api/calls?caller={CALLER}")
                assert status == 200, listed
                return list(listed["calls"])

            [first] = await eventually(my_call, 10, "the first call stored")
            assert first["answered_by"] == AGENT
            status, body = await call(
                wang,
                "POST",
                f"/api/calls/{first['id']}/wrapup",
                json={
                    "disposition": "repair-booked",
                    "notes": "周五上门",
                    "follow_up_due": due.isoformat(),
                },
            )
            assert status == 201, body

            # The phone now rings without answering: a pop, its withdrawal at the ring
            # timeout, the retry's pop, and its withdrawal when the caller hangs up.
            answering.stop()
            agent_phones(1, first_ext=1001, answer=False)
            async with wang.ws_connect("/ws/agent") as socket:
                hello = await socket.receive_json(timeout=5)
                assert hello["type"] == "hello" and hello["pops"] == []
                batch = start_calls(
                    1,
                    dial=queue,
                    caller_numbers=[CALLER],
                    hold_seconds=RING_SECONDS + 2.5,
                    work_dir=tmp_path / "second",
                )
                try:
                    messages = await pop_messages(socket, 4, 20)
                finally:
                    result = batch.wait(20)
            assert result.completed == 1, result.errors
        finally:
            await wang.close()
            service.stop()

    kinds = [(m["type"], m.get("reason")) for m in messages]
    assert kinds == [
        ("pop", None),
        ("pop_withdrawn", "no-answer"),
        ("pop", None),
        ("pop_withdrawn", "caller-left"),
    ], messages
    card, retried = messages[0]["pop"], messages[2]["pop"]
    assert messages[1]["pop_id"] == card["pop_id"] == retried["pop_id"]
    assert messages[3]["pop_id"] == retried["pop_id"]
    assert card["interface"] == AGENT and card["queue"] == POP_QUEUE
    assert card["caller"]["number"] == CALLER and card["known"] is False
    # The wrap-up made on this replica a moment ago: the disposition on the last call, and
    # the follow-up as the caller's open item (by number: an unknown caller).
    assert card["calls"][0]["disposition"] == "repair-booked"
    assert card["calls"][0]["answered_by"] == "Agent 1001"  # the name, not the interface
    assert card["calls"][0]["disposition_label"]["zh"] == "已预约维修"
    [item] = card["open_items"]
    assert item["call_id"] == first["id"] and item["due"] == due.isoformat()
    assert item["overdue"] is False and item["notes"] == "周五上门"
    assert item["answered_by"] == "Agent 1001" and item["wrapped_up_by"] == "wang"
    assert datetime.fromisoformat(item["call_at"]) < datetime.now(UTC)
