"""The callback dialler's pure rules: which callbacks are taken, who is offered one, how an
attempt ended (from AMI events as the rig's Asterisk 22 sends them) and what comes next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.agents.scope import Team
from callcenter.work import callbacks as rules
from callcenter.work.callbacks import AttemptState, DueCallback
from callcenter.work.ports import ReadyAgent

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
CH = "cc-cb-0123"


class Hours:
    def __init__(self, open_: bool) -> None:
        self.open = open_

    def is_open(self, at: datetime) -> bool:
        return self.open


def due(item_id: int, queue: str | None = "support", minutes_ago: float = 1) -> DueCallback:
    return DueCallback(item_id, queue, None, None, NOW - timedelta(minutes=minutes_ago))


def agent(user_id: int, since_minutes: float) -> ReadyAgent:
    return ReadyAgent(
        user_id, "rig", f"PJSIP/10{user_id:02d}", NOW - timedelta(minutes=since_minutes)
    )


TEAM = Team(
    1,
    "first-line",
    "一线",
    "First line",
    frozenset({"support"}),
    frozenset({2, 3, 4}),
    frozenset({9}),
)


# --- which callbacks ------------------------------------------------------------------------


def test_due_callbacks_are_taken_earliest_first_within_hours() -> None:
    later = DueCallback(2, "support", None, None, NOW - timedelta(minutes=1))
    earlier = DueCallback(3, "support", None, None, NOW - timedelta(minutes=9))
    future = DueCallback(4, "support", None, None, NOW + timedelta(minutes=1))
    taken = rules.take_due([later, earlier, future], NOW, Hours(True), {}, 0)
    assert [c.item_id for c in taken] == [3, 2]
    assert rules.take_due([later, earlier], NOW, Hours(False), {}, 0) == []


def test_a_queue_with_more_callers_waiting_than_allowed_holds_its_callbacks_back() -> None:
    waiting = rules.callers_waiting([("support", 2), ("support", 1), ("sales", 0)])
    assert waiting == {"support": 3, "sales": 0}
    items = [due(1, "support"), due(2, "sales"), due(3, None)]
    assert [c.item_id for c in rules.take_due(items, NOW, Hours(True), waiting, 0)] == [1, 2, 3][1:]
    assert [c.item_id for c in rules.take_due(items, NOW, Hours(True), waiting, 3)] == [1, 2, 3]


# --- who is offered -------------------------------------------------------------------------


def test_the_owner_is_offered_first_when_ready() -> None:
    ready = [agent(2, 30), agent(3, 10)]
    assert rules.pick_agent(3, TEAM, ready, busy=set()).user_id == 3  # type: ignore[union-attr]


def test_else_the_longest_ready_member_of_the_team_who_is_not_busy_nor_passed() -> None:
    ready = [agent(3, 10), agent(5, 90), agent(2, 30), agent(4, 20), agent(9, 5)]
    # 5 is ready longest but not in the team; 7 (the owner) is not ready.
    assert rules.pick_agent(7, TEAM, ready, busy=set()).user_id == 2  # type: ignore[union-attr]
    assert rules.pick_agent(7, TEAM, ready, busy={2}).user_id == 4  # type: ignore[union-attr]
    assert rules.pick_agent(7, TEAM, ready, busy={2}, passed={4}).user_id == 3  # type: ignore[union-attr]
    # Leaders count as the team's people too.
    assert rules.pick_agent(None, TEAM, ready, busy={2, 3, 4}).user_id == 9  # type: ignore[union-attr]
    assert rules.pick_agent(None, TEAM, ready, busy={2, 3, 4, 9}) is None


def test_an_owner_with_an_offer_pending_is_not_offered_another() -> None:
    ready = [agent(2, 30), agent(3, 10)]
    assert rules.pick_agent(3, TEAM, ready, busy={3}).user_id == 2  # type: ignore[union-attr]


def test_without_a_team_the_longest_ready_agent() -> None:
    ready = [agent(3, 10), agent(5, 90)]
    assert rules.pick_agent(None, None, ready, busy=set()).user_id == 5  # type: ignore[union-attr]


# --- how an attempt ended (events as seen on the rig) ------------------------------------------


def ev(name: str, **fields: str) -> dict[str, str]:
    return {"Event": name, **fields}


ORIGINATED = ev("OriginateResponse", Response="Success", Reason="4", Uniqueid=CH, ActionID="a1")
AGENT_RING_END = ev("DialEnd", DestUniqueid=CH, DialStatus="ANSWER")  # the Originate's own


def fold(*events: dict[str, str]) -> AttemptState:
    state = AttemptState(CH)
    for offset, fields in enumerate(events):
        assert rules.concerns(fields, {CH}, {"a1": CH}) in (CH, None)
        if rules.concerns(fields, {CH}, {"a1": CH}) == CH:
            state = rules.apply_event(state, fields, NOW + timedelta(seconds=offset))
    return state


def test_the_customer_answered_and_talked() -> None:
    state = fold(
        AGENT_RING_END,
        ORIGINATED,
        ev("DialEnd", Uniqueid=CH, DestUniqueid="x.1", DialStatus="ANSWER"),
        ev("Hangup", Uniqueid="x.1", Cause="16", **{"Cause-txt": "Normal Clearing"}),
        ev("Hangup", Uniqueid=CH, Cause="16", **{"Cause-txt": "Normal Clearing"}),
    )
    assert state.outcome == rules.REACHED and state.reason is None
    assert state.agent_answered_at == NOW + timedelta(seconds=1)
    assert state.customer_answered_at == NOW + timedelta(seconds=2)
    assert state.ended_at == NOW + timedelta(seconds=4)
    assert rules.talk_seconds(state) == 2.0


@pytest.mark.parametrize(
    ("status", "outcome", "reason"),
    [
        ("NOANSWER", rules.NO_ANSWER, "NOANSWER"),
        ("BUSY", rules.BUSY, "BUSY"),
        ("CONGESTION", rules.FAILED, "CONGESTION"),
        ("CHANUNAVAIL", rules.FAILED, "CHANUNAVAIL"),
        ("CANCEL", rules.FAILED, "CANCEL"),
    ],
)
def test_the_customer_leg_status_names_the_outcome(status: str, outcome: str, reason: str) -> None:
    state = fold(
        ORIGINATED,
        ev("DialEnd", Uniqueid=CH, DialStatus=status),
        ev("Hangup", Uniqueid=CH, Cause="16", **{"Cause-txt": "Normal Clearing"}),
    )
    assert (state.outcome, state.reason, state.customer_answered_at) == (outcome, reason, None)
    assert rules.talk_seconds(state) is None


def test_the_agent_missing_the_ring_is_agent_missed_whatever_comes_first() -> None:
    rang_out = ev(
        "OriginateResponse", Response="Failure", Reason="3", Uniqueid=CH, Channel="PJSIP/1002"
    )
    hung_up = ev("Hangup", Uniqueid=CH, Cause="19", **{"Cause-txt": "User alerting, no answer"})
    first = fold(rang_out, hung_up)
    assert first.outcome == rules.AGENT_MISSED and "rang out" in (first.reason or "")
    assert first.ended_at == NOW  # the later Hangup changes nothing
    second = fold(hung_up, rang_out)
    assert (second.outcome, second.reason) == (rules.AGENT_MISSED, "User alerting, no answer")


def test_no_such_phone_is_a_failure_in_the_pbx_words() -> None:
    # No channel made: no Newchannel, no Hangup; matched by ChannelId (or the ActionID).
    by_id = fold(
        ev("OriginateResponse", Response="Failure", Reason="0", Uniqueid=CH, Channel="PJSIP/9999")
    )
    by_action = fold(
        ev("OriginateResponse", Response="Failure", Reason="0", ActionID="a1", Channel="Foo/bar")
    )
    assert by_id.outcome == by_action.outcome == rules.FAILED
    assert by_id.reason == "the PBX could not call PJSIP/9999 (Reason 0)"
    assert by_action.reason == "the PBX could not call Foo/bar (Reason 0)"


def test_a_number_the_outbound_context_refuses_fails_with_its_cause() -> None:
    state = fold(
        ORIGINATED,
        ev("Hangup", Uniqueid=CH, Cause="1", **{"Cause-txt": "Unallocated (unassigned) number"}),
    )
    assert (state.outcome, state.reason) == (rules.FAILED, "Unallocated (unassigned) number")


def test_a_refused_originate_and_a_lost_channel() -> None:
    refused = rules.refused(AttemptState(CH), NOW, "Originate: Extension does not exist.")
    assert (refused.outcome, refused.reason) == (
        rules.FAILED,
        "Originate: Extension does not exist.",
    )
    assert rules.refused(refused, NOW, "again") == refused
    talking = rules.apply_event(
        rules.apply_event(AttemptState(CH), ORIGINATED, NOW),
        ev("DialEnd", Uniqueid=CH, DialStatus="ANSWER"),
        NOW,
    )
    assert rules.lost(talking, NOW, "service restarted").outcome == rules.REACHED
    assert rules.lost(AttemptState(CH), NOW, "service restarted").outcome == rules.FAILED


def test_other_events_and_other_channels_are_not_ours() -> None:
    assert rules.concerns(ev("Newchannel", Uniqueid=CH), {CH}, {}) is None
    assert rules.concerns(ev("Hangup", Uniqueid="other"), {CH}, {}) is None
    assert rules.concerns(AGENT_RING_END, {CH}, {}) is None
    assert (
        rules.concerns(ev("OriginateResponse", ActionID="zz", Uniqueid="<null>"), {CH}, {"a1": CH})
        is None
    )


# --- what comes next --------------------------------------------------------------------------


def test_unsuccessful_tries_are_retried_then_unreachable() -> None:
    step = rules.next_step(rules.NO_ANSWER, 1, NOW, 3, 10)
    assert (step.state, step.next_attempt_at, step.tries, step.unreachable) == (
        rules.WAITING,
        NOW + timedelta(minutes=10),
        1,
        False,
    )
    assert rules.next_step(rules.BUSY, 2, NOW, 3, 10).state == rules.WAITING
    last = rules.next_step(rules.FAILED, 3, NOW, 3, 10)
    assert (last.state, last.next_attempt_at, last.unreachable) == (rules.DONE, None, True)


def test_reached_is_done_and_a_missed_ring_costs_no_try() -> None:
    assert rules.next_step(rules.REACHED, 1, NOW, 3, 10) == rules.NextStep(rules.DONE, None, 1)
    assert rules.tries_after(rules.AGENT_MISSED, 2) == 2
    assert rules.tries_after(rules.NO_ANSWER, 2) == 3
    missed = rules.next_step(rules.AGENT_MISSED, 2, NOW, 3, 10)
    assert (missed.state, missed.next_attempt_at) == (rules.WAITING, NOW)


def test_the_agents_word_counts_once() -> None:
    assert rules.final_outcome(rules.REACHED, None) == rules.REACHED
    assert rules.final_outcome(rules.REACHED, False) == rules.NOT_REACHED
    # The PBX already said no answer: "not reached" is no second unsuccessful try.
    assert rules.final_outcome(rules.NO_ANSWER, False) == rules.NO_ANSWER
    assert rules.final_outcome(rules.NO_ANSWER, True) == rules.REACHED
    assert rules.NOT_REACHED in rules.UNSUCCESSFUL and rules.REACHED not in rules.UNSUCCESSFUL


def test_the_timeline_line() -> None:
    assert rules.describe(rules.NO_ANSWER, "NOANSWER", 2, "7001") == (
        "Callback attempt 2 to 7001: customer did not answer (NOANSWER)"
    )
    assert (
        rules.describe(rules.REACHED, None, 1, "7001")
        == "Callback attempt 1 to 7001: customer answered"
    )
    assert all(len(outcome) <= 16 for outcome in rules.OUTCOMES)
