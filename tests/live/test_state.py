"""The call lifecycle table and `transition()`, the one code that moves a call between phases."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from callcenter.live import Ignored, LiveModel
from callcenter.live.state import (
    TRANSITIONS,
    Call,
    IllegalTransition,
    Phase,
    Trigger,
    transition,
)
from tests.live import amitrace as ami

ROWS = sorted(TRANSITIONS.items(), key=lambda row: (row[0][0].value, row[0][1].value))
NOT_IN_TABLE = [
    (phase, trigger)
    for phase in Phase
    for trigger in Trigger
    if (phase, trigger) not in TRANSITIONS
]


def new_call() -> Call:
    return Call(1, "pbx-a", "1741000000.1", "support", ami.T0, 1)


def path_to(target: Phase) -> list[Trigger]:
    """The shortest trigger path from a new call's phase to `target`, found in the table."""
    paths: dict[Phase, list[Trigger]] = {new_call().phase: []}
    frontier = list(paths)
    while frontier:
        phase = frontier.pop(0)
        for (source, trigger), reached in TRANSITIONS.items():
            if source is phase and reached not in paths:
                paths[reached] = [*paths[phase], trigger]
                frontier.append(reached)
    if target not in paths:
        raise LookupError(f"{target} cannot be reached")
    return paths[target]


def call_in(phase: Phase) -> Call:
    """A call brought to `phase` the only legal way: through the table."""
    call = new_call()
    for trigger in path_to(phase):
        transition(call, trigger)
    return call


def state_of(call: Call) -> dict[str, Any]:
    return {name: copy.deepcopy(getattr(call, name)) for name in Call.__slots__}


def test_every_phase_is_reachable_and_ended_is_final() -> None:
    for phase in Phase:
        assert call_in(phase).phase is phase
    assert not [row for row in TRANSITIONS if row[0] is Phase.ENDED]


@pytest.mark.parametrize(
    ("row", "expected"), ROWS, ids=[f"{p.value}-{t.value}" for (p, t), _ in ROWS]
)
def test_transition_assigns_the_tables_result(row: tuple[Phase, Trigger], expected: Phase) -> None:
    phase, trigger = row
    call = call_in(phase)
    assert transition(call, trigger) is expected
    assert call.phase is expected


@pytest.mark.parametrize(
    ("phase", "trigger"), NOT_IN_TABLE, ids=[f"{p.value}-{t.value}" for p, t in NOT_IN_TABLE]
)
def test_an_illegal_transition_raises_and_leaves_the_call_as_it_was(
    phase: Phase, trigger: Trigger
) -> None:
    call = call_in(phase)
    call.agents_rung.append("PJSIP/8001")
    call.ivr["CC_MENU"] = "2"
    before = state_of(call)
    with pytest.raises(IllegalTransition) as raised:
        transition(call, trigger)
    assert (raised.value.phase, raised.value.trigger) == (phase, trigger)
    assert state_of(call) == before


def test_the_model_ignores_an_illegal_event_and_keeps_the_call() -> None:
    # A Complete for a call still WAITING has no row: only an answered (or LEFT) call completes.
    model = LiveModel()
    pbx = ami.Pbx(model)
    caller, alice = ami.Caller("1741000000.7", "700"), ami.Agent("PJSIP/8001", "Alice")
    pbx.send(ami.join(pbx.at(1), "support", caller, 1, 1))
    before = model.snapshot()
    (ignored,) = pbx.send(
        ami.complete(pbx.at(2), "support", caller, alice, alice.leg(), 0, 30, "caller")
    )
    assert isinstance(ignored, Ignored) and ignored.reason == "complete while waiting"
    after = model.snapshot()
    assert (after.queues, after.calls) == (before.queues, before.calls)
    assert [c.phase for c in after.calls] == ["waiting"]
