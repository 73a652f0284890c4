"""What keeps other sites' pages out: cross-site requests refused, security headers on every
answer, no server version given away.

A browser sends the session cookie with any request to us, whichever page made it (SameSite=Lax
still lets top-level navigations through, and a form or a fetch with ``text/plain`` needs no
preflight). So a request that changes anything must say, with ``Origin`` (or ``Referer`` when a
browser leaves Origin out), that it comes from one of our own pages, and carry JSON, which no
form can send. A WebSocket handshake from another site's page is refused the same way: browsers
always send Origin there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import hdrs, web

from callcenter.web.errors import Handler, Problem

CROSS_SITE = Problem(403, "cross-site-refused", "the request does not come from our own pages")
NOT_JSON = Problem(415, "not-json", "a request body must be application/json")

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# No inline script or style anywhere: the pages load their own files only.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Server": "callcenter",
}


def _netloc(origin: str) -> str | None:
    try:
        parts = urlsplit(origin)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return parts.netloc.lower()


class SameOrigin:
    """Is a request from one of our pages? Its own host, or a configured public origin."""

    def __init__(self, public_origins: Iterable[str]) -> None:
        self.allowed = frozenset(n for n in (_netloc(o) for o in public_origins) if n)

    def origin_of(self, request: web.Request) -> str | None:
        """The netloc the browser says the request comes from (None: it did not say)."""
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is not None:
            return _netloc(origin) or "invalid"
        referer = request.headers.get(hdrs.REFERER)
        if referer is not None:
            return _netloc(referer) or "invalid"
        return None

    def allows(self, netloc: str, request: web.Request) -> bool:
        return netloc in self.allowed or netloc == request.host.lower()


def csrf_middleware(public_origins: Iterable[str]) -> Any:
    same = SameOrigin(public_origins)

    @web.middleware
    async def refuse_cross_site(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = same.origin_of(request)
        if request.method in UNSAFE_METHODS:
            if origin is None or not same.allows(origin, request):
                raise CROSS_SITE(
                    "send Origin (or Referer) of this service's own address with a request "
                    "that changes anything"
                )
            if request.body_exists and not _no_form_sends(request):
                raise NOT_JSON(
                    f"the body must be application/json, not {request.content_type or 'none'}"
                )
        elif (
            request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
            and origin is not None
            and not same.allows(origin, request)
        ):
            raise CROSS_SITE("a WebSocket from another site's page is refused")
        return await handler(request)

    return refuse_cross_site


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every answer the app prepares: pages, API, static files, errors, WebSockets."""
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value


def _no_form_sends(request: web.Request) -> bool:
    """JSON, or a sound uploaded as the file itself (an announcement): no HTML form sends
    these, and a cross-site fetch of them needs a preflight this service never answers.
    The header itself is checked: aiohttp reports a missing Content-Type as octet-stream."""
    if request.content_type == "application/json":
        return True
    return hdrs.CONTENT_TYPE in request.headers and (
        request.content_type == "application/octet-stream"
        or request.content_type.startswith("audio/")
    )
