"""What a user may see and steer (pure): every team with teams:all, else the teams they
lead or belong to: those teams' queues, members and the members' phones."""

from __future__ import annotations

from callcenter.agents.scope import EVERYTHING, EveryTeam, Scope, Team, scope_of
from callcenter.auth.identity import User

FRONT = Team(
    1, "front", "一线", "Front", frozenset({"support", "sales"}), frozenset({8, 9}), frozenset({7})
)
MONEY = Team(
    2, "money", "账务", "Billing", frozenset({"billing"}), frozenset({10}), frozenset({11})
)
TEAMS = (FRONT, MONEY)
# Fixed phones and the phones agents signed in at, by user.
PHONES = {
    7: ("PJSIP/1007",),
    8: ("PJSIP/1001", "PJSIP/2001"),
    9: (),
    10: ("PJSIP/1005",),
    11: ("PJSIP/1011",),
}

SUPERVISOR = User(1, "boss", "Boss", "supervisor")
PLANNER = User(2, "plan", "Planner", "planner")
LEADER = User(7, "lead", "Lead", "team_leader", ("PJSIP/1007",))
AGENT = User(8, "wang", "Wang", "agent", ("PJSIP/1001",))
LONER = User(12, "solo", "Solo", "team_leader")


def test_teams_all_sees_everything() -> None:
    for user in (SUPERVISOR, PLANNER):
        scope = scope_of(user, TEAMS, PHONES)
        assert scope is EVERYTHING
        assert scope.has_queue("billing") and scope.has_queue("a queue of no team")
        assert scope.has_user(10) and scope.has_user(999)
        assert scope.has_interface("PJSIP/1005") and scope.has_team(2)


def test_a_team_leader_sees_their_teams_queues_members_and_phones() -> None:
    scope = scope_of(LEADER, TEAMS, PHONES)
    assert scope == Scope(
        everything=False,
        team_ids=frozenset({1}),
        queues=frozenset({"support", "sales"}),
        user_ids=frozenset({7, 8, 9}),
        interfaces=frozenset({"PJSIP/1007", "PJSIP/1001", "PJSIP/2001"}),
    )
    assert scope.has_queue("support") and not scope.has_queue("billing")
    assert scope.has_user(8) and not scope.has_user(10) and not scope.has_user(11)
    # The hot desk agent 8 signed in at is theirs too; another team's phone is not.
    assert scope.has_interface("PJSIP/2001")
    assert not scope.has_interface("PJSIP/1005")
    assert scope.has_team(1) and not scope.has_team(2)


def test_a_member_sees_their_own_teams() -> None:
    scope = scope_of(AGENT, TEAMS, PHONES)
    assert scope.team_ids == {1}
    assert scope.user_ids == {7, 8, 9}


def test_someone_in_no_team_sees_nothing() -> None:
    scope = scope_of(LONER, TEAMS, PHONES)
    assert scope == Scope(everything=False)
    assert not scope.has_queue("support") and not scope.has_user(12)


def test_without_the_agents_room_everyone_sees_everything() -> None:
    assert EveryTeam().scope_of(AGENT) is EVERYTHING
