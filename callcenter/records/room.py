"""The records room: each queue call's record, durable (CallEnded → spool → database), the
calls still open (restored into the live model after a restart), enforced wrap-up pauses, the
queue_log backfill, and the call-records API (``callcenter/records/api.py``).

It uses the service through the ``Host`` only: the engine, the live model (read), the PBX links,
the metrics registry and its own spawn. Three ports are its own: ``customers`` (the customer
index, ``CustomerRoom``), ``restore_into`` (``OpenCallRestorer``, the live model's restore) and
``seats`` (``SeatHolder``, the agents room: who is signed in at the phone that answers).
The routing room reaches it through its own overflow port (``mark_overflowed``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

from prometheus_client import Counter, Gauge
from sqlalchemy import and_, delete, exists, select

from callcenter.ami import actions
from callcenter.audit.log import Audit
from callcenter.component import Host, Room
from callcenter.live import (
    CallConnected,
    CallEnded,
    CallerJoined,
    CallerView,
    CallRecord,
    Change,
    Correction,
    MemberChanged,
    ModelSnapshot,
)
from callcenter.live.restore import RestoredCall
from callcenter.records.api import RecordsApi
from callcenter.records.backfill import QueueLogBackfill
from callcenter.records.customers import CustomerRoom, SavedWrapup
from callcenter.records.query import RECORDS_TABLE, WRAPUPS_TABLE
from callcenter.records.rows import (
    OVERFLOW_WINDOW,
    OVERFLOWABLE,
    RESTART_EVIDENCE,
    OpenOp,
    OverflowOp,
    RecordOp,
    Row,
    answered_row,
    fit_column,
    mask_number,
    open_row,
    record_row,
    restart_record_row,
)
from callcenter.records.spool import Spool
from callcenter.records.wrapup import WRAPUP_REASON, WrapupHold, WrapupTimers
from callcenter.records.writer import OPEN_TABLE, RecordWriter
from callcenter.settings import RecordsSettings

if TYPE_CHECKING:
    from callcenter.ami.link import AmiLink
    from callcenter.web.http import Route

log = logging.getLogger(__name__)

_RECENT_LIMIT = 10_000
# Seconds after the first queue_log comparison (and between the later ones) to look again for
# calls that joined while the service was away and ended since (see QueueLogBackfill.once).
LATE_BACKFILL_SECONDS = (20.0, 280.0)


class OpenCallRestorer(Protocol):
    """The live model's side of a restart: takes the calls a previous process left open
    (before the first resync) and returns those it did not take."""

    def restore(self, calls: Iterable[RestoredCall]) -> list[RestoredCall]: ...

    def snapshot(self) -> ModelSnapshot: ...


class SeatHolder(Protocol):
    """The agents room's side of hot-desking: who sits at a phone now."""

    def holder(self, pbx: str, interface: str) -> int | None:
        """The user signed in at `interface` of `pbx` now (None: nobody signed in there)."""
        ...


class RecordsRoom(Room):
    name: ClassVar[str] = "records"

    def __init__(
        self,
        host: Host,
        settings: RecordsSettings,
        *,
        customers: CustomerRoom | None = None,
        queue_logs: Mapping[str, Path] | None = None,
        short_abandon_seconds: float = 5.0,
        restore_into: OpenCallRestorer | None = None,
        audit: Audit | None = None,
        seats: SeatHolder,
    ) -> None:
        self.host = host
        self.settings = settings
        self.engine = engine = host.engine
        self._spawn = host.spawner(self.name)
        # Names each record's customer, and learns of each wrap-up (the customer directory).
        self.customers = customers
        # Who is signed in at the phone that answers a call: its record names that user.
        self.seats = seats
        self.writer = RecordWriter(
            engine,
            Spool(settings.spool_dir),
            batch_size=settings.batch_size,
            batch_interval=settings.batch_interval,
            retry_max_delay=settings.retry_max_delay,
            customers=customers,
        )
        # The live model open calls are restored into at start (None: nothing restored).
        self.restore_into = restore_into
        # pbx -> its readable queue_log: what ended while we were away is recorded from it.
        self.queue_logs = dict(queue_logs or {})
        self.backfill = QueueLogBackfill(
            engine,
            self.writer,
            hours=settings.queue_log_backfill_hours,
            short_abandon_seconds=short_abandon_seconds,
            member_interfaces=self._member_interfaces,
        )
        # (pbx, uniqueid) -> open_calls row of each call in progress (updated on answer).
        self._open: dict[tuple[str, str], Row] = {}
        # pbx -> (uniqueid, joined_at) restored at start, until that PBX's first resync ran.
        self._restored: dict[str, set[tuple[str, datetime]]] = {}
        # (pbx, uniqueid) -> (joined_at, queue, ended_at) of recent unanswered exits.
        self._recent: OrderedDict[tuple[str, str], tuple[datetime, str, datetime]] = OrderedDict()
        self.timers = WrapupTimers(settings.enforced_wrapup)
        # (pbx, interface) -> pause reason ("" when not paused), from the live model.
        self._pause_reason: dict[tuple[str, str], str] = {}
        self._unpause_pending: dict[tuple[str, str], WrapupHold] = {}
        registry = host.registry
        self._ended = Counter(
            "callcenter_call_records_total",
            "Queue calls ended, by outcome, handed to the writer",
            ["pbx", "outcome"],
            registry=registry,
        )
        self._backfilled = Counter(
            "callcenter_call_records_backfilled",
            "Calls that ended while the service was away, recorded "
            "(added) or told as they ended (corrected) from the "
            "queue_log",
            ["pbx", "kind"],
            registry=registry,
        )
        writer = self.writer
        Gauge(
            "callcenter_call_records_backlog",
            "1 while call records wait in the spool for the database",
            registry=registry,
        ).set_function(lambda: 1.0 if writer.backlog else 0.0)
        Gauge(
            "callcenter_call_records_queued",
            "Call records not yet in the spool",
            registry=registry,
        ).set_function(lambda: float(writer.queued))
        self.api = RecordsApi(
            engine,
            settings.dispositions,
            self,
            audit=audit,
            follow_up_horizon_days=settings.follow_up_horizon_days,
        )

    # ------------------------------------------------------------------ event path

    def on_change(self, change: Change) -> None:
        if isinstance(change, CallEnded):
            record = change.record
            opened = self._open.pop((record.pbx, record.uniqueid), None)
            row = record_row(record, answered_by_user=self._answered_by_user(record, opened))
            restarted = self._closed_by_restart(
                record.pbx, record.uniqueid, record.joined_at, record.evidence
            )
            if restarted:
                # It ended while no process listened: when, and so how long the talk
                # lasted, is not known (the resync closes it "now").
                row.update(evidence=RESTART_EVIDENCE, talk_seconds=None)
            self.writer.submit(RecordOp(row))
            self._ended.labels(record.pbx, row["outcome"]).inc()
            log.info(
                "call %s/%s %s in %s from %s",
                record.pbx,
                record.uniqueid,
                row["outcome"],
                record.queue,
                mask_number(record.caller_num),
            )
            if record.outcome in OVERFLOWABLE:
                self._remember(
                    record.pbx, record.uniqueid, (record.joined_at, record.queue, record.ended_at)
                )
            hold = None if restarted else self.timers.call_ended(record)
            if hold is not None:
                self._spawn(self._pause(hold, True), f"wrapup-pause-{hold.pbx}")
        elif isinstance(change, MemberChanged) and change.member is not None:
            member = change.member
            self._pause_reason[(member.pbx, member.interface)] = (
                member.paused_reason or "?" if member.paused else ""
            )
        elif isinstance(change, CallConnected):
            key = (change.pbx, change.uniqueid)
            # Who sat at the phone when it answered (signing out later changes nothing).
            user = self.seats.holder(change.pbx, change.agent_interface)
            opened = self._open[key] = answered_row(
                self._open.get(key), change, answered_by_user=user
            )
            self.writer.submit(OpenOp(opened))
        elif isinstance(change, Correction) and change.kind == "caller_added":
            # A caller the model adopted from a resync (joined while we were not listening).
            if isinstance(change.after, CallerView):
                self._opened(change.after)
        elif isinstance(change, CallerJoined):
            caller = change.caller
            self._opened(caller)
            previous = self._recent.pop((caller.pbx, caller.uniqueid), None)
            if (
                previous is not None
                and previous[1] != caller.queue
                and caller.joined_at - previous[2] <= OVERFLOW_WINDOW
            ):
                self.writer.submit(
                    OverflowOp(caller.pbx, caller.uniqueid, previous[0], caller.queue)
                )

    def _answered_by_user(self, record: CallRecord, opened: Row | None) -> int | None:
        """The user signed in at the answering phone when it answered: as noted when the call
        connected (kept in open_calls across a restart); for a call whose answer was not seen
        (answered while no process listened), whoever sits at that phone now."""
        if record.answered_by is None:
            return None
        if opened is not None and opened.get("answered_by") == fit_column(
            record.answered_by, "answered_by"
        ):
            user: int | None = opened.get("answered_by_user")
            return user
        return self.seats.holder(record.pbx, record.answered_by)

    def _opened(self, caller: CallerView) -> None:
        row = self._open[(caller.pbx, caller.uniqueid)] = open_row(caller)
        self.writer.submit(OpenOp(row))

    def _closed_by_restart(
        self, pbx: str, uniqueid: str, joined_at: datetime, evidence: str
    ) -> bool:
        restored = self._restored.get(pbx)
        if not restored or (uniqueid, joined_at) not in restored:
            return False
        restored.discard((uniqueid, joined_at))
        return evidence == "reconcile"

    def _remember(self, pbx: str, uniqueid: str, value: tuple[datetime, str, datetime]) -> None:
        self._recent[(pbx, uniqueid)] = value
        while len(self._recent) > _RECENT_LIMIT:
            self._recent.popitem(last=False)

    def mark_overflowed(self, pbx: str, uniqueid: str, target: str) -> None:
        """For the routing engine: the caller's latest unanswered record went to `target`.

        Event path safe (enqueue only). Calls overflowed by a plain dialplan (Queue() timeout,
        then Queue(other)) are marked without it, from the second join.
        """
        previous = self._recent.pop((pbx, uniqueid), None)
        self.writer.submit(
            OverflowOp(pbx, uniqueid, None if previous is None else previous[0], target)
        )

    def wrapup_saved(self, wrapup: SavedWrapup) -> None:
        """A wrap-up was stored here: the customer index learns of it now (other replicas
        read it from the database on their next refresh)."""
        if self.customers is None:
            return
        try:
            self.customers.wrapup_saved(wrapup)
        except Exception:
            # The wrap-up is stored; a card that misses it until the refresh is no failure.
            log.exception("customer index did not take the wrap-up of call %s", wrapup.call_id)

    def wrapup_submitted(self, pbx: str, interface: str | None) -> None:
        """The agent submitted a wrap-up: an enforced wrap-up pause ends now."""
        hold = None if interface is None else self.timers.submitted(pbx, interface)
        if hold is not None:
            self._spawn(self._pause(hold, False), f"wrapup-unpause-{hold.pbx}")

    # ------------------------------------------------------------------ wrap-up actuator

    async def _pause(self, hold: WrapupHold, paused: bool) -> None:
        key = (hold.pbx, hold.interface)
        if not paused:
            reason = self._pause_reason.get(key)
            if reason not in (None, "", WRAPUP_REASON):
                # Someone paused them for another reason meanwhile: that pause stays.
                return
        link = self.host.links.connected(hold.pbx)
        try:
            if link is None:
                raise ConnectionError(f"PBX {hold.pbx} not connected")
            await actions.queue_pause(link, hold.interface, paused, reason=WRAPUP_REASON)
            self._unpause_pending.pop(key, None)
            log.info("%s %s for wrap-up", "paused" if paused else "unpaused", hold.interface)
        except Exception as exc:
            # Re-tried when the PBX link is (back) up: on_pbx_ready.
            log.warning(
                "wrap-up %s of %s failed: %s", "pause" if paused else "unpause", hold.interface, exc
            )
            if not paused:
                self._unpause_pending[key] = hold

    async def _tick_wrapups(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for hold in self.timers.due(datetime.now(UTC)):
                await self._pause(hold, False)

    async def _restore_wrapups(self) -> None:
        if not self.settings.enforced_wrapup:
            return
        now = datetime.now(UTC)
        longest = max(self.settings.enforced_wrapup.values())
        records, wrapups = RECORDS_TABLE, WRAPUPS_TABLE
        statement = (
            select(
                records.c.pbx,
                records.c.uniqueid,
                records.c.queue,
                records.c.answered_by,
                records.c.ended_at,
            )
            .outerjoin(wrapups, wrapups.c.call_id == records.c.id)
            .where(
                records.c.queue.in_(list(self.settings.enforced_wrapup)),
                records.c.answered_at.is_not(None),
                records.c.ended_at > now - timedelta(seconds=longest),
                wrapups.c.id.is_(None),
            )
        )
        async with self.engine.connect() as connection:
            rows = list((await connection.execute(statement)).mappings())
        holds = [
            WrapupHold(
                r["pbx"],
                r["answered_by"],
                r["uniqueid"],
                r["ended_at"] + timedelta(seconds=self.settings.enforced_wrapup[r["queue"]]),
            )
            for r in rows
            if r["answered_by"]
        ]
        running = self.timers.restore(holds, now)
        if running:
            log.info("%d enforced wrap-up(s) still running after restart", len(running))

    async def _restore_open_calls(self) -> None:
        """Hand the calls a previous process left open to the live model (see live/restore)."""
        if self.restore_into is None:
            return
        table, records = OPEN_TABLE, RECORDS_TABLE
        recorded = exists().where(
            and_(
                records.c.pbx == table.c.pbx,
                records.c.uniqueid == table.c.uniqueid,
                records.c.joined_at == table.c.joined_at,
            )
        )
        async with self.engine.begin() as connection:
            # A record written by a batch that also had the call's open row is enough.
            await connection.execute(delete(table).where(recorded))
            rows = [dict(r) for r in (await connection.execute(select(table))).mappings()]
        # Read now, not when built: the service adds the links after building the rooms.
        configured = set(self.host.links.names())
        others = [r for r in rows if r["pbx"] not in configured]
        if others:
            log.warning("%d open call(s) of PBXs not configured left as they are", len(others))
        rows = [r for r in rows if r["pbx"] in configured]
        if not rows:
            return
        by_key = {(r["pbx"], r["uniqueid"], r["joined_at"]): r for r in rows}
        left_out = self.restore_into.restore([_restored_call(r) for r in rows])
        for call in left_out:
            # An older join of a channel restored with a later one: nothing will close it.
            row = by_key[(call.pbx, call.uniqueid, call.joined_at)]
            self.writer.submit(RecordOp(restart_record_row(row, datetime.now(UTC))))
        for key in {(c.pbx, c.uniqueid, c.joined_at) for c in left_out}:
            del by_key[key]
        for (pbx, uniqueid, joined_at), row in by_key.items():
            self._restored.setdefault(pbx, set()).add((uniqueid, joined_at))
            self._open[(pbx, uniqueid)] = {name: row[name] for name in row if name != "id"}
        log.info(
            "%d call(s) open when the service last stopped handed to the live model",
            len(rows) - len(left_out),
        )

    async def on_pbx_ready(self, link: AmiLink) -> None:
        # The model's resync ran: what it closed of the restored calls it closed by now.
        self._restored.pop(link.name, None)
        queue_log = self.queue_logs.get(link.name)
        if queue_log is not None:
            self._spawn(
                self._backfill(link.name, queue_log, link.connected_at or datetime.now(UTC)),
                f"backfill-{link.name}",
            )
        for hold in self.timers.held(link.name):
            await self._pause(hold, True)
        for key, hold in list(self._unpause_pending.items()):
            if key[0] == link.name:
                await self._pause(hold, False)

    async def _backfill(self, pbx: str, queue_log: Path, listening_since: datetime) -> None:
        done = await self.backfill.run(pbx, queue_log, listening_since)
        self._backfilled.labels(pbx, "added").inc(done.added)
        self._backfilled.labels(pbx, "corrected").inc(done.corrected)
        # Calls answered while we were away and ended since: their AgentComplete can come
        # without the caller's Uniqueid (useless to the live model), so look again later.
        for delay in LATE_BACKFILL_SECONDS:
            await asyncio.sleep(delay)
            late = await self.backfill.run(
                pbx, queue_log, datetime.now(UTC), joined_before=listening_since
            )
            self._backfilled.labels(pbx, "added").inc(late.added)

    def _member_interfaces(self, pbx: str) -> dict[str, str]:
        return {
            member.name: member.interface
            for queue in self.host.live.snapshot().queues
            if queue.pbx == pbx
            for member in queue.members
        }

    # ------------------------------------------------------------------ life cycle

    def routes(self) -> Sequence[Route]:
        return self.api.routes()

    async def start(self) -> None:
        await self.writer.start()  # drains the spool first: open_calls is up to date
        await self._restore_open_calls()
        await self._restore_wrapups()
        if self.settings.enforced_wrapup:
            self._spawn(self._tick_wrapups(), "wrapup-ticks")

    async def stop(self) -> None:
        # What is queued goes to the database (or stays in the spool). A backfill the service
        # cancels after this writes to the spool meanwhile, drained at the next start.
        await self.writer.stop()


def _restored_call(row: Row) -> RestoredCall:
    return RestoredCall(
        pbx=row["pbx"],
        uniqueid=row["uniqueid"],
        queue=row["queue"],
        joined_at=row["joined_at"],
        linkedid=row["linkedid"] or "",
        channel=row["channel"] or "",
        caller_num=row["caller_number"] or "",
        caller_name=row["caller_name"] or "",
        position_at_join=row["position_at_join"] or 0,
        agents_rung=tuple(row["agents_rung"] or ()),
        answered_by=row["answered_by"],
        answered_by_name=row["answered_by_name"],
        answered_at=row["answered_at"],
        wait_seconds=row["wait_seconds"],
        ivr=dict(row["ivr_data"] or {}),
    )
