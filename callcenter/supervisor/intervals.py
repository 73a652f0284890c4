"""Calls offered / answered / abandoned per interval (the wallboard's last-hour bars).

Counted from ``call_records`` by the time the caller joined, with the definitions of
``callcenter.kpi`` so the bars agree with the live figures and the reports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter import kpi
from callcenter.records.models import CallRecord

# Stored outcomes → the kpi vocabulary. A transferred call was answered first; an
# overflowed call left this queue unanswered because routing sent it on (a timeout here).
_ANSWERED = frozenset({"answered", "transferred"})
_TIMEOUT = frozenset({"timeout", "overflowed"})


@dataclass(frozen=True, slots=True)
class CallSample:
    joined_at: datetime
    outcome: str
    short_abandon: bool


@dataclass(frozen=True, slots=True)
class Interval:
    start: datetime
    end: datetime
    offered: int
    answered: int
    abandoned: int  # without short abandons, as in the abandon rate
    short_abandons: int
    timeouts: int
    withdrawn: int
    abandon_rate: float | None
    answer_rate: float | None


def bucket_calls(
    samples: Iterable[CallSample], end: datetime, minutes: int, step: int
) -> list[Interval]:
    """``minutes // step`` intervals ending at ``end`` (oldest first); calls outside ignored."""
    count = max(1, minutes // step)
    width = timedelta(minutes=step)
    start = end - width * count
    tallies = [[0, 0, 0, 0, 0] for _ in range(count)]  # answered, abandoned, short, timeout, wd
    for sample in samples:
        if not start <= sample.joined_at < end:
            continue
        row = tallies[int((sample.joined_at - start) / width)]
        if sample.outcome in _ANSWERED:
            row[0] += 1
        elif sample.outcome == "abandoned":
            row[1] += 1
            row[2] += int(sample.short_abandon)
        elif sample.outcome in _TIMEOUT:
            row[3] += 1
        elif sample.outcome == "withdrawn":
            row[4] += 1
    intervals = []
    for index, (answered, abandoned, short, timeouts, withdrawn) in enumerate(tallies):
        begin = start + width * index
        intervals.append(
            Interval(
                start=begin,
                end=begin + width,
                offered=kpi.offered(answered, abandoned, timeouts, short),
                answered=answered,
                abandoned=abandoned - short,
                short_abandons=short,
                timeouts=timeouts,
                withdrawn=withdrawn,
                abandon_rate=kpi.abandon_rate(abandoned, answered, timeouts, short),
                answer_rate=kpi.answer_rate(answered, abandoned, timeouts, short),
            )
        )
    return intervals


async def load_samples(
    engine: AsyncEngine, since: datetime, until: datetime, queue: str | None, pbx: str | None
) -> list[CallSample]:
    # Queue calls only: callback attempts (outbound records) are no offered calls.
    conditions = [
        CallRecord.joined_at >= since,
        CallRecord.joined_at < until,
        CallRecord.direction == "inbound",
    ]
    if queue:
        conditions.append(CallRecord.queue == queue)
    if pbx:
        conditions.append(CallRecord.pbx == pbx)
    async with AsyncSession(engine) as session:
        rows = (
            await session.execute(
                select(CallRecord.joined_at, CallRecord.outcome, CallRecord.short_abandon).where(
                    *conditions
                )
            )
        ).all()
    return [CallSample(joined_at, outcome, bool(short)) for joined_at, outcome, short in rows]
