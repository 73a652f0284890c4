"""Outbound calls (the callback dialler's) in the roll-ups: a reached customer is answered."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from callcenter.reports.rollup import CallFact, roll_calls

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_callback_that_reached_the_customer_counts_as_an_answered_outbound_call() -> None:
    at = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    calls = [
        # What the dialler writes: the attempt's outcome on an outbound record.
        CallFact("callback", at, "reached", "outbound", talk_seconds=90.0, answered_by_user=7),
        CallFact("callback", at, "no-answer", "outbound", answered_by_user=7),
        CallFact("callback", at, "agent-missed", "outbound"),
    ]
    rollup = roll_calls(calls, SHANGHAI, 20.0)
    day = rollup.days[date(2026, 12, 2)]
    assert (day.outbound, day.outbound_answered, day.talk_sum) == (3, 1, 90.0)
    agent = rollup.agents[(date(2026, 12, 2), 7)]
    assert (agent.outbound, agent.outbound_answered) == (2, 1)
    # Outbound calls are not offered inbound calls.
    assert (day.answered, day.abandoned) == (0, 0)
