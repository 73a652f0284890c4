"""The customer directory: the in-memory index kept in step with the database."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.clock import Clock, utc_now
from callcenter.customers import repo
from callcenter.customers.followups import (
    FollowUp,
    FollowUpBook,
    local_date,
    oldest_open_due,
)
from callcenter.customers.index import CallHistory, Customer, CustomerIndex, PastCall
from callcenter.customers.phones import lookup_key
from callcenter.records.customers import SavedWrapup, saved_wrapups

log = logging.getLogger(__name__)
REFRESH_OVERLAP = timedelta(seconds=10)


class CustomerDirectory:
    """Customers, each number's latest calls and the open follow-ups, all in memory.

    `zone` is the contact centre's calendar (follow-up dates are days there) and a
    follow-up stays open until overdue by more than `follow_up_overdue_days`.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        region: str,
        history_size: int,
        *,
        follow_up_overdue_days: int = 30,
        zone: tzinfo = UTC,
        clock: Clock = utc_now,
    ) -> None:
        self.engine = engine
        self.region = region
        self.index = CustomerIndex()
        self.history = CallHistory(history_size)
        self.follow_ups = FollowUpBook()
        self.follow_up_overdue_days = follow_up_overdue_days
        self.zone = zone
        self.clock = clock
        self._loaded_at = clock()
        self._wrapups_seen_at = self._loaded_at

    async def load(self) -> None:
        """Load every customer, the recent call history and the open follow-ups (at start)."""
        started = self.clock()
        index = CustomerIndex()
        async for page in repo.load_customers(self.engine):
            for customer in page:
                index.put(customer)
        self.index = index
        self._loaded_at = started
        calls = await repo.load_history(self.engine, self.history, self.region)
        follow_ups = FollowUpBook(self.follow_ups.max_items)
        async for wrapups in saved_wrapups(self.engine, due_from=self.oldest_open_due(started)):
            for wrapup in wrapups:
                follow_up = self._follow_up(wrapup)
                if follow_up is not None:
                    follow_ups.put(follow_up)
        self.follow_ups = follow_ups
        self._wrapups_seen_at = started
        log.info(
            "customer index: %d customers, %d past calls, %d open follow-ups",
            len(index),
            calls,
            len(follow_ups),
        )

    async def refresh(self) -> int:
        """Take in customers changed since the last look (by the CLI or another replica).

        Only changed rows are read, so a refresh costs little however many customers exist;
        the overlap of a few seconds covers clocks of replicas that differ slightly.
        """
        started = self.clock()
        changed = 0
        async for page in repo.load_customers(
            self.engine, self._loaded_at - REFRESH_OVERLAP, page_size=repo.REFRESH_PAGE
        ):
            for customer in page:
                self.index.put(customer)
            changed += len(page)
        self._loaded_at = started
        return changed

    async def refresh_wrapups(self) -> int:
        """Take in wrap-ups submitted since the last look (on other replicas too): the
        disposition of the call in the history, and its follow-up."""
        started = self.clock()
        seen = 0
        async for wrapups in saved_wrapups(
            self.engine, submitted_since=self._wrapups_seen_at - REFRESH_OVERLAP
        ):
            for wrapup in wrapups:
                self.wrapup_saved(wrapup)
            seen += len(wrapups)
        self._wrapups_seen_at = started
        self.follow_ups.prune(self.oldest_open_due(started))
        return seen

    def wrapup_saved(self, wrapup: SavedWrapup) -> None:
        """A wrap-up was stored (here or elsewhere); idempotent, so both paths may bring it."""
        self.history.set_disposition(
            self.key(wrapup.caller_number or ""),
            wrapup.pbx,
            wrapup.uniqueid,
            wrapup.joined_at,
            wrapup.disposition,
        )
        follow_up = self._follow_up(wrapup)
        if follow_up is None:
            self.follow_ups.remove(wrapup.call_id)
        else:
            self.follow_ups.put(follow_up)

    def oldest_open_due(self, now: datetime) -> date:
        return oldest_open_due(local_date(now, self.zone), self.follow_up_overdue_days)

    def _follow_up(self, wrapup: SavedWrapup) -> FollowUp | None:
        if wrapup.follow_up_due is None:
            return None
        return FollowUp(
            call_id=wrapup.call_id,
            pbx=wrapup.pbx,
            uniqueid=wrapup.uniqueid,
            phone=self.key(wrapup.caller_number or ""),
            customer_id=wrapup.customer_id,
            due=wrapup.follow_up_due,
            disposition=wrapup.disposition,
            category=wrapup.category,
            notes=wrapup.notes,
            call_at=wrapup.joined_at,
            answered_by=wrapup.answered_by_name or wrapup.answered_by,
            wrapped_up_by=wrapup.username,
            submitted_at=wrapup.submitted_at,
        )

    def follow_ups_of(self, raw_number: str) -> list[FollowUp]:
        """Follow-ups of calls from this number (an unknown caller)."""
        return self.follow_ups.of_phone(self.key(raw_number))

    def follow_ups_of_customer(self, customer: Customer) -> list[FollowUp]:
        return self.follow_ups.of_customer(customer.id, customer.phones)

    def key(self, raw_number: str) -> str:
        return lookup_key(raw_number, self.region)

    def find(self, raw_number: str, account: str | None) -> tuple[Customer | None, str | None]:
        return self.index.find(self.key(raw_number), account)

    def calls_of(self, raw_number: str) -> list[PastCall]:
        return self.history.latest(self.key(raw_number))

    def calls_of_customer(self, customer: Customer) -> list[PastCall]:
        calls = {
            (c.pbx, c.uniqueid, c.joined_at): c
            for phone in customer.phones
            for c in self.history.latest(phone)
        }
        ordered = sorted(calls.values(), key=lambda c: c.joined_at, reverse=True)
        return ordered[: self.history.per_number]

    def record_call(self, raw_number: str, call: PastCall) -> None:
        self.history.add(self.key(raw_number), call)

    async def save(self, values: dict[str, Any], customer_id: int | None = None) -> Customer:
        customer = await repo.save_customer(self.engine, values, customer_id)
        self.index.put(customer)
        return customer
