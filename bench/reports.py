"""Reports at scale: roll-ups rebuilt from 10,000,000 call records over two years, then any
report over any period, and the incremental refresh (issue 17, item 3).

    .venv/bin/python bench/reports.py [--calls 10000000] [--days 730] [--queues 20]
        [--agents 300] [--teams 10] [--state-agents 30] [--items N] [--repeat 20]
        [--fast-pg] [--shared-buffers 1GB] [--explain] [--profile] [--rebuild-twice]

A throw-away PostgreSQL (tests/fixtures_pg.PostgresServer; durable settings unless --fast-pg,
shared_buffers the server's default unless --shared-buffers) is migrated to head and loaded
in SQL (INSERT ... SELECT over generate_series: no row crosses the socket), with the
reports' triggers disabled (the load would otherwise queue one report_dirty row per raw row)
and call_records' secondary indexes dropped and built again afterwards, exactly as they were:

- the --days local days (Asia/Shanghai) before today; calls spread over the hours by a
  profile (busy 9-18 local, a lunch dip, quiet nights; Monday busiest, weekends about half;
  a 40 % growth over the period and some day-to-day noise), apportioned so the total is
  exactly --calls;
- --queues queues of unequal size, each served by one of --teams teams of --agents/--teams
  agents (users rows; answered_by_user is one of the team's agents);
- outcomes: 83 % answered, 2 % transferred, 8 % abandoned (3 in 10 of them short), 3 %
  timeout, 4 % overflowed; waits exponential (answered: mean 12 s, so about 80 % within
  20 s), talk 20 s + exponential 180 s, wrap-up 5 s + exponential 20 s;
- caller numbers from a pool of --calls/5 numbers, 30 % of the calls from a twentieth of
  the pool (frequent callers), so repeats inside the FCR window occur;
- wrap-ups (call_wrapups) on 35 % of the answered calls (about 30 % of all), the default
  dispositions; survey results (1-5) on 12 % of the answered (about 10 % of all);
- agent states (agent_states) for --state-agents agents, every working day: a shift of
  ready / on-call / acw blocks with a break, lunch and sometimes a meeting (not-ready
  codes), signed out overnight;
- --items work items (default: one per 50 calls; complaints, follow-ups, callbacks,
  inquiries) created over the period: the "complaints" report counts them.

Then VACUUM (ANALYZE), as autovacuum would have done, and:

1. ``RollupRefresher.rebuild()`` (what ``callcenter reports rebuild`` runs), timed, with its
   counts and the size of every roll-up table (--profile: under cProfile, the top functions;
   --rebuild-twice: a second rebuild, checking it changes nothing: float sums to 6 decimals,
   as they add up in the order the raw rows come back, which may differ);
2. reports through ``Reports.run`` (the query and the figures, not the HTTP and JSON around
   it), scope EVERYTHING, the data's teams given; each case --repeat times after two
   warm-up runs: every standard report over the whole period, the last full month, the last
   7 days and one day (yesterday); intervals total..year over the whole period; hour and
   15 minutes over 92 days and one day; dimensions queue, team, agent, hour, weekday,
   category and disposition over the whole period; a team and an agent filter; every figure
   by month.
   A standard report kept under a day (service level by hour) over more than
   ``max_days_by_slot`` days is refused by the API (400 report-too-fine): it is run by day.
   Then heavier cases outside the issue's list (one row per agent-day or queue-slot, every
   figure by agent): printed with their verdict, they do not fail the run.
   Printed per case: p50/p95/max, the mean time in SQL (statement sent to rows fetched),
   the rows answered; PASS/FAIL on each case's p95 <= 1 s and the p95 of every sample;
3. the incremental refresh: 1,000 new calls of today (with wrap-ups and surveys) written
   with the triggers on, in the records writer's batches of 500, then ``refresh()`` timed
   (--profile: under cProfile); then 10 calls (at the default size the busiest hour has
   about 2,100 calls: 10 is 15 seconds of it, three rounds of the service's 5-second
   refresh) and ``refresh()``; each checked against the raw records (today's calls = today's
   roll-up, nothing left queued); then a refresh with nothing queued.

Smoke run (under a minute): ``--calls 100000 --days 30 --repeat 3``. With the default
--days 730 the rebuild alone takes over a minute whatever --calls is: it recomputes each of
the ~18,000 agent-days of states with its own statements.

--explain (and any case over the target) prints EXPLAIN (ANALYZE, BUFFERS) of the SELECTs
the case ran, captured from the engine as query.py built them. Exits 1 on a FAIL.
The server is stopped and its folder removed at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import math
import os
import pstats
import random
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from callcenter.agents.scope import EVERYTHING, Team  # noqa: E402
from callcenter.reports.figures import FIGURES  # noqa: E402
from callcenter.reports.query import (  # noqa: E402
    WRAPPED,
    WRAPPED_SHARE,
    ReportRequest,
    ReportResult,
    Reports,
    TooFine,
)
from callcenter.reports.refresh import RollupRefresher  # noqa: E402
from callcenter.reports.standard import STANDARD  # noqa: E402
from callcenter.settings import DEFAULT_DISPOSITIONS, IvrSettings, ReportsSettings  # noqa: E402
from callcenter.store.db import create_engine  # noqa: E402
from callcenter.store.migrate import upgrade_to_head  # noqa: E402
from tests.fixtures_pg import PostgresServer  # noqa: E402

TARGET_P95 = 1.0
TZ = ZoneInfo(IvrSettings().timezone)
RAW_TABLES = ("call_records", "call_wrapups", "survey_results", "agent_states", "work_items")
REPORT_TABLES = (
    "report_queue_slots",
    "report_queue_days",
    "report_agent_days",
    "report_wrapup_days",
    "report_state_days",
    "report_work_days",
    "report_dirty",
)
TRIGGERS = {t: f"report_mark_{t}" for t in RAW_TABLES}

# Calls per local hour of day (relative), and per ISO weekday.
HOURLY = (
    0.15, 0.10, 0.08, 0.07, 0.07, 0.10, 0.25, 0.60, 1.50, 3.20, 3.80, 3.60,
    2.60, 2.80, 3.50, 3.60, 3.40, 3.00, 2.00, 1.30, 1.00, 0.80, 0.50, 0.30,
)  # fmt: skip
WEEKDAY = {1: 1.15, 2: 1.05, 3: 1.0, 4: 1.0, 5: 0.95, 6: 0.55, 7: 0.45}
# Cumulative outcome shares: answered, transferred, abandoned, timeout, overflowed.
OUTCOMES = (("answered", 0.83), ("transferred", 0.85), ("abandoned", 0.93), ("timeout", 0.96))
SHORT_ABANDON_SHARE = 0.3
WRAPUP_SHARE = 0.35  # of the answered calls
SURVEY_SHARE = 0.12  # of the answered calls
# Survey scores 1..5: 5 %, 5 %, 10 %, 25 %, 55 % (cumulative lower bounds of each score).
SCORE_BOUNDS = (0.0, 0.05, 0.10, 0.20, 0.45)
DISPOSITION_WEIGHTS = {
    "resolved": 40,
    "info-sent": 15,
    "complaint-logged": 8,
    "complaint-escalated": 2,
    "repair-booked": 10,
    "return-approved": 5,
    "callback-needed": 8,
    "other": 12,
}
ITEM_KINDS = (("complaint", 20), ("follow-up", 40), ("callback", 25), ("inquiry", 15))
CHUNK_CALLS = 500_000


# --- the data -----------------------------------------------------------------------------


@dataclass
class Shape:
    calls: int
    days: int
    queues: int
    agents: int
    teams: int
    state_agents: int
    items: int
    today: date  # local; the history is the --days days before it

    @property
    def first_day(self) -> date:
        return self.today - timedelta(days=self.days)

    @property
    def last_day(self) -> date:
        return self.today - timedelta(days=1)

    @property
    def per_team(self) -> int:
        return max(1, self.agents // self.teams)

    def queue_name(self, index: int) -> str:  # 1-based
        return f"q{index:02d}"

    def team_of_queue(self, index: int) -> int:  # 1-based queue -> 1-based team
        return (index - 1) % self.teams + 1

    def teams_list(self) -> list[Team]:
        out = []
        for t in range(1, self.teams + 1):
            out.append(
                Team(
                    id=t,
                    name=f"team-{t}",
                    label_zh=f"班组{t}",
                    label_en=f"Team {t}",
                    queues=frozenset(
                        self.queue_name(q)
                        for q in range(1, self.queues + 1)
                        if self.team_of_queue(q) == t
                    ),
                    members=frozenset(range((t - 1) * self.per_team + 1, t * self.per_team + 1)),
                    leaders=frozenset(),
                )
            )
        return out


def hour_counts(shape: Shape, rng: random.Random) -> list[tuple[datetime, int]]:
    """(UTC start of each local hour, calls joining in it), exactly shape.calls in all."""
    hours: list[tuple[datetime, float]] = []
    for n in range(shape.days):
        day = shape.first_day + timedelta(days=n)
        growth = 0.8 + 0.4 * n / max(1, shape.days - 1)
        noise = max(0.5, rng.gauss(1.0, 0.08))
        factor = WEEKDAY[day.isoweekday()] * growth * noise
        for hour in range(24):
            start = datetime.combine(day, dtime(hour), TZ).astimezone(UTC)
            hours.append((start, HOURLY[hour] * factor))
    total = sum(w for _, w in hours)
    exact = [shape.calls * w / total for _, w in hours]
    counts = [math.floor(e) for e in exact]
    left = shape.calls - sum(counts)
    for i in sorted(range(len(exact)), key=lambda i: counts[i] - exact[i])[:left]:
        counts[i] += 1
    return [(start, n) for (start, _), n in zip(hours, counts, strict=True) if n]


def cumulative(weights: Sequence[float]) -> list[float]:
    """Lower bounds of each bucket for width_bucket(random(), bounds): 1..len(weights)."""
    total = sum(weights)
    bounds, acc = [], 0.0
    for w in weights:
        bounds.append(acc / total)
        acc += w
    return bounds


def _array(values: Sequence[float]) -> str:
    return "ARRAY[" + ",".join(f"{v:.6f}" for v in values) + "]::float8[]"


def calls_sql(shape: Shape) -> str:
    """INSERT ... SELECT of the calls joining in the bench_hours rows of [$1, $2). Each
    random draw is taken once in a materialized CTE (a volatile function must not be
    re-evaluated per reference)."""
    queue_bounds = _array(cumulative([1 / (q**0.7) for q in range(1, shape.queues + 1)]))
    pool = max(1_000, shape.calls // 5)
    frequent = max(50, pool // 20)
    outcome = " ".join(f"WHEN ro < {share} THEN '{name}'" for name, share in OUTCOMES)
    per_team = shape.per_team
    return f"""
WITH draw AS MATERIALIZED (
    SELECT h.hour_start + make_interval(secs => random() * 3600) AS joined_at,
           extract(epoch FROM h.hour_start)::bigint || '.' || g AS uid,
           width_bucket(random(), {queue_bounds}) AS qi,
           random() AS ro, random() AS rw, random() AS rt, random() AS ra, random() AS rc,
           random() AS rs, random() AS rp, random() AS rx
    FROM bench_hours h CROSS JOIN LATERAL generate_series(1, h.n) AS g
    WHERE h.hour_start >= $1 AND h.hour_start < $2
), shaped AS (
    SELECT d.*, CASE {outcome} ELSE 'overflowed' END AS outcome,
           'q' || lpad(qi::text, 2, '0') AS queue,
           ((qi - 1) % {shape.teams}) * {per_team} + 1 + floor(ra * {per_team})::int AS agent,
           CASE WHEN rc < 0.3 THEN floor(rc / 0.3 * {frequent})::bigint
                ELSE {frequent} + floor((rc - 0.3) / 0.7 * {pool - frequent})::bigint
           END AS who
    FROM draw d
), timed AS (
    SELECT s.*, outcome IN ('answered', 'transferred') AS answered,
           outcome = 'abandoned' AND rs < {SHORT_ABANDON_SHARE} AS short,
           CASE WHEN outcome IN ('answered', 'transferred') THEN least(600, -ln(1 - rw) * 12)
                WHEN outcome = 'abandoned' AND rs < {SHORT_ABANDON_SHARE} THEN rw * 5
                WHEN outcome = 'abandoned' THEN 5 + -ln(1 - rw) * 45
                WHEN outcome = 'timeout' THEN 300 + rw * 5
                ELSE 30 + rw * 90 END AS wait,
           CASE WHEN outcome IN ('answered', 'transferred') THEN 20 + -ln(1 - rt) * 180
           END AS talk
    FROM shaped s
)
INSERT INTO call_records (
    pbx, uniqueid, linkedid, queue, caller_number, joined_at, answered_at, ended_at, left_at,
    wait_seconds, talk_seconds, agents_rung, ring_no_answer_count, answered_by,
    answered_by_name, outcome, position_at_join, position_at_exit, ivr_data, channel,
    completed_by, short_abandon, wrapup_seconds, overflow_queue, answered_by_user, direction)
SELECT 'rig', uid, uid, queue, '1' || (38000000000 + who)::text, joined_at,
       CASE WHEN answered THEN joined_at + make_interval(secs => wait) END,
       joined_at + make_interval(secs => wait + coalesce(talk, 0)),
       joined_at + make_interval(secs => wait),
       wait, talk,
       CASE WHEN answered THEN json_build_array('PJSIP/' || (1000 + agent)) ELSE '[]' END,
       CASE WHEN rx < 0.1 THEN 1 ELSE 0 END,
       CASE WHEN answered THEN 'PJSIP/' || (1000 + agent) END,
       CASE WHEN answered THEN 'Agent ' || agent END,
       outcome, 1 + floor(rp * 6)::int, CASE WHEN NOT answered THEN 1 + floor(rp * 3)::int END,
       '{{}}', 'PJSIP/trunk-' || uid,
       CASE outcome WHEN 'transferred' THEN 'transfer'
                    WHEN 'answered' THEN CASE WHEN rx < 0.5 THEN 'agent' ELSE 'caller' END
                    WHEN 'abandoned' THEN 'caller' END,
       short,
       CASE WHEN answered THEN (5 + -ln(1 - rx) * 20)::int END,
       CASE WHEN outcome = 'overflowed' THEN 'q' || lpad((qi % {shape.queues} + 1)::text, 2, '0')
       END,
       CASE WHEN answered THEN agent END, 'inbound'
FROM timed
"""


def wrapups_sql() -> str:
    codes = {d.code: d.category for d in DEFAULT_DISPOSITIONS}
    names = list(DISPOSITION_WEIGHTS)
    values = ", ".join(f"({i}, '{n}', '{codes[n]}')" for i, n in enumerate(names, 1))
    bounds = _array(cumulative(list(DISPOSITION_WEIGHTS.values())))
    return f"""
INSERT INTO call_wrapups (call_id, disposition, category, notes, agent_interface, username,
                          submitted_at)
SELECT c.id, d.code, d.category, '', c.answered_by, 'agent' || c.answered_by_user,
       c.ended_at + make_interval(secs => coalesce(c.wrapup_seconds, 30))
FROM (SELECT id, answered_by, answered_by_user, ended_at, wrapup_seconds,
             width_bucket(random(), {bounds}) AS k
      FROM call_records
      WHERE outcome IN ('answered', 'transferred') AND id > $1 AND random() < {WRAPUP_SHARE}
     ) AS c
JOIN (VALUES {values}) AS d (k, code, category) USING (k)
"""


SURVEYS_SQL = f"""
INSERT INTO survey_results (pbx, uniqueid, linkedid, queue, agent_interface, agent_name, score,
                            answered_at)
SELECT pbx, uniqueid, linkedid, queue, answered_by, answered_by_name,
       width_bucket(random(), {_array(SCORE_BOUNDS)}), answered_at
FROM call_records
WHERE outcome IN ('answered', 'transferred') AND id > $1 AND random() < {SURVEY_SHARE}
"""


def items_sql(shape: Shape) -> str:
    names = [k for k, _ in ITEM_KINDS]
    kinds = "ARRAY[" + ",".join(f"'{k}'" for k in names) + "]"
    bounds = _array(cumulative([w for _, w in ITEM_KINDS]))
    return f"""
WITH draw AS MATERIALIZED (
    SELECT g, $1::timestamptz + random() * ($2::timestamptz - $1::timestamptz) AS created,
           ({kinds})[width_bucket(random(), {bounds})] AS kind,
           1 + floor(random() * {shape.queues})::int AS qi,
           random() AS rs, random() AS rt, random() AS ro
    FROM generate_series(1, $3) AS g
), shaped AS (
    SELECT d.*, CASE WHEN rs < 0.05 THEN 'open' WHEN rs < 0.25 THEN 'resolved' ELSE 'closed'
                END AS status,
           created + make_interval(secs => 3600 + rt * 3 * 86400) AS resolved,
           ((qi - 1) % {shape.teams}) * {shape.per_team} + 1
               + floor(ro * {shape.per_team})::int AS owner
    FROM draw d
)
INSERT INTO work_items (
    ticket, kind, status, is_open, priority, category, title, phone, pbx, queue, language,
    owner_id, source, created_by, created_at, updated_at, version, clock, clock_start,
    span_seconds, due_at, escalation_tier, escalations, resolved_at, resolved_on_time,
    resolution, closed_at)
SELECT lpad(g::text, 12, '0'), kind, status, status = 'open', 'normal',
       CASE kind WHEN 'callback' THEN 'callback' ELSE 'service' END, kind || ' #' || g,
       '1' || (38000000000 + g)::text, 'rig', 'q' || lpad(qi::text, 2, '0'), 'zh',
       owner, 'agent', owner, created, greatest(created, resolved), 1, 'wall', created,
       2 * 86400, created + interval '2 days', 0, 0,
       CASE WHEN status <> 'open' THEN resolved END,
       CASE WHEN status <> 'open' THEN resolved <= created + interval '2 days' END,
       CASE WHEN status <> 'open' THEN 'resolved with the customer' END,
       CASE WHEN status = 'closed' THEN resolved + interval '1 day' END
FROM shaped
"""


def state_rows(shape: Shape, rng: random.Random) -> list[tuple[Any, ...]]:
    """Agent-state spans: every working day a shift of ready / on-call / acw blocks with a
    break, lunch and sometimes a meeting; signed out overnight (every span ends)."""
    step = max(1, shape.agents // max(1, shape.state_agents))
    users = list(range(1, shape.agents + 1, step))[: shape.state_agents]
    rows: list[tuple[Any, ...]] = []
    for user in users:
        interface = f"PJSIP/{1000 + user}"
        last_end: datetime | None = None
        for n in range(shape.days):
            day = shape.first_day + timedelta(days=n)
            if day.isoweekday() >= 6 and rng.random() < 0.6:
                continue

            def at(hours: float, day: date = day) -> datetime:
                return datetime.combine(day, dtime(), TZ).astimezone(UTC) + timedelta(hours=hours)

            start = at(8.5 + rng.random())
            end = at(17.5 + rng.random())
            if last_end is not None:
                rows.append((user, "signed-out", "", last_end, start, interface))
            pauses = [
                (at(10.25 + rng.random() * 0.5), "break", 0.25),
                (at(11.75 + rng.random() * 0.5), "lunch", 1.0),
                (at(15.25 + rng.random() * 0.5), "break", 0.25),
            ]
            if rng.random() < 0.2:
                pauses.append((at(16.0), "meeting", 0.5))
            moment = start
            cycle = ("ready", "on-call", "acw")
            i = 0
            while moment < end:
                if pauses and moment >= pauses[0][0]:
                    _, code, hours = pauses.pop(0)
                    stop = min(end, moment + timedelta(hours=hours))
                    rows.append((user, "not-ready", code, moment, stop, interface))
                    moment = stop
                    continue
                state = cycle[i % 3]
                minutes = {"ready": (5, 40), "on-call": (15, 60), "acw": (2, 8)}[state]
                stop = min(end, moment + timedelta(minutes=rng.uniform(*minutes)))
                if pauses:
                    stop = min(stop, max(moment + timedelta(minutes=1), pauses[0][0]))
                rows.append((user, state, "", moment, stop, interface))
                moment = stop
                i += 1
            last_end = end
    return rows


@contextlib.asynccontextmanager
async def driver(engine: AsyncEngine) -> AsyncIterator[Any]:
    """asyncpg's own connection (COPY, VACUUM, DDL outside SQLAlchemy's transaction)."""
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        yield raw.driver_connection


async def secondary_indexes(connection: Any, table: str) -> tuple[list[str], list[str]]:
    """call_records' non-primary indexes and unique constraints, as SQL that recreates them."""
    constraints = await connection.fetch(
        "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint "
        "WHERE conrelid = $1::regclass AND contype = 'u' ORDER BY conname",
        table,
    )
    indexes = await connection.fetch(
        "SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def "
        "FROM pg_index i WHERE i.indrelid = $1::regclass AND NOT i.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) "
        "ORDER BY 1",
        table,
    )
    drops = [f"ALTER TABLE {table} DROP CONSTRAINT {r['conname']}" for r in constraints]
    drops += [f"DROP INDEX {r['name']}" for r in indexes]
    creates = [f"ALTER TABLE {table} ADD CONSTRAINT {r['conname']} {r['def']}" for r in constraints]
    creates += [r["def"] for r in indexes]
    return drops, creates


USER_COLUMNS = (
    "id", "username", "display_name", "role", "password_hash", "interfaces", "language",
    "disabled", "created_at", "updated_at",
)  # fmt: skip
STATE_COLUMNS = (
    "user_id", "state", "code", "reason", "paid", "pbx", "interface", "started_at", "ended_at",
)  # fmt: skip


@dataclass
class Loaded:
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)


async def load(engine: AsyncEngine, shape: Shape, seed: int) -> Loaded:
    """Every raw table, the reports' triggers off meanwhile; then VACUUM (ANALYZE)."""
    started = time.perf_counter()
    rng = random.Random(seed)
    loaded = Loaded()
    async with driver(engine) as db:
        await db.execute(f"SELECT setseed({(seed % 1000) / 1000})")
        await db.execute("SET maintenance_work_mem = '1GB'")
        now = datetime.now(UTC)
        people = [
            (n, f"agent{n}", f"Agent {n}", "agent", "bench", f'["PJSIP/{1000 + n}"]', "zh", False)
            for n in range(1, shape.agents + 1)
        ]
        users = [(*person, now, now) for person in people]
        await db.copy_records_to_table("users", records=users, columns=USER_COLUMNS)
        await db.execute("SELECT setval(pg_get_serial_sequence('users', 'id'), $1)", shape.agents)
        for table, trigger in TRIGGERS.items():
            await db.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        try:
            await load_calls(db, shape, rng, started)
            t0 = time.perf_counter()
            await db.execute(wrapups_sql(), 0)
            await db.execute(SURVEYS_SQL, 0)
            print(f"  wrap-ups and surveys in {time.perf_counter() - t0:.0f} s", flush=True)
            t0 = time.perf_counter()
            states = [
                (u, s, c, "", True, "rig", i, a, b) for u, s, c, a, b, i in state_rows(shape, rng)
            ]
            await db.copy_records_to_table("agent_states", records=states, columns=STATE_COLUMNS)
            if shape.items:
                first = datetime.combine(shape.first_day, dtime(), TZ).astimezone(UTC)
                last = datetime.combine(shape.today, dtime(), TZ).astimezone(UTC)
                await db.execute(items_sql(shape), first, last, shape.items)
            print(f"  agent states and work items in {time.perf_counter() - t0:.0f} s", flush=True)
        finally:
            for table, trigger in TRIGGERS.items():
                await db.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
        t0 = time.perf_counter()
        for table in RAW_TABLES:
            await db.execute(f"VACUUM (ANALYZE) {table}")
        print(f"  VACUUM (ANALYZE) in {time.perf_counter() - t0:.0f} s", flush=True)
        for table in RAW_TABLES:
            loaded.counts[table] = await db.fetchval(f"SELECT count(*) FROM {table}")
        dirty = await db.fetchval("SELECT count(*) FROM report_dirty")
        if dirty:
            raise SystemExit(f"the load queued {dirty} report_dirty rows: triggers were on")
    loaded.seconds = time.perf_counter() - started
    return loaded


async def load_calls(db: Any, shape: Shape, rng: random.Random, started: float) -> None:
    """The calls, in statements of about CHUNK_CALLS, call_records' secondary indexes and
    unique constraint dropped meanwhile and made again (checked: the same definitions)."""
    drops, creates = await secondary_indexes(db, "call_records")
    before = await index_definitions(db, "call_records")
    for statement in drops:
        await db.execute(statement)
    hours = hour_counts(shape, rng)
    await db.execute(
        "CREATE TABLE bench_hours (hour_start timestamptz PRIMARY KEY, n int NOT NULL)"
    )
    await db.copy_records_to_table("bench_hours", records=hours)
    await db.execute("ANALYZE bench_hours")
    sql = calls_sql(shape)
    chunk_start, acc, done = hours[0][0], 0, 0
    bounds: list[tuple[datetime, datetime]] = []
    for start, n in hours:
        if acc >= CHUNK_CALLS:
            bounds.append((chunk_start, start))
            chunk_start, acc = start, 0
        acc += n
    bounds.append((chunk_start, hours[-1][0] + timedelta(hours=1)))
    for low, high in bounds:
        status = await db.execute(sql, low, high)
        done += int(status.split()[-1])
        print(f"  calls: {done:,} ({time.perf_counter() - started:.0f} s)", flush=True)
    await db.execute("DROP TABLE bench_hours")
    t0 = time.perf_counter()
    for statement in creates:
        await db.execute(statement)
    after = await index_definitions(db, "call_records")
    if after != before:
        raise SystemExit(f"call_records' indexes differ after the load:\n{before}\n{after}")
    print(
        f"  call_records' {len(creates)} secondary indexes made again in "
        f"{time.perf_counter() - t0:.0f} s",
        flush=True,
    )


async def index_definitions(db: Any, table: str) -> list[str]:
    rows = await db.fetch("SELECT indexdef FROM pg_indexes WHERE tablename = $1", table)
    return sorted(r["indexdef"] for r in rows)


async def print_sizes(engine: AsyncEngine, tables: Sequence[str]) -> None:
    async with driver(engine) as db:
        print(f"  {'table':<20} {'rows':>12} {'heap MB':>9} {'with indexes MB':>16}")
        for table in tables:
            rows = await db.fetchval(f"SELECT count(*) FROM {table}")
            heap, total = await db.fetchrow(
                "SELECT pg_table_size($1::regclass), pg_total_relation_size($1::regclass)", table
            )
            print(f"  {table:<20} {rows:>12,} {heap / 2**20:>9.1f} {total / 2**20:>16.1f}")


async def roll_up_rows(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Every roll-up row (not the queue), sorted: to compare two rebuilds."""
    out = {}
    async with driver(engine) as db:
        for table in REPORT_TABLES[:-1]:
            out[table] = sorted(tuple(r) for r in await db.fetch(f"SELECT * FROM {table}"))
    return out


def float_rounded(rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(tuple(round(v, 6) if isinstance(v, float) else v for v in r) for r in rows)


# --- measuring ----------------------------------------------------------------------------


class Captured:
    """Statements the engine sends: while ``on``, kept (to EXPLAIN exactly what query.py
    built); always counted, with the time from sending each to its rows."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.on = False
        self.statements: list[tuple[str, Any]] = []
        self.count = 0
        self.seconds = 0.0
        self._started = 0.0
        event.listen(engine.sync_engine, "before_cursor_execute", self._before)
        event.listen(engine.sync_engine, "after_cursor_execute", self._after)

    def _before(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        self._started = time.perf_counter()
        if self.on and not many:
            self.statements.append((statement, parameters))

    def _after(self, *_: Any) -> None:
        self.count += 1
        self.seconds += time.perf_counter() - self._started


@dataclass
class Case:
    name: str
    request: ReportRequest
    group: str = "issue"  # "issue": the list; "heavy": beyond it
    samples: list[float] = field(default_factory=list)
    sql_seconds: float = 0.0
    rows: int = 0

    def cut(self, q: int) -> float:
        if len(self.samples) == 1:
            return self.samples[0]
        return statistics.quantiles(self.samples, n=100, method="inclusive")[q - 1]

    @property
    def passed(self) -> bool:
        return self.cut(95) <= TARGET_P95

    def line(self) -> str:
        r = self.request
        return (
            f"{self.name:<44} p50={self.cut(50) * 1000:8.1f} p95={self.cut(95) * 1000:8.1f} "
            f"max={max(self.samples) * 1000:8.1f} ms  sql={self.sql_seconds * 1000:7.1f} ms  "
            f"rows={'refused' if self.rows < 0 else self.rows:<7} "
            f"{r.dimension}/{r.interval} {r.start}..{r.end}  "
            f"{'PASS' if self.passed else 'FAIL'}"
        )


def cases(shape: Shape, settings: ReportsSettings) -> list[Case]:
    first, last = shape.first_day, shape.last_day
    month_end = last.replace(day=1) - timedelta(days=1)
    periods = {
        "whole": (first, last),
        "month": (month_end.replace(day=1), month_end),
        "week": (last - timedelta(days=6), last),
        "day": (last, last),
    }
    quarter = (last - timedelta(days=settings.max_days_by_slot - 1), last)
    out: list[Case] = []

    def add(name: str, figures: Sequence[str], dim: str, interval: str, period: tuple[date, date],
            group: str = "issue", **extra: Any) -> None:  # fmt: skip
        request = ReportRequest(tuple(figures), dim, interval, period[0], period[1], **extra)  # type: ignore[arg-type]
        out.append(Case(name, request, group))

    for report in STANDARD.values():
        for label, period in periods.items():
            interval = report.interval
            days = (period[1] - period[0]).days + 1
            note = ""
            if interval in ("15min", "hour") and days > settings.max_days_by_slot:
                interval, note = "day", " (by day)"
            add(f"{report.name} {label}{note}", report.figures, report.dimension, interval, period)
    queue_figures = STANDARD["queue-summary"].figures
    agent_figures = STANDARD["agent-summary"].figures
    for interval in ("total", "day", "week", "month", "quarter", "year"):
        add(f"interval {interval} whole", queue_figures, "none", interval, periods["whole"])
    for interval in ("hour", "15min"):
        add(f"interval {interval} 92 days", queue_figures, "none", interval, quarter)
        add(f"interval {interval} day", queue_figures, "none", interval, periods["day"])
    for dim, figures in (
        ("queue", queue_figures),
        ("team", queue_figures),
        ("agent", agent_figures),
        ("hour", queue_figures),
        ("weekday", queue_figures),
        ("category", (WRAPPED, WRAPPED_SHARE)),
        ("disposition", (WRAPPED, WRAPPED_SHARE)),
    ):
        add(f"dimension {dim} whole", figures, dim, "total", periods["whole"])
    add("team 1 filter, by queue, whole", queue_figures, "queue", "total", periods["whole"],
        team_id=1)  # fmt: skip
    add("agent 1 filter, by month, whole", agent_figures, "none", "month", periods["whole"],
        user_id=1)  # fmt: skip
    add("every figure by month, whole", tuple(FIGURES), "none", "month", periods["whole"])
    # Beyond the list: answers of one row per agent-day, queue-day or queue-slot.
    add("agent by month, whole", agent_figures, "agent", "month", periods["whole"], "heavy")
    add("queue by day, whole", queue_figures, "queue", "day", periods["whole"], "heavy")
    add("agent by day, whole", agent_figures, "agent", "day", periods["whole"], "heavy")
    add("queue by 15min, 92 days", queue_figures, "queue", "15min", quarter, "heavy")
    add("every figure by agent, whole", tuple(FIGURES), "agent", "total", periods["whole"],
        "heavy")  # fmt: skip
    return out


async def measure(
    reports: Reports, capture: Captured, case: Case, teams: Sequence[Team], repeat: int
) -> None:
    async def once() -> ReportResult | None:
        # A report over [reports] max_rows rows is refused (a 400 over HTTP): what is timed
        # then is how soon the refusal comes.
        try:
            return await reports.run(case.request, EVERYTHING, teams)
        except TooFine:
            return None

    result: ReportResult | None = None
    for _ in range(2):
        result = await once()
    case.rows = -1 if result is None else len(result.rows)
    sql = capture.seconds
    for _ in range(repeat):
        started = time.perf_counter()
        await once()
        case.samples.append(time.perf_counter() - started)
    case.sql_seconds = (capture.seconds - sql) / repeat


async def explain(
    engine: AsyncEngine,
    capture: Captured,
    reports: Reports,
    case: Case,
    teams: Sequence[Team],
) -> None:
    capture.statements.clear()
    capture.on = True
    try:
        await reports.run(case.request, EVERYTHING, teams)
    except TooFine:
        pass  # refused for its size: the statements it sent are still worth explaining
    finally:
        capture.on = False
    print(f"\n--- EXPLAIN (ANALYZE, BUFFERS): {case.name} ---")
    async with engine.connect() as connection:
        for statement, parameters in capture.statements:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            print(statement.strip())
            if parameters:
                print(f"  parameters: {parameters}")
            plan = await connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
            )
            for (line,) in plan:
                print("  " + line)
        await connection.rollback()


# --- the incremental refresh --------------------------------------------------------------


async def write_today(
    db: Any, shape: Shape, slots: Sequence[tuple[datetime, int]], per_statement: int
) -> tuple[int, int, float]:
    """Calls of today (the slots' calls, each slot's over the hour after its start), in
    statements of ``per_statement`` slots as the records writer's batches, with their wrap-ups
    and surveys, the triggers on; (calls, wrap-ups, seconds)."""
    last_id = await db.fetchval("SELECT max(id) FROM call_records")
    await db.execute("TRUNCATE bench_hours")
    await db.copy_records_to_table("bench_hours", records=slots)
    sql = calls_sql(shape)
    t0 = time.perf_counter()
    for i in range(0, len(slots), per_statement):
        high = (
            slots[i + per_statement][0]
            if i + per_statement < len(slots)
            else slots[-1][0] + timedelta(seconds=1)
        )
        await db.execute(sql, slots[i][0], high)
    await db.execute(wrapups_sql(), last_id)
    await db.execute(SURVEYS_SQL, last_id)
    seconds = time.perf_counter() - t0
    calls = await db.fetchval("SELECT count(*) FROM call_records WHERE id > $1", last_id)
    wrapups = await db.fetchval("SELECT count(*) FROM call_wrapups WHERE call_id > $1", last_id)
    return calls, wrapups, seconds


async def incremental(
    engine: AsyncEngine,
    refresher: RollupRefresher,
    shape: Shape,
    seed: int,
    profile: bool,
) -> bool:
    """1,000 calls of today written with the triggers on (two batches of 500), then
    refresh(); then 10 calls and refresh() (a round's worth: the service refreshes every
    ``refresh_seconds``); then a refresh with nothing queued; checked against the raw rows."""
    day_start = datetime.combine(shape.today, dtime(), TZ).astimezone(UTC)
    now = datetime.now(UTC)
    span = max(60.0, (now - day_start).total_seconds() - 900)
    # Slot starts at least a second apart (their Uniqueids differ), all of today so far.
    step = max(1.0, (span - 3600) / 11)
    starts = [day_start + timedelta(seconds=round(step * i)) for i in range(11)]
    rounds = (
        ("1,000 calls", [(start, 100) for start in starts[:10]], 5),
        ("10 calls", [(starts[10], 10)], 1),
    )
    ok = True
    async with driver(engine) as db:
        await db.execute(f"SELECT setseed({((seed + 1) % 1000) / 1000})")
        await db.execute(
            "CREATE TEMP TABLE bench_hours (hour_start timestamptz PRIMARY KEY, n int NOT NULL)"
        )
        for title, slots, per_statement in rounds:
            calls, wrapups, written = await write_today(db, shape, slots, per_statement)
            dirty = await db.fetchval("SELECT count(*) FROM report_dirty")
            profiler = cProfile.Profile() if profile and calls >= 1000 else None
            t0 = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            handled = await refresher.refresh()
            if profiler is not None:
                profiler.disable()
            took = time.perf_counter() - t0
            raw = await db.fetchval(
                "SELECT count(*) FROM call_records WHERE joined_at >= $1", day_start
            )
            rolled = await db.fetchval(
                "SELECT coalesce(sum(answered + abandoned + timeouts + withdrawn + overflowed + "
                "unknown + outbound), 0) FROM report_queue_days WHERE day = $1",
                shape.today,
            )
            left = await db.fetchval("SELECT count(*) FROM report_dirty")
            check = "ok" if raw == rolled and left == 0 else "MISMATCH"
            ok = ok and check == "ok"
            print(
                f"incremental, {title}: {calls:,} calls of today (+{wrapups:,} wrap-ups and "
                f"their surveys) written in {written:.2f} s with the triggers on, "
                f"{dirty:,} report_dirty rows queued; refresh() handled {handled:,} in "
                f"{took * 1000:.0f} ms{' (under cProfile)' if profiler else ''}; today's "
                f"calls raw {raw:,} = rolled up {rolled:,} ({check}), {left} left queued",
                flush=True,
            )
            if profiler is not None:
                out = io.StringIO()
                stats = pstats.Stats(profiler, stream=out)
                stats.sort_stats("cumulative").print_stats(r"reports/(refresh|rollup)\.py", 12)
                print(out.getvalue())
    t0 = time.perf_counter()
    again = await refresher.refresh()
    print(
        f"incremental, nothing queued: refresh() handled {again} in "
        f"{(time.perf_counter() - t0) * 1000:.1f} ms"
    )
    return ok


# --- the run ------------------------------------------------------------------------------


def load_average() -> str:
    """Other work on the machine shows here (2 cores: a load over 2 is queueing)."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


class FrozenClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def alter_system(server: PostgresServer, settings: dict[str, str]) -> None:
    engine = create_engine(server.url())
    try:
        async with driver(engine) as db:
            for name, value in settings.items():
                await db.execute(f"ALTER SYSTEM SET {name} = '{value}'")
    finally:
        await engine.dispose()


async def prepare(args: argparse.Namespace, server: PostgresServer) -> tuple[AsyncEngine, Shape]:
    server.init()
    server.start()
    # Bulk-load settings (no effect on the reports' queries); shared_buffers needs a restart.
    system = {"max_wal_size": "8GB"}
    if args.shared_buffers:
        system["shared_buffers"] = args.shared_buffers
    await alter_system(server, system)
    server.stop()
    server.start()
    engine = create_engine(server.create_database())
    await upgrade_to_head(engine)
    shape = Shape(
        calls=args.calls,
        days=args.days,
        queues=args.queues,
        agents=args.agents,
        teams=args.teams,
        state_agents=args.state_agents,
        items=args.calls // 50 if args.items is None else args.items,
        today=datetime.now(UTC).astimezone(TZ).date(),
    )
    async with driver(engine) as db:
        version = await db.fetchval("SHOW server_version")
        buffers = await db.fetchval("SHOW shared_buffers")
    print(
        f"PostgreSQL {version} {'(fsync off)' if args.fast_pg else '(durable)'}, "
        f"shared_buffers {buffers}; {shape.calls:,} calls over {shape.days} days "
        f"({shape.first_day}..{shape.last_day}, {TZ.key}), {shape.queues} queues, "
        f"{shape.agents} agents in {shape.teams} teams, states of {shape.state_agents} "
        f"agents, {shape.items:,} work items"
    )
    loaded = await load(engine, shape, args.seed)
    counts = ", ".join(f"{t} {n:,}" for t, n in loaded.counts.items())
    print(f"load: {loaded.seconds:.0f} s; {counts}")
    await print_sizes(engine, RAW_TABLES)
    return engine, shape


async def rebuild(
    args: argparse.Namespace, engine: AsyncEngine, refresher: RollupRefresher
) -> bool:
    """The rebuild, timed (and profiled), then the roll-ups' sizes; False if a second
    rebuild changed anything."""
    profile = cProfile.Profile() if args.profile else None
    t0 = time.perf_counter()
    if profile is not None:
        profile.enable()
    rebuilt = await refresher.rebuild()
    if profile is not None:
        profile.disable()
    took = time.perf_counter() - t0
    print(
        f"\nrebuild: {took:.1f} s{' (under cProfile)' if profile else ''}: {rebuilt.days:,} "
        f"days, {rebuilt.calls:,} calls ({rebuilt.calls / took:,.0f} calls/s), "
        f"{rebuilt.agent_days:,} agent-days of states"
    )
    if profile is not None:
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        stats.sort_stats("cumulative").print_stats(r"reports/(refresh|rollup)\.py", 20)
        stats.sort_stats("tottime").print_stats(20)
        print(out.getvalue())
    async with driver(engine) as db:
        t0 = time.perf_counter()
        for table in REPORT_TABLES:
            await db.execute(f"VACUUM (ANALYZE) {table}")
    print(f"  VACUUM (ANALYZE) of the roll-ups in {time.perf_counter() - t0:.1f} s")
    await print_sizes(engine, (*REPORT_TABLES, "call_records"))
    if not args.rebuild_twice:
        return True
    before = await roll_up_rows(engine)
    t0 = time.perf_counter()
    await refresher.rebuild()
    took = time.perf_counter() - t0
    after = await roll_up_rows(engine)
    # The float sums (waits, talk, wrap-up) add in the order the rows come back: another
    # order changes their last digits, nothing else.
    exact = sum(len(set(before[t]) ^ set(after[t])) // 2 for t in before)
    same = all(float_rounded(before[t]) == float_rounded(after[t]) for t in before)
    print(
        f"rebuild again: {took:.1f} s, roll-ups "
        + ("unchanged" if same else "CHANGED")
        + (f" to 6 decimals ({exact:,} rows differ in a float sum's last digits)" if exact else "")
    )
    return same


async def measure_reports(
    args: argparse.Namespace, engine: AsyncEngine, shape: Shape, settings: ReportsSettings
) -> tuple[bool, Callable[[], Awaitable[None]]]:
    """Every case, then the verdicts; and what EXPLAINs the cases over the target (or all,
    --explain), run at the end to keep its output after the figures."""
    reports = Reports(engine, settings, TZ)
    capture = Captured(engine)
    teams = shape.teams_list()
    measured = cases(shape, settings)
    heavy_repeat = max(3, args.repeat // 4)
    print(
        f"\nreports: {len(measured)} cases, {args.repeat} runs each (the heavier ones "
        f"{heavy_repeat}) after 2 warm-up runs; sql: mean time per run in statements (sent "
        f"to rows fetched), the rest is Python; {load_average()}"
    )
    for case in measured:
        repeat = args.repeat if case.group == "issue" else heavy_repeat
        await measure(reports, capture, case, teams, repeat)
        print(case.line(), flush=True)
    print(load_average())
    passed = True
    for group, title in (("issue", "the issue's cases"), ("heavy", "heavier cases")):
        group_cases = [c for c in measured if c.group == group]
        samples = [s for c in group_cases for s in c.samples]
        over = [c.name for c in group_cases if not c.passed]
        p95 = statistics.quantiles(samples, n=100, method="inclusive")[94]
        verdict = "PASS" if not over and p95 <= TARGET_P95 else "FAIL"
        listed = f" ({', '.join(over)})" if over else ""
        print(
            f"{title}: {len(group_cases)} cases, {len(samples)} runs: p50 "
            f"{statistics.median(samples) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, "
            f"max {max(samples) * 1000:.1f} ms; cases over p95 {TARGET_P95 * 1000:.0f} ms: "
            f"{len(over)}{listed}  {verdict}"
        )
        passed = passed and (verdict == "PASS" or group != "issue")
    later = [c for c in measured if args.explain or not c.passed]
    return passed, lambda: explain_all(engine, capture, reports, later, teams)


async def explain_all(
    engine: AsyncEngine,
    capture: Captured,
    reports: Reports,
    measured: Sequence[Case],
    teams: Sequence[Team],
) -> None:
    for case in measured:
        await explain(engine, capture, reports, case, teams)


async def run(args: argparse.Namespace) -> int:
    server = PostgresServer(durable=not args.fast_pg)
    failed: list[str] = []
    try:
        engine, shape = await prepare(args, server)
        settings = ReportsSettings()
        refresher = RollupRefresher(engine, settings, TZ, clock=FrozenClock(datetime.now(UTC)))
        if not await rebuild(args, engine, refresher):
            failed.append("rebuild twice")
        passed, explain_later = await measure_reports(args, engine, shape, settings)
        if not passed:
            failed.append("reports p95")
        print()
        if not await incremental(engine, refresher, shape, args.seed, args.profile):
            failed.append("incremental refresh")
        await explain_later()
        await engine.dispose()
    finally:
        try:
            server.stop()
        except RuntimeError as exc:  # never started
            print(f"(stop: {exc})")
        finally:
            server.cleanup()
    print("\nRESULT: " + ("FAIL (" + ", ".join(failed) + ")" if failed else "PASS"))
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--queues", type=int, default=20)
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--teams", type=int, default=10)
    parser.add_argument("--state-agents", type=int, default=30, help="agents with states")
    parser.add_argument("--items", type=int, default=None, help="work items (--calls / 50)")
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per report case")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--fast-pg", action="store_true", help="PostgreSQL with fsync=off")
    parser.add_argument(
        "--shared-buffers",
        default="",
        help="PostgreSQL shared_buffers, e.g. 1GB (default: the server's own, 128MB)",
    )
    parser.add_argument("--explain", action="store_true", help="EXPLAIN every report case")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the rebuild and the 1,000-call refresh"
    )
    parser.add_argument(
        "--rebuild-twice", action="store_true", help="rebuild again and check nothing changes"
    )
    args = parser.parse_args()
    if args.queues > 99 or args.teams > args.queues or args.teams > args.agents:
        parser.error("at most 99 queues, and no more teams than queues or agents")
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
