"""The records room on a real Host: its routes' declared access, the overflow port it offers
the routing room, enforced wrap-up pauses started through the room's own spawn, and the user
each answered call is attributed to (through its seats port)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.ami.link import AmiLink
from callcenter.auth.permissions import Permission as P
from callcenter.component import PbxLinks
from callcenter.live import CallEnded, LiveModel, ModelSnapshot
from callcenter.live.restore import RestoredCall
from callcenter.records.query import RECORDS_TABLE
from callcenter.records.room import RecordsRoom
from callcenter.records.writer import OPEN_TABLE
from callcenter.settings import PbxSettings, RecordsSettings
from callcenter.web.http import LOGIN, needs
from tests.records.helpers import Seated, call_record, connected
from tests.rooms import make_host


def rig_link() -> AmiLink:
    settings = PbxSettings(name="rig", username="callcenter", secret=SecretStr("unused"))
    return AmiLink(settings, lambda *_: None)


def test_every_route_declares_its_access_and_answer(engine: AsyncEngine, tmp_path: Path) -> None:
    room = RecordsRoom(
        make_host(engine), RecordsSettings(spool_dir=tmp_path / "spool"), seats=Seated()
    )
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
        make_host(engine),
        RecordsSettings(spool_dir=tmp_path / "spool", batch_interval=0.01),
        seats=Seated(),
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
        seats=Seated(),
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


async def _rows(engine: AsyncEngine, table: Any) -> dict[str, dict[str, Any]]:
    async with engine.connect() as connection:
        result = await connection.execute(select(table))
        return {r["uniqueid"]: dict(r) for r in result.mappings()}


class TakesEveryCall:
    """A live model that takes every call a previous process left open."""

    def restore(self, calls: Iterable[RestoredCall]) -> list[RestoredCall]:
        return []

    def snapshot(self) -> ModelSnapshot:
        return LiveModel().snapshot()


async def test_a_call_is_attributed_to_whoever_sat_at_the_phone_when_it_answered(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    settings = RecordsSettings(spool_dir=tmp_path / "spool", batch_interval=0.01)
    links = PbxLinks([rig_link()])
    seats = Seated({("rig", "PJSIP/1001"): 42})
    room = RecordsRoom(make_host(engine, links=links), settings, seats=seats)
    seen, unseen, other_phone, unanswered, kept_open = (
        call_record(1),
        call_record(2),
        call_record(3, answered_by="PJSIP/1009"),
        call_record(4, outcome="abandoned", answered_by=None, answered_at=None),
        call_record(5),
    )
    await room.start()
    try:
        room.on_change(connected(seen))
        room.on_change(connected(other_phone))
        room.on_change(connected(kept_open))
        await room.writer.flush()
        assert (await _rows(engine, OPEN_TABLE))[kept_open.uniqueid]["answered_by_user"] == 42
        # Agent 42 signs out and 43 sits down: the calls 42 answered stay 42's.
        seats.seated[("rig", "PJSIP/1001")] = 43
        room.on_change(CallEnded(seen))
        # An answer no process saw (a restart, a lost link): whoever sits there when it ends.
        room.on_change(CallEnded(unseen))
        room.on_change(CallEnded(other_phone))
        room.on_change(CallEnded(unanswered))
        await room.writer.flush()
    finally:
        await room.stop()
    records = await _rows(engine, RECORDS_TABLE)
    assert {uniqueid: r["answered_by_user"] for uniqueid, r in records.items()} == {
        seen.uniqueid: 42,
        unseen.uniqueid: 43,
        other_phone.uniqueid: None,
        unanswered.uniqueid: None,
    }

    # The next process takes the open call back with its user, whoever sits there now.
    seats.seated.clear()
    restarted = RecordsRoom(
        make_host(engine, links=links), settings, restore_into=TakesEveryCall(), seats=seats
    )
    await restarted.start()
    try:
        restarted.on_change(CallEnded(kept_open))
        await restarted.writer.flush()
    finally:
        await restarted.stop()
    assert (await _rows(engine, RECORDS_TABLE))[kept_open.uniqueid]["answered_by_user"] == 42
