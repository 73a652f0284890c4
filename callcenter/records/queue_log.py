"""Asterisk's own queue_log read back into call records, for calls no process of ours saw.

A call that joins and ends while the service is stopped (or its AMI link is down) leaves no
AMI event to hear later and is in no resync snapshot: the queue_log is the only place it is
written down. Pure: lines in, finished visits and their call_records rows out.

Line format (app_queue, Asterisk 22): ``epoch|callid|queue|agent|event|data1|data2|...``, the
callid being the caller channel's Uniqueid, the agent the member's name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from callcenter.kpi import is_short_abandon
from callcenter.records.rows import OVERFLOW_WINDOW, Row, fit_column

__all__ = ["QUEUE_LOG_EVIDENCE", "QueueVisit", "read_visits", "visit_row"]

QUEUE_LOG_EVIDENCE = "queue_log"

# Unanswered exits: event -> (outcome, index of the position field, index of the wait field).
_EXITS: dict[str, tuple[str, int, int]] = {
    "ABANDON": ("abandoned", 0, 2),
    "EXITWITHTIMEOUT": ("timeout", 0, 2),
    "EXITEMPTY": ("timeout", 0, 2),
    "EXITWITHKEY": ("withdrawn", 1, 3),
    "WITHDRAW": ("withdrawn", 0, 2),
}
_COMPLETIONS = {
    "COMPLETECALLER": "caller",
    "COMPLETEAGENT": "agent",
    "TRANSFER": "transfer",
    "BLINDTRANSFER": "transfer",
    "ATTENDEDTRANSFER": "transfer",
}


@dataclass
class QueueVisit:
    """One caller's stay in one queue, as the queue_log tells it."""

    callid: str
    queue: str
    entered: datetime
    caller: str | None
    position_at_join: int | None
    outcome: str | None = None
    ended: datetime | None = None
    answered: datetime | None = None
    agent: str | None = None
    wait_seconds: float | None = None
    talk_seconds: float | None = None
    completed_by: str | None = None
    position_at_exit: int | None = None
    agents_rung: list[str] = field(default_factory=list)
    ring_no_answers: int = 0
    overflow_queue: str | None = None

    @property
    def finished(self) -> bool:
        return self.ended is not None


def read_visits(lines: Iterable[str], since: datetime) -> list[QueueVisit]:
    """Every queue visit that began at or after `since`, in the order they began; a line
    that is not a queue_log line is passed over."""
    visits: list[QueueVisit] = []
    current: dict[str, QueueVisit] = {}  # callid -> its latest visit
    floor = since.timestamp()
    for line in lines:
        fields = line.rstrip("\r\n").split("|")
        if len(fields) < 5 or not fields[0].isdigit():
            continue
        epoch = int(fields[0])
        if epoch < floor:
            continue
        callid, queue, agent, event, data = fields[1], fields[2], fields[3], fields[4], fields[5:]
        at = datetime.fromtimestamp(epoch, UTC)
        if event == "ENTERQUEUE":
            visit = QueueVisit(callid, queue, at, _at(data, 1) or None, _int(data, 2))
            previous = current.get(callid)
            if (
                previous is not None
                and previous.outcome in ("timeout", "withdrawn")
                and previous.queue != queue
                and previous.ended is not None
                and at - previous.ended <= OVERFLOW_WINDOW
            ):
                previous.overflow_queue = queue
            current[callid] = visit
            visits.append(visit)
            continue
        latest = current.get(callid)
        if latest is None or latest.queue != queue or latest.finished:
            continue
        _apply(latest, event, agent, data, at)
    return visits


def _apply(visit: QueueVisit, event: str, agent: str, data: list[str], at: datetime) -> None:
    if event == "RINGNOANSWER":
        visit.ring_no_answers += 1
        _rung(visit, agent)
    elif event == "CONNECT":
        visit.outcome, visit.agent, visit.answered = "answered", agent, at
        visit.wait_seconds = _float(data, 0)
        _rung(visit, agent)
    elif event in _COMPLETIONS and visit.answered is not None:
        visit.completed_by = _COMPLETIONS[event]
        visit.outcome = "transferred" if visit.completed_by == "transfer" else "answered"
        visit.ended = at
        talk = _float(data, 1) if event.startswith("COMPLETE") else None
        visit.talk_seconds = talk if talk is not None else (at - visit.answered).total_seconds()
    elif event in _EXITS and visit.answered is None:
        outcome, position, wait = _EXITS[event]
        visit.outcome, visit.ended = outcome, at
        visit.position_at_exit = _int(data, position)
        visit.wait_seconds = _float(data, wait)


def _rung(visit: QueueVisit, agent: str) -> None:
    if agent and agent != "NONE" and agent not in visit.agents_rung:
        visit.agents_rung.append(agent)


def _at(data: list[str], index: int) -> str:
    return data[index] if index < len(data) else ""


def _int(data: list[str], index: int) -> int | None:
    text = _at(data, index)
    return int(text) if text.isdigit() else None


def _float(data: list[str], index: int) -> float | None:
    try:
        return float(_at(data, index))
    except ValueError:
        return None


def visit_row(
    pbx: str, visit: QueueVisit, interfaces: Mapping[str, str], short_abandon_seconds: float
) -> Row:
    """The call_records row of a finished visit; `interfaces` maps member names (what the
    queue_log names agents by) to their interfaces where the live model knows them. An
    overflow (`visit.overflow_queue`) is marked afterwards, as for live records."""
    assert visit.ended is not None and visit.outcome is not None
    wait = visit.wait_seconds
    if wait is None:
        wait = ((visit.answered or visit.ended) - visit.entered).total_seconds()
    return {
        "pbx": pbx,
        "uniqueid": fit_column(visit.callid, "uniqueid"),
        "linkedid": None,
        "channel": None,
        "queue": fit_column(visit.queue, "queue"),
        "caller_number": fit_column(visit.caller, "caller_number"),
        "caller_name": None,
        "joined_at": visit.entered,
        "answered_at": visit.answered,
        "left_at": visit.answered or visit.ended,
        "ended_at": visit.ended,
        "wait_seconds": wait,
        "talk_seconds": visit.talk_seconds,
        "agents_rung": [interfaces.get(name, name) for name in visit.agents_rung],
        "ring_no_answer_count": visit.ring_no_answers,
        "answered_by": fit_column(
            None if visit.agent is None else interfaces.get(visit.agent, visit.agent), "answered_by"
        ),
        "answered_by_name": fit_column(visit.agent, "answered_by_name"),
        # The queue_log does not say who was signed in at the phone.
        "answered_by_user": None,
        "outcome": visit.outcome,
        "completed_by": visit.completed_by,
        "evidence": QUEUE_LOG_EVIDENCE,
        "queue_status": None,
        "short_abandon": (
            visit.outcome == "abandoned" and is_short_abandon(wait, short_abandon_seconds)
        ),
        "wrapup_seconds": None,
        "position_at_join": visit.position_at_join,
        "position_at_exit": visit.position_at_exit,
        "recording_ref": None,
        "ivr_data": {},
        "customer_id": None,
    }
