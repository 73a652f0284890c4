"""Desired state: what supervisors set is back on the PBX after Asterisk restarts."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import aiohttp

from callcenter.rig.asterisk import AsteriskRig
from tests.service_proc import ServiceProcess
from tests.supervisor.helpers import (
    Browser,
    add_user,
    add_users,
    member_path,
    queue_status,
    wait_for,
)


class FeedListener:
    """Collects /ws/live messages in a background thread."""

    def __init__(self, url: str, session: str) -> None:
        self.url = url
        self.session = session
        self.messages: list[dict[str, Any]] = []
        self.connected = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def start(self) -> None:
        self._thread.start()
        assert self.connected.wait(10), "live feed did not connect"

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread.is_alive():  # not when the test failed before starting it
            self._thread.join(10)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in list(self.messages) if m.get("type") == kind]

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with (
            aiohttp.ClientSession(headers={"Cookie": f"cc_session={self.session}"}) as session,
            session.ws_connect(self.url) as socket,
        ):
            self.connected.set()
            stopper = asyncio.ensure_future(self._stop.wait())
            while not self._stop.is_set():
                reader = asyncio.ensure_future(socket.receive())
                done, _ = await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if reader not in done:
                    reader.cancel()
                    break
                message = reader.result()
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                self.messages.append(json.loads(message.data))


def test_a_supervisors_pause_and_member_come_back_after_a_pbx_restart(
    rig: AsteriskRig, tmp_path: Path
) -> None:
    service = ServiceProcess(tmp_path, log_level="INFO")
    add_user(service.config, "lead", "supervisor")
    service.start()
    feed = FeedListener(
        service.base_url.replace("http", "ws") + "/ws/live", service.log_in_watcher()
    )
    boss = Browser(service.base_url).login("lead")
    try:
        status, body = boss.call(
            "POST",
            member_path("support", "PJSIP/1002", "pause"),
            {"paused": True, "reason": "质检 QA review"},
        )
        assert status == 200, body
        status, body = boss.call(
            "POST",
            "/api/queues/overflow/members",
            {"interface": "PJSIP/1005", "name": "Agent 1005", "penalty": 3},
        )
        assert status == 200, body
        feed.start()

        rig.stop()
        rig.start()

        def restored() -> bool:
            support, _ = queue_status("support")
            overflow, _ = queue_status("overflow")
            member = support.get("PJSIP/1002", {})
            return (member.get("Paused"), member.get("PausedReason")) == (
                "1",
                "质检 QA review",
            ) and overflow.get("PJSIP/1005", {}).get("Penalty") == "3"

        wait_for(restored, 30, "pause and member restored on the PBX")
        applied = wait_for(lambda: feed.of_type("DesiredStateApplied"), 10, "feed message")
        assert applied[-1]["pbx"] == "rig" and applied[-1]["failed"] == []
        assert sorted(applied[-1]["applied"]) == [
            "add PJSIP/1005 in overflow (penalty 3)",
            "pause PJSIP/1002 in support (质检 QA review)",
        ]
        assert "PBX rig: desired state re-applied: 2 action(s)" in service.log_text()
        status, audit = boss.call("GET", "/api/audit?action=desired.reapply")
        assert audit["total"] == 1 and audit["entries"][0]["user"] == "system"
    finally:
        # The service is stopped whatever fails here: one left running would re-apply its
        # desired state to every later test's PBX.
        try:
            feed.stop()
            # Leave the PBX as the other tests expect it.
            boss.call("POST", member_path("support", "PJSIP/1002", "pause"), {"paused": False})
            boss.call("DELETE", member_path("overflow", "PJSIP/1005"))
        finally:
            service.stop()
    assert queue_status("support")[0]["PJSIP/1002"]["Paused"] == "0"
    assert "PJSIP/1005" not in queue_status("overflow")[0]


def test_a_pause_ended_outside_the_console_is_not_brought_back_by_a_pbx_restart(
    rig: AsteriskRig, tmp_path: Path
) -> None:
    service = ServiceProcess(tmp_path, log_level="INFO")
    add_users(
        service.config,
        ("lead", "supervisor"),
        ("agent1002", "agent", "PJSIP/1002"),
    )
    service.start()
    wait_for(
        lambda: "PBX rig: desired state" in service.log_text(), 15, "desired state checked at start"
    )
    feed = FeedListener(
        service.base_url.replace("http", "ws") + "/ws/live", service.log_in_watcher()
    )
    boss = Browser(service.base_url).login("lead")
    agent = Browser(service.base_url).login("agent1002")
    try:
        # A static member paused by the supervisor, unpaused by the agent in the agent API;
        # a member the supervisor added paused, unpaused on the PBX itself (CLI / phone).
        status, body = boss.call(
            "POST",
            member_path("support", "PJSIP/1002", "pause"),
            {"paused": True, "reason": "质检 QA review"},
        )
        assert status == 200, body
        status, body = boss.call(
            "POST",
            "/api/queues/overflow/members",
            {
                "interface": "PJSIP/1005",
                "name": "Agent 1005",
                "penalty": 3,
                "paused": True,
                "reason": "培训 training",
            },
        )
        assert status == 200, body
        status, body = agent.call("POST", "/api/agent/ready", {})
        assert status == 200, body
        rig.rx("queue unpause member PJSIP/1005 queue overflow")
        wait_for(
            lambda: service.log_text().count("changed outside the console") >= 2,
            10,
            "both unpauses followed by the desired state",
        )
        assert queue_status("support")[0]["PJSIP/1002"]["Paused"] == "0"
        feed.start()

        rig.stop()
        rig.start()

        applied = wait_for(
            lambda: feed.of_type("DesiredStateApplied"),
            30,
            "desired state re-applied after the restart",
        )
        assert applied[-1]["applied"] == ["add PJSIP/1005 in overflow (penalty 3)"]
        assert applied[-1]["failed"] == []
        support, overflow = queue_status("support")[0], queue_status("overflow")[0]
        assert support["PJSIP/1002"]["Paused"] == "0"
        assert (overflow["PJSIP/1005"]["Paused"], overflow["PJSIP/1005"]["Penalty"]) == ("0", "3")
        # The restart's own transient state (members gone, unpaused) was not followed.
        assert (
            "PJSIP/1005 in overflow changed outside the console (QueueMemberRemoved)"
            not in service.log_text()
        )
    finally:
        try:
            feed.stop()
            rig.rx("queue unpause member PJSIP/1002 queue support")
            boss.call("DELETE", member_path("overflow", "PJSIP/1005"))
        finally:
            service.stop()
    assert "PJSIP/1005" not in queue_status("overflow")[0]
