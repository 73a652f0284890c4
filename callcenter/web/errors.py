"""API errors with one machine-readable shape: ``{"status", "error", "message", ...}``."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


def api_error(status: int, error: str, message: str, **details: Any) -> web.HTTPException:
    body = {"status": status, "error": error, "message": message, **details}
    text = json.dumps(body, ensure_ascii=False)
    exception = web.HTTPException(text=text, content_type="application/json")
    exception.set_status(status)
    return exception
