"""The handover room's decisions, pure (the clock is an argument; the rota is read, not asked).

Theory of operation (docs/handover.md):

    a handover item:   pending ──accept──▶ accepted      (ownership moves to the successor)
                          │ ▲ └─refuse──▶ refused ──reassign (supervisor)──▶ reassigned
                        ask answer                   (pending and asked may be reassigned too)
                          ▼ │
                        asked ──accept / refuse──▶ ...
                       (any live state) ──withdraw / the item closed or moved──▶ withdrawn

    a handover:        submitted ──every item accepted, reassigned or withdrawn──▶ done
                           └──────withdrawn by the giver────────────────────────▶ withdrawn

An item of an off-shift owner with nothing pending in a handover is "ownerless": listed to the
team leaders at once, back in the team's pool after the grace time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Literal

from callcenter.handover.ports import LedgerItem, RotaView

ItemState = Literal["pending", "asked", "accepted", "refused", "reassigned", "withdrawn"]
LIVE: frozenset[str] = frozenset({"pending", "asked", "refused"})
CLOSED: frozenset[str] = frozenset({"accepted", "reassigned", "withdrawn"})
# What may happen to a handover item in each state.
MOVES: dict[str, frozenset[str]] = {
    "accept": frozenset({"pending", "asked"}),
    "ask": frozenset({"pending", "asked"}),
    "answer": frozenset({"asked"}),
    "refuse": frozenset({"pending", "asked"}),
    "reassign": frozenset({"pending", "asked", "refused"}),
    "withdraw": frozenset({"pending", "asked", "refused"}),
}
# How far around "now" the rota is read to tell whether a user works shifts at all.
ROTA_WINDOW = timedelta(days=14)

Why = Literal["off-shift", "disabled"]


def may(move: str, state: str) -> bool:
    return state in MOVES.get(move, frozenset())


def is_done(states: Iterable[str]) -> bool:
    """A handover is done when no item waits any more (withdrawn items do not block)."""
    return all(state in CLOSED for state in states)


def promised_first(items: Sequence[LedgerItem]) -> list[LedgerItem]:
    """The draft's order: items with a promise to a customer first, each group as given (by
    deadline)."""
    return [i for i in items if i.promised] + [i for i in items if not i.promised]


def to_pool_at_end_of_shift(items: Sequence[LedgerItem], pending: Iterable[int]) -> list[int]:
    """At a plain end of shift, the items that go back to the team pool in bulk: those with
    no promise to a customer and not already in a handover."""
    waiting = set(pending)
    return [i.id for i in items if not i.promised and i.id not in waiting]


def off_shift(rota: RotaView, user_id: int, now: datetime) -> bool:
    """The user works shifts, none holds ``now``, and one has ended: gone home. A user with
    no shift in the rota (or no rota at all) is never off shift."""
    if not rota.has_shifts():
        return False
    if not rota.spans(user_id, now - ROTA_WINDOW, now + ROTA_WINDOW):
        return False
    return rota.current(user_id, now) is None and rota.last_ended(user_id, now) is not None


def ownerless_why(active: bool, rota: RotaView, owner_id: int, now: datetime) -> Why | None:
    """Why an open item of ``owner_id`` with nothing pending in a handover has nobody to work
    it now; None when its owner is at work (or works no shifts)."""
    if not active:
        return "disabled"
    if off_shift(rota, owner_id, now):
        return "off-shift"
    return None


def pool_due(first_seen_at: datetime, grace: timedelta, now: datetime) -> bool:
    """An ownerless item goes back to its pool once listed for the grace time."""
    return now >= first_seen_at + grace


def successor_problem(
    giver_id: int, successor_id: int, exists: bool, disabled: bool
) -> Literal["self", "no-such-user", "disabled"] | None:
    if successor_id == giver_id:
        return "self"
    if not exists:
        return "no-such-user"
    if disabled:
        return "disabled"
    return None
