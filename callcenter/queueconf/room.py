"""The queue-settings room: managed queues' desired settings, applied to each PBX through its
own include file and reload (``apply.py``), kept applied after restarts and hand edits, and
the announcements library.

A change is stored only once Asterisk has confirmed it (``apply.Configurator.apply``): the
desired state in the database is always something the PBX accepted. Every
``queueconf.check_seconds`` and after every (re)connect the room compares each managed
queue with the PBX (the files, Asterisk's reading of them, the running queue) and repairs
what differs; the difference is the queue's ``drift``, shown on the wallboard, logged and
audited.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import delete
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.ami.errors import AmiError, AmiRefused, AmiUnavailable
from callcenter.audit.log import AuditLog
from callcenter.audit.models import AuditEntry
from callcenter.auth.identity import User
from callcenter.component import Host, PbxLink, Room
from callcenter.feed.serialize import dumps
from callcenter.live.changes import QueueParamsView
from callcenter.queueconf import store
from callcenter.queueconf.announcements import Announcements
from callcenter.queueconf.apply import (
    NOT_MANAGEABLE,
    PBX_REFUSED,
    PBX_UNAVAILABLE,
    ApplyFailed,
    Configurator,
    NotOurFile,
    PbxFiles,
    read_ours,
    write_atomic,
)
from callcenter.queueconf.models import QueueSettingsRow
from callcenter.queueconf.spec import (
    EMPTY,
    QUEUE_NAME_PATTERN,
    QueueSpec,
    render_exits,
    render_queues,
)
from callcenter.settings import PbxSettings, QueueConfSettings
from callcenter.web.errors import ApiError, Problem

if TYPE_CHECKING:
    from callcenter.web.http import Route

log = logging.getLogger(__name__)

VERSION_CONFLICT = Problem(
    409, "version-conflict", "someone changed this queue's settings since you loaded them"
)

_QUEUE_NAME = re.compile(QUEUE_NAME_PATTERN)


@dataclass(frozen=True, slots=True)
class QueueState:
    """One queue as the API shows it: stored desired state, Asterisk's values, drift."""

    pbx: str
    queue: str
    managed: bool
    manageable: bool
    version: int
    settings: QueueSpec
    live: QueueParamsView | None
    applied_version: int | None
    applied_at: datetime | None
    apply_error: str | None
    set_by: str | None
    set_at: datetime | None
    drift: str | None

    def to_data(self) -> dict[str, Any]:
        return {
            "pbx": self.pbx,
            "queue": self.queue,
            "managed": self.managed,
            "manageable": self.manageable,
            "version": self.version,
            "settings": self.settings.model_dump(),
            "live": None
            if self.live is None
            else {
                "strategy": self.live.strategy,
                "max": self.live.max_callers,
                "weight": self.live.weight,
                "servicelevel": self.live.service_level_seconds,
            },
            "applied_version": self.applied_version,
            "applied_at": None if self.applied_at is None else self.applied_at.isoformat(),
            "apply_error": self.apply_error,
            "set_by": self.set_by,
            "set_at": None if self.set_at is None else self.set_at.isoformat(),
            "drift": self.drift,
        }


def pbx_files(pbx: PbxSettings, voicemail_context: str) -> PbxFiles | None:
    if pbx.asterisk_etc is None:
        return None
    return PbxFiles(
        etc=pbx.asterisk_etc,
        queues_include=pbx.queues_include,
        exits_include=pbx.exits_include,
        sounds_dir=pbx.sounds_dir,
        sounds_in_pbx=pbx.sounds_dir_in_pbx,
        voicemail_context=voicemail_context,
    )


class QueueConfRoom(Room):
    name: ClassVar[str] = "queueconf"

    def __init__(
        self,
        host: Host,
        settings: QueueConfSettings,
        pbx: Sequence[PbxSettings],
        *,
        voicemail_context: str,
        audit: AuditLog,
    ) -> None:
        self.engine, self.live, self.links, self.publish = (
            host.engine,
            host.live,
            host.links,
            host.publish,
        )
        self.settings = settings
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        files = {p.name: f for p in pbx if (f := pbx_files(p, voicemail_context)) is not None}
        self.audit = audit
        self.announcements = Announcements(host.engine, settings, self.clock, audit=audit)
        self.configurator = Configurator(
            files, self.announcements, timeout=settings.reload_timeout, clock=self.clock
        )
        self.pbx_names = [p.name for p in pbx]
        self._spawn = host.spawner(self.name)
        # (pbx, queue) -> what was found different and repaired, and Asterisk's last values.
        self.drift: dict[tuple[str, str], str] = {}
        self.seen: dict[tuple[str, str], QueueParamsView] = {}

    def routes(self) -> Sequence[Route]:
        from callcenter.queueconf.api import QueueConfApi

        return [*QueueConfApi(self).routes(), *self.announcements.routes()]

    async def start(self) -> None:
        self._spawn(self._keep_applied(), "check")

    async def on_pbx_ready(self, link: PbxLink) -> None:
        if link.name in self.configurator.files:
            self._spawn(self._check_quietly(link.name), f"check-{link.name}")

    async def _keep_applied(self) -> None:
        while True:
            await asyncio.sleep(self.settings.check_seconds)
            for name in self.configurator.files:
                if self.links.connected(name) is not None:
                    await self._check_quietly(name)

    async def _check_quietly(self, pbx: str) -> None:
        try:
            await self.check(pbx)
        except (AmiError, SQLAlchemyError, OSError) as exc:
            log.error("PBX %s: checking queue settings failed: %s", pbx, exc)
        except Exception:
            # The next check comes whatever this one met.
            log.exception("PBX %s: checking queue settings failed", pbx)

    # --- reading ------------------------------------------------------------------------

    def manageable(self, pbx: str, queue: str) -> bool:
        return pbx in self.configurator.files and bool(_QUEUE_NAME.fullmatch(queue))

    def _queue_params(self) -> dict[tuple[str, str], QueueParamsView | None]:
        """Every queue the live model knows, with its parameters (one pass over the views)."""
        return {(v.pbx, v.queue): v.params for v in self.live.queue_views(self.clock())}

    def state(
        self,
        pbx: str,
        queue: str,
        row: QueueSettingsRow | None,
        params: QueueParamsView | None = None,
    ) -> QueueState:
        """``params``: the live model's; what this room last read from Asterisk wins."""
        return QueueState(
            pbx=pbx,
            queue=queue,
            managed=row is not None,
            manageable=self.manageable(pbx, queue),
            version=0 if row is None else row.version,
            settings=EMPTY if row is None else store.spec_of(row),
            live=self.seen.get((pbx, queue), params),
            applied_version=None if row is None else row.applied_version,
            applied_at=None if row is None else row.applied_at,
            apply_error=None if row is None else row.apply_error,
            set_by=None if row is None else row.set_by,
            set_at=None if row is None else row.set_at,
            drift=self.drift.get((pbx, queue)),
        )

    async def states(self) -> list[QueueState]:
        rows = {(r.pbx, r.queue): r for r in await store.load_all(self.engine)}
        params = self._queue_params()
        keys = set(params) | set(rows)
        return [self.state(p, q, rows.get((p, q)), params.get((p, q))) for p, q in sorted(keys)]

    def _params_of(self, pbx: str, queue: str) -> tuple[bool, QueueParamsView | None]:
        """Whether the live model knows the queue, and its parameters."""
        try:
            return True, self.live.queue_view(pbx, queue, self.clock()).params
        except KeyError:  # the live model's UnknownQueue
            return False, None

    async def one(self, pbx: str, queue: str) -> QueueState | None:
        row = await store.load_one(self.engine, pbx, queue)
        known, params = self._params_of(pbx, queue)
        if row is None and not known:
            return None
        return self.state(pbx, queue, row, params)

    async def music_classes(self) -> dict[str, list[str]]:
        classes: dict[str, list[str]] = {}
        for name in self.pbx_names:
            link = self.links.connected(name)
            if link is None:
                continue
            try:
                classes[name] = await self.configurator.music_classes(link)
            except AmiError:
                continue
        return classes

    # --- changing -----------------------------------------------------------------------

    def _link(self, pbx: str) -> PbxLink:
        if pbx not in self.configurator.files:
            raise NOT_MANAGEABLE(
                f"the service does not write {pbx}'s config (no asterisk_etc for this PBX)",
                pbx=pbx,
            )
        link = self.links.connected(pbx)
        if link is None:
            raise PBX_UNAVAILABLE(f"PBX {pbx} is not connected", pbx=pbx)
        return link

    async def change(
        self,
        user: User,
        address: str | None,
        pbx: str,
        queue: str,
        version: int,
        spec: QueueSpec | None,
    ) -> QueueState:
        """Apply ``spec`` to the queue (``None``: stop managing it) if ``version`` is still
        the stored one; store it once Asterisk confirmed it."""
        if not _QUEUE_NAME.fullmatch(queue):
            raise NOT_MANAGEABLE(f"queue name {queue!r} cannot be managed", queue=queue)
        link = self._link(pbx)
        async with self.configurator.locks[pbx]:
            # Under the lock: a second editor of the same version waits, then is told.
            row = await store.load_one(self.engine, pbx, queue)
            self._check_version(pbx, queue, row, version)
            before = EMPTY if row is None else store.spec_of(row)
            try:
                defined = (
                    await self.configurator.defined_queues(link)
                    if spec is None
                    else await self.configurator.check_values(
                        link, self.configurator.files[pbx], queue, spec
                    )
                )
            except AmiUnavailable as exc:
                raise PBX_UNAVAILABLE(exc.message, pbx=pbx) from exc
            except AmiError as exc:
                raise PBX_REFUSED(
                    f"Asterisk did not answer the checks: {exc.message}", asterisk=exc.message
                ) from exc
            # Only queues queues.conf defines are written: an "(+)" section of a queue it
            # no longer has would make the whole of queues.conf unreadable.
            managed = await self._desired(pbx)
            desired = {q: s for q, s in managed.items() if q in defined}
            if spec is None:
                desired.pop(queue, None)
            else:
                desired[queue] = spec
            try:
                done = await self.configurator.apply(link, desired, {queue}, claimed=bool(managed))
            except NotOurFile as exc:
                raise NOT_MANAGEABLE(exc.message, pbx=pbx) from exc
            except ApplyFailed as exc:
                await self._audit(
                    user, address, pbx, queue, spec, before, ok=False, message=exc.message
                )
                raise PBX_REFUSED(
                    f"Asterisk did not apply the settings of {queue}: {exc.message} "
                    "(the previous settings were put back)",
                    asterisk=exc.message,
                ) from exc
            except AmiUnavailable as exc:
                raise PBX_UNAVAILABLE(exc.message, pbx=pbx) from exc
            stored = await self._store(user, pbx, queue, version, spec)
            if not stored:
                # Another replica stored a change meanwhile: the PBX gets the stored state.
                await self._reapply_stored(link, queue)
                self._check_version(pbx, queue, await store.load_one(self.engine, pbx, queue), -1)
            self.drift.pop((pbx, queue), None)
            await self._remember_live(link, queue)
        log.info(
            "PBX %s: queue %s settings %s by %s (%s)",
            pbx,
            queue,
            "dropped" if spec is None else "applied",
            user.username,
            "; ".join(done) or "already in place",
        )
        await self._audit(user, address, pbx, queue, spec, before, ok=True, message="; ".join(done))
        state = await self.one(pbx, queue) or self.state(pbx, queue, None, None)
        self.publish(
            dumps(
                {
                    "type": "QueueSettingsApplied",
                    "pbx": pbx,
                    "queue": queue,
                    "version": state.version,
                    "by": user.username,
                    "at": self.clock().isoformat(),
                }
            )
        )
        return state

    def _check_version(
        self, pbx: str, queue: str, row: QueueSettingsRow | None, version: int
    ) -> None:
        current = 0 if row is None else row.version
        if current != version:
            state = self.state(pbx, queue, row, self._params_of(pbx, queue)[1])
            raise VERSION_CONFLICT(
                f"{queue} was changed by {state.set_by or 'someone'} (version {current}); "
                "look at their change and save again",
                current=state.to_data(),
            )

    async def _desired(self, pbx: str) -> dict[str, QueueSpec]:
        async with AsyncSession(self.engine) as session:
            rows = await store.rows_of(session, pbx, lock=False)
            return {r.queue: store.spec_of(r) for r in rows}

    async def _store(
        self, user: User, pbx: str, queue: str, version: int, spec: QueueSpec | None
    ) -> bool:
        now = self.clock()
        async with AsyncSession(self.engine) as session, session.begin():
            rows = await store.rows_of(session, pbx, lock=True)
            row = next((r for r in rows if r.queue == queue), None)
            if (0 if row is None else row.version) != version:
                return False
            if spec is None:
                if row is not None:
                    await session.execute(
                        delete(QueueSettingsRow).where(QueueSettingsRow.id == row.id)
                    )
                return True
            if row is None:
                row = QueueSettingsRow(pbx=pbx, queue=queue, version=0)
                session.add(row)
            row.version = version + 1
            row.settings = store.dump_spec(spec)
            row.set_by = user.username
            row.set_at = now
            row.applied_version = row.version
            row.applied_at = now
            row.apply_error = None
        return True

    async def _reapply_stored(self, link: PbxLink, queue: str) -> None:
        try:
            await self.configurator.apply(
                link, await self._desired(link.name), {queue}, claimed=True
            )
        except (ApplyFailed, AmiError) as exc:
            log.error("PBX %s: the stored settings of %s not re-applied: %s", link.name, queue, exc)

    async def _remember_live(self, link: PbxLink, queue: str) -> None:
        try:
            live = await self.configurator.live(link, queue)
        except AmiError:
            return
        if live is not None:
            self.seen[(link.name, queue)] = live

    async def _audit(
        self,
        user: User | None,
        address: str | None,
        pbx: str,
        queue: str,
        spec: QueueSpec | None,
        before: QueueSpec,
        *,
        ok: bool,
        message: str,
        action: str | None = None,
    ) -> None:
        after = EMPTY if spec is None else spec
        changed = after.changes_from(before)
        entry = AuditEntry(
            at=self.clock(),
            username=(user.username if user else "system")[:80],
            user_id=user.id if user else None,
            action=action or ("queue.settings" if spec is not None else "queue.settings.drop"),
            pbx=pbx,
            queue=queue,
            target=f"{pbx}/{queue}"[:200],
            parameters={
                "before": {k: v[0] for k, v in changed.items()},
                "after": {k: v[1] for k, v in changed.items()},
            },
            ok=ok,
            message=message[:500],
            address=address,
        )
        try:
            async with AsyncSession(self.engine) as session, session.begin():
                session.add(entry)
        except (SQLAlchemyError, OSError) as exc:
            log.error("audit row of %s/%s lost (database: %s)", pbx, queue, type(exc).__name__)

    # --- keeping it applied -------------------------------------------------------------

    async def check(self, pbx: str) -> list[str]:
        """Compare every managed queue of ``pbx`` with the PBX and repair what differs;
        returns the differences found (empty: all in place)."""
        link = self.links.connected(pbx)
        if link is None:
            return []
        async with self.configurator.locks[pbx]:
            async with AsyncSession(self.engine) as session:
                rows = await store.rows_of(session, pbx, lock=False)
            if not rows and await self._nothing_to_keep(pbx):
                return []
            desired = {r.queue: store.spec_of(r) for r in rows}
            reasons: list[str] = []
            defined = await self._defined_or_repaired(link, reasons)
            for queue in sorted(set(desired) - defined):
                reasons.append(
                    f"{queue} is no longer a queue of queues.conf: its settings are kept, not "
                    "written"
                )
                self.drift[(pbx, queue)] = reasons[-1]
                del desired[queue]
            found: list[str] = []
            reload: set[str] = set()
            try:
                found, reload = await self.configurator.drift(link, desired)
                reload |= {r.queue for r in rows if r.applied_version != r.version} & set(desired)
                if found or reload:
                    await self.configurator.apply(link, desired, reload, claimed=bool(rows))
            except (ApplyFailed, AmiError, NotOurFile, ApiError) as exc:
                # ApiError: a stored announcement that is gone, a sounds_dir no longer set.
                log.error("PBX %s: queue settings could not be re-applied: %s", pbx, exc.message)
                await self._mark(pbx, set(desired), exc.message)
                return [*reasons, *found]
            reasons += found
            for queue in reload:
                await self._remember_live(link, queue)
        if reasons:
            when = self.clock().isoformat(timespec="seconds")
            text = "; ".join(reasons)
            log.warning("PBX %s: queue settings drifted and were re-applied: %s", pbx, text)
            for queue in reload:
                self.drift[(pbx, queue)] = f"{when}: {text}"
            await self._mark(pbx, set(desired), None)
            for queue in sorted(reload):
                await self._audit(
                    None,
                    None,
                    pbx,
                    queue,
                    desired.get(queue),
                    EMPTY,
                    ok=True,
                    message=text,
                    action="queue.settings.drift",
                )
            self.publish(
                dumps(
                    {
                        "type": "QueueSettingsDrift",
                        "pbx": pbx,
                        "queues": sorted(reload),
                        "reasons": reasons,
                        "at": self.clock().isoformat(),
                    }
                )
            )
        return reasons

    async def _nothing_to_keep(self, pbx: str) -> bool:
        """No managed queue on ``pbx`` and nothing of ours in its files (absent, empty, or
        someone else's: left alone)."""
        try:
            queues_text, exits_text = await read_ours(self.configurator.files[pbx], claimed=False)
        except NotOurFile:
            return True
        return all(
            text is None or not text.strip() or text == empty
            for text, empty in (
                (queues_text, render_queues({}, {})),
                (exits_text, render_exits({})),
            )
        )

    async def _defined_or_repaired(self, link: PbxLink, reasons: list[str]) -> set[str]:
        """The queues queues.conf defines. When Asterisk cannot read queues.conf at all and
        our include names queues (an ``(+)`` section of a queue deleted by hand does that),
        our file is emptied: the PBX's own queues must load whatever we hold. If queues.conf
        is unreadable without it too, the file is put back and the error stands."""
        try:
            return await self.configurator.defined_queues(link)
        except AmiRefused as exc:
            files = self.configurator.files[link.name]
            before, _ = await read_ours(files, claimed=True)
            empty = render_queues({}, {})
            if before is None or before == empty:
                raise
            await asyncio.to_thread(write_atomic, files.queues_path, empty)
            try:
                defined = await self.configurator.defined_queues(link)
            except AmiRefused:
                await asyncio.to_thread(write_atomic, files.queues_path, before)
                raise
            reasons.append(f"Asterisk could not read queues.conf ({exc.message}): emptied ours")
            return defined

    async def _mark(self, pbx: str, queues: set[str], error: str | None) -> None:
        now = self.clock()
        try:
            async with AsyncSession(self.engine) as session, session.begin():
                for row in await store.rows_of(session, pbx, lock=True):
                    if row.queue not in queues:
                        continue
                    if error is None:
                        row.applied_version, row.applied_at, row.apply_error = (
                            row.version,
                            now,
                            None,
                        )
                    else:
                        row.apply_error = error[:2000]
        except (SQLAlchemyError, OSError) as exc:
            log.error("PBX %s: applied state not stored (database: %s)", pbx, type(exc).__name__)
