"""A transfer's life as data (callcenter/transfers/flow.py): the moves each mode allows, that
an ended transfer accepts nothing (a late or repeated PBX report cannot move it), and how
Dial()'s DIALSTATUS is told in the room's words. Pure: no database, no clock."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.transfers.flow import (
    ACTIVE,
    LEG_END,
    Mode,
    NotNow,
    Result,
    State,
    Trigger,
    advance,
    dial_result,
)

ENDED = (State.DONE, State.CANCELLED, State.FAILED)
# What the FastAGI routes and the caller's Hangup can report at any time.
REPORTS = (Trigger.ANSWERED, Trigger.QUEUED, Trigger.UNANSWERED, Trigger.CALLER_GONE)


def run(mode: Mode, triggers: Sequence[Trigger]) -> State:
    """The state after each trigger in turn from ``requested``; NotNow if one does not fit."""
    state = State.REQUESTED
    for trigger in triggers:
        state = advance(mode, state, trigger)
    return state


def settle(mode: Mode, state: State, trigger: Trigger) -> State:
    """What the desk does with a report: move when it fits, else stay (NotNow)."""
    try:
        return advance(mode, state, trigger)
    except NotNow:
        return state


# --- the paths each mode allows -----------------------------------------------------------

T = Trigger


@pytest.mark.parametrize(
    ("mode", "triggers", "end"),
    [
        # blind: the target picks up, or the caller joins the target queue
        (Mode.BLIND, [T.SENT, T.ANSWERED], State.DONE),
        (Mode.BLIND, [T.SENT, T.QUEUED], State.DONE),
        (Mode.BLIND, [T.SENT, T.UNANSWERED], State.FAILED),
        # the FastAGI report overtook the BlindTransfer's answer
        (Mode.BLIND, [T.ANSWERED], State.DONE),
        (Mode.BLIND, [T.QUEUED], State.DONE),
        (Mode.BLIND, [T.UNANSWERED], State.FAILED),
        # warm: consult, then complete or go back
        (Mode.WARM, [T.SENT, T.ANSWERED, T.COMPLETE], State.DONE),
        (Mode.WARM, [T.SENT, T.ANSWERED, T.CANCEL], State.CANCELLED),
        (Mode.WARM, [T.SENT, T.CANCEL], State.CANCELLED),
        (Mode.WARM, [T.CANCEL], State.CANCELLED),
        (Mode.WARM, [T.SENT, T.UNANSWERED], State.FAILED),
        (Mode.WARM, [T.ANSWERED, T.COMPLETE], State.DONE),
        # the target hung up during the consultation: back with the caller
        (Mode.WARM, [T.SENT, T.ANSWERED, T.UNANSWERED], State.CANCELLED),
        (Mode.WARM, [T.SENT, T.ANSWERED, T.CALLER_GONE], State.FAILED),
        # conference: the third party joins, then leaves or is let go
        (Mode.CONFERENCE, [T.SENT, T.ANSWERED, T.ENDED], State.DONE),
        (Mode.CONFERENCE, [T.SENT, T.ANSWERED, T.CANCEL], State.DONE),
        (Mode.CONFERENCE, [T.SENT, T.ANSWERED, T.CALLER_GONE], State.DONE),
        (Mode.CONFERENCE, [T.ANSWERED, T.ENDED], State.DONE),
        (Mode.CONFERENCE, [T.SENT, T.UNANSWERED], State.FAILED),
        (Mode.CONFERENCE, [T.SENT, T.CANCEL], State.CANCELLED),
        # hold: on hold, then back
        (Mode.HOLD, [T.SENT, T.RESUME], State.DONE),
        (Mode.HOLD, [T.SENT, T.CALLER_GONE], State.DONE),
    ],
)
def test_each_mode_reaches_its_end(mode: Mode, triggers: list[Trigger], end: State) -> None:
    assert run(mode, triggers) is end


@pytest.mark.parametrize(
    ("mode", "triggers", "states"),
    [
        (Mode.BLIND, [T.SENT], [State.RINGING]),
        (Mode.WARM, [T.SENT, T.ANSWERED], [State.RINGING, State.CONSULTING]),
        (Mode.CONFERENCE, [T.SENT, T.ANSWERED], [State.RINGING, State.CONFERENCE]),
        (Mode.HOLD, [T.SENT], [State.HOLDING]),
    ],
)
def test_the_states_on_the_way_are_active(
    mode: Mode, triggers: list[Trigger], states: list[State]
) -> None:
    state = State.REQUESTED
    seen = []
    for trigger in triggers:
        state = advance(mode, state, trigger)
        seen.append(state)
    assert seen == states
    assert all(s in ACTIVE for s in seen)


@pytest.mark.parametrize("mode", list(Mode))
def test_a_refused_action_fails_the_transfer(mode: Mode) -> None:
    assert advance(mode, State.REQUESTED, Trigger.REFUSED) is State.FAILED


@pytest.mark.parametrize("mode", list(Mode))
def test_the_caller_hanging_up_before_the_pbx_answered_fails_it(mode: Mode) -> None:
    assert advance(mode, State.REQUESTED, Trigger.CALLER_GONE) is State.FAILED


@pytest.mark.parametrize("mode", [Mode.BLIND, Mode.WARM, Mode.CONFERENCE])
def test_the_caller_hanging_up_while_the_target_rings_fails_it(mode: Mode) -> None:
    assert run(mode, [T.SENT, T.CALLER_GONE]) is State.FAILED


@pytest.mark.parametrize(
    ("mode", "triggers", "refused"),
    [
        # a consultation is completed only once the target answered
        (Mode.WARM, [T.SENT], T.COMPLETE),
        (Mode.WARM, [], T.COMPLETE),
        # a blind transfer cannot be taken back, nor is it consulted
        (Mode.BLIND, [T.SENT], T.CANCEL),
        (Mode.BLIND, [T.SENT], T.COMPLETE),
        # a warm transfer never goes into a queue
        (Mode.WARM, [T.SENT], T.QUEUED),
        # the PBX refuses only what it was just sent
        (Mode.BLIND, [T.SENT], T.REFUSED),
        (Mode.WARM, [T.SENT, T.ANSWERED], T.REFUSED),
        (Mode.HOLD, [T.SENT], T.REFUSED),
        # nobody answers a hold; a hold is not resumed before it started
        (Mode.HOLD, [T.SENT], T.ANSWERED),
        (Mode.HOLD, [], T.RESUME),
        (Mode.HOLD, [T.SENT], T.CANCEL),
        # the action is sent once
        (Mode.WARM, [T.SENT], T.SENT),
        (Mode.HOLD, [T.SENT], T.SENT),
        # a conference that is up is not answered again
        (Mode.CONFERENCE, [T.SENT, T.ANSWERED], T.ANSWERED),
    ],
)
def test_a_trigger_that_does_not_fit_is_not_now(
    mode: Mode, triggers: list[Trigger], refused: Trigger
) -> None:
    state = run(mode, triggers)
    with pytest.raises(NotNow) as caught:
        advance(mode, state, refused)
    assert (caught.value.state, caught.value.trigger) == (state, refused)
    assert str(caught.value) == f"{refused.value} while {mode.value} transfer is {state.value}"


# --- ended is ended -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(Mode))
@pytest.mark.parametrize("ended", ENDED)
@pytest.mark.parametrize("trigger", list(Trigger))
def test_an_ended_transfer_accepts_nothing(mode: Mode, ended: State, trigger: Trigger) -> None:
    with pytest.raises(NotNow) as caught:
        advance(mode, ended, trigger)
    assert caught.value.state is ended
    assert caught.value.trigger is trigger


def test_every_state_is_active_or_ended() -> None:
    assert set(ACTIVE) | set(ENDED) == set(State)
    assert not set(ACTIVE) & set(ENDED)


@pytest.mark.parametrize(
    ("mode", "triggers"),
    [
        (Mode.BLIND, [T.SENT, T.ANSWERED]),
        (Mode.BLIND, [T.SENT, T.UNANSWERED]),
        (Mode.BLIND, [T.SENT, T.QUEUED]),
        (Mode.WARM, [T.SENT, T.ANSWERED, T.COMPLETE]),
        (Mode.WARM, [T.SENT, T.CANCEL]),
        (Mode.CONFERENCE, [T.SENT, T.ANSWERED, T.ENDED]),
        (Mode.HOLD, [T.SENT, T.RESUME]),
    ],
)
def test_a_late_pbx_report_after_the_end_changes_nothing(
    mode: Mode, triggers: list[Trigger]
) -> None:
    ended = run(mode, triggers)
    assert ended in ENDED
    # A second FastAGI call, the Dial's end after the transfer completed, the caller's Hangup.
    state = ended
    for report in (*REPORTS, *REPORTS):
        state = settle(mode, state, report)
    assert state is ended


@settings(max_examples=400, deadline=None)
@given(
    mode=st.sampled_from(list(Mode)),
    triggers=st.lists(st.sampled_from(list(Trigger)), max_size=12),
)
def test_no_sequence_of_triggers_leaves_an_ended_state(mode: Mode, triggers: list[Trigger]) -> None:
    state = State.REQUESTED
    ended_at: State | None = None
    for trigger in triggers:
        before = state
        state = settle(mode, state, trigger)
        if ended_at is not None:
            assert state is ended_at, f"{trigger.value} moved an ended transfer"
        elif state in ENDED:
            ended_at = state
        # Nothing moves a transfer back to requested.
        if state is not before:
            assert state is not State.REQUESTED


@settings(max_examples=200, deadline=None)
@given(
    mode=st.sampled_from(list(Mode)),
    triggers=st.lists(st.sampled_from(list(Trigger)), max_size=12),
)
def test_a_hold_is_never_ringing_and_a_transfer_never_holding(
    mode: Mode, triggers: list[Trigger]
) -> None:
    state = State.REQUESTED
    for trigger in triggers:
        state = settle(mode, state, trigger)
        if mode is Mode.HOLD:
            assert state not in (State.RINGING, State.CONSULTING, State.CONFERENCE)
        else:
            assert state is not State.HOLDING
        if mode is not Mode.WARM:
            assert state is not State.CONSULTING
        if mode is not Mode.CONFERENCE:
            assert state is not State.CONFERENCE


# --- DIALSTATUS ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dialstatus", "result"),
    [
        ("BUSY", Result.BUSY),
        ("NOANSWER", Result.NO_ANSWER),
        ("CANCEL", Result.NO_ANSWER),
        ("CHANUNAVAIL", Result.UNREACHABLE),
        ("CONGESTION", Result.UNREACHABLE),
        ("DONTCALL", Result.UNREACHABLE),
        ("INVALIDARGS", Result.UNREACHABLE),
        ("", Result.UNREACHABLE),
        # the dialplan passes ${DIALSTATUS} as it is; the case does not matter
        ("busy", Result.BUSY),
        ("NoAnswer", Result.NO_ANSWER),
    ],
)
def test_dial_result_names_why_the_target_was_not_reached(dialstatus: str, result: Result) -> None:
    assert dial_result(dialstatus) is result


def test_the_results_are_the_words_the_api_shows() -> None:
    assert [dial_result(s).value for s in ("BUSY", "NOANSWER", "CHANUNAVAIL")] == [
        "busy",
        "no-answer",
        "unreachable",
    ]


def test_the_transferring_agents_leg_ends_by_mode() -> None:
    assert LEG_END == {Mode.BLIND: "transferred-blind", Mode.WARM: "transferred-attended"}
