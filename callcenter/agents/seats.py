"""Who sits at which phone now: the port through which other rooms follow hot-desking.

The agents room owns the one ``Seats`` and changes it at every sign-in and sign-out; the
screen-pop room asks it for a user's phones (their fixed phones, ``users.interfaces``, and
the phone they signed in at) and is told when a user moves, so pops follow the agent to
whatever desk they sit at. Messages for one agent's console (their state, an over-limit
alert) go through it too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from callcenter.auth.identity import User

log = logging.getLogger(__name__)

Moved = Callable[[int], None]
Told = Callable[[int, Mapping[str, Any]], None]


class SeatsView(Protocol):
    """What a room that serves agents' consoles needs of the seats."""

    def phones(self, user: User) -> tuple[str, ...]: ...

    def follow(self, moved: Moved, told: Told) -> None: ...


class Seats:
    def __init__(self) -> None:
        self._seat: dict[int, tuple[str, str]] = {}
        self._holder: dict[tuple[str, str], int] = {}
        self._moved: list[Moved] = []
        self._told: list[Told] = []

    def phones(self, user: User) -> tuple[str, ...]:
        seat = self._seat.get(user.id)
        if seat is None or seat[1] in user.interfaces:
            return user.interfaces
        return (*user.interfaces, seat[1])

    def holder(self, pbx: str, interface: str) -> int | None:
        """The user signed in at this phone now (None: nobody signed in there)."""
        return self._holder.get((pbx, interface))

    def follow(self, moved: Moved, told: Told) -> None:
        self._moved.append(moved)
        self._told.append(told)

    def sit(self, user_id: int, pbx: str | None, interface: str | None) -> None:
        seat = None if pbx is None or interface is None else (pbx, interface)
        if self._seat.get(user_id) == seat:
            return
        old = self._seat.pop(user_id, None)
        if old is not None and self._holder.get(old) == user_id:
            del self._holder[old]
        if seat is not None:
            self._seat[user_id] = seat
            self._holder[seat] = user_id
        for moved in self._moved:
            try:
                moved(user_id)
            except Exception:
                log.exception("a seat listener failed")

    def tell(self, user_id: int, message: Mapping[str, Any]) -> None:
        for told in self._told:
            try:
                told(user_id, message)
            except Exception:
                log.exception("a seat listener failed")


class NoSeats:
    """For a service without the agents room (tests of other rooms): fixed phones only."""

    def phones(self, user: User) -> tuple[str, ...]:
        return user.interfaces

    def follow(self, moved: Moved, told: Told) -> None:
        return None
