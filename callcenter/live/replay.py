"""Replay recorded AMI traces through the live model (the same code path as the AMI adapter).

Trace format: JSON lines, one AMI message per line::

    {"received_at": "2025-01-31T09:00:00.123+00:00", "fields": {"Event": "QueueCallerJoin", ...}}

Blank lines and lines starting with '#' are skipped, so fixtures can carry comments. A path
ending in ``.gz`` is read through gzip (long unfiltered recordings are kept compressed).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from callcenter.live.changes import Change
from callcenter.live.events import DEFAULT_VAR_PREFIX, MalformedEvent, parse_event
from callcenter.live.model import LiveModel

__all__ = ["TraceError", "load_trace", "replay"]


class TraceError(ValueError):
    """A trace line that is not a valid record."""


def load_trace(path: str | Path) -> Iterator[tuple[datetime, dict[str, str]]]:
    """Yield (received_at, fields) for each message of a JSON-lines trace file."""
    with _open_text(Path(path)) as lines:
        for number, line in enumerate(lines, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            yield _parse_line(text, f"{path}:{number}")


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _parse_line(text: str, where: str) -> tuple[datetime, dict[str, str]]:
    try:
        record = json.loads(text)
        received_at = datetime.fromisoformat(record["received_at"])
        raw_fields = record["fields"]
    except (ValueError, KeyError, TypeError) as exc:
        raise TraceError(f"{where}: {exc}") from None
    if not isinstance(raw_fields, dict):
        raise TraceError(f"{where}: fields is not an object")
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=UTC)
    return received_at, {str(k): str(v) for k, v in raw_fields.items()}


def replay(
    model: LiveModel,
    pbx: str,
    trace: Iterable[tuple[datetime, dict[str, str]]],
    *,
    var_prefix: str = DEFAULT_VAR_PREFIX,
    skip_malformed: bool = True,
) -> list[Change]:
    """Feed a trace to the model; returns every change it emitted, in order."""
    changes: list[Change] = []
    for received_at, fields in trace:
        try:
            event = parse_event(pbx, fields, received_at, var_prefix=var_prefix)
        except MalformedEvent:
            if not skip_malformed:
                raise
            continue
        if event is not None:
            changes.extend(model.apply(event))
    return changes
