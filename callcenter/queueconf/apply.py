"""Applying managed queues' settings to a PBX the Asterisk way, and keeping them applied.

One apply, under the PBX's lock:

1. render the include files from the desired state (``spec.py``) and write them atomically
   (a temporary file in the same folder, then a rename: Asterisk never reads half a file);
2. ``Reload pbx_config`` when the exits file changed, and ``QueueReload`` with parameters only
   for each queue concerned: members, waiting callers, rules and statistics stay untouched;
3. read back: ``GetConfig`` (Asterisk's own reading of queues.conf with our lines) must end
   up with every value we wrote, ``QueueStatus`` must show the strategy, maximum, weight and
   service level, ``DIALPLAN_EXISTS`` every exit key;
4. anything refused or different: the previous files are put back and reloaded, and the
   failure is reported in Asterisk's words. Nothing is stored as applied.

Checked before writing (nothing written when refused): the queue is a section of queues.conf
(an ``(+)`` section of a queue the file does not define would make the whole of queues.conf
unreadable to Asterisk), a switch to or from ``linear`` (a restart, not a reload), the music
class exists, the voicemail mailbox exists, the operator queue exists, the announcement
exists.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from callcenter.ami import actions
from callcenter.ami.errors import AmiError, AmiRefused
from callcenter.component import PbxLink
from callcenter.live.changes import QueueParamsView
from callcenter.live.events import QueueParams, parse_event
from callcenter.queueconf.files import replace_atomically
from callcenter.queueconf.spec import (
    HEADER,
    QueueSpec,
    config_lines,
    effective_values,
    exits_context,
    live_mismatches,
    needs_restart,
    read_back_mismatches,
    render_exits,
    render_queues,
    strategy_not_overridable,
)
from callcenter.web.errors import Problem

log = logging.getLogger(__name__)

QUEUES_CONF = "queues.conf"
# Extension names Asterisk gives a meaning of its own (hang-up, invalid, timeout...): the
# exits' contexts are keyed by queue name, so such a queue gets no exits.
SPECIAL_EXTENSIONS = frozenset({"a", "e", "h", "i", "o", "s", "t", "T"})
MOH_CONF = "musiconhold.conf"

NOT_MANAGEABLE = Problem(409, "not-manageable", "the service cannot change this queue's settings")
NO_SUCH_QUEUE = Problem(404, "no-such-queue", "no such queue on that PBX")
NEEDS_RESTART = Problem(409, "needs-restart", "Asterisk cannot apply this by a reload")
STRATEGY_FIXED = Problem(
    409, "strategy-fixed-in-queues-conf", "this Asterisk keeps the strategy queues.conf sets"
)
UNKNOWN_MUSIC_CLASS = Problem(400, "unknown-music-class", "the PBX has no such music class")
NO_SUCH_ANNOUNCEMENT = Problem(400, "no-such-announcement", "no such announcement")
NO_MAILBOX = Problem(400, "no-mailbox", "the PBX has no voicemail mailbox for this queue")
NO_SUCH_OPERATOR_QUEUE = Problem(400, "no-such-operator-queue", "no such operator queue")
PBX_REFUSED = Problem(502, "pbx-refused", "Asterisk did not apply the settings")
PBX_UNAVAILABLE = Problem(503, "pbx-unavailable", "the PBX is not connected")


@dataclass(frozen=True, slots=True)
class PbxFiles:
    """Where one PBX's managed files are, as this service sees them."""

    etc: Path
    queues_include: str
    exits_include: str
    sounds_dir: Path | None
    sounds_in_pbx: str
    voicemail_context: str

    @property
    def queues_path(self) -> Path:
        return self.etc / self.queues_include

    @property
    def exits_path(self) -> Path:
        return self.etc / self.exits_include


class AnnouncementFiles(Protocol):
    """The announcements library: puts an announcement where the PBX plays it from."""

    async def file_for_pbx(
        self, announcement_id: int, folder: Path, folder_in_pbx: str
    ) -> str | None: ...


class ApplyFailed(Exception):
    """Asterisk refused, or did not end up with, what was written; the files were put back."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


class NotOurFile(Exception):
    """An include file holds lines the service did not write: it is left alone."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"{path} holds lines the service did not write (its first line is not the "
            "service's header): it is left alone. Give the service a file of its own "
            "([[pbx]] queues_include / exits_include) and include that one"
        )
        self.message = str(self)


def _read_ours(files: PbxFiles, claimed: bool) -> tuple[str | None, str | None]:
    texts = (read_text(files.queues_path), read_text(files.exits_path))
    if claimed:
        return texts
    for path, text in zip((files.queues_path, files.exits_path), texts, strict=True):
        # An empty file (FreePBX creates queues_post_custom.conf empty) is free to take.
        if text is not None and text.strip() and not text.startswith(HEADER):
            raise NotOurFile(path)
    return texts


async def read_ours(files: PbxFiles, *, claimed: bool) -> tuple[str | None, str | None]:
    """The two include files as they are now (None: absent). Unless the service already
    manages queues of this PBX (``claimed``: the files are its own, a hand edit of them is
    drift to repair), ``NotOurFile`` when one holds someone else's lines: the service never
    takes such a file."""
    return await asyncio.to_thread(_read_ours, files, claimed)


def write_atomic(path: Path, text: str | None) -> None:
    """Replace ``path`` by ``text`` in one rename (``None``: remove it)."""
    if text is None:
        path.unlink(missing_ok=True)
        return
    replace_atomically(path, text.encode("utf-8"))


def _our_section(files: PbxFiles, queue: str) -> list[tuple[str, str]]:
    """The lines our include file gives ``queue`` now (to tell them from queues.conf's)."""
    text = read_text(files.queues_path) or ""
    lines: list[tuple[str, str]] = []
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            inside = line.split("]", 1)[0][1:] == queue
        elif inside and "=" in line and not line.startswith(";"):
            key, _, value = line.partition("=")
            lines.append((key.strip(), value.strip()))
    return lines


def live_params(
    pbx: str, records: list[dict[str, str]], queue: str, now: datetime
) -> QueueParamsView | None:
    """The running queue's parameters from a QueueStatus answer (the live model's parser)."""
    for fields in records:
        record = parse_event(pbx, fields, now)
        if isinstance(record, QueueParams) and record.queue == queue:
            return QueueParamsView(record.strategy, record.max, record.service_level, record.weight)
    return None


class Configurator:
    """Writes, reloads and checks managed queues on each PBX (one apply per PBX at a time)."""

    def __init__(
        self,
        files: Mapping[str, PbxFiles],
        announcements: AnnouncementFiles,
        *,
        timeout: float,
        clock: Callable[[], datetime],
    ) -> None:
        self.files = files
        self.announcements = announcements
        self.timeout = timeout
        self.clock = clock
        self.locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    # --- what Asterisk knows ----------------------------------------------------------

    async def live(self, link: PbxLink, queue: str) -> QueueParamsView | None:
        records = await actions.queue_status(link, queue, self.timeout)
        return live_params(link.name, records, queue, self.clock())

    async def defined_queues(self, link: PbxLink) -> set[str]:
        """The sections of queues.conf as Asterisk reads it (with our include)."""
        sections = await actions.get_config(link, QUEUES_CONF, timeout=self.timeout)
        return {name for name in sections if name != "general"}

    async def music_classes(self, link: PbxLink) -> list[str]:
        try:
            sections = await actions.get_config(link, MOH_CONF, timeout=self.timeout)
        except AmiRefused:
            return []
        return sorted(name for name in sections if name != "general")

    async def check_values(
        self, link: PbxLink, files: PbxFiles, queue: str, spec: QueueSpec
    ) -> set[str]:
        """Refuse, before anything is written, what Asterisk would not do by a reload;
        returns the queues queues.conf defines (only those may be written)."""
        try:
            defined = await self.defined_queues(link)
        except AmiRefused as exc:
            raise PBX_REFUSED(
                f"Asterisk cannot read queues.conf: {exc.message}", asterisk=exc.message
            ) from exc
        if queue not in defined:
            raise NOT_MANAGEABLE(
                f"queue {queue} is not a section of queues.conf on {link.name} (a realtime or "
                "dynamic queue): its settings cannot be written",
                pbx=link.name,
                queue=queue,
            )
        live = await self.live(link, queue)
        if live is None:
            raise NO_SUCH_QUEUE(f"Asterisk does not run a queue {queue}", pbx=link.name)
        reason = needs_restart(live.strategy, spec.strategy)
        if reason:
            raise NEEDS_RESTART(reason, current=live.strategy, wanted=spec.strategy)
        await self._check_strategy(link, files, queue, live.strategy, spec.strategy)
        if spec.musicclass is not None:
            classes = await self.music_classes(link)
            if spec.musicclass not in classes:
                raise UNKNOWN_MUSIC_CLASS(
                    f"{link.name} has no music class {spec.musicclass} (it has: "
                    f"{', '.join(classes) or 'none'})",
                    classes=classes,
                )
        if spec.exit_voicemail_key is not None:
            mailbox = f"{queue}@{files.voicemail_context}"
            if mailbox not in await actions.voicemail_mailboxes(link, self.timeout):
                raise NO_MAILBOX(
                    f"{link.name} has no mailbox {mailbox} in voicemail.conf: add it before "
                    "giving the queue a voicemail exit",
                    mailbox=mailbox,
                )
        if spec.operator_queue is not None and spec.operator_queue not in defined:
            raise NO_SUCH_OPERATOR_QUEUE(
                f"{link.name} has no queue {spec.operator_queue}", queue=spec.operator_queue
            )
        if spec.periodic_announce is not None and files.sounds_dir is None:
            raise NOT_MANAGEABLE(
                f"{link.name} has no sounds_dir configured: it cannot play announcements",
                pbx=link.name,
            )
        if spec.has_exits and queue in SPECIAL_EXTENSIONS:
            raise NOT_MANAGEABLE(
                f"a queue named {queue} cannot have exit keys: the exits' dialplan would take "
                "it for Asterisk's special extension of that name",
                queue=queue,
            )
        return defined

    async def _check_strategy(
        self, link: PbxLink, files: PbxFiles, queue: str, current: str, wanted: str | None
    ) -> None:
        if wanted is None or wanted == current:
            return
        sections = await actions.get_config(link, QUEUES_CONF, queue, self.timeout)
        section = await asyncio.to_thread(_our_section, files, queue)
        ours = sum(1 for key, _ in section if key.lower() == "strategy")
        reason = strategy_not_overridable(
            await actions.asterisk_version(link, self.timeout),
            sections.get(queue, []),
            ours,
            current,
            wanted,
        )
        if reason:
            raise STRATEGY_FIXED(reason, current=current, wanted=wanted)

    # --- applying -----------------------------------------------------------------

    async def _announcement_paths(
        self, files: PbxFiles, desired: Mapping[str, QueueSpec]
    ) -> dict[int, str]:
        paths: dict[int, str] = {}
        for spec in desired.values():
            ident = spec.periodic_announce
            if ident is None or ident in paths:
                continue
            if files.sounds_dir is None:
                raise NOT_MANAGEABLE("no sounds_dir configured for this PBX")
            path = await self.announcements.file_for_pbx(
                ident, files.sounds_dir, files.sounds_in_pbx
            )
            if path is None:
                raise NO_SUCH_ANNOUNCEMENT(f"there is no announcement {ident}", id=ident)
            paths[ident] = path
        return paths

    async def apply(
        self,
        link: PbxLink,
        desired: Mapping[str, QueueSpec],
        reload: set[str],
        *,
        claimed: bool,
    ) -> list[str]:
        """Write ``desired`` (every managed queue of the PBX), reload the ``reload`` queues
        and check them; on failure put the old files back and raise ``ApplyFailed``.
        ``claimed``: the service managed queues of this PBX before (see ``read_ours``).
        Returns what was done (for the log and audit). Caller holds ``locks[pbx]``."""
        files = self.files[link.name]
        paths = await self._announcement_paths(files, desired)
        new_queues = render_queues(desired, paths)
        new_exits = render_exits(desired)
        old_queues, old_exits = await read_ours(files, claimed=claimed)
        done: list[str] = []
        try:
            await self._write_and_reload(link, files, new_queues, new_exits, old_exits, reload)
            problems = await self._check(link, desired, paths, reload)
        except AmiError as exc:
            problems = [exc.message]
        except OSError as exc:
            problems = [f"writing the include files failed: {exc}"]
        if not problems:
            if new_queues != old_queues:
                done.append(f"wrote {files.queues_include}")
            if new_exits != old_exits:
                done.append(f"wrote {files.exits_include}")
            done += [f"reloaded {q}" for q in sorted(reload)]
            return done
        log.warning(
            "PBX %s: queue settings not applied (%s); putting the previous files back",
            link.name,
            "; ".join(problems),
        )
        try:
            await self._write_and_reload(link, files, old_queues, old_exits, new_exits, reload)
        except AmiError as exc:
            problems.append(f"and reloading the previous files failed too: {exc.message}")
        except OSError as exc:
            problems.append(f"and putting the previous files back failed too: {exc}")
        raise ApplyFailed("; ".join(problems))

    async def _write_and_reload(
        self,
        link: PbxLink,
        files: PbxFiles,
        queues_text: str | None,
        exits_text: str | None,
        exits_before: str | None,
        reload: set[str],
    ) -> None:
        await asyncio.to_thread(write_atomic, files.queues_path, queues_text)
        await asyncio.to_thread(write_atomic, files.exits_path, exits_text)
        if exits_text != exits_before:
            await actions.reload_module(link, "pbx_config", self.timeout)
        for queue in sorted(reload):
            await actions.queue_reload_parameters(link, queue, self.timeout)

    async def _check(
        self,
        link: PbxLink,
        desired: Mapping[str, QueueSpec],
        paths: Mapping[int, str],
        queues: set[str],
    ) -> list[str]:
        problems: list[str] = []
        for queue in sorted(queues):
            spec = desired.get(queue)
            if spec is None:
                continue
            expected = config_lines(
                queue,
                spec,
                None if spec.periodic_announce is None else paths.get(spec.periodic_announce),
            )
            sections = await actions.get_config(link, QUEUES_CONF, queue, self.timeout)
            seen = effective_values(sections.get(queue, []))
            problems += [f"{queue}: {p}" for p in read_back_mismatches(expected, seen)]
            live = await self.live(link, queue)
            if live is None:
                problems.append(f"{queue}: Asterisk no longer runs this queue")
            else:
                problems += [f"{queue}: {p}" for p in live_mismatches(spec, live)]
            for kind, key in spec.exit_keys().items():
                if key is None:
                    continue
                found = await actions.getvar(
                    link, f"DIALPLAN_EXISTS({exits_context(queue)},{key},1)", self.timeout
                )
                if found != "1":
                    problems.append(f"{queue}: the {kind} exit key {key} is not in the dialplan")
        return problems

    # --- keeping it applied ---------------------------------------------------------

    async def drift(
        self, link: PbxLink, desired: Mapping[str, QueueSpec]
    ) -> tuple[list[str], set[str]]:
        """What differs between the desired state and the PBX: (reasons, queues to reload).

        A queue the PBX's queues.conf no longer defines is left out of ``desired`` by the
        caller (``defined_queues``) so the include never names it.
        """
        files = self.files[link.name]
        paths = await self._announcement_paths(files, desired)
        reasons: list[str] = []
        reload: set[str] = set()
        queues_text, exits_text = await read_ours(files, claimed=True)
        if queues_text != render_queues(desired, paths):
            reasons.append(f"{files.queues_include} differs from the desired state")
            reload |= set(desired)
        if exits_text != render_exits(desired):
            reasons.append(f"{files.exits_include} differs from the desired state")
            reload |= {q for q, s in desired.items() if s.has_exits}
        for queue in sorted(desired):
            if queue in reload:
                continue
            wrong = await self._check(link, desired, paths, {queue})
            if wrong:
                reasons += wrong
                reload.add(queue)
        return reasons, reload
