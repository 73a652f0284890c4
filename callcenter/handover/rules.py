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
team leaders at once, back in the team's pool once the grace time has passed since the end of
the owner's last shift (a break between two shifts of one day, shorter than the shift gap, is
not the end). So is an item waiting in a handover nobody will take (``stuck_why``).
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

# Why an open item has nobody to work it: its owner is off shift or disabled with nothing
# handed over; or it waits in a handover nobody will take (the successor, or every taker of a
# handover to the pool, is disabled), or whose giver is disabled and it waited past the grace.
Why = Literal["off-shift", "disabled", "successor-disabled", "giver-disabled"]


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


def off_shift_since(
    rota: RotaView, user_id: int, now: datetime, gap: timedelta = timedelta(0)
) -> datetime | None:
    """When the user went home: the end of their last shift, if they work shifts, none holds
    ``now``, one has ended and the next does not start within ``gap`` of its end (a break
    between two shifts of one day is not going home). None otherwise: at work, on a break,
    or working no shifts at all (no rota, or no span of one's own)."""
    if not rota.has_shifts():
        return None
    if not rota.spans(user_id, now - ROTA_WINDOW, now + ROTA_WINDOW):
        return None
    if rota.current(user_id, now) is not None:
        return None
    last = rota.last_ended(user_id, now)
    if last is None:
        return None
    following = rota.next_shift(user_id, last.end - timedelta(microseconds=1))
    if following is not None and following.start - last.end <= gap:
        return None
    return last.end


def off_shift(rota: RotaView, user_id: int, now: datetime, gap: timedelta = timedelta(0)) -> bool:
    return off_shift_since(rota, user_id, now, gap) is not None


def ownerless_why(
    active: bool, rota: RotaView, owner_id: int, now: datetime, gap: timedelta = timedelta(0)
) -> tuple[Why, datetime] | None:
    """Why an open item of ``owner_id`` with nothing pending in a handover has nobody to work
    it now, and since when (the grace runs from then); None when its owner is at work, on a
    break between shifts, or works no shifts."""
    if not active:
        return "disabled", now
    since = off_shift_since(rota, owner_id, now, gap)
    if since is not None:
        return "off-shift", since
    return None


def stuck_why(
    successor_active: bool | None,
    takers_active: int,
    giver_active: bool,
    submitted_at: datetime,
    grace: timedelta,
    now: datetime,
) -> Why | None:
    """Why an item waiting in a handover will never be taken: its successor's account (or
    every taker's of a handover to the team pool) is disabled; or its giver's is and it has
    waited longer than the grace time (nobody answers a question, nobody owns it meanwhile).
    ``successor_active`` is None for a handover to the team pool."""
    if successor_active is False or (successor_active is None and takers_active == 0):
        return "successor-disabled"
    if not giver_active and now >= submitted_at + grace:
        return "giver-disabled"
    return None


def pool_due(first_seen_at: datetime, grace: timedelta, now: datetime) -> bool:
    """An ownerless item goes back to its pool once listed for the grace time."""
    return now >= first_seen_at + grace


def successor_problem(
    giver_id: int, successor_id: int, exists: bool, disabled: bool, agent: bool = True
) -> Literal["self", "no-such-user", "disabled", "not-an-agent"] | None:
    """Whom work may be given to: an account, not the giver, not disabled, and one that works
    items (``work:own``: not a planner, a QA evaluator or an administrator of accounts)."""
    if successor_id == giver_id:
        return "self"
    if not exists:
        return "no-such-user"
    if disabled:
        return "disabled"
    if not agent:
        return "not-an-agent"
    return None
