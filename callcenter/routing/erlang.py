"""Predicted wait of a new caller: Erlang C plus the backlog already waiting.

Written here rather than taken from PyPI: `pyworkforce` (the maintained Erlang library) pulls
in ortools, pandas and numpy (~270 MB) for a dozen lines, offers no expected-wait function and
returned a "probability" above 1 for an overloaded queue; `erlangccmath` computes remotely
(HTTP calls to a vendor API). The formula is textbook (Erlang B by its stable recurrence, then
C = B / (1 - occupancy * (1 - B))).
"""

from __future__ import annotations

# Waits are capped here: "no agent will ever come" must still be a finite, storable number.
MAX_WAIT_SECONDS = 86_400.0


def erlang_c(agents: int, traffic: float) -> float:
    """Probability that a caller has to wait, for `traffic` erlangs offered to `agents`."""
    if agents <= 0 or traffic >= agents:
        return 1.0
    if traffic <= 0:
        return 0.0
    erlang_b = 1.0
    for n in range(1, agents + 1):
        erlang_b = traffic * erlang_b / (n + traffic * erlang_b)
    occupancy = traffic / agents
    return erlang_b / (1 - occupancy * (1 - erlang_b))


def expected_wait(agents: int, arrivals_per_second: float, handle_seconds: float) -> float:
    """Erlang C average speed of answer (seconds) in the steady state."""
    traffic = arrivals_per_second * handle_seconds
    if agents <= 0 or traffic >= agents:
        return MAX_WAIT_SECONDS
    wait = erlang_c(agents, traffic) * handle_seconds / (agents - traffic)
    return min(wait, MAX_WAIT_SECONDS)


def predicted_wait(
    agents: int, waiting: int, arrivals_per_second: float, handle_seconds: float | None
) -> float | None:
    """What a caller joining now can expect; None while no handle time is known.

    The steady state ignores a queue that has already built up, so the backlog (every waiting
    caller served before the new one, `agents` at a time) is a floor.
    """
    if handle_seconds is None or handle_seconds <= 0:
        return None
    if agents <= 0:
        return MAX_WAIT_SECONDS
    backlog = waiting * handle_seconds / agents
    return min(
        max(expected_wait(agents, arrivals_per_second, handle_seconds), backlog), MAX_WAIT_SECONDS
    )
