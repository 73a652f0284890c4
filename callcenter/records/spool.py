"""The on-disk spool: every call record is written to disk before the database sees it.

Layout of the spool folder (one per service process):

* ``current.jsonl``: the open segment. Each write is appended here the moment the live model
  ends the call (a plain write(): in the kernel's page cache, so it survives kill -9).
* ``segment-<ns>.jsonl``: sealed segments. The writer seals the current segment together with
  the batch it holds, fsyncs it (now it also survives a power cut), writes the batch to the
  database and deletes the segment. While the database is down sealed segments pile up; they
  are drained oldest first when it is back, and at the next start.
* ``rejected.jsonl``: lines that could never be written (a damaged line, a row the database
  refuses while it is up), kept for a human instead of blocking everything behind them.

`write` and `seal` run on the event loop (microseconds: no fsync); the rest in a worker thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path

from callcenter.records.rows import BadLine, Op, decode

log = logging.getLogger(__name__)

CURRENT = "current.jsonl"
REJECTED = "rejected.jsonl"


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._current: int | None = None  # file descriptor of current.jsonl
        self._unsealed = 0  # bytes written to current.jsonl since the last seal

    @property
    def current_path(self) -> Path:
        return self.directory / CURRENT

    def open(self) -> None:
        """Create the folder; a current segment left by a previous process is sealed."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.close()
        path = self.current_path
        if path.exists() and path.stat().st_size > 0:
            os.replace(path, self._new_segment_path())
            self._sync_directory()

    def close(self) -> None:
        if self._current is not None:
            os.close(self._current)
            self._current = None

    def write(self, line: bytes) -> None:
        """Append one line to the current segment (no fsync: see `seal`)."""
        if self._current is None:
            self._current = os.open(
                self.current_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640
            )
        view = memoryview(line)
        while view:
            written = os.write(self._current, view)
            view = view[written:]
        self._unsealed += len(line)

    def seal(self) -> tuple[Path, int] | None:
        """Close the current segment under a segment name; returns it and its descriptor,
        which the caller must `sync_and_close` (in a thread). None when nothing was written."""
        if self._current is None or self._unsealed == 0:
            return None
        target = self._new_segment_path()
        os.replace(self.current_path, target)
        fd, self._current, self._unsealed = self._current, None, 0
        return target, fd

    def sync_and_close(self, fd: int) -> None:
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self._sync_directory()

    def write_segment(self, lines: list[bytes]) -> Path:
        """A new sealed, fsync'd segment holding `lines` (writes that missed `write`)."""
        target = self._new_segment_path()
        with target.open("wb") as handle:
            handle.write(b"".join(lines))
            handle.flush()
            os.fsync(handle.fileno())
        self._sync_directory()
        return target

    def _new_segment_path(self) -> Path:
        stamp = time.time_ns()
        target = self.directory / f"segment-{stamp:020d}.jsonl"
        while target.exists():  # two seals in one clock tick
            stamp += 1
            target = self.directory / f"segment-{stamp:020d}.jsonl"
        return target

    def segments(self) -> list[Path]:
        return sorted(self.directory.glob("segment-*.jsonl"))

    def pending_bytes(self) -> int:
        total = 0
        for path in [*self.segments(), self.current_path]:
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        return total

    def read(self, path: Path) -> list[Op]:
        """The writes of a closed segment; damaged lines go to rejected.jsonl."""
        ops: list[Op] = []
        bad: list[bytes] = []
        with path.open("rb") as handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    ops.append(decode(line))
                except BadLine as exc:
                    log.error(
                        "spool %s: unreadable line (%s); kept in %s", path.name, exc, REJECTED
                    )
                    bad.append(line if line.endswith(b"\n") else line + b"\n")
        if bad:
            self.reject(bad)
        return ops

    def reject(self, lines: list[bytes]) -> None:
        with (self.directory / REJECTED).open("ab") as handle:
            handle.write(b"".join(lines))
            handle.flush()
            os.fsync(handle.fileno())

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def _sync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
