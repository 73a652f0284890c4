"""Logging set-up with a filter that keeps secrets out of every log line."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiohttp.http_exceptions import HttpProcessingError

MASK = "***"


class SecretMaskingFilter(logging.Filter):
    """Replaces any configured secret in a record's final text.

    It works on the formatted message so that a secret passed as a ``%s`` argument or
    inside an exception text is masked too.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        masked = self._mask(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._mask(record.exc_text)
        if masked != message:
            record.msg, record.args = masked, None
        return True

    def _mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text


def mask_number(number: str | None) -> str:
    """A phone number fit for a log line: the first 3 and last 4 digits stay.

    ``mask_number("13800138000") == "138****8000"``; short numbers (extensions) keep only
    their last digit visible.
    """
    if not number:
        return ""
    if len(number) <= 4:
        return "*" * (len(number) - 1) + number[-1]
    if len(number) <= 7:
        return number[:1] + "*" * (len(number) - 3) + number[-2:]
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


class MalformedRequestFilter(logging.Filter):
    """aiohttp logs a request it cannot parse (a header too long, a NUL in a value) as an
    error with a traceback whose message quotes the offending bytes: part of a cookie, or
    whatever an attacker sent. The client got its 400 already; we keep one line that says
    what kind of problem it was, without the bytes."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True
        reason = str(exc.message).split(":", 1)[0].strip()[:80] if exc.message else ""
        record.msg = "malformed HTTP request refused with %s (%s: %s)"
        record.args = (exc.code, type(exc).__name__, reason.encode("ascii", "replace").decode())
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = None
        return True


def configure_logging(level: str, secrets: Iterable[str]) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z")
    )
    handler.addFilter(SecretMaskingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.server").addFilter(MalformedRequestFilter())
    # aiohttp's access log is per request and too chatty for INFO.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
