"""The live model against the real rig: Asterisk restarts, the live feed of a real SIP call,
actions the PBX accepts or refuses, and the periodic resync healing a stuck member."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from callcenter.ami import actions
from callcenter.ami.errors import AmiRefused
from callcenter.ami.link import AmiLink
from callcenter.auth.users import add_user
from callcenter.rig import AMI_SECRET, AMI_USERNAME, AsteriskRig
from callcenter.rig.sipp import AgentPhones, start_calls
from callcenter.service import Service
from callcenter.settings import (
    DatabaseSettings,
    FastAgiSettings,
    HttpSettings,
    LiveSettings,
    PbxSettings,
    RecordsSettings,
    Settings,
)
from tests.fixtures_pg import free_port
from tests.service_proc import ServiceProcess

RIG_PBX = PbxSettings(
    name="rig",
    username=AMI_USERNAME,
    secret=SecretStr(AMI_SECRET),
    ping_interval=2,
    action_timeout=2,
    reconnect_max_delay=1,
)


class Feed:
    """Every message of one ``/ws/live`` connection, collected in the background."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    async def open(self, service: ServiceProcess) -> None:
        # The feed needs a supervisor's session: the service's watcher logs in.
        cookie = service.log_in_watcher()
        self._session = aiohttp.ClientSession(headers={"Cookie": f"cc_session={cookie}"})
        url = service.base_url.replace("http", "ws") + "/ws/live"
        socket = await self._session.ws_connect(url)
        self._task = asyncio.ensure_future(self._read(socket))
        await self.wait_for(lambda m: m["type"] == "snapshot", "snapshot")

    async def _read(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        async for message in socket:
            if message.type is aiohttp.WSMsgType.TEXT:
                self.messages.append(json.loads(message.data))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()

    def of(self, kind: str, uniqueid: str | None = None) -> list[dict[str, Any]]:
        found = [m for m in self.messages if m["type"] == kind]
        if uniqueid is not None:
            found = [m for m in found if _uniqueid(m) == uniqueid]
        return found

    async def wait_for(
        self, condition: Callable[[dict[str, Any]], bool], what: str, timeout: float = 20
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages:
                if condition(message):
                    return message
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"no {what} on /ws/live within {timeout} s; got "
            f"{Counter(m['type'] for m in self.messages)}"
        )


def _uniqueid(message: dict[str, Any]) -> str | None:
    if message["type"] == "CallEnded":
        return str(message["record"]["uniqueid"])
    if message["type"] == "CallerJoined":
        return str(message["caller"]["uniqueid"])
    return message.get("uniqueid")


@pytest.fixture
async def feed() -> AsyncIterator[Feed]:
    collector = Feed()
    yield collector
    await collector.close()


@pytest.fixture
def service(rig: AsteriskRig, tmp_path: Path) -> Iterator[ServiceProcess]:
    process = ServiceProcess(tmp_path)
    process.start()
    try:
        yield process
    finally:
        process.stop()


async def poll(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await asyncio.to_thread(condition)
        if result:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"not {what} within {timeout} s")


def queue_show_channels(rig: AsteriskRig, queue: str) -> list[str]:
    """The callers Asterisk itself lists for ``queue`` (``queue show``), in position order."""
    return re.findall(r"^\s+\d+\. (\S+) \(wait:", rig.rx(f"queue show {queue}"), re.MULTILINE)


def api_channels(service: ServiceProcess, queue: str) -> list[str]:
    status, body = service.get_json(f"/api/queues/{queue}")
    assert status == 200, body
    return [c["channel"] for c in sorted(body["callers"], key=lambda c: c["position"])]


def hang_up(rig: AsteriskRig, channels: list[str]) -> None:
    for channel in channels:
        with contextlib.suppress(Exception):
            rig.rx(f"channel request hangup {channel}")


# --------------------------------------------------------------------------- restart


async def test_asterisk_restart_closes_dead_calls_once_and_matches_queuestatus(
    rig: AsteriskRig, service: ServiceProcess, feed: Feed
) -> None:
    queue = "complaints"  # no members: callers just wait
    await feed.open(service)
    for _ in range(2):
        rig.rx(f"channel originate Local/{queue}@local-callers application Wait 120")
    old = await poll(
        lambda: api_channels(service, queue) if len(api_channels(service, queue)) == 2 else None,
        10,
        "two callers waiting",
    )
    _, body = service.get_json(f"/api/queues/{queue}")
    old_ids = {c["uniqueid"] for c in body["callers"]}
    assert old == queue_show_channels(rig, queue)

    links_before = len(feed.of("PbxLink"))
    rig.stop()
    try:
        await feed.wait_for(
            lambda m: m["type"] == "PbxLink" and m["state"] != "connected", "link down", 10
        )
    finally:
        rig.start()  # from this (main) thread: the rig dies with the thread that starts it
    rig.rx(f"channel originate Local/{queue}@local-callers application Wait 120")
    up = await feed.wait_for(
        lambda m: (
            m["type"] == "PbxLink"
            and m["state"] == "connected"
            and feed.messages.index(m) >= links_before
        ),
        "reconnect",
        15,
    )
    reconnected = time.monotonic()
    assert up["pbx"] == "rig"
    new: list[str] = []
    try:

        def in_sync() -> bool:
            pbx_view = queue_show_channels(rig, queue)
            new[:] = pbx_view
            return len(pbx_view) == 1 and api_channels(service, queue) == pbx_view

        await poll(in_sync, 5, "the API matching queue show")
        await feed.wait_for(
            lambda m: len([u for u in old_ids if feed.of("CallEnded", u)]) == 2,
            "the dead calls closed",
            5,
        )
        assert time.monotonic() - reconnected <= 5.0
        for uniqueid in old_ids:
            (ended,) = feed.of("CallEnded", uniqueid)  # exactly once
            assert ended["record"]["outcome"] == "unknown"
            assert ended["record"]["queue"] == queue
        _, body = service.get_json(f"/api/queues/{queue}")
        (caller,) = body["callers"]
        assert caller["uniqueid"] not in old_ids and body["callers_waiting"] == 1
    finally:
        hang_up(rig, new)
    new_id = caller["uniqueid"]
    await feed.wait_for(lambda m: bool(feed.of("CallEnded", new_id)), "the new call ended", 10)
    # A few more seconds: a late resync or a duplicate Hangup must not close anything twice.
    await asyncio.sleep(1.5)
    ended_ids = Counter(_uniqueid(m) for m in feed.of("CallEnded"))
    assert all(count == 1 for count in ended_ids.values()), ended_ids
    assert ended_ids.keys() >= old_ids | {new_id}


# --------------------------------------------------------------------------- live feed


@pytest.fixture
def only_phone_1001(rig: AsteriskRig) -> Iterator[None]:
    rig.rx("queue pause member PJSIP/1002 queue support reason test")
    try:
        yield
    finally:
        rig.rx("queue unpause member PJSIP/1002 queue support")


async def test_live_feed_pushes_a_real_sip_call(
    rig: AsteriskRig,
    service: ServiceProcess,
    feed: Feed,
    only_phone_1001: None,
    agent_phones: Callable[..., AgentPhones],
) -> None:
    agent_phones(1, first_ext=1001, ring_seconds=0.5)
    await feed.open(service)
    number = "13800770001"
    batch = start_calls(1, dial="support", caller_numbers=[number], hold_seconds=3.0)
    try:
        joined = await feed.wait_for(
            lambda m: m["type"] == "CallerJoined" and m["caller"]["caller_num"] == number,
            "CallerJoined",
        )
        uniqueid = joined["caller"]["uniqueid"]
        await feed.wait_for(lambda m: bool(feed.of("CallEnded", uniqueid)), "CallEnded", 20)
    finally:
        result = await batch.wait_async(20)
    assert result.ok, result.errors
    kinds = [
        m["type"]
        for m in feed.messages
        if _uniqueid(m) == uniqueid
        and m["type"] in ("CallerJoined", "CallRinging", "CallConnected", "CallEnded")
    ]
    assert kinds == ["CallerJoined", "CallRinging", "CallConnected", "CallEnded"]
    (ringing,) = feed.of("CallRinging", uniqueid)
    assert (ringing["agent_interface"], ringing["caller_num"]) == ("PJSIP/1001", number)
    (ended,) = feed.of("CallEnded", uniqueid)
    record = ended["record"]
    assert (record["outcome"], record["answered_by"], record["completed_by"]) == (
        "answered",
        "PJSIP/1001",
        "caller",
    )
    callid = {f[1] for f in rig.queue_log_lines() if f[4] == "ENTERQUEUE" and f[6] == number}
    assert callid == {uniqueid}  # the feed's ids are Asterisk's queue_log callids


# --------------------------------------------------------------------------- actions


@pytest.fixture
async def link(rig: AsteriskRig) -> AsyncIterator[AmiLink]:
    ami = AmiLink(RIG_PBX, lambda *_: None)
    task = asyncio.ensure_future(ami.run())
    try:
        await poll(lambda: ami.connected, 10, "logged in")
        yield ami
    finally:
        await ami.stop()
        await task


async def test_queue_add_resolves_and_refusals_carry_the_pbx_message(
    rig: AsteriskRig, link: AmiLink
) -> None:
    interface = "Local/agent9@agents/n"
    try:
        # panoramisk trap 1: as_list guessing made QueueAdd never resolve.
        await asyncio.wait_for(
            actions.queue_add(link, "overflow", interface, member_name="Agent 9", penalty=2), 5
        )
        assert "Agent 9 (Local/agent9@agents/n" in rig.rx("queue show overflow")
        with pytest.raises(AmiRefused) as again:
            await actions.queue_add(link, "overflow", interface)
        assert "Already there" in again.value.message
        with pytest.raises(AmiRefused) as static:
            await actions.queue_remove(link, "support", "PJSIP/1001")
        assert "not dynamic" in static.value.message
        with pytest.raises(AmiRefused) as unknown:
            await actions.queue_pause(link, "PJSIP/9999", True, queue="support")
        assert unknown.value.pbx == "rig" and "QueuePause" in unknown.value.message
        assert link.connected
    finally:
        await actions.queue_remove(link, "overflow", interface)
    assert "Agent 9" not in rig.rx("queue show overflow")


# --------------------------------------------------------------------------- self-healing


def in_process_settings(tmp_path: Path, resync_interval: float) -> Settings:
    return Settings(
        pbx=[RIG_PBX],
        database=DatabaseSettings(url=SecretStr(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")),
        http=HttpSettings(port=free_port(), metrics_port=free_port()),
        fastagi=FastAgiSettings(port=free_port()),
        live=LiveSettings(resync_interval=resync_interval),
        records=RecordsSettings(spool_dir=tmp_path / "spool"),
    )


def member(body: dict[str, Any], interface: str) -> dict[str, Any]:
    return next(m for m in body["members"] if m["interface"] == interface)


async def test_periodic_resync_heals_a_stuck_paused_member(
    rig: AsteriskRig,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    service = Service(in_process_settings(tmp_path, resync_interval=1.0))
    base = f"http://127.0.0.1:{service.settings.http.port}"
    caplog.set_level(logging.INFO, logger="callcenter.feed.ingest")
    await service.start()
    try:
        # The live views need a login: the in-process service gets a supervisor.
        await add_user(service.engine, "lead", "Watcher-Quilt-Harbour-58", role="supervisor")
        async with aiohttp.ClientSession(
            headers={"Origin": base}, cookie_jar=aiohttp.CookieJar(unsafe=True)
        ) as http:
            login = {"username": "lead", "password": "Watcher-Quilt-Harbour-58"}
            async with http.post(base + "/api/login", json=login) as response:
                assert response.status == 200, await response.text()

            async def get(path: str) -> Any:
                async with http.get(base + path) as response:
                    assert response.status == 200, await response.text()
                    return (
                        await response.json()
                        if "json" in response.content_type
                        else await response.text()
                    )

            async def resynced() -> bool:
                async with http.get(base + "/api/queues/support") as response:
                    return response.status == 200 and any(
                        m["interface"] == "PJSIP/1001" for m in (await response.json())["members"]
                    )

            deadline = time.monotonic() + 10
            while not await resynced():  # 404 until the first resync has seen the queue
                assert time.monotonic() < deadline, "support never resynced"
                await asyncio.sleep(0.1)
            assert not member(await get("/api/queues/support"), "PJSIP/1001")["paused"]
            # The PBX said nothing, but the model now believes 1001 is paused: the state a
            # lost or misread event leaves behind.
            service.ingest.on_ami_event(
                "rig",
                {
                    "Event": "QueueMemberPause",
                    "Queue": "support",
                    "MemberName": "Agent 1001",
                    "Interface": "PJSIP/1001",
                    "Paused": "1",
                    "PausedReason": "stuck",
                },
                datetime.now(UTC),
            )
            stuck = member(await get("/api/queues/support"), "PJSIP/1001")
            assert stuck["paused"] and stuck["state"] == "paused"
            deadline = time.monotonic() + 5
            while member(await get("/api/queues/support"), "PJSIP/1001")["paused"]:
                assert time.monotonic() < deadline, "the periodic resync did not heal it"
                await asyncio.sleep(0.1)
            metrics_url = f"http://127.0.0.1:{service.settings.http.metrics_port}/metrics"
            async with http.get(metrics_url) as response:
                metrics = await response.text()
        fixed = [
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("callcenter_live_corrections_total{")
            and 'kind="member_fixed"' in line
            and 'pbx="rig"' in line
        ]
        assert fixed and fixed[0] >= 1, metrics
        assert re.search(r"PBX rig: corrected member_fixed rig/support/PJSIP/1001", caplog.text)
    finally:
        await service.stop()
