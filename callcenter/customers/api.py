"""Customer API: look up by number or account, read, create, edit.

Served by the customer directory room (``callcenter.customers.room``): reads answer from
the in-memory directory, writes go to the database and then into the directory at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Self

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from callcenter.audit.log import Audit
from callcenter.auth.permissions import Permission as P
from callcenter.customers.directory import CustomerDirectory
from callcenter.customers.index import Customer, PastCall
from callcenter.customers.phones import BadPhoneNumber, to_e164
from callcenter.customers.repo import DuplicateAccount, NoSuchCustomer
from callcenter.logs import mask_number
from callcenter.web import http
from callcenter.web.errors import Problem
from callcenter.web.http import (
    Route,
    needs,
    read_body,
    read_path,
    read_query,
    reply,
    request_user,
)

NO_SUCH_CUSTOMER = Problem(404, "no-such-customer", "there is no customer with this id")
MAY_NOT_CLASSIFY = Problem(403, "may-not-classify", "VIP level and tags are for staff to set")
DUPLICATE_ACCOUNT = Problem(409, "duplicate-account", "another customer has this account number")
BAD_PHONE_NUMBER = Problem(400, "bad-phone-number", "a phone number cannot be read")

# The customers table's ids are BIGINTs: nothing larger reaches the database.
MAX_ID = 2**63 - 1
# PostgreSQL text cannot hold NUL: a profile with one is refused, not sent to SQL.
NO_NUL = r"^[^\x00]*$"
Tag = Annotated[str, Field(max_length=32, pattern=NO_NUL)]
Phone = Annotated[str, Field(max_length=64, pattern=NO_NUL)]


class CustomerBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=120, pattern=NO_NUL)
    phones: list[Phone] = Field(default_factory=list, max_length=10)
    account_number: str | None = Field(
        default=None, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
    )
    vip_level: int = Field(default=0, ge=0, le=9)
    language: str = Field(default="zh", pattern=r"^(zh|en)$")
    # Stripped first; blank tags are dropped.
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    notes: str = Field(default="", max_length=4000, pattern=NO_NUL)


class CustomerPath(BaseModel):
    id: int = Field(ge=1, le=MAX_ID)


class CustomerQuery(BaseModel):
    phone: str = Field(default="", max_length=64)
    account: str = Field(default="", max_length=64)

    @model_validator(mode="after")
    def _one_given(self) -> Self:
        if not self.phone and not self.account:
            raise ValueError("give ?phone=NUMBER or ?account=ACCOUNT")
        return self


class CustomerData(BaseModel):
    id: int
    name: str
    phones: list[str]
    account_number: str | None
    vip_level: int
    language: str
    tags: list[str]
    notes: str


class CustomerCallData(BaseModel):
    pbx: str
    uniqueid: str
    queue: str
    joined_at: datetime
    outcome: str
    answered_by: str | None
    wait_seconds: float | None
    talk_seconds: float | None
    disposition: str | None


class CustomerWithCalls(CustomerData):
    calls: list[CustomerCallData]


class CustomerList(BaseModel):
    customers: list[CustomerData]


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


def customer_values(body: CustomerBody, region: str) -> dict[str, Any]:
    """The row's values: phones as E.164 (each once), blank tags dropped."""
    phones: list[str] = []
    for position, raw in enumerate(body.phones):
        try:
            number = to_e164(raw, region)
        except BadPhoneNumber as exc:
            raise BAD_PHONE_NUMBER(str(exc), field=f"phones.{position}", region=region) from None
        if number not in phones:
            phones.append(number)
    return {
        "name": body.name,
        "phones": phones,
        "account_number": body.account_number or None,
        "vip_level": body.vip_level,
        "language": body.language,
        "tags": [tag for tag in body.tags if tag],
        "notes": body.notes,
    }


class CustomerApi:
    """The routes of the customer API over one directory."""

    def __init__(self, directory: CustomerDirectory, audit: Audit | None = None) -> None:
        self.directory = directory
        self.audit = audit

    async def _audit(
        self, request: web.Request, action: str, target: str, **parameters: Any
    ) -> None:
        if self.audit is not None:
            user = request_user(request)
            await self.audit.record(request, user, action, target, parameters=parameters)

    def routes(self) -> Sequence[Route]:
        read, edit = needs(P.CUSTOMERS_READ), needs(P.CUSTOMERS_EDIT)
        return [
            http.get(
                "/api/customers",
                self.search,
                access=read,
                tag="customers",
                summary="Customers by account number and/or phone number",
                query=CustomerQuery,
                response=CustomerList,
            ),
            http.get(
                "/api/customers/{id}",
                self.get_one,
                access=read,
                tag="customers",
                summary="One customer with their latest calls",
                path_params=CustomerPath,
                response=CustomerWithCalls,
                errors=(NO_SUCH_CUSTOMER,),
            ),
            http.post(
                "/api/customers",
                self.create,
                access=edit,
                tag="customers",
                summary="Add a customer",
                body=CustomerBody,
                response=CustomerData,
                status=201,
                errors=(BAD_PHONE_NUMBER, DUPLICATE_ACCOUNT, MAY_NOT_CLASSIFY),
            ),
            http.put(
                "/api/customers/{id}",
                self.update,
                access=edit,
                tag="customers",
                summary="Replace a customer's profile",
                path_params=CustomerPath,
                body=CustomerBody,
                response=CustomerData,
                errors=(NO_SUCH_CUSTOMER, BAD_PHONE_NUMBER, DUPLICATE_ACCOUNT, MAY_NOT_CLASSIFY),
            ),
        ]

    async def search(self, request: web.Request) -> web.Response:
        query = read_query(request, CustomerQuery)
        directory = self.directory
        found: list[Customer] = []
        if query.account:
            customer = directory.index.by_account(query.account)
            found += [customer] if customer else []
        if query.phone:
            by_phone = directory.index.by_phone(directory.key(query.phone))
            found += [c for c in by_phone if c not in found]
        await self._audit(
            request,
            "customer-search",
            f"account {query.account}" if query.account else f"phone {mask_number(query.phone)}",
            found=[c.id for c in found],
        )
        return reply({"customers": [customer_data(c) for c in found]})

    async def get_one(self, request: web.Request) -> web.Response:
        customer_id = read_path(request, CustomerPath).id
        customer = self.directory.index.get(customer_id)
        if customer is None:
            raise NO_SUCH_CUSTOMER(f"there is no customer {customer_id}", id=customer_id)
        user = request_user(request)
        calls = self.directory.calls_of_customer(customer)
        if not user.may(P.CALLS_READ_ALL):
            # The same rule as /api/calls/{id}: an agent sees the calls their phone answered.
            calls = [c for c in calls if c.answered_by in user.interfaces]
        await self._audit(request, "customer-view", f"customer {customer_id}")
        return reply({**customer_data(customer), "calls": [call_data(c) for c in calls]})

    async def create(self, request: web.Request) -> web.Response:
        body = await read_body(request, CustomerBody)
        values = customer_values(body, self.directory.region)
        self._may_classify(request, values, None)
        customer = await self._save(values, None)
        await self._audit(request, "customer-create", f"customer {customer.id}")
        return reply(customer_data(customer), status=201)

    async def update(self, request: web.Request) -> web.Response:
        customer_id = read_path(request, CustomerPath).id
        body = await read_body(request, CustomerBody)
        values = customer_values(body, self.directory.region)
        before = self.directory.index.get(customer_id)
        self._may_classify(request, values, before)
        customer = await self._save(values, customer_id)
        changed = (
            sorted(k for k, v in customer_data(before).items() if customer_data(customer)[k] != v)
            if before is not None
            else []
        )
        await self._audit(request, "customer-edit", f"customer {customer_id}", changed=changed)
        return reply(customer_data(customer))

    @staticmethod
    def _may_classify(
        request: web.Request, values: dict[str, Any], before: Customer | None
    ) -> None:
        """VIP level and tags steer routing (the IVR queues a VIP first): only a user whose
        role may classify customers sets or changes them."""
        if request_user(request).may(P.CUSTOMERS_CLASSIFY):
            return
        vip, tags = (0, []) if before is None else (before.vip_level, list(before.tags))
        if values["vip_level"] != vip or values["tags"] != tags:
            raise MAY_NOT_CLASSIFY(
                "only staff may set a customer's VIP level or tags",
                fields=[
                    name
                    for name, old in (("vip_level", vip), ("tags", tags))
                    if values[name] != old
                ],
            )

    async def _save(self, values: dict[str, Any], customer_id: int | None) -> Customer:
        try:
            return await self.directory.save(values, customer_id)
        except NoSuchCustomer:
            raise NO_SUCH_CUSTOMER(f"there is no customer {customer_id}", id=customer_id) from None
        except DuplicateAccount:
            raise DUPLICATE_ACCOUNT(
                "another customer has this account number",
                account_number=values["account_number"],
            ) from None
