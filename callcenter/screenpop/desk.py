"""The pop decisions, pure: which live change pops, marks or withdraws which agent's card.

Fed with live-model changes and a lookup function (the in-memory customer index), it returns
``Delivery`` values: a message for the sockets of whoever has that queue-member interface.
No I/O, no clock of its own: everything it needs arrives with the change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from types import MappingProxyType
from typing import Any, Literal

from callcenter.customers.followups import FollowUp, local_date, open_follow_ups
from callcenter.customers.index import Customer, PastCall, account_of
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
    follow_ups: Sequence[FollowUp] = ()


@dataclass(frozen=True, slots=True)
class CardRules:
    """How a card shows past calls and open items.

    A follow-up is open until overdue by more than `follow_up_overdue_days`, counted in
    days of `zone` (the contact centre's calendar) at the moment the phone rings.
    `labels` maps a disposition code to its label per language.
    """

    follow_up_overdue_days: int = 30
    zone: tzinfo = UTC
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    max_open_items: int = 20
    notes_chars: int = 200


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
        return {
            **self.card,
            "state": self.state,
            "connected_at": self.connected_at.isoformat() if self.connected_at else None,
        }


def pop_id(pbx: str, uniqueid: str, interface: str) -> str:
    return f"{pbx}|{uniqueid}|{interface}"


def customer_card(customer: Customer) -> dict[str, Any]:
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


def call_card(call: PastCall, rules: CardRules | None = None) -> dict[str, Any]:
    labels = rules.labels if rules is not None else {}
    return {
        "queue": call.queue,
        "joined_at": call.joined_at.isoformat(),
        "outcome": call.outcome,
        "disposition": call.disposition,
        "disposition_label": _label(labels, call.disposition),
        "answered_by": call.answered_by_name,
        "wait_seconds": call.wait_seconds,
        "talk_seconds": call.talk_seconds,
    }


def _label(labels: Mapping[str, Mapping[str, str]], code: str | None) -> dict[str, str] | None:
    found = labels.get(code) if code is not None else None
    return None if found is None else dict(found)


def _clip(text: str, limit: int) -> tuple[str, bool]:
    text = text.strip()
    if len(text) <= limit:
        return text, False
    return text[: max(limit - 1, 0)].rstrip() + "…", True


def follow_up_card(item: FollowUp, today: date, rules: CardRules) -> dict[str, Any]:
    days_overdue = max((today - item.due).days, 0)
    notes, clipped = _clip(item.notes, rules.notes_chars)
    return {
        "kind": "follow-up",
        "call_id": item.call_id,
        "pbx": item.pbx,
        "uniqueid": item.uniqueid,
        "due": item.due.isoformat(),
        "overdue": days_overdue > 0,
        "days_overdue": days_overdue,
        "disposition": item.disposition,
        "disposition_label": _label(rules.labels, item.disposition),
        "category": item.category,
        "notes": notes,
        "notes_clipped": clipped,
        "call_at": item.call_at.isoformat(),
        "answered_by": item.answered_by,
        "wrapped_up_by": item.wrapped_up_by,
    }


def open_items(
    follow_ups: Iterable[FollowUp], at: datetime, rules: CardRules
) -> tuple[list[dict[str, Any]], int]:
    """The open follow-ups as the card shows them (most urgent first, at most
    `max_open_items`), and how many are open in all."""
    today = local_date(at, rules.zone)
    found = open_follow_ups(follow_ups, today, rules.follow_up_overdue_days)
    shown = [follow_up_card(item, today, rules) for item in found[: rules.max_open_items]]
    return shown, len(found)


def build_card(
    ringing: CallRinging,
    found: Found,
    account: str | None,
    history_size: int,
    rules: CardRules | None = None,
) -> dict[str, Any]:
    """The card of one ringing call: everything the agent sees before saying hello."""
    rules = rules or CardRules()
    customer = found.customer
    items, open_total = open_items(found.follow_ups, ringing.at, rules)
    return {
        "pop_id": pop_id(ringing.pbx, ringing.uniqueid, ringing.agent_interface),
        "pbx": ringing.pbx,
        "queue": ringing.queue,
        "uniqueid": ringing.uniqueid,
        "interface": ringing.agent_interface,
        "rung_at": ringing.at.isoformat(),
        "waited_seconds": (
            None if ringing.waited_seconds is None else round(ringing.waited_seconds, 1)
        ),
        "caller": {"number": ringing.caller_num, "name": ringing.caller_name},
        "known": customer is not None,
        "matched_by": found.matched_by,
        "customer": customer_card(customer) if customer is not None else None,
        "vip_level": customer.vip_level if customer is not None else None,
        "account": account,
        "ivr": dict(ringing.ivr),
        "calls": [call_card(c, rules) for c in found.calls[:history_size]],
        "open_items": items,
        "open_items_total": open_total,
        # What the open items cover. Follow-ups come from wrap-ups (follow_up_due);
        # complaints have no table of their own yet, so a complaint shows only as a
        # follow-up whose disposition is in the complaint category.
        "open_items_tracked": ["follow-up"],
        "incomplete": False,
        "crm": None,
    }


@dataclass
class PopDesk:
    lookup: Lookup
    account_variable: str
    history_size: int = 5
    rules: CardRules = field(default_factory=CardRules)
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
            return self._withdraw(
                change.pbx, change.uniqueid, "no-answer", only=change.agent_interface
            )
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
        return account_of(ivr, self.account_variable)

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
        card = build_card(change, found, account, self.history_size, self.rules)
        key = (change.pbx, change.uniqueid, change.agent_interface)
        self._pops[key] = ActivePop(card, "ringing", change.at)
        self._by_call.setdefault(key[:2], set()).add(key[2])
        return [
            Delivery(change.agent_interface, {"type": "pop", "pop": self._pops[key].snapshot()})
        ]

    def _connected(self, change: CallConnected) -> list[Delivery]:
        deliveries = self._withdraw(
            change.pbx, change.uniqueid, "answered-elsewhere", keep=change.agent_interface
        )
        pop = self._pops.get((change.pbx, change.uniqueid, change.agent_interface))
        if pop is not None:
            pop.state = "connected"
            pop.connected_at = change.at
            deliveries.append(
                Delivery(
                    change.agent_interface,
                    {
                        "type": "pop_connected",
                        "pop_id": pop.card["pop_id"],
                        "at": change.at.isoformat(),
                    },
                )
            )
        return deliveries

    def _ended(self, change: CallEnded) -> list[Delivery]:
        record = change.record
        deliveries = self._withdraw(record.pbx, record.uniqueid, "caller-left")
        for key in self._keys_of_call(record.pbx, record.uniqueid):
            pop = self._drop(key)
            deliveries.append(
                Delivery(
                    key[2],
                    {
                        "type": "pop_ended",
                        "pop_id": pop.card["pop_id"],
                        "at": record.ended_at.isoformat(),
                        "talk_seconds": record.talk_seconds,
                    },
                )
            )
        return deliveries

    def _withdraw(
        self,
        pbx: str,
        uniqueid: str,
        reason: str,
        *,
        only: str | None = None,
        keep: str | None = None,
    ) -> list[Delivery]:
        deliveries = []
        for key in self._keys_of_call(pbx, uniqueid):
            interface = key[2]
            if (only is not None and interface != only) or interface == keep:
                continue
            if self._pops[key].state != "ringing":
                continue
            pop = self._drop(key)
            deliveries.append(
                Delivery(
                    interface,
                    {"type": "pop_withdrawn", "pop_id": pop.card["pop_id"], "reason": reason},
                )
            )
        return deliveries

    @staticmethod
    def _member(change: MemberChanged) -> list[Delivery]:
        member = change.member
        return [
            Delivery(
                change.interface,
                {
                    "type": "member",
                    "pbx": change.pbx,
                    "queue": change.queue,
                    "removed": member is None,
                    "state": member.state if member else None,
                    "paused": member.paused if member else None,
                    "paused_reason": member.paused_reason if member else None,
                },
            )
        ]
