"""Customer API: look up by number or account, read, create, edit (any logged-in user)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from callcenter.auth.identity import require_user
from callcenter.auth.web import read_json, validation_error
from callcenter.customers.directory import CustomerDirectory
from callcenter.customers.index import Customer, PastCall
from callcenter.customers.phones import BadPhoneNumber, to_e164
from callcenter.customers.repo import DuplicateAccount, NoSuchCustomer
from callcenter.feed.serialize import dumps
from callcenter.web.errors import api_error

DIRECTORY: web.AppKey[CustomerDirectory] = web.AppKey("customer_directory")


class CustomerBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=120)
    phones: list[str] = Field(default_factory=list, max_length=10)
    account_number: str | None = Field(
        default=None, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
    )
    vip_level: int = Field(default=0, ge=0, le=9)
    language: str = Field(default="zh", pattern=r"^(zh|en)$")
    tags: list[str] = Field(default_factory=list, max_length=20)
    notes: str = Field(default="", max_length=4000)


def customer_data(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.id,
        "name": customer.name,
        "phones": list(customer.phones),
        "account_number": customer.account_number,
        "vip_level": customer.vip_level,
        "language": customer.language,
        "tags": list(customer.tags),
        "notes": customer.notes,
    }


def call_data(call: PastCall) -> dict[str, Any]:
    return {
        "pbx": call.pbx,
        "uniqueid": call.uniqueid,
        "queue": call.queue,
        "joined_at": call.joined_at.isoformat(),
        "outcome": call.outcome,
        "answered_by": call.answered_by_name,
        "wait_seconds": call.wait_seconds,
        "talk_seconds": call.talk_seconds,
        "disposition": call.disposition,
    }


def _values(body: Any, region: str) -> dict[str, Any]:
    try:
        parsed = CustomerBody.model_validate(body)
    except ValidationError as exc:
        raise validation_error(exc) from None
    phones: list[str] = []
    for position, raw in enumerate(parsed.phones):
        try:
            number = to_e164(raw, region)
        except BadPhoneNumber as exc:
            raise api_error(
                400, "bad-phone-number", str(exc), field=f"phones.{position}", region=region
            ) from None
        if number not in phones:
            phones.append(number)
    tags = [t.strip() for t in parsed.tags if t.strip()]
    if any(len(t) > 32 for t in tags):
        raise api_error(400, "invalid-body", "tags: at most 32 characters each", field="tags")
    return {
        "name": parsed.name,
        "phones": phones,
        "account_number": parsed.account_number or None,
        "vip_level": parsed.vip_level,
        "language": parsed.language,
        "tags": tags,
        "notes": parsed.notes,
    }


def _customer_id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise api_error(404, "no-such-customer", "customer ids are numbers") from None


async def search(request: web.Request) -> web.Response:
    require_user(request)
    directory = request.app[DIRECTORY]
    phone, account = request.query.get("phone", ""), request.query.get("account", "")
    if not phone and not account:
        raise api_error(400, "missing-query", "give ?phone=NUMBER or ?account=ACCOUNT")
    found: list[Customer] = []
    if account:
        customer = directory.index.by_account(account)
        found += [customer] if customer else []
    if phone:
        found += [c for c in directory.index.by_phone(directory.key(phone)) if c not in found]
    return web.json_response({"customers": [customer_data(c) for c in found]}, dumps=dumps)


async def get_one(request: web.Request) -> web.Response:
    require_user(request)
    directory = request.app[DIRECTORY]
    customer = directory.index.get(_customer_id(request))
    if customer is None:
        raise api_error(404, "no-such-customer", "no such customer")
    return web.json_response(
        {
            **customer_data(customer),
            "calls": [call_data(c) for c in directory.calls_of_customer(customer)],
        },
        dumps=dumps,
    )


async def create(request: web.Request) -> web.Response:
    require_user(request)
    directory = request.app[DIRECTORY]
    values = _values(await read_json(request), directory.region)
    try:
        customer = await directory.save(values)
    except DuplicateAccount:
        raise api_error(
            409,
            "duplicate-account",
            "another customer has this account number",
            account_number=values["account_number"],
        ) from None
    return web.json_response(customer_data(customer), status=201, dumps=dumps)


async def update(request: web.Request) -> web.Response:
    require_user(request)
    directory = request.app[DIRECTORY]
    customer_id = _customer_id(request)
    values = _values(await read_json(request), directory.region)
    try:
        customer = await directory.save(values, customer_id)
    except NoSuchCustomer:
        raise api_error(404, "no-such-customer", "no such customer") from None
    except DuplicateAccount:
        raise api_error(
            409,
            "duplicate-account",
            "another customer has this account number",
            account_number=values["account_number"],
        ) from None
    return web.json_response(customer_data(customer), dumps=dumps)


def add_routes(app: web.Application, directory: CustomerDirectory) -> None:
    app[DIRECTORY] = directory
    app.router.add_get("/api/customers", search)
    app.router.add_post("/api/customers", create)
    app.router.add_get("/api/customers/{id}", get_one)
    app.router.add_put("/api/customers/{id}", update)
