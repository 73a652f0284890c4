"""Calls in progress are durable: a restarted service closes those that ended meanwhile,
exactly once; and the record names the customer the screen-pop index knows."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.ami.link import AmiLink
from callcenter.component import PbxLinks
from callcenter.live import Change, LiveModel
from callcenter.records.query import RECORDS_TABLE
from callcenter.records.room import RecordsRoom
from callcenter.records.rows import OpenOp, RecordOp, record_row, restart_record_row
from callcenter.records.spool import Spool
from callcenter.records.writer import OPEN_TABLE, RecordWriter
from callcenter.settings import PbxSettings, RecordsSettings
from tests.live import amitrace as ami
from tests.records.helpers import Seated, call_record
from tests.rooms import make_host

Q = "support"
ALICE = ami.Agent("PJSIP/8001", "Alice")


async def rows_of(engine: AsyncEngine, table: Any) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        return [
            dict(r)
            for r in (
                await connection.execute(select(table).order_by(table.c.joined_at))
            ).mappings()
        ]


def link(name: str) -> AmiLink:
    """A configured PBX's link (never connected here)."""
    settings = PbxSettings(name=name, username="callcenter", secret=SecretStr("unused"))
    return AmiLink(settings, lambda *_: None)


def room(
    engine: AsyncEngine, spool: Path, model: LiveModel, links: PbxLinks[AmiLink]
) -> RecordsRoom:
    return RecordsRoom(
        make_host(engine, live=model, links=links),
        RecordsSettings(spool_dir=spool, batch_interval=0.01),
        restore_into=model,
        seats=Seated(),
    )


def feed(target: RecordsRoom, changes: list[Change]) -> list[Change]:
    for change in changes:
        target.on_change(change)
    return changes


async def test_calls_that_ended_while_the_service_was_down_are_closed_once(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    waiting, talked, talking, done = (
        ami.Caller(f"1741000000.{n}", f"13800000{n:03d}") for n in range(1, 5)
    )
    pbx_a = link("pbx-a")
    first_model = LiveModel()
    pbx = ami.Pbx(first_model)
    first = room(engine, tmp_path / "spool", first_model, PbxLinks([pbx_a]))
    await first.start()
    feed(
        first,
        pbx.send_all(
            ami.member("QueueMemberAdded", pbx.at(0), Q, ALICE),
            ami.join(pbx.at(1), Q, waiting, 1, 1),
            ami.join(pbx.at(2), Q, talked, 2, 2),
            ami.leave(pbx.at(6), Q, talked, 2, 1),
            ami.connect(pbx.at(6), Q, talked, ALICE, ALICE.leg(), 4, 1),
            ami.join(pbx.at(7), Q, talking, 2, 2),
            ami.leave(pbx.at(9), Q, talking, 2, 1),
            ami.connect(pbx.at(9), Q, talking, ALICE, ALICE.leg(), 2, 1),
            ami.join(pbx.at(10), Q, done, 2, 2),
            ami.hangup(pbx.at(12), done),
        ),
    )
    await first.writer.flush()
    # The writer task is what kill -9 stops: every open call is in open_calls by now.
    opened = await rows_of(engine, OPEN_TABLE)
    assert [(r["uniqueid"], r["answered_by"]) for r in opened] == [
        (waiting.uniqueid, None),
        (talked.uniqueid, "PJSIP/8001"),
        (talking.uniqueid, "PJSIP/8001"),
    ]
    assert opened[1]["wait_seconds"] == 4.0 and opened[1]["agents_rung"] == ["PJSIP/8001"]
    assert [r["uniqueid"] for r in await rows_of(engine, RECORDS_TABLE)] == [done.uniqueid]
    await first.writer.stop()

    # A new process: the PBX still has `talking`; the others ended while nobody listened.
    second_model = LiveModel()
    pbx = ami.Pbx(second_model)
    second = room(engine, tmp_path / "spool", second_model, PbxLinks([pbx_a]))
    await second.start()
    try:
        snapshot = (
            ami.queue_params(Q),
            ami.queue_member(Q, ALICE, status=2),
            ami.core_show_channel(talking, application="AppQueue"),
        )
        feed(second, pbx.resync(*snapshot, now=60))
        await second.on_pbx_ready(pbx_a)
        feed(second, pbx.resync(*snapshot, now=70))  # a later resync adds nothing
        feed(
            second,
            pbx.send_all(
                ami.complete(pbx.at(80), Q, talking, ALICE, ALICE.leg(), 2, 71, "agent"),
                ami.hangup(pbx.at(80), talking),
            ),
        )
        await second.writer.flush()
    finally:
        await second.stop()
    records = {r["uniqueid"]: r for r in await rows_of(engine, RECORDS_TABLE)}
    assert set(records) == {waiting.uniqueid, talked.uniqueid, talking.uniqueid, done.uniqueid}
    closed = records[waiting.uniqueid]
    assert (closed["outcome"], closed["evidence"], closed["joined_at"]) == (
        "unknown",
        "service_restart",
        pbx.at(1),
    )
    answered = records[talked.uniqueid]
    assert (
        answered["outcome"],
        answered["evidence"],
        answered["answered_by_name"],
        answered["wait_seconds"],
        answered["talk_seconds"],
        answered["joined_at"],
    ) == ("answered", "service_restart", "Alice", 4.0, None, pbx.at(2))
    ended_later = records[talking.uniqueid]
    assert (
        ended_later["outcome"],
        ended_later["evidence"],
        ended_later["talk_seconds"],
        ended_later["joined_at"],
    ) == ("answered", "agent_complete", 71.0, pbx.at(7))
    assert await rows_of(engine, OPEN_TABLE) == []

    # A third start finds nothing left to close.
    third_model = LiveModel()
    third = room(engine, tmp_path / "spool", third_model, PbxLinks([pbx_a]))
    await third.start()
    await third.stop()
    assert third_model.snapshot().calls == ()


async def test_a_replayed_open_never_resurrects_a_recorded_call(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    record = call_record(1)
    row = record_row(record)
    opened = {name: row[name] for name in row if name in {c.name for c in OPEN_TABLE.c}}
    writer = RecordWriter(engine, Spool(tmp_path / "spool"), batch_interval=0.01)
    await writer.start()
    try:
        writer.submit(OpenOp(opened))
        writer.submit(RecordOp(row))
        await writer.flush()
        assert await rows_of(engine, OPEN_TABLE) == []
        # kill -9 between commit and segment removal: the open comes again, alone.
        writer.submit(OpenOp(opened))
        await writer.flush()
    finally:
        await writer.stop()
    assert len(await rows_of(engine, OPEN_TABLE)) == 1
    model = LiveModel()
    restarted = RecordsRoom(
        make_host(engine, live=model, links=PbxLinks([link("rig")])),
        RecordsSettings(spool_dir=tmp_path / "spool"),
        restore_into=model,
        seats=Seated(),
    )
    await restarted.start()
    await restarted.stop()
    assert model.snapshot().calls == ()  # its record exists: not reopened
    assert await rows_of(engine, OPEN_TABLE) == []
    assert len(await rows_of(engine, RECORDS_TABLE)) == 1


async def test_open_calls_are_restored_for_the_pbxs_linked_by_start(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    open_columns = {c.name for c in OPEN_TABLE.c}
    writer = RecordWriter(engine, Spool(tmp_path / "spool"), batch_interval=0.01)
    await writer.start()
    try:
        for n, pbx_name in ((1, "pbx-a"), (2, "pbx-gone")):
            row = record_row(call_record(n, pbx=pbx_name))
            writer.submit(OpenOp({name: row[name] for name in row if name in open_columns}))
        await writer.flush()
    finally:
        await writer.stop()
    model = LiveModel()
    links: PbxLinks[AmiLink] = PbxLinks()
    restarted = room(engine, tmp_path / "spool", model, links)
    # The service adds its links after building the rooms, before starting them.
    links.add(link("pbx-a"))
    await restarted.start()
    await restarted.stop()
    assert [(c.pbx, c.uniqueid) for c in model.snapshot().calls] == [("pbx-a", "1700000000.1")]
    # The call of a PBX no longer configured is left as it is, not closed.
    assert sorted(r["pbx"] for r in await rows_of(engine, OPEN_TABLE)) == ["pbx-a", "pbx-gone"]


def test_a_restart_record_has_the_columns_of_a_live_one() -> None:
    row = record_row(call_record(1))
    assert set(restart_record_row(row, row["ended_at"])) == set(row)


class Customers:
    """The screen-pop index's answer, as the service wires it (CustomerLookup)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str | None, str | None]] = []

    def customer_id(self, caller_number: str | None, ivr: Mapping[str, str]) -> int | None:
        self.asked.append((caller_number, ivr.get("CC_ACCOUNT")))
        if ivr.get("CC_ACCOUNT") == "A-7":
            return 7
        return {"13800000001": 42}.get(caller_number or "")


async def test_the_record_names_the_customer_the_index_knows(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    customers = Customers()
    writer = RecordWriter(
        engine, Spool(tmp_path / "spool"), batch_interval=0.01, customers=customers
    )
    await writer.start()
    try:
        writer.submit(RecordOp(record_row(call_record(1, caller_num="13800000001"))))
        writer.submit(
            RecordOp(
                record_row(call_record(2, caller_num="13800000002", ivr={"CC_ACCOUNT": "A-7"}))
            )
        )
        writer.submit(RecordOp(record_row(call_record(3, caller_num="13900000003"))))
        await writer.flush()
    finally:
        await writer.stop()
    rows = await rows_of(engine, RECORDS_TABLE)
    assert [r["customer_id"] for r in rows] == [42, 7, None]
    assert customers.asked == [("13800000001", None), ("13800000002", "A-7"), ("13900000003", None)]
