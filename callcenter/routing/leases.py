"""Per-queue leader leases: several replicas on one database, one of them acting per queue.

Each round a replica renews the leases it holds and takes over those that are missing or
expired; it evaluates and acts only on the queues it holds. A takeover bumps the epoch and, in
the same transaction, adopts the queue's ``pending`` action rows (restamped with the new
epoch, so the new holder runs them) and ends the rows the previous holder was sending as
``unknown`` (the PBX may have done them: never sent twice).

Fencing: before anything goes to the PBX, ``fence`` renews the lease *only if* it is still
held by this replica with the row's epoch, and marks the row ``sending`` in the same
transaction. A replica that stalled past its lease and was taken over finds a new epoch and
sends nothing; one that stalled but was not taken over (no one else alive) still holds the
same epoch, so nobody else acted in between and it may go on. A decision is committed only
under the same check (``hold`` inside the commit's transaction).

Time is the database's: PostgreSQL's ``clock_timestamp()``; on SQLite (one file, so one
machine) the local clock. Replica clocks may then disagree without giving two holders.
Tests pass a ``clock``.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Table, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.routing.models import RoutingAction, RoutingLease, RoutingMovedCaller

log = logging.getLogger(__name__)

LEASES = cast(Table, RoutingLease.__table__)
ACTIONS = cast(Table, RoutingAction.__table__)
MOVES = cast(Table, RoutingMovedCaller.__table__)


def new_holder_id() -> str:
    """Unique per process: a restarted replica is a new holder (it reloads what it takes)."""
    return f"{socket.gethostname()[:80]}-{os.getpid()}-{secrets.token_hex(4)}"


class Leases:
    def __init__(
        self,
        engine: AsyncEngine,
        holder: str,
        duration: float,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.holder = holder
        self.duration = timedelta(seconds=duration)
        self.clock = clock
        self._postgresql = engine.dialect.name == "postgresql"
        self._insert = postgresql.insert if self._postgresql else sqlite.insert

    async def now(self, connection: AsyncConnection) -> datetime:
        if self.clock is not None:
            return self.clock()
        if self._postgresql:
            value = (await connection.execute(text("SELECT clock_timestamp()"))).scalar_one()
            assert isinstance(value, datetime)
            return value.astimezone(UTC)
        return datetime.now(UTC)

    async def acquire(self, pbx: str, queues: Iterable[str]) -> dict[str, int]:
        """Renew what this replica holds on ``pbx``, take over what is free among ``queues``.

        Returns queue -> epoch of every lease held afterwards. Each statement is its own short
        transaction, so two replicas taking over at once never wait on each other in a cycle.
        """
        async with self.engine.begin() as connection:
            now = await self.now(connection)
            await connection.execute(
                update(LEASES)
                .where(LEASES.c.pbx == pbx, LEASES.c.holder == self.holder)
                .values(expires_at=now + self.duration)
            )
            rows = {
                row.queue: row
                for row in (
                    await connection.execute(select(LEASES).where(LEASES.c.pbx == pbx))
                ).all()
            }
        held = {queue: int(row.epoch) for queue, row in rows.items() if row.holder == self.holder}
        for queue in queues:
            if queue in held:
                continue
            row = rows.get(queue)
            if row is not None and row.expires_at >= now:
                continue
            epoch = await self._take(pbx, queue, row)
            if epoch is not None:
                held[queue] = epoch
        return held

    async def _take(self, pbx: str, queue: str, row: object | None) -> int | None:
        async with self.engine.begin() as connection:
            now = await self.now(connection)
            if row is None:
                epoch = 1
                result = await connection.execute(
                    self._insert(LEASES)
                    .values(
                        pbx=pbx,
                        queue=queue,
                        holder=self.holder,
                        epoch=epoch,
                        expires_at=now + self.duration,
                    )
                    .on_conflict_do_nothing()
                )
                previous = None
            else:
                previous = str(getattr(row, "holder", ""))
                old_epoch = int(getattr(row, "epoch", 0))
                epoch = old_epoch + 1
                # Re-checked under the row lock: a renewal that got there first wins.
                result = await connection.execute(
                    update(LEASES)
                    .where(
                        LEASES.c.pbx == pbx,
                        LEASES.c.queue == queue,
                        LEASES.c.holder == previous,
                        LEASES.c.epoch == old_epoch,
                        LEASES.c.expires_at < now,
                    )
                    .values(holder=self.holder, epoch=epoch, expires_at=now + self.duration)
                )
            if not result.rowcount:
                return None
            await self._adopt(connection, pbx, queue, epoch, previous, now)
        log.info(
            "routing %s/%s: lease taken by %s (epoch %s, previous holder %s)",
            pbx,
            queue,
            self.holder,
            epoch,
            previous or "none",
        )
        return epoch

    async def _adopt(
        self,
        connection: AsyncConnection,
        pbx: str,
        queue: str,
        epoch: int,
        previous: str | None,
        now: datetime,
    ) -> None:
        of_queue = (ACTIONS.c.pbx == pbx, ACTIONS.c.queue == queue)
        sending = [
            int(r.id)
            for r in (
                await connection.execute(
                    select(ACTIONS.c.id).where(*of_queue, ACTIONS.c.status == "sending")
                )
            ).all()
        ]
        if sending:
            message = (
                f"holder {previous or '?'} lost the lease while sending it: "
                "the PBX may have done it"
            )
            await connection.execute(
                update(ACTIONS)
                .where(ACTIONS.c.id.in_(sending))
                .values(status="unknown", message=message[:400], done_at=now)
            )
            await connection.execute(
                update(MOVES)
                .where(MOVES.c.action_id.in_(sending), MOVES.c.status == "pending")
                .values(status="unknown", message=message[:400])
            )
        await connection.execute(
            update(ACTIONS).where(*of_queue, ACTIONS.c.status == "pending").values(epoch=epoch)
        )

    async def hold(self, connection: AsyncConnection, pbx: str, queue: str, epoch: int) -> bool:
        """Renew the lease inside ``connection``'s transaction if still ours with ``epoch``.

        On PostgreSQL the row stays locked until that transaction ends, so no takeover can
        slip in between this check and the transaction's other writes.
        """
        now = await self.now(connection)
        result = await connection.execute(
            update(LEASES)
            .where(
                LEASES.c.pbx == pbx,
                LEASES.c.queue == queue,
                LEASES.c.holder == self.holder,
                LEASES.c.epoch == epoch,
            )
            .values(expires_at=now + self.duration)
        )
        return bool(result.rowcount)

    async def fence(self, action_id: int, pbx: str, queue: str, epoch: int) -> str | None:
        """Claim the right to send one action row now; None if granted, else why not."""
        async with self.engine.begin() as connection:
            if not await self.hold(connection, pbx, queue, epoch):
                return (
                    f"lease lost: replica {self.holder} no longer holds {pbx}/{queue} "
                    f"with epoch {epoch}"
                )
            result = await connection.execute(
                update(ACTIONS)
                .where(
                    ACTIONS.c.id == action_id,
                    ACTIONS.c.status == "pending",
                    ACTIONS.c.epoch == epoch,
                )
                .values(status="sending")
            )
            if not result.rowcount:
                return f"action {action_id} is no longer pending under epoch {epoch}"
        return None

    async def release(self) -> None:
        """Expire every lease of this replica (a clean stop): others take over at once.

        The row stays (its epoch must never go back), only its expiry moves to now.
        """
        async with self.engine.begin() as connection:
            now = await self.now(connection)
            await connection.execute(
                update(LEASES)
                .where(LEASES.c.holder == self.holder)
                .values(expires_at=now - timedelta(microseconds=1))
            )

    async def holders(self) -> dict[tuple[str, str], tuple[str, int, datetime]]:
        async with self.engine.connect() as connection:
            rows = (await connection.execute(select(LEASES))).all()
        return {(r.pbx, r.queue): (r.holder, int(r.epoch), r.expires_at) for r in rows}
