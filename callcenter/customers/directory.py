"""The customer directory: the in-memory index kept in step with the database."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.customers import repo
from callcenter.customers.index import CallHistory, Customer, CustomerIndex, PastCall
from callcenter.customers.phones import lookup_key

log = logging.getLogger(__name__)
REFRESH_OVERLAP = timedelta(seconds=10)


class CustomerDirectory:
    def __init__(self, engine: AsyncEngine, region: str, history_size: int) -> None:
        self.engine = engine
        self.region = region
        self.index = CustomerIndex()
        self.history = CallHistory(history_size)
        self._loaded_at = datetime.now(UTC)

    async def load(self) -> None:
        """Load every customer and the recent call history (at start)."""
        started = datetime.now(UTC)
        index = CustomerIndex()
        async for page in repo.load_customers(self.engine):
            for customer in page:
                index.put(customer)
        self.index = index
        self._loaded_at = started
        calls = await repo.load_history(self.engine, self.history, self.region)
        log.info("customer index: %d customers, %d past calls", len(index), calls)

    async def refresh(self) -> int:
        """Take in customers changed since the last look (by the CLI or another replica).

        Only changed rows are read, so a refresh costs little however many customers exist;
        the overlap of a few seconds covers clocks of replicas that differ slightly.
        """
        started = datetime.now(UTC)
        changed = 0
        async for page in repo.load_customers(self.engine, self._loaded_at - REFRESH_OVERLAP):
            for customer in page:
                self.index.put(customer)
            changed += len(page)
        self._loaded_at = started
        return changed

    def key(self, raw_number: str) -> str:
        return lookup_key(raw_number, self.region)

    def find(self, raw_number: str, account: str | None) -> tuple[Customer | None, str | None]:
        return self.index.find(self.key(raw_number), account)

    def calls_of(self, raw_number: str) -> list[PastCall]:
        return self.history.latest(self.key(raw_number))

    def calls_of_customer(self, customer: Customer) -> list[PastCall]:
        calls = {(c.pbx, c.uniqueid, c.joined_at): c
                 for phone in customer.phones for c in self.history.latest(phone)}
        ordered = sorted(calls.values(), key=lambda c: c.joined_at, reverse=True)
        return ordered[: self.history.per_number]

    def record_call(self, raw_number: str, call: PastCall) -> None:
        self.history.add(self.key(raw_number), call)

    async def save(self, values: dict[str, Any], customer_id: int | None = None) -> Customer:
        customer = await repo.save_customer(self.engine, values, customer_id)
        self.index.put(customer)
        return customer
