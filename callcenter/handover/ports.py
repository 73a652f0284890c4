"""What the handover room needs of its siblings, as small protocols.

``RotaView`` is offered by the shifts room (who works when); ``WorkLedger`` by the work-items
room (what an agent owns, and moving it); ``DayFigures`` by the work-log room (the day's
figures shown in a handover document); ``HandoverPeople`` by the agents room (teams, users,
the consoles).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from sqlalchemy.sql.expression import Executable

from callcenter.agents.scope import Scope, Team
from callcenter.auth.identity import User


@dataclass(frozen=True, slots=True)
class ShiftSpan:
    """One user's shift on one day: a span of UTC time (a night shift crosses midnight)."""

    shift: str  # the shift's name (its key in the rota)
    label: str  # how people call it ("早班 / Early")
    user_id: int
    start: datetime  # UTC, start < end
    end: datetime


class RotaView(Protocol):
    """Offered by the shifts room. Every answer is computed from the rota in memory (no I/O);
    a user in no shift has no spans."""

    def has_shifts(self) -> bool:
        """Whether any shift is set: without a rota there is no end of shift to act on."""

    def current(self, user_id: int, at: datetime) -> ShiftSpan | None:
        """The user's span holding `at` (start <= at < end), if any."""

    def next_shift(self, user_id: int, at: datetime) -> ShiftSpan | None:
        """The user's first span starting after `at`, within two weeks."""

    def last_ended(self, user_id: int, at: datetime) -> ShiftSpan | None:
        """The user's latest span ended at or before `at`, within two weeks."""

    def successors(self, user_id: int, at: datetime) -> Sequence[int]:
        """Who takes over from the user: the users of the user's teams whose next span starts
        first after the user's span holding (or last ended before) `at`; empty when none."""

    def spans(self, user_id: int, start: datetime, end: datetime) -> Sequence[ShiftSpan]:
        """The user's spans overlapping [start, end), in time order."""

    def on_shift(self, at: datetime) -> Sequence[ShiftSpan]:
        """Every span holding `at`."""

    def ending_between(self, start: datetime, end: datetime) -> Sequence[ShiftSpan]:
        """Every span whose end is in (start, end]: the end-of-shift check's input."""


class DayFigures(Protocol):
    """Offered by the work-log room: an agent's figures for the log day holding `at` (calls,
    talk time, work items, callbacks, pause time), as shown in the work-log draft."""

    async def day_figures(self, user_id: int, at: datetime) -> dict[str, object]: ...


# --- the work-items room: what an agent owns, and moving it --------------------------------


@dataclass(frozen=True, slots=True)
class LedgerActor:
    """Who moves an item: a user, or the service itself (``user_id`` None, e.g. "system")."""

    user_id: int | None
    name: str


@dataclass(frozen=True, slots=True)
class LedgerItem:
    """An open work item as a handover document lists it."""

    id: int
    ticket: str
    title: str
    kind: str
    status: str
    priority: str
    due_at: datetime | None
    last_note: str  # the latest note (or the creation's text) on its timeline; "" if none
    customer_id: int | None
    customer_name: str | None
    phone: str | None  # the number to call back, else the customer's first number
    owner_id: int | None
    team_id: int | None
    version: int
    # A promise to the customer: a callback is scheduled, or the customer already had a
    # first response. Such an item goes to a named person, never back to a pool unseen.
    promised: bool
    callback_at: datetime | None  # the next callback attempt, when one is scheduled


@dataclass(frozen=True, slots=True)
class OwnedItem:
    """An open item and its owner (the ownerless check's input)."""

    id: int
    ticket: str
    title: str
    owner_id: int
    team_id: int | None


# What ``move_owner`` did: moved; the item was not the giver's any more, or is closed
# ("item-moved": nothing changed); the caller's guard matched no row ("guard": nothing changed).
MoveOutcome = Literal["moved", "item-moved", "guard"]


class WorkLedger(Protocol):
    """Offered by the work-items room (``callcenter/work/ledger.py``)."""

    async def open_of_owner(self, user_id: int) -> Sequence[LedgerItem]:
        """The user's open items, by deadline (waiting items, with no deadline, last)."""

    async def items_of(self, item_ids: Collection[int]) -> Sequence[LedgerItem]:
        """The items of these ids, open or not (``is_open`` told by ``status``)."""

    async def move_owner(
        self,
        item_id: int,
        from_user: int,
        to_user: int,
        actor: LedgerActor,
        note: str,
        handover_id: int,
        *,
        at: datetime,
        guard: Executable | None = None,
    ) -> MoveOutcome:
        """Give the open item from ``from_user`` to ``to_user`` with an "owner" line on its
        timeline, in one transaction; the item's team follows the new owner as an assignment
        decides it (kept when ``to_user`` is in it). ``guard``, an UPDATE of the caller's own
        run first in the same transaction, must change one row (the handover item's claim):
        otherwise nothing is stored."""

    async def return_to_pool(
        self,
        item_ids: Collection[int],
        from_user: int,
        actor: LedgerActor,
        reason: str,
        *,
        at: datetime,
        guard: Executable | None = None,
    ) -> Sequence[int]:
        """Put the items still open, owned by ``from_user`` and waiting in no handover in
        their team's pool (owner none, team kept), each with an "owner" line; the ids moved.
        ``guard``, as ``move_owner``'s, runs first and must change one row, else nothing
        moves."""

    async def owned_open(self, user_ids: Collection[int] | None = None) -> Sequence[OwnedItem]:
        """Open items with an owner (of these users, or of anyone)."""


class HandoverPeople(Protocol):
    """Offered by the agents room (a part of the work room's ``WorkForce``): teams, users,
    scopes and the consoles."""

    def scope_of(self, user: User) -> Scope:
        """The teams (and their members) the user may see and steer."""

    def teams(self) -> Sequence[Team]:
        """Every team with its queues, members and leaders."""

    def active_user(self, user_id: int) -> User | None:
        """The user, if the account exists and is not disabled."""

    def active_users(self) -> Sequence[User]:
        """Every account that is not disabled."""

    def tell(self, user_id: int, message: Mapping[str, Any]) -> None:
        """Put a message on the user's console (/ws/agent)."""
