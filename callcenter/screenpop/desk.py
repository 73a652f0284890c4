"""The pop decisions, pure: which live change pops, marks or withdraws which agent's card.

Fed with live-model changes and a lookup function (the in-memory customer index), it returns
``Delivery`` values: a message for the sockets of whoever has that queue-member interface.
No I/O, no clock of its own: everything it needs arrives with the change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from callcenter.customers.index import Customer, PastCall
from callcenter.live import Change
from callcenter.live.changes import (
    CallConnected,
    CallEnded,
    CallerLeft,
    CallRinging,
    CallRingNoAnswer,
    MemberChanged,
)

PopState = Literal["ringing", "connected"]
PopKey = tuple[str, str, str]  # pbx, caller uniqueid, agent interface


@dataclass(frozen=True, slots=True)
class Found:
    customer: Customer | None
    matched_by: str | None
    calls: Sequence[PastCall]


Lookup = Callable[[str, str | None], Found]


@dataclass(frozen=True, slots=True)
class Delivery:
    interface: str
    message: dict[str, Any]


@dataclass(slots=True)
class ActivePop:
    card: dict[str, Any]
    state: PopState
    rung_at: datetime
    connected_at: datetime | None = None

    def snapshot(self) -> dict[str, Any]:
        return {**self.card, "state": self.state,
                "connected_at": self.connected_at.isoformat() if self.connected_at else None}


def pop_id(pbx: str, uniqueid: str, interface: str) -> str:
    return f"{pbx}|{uniqueid}|{interface}"


def customer_card(customer: Customer) -> dict[str, Any]:
    return {"id": customer.id, "name": customer.name, "phones": list(customer.phones),
            "account_number": customer.account_number, "vip_level": customer.vip_level,
            "language": customer.language, "tags": list(customer.tags),
            "notes": customer.notes}


def call_card(call: PastCall) -> dict[str, Any]:
    return {"queue": call.queue, "joined_at": call.joined_at.isoformat(),
            "outcome": call.outcome, "disposition": call.disposition,
            "answered_by": call.answered_by_name, "wait_seconds": call.wait_seconds,
            "talk_seconds": call.talk_seconds}


def build_card(ringing: CallRinging, found: Found, account: str | None,
               history_size: int) -> dict[str, Any]:
    """The card of one ringing call: everything the agent sees before saying hello."""
    customer = found.customer
    return {
        "pop_id": pop_id(ringing.pbx, ringing.uniqueid, ringing.agent_interface),
        "pbx": ringing.pbx,
        "queue": ringing.queue,
        "uniqueid": ringing.uniqueid,
        "interface": ringing.agent_interface,
        "rung_at": ringing.at.isoformat(),
        "waited_seconds": (None if ringing.waited_seconds is None
                           else round(ringing.waited_seconds, 1)),
        "caller": {"number": ringing.caller_num, "name": ringing.caller_name},
        "known": customer is not None,
        "matched_by": found.matched_by,
        "customer": customer_card(customer) if customer is not None else None,
        "vip_level": customer.vip_level if customer is not None else None,
        "account": account,
        "ivr": dict(ringing.ivr),
        "calls": [call_card(c) for c in found.calls[:history_size]],
        # Complaints and follow-ups have no tables yet: nothing to show, and said so.
        "open_items": [],
        "open_items_supported": False,
        "incomplete": False,
        "crm": None,
    }


@dataclass
class PopDesk:
    lookup: Lookup
    account_variable: str
    history_size: int = 5
    _pops: dict[PopKey, ActivePop] = field(default_factory=dict)
    # (pbx, uniqueid) -> interfaces with a pop: a call's pops without scanning them all.
    _by_call: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._pops)

    def handle(self, change: Change) -> list[Delivery]:
        if isinstance(change, CallRinging):
            return self._ringing(change)
        if isinstance(change, CallConnected):
            return self._connected(change)
        if isinstance(change, CallRingNoAnswer):
            return self._withdraw(change.pbx, change.uniqueid, "no-answer",
                                  only=change.agent_interface)
        if isinstance(change, CallerLeft):
            # Asterisk sends QueueCallerLeave *before* AgentConnect, so a plain "leave" may
            # be the answer itself: only a hang-up withdraws here, the rest waits for
            # CallConnected or CallEnded.
            if change.reason != "hangup":
                return []
            return self._withdraw(change.pbx, change.uniqueid, "caller-left")
        if isinstance(change, CallEnded):
            return self._ended(change)
        if isinstance(change, MemberChanged):
            return self._member(change)
        return []

    def account_of(self, ivr: Mapping[str, str]) -> str | None:
        value = ivr.get(self.account_variable, "").strip()
        return value or None

    def active_for(self, interfaces: Iterable[str]) -> list[dict[str, Any]]:
        """Cards still ringing or connected on these interfaces (a page that reconnects)."""
        wanted = set(interfaces)
        return [pop.snapshot() for key, pop in self._pops.items() if key[2] in wanted]

    def card(self, pop_key: PopKey) -> dict[str, Any] | None:
        pop = self._pops.get(pop_key)
        return None if pop is None else pop.card

    def prune(self, now: datetime, max_age: timedelta) -> int:
        """Drop pops whose end never arrived (a lost event, a PBX gone)."""
        old = [k for k, p in self._pops.items() if now - p.rung_at > max_age]
        for key in old:
            self._drop(key)
        return len(old)

    def _keys_of_call(self, pbx: str, uniqueid: str) -> list[PopKey]:
        return [(pbx, uniqueid, i) for i in sorted(self._by_call.get((pbx, uniqueid), ()))]

    def _drop(self, key: PopKey) -> ActivePop:
        pop = self._pops.pop(key)
        interfaces = self._by_call.get(key[:2])
        if interfaces is not None:
            interfaces.discard(key[2])
            if not interfaces:
                del self._by_call[key[:2]]
        return pop

    def _ringing(self, change: CallRinging) -> list[Delivery]:
        account = self.account_of(change.ivr)
        found = self.lookup(change.caller_num, account)
        card = build_card(change, found, account, self.history_size)
        key = (change.pbx, change.uniqueid, change.agent_interface)
        self._pops[key] = ActivePop(card, "ringing", change.at)
        self._by_call.setdefault(key[:2], set()).add(key[2])
        return [Delivery(change.agent_interface,
                         {"type": "pop", "pop": self._pops[key].snapshot()})]

    def _connected(self, change: CallConnected) -> list[Delivery]:
        deliveries = self._withdraw(change.pbx, change.uniqueid, "answered-elsewhere",
                                    keep=change.agent_interface)
        pop = self._pops.get((change.pbx, change.uniqueid, change.agent_interface))
        if pop is not None:
            pop.state = "connected"
            pop.connected_at = change.at
            deliveries.append(Delivery(change.agent_interface, {
                "type": "pop_connected", "pop_id": pop.card["pop_id"],
                "at": change.at.isoformat()}))
        return deliveries

    def _ended(self, change: CallEnded) -> list[Delivery]:
        record = change.record
        deliveries = self._withdraw(record.pbx, record.uniqueid, "caller-left")
        for key in self._keys_of_call(record.pbx, record.uniqueid):
            pop = self._drop(key)
            deliveries.append(Delivery(key[2], {
                "type": "pop_ended", "pop_id": pop.card["pop_id"],
                "at": record.ended_at.isoformat(), "talk_seconds": record.talk_seconds}))
        return deliveries

    def _withdraw(self, pbx: str, uniqueid: str, reason: str, *, only: str | None = None,
                  keep: str | None = None) -> list[Delivery]:
        deliveries = []
        for key in self._keys_of_call(pbx, uniqueid):
            interface = key[2]
            if (only is not None and interface != only) or interface == keep:
                continue
            if self._pops[key].state != "ringing":
                continue
            pop = self._drop(key)
            deliveries.append(Delivery(interface, {
                "type": "pop_withdrawn", "pop_id": pop.card["pop_id"], "reason": reason}))
        return deliveries

    @staticmethod
    def _member(change: MemberChanged) -> list[Delivery]:
        member = change.member
        return [Delivery(change.interface, {
            "type": "member", "pbx": change.pbx, "queue": change.queue,
            "removed": member is None,
            "state": member.state if member else None,
            "paused": member.paused if member else None,
            "paused_reason": member.paused_reason if member else None})]
