"""The figures of an agent's log span, read from the other rooms' tables: calls answered
(count, talk time, dispositions), callbacks made, work items opened, resolved and
escalated, and time in each pause reason. Each figure is one grouped query; only the
agent's state changes of the span (tens a day) and the span's escalations are read row by
row.

The QA scores of seed 001's list are not here: the quality room does not exist yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.agents.models import AgentStateRow, NotReadyCodeRow
from callcenter.agents.states import SIGNED_IN_STATES
from callcenter.records.models import CallRecord, CallWrapup
from callcenter.settings import Disposition
from callcenter.work.callbacks import REACHED
from callcenter.work.models import CallbackAttemptRow, WorkItemEventRow, WorkItemRow
from callcenter.worklog.ports import HandoverCount

_calls: Table = CallRecord.__table__  # type: ignore[assignment]
_wrapups: Table = CallWrapup.__table__  # type: ignore[assignment]
_items: Table = WorkItemRow.__table__  # type: ignore[assignment]
_events: Table = WorkItemEventRow.__table__  # type: ignore[assignment]
_attempts: Table = CallbackAttemptRow.__table__  # type: ignore[assignment]
_states: Table = AgentStateRow.__table__  # type: ignore[assignment]
_codes: Table = NotReadyCodeRow.__table__  # type: ignore[assignment]

# Agent states that are time away from calls, by reason: not-ready by its code, and the
# after-call work (ACW) as its own reason.
ACW = "acw"
SIGNED_IN = sorted(str(s) for s in SIGNED_IN_STATES)
# A state row is read when it started at most this long before the span (or is still
# held): the query stays an index range however long the history. A state held longer
# than this without a change is counted from this bound only.
STATE_LOOKBACK = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Labels:
    zh: str
    en: str


async def day_figures(
    conn: AsyncConnection,
    user_id: int,
    start: datetime,
    end: datetime,
    now: datetime,
    dispositions: Mapping[str, Disposition],
    handovers: HandoverCount | None,
) -> dict[str, Any]:
    """The figures of [start, end) for the user, as the log shows and stores them."""
    calls = _calls.c
    in_span = and_(
        calls.answered_by_user == user_id,
        calls.answered_at >= start,
        calls.answered_at < end,
    )
    answered = (
        await conn.execute(
            select(func.count(), func.coalesce(func.sum(calls.talk_seconds), 0.0)).where(
                in_span, calls.direction == "inbound"
            )
        )
    ).one()
    by_disposition = await conn.execute(
        select(_wrapups.c.disposition, func.count())
        .select_from(_calls.join(_wrapups, _wrapups.c.call_id == calls.id))
        .where(in_span, calls.direction == "inbound")
        .group_by(_wrapups.c.disposition)
        .order_by(func.count().desc(), _wrapups.c.disposition)
    )
    a = _attempts.c
    # Callbacks made: the attempts the agent took (answered their phone) and that are over;
    # an attempt the agent missed, or still running, is not one they made.
    callbacks = (
        await conn.execute(
            select(
                func.count(),
                func.count().filter(a.outcome == REACHED),
            ).where(
                a.agent_id == user_id,
                a.started_at >= start,
                a.started_at < end,
                a.agent_answered_at.is_not(None),
                a.outcome.is_not(None),
            )
        )
    ).one()
    outbound_talk = await conn.scalar(
        select(func.coalesce(func.sum(calls.talk_seconds), 0.0)).where(
            in_span, calls.direction == "outbound"
        )
    )
    i, e = _items.c, _events.c
    opened = await conn.scalar(
        select(func.count()).where(
            i.created_by == user_id, i.created_at >= start, i.created_at < end
        )
    )
    resolved = await conn.scalar(
        select(func.count(func.distinct(e.item_id))).where(
            e.kind == "status",
            e.actor_id == user_id,
            e.at >= start,
            e.at < end,
            e.data["after"].as_string() == "resolved",
        )
    )
    escalated = await _escalated(conn, user_id, start, end)
    pauses, signed_in = await _pauses(conn, user_id, start, end, now)
    labels = await _pause_labels(conn)
    dispositions_out = []
    for code, count in by_disposition:
        known = dispositions.get(code)
        dispositions_out.append(
            {
                "code": code,
                "label_zh": known.label_zh if known else code,
                "label_en": known.label_en if known else code,
                "count": int(count),
            }
        )
    return {
        "calls": int(answered[0]),
        "talk_seconds": round(float(answered[1])),
        "dispositions": dispositions_out,
        "callbacks": int(callbacks[0]),
        "callbacks_reached": int(callbacks[1]),
        "callback_talk_seconds": round(float(outbound_talk or 0.0)),
        "items_opened": int(opened or 0),
        "items_resolved": int(resolved or 0),
        "items_escalated": escalated,
        "signed_in_seconds": signed_in,
        "pauses": [
            {
                "reason": reason,
                "label_zh": labels.get(reason, Labels(reason, reason)).zh,
                "label_en": labels.get(reason, Labels(reason, reason)).en,
                "seconds": seconds,
            }
            for reason, seconds in sorted(pauses.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "pause_seconds": sum(pauses.values()),
        # None: the handover room is not there to ask.
        "handovers_given": handovers.given if handovers is not None else None,
        "handovers_taken": handovers.taken if handovers is not None else None,
    }


async def _escalated(conn: AsyncConnection, user_id: int, start: datetime, end: datetime) -> int:
    """Items escalated in the span while the user owned them: the owner the escalation event
    names (``owner_id`` in its data, written since the work log counts it); an older event
    without it counts for the item's current owner."""
    i, e = _items.c, _events.c
    rows = await conn.execute(
        select(e.item_id, e.data, i.owner_id)
        .select_from(_events.join(_items, i.id == e.item_id))
        .where(
            e.kind == "escalated",
            e.at >= start,
            e.at < end,
            or_(i.owner_id == user_id, e.data["owner_id"].as_integer() == user_id),
        )
    )
    items = set()
    for item_id, data, owner_now in rows:
        data = data if isinstance(data, dict) else {}
        owner = data.get("owner_id", owner_now)
        if owner == user_id:
            items.add(item_id)
    return len(items)


async def _pauses(
    conn: AsyncConnection, user_id: int, start: datetime, end: datetime, now: datetime
) -> tuple[dict[str, int], int]:
    """Seconds in each pause reason, and signed in, clipped to [start, end) (a state still
    held ends now)."""
    s = _states.c
    rows = await conn.execute(
        select(s.state, s.code, s.started_at, s.ended_at).where(
            s.user_id == user_id,
            s.started_at < end,
            (s.started_at >= start - STATE_LOOKBACK) | s.ended_at.is_(None),
            (s.ended_at.is_(None)) | (s.ended_at > start),
        )
    )
    pauses: dict[str, int] = {}
    signed_in = 0
    for state, code, started, ended in rows:
        stop = min(ended if ended is not None else now, end)
        seconds = round((stop - max(started, start)).total_seconds())
        if seconds <= 0:
            continue
        if state in SIGNED_IN_STATES:
            signed_in += seconds
        if state == "not-ready":
            reason = code or "other"
        elif state == ACW:
            reason = ACW
        else:
            continue
        pauses[reason] = pauses.get(reason, 0) + seconds
    return pauses, signed_in


async def _pause_labels(conn: AsyncConnection) -> dict[str, Labels]:
    c = _codes.c
    labels = {
        code: Labels(zh, en)
        for code, zh, en in await conn.execute(select(c.code, c.label_zh, c.label_en))
    }
    labels.setdefault(ACW, Labels("话后处理", "After-call work"))
    labels.setdefault("other", Labels("其他", "Other"))
    return labels
