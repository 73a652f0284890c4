"""The records room on a real Host: its routes' declared access, the overflow port it offers
the routing room, and enforced wrap-up pauses started through the room's own spawn."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.ami.link import AmiLink
from callcenter.auth.permissions import Permission as P
from callcenter.component import PbxLinks
from callcenter.live import CallEnded
from callcenter.records.query import RECORDS_TABLE
from callcenter.records.room import RecordsRoom
from callcenter.settings import PbxSettings, RecordsSettings
from callcenter.web.http import LOGIN, needs
from tests.records.helpers import call_record
from tests.rooms import make_host


def rig_link() -> AmiLink:
    settings = PbxSettings(name="rig", username="callcenter", secret=SecretStr("unused"))
    return AmiLink(settings, lambda *_: None)


def test_every_route_declares_its_access_and_answer(engine: AsyncEngine, tmp_path: Path) -> None:
    room = RecordsRoom(make_host(engine), RecordsSettings(spool_dir=tmp_path / "spool"))
    routes = {route.key: route for route in room.routes()}
    read = needs(P.CALLS_READ_OWN, P.CALLS_READ_ALL)
    assert {key: route.access for key, route in routes.items()} == {
        "GET /api/calls": read,
        "GET /api/calls.csv": read,
        "GET /api/calls/{id}": read,
        "POST /api/calls/{id}/wrapup": needs(P.CALLS_WRAP_UP),
        "GET /api/dispositions": LOGIN,
    }
    for key, route in routes.items():
        assert route.response is not None or route.content_type == "text/csv; charset=utf-8", key


async def test_mark_overflowed_marks_the_latest_unanswered_record(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    room = RecordsRoom(
        make_host(engine), RecordsSettings(spool_dir=tmp_path / "spool", batch_interval=0.01)
    )
    await room.start()
    try:
        room.on_change(
            CallEnded(
                call_record(
                    1,
                    outcome="timeout",
                    answered_by=None,
                    answered_by_name=None,
                    answered_at=None,
                    talk_seconds=None,
                    completed_by=None,
                )
            )
        )
        room.mark_overflowed("rig", "1700000000.1", "sales")
        await room.writer.flush()
    finally:
        await room.stop()
    async with engine.connect() as connection:
        row = (await connection.execute(select(RECORDS_TABLE))).mappings().one()
    assert (row["outcome"], row["overflow_queue"]) == ("overflowed", "sales")


async def test_enforced_wrap_up_pauses_run_as_the_rooms_tasks(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    host = make_host(engine, links=PbxLinks([rig_link()]))
    room = RecordsRoom(
        host,
        RecordsSettings(
            spool_dir=tmp_path / "spool", batch_interval=0.01, enforced_wrapup={"support": 30}
        ),
    )
    await room.start()
    group = host.tasks.group("records")
    try:
        assert group.names() == ["records:wrapup-ticks"]
        room.on_change(CallEnded(call_record(1)))
        assert "records:wrapup-pause-rig" in group.names()
        room.wrapup_submitted("rig", "PJSIP/1001")
        assert "records:wrapup-unpause-rig" in group.names()
        for _ in range(50):
            if group.names() == ["records:wrapup-ticks"]:
                break
            await asyncio.sleep(0.01)
        # The PBX is not connected: the unpause waits for it to come (back) up.
        assert group.names() == ["records:wrapup-ticks"]
        assert list(room._unpause_pending) == [("rig", "PJSIP/1001")]
    finally:
        await room.stop()
        await group.cancel()
    assert len(group) == 0
