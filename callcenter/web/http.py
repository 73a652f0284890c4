"""The one HTTP convention of every room: declared routes, one body and query reader.

A room lists its routes as ``Route`` values (``get``, ``post``, ``put``, ``delete``,
``static``): each names who may call it (``access``), what it reads (``body``, ``query``,
``path`` pydantic models), what it answers (``response``) and how it can fail (``errors``).
``register`` is the only way a route reaches the aiohttp router, and ``access_middleware``
refuses every request whose route was not declared: deny by default. The OpenAPI description
(``callcenter/web/openapi.py``) is generated from the same declarations.

Handlers read with ``read_body``, ``read_query`` and ``read_path``; every parse or validation
problem is a 400 in the one error shape (``callcenter/web/errors.py``), never a 500.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from callcenter.auth.identity import USER, User
from callcenter.auth.permissions import Permission
from callcenter.feed.serialize import dumps
from callcenter.web.errors import (
    BAD_JSON,
    FORBIDDEN,
    INVALID_BODY,
    INVALID_PATH,
    INVALID_QUERY,
    NOT_LOGGED_IN,
    ApiError,
    Handler,
    Problem,
)

M = TypeVar("M", bound=BaseModel)

# Deeper JSON than this is no request of ours; refusing it early keeps validation (and any
# recursive code after it) far from Python's recursion limit.
MAX_JSON_DEPTH = 32
Method = Literal["GET", "POST", "PUT", "DELETE", "PATCH"]
Kind = Literal["api", "page", "static", "socket", "text"]


@dataclass(frozen=True, slots=True)
class Access:
    """Who may call a route: anyone, any logged-in user, or a user holding any one of
    ``permissions``."""

    kind: Literal["public", "login", "permission"]
    permissions: frozenset[Permission] = frozenset()

    def __str__(self) -> str:
        if self.kind != "permission":
            return self.kind
        return "|".join(sorted(self.permissions))

    def allows(self, user: User | None) -> bool:
        if self.kind == "public":
            return True
        if user is None:
            return False
        return self.kind == "login" or bool(self.permissions & user.permissions)


PUBLIC = Access("public")
LOGIN = Access("login")


def needs(*permissions: Permission) -> Access:
    """Access for a user holding any one of ``permissions``."""
    if not permissions:
        raise ValueError("name at least one permission (or use LOGIN / PUBLIC)")
    return Access("permission", frozenset(permissions))


@dataclass(frozen=True, slots=True)
class Route:
    method: Method
    path: str
    handler: Handler
    access: Access
    summary: str
    kind: Kind = "api"
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    path_params: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    # Content type of a response that is not JSON (a CSV export, a page).
    content_type: str | None = None
    errors: tuple[Problem, ...] = ()
    tag: str = ""
    # For static routes: the directory served under ``path``.
    directory: Path | None = None
    description: str = ""

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def route(
    method: Method, path: str, handler: Handler, *, access: Access, summary: str, **options: Any
) -> Route:
    """A declared route; ``access`` and ``summary`` are required (deny by default)."""
    return Route(method, path, handler, access, summary, **options)


def get(path: str, handler: Handler, *, access: Access, summary: str, **options: Any) -> Route:
    return route("GET", path, handler, access=access, summary=summary, **options)


def post(path: str, handler: Handler, *, access: Access, summary: str, **options: Any) -> Route:
    return route("POST", path, handler, access=access, summary=summary, **options)


def put(path: str, handler: Handler, *, access: Access, summary: str, **options: Any) -> Route:
    return route("PUT", path, handler, access=access, summary=summary, **options)


def delete(path: str, handler: Handler, *, access: Access, summary: str, **options: Any) -> Route:
    return route("DELETE", path, handler, access=access, summary=summary, **options)


def static(prefix: str, directory: Path, *, access: Access, summary: str) -> Route:
    async def unused(request: web.Request) -> web.StreamResponse:  # pragma: no cover
        raise web.HTTPNotFound()

    return Route(
        "GET",
        prefix + "/{filename:.*}",
        unused,
        access,
        summary,
        kind="static",
        directory=directory,
    )


# --- registration and the access check ---------------------------------------------------

DECLARED: web.AppKey[dict[int, Route]] = web.AppKey("declared_routes")
ROUTES: web.AppKey[list[Route]] = web.AppKey("routes")


def register(app: web.Application, routes: Iterable[Route]) -> None:
    """Add declared routes to the app (the only way routes are added)."""
    declared = app.setdefault(DECLARED, {})
    listed = app.setdefault(ROUTES, [])
    for route in routes:
        if not isinstance(route.access, Access):
            raise TypeError(f"{route.key}: access must be declared")
        if route.kind == "static":
            assert route.directory is not None
            prefix = route.path.removesuffix("/{filename:.*}")
            resource = app.router.add_static(prefix, route.directory, append_version=True)
            for added in resource:
                declared[id(added)] = route
        else:
            added = app.router.add_route(route.method, route.path, route.handler)
            declared[id(added)] = route
        listed.append(route)


def declared_route(request: web.Request) -> Route | None:
    return request.app[DECLARED].get(id(request.match_info.route))


Authenticate = Callable[[web.Request], Awaitable[User | None]]


def access_middleware(authenticate: Authenticate) -> Any:
    """Who is calling (``authenticate``, the auth room's session check), and may they?"""

    @web.middleware
    async def check_access(request: web.Request, handler: Handler) -> web.StreamResponse:
        request[USER] = await authenticate(request)
        match = request.match_info
        if match.http_exception is not None:
            raise match.http_exception  # 404 / 405: no route, nothing to check
        route = declared_route(request)
        if route is None:
            # Registered behind register()'s back: refused rather than served unchecked.
            raise FORBIDDEN(f"{request.method} {request.path} has no declared access")
        user = request[USER]
        if not route.access.allows(user):
            if user is None:
                raise NOT_LOGGED_IN("log in first")
            raise FORBIDDEN(f"a {user.role} may not do this", needs=str(route.access))
        return await handler(request)

    return check_access


def request_user(request: web.Request) -> User:
    """The logged-in user of a route whose access is not public."""
    user: User | None = request.get(USER)
    if user is None:
        raise NOT_LOGGED_IN("log in first")
    return user


# --- readers ---------------------------------------------------------------------------


def _problems(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {
            "field": ".".join(str(p) for p in e["loc"]) or "body",
            "problem": e["msg"].removeprefix("Value error, "),
        }
        for e in exc.errors(include_input=False, include_url=False)
    ]


def _invalid(problem: Problem, exc: ValidationError) -> ApiError:
    problems = _problems(exc) or [{"field": "", "problem": "invalid"}]
    first = problems[0]
    return problem(f"{first['field']}: {first['problem']}", problems=problems)


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


async def read_json(request: web.Request) -> Any:
    """The body as JSON: a bad, non-UTF-8 or too deeply nested body is a 400."""
    raw = await request.read()
    try:
        # orjson does not recurse on the C stack past its own limit: no RecursionError.
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BAD_JSON("the request body must be JSON") from None
    if _depth(data) > MAX_JSON_DEPTH:
        raise BAD_JSON(f"the request body nests deeper than {MAX_JSON_DEPTH} levels")
    return data


async def read_body(request: web.Request, model: type[M]) -> M:
    data = await read_json(request)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _invalid(INVALID_BODY, exc) from None


# Raw uploads (a recorded announcement): the body is the file itself.
UPLOAD_TYPES = ("audio/", "application/octet-stream")
UPLOAD_TOO_LARGE = Problem(413, "upload-too-large", "the uploaded file is larger than allowed")
EMPTY_UPLOAD = Problem(400, "empty-upload", "the request body (the file) is empty")
NOT_AN_UPLOAD = Problem(
    415, "not-an-upload", "the body must be audio/* or application/octet-stream"
)


async def read_upload(request: web.Request, max_bytes: int) -> bytes:
    """The body as the uploaded file's bytes: ``audio/*`` or ``application/octet-stream``,
    not empty, at most ``max_bytes`` (read from the stream, so past aiohttp's own JSON-sized
    limit, and never more than ``max_bytes`` + one chunk into memory)."""
    # The header itself: aiohttp reads a missing one as application/octet-stream.
    if "Content-Type" not in request.headers or not request.content_type.startswith(UPLOAD_TYPES):
        raise NOT_AN_UPLOAD(f"the body is {request.content_type or 'untyped'}, not a sound file")
    if request.content_length is not None and request.content_length > max_bytes:
        raise UPLOAD_TOO_LARGE(
            f"the file is {request.content_length} bytes, at most {max_bytes}", limit=max_bytes
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise UPLOAD_TOO_LARGE(f"the file is over {max_bytes} bytes", limit=max_bytes)
        chunks.append(chunk)
    if size == 0:
        raise EMPTY_UPLOAD("send the sound file as the request body")
    return b"".join(chunks)


def read_query(request: web.Request, model: type[M], *, repeatable: Sequence[str] = ()) -> M:
    """Query parameters: each given once, except those in ``repeatable`` (joined with
    commas, for filters that take several values)."""
    values: dict[str, str] = {}
    for key in set(request.query):
        given = request.query.getall(key)
        if len(given) > 1 and key not in repeatable:
            raise INVALID_QUERY(f"{key}: given more than once", field=key)
        values[key] = ",".join(given)
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise _invalid(INVALID_QUERY, exc) from None


def read_path(request: web.Request, model: type[M]) -> M:
    try:
        return model.model_validate(dict(request.match_info))
    except ValidationError as exc:
        raise _invalid(INVALID_PATH, exc) from None


def reply(data: Any, status: int = 200) -> web.Response:
    """A JSON answer (orjson: dataclasses, datetimes and enums as the feed writes them)."""
    return web.json_response(data, status=status, dumps=dumps)
