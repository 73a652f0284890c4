"""HTTP adapter of the callback dialler: the agent's offer, accept, decline, and the agent's
word on whether the customer was reached (docs/work-items.md, "Callbacks")."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, Field

from callcenter.audit.log import Audit
from callcenter.auth.identity import User
from callcenter.auth.permissions import P
from callcenter.feed.serialize import to_data
from callcenter.web import http
from callcenter.web.errors import ApiError, Problem
from callcenter.web.http import Route, needs, read_body, read_path, reply, request_user
from callcenter.work.api import LINE, TEXT, AttemptData, ItemData, ItemPath, StrictBody
from callcenter.work.dialer import CallbackDialer, CallbackError
from callcenter.work.items import Actor

NO_SUCH_CALLBACK = Problem(404, "no-such-callback", "the item has no callback schedule")
NOT_YOUR_OFFER = Problem(403, "not-your-offer", "that callback is offered to someone else")
OFFER_GONE = Problem(409, "offer-gone", "the offer ran out, was declined or was taken")
NOT_READY = Problem(409, "not-ready", "accepting a callback needs a phone, signed in and ready")
PBX_UNAVAILABLE = Problem(503, "pbx-unavailable", "the agent's PBX is not connected")
NO_SUCH_ATTEMPT = Problem(404, "no-such-attempt", "the item has no callback attempt of that number")
NOT_YOUR_CALLBACK = Problem(403, "not-your-callback", "that callback attempt was another agent's")
NO_CALL = Problem(409, "no-call", "the agent's phone never answered that attempt")

PROBLEMS: dict[str, Problem] = {
    p.error: p
    for p in (
        NO_SUCH_CALLBACK,
        NOT_YOUR_OFFER,
        OFFER_GONE,
        NOT_READY,
        PBX_UNAVAILABLE,
        NO_SUCH_ATTEMPT,
        NOT_YOUR_CALLBACK,
        NO_CALL,
    )
}


class DeclineBody(StrictBody):
    reason: Annotated[str, Field(max_length=200, pattern=LINE)] = ""


class ResultBody(StrictBody):
    attempt: Annotated[int, Field(ge=1, le=1000)]
    reached: bool
    note: Annotated[str, Field(max_length=4000, pattern=TEXT)] = ""


class OfferCustomer(BaseModel):
    id: int
    name: str
    vip_level: int | None
    language: str | None


class OfferTry(BaseModel):
    attempt: int
    started_at: datetime
    outcome: str | None
    reason: str | None
    agent_id: int | None


class Offer(BaseModel):
    item_id: int
    ticket: str
    number: str
    queue: str | None
    offered_until: datetime | None
    auto_dial: bool
    attempts: int
    max_attempts: int
    item: ItemData
    customer: OfferCustomer | None
    history: list[OfferTry]


class OfferAnswer(BaseModel):
    offer: Offer | None


class DialAnswer(BaseModel):
    item_id: int
    attempt: int
    channel_id: str
    # True when the attempt already ended (the PBX refused the dial): see outcome, reason.
    ended: bool
    outcome: str | None
    reason: str | None


class DeclineAnswer(BaseModel):
    item_id: int
    declined: bool


class CallbackApi:
    def __init__(self, dialer: CallbackDialer, audit: Audit | None = None) -> None:
        self.dialer = dialer
        self.audit = audit

    def routes(self) -> Sequence[Route]:
        own = needs(P.WORK_OWN)
        tag = "work"
        return [
            http.get(
                "/api/work/callbacks/offer",
                self.offer,
                access=own,
                tag=tag,
                summary="The callback offered to me now, or null",
                response=OfferAnswer,
            ),
            http.post(
                "/api/work/callbacks/{id}/accept",
                self.accept,
                access=own,
                tag=tag,
                summary="Accept the callback offered to me: my phone rings, then the customer",
                path_params=ItemPath,
                response=DialAnswer,
                errors=(NO_SUCH_CALLBACK, NOT_YOUR_OFFER, OFFER_GONE, NOT_READY, PBX_UNAVAILABLE),
            ),
            http.post(
                "/api/work/callbacks/{id}/decline",
                self.decline,
                access=own,
                tag=tag,
                summary="Decline the callback offered to me: it is offered to someone else",
                path_params=ItemPath,
                body=DeclineBody,
                response=DeclineAnswer,
                errors=(NO_SUCH_CALLBACK, NOT_YOUR_OFFER, OFFER_GONE),
            ),
            http.post(
                "/api/work/callbacks/{id}/result",
                self.result,
                access=own,
                tag=tag,
                summary="Say whether the customer was reached on my callback attempt",
                path_params=ItemPath,
                body=ResultBody,
                response=AttemptData,
                errors=(NO_SUCH_ATTEMPT, NOT_YOUR_CALLBACK, NO_CALL),
            ),
        ]

    async def offer(self, request: web.Request) -> web.Response:
        user = request_user(request)
        return reply({"offer": await self.dialer.pending_offer(user.id)})

    async def accept(self, request: web.Request) -> web.Response:
        item_id = read_path(request, ItemPath).id
        user = request_user(request)
        try:
            dialled = await self.dialer.accept(item_id, user.id)
        except CallbackError as exc:
            raise _problem(exc, item_id) from None
        await self._audit(request, user, "work.callback-accept", item_id, attempt=dialled.attempt)
        return reply(to_data(dialled))

    async def decline(self, request: web.Request) -> web.Response:
        item_id = read_path(request, ItemPath).id
        body = await read_body(request, DeclineBody)
        user = request_user(request)
        try:
            await self.dialer.decline(item_id, user.id, body.reason, Actor.of(user))
        except CallbackError as exc:
            raise _problem(exc, item_id) from None
        await self._audit(request, user, "work.callback-decline", item_id, reason=body.reason)
        return reply({"item_id": item_id, "declined": True})

    async def result(self, request: web.Request) -> web.Response:
        item_id = read_path(request, ItemPath).id
        body = await read_body(request, ResultBody)
        user = request_user(request)
        try:
            attempt = await self.dialer.result(
                item_id, body.attempt, user.id, body.reached, body.note, Actor.of(user)
            )
        except CallbackError as exc:
            raise _problem(exc, item_id) from None
        await self._audit(
            request,
            user,
            "work.callback-result",
            item_id,
            attempt=body.attempt,
            reached=body.reached,
        )
        return reply(
            {
                "attempt": attempt.attempt,
                "agent_id": attempt.agent_id,
                "agent_name": self.dialer.items.name_of(attempt.agent_id),
                "agent_interface": attempt.agent_interface,
                "number": attempt.number,
                "started_at": to_data(attempt.started_at),
                "agent_answered_at": to_data(attempt.agent_answered_at),
                "customer_answered_at": to_data(attempt.customer_answered_at),
                "ended_at": to_data(attempt.ended_at),
                "outcome": attempt.outcome,
                "reason": attempt.reason,
                "call_id": attempt.call_id,
            }
        )

    async def _audit(
        self, request: web.Request, user: User, action: str, item_id: int, **parameters: Any
    ) -> None:
        if self.audit is not None:
            await self.audit.record(
                request, user, action, f"work-item:{item_id}", parameters=to_data(parameters)
            )


def _problem(exc: CallbackError, item_id: int) -> ApiError:
    problem = PROBLEMS.get(exc.code, OFFER_GONE)
    return problem(exc.message, item_id=item_id)
