"""Pure decisions of the callback dialler (docs/work-items.md, "Callbacks").

Which due callbacks are taken this round, which agent is offered one, how an attempt ended
from the AMI events of its channel, and when (or whether) the customer is tried again. No
clock, no database, no PBX: every fact is passed in, so the dialler (``dialer.py``) is the
only place that talks to the outside.

AMI facts these rules rest on, seen on the rig's Asterisk 22 (Originate with ``Async: true``
and ``ChannelId`` = the service's id; the agent's channel dials the customer from the
outbound context):

- the agent answers: ``OriginateResponse`` ``Response: Success``, ``Reason: 4``, ``Uniqueid``
  = our ChannelId (right at the answer);
- the agent's phone rings out: ``OriginateResponse`` ``Response: Failure``, ``Reason: 3``, then
  ``Hangup`` cause 19 "User alerting, no answer" (busy: Reason 5, congestion: 8, hung up: 1);
- no such endpoint or channel technology: ``OriginateResponse`` ``Failure`` ``Reason: 0`` and
  no channel at all (no Newchannel, no Hangup); ``Uniqueid`` is still our ChannelId;
- a context or extension that does not exist, or a Channel without "/": refused at once
  (``Response: Error``, "Extension does not exist." / "Invalid channel"): the dialler's
  ``AmiRefused``;
- the customer's leg: ``DialEnd`` whose ``Uniqueid`` is the agent's channel (the dialling
  one), ``DialStatus`` ANSWER / BUSY / NOANSWER / CONGESTION / CHANUNAVAIL / CANCEL; the
  Originate's own ring of the agent's phone is a ``DialEnd`` with the agent's channel only as
  ``DestUniqueid`` (and no ``Uniqueid``), which is not the customer;
- a number the outbound context refuses: the agent answered, no DialEnd, ``Hangup`` of the
  agent's channel with the context's cause (1, "Unallocated (unassigned) number");
- the end: ``Hangup`` of the agent's channel (``Uniqueid`` = our ChannelId).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from callcenter.agents.scope import Team
from callcenter.work.ports import ReadyAgent

# Outcomes of an attempt (callback_attempts.outcome, ≤ 16 characters).
REACHED = "reached"
NOT_REACHED = "not-reached"
NO_ANSWER = "no-answer"
BUSY = "busy"
FAILED = "failed"
AGENT_MISSED = "agent-missed"
OUTCOMES = (REACHED, NOT_REACHED, NO_ANSWER, BUSY, FAILED, AGENT_MISSED)
# A try at the customer that did not reach them: retried, and counted towards ``attempts``.
UNSUCCESSFUL = frozenset({NOT_REACHED, NO_ANSWER, BUSY, FAILED})

# States of a schedule (work_callbacks.state).
WAITING = "waiting"
OFFERED = "offered"
DIALLING = "dialling"
DONE = "done"

UNREACHABLE = "unreachable"

# OriginateResponse Reason (Asterisk's AST_CONTROL_* of the agent's leg) when it failed.
_AGENT_LEG = {
    "1": "the agent's phone hung up",
    "3": "the agent's phone rang out",
    "5": "the agent's phone was busy",
    "8": "congestion at the agent's phone",
}


class OpenHours(Protocol):
    def is_open(self, at: datetime) -> bool: ...


# --- which callbacks this round -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DueCallback:
    """A callback whose time has come, with what the choice of an agent needs."""

    item_id: int
    queue: str | None
    owner_id: int | None
    team_id: int | None
    next_attempt_at: datetime | None


def callers_waiting(views: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Callers waiting by queue name (``(queue, callers_waiting)`` per PBX), over all PBXs."""
    waiting: dict[str, int] = {}
    for queue, count in views:
        waiting[queue] = waiting.get(queue, 0) + count
    return waiting


def take_due(
    due: Sequence[DueCallback],
    now: datetime,
    hours: OpenHours,
    waiting: Mapping[str, int],
    max_waiting: int,
) -> list[DueCallback]:
    """The callbacks to offer now, earliest first: due, within business hours, and only while
    the item's queue has no more than ``max_waiting`` callers waiting (callbacks never compete
    with a surge). An item with no queue is held back by nothing but the hours."""
    if not hours.is_open(now):
        return []
    taken = [
        callback
        for callback in due
        if (callback.next_attempt_at is None or callback.next_attempt_at <= now)
        and (callback.queue is None or waiting.get(callback.queue, 0) <= max_waiting)
    ]
    return sorted(taken, key=lambda c: (c.next_attempt_at or now, c.item_id))


def pick_agent(
    owner_id: int | None,
    team: Team | None,
    ready: Sequence[ReadyAgent],
    busy: Collection[int],
    passed: Collection[int] = (),
) -> ReadyAgent | None:
    """Who is offered the callback: the owner if ready, else the longest-ready member (or
    leader) of the item's team; without a team, the longest-ready agent. Never one who has an
    offer pending or a callback running (``busy``), nor one who let this item pass
    (``passed``: declined or let the offer run out)."""
    candidates = sorted(
        (agent for agent in ready if agent.user_id not in busy and agent.user_id not in passed),
        key=lambda agent: agent.since,
    )
    if owner_id is not None:
        for agent in candidates:
            if agent.user_id == owner_id:
                return agent
    for agent in candidates:
        if team is None or team.has(agent.user_id):
            return agent
    return None


# --- how an attempt went, from the AMI events of its channel ---------------------------------


@dataclass(frozen=True, slots=True)
class AttemptState:
    """What the PBX said so far of one attempt; ``outcome`` set once it ended."""

    channel_id: str
    agent_answered_at: datetime | None = None
    customer_answered_at: datetime | None = None
    dial_status: str | None = None
    ended_at: datetime | None = None
    outcome: str | None = None
    reason: str | None = None

    @property
    def ended(self) -> bool:
        return self.outcome is not None


TAPPED_EVENTS = frozenset({"Hangup", "DialEnd", "OriginateResponse"})


def concerns(
    fields: Mapping[str, str], channel_ids: Collection[str], action_ids: Mapping[str, str]
) -> str | None:
    """The channel id of our attempt this event is about, or None (cheap: the event path
    calls it for every event). Hangup and DialEnd count only as the agent's channel's own
    (``Uniqueid``): the Originate's ring of the agent's phone has it only as
    ``DestUniqueid``. OriginateResponse is matched by ``Uniqueid`` (our ChannelId, even when
    no channel was made) or else by the Originate's ActionID."""
    name = fields.get("Event")
    if name not in TAPPED_EVENTS:
        return None
    uniqueid = fields.get("Uniqueid")
    if uniqueid is not None and uniqueid in channel_ids:
        return uniqueid
    if name == "OriginateResponse":
        return action_ids.get(fields.get("ActionID", ""))
    return None


def apply_event(state: AttemptState, fields: Mapping[str, str], at: datetime) -> AttemptState:
    """Fold one AMI event of the attempt (matched by ``concerns``) into its state; an ended
    attempt is left as it is."""
    if state.ended:
        return state
    name = fields.get("Event")
    if name == "OriginateResponse":
        if fields.get("Response") == "Success":
            return replace(state, agent_answered_at=state.agent_answered_at or at)
        code = fields.get("Reason", "")
        if code in _AGENT_LEG:
            return _end(state, at, AGENT_MISSED, f"{_AGENT_LEG[code]} (Reason {code})")
        where = fields.get("Channel") or "the agent's phone"
        return _end(state, at, FAILED, f"the PBX could not call {where} (Reason {code or '?'})")
    if fields.get("Uniqueid") != state.channel_id:
        return state
    if name == "DialEnd":
        status = (fields.get("DialStatus") or "").upper()
        if status == "ANSWER":
            return replace(
                state, dial_status=status, customer_answered_at=state.customer_answered_at or at
            )
        return replace(state, dial_status=status or state.dial_status)
    if name == "Hangup":
        return hung_up(state, at, fields.get("Cause-txt") or fields.get("Cause") or "")
    return state


def hung_up(state: AttemptState, at: datetime, cause: str) -> AttemptState:
    """The agent's channel hung up: the attempt ends with what was seen before."""
    if state.ended:
        return state
    if state.customer_answered_at is not None:
        return _end(state, at, REACHED, None)
    if state.agent_answered_at is None:
        return _end(state, at, AGENT_MISSED, cause or "the agent's phone did not answer")
    status = state.dial_status
    if status == "BUSY":
        return _end(state, at, BUSY, status)
    if status == "NOANSWER":
        return _end(state, at, NO_ANSWER, status)
    if status:
        return _end(state, at, FAILED, status)
    # The agent answered and the outbound context dialled nobody: its hang-up cause.
    return _end(state, at, FAILED, cause or "the number was not dialled")


def lost(state: AttemptState, at: datetime, reason: str) -> AttemptState:
    """The attempt's channel is gone and its end was not seen (the service restarted, the AMI
    link was down): reached if the customer had answered, else failed (and retried)."""
    if state.ended:
        return state
    if state.customer_answered_at is not None:
        return _end(state, at, REACHED, reason)
    return _end(state, at, FAILED, reason)


def refused(state: AttemptState, at: datetime, message: str) -> AttemptState:
    """The PBX refused the Originate (or could not be asked): failed, in the PBX's words."""
    return state if state.ended else _end(state, at, FAILED, message)


def _end(state: AttemptState, at: datetime, outcome: str, reason: str | None) -> AttemptState:
    return replace(state, ended_at=at, outcome=outcome, reason=reason)


def talk_seconds(state: AttemptState) -> float | None:
    if state.customer_answered_at is None or state.ended_at is None:
        return None
    return max(0.0, (state.ended_at - state.customer_answered_at).total_seconds())


# --- what comes after an attempt ---------------------------------------------------------------


def final_outcome(pbx_outcome: str, reached: bool | None) -> str:
    """The attempt's outcome once the agent said whether the customer was reached: the agent
    is believed, but a try the PBX already called unsuccessful stays what the PBX said."""
    if reached is None:
        return pbx_outcome
    if reached:
        return REACHED
    return NOT_REACHED if pbx_outcome == REACHED else pbx_outcome


def tries_after(outcome: str, tries_before: int) -> int:
    """Tries at the customer used: every attempt but one the agent's phone missed."""
    return tries_before if outcome == AGENT_MISSED else tries_before + 1


@dataclass(frozen=True, slots=True)
class NextStep:
    state: str  # WAITING or DONE
    next_attempt_at: datetime | None
    tries: int
    # The last try was used without reaching the customer: resolve the item as unreachable.
    unreachable: bool = False


def next_step(
    outcome: str, tries: int, now: datetime, max_tries: int, retry_minutes: float
) -> NextStep:
    """When the customer is tried next, given the attempt's outcome and the tries used
    (including this attempt's). An agent who missed the offer's ring costs the customer no
    try: offered again at once (to another agent)."""
    if outcome == REACHED:
        return NextStep(DONE, None, tries)
    if outcome == AGENT_MISSED:
        return NextStep(WAITING, now, tries)
    if tries >= max_tries:
        return NextStep(DONE, None, tries, unreachable=True)
    return NextStep(WAITING, now + timedelta(minutes=retry_minutes), tries)


def describe(outcome: str, reason: str | None, attempt: int, number: str) -> str:
    """One line for the item's timeline."""
    words = {
        REACHED: "customer answered",
        NOT_REACHED: "customer not reached (the agent says)",
        NO_ANSWER: "customer did not answer",
        BUSY: "customer's line busy",
        FAILED: "call failed",
        AGENT_MISSED: "agent did not answer the callback's ring",
    }[outcome]
    text = f"Callback attempt {attempt} to {number}: {words}"
    return f"{text} ({reason})" if reason and outcome != REACHED else text
