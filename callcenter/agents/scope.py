"""Which queues and agents a user may see and steer: their teams', or all. Pure.

A user whose role holds ``teams:all`` (supervisor, planner, QA evaluator, admin) sees every
team; anyone else sees the teams they lead or belong to: those teams' queues, and their
members' phones (where they are signed in now, or their fixed phones).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from callcenter.auth.identity import User
from callcenter.auth.permissions import P


@dataclass(frozen=True, slots=True)
class Team:
    id: int
    name: str
    label_zh: str
    label_en: str
    queues: frozenset[str]
    members: frozenset[int]
    leaders: frozenset[int]

    def has(self, user_id: int) -> bool:
        return user_id in self.members or user_id in self.leaders


@dataclass(frozen=True, slots=True)
class Scope:
    everything: bool
    team_ids: frozenset[int] = frozenset()
    queues: frozenset[str] = frozenset()
    user_ids: frozenset[int] = frozenset()
    interfaces: frozenset[str] = frozenset()

    def has_queue(self, queue: str) -> bool:
        return self.everything or queue in self.queues

    def has_user(self, user_id: int) -> bool:
        return self.everything or user_id in self.user_ids

    def has_interface(self, interface: str) -> bool:
        return self.everything or interface in self.interfaces

    def has_team(self, team_id: int) -> bool:
        return self.everything or team_id in self.team_ids


EVERYTHING = Scope(everything=True)


def scope_of(user: User, teams: Iterable[Team], phones: Mapping[int, Iterable[str]]) -> Scope:
    """The user's scope, given every team and each user's phone interfaces now."""
    if user.may(P.TEAMS_ALL):
        return EVERYTHING
    mine = [team for team in teams if team.has(user.id)]
    user_ids = frozenset(u for team in mine for u in team.members | team.leaders)
    return Scope(
        everything=False,
        team_ids=frozenset(team.id for team in mine),
        queues=frozenset(q for team in mine for q in team.queues),
        user_ids=user_ids,
        interfaces=frozenset(i for u in user_ids for i in phones.get(u, ())),
    )


class TeamScopes(Protocol):
    """The port other rooms use to narrow what a user sees and steers."""

    def scope_of(self, user: User) -> Scope: ...


class EveryTeam:
    """Scopes for a service without the agents room (tests of other rooms): everything."""

    def scope_of(self, user: User) -> Scope:
        return EVERYTHING
