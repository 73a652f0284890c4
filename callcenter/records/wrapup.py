"""Enforced wrap-up: who stays paused after a call, and until when. Pure (time is passed in).

After an answered call in a queue listed in ``records.enforced_wrapup`` the answering agent is
paused (reason ``wrap-up``, all queues) until they submit the call's wrap-up or the queue's
seconds pass, whichever comes first. The component turns the returned holds into QueuePause
actions; both directions are idempotent on the PBX, so a second replica or a restart that
repeats one does no harm. Pending holds outlive a restart through the database: an answered
call of an enforced queue without a wrap-up, ended less than its seconds ago, is still held.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from callcenter.live.changes import CallRecord

WRAPUP_REASON = "wrap-up"


@dataclass(frozen=True, slots=True)
class WrapupHold:
    pbx: str
    interface: str
    uniqueid: str
    until: datetime


class WrapupTimers:
    def __init__(self, enforced: Mapping[str, int]) -> None:
        self.enforced = dict(enforced)
        self._holds: dict[tuple[str, str], WrapupHold] = {}

    def __len__(self) -> int:
        return len(self._holds)

    def hold_for(self, record: CallRecord) -> WrapupHold | None:
        """The hold a finished call starts (None: no enforced wrap-up for it)."""
        seconds = self.enforced.get(record.queue)
        if seconds is None or record.answered_by is None or record.answered_at is None:
            return None
        return WrapupHold(
            record.pbx,
            record.answered_by,
            record.uniqueid,
            record.ended_at + timedelta(seconds=seconds),
        )

    def call_ended(self, record: CallRecord) -> WrapupHold | None:
        """Start (or extend: a later call's hold replaces an earlier one) the agent's hold."""
        hold = self.hold_for(record)
        if hold is not None:
            self._holds[(hold.pbx, hold.interface)] = hold
        return hold

    def restore(self, holds: Iterable[WrapupHold], now: datetime) -> list[WrapupHold]:
        """Holds known from the database at start-up; returns those still running."""
        running = []
        for hold in holds:
            current = self._holds.get((hold.pbx, hold.interface))
            if hold.until > now and (current is None or current.until < hold.until):
                self._holds[(hold.pbx, hold.interface)] = hold
                running.append(hold)
        return running

    def submitted(self, pbx: str, interface: str) -> WrapupHold | None:
        """The agent submitted a wrap-up: their hold ends now (returned, to unpause)."""
        return self._holds.pop((pbx, interface), None)

    def due(self, now: datetime) -> list[WrapupHold]:
        """Holds whose time is up (removed; the caller unpauses them)."""
        expired = [h for h in self._holds.values() if h.until <= now]
        for hold in expired:
            del self._holds[(hold.pbx, hold.interface)]
        return expired

    def held(self, pbx: str) -> list[WrapupHold]:
        return [h for h in self._holds.values() if h.pbx == pbx]
