"""Frozen views and changes of the live model as JSON-ready data."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any


def to_data(value: Any) -> Any:
    """Dataclasses, mappings, tuples and datetimes as plain JSON types."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_data(v) for v in value]
    return value


def change_message(change: Any) -> dict[str, Any]:
    """One live-feed message: ``{"type": "CallRinging", ...fields}``."""
    data: dict[str, Any] = {"type": type(change).__name__}
    data.update(to_data(change))
    return data


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
