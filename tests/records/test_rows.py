"""Who was signed in at the answering phone travels, as a plain user id, from the answer to the
call's open row, its record, its restart record and the spool (rows.py stays pure)."""

from __future__ import annotations

import json
from datetime import timedelta

from callcenter.live.changes import CallerView
from callcenter.records.rows import (
    OPEN_COLUMNS,
    OpenOp,
    RecordOp,
    answered_row,
    decode,
    encode,
    open_row,
    record_row,
    restart_record_row,
)
from callcenter.records.writer import OPEN_TABLE
from tests.records.helpers import call_record, connected


def caller_of(n: int) -> CallerView:
    record = call_record(n)
    return CallerView(
        pbx=record.pbx,
        queue=record.queue,
        uniqueid=record.uniqueid,
        linkedid=record.linkedid,
        channel=record.channel,
        caller_num=record.caller_num,
        caller_name=record.caller_name,
        position=1,
        joined_at=record.joined_at,
        priority=None,
        ivr={},
    )


def test_the_record_carries_the_user_it_is_given_when_answered() -> None:
    assert record_row(call_record(1), answered_by_user=42)["answered_by_user"] == 42
    assert record_row(call_record(1))["answered_by_user"] is None
    unanswered = call_record(2, outcome="abandoned", answered_by=None, answered_at=None)
    assert record_row(unanswered, answered_by_user=42)["answered_by_user"] is None


def test_the_open_row_notes_the_user_at_the_answer_and_a_restart_keeps_it() -> None:
    joined = open_row(caller_of(1))
    assert joined["answered_by_user"] is None
    record = call_record(1)
    answered = answered_row(joined, connected(record), answered_by_user=42)
    assert (answered["answered_by"], answered["answered_by_user"]) == ("PJSIP/1001", 42)
    # A call not seen joining (adopted by a resync) gets one too.
    adopted = answered_row(None, connected(record), answered_by_user=7)
    assert adopted["answered_by_user"] == 7 and set(adopted) == set(answered)
    restarted = restart_record_row(answered, record.joined_at + timedelta(minutes=5))
    assert restarted["answered_by_user"] == 42
    assert set(OPEN_COLUMNS) == {c.name for c in OPEN_TABLE.c if c.name != "id"}


def test_the_user_survives_the_spool_and_old_lines_read_as_nobody() -> None:
    row = record_row(call_record(1), answered_by_user=42)
    decoded = decode(encode(RecordOp(row)))
    assert isinstance(decoded, RecordOp) and decoded.row["answered_by_user"] == 42
    # A line spooled before the column existed: every row of a batch has the same columns.
    opened = answered_row(None, connected(call_record(1)), answered_by_user=1)
    for op in (RecordOp(row), OpenOp(opened)):
        data = json.loads(encode(op))
        del data["row"]["answered_by_user"]
        old = decode(json.dumps(data).encode())
        assert isinstance(old, type(op)) and old.row["answered_by_user"] is None
        assert set(old.row) == set(op.row)
