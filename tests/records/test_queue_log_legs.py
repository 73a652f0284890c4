"""Redirected and transferred legs read back from the queue_log agree with the live path
(issue 17, item 7): the figures do not depend on whether the service was running.

The same calls are told twice, as Asterisk 22 tells them: once as the AMI events the live model
hears (the records room writes their records), once as the queue_log lines app_queue writes
(``apps/app_queue.c``: ENTERQUEUE url|callerid|origpos, CONNECT holdtime|peer-uniqueid|ringtime,
COMPLETE* holdtime|calltime|origpos, ABANDON / EXITWITHTIMEOUT pos|origpos|waittime,
BLINDTRANSFER exten|context|holdtime|calltime|origpos, ATTENDEDTRANSFER BRIDGE|id, APP|name or
LINK|channel|channel, then holdtime|calltime|origpos).

How the live path decides each kind of leg (``callcenter/live/model.py``, ``records/room.py``):

* redirected out of a queue (AMI Redirect): Asterisk sends an Abandon and logs ``ABANDON``, as
  for a hang-up, and the channel joins the next queue at once. A join of the same channel
  within the live model's exit grace (2 s) ends the leg as a ``timeout`` (evidence rejoin); the
  records room then marks it ``overflowed`` to that queue (a rejoin in the same queue stays a
  timeout). Not an abandon, not a short abandon: offered, counted with the timeouts.
* no join within the grace: ``abandoned``, even if the channel joins another queue later (say
  20 s later, still within the 30 s overflow window, after an IVR menu): the grace decides,
  not the overflow window.
* answered, then blind- or attended-transferred: ``transferred``, completed_by ``transfer``,
  the talk time Asterisk's; where the caller goes next is a record of its own.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter import kpi
from callcenter.live import LiveConfig, LiveModel
from callcenter.records.backfill import Backfilled, QueueLogBackfill
from callcenter.records.query import RECORDS_TABLE
from callcenter.records.queue_log import REJOIN_GRACE, QueueVisit, read_visits, visit_row
from callcenter.records.room import RecordsRoom
from callcenter.records.rows import RecordOp, Row
from callcenter.records.spool import Spool
from callcenter.records.writer import RecordWriter
from callcenter.settings import RecordsSettings
from tests.live import amitrace as ami
from tests.records.helpers import Seated
from tests.rooms import make_host

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
E = int(ami.T0.timestamp())  # 1740992400: the AMI traces' second 0
SALES, SUPPORT = "sales", "support"
ALICE = ami.Agent("PJSIP/8001", "Alice")
BOB = ami.Agent("PJSIP/8002", "Bob")
INTERFACES = {"Alice": "PJSIP/8001", "Bob": "PJSIP/8002"}
SHORT_ABANDON = 5.0


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(E + seconds, UTC)


# The queue_log app_queue writes for the calls of `ami_trace` below, second for second.
QUEUE_LOG = """\
1740992400|1740992400.101|sales|NONE|ENTERQUEUE||13800000101|1
1740992420|1740992400.101|sales|NONE|ABANDON|1|1|20
1740992420|1740992400.101|support|NONE|ENTERQUEUE||13800000101|1
1740992423|1740992400.101|support|Bob|CONNECT|3|agentleg.PJSIP/8002.1|2
1740992483|1740992400.101|support|Bob|COMPLETECALLER|3|60|1
1740992430|1740992400.102|sales|NONE|ENTERQUEUE||13800000102|1
1740992442|1740992400.102|sales|NONE|ABANDON|1|1|12
1740992450|1740992400.103|sales|NONE|ENTERQUEUE||13800000103|1
1740992452|1740992400.103|sales|NONE|ABANDON|1|1|2
1740992460|1740992400.104|sales|NONE|ENTERQUEUE||13800000104|1
1740992470|1740992400.104|sales|NONE|ABANDON|1|1|10
1740992490|1740992400.104|support|NONE|ENTERQUEUE||13800000104|1
1740992495|1740992400.104|support|NONE|ABANDON|1|1|5
1740992500|1740992400.105|sales|NONE|ENTERQUEUE||13800000105|1
1740992504|1740992400.105|sales|Alice|CONNECT|4|agentleg.PJSIP/8001.1|3
1740992560|1740992400.105|sales|Alice|BLINDTRANSFER|support|hotline|4|56|1
1740992560|1740992400.105|support|NONE|ENTERQUEUE||13800000105|1
1740992570|1740992400.105|support|Bob|CONNECT|10|agentleg.PJSIP/8002.2|9
1740992600|1740992400.105|support|Bob|COMPLETEAGENT|10|30|1
1740992620|1740992400.106|sales|NONE|ENTERQUEUE||13800000106|1
1740992625|1740992400.106|sales|Alice|CONNECT|5|agentleg.PJSIP/8001.2|2
1740992665|1740992400.106|sales|Alice|ATTENDEDTRANSFER|LINK|Local/2001@from-internal-00000003;1|Local/2001@from-internal-00000003;2|5|40|1
1740992680|1740992400.106|support|NONE|ENTERQUEUE||13800000106|1
1740992690|1740992400.106|support|NONE|ABANDON|1|1|10
1740992720|1740992400.108|sales|NONE|ENTERQUEUE||13800000108|1
1740992730|1740992400.108|sales|NONE|ABANDON|1|1|10
1740992730|1740992400.108|sales|NONE|ENTERQUEUE||13800000108|1
1740992735|1740992400.108|sales|Alice|CONNECT|5|agentleg.PJSIP/8001.3|4
1740992765|1740992400.108|sales|Alice|COMPLETECALLER|5|30|1
1740992800|1740992400.109|sales|NONE|ENTERQUEUE||13800000109|1
1740992802|1740992400.109|sales|Alice|CONNECT|2|agentleg.PJSIP/8001.4|1
1740992832|1740992400.109|sales|Alice|COMPLETECALLER|2|30|1
1740992850|1740992400.110|sales|NONE|ENTERQUEUE||13800000110|1
1740992860|1740992400.110|sales|NONE|EXITWITHTIMEOUT|1|1|10
1740992861|1740992400.110|support|NONE|ENTERQUEUE||13800000110|1
1740992870|1740992400.110|support|NONE|ABANDON|1|1|9
"""


def ami_trace() -> list[dict[str, str]]:
    """The same calls as the AMI events the live model hears (fractions of a second where the
    PBX has them: a redirected caller joins the next queue within milliseconds)."""
    c1, c2, c3, c4, c5, c6, c8, c9, c10 = (
        ami.Caller(f"{E}.{n}", f"13800000{n}")
        for n in (101, 102, 103, 104, 105, 106, 108, 109, 110)
    )
    a1, a2, a3, a4 = ALICE.leg(), ALICE.leg(), ALICE.leg(), ALICE.leg()
    b1, b2 = BOB.leg(), BOB.leg()
    t = ami.Pbx.at
    return [
        ami.member("QueueMemberAdded", t(0), SALES, ALICE),
        ami.member("QueueMemberAdded", t(0), SUPPORT, BOB),
        # 101: moved by a Redirect from sales to support, answered there.
        ami.join(t(0), SALES, c1, 1, 1),
        ami.abandon(t(20), SALES, c1, 1, 1, 20),
        ami.leave(t(20), SALES, c1, 1, 0),
        ami.join(t(20.3), SUPPORT, c1, 1, 1),
        ami.called(t(21), SUPPORT, c1, BOB, b1),
        ami.connect(t(23), SUPPORT, c1, BOB, b1, hold=3, ring=2),
        ami.leave(t(23), SUPPORT, c1, 1, 0),
        ami.complete(t(83), SUPPORT, c1, BOB, b1, hold=3, talk=60, reason="caller"),
        # 102: hangs up after 12 s; 103: after 2 s (a short abandon).
        ami.join(t(30), SALES, c2, 1, 1),
        ami.abandon(t(42), SALES, c2, 1, 1, 12),
        ami.leave(t(42), SALES, c2, 1, 0),
        ami.hangup(t(42), c2),
        ami.join(t(50), SALES, c3, 1, 1),
        ami.abandon(t(52), SALES, c3, 1, 1, 2),
        ami.leave(t(52), SALES, c3, 1, 0),
        ami.hangup(t(52), c3),
        # 104: out of sales without hanging up, into support only 20 s later (an IVR menu
        # between): past the exit grace, so an abandon, though within the overflow window.
        ami.join(t(60), SALES, c4, 1, 1),
        ami.abandon(t(70), SALES, c4, 1, 1, 10),
        ami.leave(t(70), SALES, c4, 1, 0),
        ami.join(t(90), SUPPORT, c4, 1, 1),
        ami.abandon(t(95), SUPPORT, c4, 1, 1, 5),
        ami.leave(t(95), SUPPORT, c4, 1, 0),
        ami.hangup(t(95), c4),
        # 105: answered in sales, blind-transferred into support, answered there.
        ami.join(t(100), SALES, c5, 1, 1),
        ami.called(t(101), SALES, c5, ALICE, a1),
        ami.connect(t(104), SALES, c5, ALICE, a1, hold=4, ring=3),
        ami.leave(t(104), SALES, c5, 1, 0),
        ami.complete(t(160), SALES, c5, ALICE, a1, hold=4, talk=56, reason="transfer"),
        ami.join(t(160.2), SUPPORT, c5, 1, 1),
        ami.called(t(161), SUPPORT, c5, BOB, b2),
        ami.connect(t(170), SUPPORT, c5, BOB, b2, hold=10, ring=9),
        ami.leave(t(170), SUPPORT, c5, 1, 0),
        ami.complete(t(200), SUPPORT, c5, BOB, b2, hold=10, talk=30, reason="agent"),
        # 106: answered in sales, attended-transferred to extension 2001, which later sends
        # the caller into support; the caller hangs up there.
        ami.join(t(220), SALES, c6, 1, 1),
        ami.connect(t(225), SALES, c6, ALICE, a2, hold=5, ring=2),
        ami.leave(t(225), SALES, c6, 1, 0),
        ami.complete(t(265), SALES, c6, ALICE, a2, hold=5, talk=40, reason="transfer"),
        ami.join(t(280), SUPPORT, c6, 1, 1),
        ami.abandon(t(290), SUPPORT, c6, 1, 1, 10),
        ami.leave(t(290), SUPPORT, c6, 1, 0),
        ami.hangup(t(290), c6),
        # 108: redirected out of sales and straight back into it: a timeout, no overflow.
        ami.join(t(320), SALES, c8, 1, 1),
        ami.abandon(t(330), SALES, c8, 1, 1, 10),
        ami.leave(t(330), SALES, c8, 1, 0),
        ami.join(t(330.4), SALES, c8, 1, 1),
        ami.connect(t(335), SALES, c8, ALICE, a3, hold=5, ring=4),
        ami.leave(t(335), SALES, c8, 1, 0),
        ami.complete(t(365), SALES, c8, ALICE, a3, hold=5, talk=30, reason="caller"),
        # 109: answered.
        ami.join(t(400), SALES, c9, 1, 1),
        ami.connect(t(402), SALES, c9, ALICE, a4, hold=2, ring=1),
        ami.leave(t(402), SALES, c9, 1, 0),
        ami.complete(t(432), SALES, c9, ALICE, a4, hold=2, talk=30, reason="caller"),
        # 110: the Queue() timeout, then the dialplan's overflow queue.
        ami.join(t(450), SALES, c10, 1, 1),
        ami.abandon(t(460), SALES, c10, 1, 1, 10),
        ami.leave(t(460), SALES, c10, 1, 0),
        ami.var_set(t(460), c10, "QUEUESTATUS", "TIMEOUT"),
        ami.join(t(461), SUPPORT, c10, 1, 1),
        ami.abandon(t(470), SUPPORT, c10, 1, 1, 9),
        ami.leave(t(470), SUPPORT, c10, 1, 0),
        ami.hangup(t(470), c10),
    ]


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class Figures:
    answered: int
    abandoned: int
    short_abandons: int
    timeouts: int
    offered: int
    abandon_rate: float | None
    transfers: int
    overflows: int


def figures(rows: Iterable[Mapping[str, Any]]) -> dict[str, Figures]:
    """Per queue, as the reports count stored records (supervisor/intervals.py): a
    transferred call was answered, an overflowed one left unanswered (a timeout here)."""
    tally: dict[str, Counter[str]] = {}
    for row in rows:
        count = tally.setdefault(row["queue"], Counter())
        outcome = row["outcome"]
        if outcome in ("answered", "transferred"):
            count["answered"] += 1
        elif outcome == "abandoned":
            count["abandoned"] += 1
            count["short"] += int(row["short_abandon"])
        elif outcome in ("timeout", "overflowed"):
            count["timeouts"] += 1
        count["transfers"] += int(row["completed_by"] == "transfer")
        count["overflows"] += int(row.get("overflow_queue") is not None)
    return {
        queue: Figures(
            answered=c["answered"],
            abandoned=c["abandoned"],
            short_abandons=c["short"],
            timeouts=c["timeouts"],
            offered=kpi.offered(c["answered"], c["abandoned"], c["timeouts"], c["short"]),
            abandon_rate=kpi.abandon_rate(c["abandoned"], c["answered"], c["timeouts"], c["short"]),
            transfers=c["transfers"],
            overflows=c["overflows"],
        )
        for queue, c in tally.items()
    }


EXPECTED = {
    # answered 105, 106, 108 (second), 109; abandoned 102, 103 (short), 104; timeouts 101
    # (overflowed), 108 (first), 110 (overflowed).
    SALES: Figures(
        answered=4,
        abandoned=3,
        short_abandons=1,
        timeouts=3,
        offered=9,
        abandon_rate=2 / 9,
        transfers=2,
        overflows=2,
    ),
    SUPPORT: Figures(
        answered=2,
        abandoned=3,
        short_abandons=0,
        timeouts=0,
        offered=5,
        abandon_rate=3 / 5,
        transfers=0,
        overflows=0,
    ),
}


def stored_form(visit: QueueVisit) -> Row:
    """The row of a visit as it ends up stored: the backfill marks an overflow afterwards
    (OverflowOp), as the records room does for a live record."""
    row = visit_row("log", visit, INTERFACES, SHORT_ABANDON)
    if visit.overflow_queue is not None:
        row.update(outcome="overflowed", overflow_queue=visit.overflow_queue)
    return row


def legs(visits: Iterable[QueueVisit]) -> dict[tuple[str, str, int], QueueVisit]:
    return {(v.callid[-3:], v.queue, int(v.entered.timestamp()) - E): v for v in visits}


# --------------------------------------------------------------------------- the reader


def test_each_leg_of_the_replayed_queue_log_is_told_as_the_live_path_tells_it() -> None:
    visits = read_visits(QUEUE_LOG.splitlines(), EPOCH)
    assert all(v.finished for v in visits)
    fates = {
        key: (v.outcome, v.overflow_queue, v.completed_by, v.talk_seconds, v.wait_seconds)
        for key, v in legs(visits).items()
    }
    assert fates == {
        # Redirected to support at once: not abandoned, a timeout overflowed to support.
        ("101", SALES, 0): ("timeout", SUPPORT, None, None, 20.0),
        ("101", SUPPORT, 20): ("answered", None, "caller", 60.0, 3.0),
        ("102", SALES, 30): ("abandoned", None, None, None, 12.0),
        ("103", SALES, 50): ("abandoned", None, None, None, 2.0),
        # Into support 20 s after its ABANDON: past the grace, so still an abandon.
        ("104", SALES, 60): ("abandoned", None, None, None, 10.0),
        ("104", SUPPORT, 90): ("abandoned", None, None, None, 5.0),
        # Transferred: Asterisk's call time is the talk; the next queue is a visit of its own.
        ("105", SALES, 100): ("transferred", None, "transfer", 56.0, 4.0),
        ("105", SUPPORT, 160): ("answered", None, "agent", 30.0, 10.0),
        ("106", SALES, 220): ("transferred", None, "transfer", 40.0, 5.0),
        ("106", SUPPORT, 280): ("abandoned", None, None, None, 10.0),
        # Back into the same queue at once: a timeout there, no overflow.
        ("108", SALES, 320): ("timeout", None, None, None, 10.0),
        ("108", SALES, 330): ("answered", None, "caller", 30.0, 5.0),
        ("109", SALES, 400): ("answered", None, "caller", 30.0, 2.0),
        ("110", SALES, 450): ("timeout", SUPPORT, None, None, 10.0),
        ("110", SUPPORT, 461): ("abandoned", None, None, None, 9.0),
    }
    rows = [visit_row("log", v, INTERFACES, SHORT_ABANDON) for v in visits]
    # The moved callers are no abandons, short or not: the only short abandon is 103's.
    assert sorted(r["uniqueid"][-3:] for r in rows if r["short_abandon"]) == ["103"]
    redirected = next(r for r in rows if r["uniqueid"].endswith("101") and r["queue"] == SALES)
    assert (redirected["outcome"], redirected["short_abandon"]) == ("timeout", False)
    blind = next(r for r in rows if r["uniqueid"].endswith("105") and r["queue"] == SALES)
    assert (blind["outcome"], blind["completed_by"], blind["answered_by"]) == (
        "transferred",
        "transfer",
        "PJSIP/8001",
    )
    assert figures(stored_form(v) for v in visits) == EXPECTED


def test_the_exit_grace_not_the_overflow_window_decides_a_redirect() -> None:
    """The queue_log counts whole seconds: an ENTERQUEUE up to the grace (2 s) after the
    ABANDON is a redirect, one a second later an abandon (the live model: under 2 s of PBX
    time, or not)."""
    grace = int(REJOIN_GRACE.total_seconds())
    assert grace == LiveConfig().exit_grace_seconds == 2

    def first_leg(gap: int) -> QueueVisit:
        text = [
            "1000|c-1|sales|NONE|ENTERQUEUE||13900000001|1",
            "1010|c-1|sales|NONE|ABANDON|1|1|10",
            f"{1010 + gap}|c-1|support|NONE|ENTERQUEUE||13900000001|1",
        ]
        return read_visits(text, EPOCH)[0]

    for gap in range(grace + 1):
        assert (first_leg(gap).outcome, first_leg(gap).overflow_queue) == ("timeout", "support")
    for gap in (grace + 1, 29, 31):
        assert (first_leg(gap).outcome, first_leg(gap).overflow_queue) == ("abandoned", None)


def test_every_attended_transfer_form_gives_asterisks_call_time() -> None:
    forms = [
        "BLINDTRANSFER|support|hotline|4|56|1",
        "ATTENDEDTRANSFER|BRIDGE|6a1c5b2e-4f6d-4b1e-9a61-0d3c0c2d5e11|4|56|1",
        "ATTENDEDTRANSFER|APP|Queue|4|56|1",
        "ATTENDEDTRANSFER|LINK|Local/2001@from-internal-0000002a;1|"
        "Local/2001@from-internal-0000002a;2|4|56|1",
    ]
    for form in forms:
        text = [
            "1000|c-1|sales|NONE|ENTERQUEUE||13900000001|1",
            "1004|c-1|sales|Alice|CONNECT|4|c-2|3",
            # Not the same as the line's own seconds: the talk is Asterisk's, not ours.
            f"1061|c-1|sales|Alice|{form}",
        ]
        (visit,) = read_visits(text, EPOCH)
        assert (visit.outcome, visit.completed_by, visit.talk_seconds) == (
            "transferred",
            "transfer",
            56.0,
        ), form


def test_a_transfer_logged_after_the_next_queues_enterqueue_still_ends_its_leg() -> None:
    # The transfer's line is written from app_queue's bridge handler, the ENTERQUEUE by the
    # caller's own thread: within one second either may come first.
    text = [
        "1000|c-1|sales|NONE|ENTERQUEUE||13900000001|1",
        "1004|c-1|sales|Alice|CONNECT|4|c-2|3",
        "1060|c-1|support|NONE|ENTERQUEUE||13900000001|1",
        "1060|c-1|sales|Alice|BLINDTRANSFER|support|hotline|4|56|1",
        "1065|c-1|support|NONE|ABANDON|1|1|5",
    ]
    first, second = read_visits(text, EPOCH)
    assert (first.outcome, first.completed_by, first.ended) == (
        "transferred",
        "transfer",
        datetime.fromtimestamp(1060, UTC),
    )
    assert (second.queue, second.outcome, second.wait_seconds) == ("support", "abandoned", 5.0)


# --------------------------------------------------------------------------- the database


async def _stored(engine: AsyncEngine, pbx: str) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        result = await connection.execute(
            select(RECORDS_TABLE)
            .where(RECORDS_TABLE.c.pbx == pbx)
            .order_by(RECORDS_TABLE.c.joined_at)
        )
        return [dict(r) for r in result.mappings()]


async def _written(engine: AsyncEngine, pbx: str, count: int) -> None:
    """Wait until `count` records of `pbx` are stored: the writer's flush() returns as soon as
    nothing is queued, which may be while the last batch is still being written."""
    for _ in range(250):
        if len(await _stored(engine, pbx)) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{pbx}: fewer than {count} records written")


_COMPARED = (
    "outcome",
    "overflow_queue",
    "completed_by",
    "talk_seconds",
    "wait_seconds",
    "short_abandon",
    "answered_by",
    "answered_by_name",
)


def _by_leg(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str, int], tuple[Any, ...]]:
    return {
        (r["uniqueid"], r["queue"], int(r["joined_at"].timestamp())): tuple(
            r[name] for name in _COMPARED
        )
        for r in rows
    }


async def test_the_records_are_the_same_whether_the_service_heard_the_calls_or_not(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """The live model and the records room write the AMI trace's calls (PBX "live"); the
    backfill writes the same calls from the queue_log (PBX "log"), as after an outage."""
    model = LiveModel(LiveConfig(short_abandon_seconds=SHORT_ABANDON))
    pbx = ami.Pbx(model, "live")
    room = RecordsRoom(
        make_host(engine),
        RecordsSettings(spool_dir=tmp_path / "spool", batch_interval=0.01),
        seats=Seated(),
    )
    backfill = QueueLogBackfill(
        engine,
        room.writer,
        hours=24,
        short_abandon_seconds=SHORT_ABANDON,
        member_interfaces=lambda _: INTERFACES,
    )
    await room.start()
    try:
        for change in [*pbx.send_all(*ami_trace()), *model.tick(at(1000))]:
            room.on_change(change)
        await room.writer.flush()
        assert await backfill.once("log", QUEUE_LOG, at(1000)) == Backfilled(15, 0)
        await room.writer.flush()
    finally:
        await room.stop()
    live, logged = await _stored(engine, "live"), await _stored(engine, "log")
    assert len(live) == len(logged) == 15
    assert _by_leg(logged) == _by_leg(live)
    assert figures(logged) == figures(live) == EXPECTED
    (moved,) = [r for r in logged if r["uniqueid"].endswith(".101") and r["queue"] == SALES]
    assert (moved["outcome"], moved["overflow_queue"], moved["evidence"]) == (
        "overflowed",
        SUPPORT,
        "queue_log",
    )


async def test_a_record_a_restart_guessed_is_corrected_to_the_redirect_or_the_transfer(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """Calls open when the service stopped, closed by the next start without knowing how
    they ended: the queue_log tells the redirect and the transfer as the live path would."""
    writer = RecordWriter(engine, Spool(tmp_path / "spool"), batch_interval=0.01)
    backfill = QueueLogBackfill(
        engine,
        writer,
        hours=24,
        short_abandon_seconds=SHORT_ABANDON,
        member_interfaces=lambda _: INTERFACES,
    )
    visits = legs(read_visits(QUEUE_LOG.splitlines(), EPOCH))
    redirected, transferred = visits[("101", SALES, 0)], visits[("105", SALES, 100)]
    restarted_at = at(990)
    guessed = [
        {
            **visit_row("rig", redirected, INTERFACES, SHORT_ABANDON),
            "joined_at": redirected.entered + timedelta(milliseconds=300),
            "outcome": "unknown",
            "evidence": "service_restart",
            "ended_at": restarted_at,
            "left_at": None,
            "wait_seconds": 990.0,
            "position_at_exit": None,
        },
        {
            **visit_row("rig", transferred, INTERFACES, SHORT_ABANDON),
            "joined_at": transferred.entered + timedelta(milliseconds=300),
            "outcome": "answered",
            "completed_by": None,
            "talk_seconds": None,
            "evidence": "service_restart",
            "ended_at": restarted_at,
            "answered_by_user": 7,
        },
    ]
    await writer.start()
    try:
        for row in guessed:
            writer.submit(RecordOp(row))
        await _written(engine, "rig", 2)
        done = await backfill.once("rig", QUEUE_LOG, at(1000))
        await _written(engine, "rig", 15)
        # Corrected once: the second pass finds them told.
        assert await backfill.once("rig", QUEUE_LOG, at(1000)) == Backfilled(0, 0)
    finally:
        await writer.stop()
    assert done == Backfilled(13, 2)
    rows = {
        (r["uniqueid"][-3:], r["queue"], r["joined_at"]): r for r in await _stored(engine, "rig")
    }
    moved = rows[("101", SALES, guessed[0]["joined_at"])]
    assert (
        moved["outcome"],
        moved["overflow_queue"],
        moved["short_abandon"],
        moved["wait_seconds"],
        moved["evidence"],
    ) == ("overflowed", SUPPORT, False, 20.0, "queue_log")
    handed = rows[("105", SALES, guessed[1]["joined_at"])]
    assert (
        handed["outcome"],
        handed["completed_by"],
        handed["talk_seconds"],
        handed["ended_at"],
        handed["answered_by_user"],
    ) == ("transferred", "transfer", 56.0, at(160), 7)
    assert figures(rows.values()) == EXPECTED
