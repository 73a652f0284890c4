"""The blocked numbers in memory, so the FastAGI route answers without a database round trip.

Loaded at start, changed at once by this replica's own API calls, and re-read from the
database when its mark (row count, highest id) moved: another replica, or someone with SQL,
may have changed the list.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.screening import store
from callcenter.screening.store import Blocked

log = logging.getLogger(__name__)


class BlockList:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # number (E.164) -> row id
        self._numbers: dict[str, int] = {}
        self._mark: tuple[int, int] | None = None
        # Bumped by this replica's own changes: a re-read that began before one is stale.
        self._generation = 0

    def __contains__(self, number: object) -> bool:
        return number in self._numbers

    def __len__(self) -> int:
        return len(self._numbers)

    def replace(self, rows: Iterable[Blocked]) -> None:
        self._numbers = {row.number: row.id for row in rows}

    def added(self, row: Blocked) -> None:
        self._numbers[row.number] = row.id
        self._generation += 1

    def removed(self, row: Blocked) -> None:
        if self._numbers.get(row.number) == row.id:
            del self._numbers[row.number]
        self._generation += 1

    async def load(self) -> None:
        mark = await store.blocked_mark(self._engine)
        self.replace(await store.list_blocked(self._engine))
        self._mark = mark
        log.info("screening: %d blocked number(s)", len(self._numbers))

    async def refresh(self) -> None:
        """Read the list again if it changed in the database."""
        mark = await store.blocked_mark(self._engine)
        if mark == self._mark:
            return
        generation = self._generation
        rows = await store.list_blocked(self._engine)
        if generation != self._generation:
            # Changed here meanwhile: the rows may predate it. The next round reads again.
            return
        self.replace(rows)
        self._mark = mark
        log.info("screening: blocked numbers re-read (%d)", len(self._numbers))
