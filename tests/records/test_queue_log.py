"""Asterisk's queue_log read back into records, for calls that ended while the service was away."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.records.backfill import Backfilled, QueueLogBackfill, read_tail
from callcenter.records.query import RECORDS_TABLE
from callcenter.records.queue_log import read_visits, visit_row
from callcenter.records.rows import RecordOp
from callcenter.records.spool import Spool
from callcenter.records.writer import RecordWriter

TRACES = Path(__file__).parent.parent / "fixtures" / "ami"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def lines(name: str) -> list[str]:
    return (TRACES / f"{name}.queue_log").read_text(encoding="utf-8").splitlines()


def at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def test_a_recorded_rig_log_gives_each_callers_fate() -> None:
    visits = read_visits(
        lines("mixed") + lines("abandoned") + lines("timed_out") + lines("ring_no_answer"), EPOCH
    )
    fates = {v.caller: (v.outcome, v.agent, v.wait_seconds) for v in visits}
    assert fates == {
        "13800000601": ("answered", "Agent 1001", 1.0),
        "13800000602": ("answered", "Agent 1002", 1.0),
        "13800000603": ("answered", "Agent 1001", 7.0),
        "13800000604": ("abandoned", None, 2.0),
        "13800000605": ("answered", "Agent 1002", 6.0),
        "13800000606": ("abandoned", None, 3.0),
        "13800000202": ("abandoned", None, 3.0),
        "13800000201": ("abandoned", None, 2.0),
        "13800000301": ("timeout", None, 3.0),
        "13800000401": ("answered", "Agent 1006", 17.0),
    }
    rung = next(v for v in visits if v.caller == "13800000401")
    assert (rung.ring_no_answers, rung.agents_rung) == (1, ["Agent 1005", "Agent 1006"])
    assert (rung.talk_seconds, rung.completed_by, rung.ended) == (6.0, "caller", at(1795447558))
    first = next(v for v in visits if v.caller == "13800000601")
    assert (first.callid, first.queue, first.entered) == (
        "callcenter-rig-1795447573.11",
        "support",
        at(1795447573),
    )
    assert (first.answered, first.position_at_join) == (at(1795447574), 1)


def test_only_visits_since_the_cutoff_and_only_queue_log_lines_are_read() -> None:
    text = [*lines("abandoned"), "", "garbage", "x|y|z|w|ENTERQUEUE", "1795447530|only|three"]
    visits = read_visits(text, at(1795447522))
    assert [v.caller for v in visits] == ["13800000201"]


def test_a_call_still_talking_is_not_finished() -> None:
    connected = [line for line in lines("mixed") if "COMPLETE" not in line]
    assert [
        v for v in read_visits(connected, EPOCH) if v.finished and v.outcome == "answered"
    ] == []


def test_a_timeout_followed_by_another_queue_is_an_overflow_there() -> None:
    text = [
        "1000|c-1|sales|NONE|ENTERQUEUE||13900000001|1",
        "1008|c-1|sales|NONE|EXITWITHTIMEOUT|1|1|8",
        "1009|c-1|overflow|NONE|ENTERQUEUE||13900000001|1",
        "1012|c-1|overflow|Agent 1006|CONNECT|3|c-2|1",
        "1040|c-1|overflow|Agent 1006|TRANSFER|2000|default|3|28|1",
        # The same channel back in sales much later: no overflow of the second visit.
        "1100|c-1|sales|NONE|ENTERQUEUE||13900000001|1",
        "1105|c-1|sales|NONE|EXITWITHKEY|5|1|1|5",
        "1200|c-1|support|NONE|ENTERQUEUE||13900000001|1",
    ]
    first, second, third, fourth = read_visits(text, EPOCH)
    assert (first.outcome, first.overflow_queue) == ("timeout", "overflow")
    assert (second.outcome, second.completed_by, second.talk_seconds) == (
        "transferred",
        "transfer",
        28.0,
    )
    assert (third.outcome, third.wait_seconds, third.overflow_queue) == ("withdrawn", 5.0, None)
    assert not fourth.finished


def test_the_row_names_interfaces_where_known_and_flags_short_abandons() -> None:
    answered, _, _, abandoned, *_ = read_visits(lines("mixed"), EPOCH)
    row = visit_row("rig", answered, {"Agent 1001": "PJSIP/1001"}, short_abandon_seconds=5)
    assert (row["answered_by"], row["answered_by_name"], row["agents_rung"]) == (
        "PJSIP/1001",
        "Agent 1001",
        ["PJSIP/1001"],
    )
    assert (row["evidence"], row["outcome"], row["talk_seconds"]) == ("queue_log", "answered", 7.0)
    # The queue_log does not say who was signed in at the phone.
    assert row["answered_by_user"] is None
    gone = visit_row("rig", abandoned, {}, short_abandon_seconds=5)
    assert (gone["outcome"], gone["short_abandon"], gone["position_at_exit"]) == (
        "abandoned",
        True,
        2,
    )


async def _stored(engine: AsyncEngine) -> list[dict[str, object]]:
    async with engine.connect() as connection:
        result = await connection.execute(select(RECORDS_TABLE).order_by(RECORDS_TABLE.c.id))
        return [dict(r) for r in result.mappings()]


async def test_backfill_writes_what_is_missing_once_and_leaves_live_records_alone(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    writer = RecordWriter(engine, Spool(tmp_path / "spool"), batch_interval=0.05)
    backfill = QueueLogBackfill(
        engine,
        writer,
        hours=24,
        short_abandon_seconds=5,
        member_interfaces=lambda pbx: {"Agent 1001": "PJSIP/1001"},
    )
    text = "\n".join(lines("mixed"))
    listening_since = at(1795447600)
    await writer.start()
    try:
        # The live service recorded one of the calls (its join time is the AMI event's), and
        # a restart closed two others without knowing how they ended (one it thought
        # answered at a phone someone else answered: who sat there is dropped).
        visits = read_visits(lines("mixed"), EPOCH)
        (live,) = [v for v in visits if v.caller == "13800000603"]
        live_row = {
            **visit_row("rig", live, {}, 5),
            "evidence": "agent_complete",
            "joined_at": live.entered + timedelta(milliseconds=640),
        }
        (guessed,) = [v for v in visits if v.caller == "13800000606"]
        guessed_row = {
            **visit_row("rig", guessed, {}, 5),
            "evidence": "service_restart",
            "outcome": "unknown",
            "wait_seconds": 9.0,
            "position_at_exit": None,
            "joined_at": guessed.entered + timedelta(milliseconds=250),
            "answered_by": "PJSIP/1009",
            "answered_by_user": 9,
        }
        (talked,) = [v for v in visits if v.caller == "13800000601"]
        talked_row = {
            **visit_row("rig", talked, {"Agent 1001": "PJSIP/1001"}, 5),
            "evidence": "service_restart",
            "talk_seconds": None,
            "joined_at": talked.entered + timedelta(milliseconds=100),
            "answered_by_user": 42,
        }
        writer.submit(RecordOp(live_row))
        writer.submit(RecordOp(guessed_row))
        writer.submit(RecordOp(talked_row))
        assert await backfill.once("rig", text, listening_since) == Backfilled(3, 2)
        await writer.flush()
        # A second replica (or the next reconnect) reads the same file: nothing more.
        assert await backfill.once("rig", text, listening_since) == Backfilled(0, 0)
        # Calls that ended after the link came up are the live model's, not the backfill's.
        assert await backfill.once("other", text, at(1795447580)) == Backfilled(1, 0)
        await writer.flush()
    finally:
        await writer.stop()
    rows = await _stored(engine)
    mine = [r for r in rows if r["pbx"] == "rig"]
    assert sorted((r["caller_number"], r["evidence"]) for r in mine) == [
        ("13800000601", "queue_log"),
        ("13800000602", "queue_log"),
        ("13800000603", "agent_complete"),
        ("13800000604", "queue_log"),
        ("13800000605", "queue_log"),
        ("13800000606", "queue_log"),
    ]
    corrected = next(r for r in mine if r["caller_number"] == "13800000606")
    assert (corrected["outcome"], corrected["wait_seconds"], corrected["position_at_exit"]) == (
        "abandoned",
        3.0,
        3,
    )
    assert corrected["joined_at"] == guessed_row["joined_at"]
    assert (corrected["answered_by"], corrected["answered_by_user"]) == (None, None)
    first = next(r for r in mine if r["caller_number"] == "13800000601")
    assert (first["answered_by"], first["outcome"], first["talk_seconds"]) == (
        "PJSIP/1001",
        "answered",
        7.0,
    )
    # The queue_log names the same phone: who sat there when it answered stays.
    assert (first["joined_at"], first["answered_by_user"]) == (talked_row["joined_at"], 42)
    added = next(r for r in mine if r["caller_number"] == "13800000602")
    assert added["answered_by_user"] is None
    assert [r["caller_number"] for r in rows if r["pbx"] == "other"] == ["13800000604"]


async def test_the_late_pass_adds_only_calls_that_joined_before_the_service_listened(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """Answered while the service was away and ended after it connected: the live model knows
    such a call only by its AgentComplete, which may come without the caller's Uniqueid.
    The late pass records it; calls that joined after the link came up stay the live model's."""
    writer = RecordWriter(engine, Spool(tmp_path / "spool"), batch_interval=0.05)
    backfill = QueueLogBackfill(
        engine, writer, hours=24, short_abandon_seconds=5, member_interfaces=lambda pbx: {}
    )
    text = "\n".join(lines("mixed"))
    connected = at(1795447576)  # 601-603 joined before, 604-606 at or after
    await writer.start()
    try:
        # At the connection: nothing had ended yet.
        assert await backfill.once("rig", text, connected) == Backfilled(0, 0)
        # Later, all ended: only the three that joined before the connection are added.
        late = at(1795447600)
        assert await backfill.once("rig", text, late, joined_before=connected) == Backfilled(3, 0)
        await writer.flush()
        # Again (the next late pass, another replica): nothing twice.
        assert await backfill.once("rig", text, late, joined_before=connected) == Backfilled(0, 0)
        await writer.flush()
    finally:
        await writer.stop()
    numbers = sorted(str(r["caller_number"]) for r in await _stored(engine))
    assert numbers == ["13800000601", "13800000602", "13800000603"]


async def test_an_unreadable_queue_log_is_logged_and_records_nothing(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    writer = RecordWriter(engine, Spool(tmp_path / "spool"), batch_interval=0.05)
    backfill = QueueLogBackfill(
        engine, writer, hours=24, short_abandon_seconds=5, member_interfaces=lambda pbx: {}
    )
    assert await backfill.run(
        "rig", tmp_path / "missing" / "queue_log", at(1795447600)
    ) == Backfilled(0, 0)
    assert await _stored(engine) == []


def test_a_long_queue_log_is_read_from_the_end_back_to_the_cutoff(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    with path.open("w", encoding="utf-8") as file:
        for n in range(20_000):
            file.write(f"{1_700_000_000 + n}|c-{n}|支持|NONE|ENTERQUEUE||139{n:08d}|1\n")
    tail = read_tail(path, at(1_700_019_000), chunk=4096)
    assert len(tail) < path.stat().st_size // 10
    visits = read_visits(tail.splitlines(), at(1_700_019_000))
    assert [v.callid for v in visits] == [f"c-{n}" for n in range(19_000, 20_000)]
    assert visits[0].queue == "支持"
    assert read_tail(path, at(0), chunk=4096) == path.read_text(encoding="utf-8")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert read_tail(empty, at(0)) == ""
