"""The voicemail room on real parts: its FastAGI route served by a real ``FastAgiServer`` and
asked the way res_agi asks (tests/ivr/agi_client.py), a real SQLite database migrated to head,
the real work-items room (its items, its pools, its rules for who handles an item) and agents
room behind the real HTTP stack, and the PBX's spool as app_voicemail lays it out, written by
the test (tests/voicemail/spoolfiles.py).

People and teams are those of tests/work/test_items_api.py: team "front" serves support
(leader Lin; Wang, Li), team "back" serves billing (leader Mei; Zhao); Boss is a supervisor.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.auth.sessions import COOKIE_NAME
from callcenter.ivr.agi import FastAgiServer
from callcenter.settings import VoicemailSettings, WorkSettings
from callcenter.store.db import create_engine
from callcenter.store.migrate import upgrade_to_head
from callcenter.voicemail.collect import Collector
from callcenter.voicemail.models import VoicemailMessage
from callcenter.voicemail.ports import VoicemailFiling
from callcenter.voicemail.room import VoicemailRoom
from callcenter.web.app import create_app
from callcenter.work.models import WorkItemRow
from callcenter.work.room import WorkRoom
from tests.ivr.agi_client import AgiCall, call_route
from tests.voicemail.spoolfiles import write_message
from tests.work.test_items_api import ORIGIN, Centre, _add_people, _add_teams

PBX = "rig"
CHANNEL = "PJSIP/callers-0000002a"
ROUTE = "voicemail-left"


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'callcenter.db'}")
    await upgrade_to_head(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


@dataclass
class Desk:
    centre: Centre
    room: VoicemailRoom
    agi: FastAgiServer
    spool: Path

    @property
    def inbox(self) -> Path:
        return self.spool / "callcenter" / "support" / "INBOX"

    async def left(self, *args: str) -> AgiCall:
        """The exits' hangup handler: voicemail-left PBX, queue, channel, linkedid, caller,
        VMSTATUS."""
        return await call_route(self.agi.bound_port, ROUTE, list(args), channel=CHANNEL)

    async def get(self, who: str, path: str) -> tuple[int, str, bytes]:
        headers = {"Origin": ORIGIN, "Cookie": f"{COOKIE_NAME}={self.centre.tokens[who]}"}
        async with self.centre.client.get(path, headers=headers) as response:
            return response.status, response.content_type, await response.read()

    async def rows(self) -> list[VoicemailMessage]:
        async with AsyncSession(self.centre.engine) as session:
            return list((await session.scalars(select(VoicemailMessage))).all())

    async def items(self) -> int:
        async with AsyncSession(self.centre.engine) as session:
            return int(await session.scalar(select(func.count()).select_from(WorkItemRow)) or 0)


@asynccontextmanager
async def open_desk(
    engine: AsyncEngine, spool: Path, settings: VoicemailSettings | None = None
) -> AsyncIterator[Desk]:
    users = await _add_people(engine)
    teams = await _add_teams(engine, users)
    centre = Centre(engine, users, teams, WorkSettings())
    room = VoicemailRoom(
        centre.host,
        settings or VoicemailSettings(),
        spools={PBX: spool},
        work=centre.work,
        audit=centre.audit_log,
        clock=centre.clock,
    )
    await centre.agents.start()
    agi = FastAgiServer("127.0.0.1", 0, dict(room.agi_routes()), 0.5)
    await agi.start()
    try:
        for who, user in users.items():
            centre.tokens[who] = await centre.auth.sessions.create(user)
        app = create_app(
            [centre.auth, centre.agents, centre.work, room],
            centre.auth.authenticate,
            public_origins=[ORIGIN],
        )
        async with TestClient(TestServer(app)) as client:
            centre.client = client
            yield Desk(centre, room, agi, spool)
    finally:
        await agi.stop()
        await room.stop()
        await centre.agents.stop()
        await centre.host.tasks.cancel_all()


@pytest.fixture
async def desk(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Desk]:
    async with open_desk(engine, tmp_path / "spool") as desk:
        yield desk


async def test_a_message_left_becomes_a_callback_item_holding_the_recording(desk: Desk) -> None:
    write_message(desk.inbox, 0, channel="PJSIP/callers-00000029", msg_id="1796220700-00000000")
    txt = write_message(desk.inbox, 1, channel=CHANNEL, msg_id="1796220785-00000001", seconds=3)
    wav = txt.with_suffix(".wav").read_bytes()

    call = await desk.left(
        PBX, "support", CHANNEL, "callcenter-rig-1796220780.4", "7001", "SUCCESS"
    )
    assert call.variables == {"VOICEMAIL_RESULT": "ok"}

    (row,) = await desk.rows()
    assert (row.pbx, row.queue, row.mailbox, row.msg_id) == (
        PBX,
        "support",
        "support",
        "1796220785-00000001",
    )
    assert (row.linkedid, row.caller, row.duration_seconds) == (
        "callcenter-rig-1796220780.4",
        "7001",
        3,
    )
    assert row.audio == wav and row.work_item_id is not None
    # The message left the spool; the other caller's stays.
    assert sorted(p.name for p in desk.inbox.iterdir()) == ["msg0000.txt", "msg0000.wav"]

    # The work item: a callback to the caller, in the pool of the team serving the queue.
    item = await desk.centre.item(row.work_item_id)
    assert (item["kind"], item["source"], item["status"], item["category"]) == (
        "callback",
        "voicemail",
        "open",
        "callback",
    )
    assert (item["phone"], item["queue"], item["owner_id"]) == ("7001", "support", None)
    assert item["team_id"] == desk.centre.teams["front"]
    url = f"/api/voicemail/{row.id}/audio"
    assert item["voicemail"] == {"id": row.id, "duration_seconds": 3, "audio_url": url}
    (created,) = item["timeline"]
    assert (created["kind"], created["actor"]) == ("created", "voicemail")
    assert "voicemail of 3 s in queue support" in created["text"] and url in created["text"]

    # Those who handle the item hear it: a supervisor, the team's leader, a member of its pool.
    for who in ("boss", "lin", "wang"):
        status, kind, body = await desk.get(who, url)
        assert (status, kind, body) == (200, "audio/wav", wav), who
    # Another team's agent and leader do not (they may still read the item by its ticket).
    for who in ("zhao", "mei"):
        status, _, body = await desk.get(who, url)
        assert status == 403 and b"not-your-voicemail" in body, who
    status, _, body = await desk.get("boss", f"/api/voicemail/{row.id + 100}/audio")
    assert status == 404 and b"no-such-voicemail" in body
    heard = [(e.username, e.ok) for e in await desk.centre.audit("voicemail.listen")]
    assert heard == [("boss", True), ("lin", True), ("wang", True), ("zhao", False), ("mei", False)]


async def test_the_same_message_twice_is_one_row_and_one_item(desk: Desk) -> None:
    args = (PBX, "support", CHANNEL, "link-1", "7001", "SUCCESS")
    write_message(desk.inbox, 0, channel=CHANNEL, msg_id="1796220785-00000007")
    assert (await desk.left(*args)).variables == {"VOICEMAIL_RESULT": "ok"}
    # The hangup handler ran again (a retry), nothing left in the spool: nothing to do.
    assert (await desk.left(*args)).variables == {"VOICEMAIL_RESULT": "none"}
    # The same message found again (a copy restored into the spool): still one of each.
    write_message(desk.inbox, 0, channel=CHANNEL, msg_id="1796220785-00000007")
    assert (await desk.left(*args)).variables == {"VOICEMAIL_RESULT": "ok"}
    assert len(await desk.rows()) == 1 and await desk.items() == 1
    assert not list(desk.inbox.iterdir())


@pytest.mark.parametrize("status", ["FAILED", "USEREXIT", ""])
async def test_no_recording_no_item(desk: Desk, status: str) -> None:
    # VMSTATUS other than SUCCESS: the caller hung up before the beep, or too short a message.
    write_message(desk.inbox, 0, channel=CHANNEL, msg_id="1-1")
    call = await desk.left(PBX, "support", CHANNEL, "link-1", "7001", status)
    assert call.variables == {"VOICEMAIL_RESULT": "none"}
    assert await desk.rows() == [] and await desk.items() == 0


async def test_success_but_no_message_of_the_channel_stores_nothing(desk: Desk) -> None:
    write_message(desk.inbox, 0, channel="PJSIP/callers-00000001", msg_id="1-1")
    call = await desk.left(PBX, "support", CHANNEL, "link-1", "7001", "SUCCESS")
    assert call.variables == {"VOICEMAIL_RESULT": "none"}
    call = await desk.left(PBX, "../../etc", CHANNEL, "link-1", "7001", "SUCCESS")
    assert call.variables == {"VOICEMAIL_RESULT": "failed"}
    call = await desk.left("other-pbx", "support", CHANNEL, "link-1", "7001", "SUCCESS")
    assert call.variables == {"VOICEMAIL_RESULT": "failed"}
    assert await desk.rows() == [] and await desk.items() == 0


async def test_a_caller_without_a_number_leaves_an_inquiry(desk: Desk) -> None:
    write_message(desk.inbox, 0, channel=CHANNEL, msg_id="5-5", callerid='"Anonymous" <anonymous>')
    call = await desk.left(PBX, "support", CHANNEL, "link-1", "anonymous", "SUCCESS")
    assert call.variables == {"VOICEMAIL_RESULT": "ok"}
    (row,) = await desk.rows()
    assert row.work_item_id is not None
    item = await desk.centre.item(row.work_item_id)
    assert (item["kind"], item["phone"]) == ("inquiry", None)


class FlakyDesk:
    """The work room, down for the first ``failures`` filings (its database, say)."""

    def __init__(self, work: WorkRoom, failures: int) -> None:
        self.work = work
        self.failures = failures

    async def file_voicemail(self, filing: VoicemailFiling) -> int:
        if self.failures:
            self.failures -= 1
            raise OSError("the work room is not there")
        return await self.work.file_voicemail(filing)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.work, name)


async def test_lost_calls_and_failed_filings_are_taken_by_the_sweep(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    settings = VoicemailSettings(sweep_after=60)
    async with open_desk(engine, tmp_path / "spool", settings) as desk:
        collector = Collector(
            engine, settings, {PBX: desk.spool}, FlakyDesk(desk.centre.work, failures=1)
        )
        # A message whose FastAGI call never came (the service was down), an old one...
        old = write_message(desk.inbox, 0, channel="PJSIP/callers-00000005", msg_id="10-1")
        an_hour_ago = time.time() - 3600
        os.utime(old, (an_hour_ago, an_hour_ago))
        # ...a fresh one: its call may still come, the sweep leaves it...
        write_message(desk.inbox, 1, channel=CHANNEL, msg_id="20-2")
        # ...and one in another queue's mailbox, whose filing fails once.
        other = desk.spool / "callcenter" / "billing" / "INBOX"
        old_billing = write_message(
            other, 0, channel="PJSIP/callers-00000006", msg_id="30-3", callerid="13800138000"
        )
        os.utime(old_billing, (an_hour_ago, an_hour_ago))
        (desk.spool / "callcenter" / "not a queue").mkdir()

        assert await collector.sweep() == 1
        # The billing message is stored but not filed: it stays in the spool.
        assert [p.name for p in sorted(other.iterdir())] == ["msg0000.txt", "msg0000.wav"]
        assert await collector.sweep() == 0  # stored before; now filed and removed
        assert not list(other.iterdir())
        assert sorted(p.name for p in desk.inbox.iterdir()) == ["msg0001.txt", "msg0001.wav"]

        rows = {row.queue: row for row in await desk.rows()}
        assert set(rows) == {"support", "billing"}
        assert (rows["support"].caller, rows["support"].linkedid) == ("7001", None)
        billing = rows["billing"]
        assert billing.caller == "13800138000" and billing.work_item_id is not None
        item = await desk.centre.item(billing.work_item_id)
        assert item["team_id"] == desk.centre.teams["back"] and item["phone"] == "13800138000"
        assert await desk.items() == 2


async def test_a_message_too_large_stays_in_the_spool(engine: AsyncEngine, tmp_path: Path) -> None:
    settings = VoicemailSettings(max_message_bytes=64 * 1024)
    async with open_desk(engine, tmp_path / "spool", settings) as desk:
        txt = write_message(desk.inbox, 0, channel=CHANNEL, msg_id="1-1", seconds=5)
        assert len(txt.with_suffix(".wav").read_bytes()) > 64 * 1024
        call = await desk.left(PBX, "support", CHANNEL, "link-1", "7001", "SUCCESS")
        assert call.variables == {"VOICEMAIL_RESULT": "failed"}
        assert await desk.rows() == [] and txt.exists()


async def test_an_item_without_a_voicemail_says_so(desk: Desk) -> None:
    item = await desk.centre.create("wang", note="no voicemail here")
    assert item["voicemail"] is None
