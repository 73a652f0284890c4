"""Call records as the live model emits them, for the writer's tests and the bench, and the
agents room's seats as the records room sees them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from callcenter.live.changes import CallConnected, CallRecord

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def call_record(n: int, **overrides: object) -> CallRecord:
    joined = T0 + timedelta(seconds=n)
    record = CallRecord(
        pbx="rig",
        uniqueid=f"1700000000.{n}",
        linkedid=f"1700000000.{n}",
        channel=f"PJSIP/trunk-{n:08d}",
        queue="support",
        caller_num=f"1380000{n:04d}",
        caller_name="张三",
        joined_at=joined,
        position_at_join=1,
        agents_rung=("PJSIP/1001",),
        ring_no_answer_count=0,
        answered_by="PJSIP/1001",
        answered_by_name="Agent 1001",
        answered_at=joined + timedelta(seconds=4),
        left_at=joined + timedelta(seconds=4),
        ended_at=joined + timedelta(seconds=64),
        wait_seconds=4.0,
        talk_seconds=60.0,
        wrapup_seconds=0,
        outcome="answered",
        completed_by="caller",
        position_at_exit=1,
        queue_status=None,
        short_abandon=False,
        evidence="agent_complete",
        ivr={"CC_MENU": "1"},
    )
    return replace(record, **overrides)  # type: ignore[arg-type]


def connected(record: CallRecord) -> CallConnected:
    """The CallConnected the live model emits when `record`'s call is answered."""
    assert record.answered_by is not None and record.answered_at is not None
    return CallConnected(
        at=record.answered_at,
        pbx=record.pbx,
        queue=record.queue,
        uniqueid=record.uniqueid,
        agent_interface=record.answered_by,
        member_name=record.answered_by_name or record.answered_by,
        agent_channel=f"{record.answered_by}-00000001",
        agent_uniqueid=f"{record.uniqueid}9",
        caller_num=record.caller_num,
        caller_name=record.caller_name,
        waited_seconds=record.wait_seconds,
        ring_seconds=1,
        ivr=record.ivr,
    )


class Seated:
    """Who sits at which phone (the records room's ``SeatHolder``): nobody unless told."""

    def __init__(self, seated: Mapping[tuple[str, str], int] | None = None) -> None:
        # (pbx, interface) -> user id
        self.seated = dict(seated or {})

    def holder(self, pbx: str, interface: str) -> int | None:
        return self.seated.get((pbx, interface))
