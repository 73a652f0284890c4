"""Every route of the service, with the access it declares. A route whose access differs from
this table (or a route not in it) fails: access is changed here, on purpose, or not at all."""

from __future__ import annotations

from pathlib import Path

from callcenter.web.http import DECLARED
from tests.web.service_app import service_app

LIVE = "live:read"
OWN_CALLS = "calls:read-all|calls:read-own"
CONTROL = "queues:control"

EXPECTED = {
    "GET /healthz": "public",
    "POST /api/login": "public",
    "POST /api/logout": "public",
    "GET /api/me": "login",
    "GET /api/openapi.json": "public",
    "GET /api/docs": "public",
    "GET /static/common/{filename}": "public",
    "GET /static/vendor/{filename}": "public",
    "GET /api/reports/catalogue": "agent:self|stats:read",
    "GET /api/reports/run": "stats:read",
    "GET /api/reports/export": "stats:read",
    "GET /api/reports/scorecard": "agent:self|stats:read",
    "GET /api/reports/episodes": "stats:read",
    "GET /reports": "public",
    "GET /scorecard": "public",
    "GET /reports/static/{filename}": "public",
    "GET /api/queues": LIVE,
    "GET /api/queues/{name}": LIVE,
    "GET /api/agents": LIVE,
    "GET /ws/live": "live:feed",
    "GET /agent": "public",
    "GET /agent/static/{filename}": "public",
    "GET /ws/agent": "agent:self",
    "GET /api/agent/state": "agent:self",
    "GET /api/agent/desk": "agent:self",
    "POST /api/agent/sign-in": "agent:self",
    "POST /api/agent/sign-out": "agent:self",
    "POST /api/agent/ready": "agent:self",
    "POST /api/agent/not-ready": "agent:self",
    "POST /api/agent/abusive-caller": "agent:self",
    "GET /api/screening/blocked": "screening:edit",
    "POST /api/screening/blocked": "screening:edit",
    "DELETE /api/screening/blocked/{id}": "screening:edit",
    "GET /api/screening/events": "audit:read|screening:edit",
    "GET /api/transfers/directory": "agent:self",
    "GET /api/agent/transfer": "agent:self",
    "POST /api/agent/transfer": "agent:self",
    "POST /api/agent/escalate": "agent:self",
    "POST /api/agent/transfer/complete": "agent:self",
    "POST /api/agent/transfer/cancel": "agent:self",
    "POST /api/agent/hold": "agent:self",
    "POST /api/agent/mute": "agent:self",
    "POST /api/agent/conference": "agent:self",
    "GET /api/transfers": "calls:read-all",
    "GET /api/transfers/counts": "stats:read",
    "GET /api/transfers/calls/{pbx}/{linkedid}": "calls:read-all",
    "GET /api/transfer-targets": "transfers:edit",
    "POST /api/transfer-targets": "transfers:edit",
    "PUT /api/transfer-targets/{slug}": "transfers:edit",
    "DELETE /api/transfer-targets/{slug}": "transfers:edit",
    "GET /api/roster": "teams:read",
    "PUT /api/agents/{user_id}/skills": "agents:steer|teams:edit",
    "POST /api/agents/{user_id}/sign-out": "agents:steer",
    "GET /api/agents/{user_id}/states": "teams:read",
    "POST /api/teams": "teams:edit",
    "PUT /api/teams/{team_id}": "teams:edit",
    "DELETE /api/teams/{team_id}": "teams:edit",
    "PUT /api/not-ready-codes/{code}": "teams:edit",
    "PUT /api/agents/{user_id}/profile": "teams:edit",
    "GET /admin": "public",
    "GET /admin/static/{filename}": "public",
    "GET /api/users": "users:admin",
    "PUT /api/users/{user_id}/role": "users:admin",
    "GET /api/roles": "teams:edit|users:admin",
    "GET /api/work/options": "login",
    "GET /api/work/mine": "work:own",
    "GET /api/work/items": "work:supervise",
    "GET /api/work/counts": "work:supervise",
    "GET /api/work/customer": "work:own|work:supervise",
    "POST /api/work/items": "work:own",
    "GET /api/work/items/{id}": "work:own|work:supervise",
    "GET /api/work/tickets/{ticket}": "work:own|work:supervise",
    "POST /api/work/items/{id}/take": "work:own|work:supervise",
    "POST /api/work/items/{id}/assign": "work:own|work:supervise",
    "POST /api/work/items/{id}/notes": "work:own|work:supervise",
    "POST /api/work/items/{id}/status": "work:own|work:supervise",
    "POST /api/work/items/{id}/calls": "work:own|work:supervise",
    "POST /api/work/items/{id}/links": "work:own|work:supervise",
    "POST /api/work/bulk-assign": "work:supervise",
    "GET /api/work/callbacks/offer": "work:own",
    "POST /api/work/callbacks/{id}/accept": "work:own",
    "POST /api/work/callbacks/{id}/decline": "work:own",
    "POST /api/work/callbacks/{id}/result": "work:own",
    "GET /work": "public",
    "GET /work/static/{filename}": "public",
    "POST /api/work/items/{id}/department": "work:own|work:supervise",
    "GET /work/reply/{token}": "public",
    "GET /api/work/reply/{token}": "public",
    "POST /api/work/reply/{token}": "public",
    "GET /work-reply/static/{filename}": "public",
    "GET /api/voicemail/{id}/audio": "work:own|work:supervise",
    "GET /api/customers": "customers:read",
    "GET /api/customers/{id}": "customers:read",
    "POST /api/customers": "customers:edit",
    "PUT /api/customers/{id}": "customers:edit",
    "GET /api/calls": OWN_CALLS,
    "GET /api/calls.csv": OWN_CALLS,
    "GET /api/calls/{id}": OWN_CALLS,
    "POST /api/calls/{id}/wrapup": "calls:wrap-up",
    "GET /api/dispositions": "login",
    "POST /api/queues/{queue}/members": CONTROL,
    "DELETE /api/queues/{queue}/members/{interface}": CONTROL,
    "POST /api/queues/{queue}/members/{interface}/pause": CONTROL,
    "POST /api/queues/{queue}/members/{interface}/penalty": CONTROL,
    "POST /api/queues/{queue}/members/{interface}/ringinuse": CONTROL,
    "POST /api/queues/{queue}/callers/{uniqueid}/move": CONTROL,
    "POST /api/queues/{queue}/callers/{uniqueid}/withdraw": CONTROL,
    "POST /api/queues/{queue}/callers/{uniqueid}/priority": CONTROL,
    "POST /api/agents/{interface}/logout": CONTROL,
    "POST /api/agents/{interface}/spy": "agents:spy",
    "GET /api/audit": "audit:read",
    "GET /api/stats/intervals": "stats:read",
    "GET /wallboard": "public",
    "GET /wallboard/static/{filename}": "public",
    "GET /api/routing/policies": "routing:read",
    "GET /api/routing/policies/{queue}": "routing:read",
    "PUT /api/routing/policies/{queue}": "routing:edit",
    "DELETE /api/routing/policies/{queue}": "routing:edit",
    "GET /api/routing/episodes": "routing:read",
    "GET /api/routing/episodes/{episode}/actions": "routing:read",
    "GET /api/queue-settings": "queues:configure|queues:control",
    "GET /api/queue-settings/{pbx}/{queue}": "queues:configure|queues:control",
    "PUT /api/queue-settings/{pbx}/{queue}": "queues:configure",
    "DELETE /api/queue-settings/{pbx}/{queue}": "queues:configure",
    "GET /api/announcements": "queues:configure",
    "POST /api/announcements/upload": "queues:configure",
    "POST /api/announcements/draft": "queues:configure",
    "GET /api/announcements/{id}/audio": "queues:configure|queues:control",
    "DELETE /api/announcements/{id}": "queues:configure",
}


def actual_table(tmp_path: Path) -> dict[str, str]:
    _, app = service_app(tmp_path)
    declared = app[DECLARED]
    table: dict[str, str] = {}
    for route in app.router.routes():
        if route.method == "HEAD":
            continue  # aiohttp adds HEAD beside each GET and static route
        resource = route.resource
        assert resource is not None
        path = resource.canonical
        if route.method == "GET" and path.startswith(
            (
                "/agent/static",
                "/wallboard/static",
                "/admin/static",
                "/work/static",
                "/work-reply/static",
                "/reports/static",
                "/static/",
            )
        ):
            path += "/{filename}"
        found = declared.get(id(route))
        table[f"{route.method} {path}"] = "UNDECLARED" if found is None else str(found.access)
    return table


def test_every_route_declares_the_access_in_this_table(tmp_path: Path) -> None:
    actual = actual_table(tmp_path)
    assert actual == EXPECTED
