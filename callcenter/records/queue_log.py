"""Asterisk's own queue_log read back into call records, for calls no process of ours saw.

A call that joins and ends while the service is stopped (or its AMI link is down) leaves no
AMI event to hear later and is in no resync snapshot: the queue_log is the only place it is
written down. Pure: lines in, finished visits and their call_records rows out.

Line format (app_queue, Asterisk 22): ``epoch|callid|queue|agent|event|data1|data2|...``, the
callid being the caller channel's Uniqueid, the agent the member's name.

A caller's later visits keep its callid, so the visits of one channel are told apart by queue,
and each leg is decided as the live model (``callcenter/live/model.py``) and the records room
(``callcenter/records/room.py``) decide it, whether or not the service was running:

* taken out of a queue by a Redirect (the routing room's moves, or any other AMI client):
  Asterisk logs ``ABANDON`` there, as for a hang-up, then ``ENTERQUEUE`` wherever the channel
  goes next. The live model ends such a leg when the same channel joins again within its exit
  grace (``LiveConfig.exit_grace_seconds``, 2 s): a ``timeout`` (evidence ``rejoin``), and the
  records room marks it ``overflowed`` to the next queue (a rejoin in the same queue stays a
  timeout). No rejoin within the grace: ``abandoned``, and it stays so whatever joins later.
  A hung-up channel never joins again.
* answered, then transferred (``BLINDTRANSFER``, ``ATTENDEDTRANSFER``, the old ``TRANSFER``):
  ``transferred``, ``completed_by`` ``transfer``, the talk time Asterisk's own (its
  AgentComplete's TalkTime); where the caller goes next is a visit of its own.
* timed out, left empty (``EXITWITHTIMEOUT``, ``EXITEMPTY``), withdrawn (``WITHDRAW``) or left
  with a key (``EXITWITHKEY``), then joined another queue within ``OVERFLOW_WINDOW``:
  ``overflowed`` there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from callcenter.kpi import is_short_abandon
from callcenter.live.state import LiveConfig
from callcenter.records.rows import OVERFLOW_WINDOW, OVERFLOWABLE, Row, fit_column

__all__ = ["QUEUE_LOG_EVIDENCE", "REJOIN_GRACE", "QueueVisit", "read_visits", "visit_row"]

QUEUE_LOG_EVIDENCE = "queue_log"

# An ABANDON whose channel joins a queue again within this long was no hang-up but a move: the
# live model's exit grace (the service runs the model with LiveConfig's default). Compared in
# the queue_log's whole seconds: ENTERQUEUE at most 2 s after the ABANDON (a Redirect's next
# join comes within milliseconds; the live model draws the line at 2 s of PBX time).
REJOIN_GRACE = timedelta(seconds=LiveConfig().exit_grace_seconds)

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
    latest: dict[str, QueueVisit] = {}  # callid -> its latest visit
    # (callid, queue) -> its visit there: a line of the previous queue written after the
    # ENTERQUEUE of the next one (a transfer's, logged from another thread) still finds it.
    visiting: dict[tuple[str, str], QueueVisit] = {}
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
            previous = latest.get(callid)
            if previous is not None:
                _joined_again(previous, queue, at)
            latest[callid] = visiting[(callid, queue)] = visit
            visits.append(visit)
            continue
        found = visiting.get((callid, queue))
        if found is None or found.finished:
            continue
        _apply(found, event, agent, data, at)
    return visits


def _joined_again(previous: QueueVisit, queue: str, at: datetime) -> None:
    """The channel of `previous` joined `queue` at `at`: what that says of its last exit."""
    if previous.ended is None or previous.answered is not None:
        return
    since_exit = at - previous.ended
    if previous.outcome == "abandoned" and since_exit <= REJOIN_GRACE:
        # Alive, so no hang-up: redirected out (the live model: a timeout, evidence rejoin).
        previous.outcome = "timeout"
    if (
        previous.outcome in OVERFLOWABLE
        and previous.queue != queue
        and since_exit <= OVERFLOW_WINDOW
    ):
        previous.overflow_queue = queue


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
        # COMPLETE*: holdtime|calltime|origpos. The transfers end with holdtime|calltime|
        # origpos after where the call went, itself one field (BLINDTRANSFER exten|context)
        # or more (ATTENDEDTRANSFER BRIDGE|id, APP|name, LINK|channel|channel).
        talk = _float(data, 1 if event.startswith("COMPLETE") else len(data) - 2)
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
    return data[index] if 0 <= index < len(data) else ""


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
