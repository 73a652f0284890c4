"""A transfer's life, as data: states, what moves it, and how it ended.

Every console action the room sends to the PBX is one ``Transfer`` row; its state moves only
through ``advance(mode, state, trigger)``, from the table below, so a late or repeated
report (a second FastAGI call, a Hangup after the end) can never move an ended transfer::

    blind:      requested ─sent─▶ ringing ─answered─▶ done (completed)
                    │                │ ─queued──▶ done (queued: the caller waits in the queue)
                    │                └ unanswered ─▶ failed (busy / no-answer / unreachable;
                    │                                 the dialplan puts the caller back)
    warm:       requested ─sent─▶ ringing ─answered─▶ consulting ─complete─▶ done
                                     │                    └ cancel ─▶ cancelled (back)
                                     └ unanswered / cancel ─▶ failed / cancelled (back)
    conference: requested ─sent─▶ ringing ─answered─▶ conference ─ended─▶ done
    hold:       requested ─sent─▶ holding ─resume─▶ done
    any active: refused (the PBX said no) ─▶ failed;  caller-gone ─▶ failed (caller-hung-up)
    warm, the agent hangs up (ringing or consulting): agent-gone ─▶ done (Asterisk completes)
    hold, the agent hangs up: agent-gone ─▶ failed (the caller is put back into the queue)
    no report long after one was due (ringing, requested): timed-out ─▶ failed (no-report)

Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

import enum


class Mode(enum.StrEnum):
    BLIND = "blind"
    WARM = "warm"
    CONFERENCE = "conference"
    HOLD = "hold"


class State(enum.StrEnum):
    REQUESTED = "requested"
    RINGING = "ringing"
    CONSULTING = "consulting"
    CONFERENCE = "conference"
    HOLDING = "holding"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


ACTIVE = frozenset(
    {State.REQUESTED, State.RINGING, State.CONSULTING, State.CONFERENCE, State.HOLDING}
)


class Trigger(enum.StrEnum):
    SENT = "sent"  # the PBX took the action
    REFUSED = "refused"  # the PBX did not
    ANSWERED = "answered"  # the target picked up
    QUEUED = "queued"  # the caller joined the target queue
    UNANSWERED = "unanswered"  # busy, no answer, unreachable
    COMPLETE = "complete"  # the agent completed the warm transfer
    CANCEL = "cancel"  # the agent went back to the caller
    RESUME = "resume"  # off hold
    ENDED = "ended"  # the conference's third party left
    CALLER_GONE = "caller-gone"  # the caller hung up
    AGENT_GONE = "agent-gone"  # the transferring agent hung up their phone
    TIMED_OUT = "timed-out"  # no report from the PBX long after it should have come


class Result(enum.StrEnum):
    COMPLETED = "completed"
    QUEUED = "queued"
    CANCELLED = "cancelled"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    UNREACHABLE = "unreachable"
    REFUSED = "pbx-refused"
    CALLER_HUNG_UP = "caller-hung-up"
    AGENT_HUNG_UP = "agent-hung-up"
    QUEUE_REFUSED = "queue-refused"
    NO_REPORT = "no-report"
    RESUMED = "resumed"
    LEFT = "left"


_R, _RI, _CO, _CF, _H = (
    State.REQUESTED,
    State.RINGING,
    State.CONSULTING,
    State.CONFERENCE,
    State.HOLDING,
)
_DONE, _CAN, _FAIL = State.DONE, State.CANCELLED, State.FAILED

_COMMON: dict[tuple[State, Trigger], State] = {
    (_R, Trigger.REFUSED): _FAIL,
    (_R, Trigger.CALLER_GONE): _FAIL,
    (_RI, Trigger.CALLER_GONE): _FAIL,
    (_R, Trigger.TIMED_OUT): _FAIL,
    (_RI, Trigger.TIMED_OUT): _FAIL,
}

TABLE: dict[Mode, dict[tuple[State, Trigger], State]] = {
    Mode.BLIND: {
        **_COMMON,
        (_R, Trigger.SENT): _RI,
        # The FastAGI report may overtake the action's answer.
        (_R, Trigger.ANSWERED): _DONE,
        (_R, Trigger.QUEUED): _DONE,
        (_R, Trigger.UNANSWERED): _FAIL,
        (_RI, Trigger.ANSWERED): _DONE,
        (_RI, Trigger.QUEUED): _DONE,
        (_RI, Trigger.UNANSWERED): _FAIL,
    },
    Mode.WARM: {
        **_COMMON,
        (_R, Trigger.SENT): _RI,
        (_R, Trigger.ANSWERED): _CO,
        (_R, Trigger.UNANSWERED): _FAIL,
        (_R, Trigger.CANCEL): _CAN,
        (_RI, Trigger.ANSWERED): _CO,
        (_RI, Trigger.UNANSWERED): _FAIL,
        (_RI, Trigger.CANCEL): _CAN,
        (_CO, Trigger.COMPLETE): _DONE,
        (_CO, Trigger.CANCEL): _CAN,
        # The target hung up during the consultation: the agent is back with the caller.
        (_CO, Trigger.UNANSWERED): _CAN,
        (_CO, Trigger.CALLER_GONE): _FAIL,
        # The agent hung up their phone: Asterisk completes the attended transfer (a target
        # still ringing gets the caller when they answer).
        (_RI, Trigger.AGENT_GONE): _DONE,
        (_CO, Trigger.AGENT_GONE): _DONE,
    },
    Mode.CONFERENCE: {
        **_COMMON,
        (_R, Trigger.SENT): _RI,
        (_R, Trigger.ANSWERED): _CF,
        (_RI, Trigger.ANSWERED): _CF,
        (_RI, Trigger.UNANSWERED): _FAIL,
        (_RI, Trigger.CANCEL): _CAN,
        (_CF, Trigger.ENDED): _DONE,
        (_CF, Trigger.CANCEL): _DONE,
        (_CF, Trigger.CALLER_GONE): _DONE,
        (_CF, Trigger.TIMED_OUT): _DONE,
    },
    Mode.HOLD: {
        (_R, Trigger.SENT): _H,
        (_R, Trigger.REFUSED): _FAIL,
        (_R, Trigger.CALLER_GONE): _FAIL,
        (_H, Trigger.RESUME): _DONE,
        (_H, Trigger.CALLER_GONE): _DONE,
        # The agent hung up on hold: the service puts the caller back into their queue.
        (_H, Trigger.AGENT_GONE): _FAIL,
        (_R, Trigger.TIMED_OUT): _FAIL,
    },
}


class NotNow(Exception):
    """A trigger that does not fit the transfer's state: nothing changes."""

    def __init__(self, mode: Mode, state: State, trigger: Trigger) -> None:
        super().__init__(f"{trigger.value} while {mode.value} transfer is {state.value}")
        self.state = state
        self.trigger = trigger


def advance(mode: Mode, state: State, trigger: Trigger) -> State:
    """The next state, or ``NotNow``."""
    try:
        return TABLE[mode][(state, trigger)]
    except KeyError:
        raise NotNow(mode, state, trigger) from None


def dial_result(dialstatus: str) -> Result:
    """Dial()'s DIALSTATUS of a target that was not reached, in the room's words."""
    status = dialstatus.upper()
    if status == "BUSY":
        return Result.BUSY
    if status in {"NOANSWER", "CANCEL"}:
        return Result.NO_ANSWER
    return Result.UNREACHABLE  # CHANUNAVAIL, CONGESTION, DONTCALL, INVALIDARGS, ""


# How the transferring agent's leg ended, by mode, when the transfer completed.
LEG_END = {Mode.BLIND: "transferred-blind", Mode.WARM: "transferred-attended"}
