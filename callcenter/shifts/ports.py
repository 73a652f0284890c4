"""What the shifts room needs of its siblings, as a small protocol.

``ShiftPeople`` is offered by the agents room (``AgentsRoom``): the teams with their members,
the accounts that are not disabled, and whose teams a user may see.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from callcenter.agents.scope import Scope, Team
from callcenter.auth.identity import User


class ShiftPeople(Protocol):
    def teams(self) -> Sequence[Team]:
        """Every team with its members and leaders."""

    def active_users(self) -> Sequence[User]:
        """Every account that is not disabled."""

    def active_user(self, user_id: int) -> User | None:
        """The user, if the account exists and is not disabled."""

    def scope_of(self, user: User) -> Scope:
        """The teams (and their members) the user may see."""
