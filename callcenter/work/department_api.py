"""HTTP adapter of "other departments" (docs/work-items.md): send an item to a department,
and the department's reply page and API, public but for the link's token.

The reply routes are PUBLIC: the token in the path is the credential. A token that is not
one of ours is 404, an expired one 410, and neither changes anything. The token never goes
to a log line: the handlers answer database trouble themselves (the app's middleware would
log the path).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, Field

from callcenter.audit.log import Audit
from callcenter.auth.permissions import P
from callcenter.feed.serialize import to_data
from callcenter.web import http
from callcenter.web.errors import Problem
from callcenter.web.http import PUBLIC, Route, needs, read_body, read_path, reply, request_user
from callcenter.work.api import LINE, TEXT, ItemDetail, ItemPath, StrictBody
from callcenter.work.departments import (
    LINK_EXPIRED,
    NO_SUCH_LINK,
    TOO_MANY_REPLIES,
    Departments,
    Link,
)
from callcenter.work.problems import NO_SUCH_DEPARTMENT, NO_SUCH_ITEM, NOT_STORED, NOT_YOUR_ITEM

STATIC_DIR = Path(__file__).resolve().parents[1] / "web" / "static" / "work-reply"
# A reply is a name and a text of at most 4000 characters: a body far past that is refused
# before it is read.
MAX_REPLY_BYTES = 32 * 1024
NO_STORE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}

REPLY_TOO_LARGE = Problem(413, "reply-too-large", "a reply's body is at most 32 KiB")


class DepartmentBody(StrictBody):
    department: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_-]+$")]
    message: Annotated[str, Field(min_length=1, max_length=4000, pattern=TEXT)]


class ReplyBody(StrictBody):
    name: Annotated[str, Field(min_length=1, max_length=80, pattern=LINE)]
    text: Annotated[str, Field(min_length=1, max_length=4000, pattern=TEXT)]


class TokenPath(BaseModel):
    token: Annotated[str, Field(description="the reply link's token (from the e-mail)")]


class DeliveryData(BaseModel):
    channel: str
    delivered: bool
    error: str | None


class RequestData(BaseModel):
    id: int
    department: str
    channel: str
    delivered: bool
    error: str | None
    sent_at: datetime
    expires_at: datetime
    # The link as sent (to pass on by hand when the delivery failed); stored only hashed.
    reply_url: str
    deliveries: list[DeliveryData]


class DepartmentAnswer(BaseModel):
    request: RequestData
    item: ItemDetail


class DepartmentLabel(BaseModel):
    code: str
    label_zh: str
    label_en: str


class ReplyItem(BaseModel):
    ticket: str
    title: str
    kind: str
    status: str
    priority: str
    category: str
    category_zh: str
    category_en: str
    due_at: datetime | None
    # Masked but for the last four digits.
    phone: str | None
    created_at: datetime


class ReplyNote(BaseModel):
    at: datetime
    actor: str
    kind: str
    text: str


class ReplyView(BaseModel):
    department: DepartmentLabel
    item: ReplyItem
    message: str
    sent_at: datetime
    expires_at: datetime
    answered_at: datetime | None
    notes: list[ReplyNote]


class DepartmentApi:
    def __init__(self, departments: Departments, audit: Audit | None = None) -> None:
        self.departments = departments
        self.audit = audit

    def routes(self) -> Sequence[Route]:
        tag = "work"
        link_problems = (NO_SUCH_LINK, LINK_EXPIRED, NOT_STORED)
        return [
            http.post(
                "/api/work/items/{id}/department",
                self.send,
                access=needs(P.WORK_OWN, P.WORK_SUPERVISE),
                tag=tag,
                summary="Send the item to another department (e-mail and/or webhook) with a "
                "reply link",
                description="201 whether or not a channel took it: `request.delivered` is "
                "false and `request.error` says why when none did (the item then does not "
                "wait on the department).",
                path_params=ItemPath,
                body=DepartmentBody,
                response=DepartmentAnswer,
                status=201,
                errors=(NO_SUCH_ITEM, NO_SUCH_DEPARTMENT, NOT_YOUR_ITEM, NOT_STORED),
            ),
            http.get(
                "/work/reply/{token}",
                self.page,
                access=PUBLIC,
                kind="page",
                content_type="text/html",
                tag=tag,
                summary="A department's reply page (the token is the credential)",
            ),
            http.get(
                "/api/work/reply/{token}",
                self.view,
                access=PUBLIC,
                tag=tag,
                summary="The item as the reply link shows it to the department",
                path_params=TokenPath,
                response=ReplyView,
                errors=link_problems,
            ),
            http.post(
                "/api/work/reply/{token}",
                self.reply,
                access=PUBLIC,
                tag=tag,
                summary="A department's reply: added to the item's timeline",
                description="The link serves several replies until it expires, at most 10 an hour.",
                path_params=TokenPath,
                body=ReplyBody,
                response=ReplyView,
                status=201,
                errors=(*link_problems, TOO_MANY_REPLIES, REPLY_TOO_LARGE),
            ),
            http.static(
                "/work-reply/static",
                STATIC_DIR,
                access=PUBLIC,
                summary="Script and style of the department's reply page",
            ),
        ]

    async def send(self, request: web.Request) -> web.Response:
        item_id = read_path(request, ItemPath).id
        body = await read_body(request, DepartmentBody)
        user = request_user(request)
        sent = await self.departments.send(item_id, user, body.department, body.message)
        row = sent.request
        if self.audit is not None:
            await self.audit.record(
                request,
                user,
                "work.department",
                f"work-item:{sent.item.ticket}",
                ok=row.delivered,
                parameters={
                    "department": row.department,
                    "request": row.id,
                    "delivered": row.delivered,
                },
                message=row.error or "",
            )
        answer = {
            "request": {
                "id": row.id,
                "department": row.department,
                "channel": row.channel,
                "delivered": row.delivered,
                "error": row.error,
                "sent_at": to_data(row.sent_at),
                "expires_at": to_data(row.expires_at),
                "reply_url": sent.reply_url,
                "deliveries": [to_data(d) for d in sent.deliveries],
            },
            "item": await self.departments.items.detail(sent.item),
        }
        response = reply(answer, status=201)
        response.headers["Cache-Control"] = "no-store"
        return response

    async def page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers=NO_STORE)

    async def _answer(self, link: Link, status: int = 200) -> web.Response:
        response = reply(await self.departments.view(link), status=status)
        response.headers.update(NO_STORE)
        return response

    async def view(self, request: web.Request) -> web.Response:
        link = await self.departments.open_link(request.match_info["token"])
        return await self._answer(link)

    async def reply(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if request.content_length is not None and request.content_length > MAX_REPLY_BYTES:
            raise REPLY_TOO_LARGE(f"the body is {request.content_length} bytes")
        # The token first: an unknown or expired link is told as such whatever the body.
        link = await self.departments.open_link(token)
        body = await read_body(request, ReplyBody)
        link = await self.departments.reply(link, body.name, body.text)
        if self.audit is not None:
            await self.audit.record(
                request,
                None,
                "work.reply",
                f"work-item:{link.item.ticket}",
                parameters={"department": link.department.code, "request": link.request.id},
                username=f"{link.department.code}: {body.name}",
            )
        return await self._answer(link, status=201)
