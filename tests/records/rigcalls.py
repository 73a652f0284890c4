"""Real calls through the rig for the records tests, and what Asterisk's queue_log says of them.

The tests use their own queue ``cc-records`` (added to the rig's per-run queues.conf and
removed afterwards): members ring 1 s each, so ring-no-answer and a second agent fit in the
short queue timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from callcenter.records.query import RECORDS_TABLE
from callcenter.rig.asterisk import AsteriskRig
from callcenter.store.db import create_engine

QUEUE = "cc-records"
# A queue whose only member never answers: its callers time out or hang up, for certain.
SILENT_QUEUE = "cc-records-silent"
MEMBERS = ("1003", "1004", "1005", "1006", "1007", "1008")
QUEUE_TIMEOUT_SECONDS = 4
# linear: the first free member in this order rings first, so while 1003 (the silent phone
# in the agreement test) is free a call rings it, gets no answer, and goes on to 1004...
_SECTION = (
    f"""
; --- added by tests/records (removed when the test ends)
[{QUEUE}](queue-common)
strategy = linear
timeout = 1
retry = 1
"""
    + "".join(f"member => PJSIP/{ext},0,Agent {ext}\n" for ext in MEMBERS)
    + f"""
[{SILENT_QUEUE}](queue-common)
timeout = 1
retry = 1
member => PJSIP/{MEMBERS[0]},0,Agent {MEMBERS[0]}
"""
)


@contextmanager
def records_queue(rig: AsteriskRig) -> Iterator[str]:
    """The test queue, with the hotline's queue timeout cut to a few seconds."""
    config = rig.etc_dir / "queues.conf"
    original = config.read_text(encoding="utf-8")
    config.write_text(original + _SECTION, encoding="utf-8")
    try:
        rig.rx("queue reload all")
        rig.rx(f"dialplan set global HOTLINE_QUEUE_TIMEOUT {QUEUE_TIMEOUT_SECONDS}")
        yield QUEUE
    finally:
        config.write_text(original, encoding="utf-8")
        rig.rx("dialplan set global HOTLINE_QUEUE_TIMEOUT 60")
        rig.rx("queue reload all")


@dataclass
class LoggedCall:
    """One queue call as Asterisk's queue_log tells it."""

    callid: str
    queue: str
    caller: str
    outcome: str | None = None
    agent: str | None = None
    wait: float | None = None
    ring_no_answers: int = 0
    events: list[str] = field(default_factory=list)


_FINAL = {
    "CONNECT": "answered",
    "ABANDON": "abandoned",
    "EXITWITHTIMEOUT": "timeout",
    "EXITEMPTY": "timeout",
    "EXITWITHKEY": "withdrawn",
}


def logged_calls(rig: AsteriskRig, callers: set[str]) -> dict[str, LoggedCall]:
    """The queue_log's calls from these caller numbers, by callid (= caller Uniqueid)."""
    calls: dict[str, LoggedCall] = {}
    for fields in rig.queue_log_lines():
        if len(fields) < 5:
            continue
        callid, queue, agent, event = fields[1], fields[2], fields[3], fields[4]
        data = fields[5:]
        if event == "ENTERQUEUE":
            if len(data) >= 2 and data[1] in callers:
                calls[callid] = LoggedCall(callid, queue, data[1])
            continue
        call = calls.get(callid)
        if call is None:
            continue
        call.events.append(event)
        if event == "RINGNOANSWER":
            call.ring_no_answers += 1
        elif event == "CONNECT":
            call.outcome, call.agent, call.wait = "answered", agent, float(data[0])
        elif event == "TRANSFER":
            call.outcome = "transferred"
        elif event in ("ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY"):
            call.outcome, call.wait = _FINAL[event], float(data[2])
        elif event == "EXITWITHKEY":
            call.outcome = "withdrawn"
    return calls


def finished(calls: dict[str, LoggedCall]) -> bool:
    return all(
        c.outcome is not None
        and (
            c.outcome != "answered"
            or any(e.startswith("COMPLETE") or e == "TRANSFER" for e in c.events)
        )
        for c in calls.values()
    )


async def stored_records(database_url: str, uniqueids: set[str]) -> list[dict[str, Any]]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(RECORDS_TABLE).where(RECORDS_TABLE.c.uniqueid.in_(sorted(uniqueids)))
            )
            return [dict(r) for r in rows.mappings()]
    finally:
        await engine.dispose()


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"not {what} within {timeout} s")


def disagreements(logged: dict[str, LoggedCall], rows: list[dict[str, Any]]) -> list[str]:
    """Every way the stored records differ from the queue_log (empty: they agree)."""
    problems = []
    by_id: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_id.setdefault(row["uniqueid"], []).append(row)
    for callid in sorted(set(logged) | set(by_id)):
        call, found = logged.get(callid), by_id.get(callid, [])
        if call is None:
            problems.append(f"{callid}: stored but not in queue_log")
            continue
        if len(found) != 1:
            problems.append(f"{callid}: {len(found)} records ({call.events})")
            continue
        row = found[0]
        if row["outcome"] != call.outcome:
            problems.append(
                f"{callid}: outcome {row['outcome']} (evidence {row['evidence']}) "
                f"but queue_log {call.outcome} {call.events}"
            )
        if call.outcome == "answered" and row["answered_by_name"] != call.agent:
            problems.append(
                f"{callid}: answered by {row['answered_by_name']} but queue_log {call.agent}"
            )
        if call.wait is not None and abs(row["wait_seconds"] - call.wait) > 1.0:
            problems.append(f"{callid}: waited {row['wait_seconds']} s but queue_log {call.wait} s")
        if row["ring_no_answer_count"] != call.ring_no_answers:
            problems.append(
                f"{callid}: {row['ring_no_answer_count']} ring-no-answers but "
                f"queue_log {call.ring_no_answers}"
            )
        if row["queue"] != call.queue or row["caller_number"] != call.caller:
            problems.append(f"{callid}: queue/caller {row['queue']}/{row['caller_number']}")
    return problems
