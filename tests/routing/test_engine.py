"""The pure routing decision with a controlled clock: levels, hysteresis, actions, idempotence."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from callcenter.routing.engine import (
    AddMember,
    CloseEpisode,
    EngineState,
    MoveCaller,
    Notify,
    RemoveMember,
    SetSurgeFlag,
    decide,
    figures,
    join_key,
    state_from_json,
    state_to_json,
)
from callcenter.routing.erlang import MAX_WAIT_SECONDS, erlang_c, expected_wait, predicted_wait
from callcenter.routing.policy import QueuePolicy, TriggerPolicy
from tests.routing.views import at, caller, member, stats, view

PEAK = QueuePolicy.model_validate(
    {
        "triggers": [
            {"metric": "callers_waiting", "level": "warning", "threshold": 2, "release": 1},
            {
                "metric": "longest_wait",
                "level": "surge",
                "threshold": 30,
                "release": 10,
                "min_duration": 5,
                "cooldown": 60,
            },
        ],
        "recovery_seconds": 20,
        "actions": {
            "add_members": [{"interface": "PJSIP/1005", "penalty": 5, "name": "Overflow 5"}],
            "move_callers": {"to_queue": "overflow", "over_seconds": 40},
            "surge_flag": True,
        },
    }
)


def kinds(actions: object) -> list[str]:
    return [a.kind for a in actions]  # type: ignore[attr-defined]


def test_full_episode_normal_warning_surge_recovery_normal_with_summary() -> None:
    state = EngineState()
    a, b, c = caller("a", 0), caller("b", 1, 2), caller("c", 2, 3)

    d = decide(view(3, [a]), state, PEAK, at(3))
    assert d.state.level == "normal" and d.actions == ()

    d = decide(view(4, [a, b]), d.state, PEAK, at(4))
    assert d.state.level == "warning"
    assert kinds(d.actions) == ["episode_open", "notify"]
    note = d.actions[1]
    assert isinstance(note, Notify) and note.previous == "normal"
    assert "callers_waiting/warning=2>=2" in note.reason
    assert note.figures.callers_waiting == 2

    # Longest wait passes 30 s at t=30 but must hold 5 s before the surge.
    d = decide(view(30, [a, b, c]), d.state, PEAK, at(30))
    assert d.state.level == "warning" and d.actions == ()
    d = decide(view(35, [a, b, c]), d.state, PEAK, at(35))
    assert d.state.level == "surge"
    assert kinds(d.actions) == ["notify", "add_member", "surge_flag"]
    add = d.actions[1]
    assert isinstance(add, AddMember) and (add.interface, add.penalty) == ("PJSIP/1005", 5)
    assert "longest_wait/surge=35>=30" in add.reason

    # a passes 40 s: moved once, never again while it is still seen waiting.
    d = decide(view(40, [a, b, c]), d.state, PEAK, at(40))
    moves = [x for x in d.actions if isinstance(x, MoveCaller)]
    assert [(m.uniqueid, m.to_queue, m.context, m.exten) for m in moves] == [
        ("a", "overflow", "overflow-entry", "overflow")
    ]
    assert moves[0].joined_at == at(0) and moves[0].waited == 40
    d = decide(view(40.5, [a, b, c]), d.state, PEAK, at(40.5))
    assert d.actions == ()

    # a left; b (39.5 s) is over the release threshold: still surge; b moved at 41.
    d = decide(view(41, [b, c]), d.state, PEAK, at(41))
    assert [x.uniqueid for x in d.actions if isinstance(x, MoveCaller)] == ["b"]

    # Wait falls to 12 s: between release (10) and threshold: hysteresis keeps the surge.
    d = decide(view(44, [caller("d", 32)]), d.state, PEAK, at(44))
    assert d.state.level == "surge" and d.actions == ()

    # 10 s or less: surge released → recovery, engine-added member out, flag off.
    d = decide(view(50, [caller("e", 45)]), d.state, PEAK, at(50))
    assert d.state.level == "recovery"
    assert kinds(d.actions) == ["notify", "remove_member", "surge_flag"]
    remove, flag = d.actions[1], d.actions[2]
    assert isinstance(remove, RemoveMember) and remove.interface == "PJSIP/1005"
    assert isinstance(flag, SetSurgeFlag) and flag.on is False

    # Calm for recovery_seconds (20) → normal, with the episode summary.
    d = decide(view(69, []), d.state, PEAK, at(69))
    assert d.state.level == "recovery" and d.actions == ()
    d = decide(view(70, []), d.state, PEAK, at(70))
    assert d.state.level == "normal"
    assert kinds(d.actions) == ["notify", "episode_close"]
    close = d.actions[1]
    assert isinstance(close, CloseEpisode)
    summary = close.summary
    assert [x["level"] for x in summary["levels"]] == ["warning", "surge", "recovery", "normal"]
    assert summary["peak_callers_waiting"] == 3
    assert summary["peak_longest_wait"] == 40.5
    assert summary["calls_affected"] == 2
    assert summary["duration_seconds"] == 66
    assert d.state.episode is None and d.state.added_members == frozenset()


def test_cooldown_keeps_a_released_trigger_quiet() -> None:
    policy = QueuePolicy.model_validate(
        {
            "triggers": [{"metric": "longest_wait", "threshold": 8, "release": 4, "cooldown": 30}],
            "recovery_seconds": 0,
        }
    )
    d = decide(view(8, [caller("a", 0)]), EngineState(), policy, at(8))
    assert d.state.level == "surge"
    d = decide(view(9, []), d.state, policy, at(9))
    assert d.state.level == "recovery"
    d = decide(view(10, []), d.state, policy, at(10))
    assert d.state.level == "normal"
    d = decide(view(20, [caller("b", 10)]), d.state, policy, at(20))
    assert d.state.level == "normal", "fired again inside the cooldown"
    d = decide(view(39, [caller("b", 10)]), d.state, policy, at(39))
    assert d.state.level == "surge"


def test_recovery_returns_to_surge_within_the_same_episode() -> None:
    policy = QueuePolicy.model_validate(
        {
            "triggers": [{"metric": "callers_waiting", "threshold": 3, "release": 0}],
            "recovery_seconds": 60,
        }
    )
    three = [caller(x, 0) for x in "abc"]
    d = decide(view(1, three), EngineState(), policy, at(1))
    d = decide(view(2, []), d.state, policy, at(2))
    assert d.state.level == "recovery"
    d = decide(view(3, three), d.state, policy, at(3))
    assert d.state.level == "surge"
    assert kinds(d.actions) == ["notify"]  # no second episode
    assert d.state.episode is not None
    assert [lv for _, lv in d.state.episode.history] == ["surge", "recovery", "surge"]


def test_a_member_already_in_the_queue_is_not_claimed_by_the_engine() -> None:
    policy = QueuePolicy.model_validate(
        {
            "triggers": [{"metric": "callers_waiting", "threshold": 1, "release": 0}],
            "actions": {"add_members": [{"interface": "PJSIP/1001"}, {"interface": "PJSIP/1003"}]},
        }
    )
    d = decide(
        view(1, [caller("a", 0)], members=[member("PJSIP/1001")]), EngineState(), policy, at(1)
    )
    assert [a.interface for a in d.actions if isinstance(a, AddMember)] == ["PJSIP/1003"]
    d = decide(view(2, []), d.state, policy, at(2))
    assert [a.interface for a in d.actions if isinstance(a, RemoveMember)] == ["PJSIP/1003"]


def test_moves_longest_waiting_first_with_a_limit_and_callbacks_for_the_rest() -> None:
    policy = QueuePolicy.model_validate(
        {
            "triggers": [{"metric": "callers_waiting", "threshold": 1, "release": 0}],
            "actions": {
                "move_callers": {
                    "context": "voicemail",
                    "exten": "100",
                    "over_seconds": 0,
                    "max_per_round": 1,
                },
                "offer_callback": {"over_seconds": 5},
            },
        }
    )
    callers = [caller("late", 9, 3), caller("first", 0, 1), caller("mid", 4, 2)]
    d = decide(view(10, callers), EngineState(), policy, at(10))
    moves = [a for a in d.actions if isinstance(a, MoveCaller)]
    assert [(m.uniqueid, m.move, m.context, m.exten) for m in moves] == [
        ("first", "move", "voicemail", "100"),
        ("mid", "callback", "overflow-callback", "support"),
    ]


def test_disabling_a_policy_undoes_the_surge() -> None:
    on = QueuePolicy.model_validate(
        {
            "triggers": [{"metric": "no_agent", "level": "surge"}],
            "recovery_seconds": 0,
            "actions": {
                "add_members": [{"interface": "PJSIP/1004", "penalty": 2}],
                "surge_flag": True,
            },
        }
    )
    d = decide(view(1, [caller("a", 0)], available=0), EngineState(), on, at(1))
    assert kinds(d.actions) == ["episode_open", "notify", "add_member", "surge_flag"]
    off = on.model_copy(update={"enabled": False})
    d = decide(view(2, [caller("a", 0)], available=0), d.state, off, at(2))
    assert kinds(d.actions) == ["notify", "remove_member", "surge_flag"]
    d = decide(view(3, [caller("a", 0)], available=0), d.state, off, at(3))
    assert d.state.level == "normal" and kinds(d.actions) == ["notify", "episode_close"]


def test_no_agent_is_judged_on_the_own_staff_so_the_tier_it_brings_stays_in() -> None:
    policy = QueuePolicy.model_validate(
        {
            "triggers": [{"metric": "no_agent", "level": "surge"}],
            "recovery_seconds": 0,
            "actions": {"add_members": [{"interface": "PJSIP/1004", "penalty": 3}]},
        }
    )
    staff = member("PJSIP/1001", "paused")
    d = decide(view(1, available=0, members=[staff]), EngineState(), policy, at(1))
    assert kinds(d.actions) == ["episode_open", "notify", "add_member"]
    # The tier member is now available: it must not count as the queue's own staff.
    tier = member("PJSIP/1004")
    for second in (2, 3, 4):
        d = decide(view(second, available=1, members=[staff, tier]), d.state, policy, at(second))
        assert d.state.level == "surge" and d.actions == ()
        assert d.state.added_members == {"PJSIP/1004"}
    # One of the own staff is back: released, the tier comes out.
    d = decide(view(5, available=2, members=[member("PJSIP/1001"), tier]), d.state, policy, at(5))
    assert d.state.level == "recovery"
    assert [(a.kind, getattr(a, "interface", None)) for a in d.actions] == [
        ("notify", None),
        ("remove_member", "PJSIP/1004"),
    ]


def test_service_level_trigger_fires_low_and_releases_above_its_release() -> None:
    policy = QueuePolicy.model_validate(
        {
            "triggers": [
                {"metric": "service_level", "level": "warning", "threshold": 60, "release": 80}
            ]
        }
    )
    d = decide(view(1, window=stats(offered=10, within=5)), EngineState(), policy, at(1))
    assert d.state.level == "warning"
    d = decide(view(2, window=stats(offered=10, within=7)), d.state, policy, at(2))
    assert d.state.level == "warning"
    d = decide(view(3, window=stats(offered=10, within=8)), d.state, policy, at(3))
    assert d.state.level == "recovery"


def test_predicted_wait_trigger_uses_erlang_c() -> None:
    policy = QueuePolicy.model_validate(
        {"triggers": [{"metric": "predicted_wait", "threshold": 60, "release": 30}]}
    )
    # 90 calls in 15 min with 300 s handle time on 2 agents: 30 erlangs > 2 agents.
    busy = view(
        1,
        [caller("a", 0)],
        available=0,
        busy=2,
        window=stats(offered=90, within=90, answered=90, aht=300),
    )
    assert figures(busy).predicted_wait == MAX_WAIT_SECONDS
    d = decide(busy, EngineState(), policy, at(1))
    assert d.state.level == "surge"
    calm = view(2, [], available=5, window=stats(offered=9, within=9, answered=9, aht=60))
    assert (figures(calm).predicted_wait or 0) < 1
    assert decide(calm, d.state, policy, at(2)).state.level == "recovery"


def test_erlang_c_matches_published_tables() -> None:
    # Classic table value: 10 erlangs offered to 11 agents wait with probability 0.6821.
    assert erlang_c(11, 10) == pytest.approx(0.6821, abs=1e-4)
    assert erlang_c(1, 0.5) == pytest.approx(0.5)
    # M/M/1: W = rho / (mu - lambda) = 0.5 / (1/180 - 1/360) = 180 s.
    assert expected_wait(1, 1 / 360, 180) == pytest.approx(180)
    assert erlang_c(3, 3) == 1.0 and expected_wait(3, 1, 3) == MAX_WAIT_SECONDS
    assert predicted_wait(2, 10, 0.0, 120) == 600  # backlog: 10 callers, 2 agents, 120 s
    assert predicted_wait(2, 0, 0.0, None) is None
    assert math.isfinite(predicted_wait(0, 1, 0.1, 60) or 0)


def test_state_survives_a_round_trip_through_json() -> None:
    two = [caller("a", 0), caller("b", 1)]
    d = decide(view(30, two), EngineState(), PEAK, at(30))
    d = decide(view(35, two), d.state, PEAK, at(35))
    d = decide(view(40.5, two), d.state, PEAK, at(40.5))
    assert d.state.level == "surge" and d.state.moved == {join_key("a", at(0))}
    assert state_from_json(state_to_json(d.state)) == d.state


def test_a_caller_back_before_any_round_saw_them_leave_is_decided_again() -> None:
    # Declined a callback within one round: same uniqueid, a new join. The engine offers
    # again and leaves it to the store's claim per caller to refuse the second move.
    callback = QueuePolicy.model_validate(
        {
            "triggers": [{"metric": "longest_wait", "level": "surge", "threshold": 3}],
            "actions": {"offer_callback": {"over_seconds": 3}},
        }
    )
    d = decide(view(3, [caller("a", 0)]), EngineState(), callback, at(3))
    assert [m.uniqueid for m in d.actions if isinstance(m, MoveCaller)] == ["a"]
    d = decide(view(3.2, [caller("a", 3.1)]), d.state, callback, at(3.2))
    assert not any(isinstance(m, MoveCaller) for m in d.actions)
    d = decide(view(6.2, [caller("a", 3.1)]), d.state, callback, at(6.2))
    again = [m for m in d.actions if isinstance(m, MoveCaller)]
    assert [(m.uniqueid, m.joined_at) for m in again] == [("a", at(3.1))]


@pytest.mark.parametrize(
    "trigger",
    [
        {"metric": "longest_wait", "threshold": 8, "release": 9},
        {"metric": "service_level", "threshold": 80, "release": 70},
        {"metric": "wait", "threshold": 8},
    ],
)
def test_bad_triggers_are_refused(trigger: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TriggerPolicy.model_validate(trigger)


def test_one_trigger_per_metric_and_level() -> None:
    with pytest.raises(ValidationError, match="repeated"):
        QueuePolicy.model_validate({"triggers": [{"metric": "no_agent"}, {"metric": "no_agent"}]})


def test_a_move_needs_exactly_one_destination() -> None:
    with pytest.raises(ValidationError):
        QueuePolicy.model_validate({"actions": {"move_callers": {"over_seconds": 3}}})
