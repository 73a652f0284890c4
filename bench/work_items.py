"""Work items at scale: "my work", the supervisor's overdue list, the counts and the escalation
sweep on 1,000,000 items in PostgreSQL (issue 14, item 10).

    .venv/bin/python bench/work_items.py [--items 1000000] [--due 1000] [--fast-pg] [--explain]

A throw-away PostgreSQL (tests/fixtures_pg.PostgresServer; durable settings unless --fast-pg,
shared_buffers the server's default unless --shared-buffers) is migrated to head and loaded
with COPY (asyncpg's copy_records_to_table, through the engine's own connection):

- 200 agents in 10 teams, a leader per team, 3 supervisors (the manager tier);
- ids in creation order, as the service makes them: closed and resolved items spread over a
  year, open ones (30 %) recent, so they sit at the end of the table;
- of the open items a fifth in their team's pool (no owner), a quarter waiting on the customer
  or another department (clock stopped: no deadline, the time left kept), and of the running
  ones a fifth overdue;
- kinds, priorities, categories and sources mixed (account security and major complaints
  urgent); the promise of every open item made by the service's own code (work.deadlines
  under the default rules and the IVR's default calendar: most run on working time), and
  its escalation columns what work.escalation gives at the load's instant T0 under the
  default tiers (80 % owner, 100 % team leader, 150 % manager): nothing is due at T0;
- a timeline of about three events per item (created, escalated, notes, resolved, closed):
  the counts read the escalations.

Then VACUUM (ANALYZE), as autovacuum would have done on a live table. Measured one call at a
time, on a real WorkItems (a fixed WorkForce, the default settings) whose clock is frozen at
T0:

  mine           lists.mine for a random agent (own open items and the team's pool)
  mine answer    GET /api/work/mine through WorkApi.mine (the query, shaping and JSON)
  overdue all    lists.search overdue=True, a supervisor (every item), first page (50)
  overdue team   the same in a team leader's scope
  overdue answer GET /api/work/items?overdue=true through WorkApi.search, a supervisor
  counts all     lists.counts, a supervisor, since 24 h ago
  counts team    lists.counts, a team leader
  sweep N due    WorkItems.sweep end to end, its clock moved on to the instant the N-th next
                 tier falls due (the items' own next_escalation_at: no row is forged), with
                 limit N as more may share that instant; batches of 500 rows, one
                 transaction each, as the room runs it; --rounds rounds, each printed with
                 its statements per item, the time spent in them and the WAL written per
                 item
  sweep idle     WorkItems.sweep at T0, nothing due: its SELECT over all items

Also printed: how many tiers fall due in the busiest sweep interval of the next week (a
working-day promise ends at closing time, so the items of a day escalate together).

Targets (issue 14): "my work" and the overdue filter p95 <= 50 ms; the sweep <= 1 s (the
slowest round). Prints p50/p95/p99, PASS/FAIL, and exits 1 on a FAIL. --explain (and any FAIL)
prints EXPLAIN (ANALYZE, BUFFERS) of the SELECTs the measured call ran, captured from the
engine as the core built them (for the sweep: after the call, so its rows are gone).
About 7 minutes on the 2-core machine, 2 of them loading.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import make_mocked_request
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from callcenter.agents.scope import EVERYTHING, Scope, Team, scope_of  # noqa: E402
from callcenter.auth.identity import USER, User  # noqa: E402
from callcenter.settings import IvrSettings, WorkSettings  # noqa: E402
from callcenter.store.db import create_engine  # noqa: E402
from callcenter.store.migrate import upgrade_to_head  # noqa: E402
from callcenter.work import lists  # noqa: E402
from callcenter.work.api import WorkApi  # noqa: E402
from callcenter.work.calendar import BusinessCalendar  # noqa: E402
from callcenter.work.deadlines import Promise, promise, remaining  # noqa: E402
from callcenter.work.escalation import escalation_instant, next_tier, tiers_due  # noqa: E402
from callcenter.work.items import WorkItems  # noqa: E402
from callcenter.work.ports import ReadyAgent  # noqa: E402
from callcenter.work.tickets import luhn_digit  # noqa: E402
from tests.fixtures_pg import PostgresServer  # noqa: E402

TARGET_LIST_P95 = 0.050
TARGET_SWEEP = 1.0
HOUR = 3600
DAY = 24 * HOUR

# --- who: agents, leaders, supervisors, teams ---------------------------------------------


@dataclass
class People:
    agents: list[User]
    leaders: list[User]
    supervisors: list[User]
    teams: list[Team]
    team_of: dict[int, int]

    @property
    def everyone(self) -> list[User]:
        return [*self.agents, *self.leaders, *self.supervisors]


def people(agents: int, teams: int) -> People:
    per_team = max(1, agents // teams)
    agent_users = [
        User(n, f"agent{n}", f"Agent {n}", "agent", (f"PJSIP/{1000 + n}",))
        for n in range(1, agents + 1)
    ]
    team_of = {u.id: min(teams, (u.id - 1) // per_team + 1) for u in agent_users}
    leaders = [
        User(10_000 + t, f"leader{t}", f"Leader {t}", "team_leader") for t in range(1, teams + 1)
    ]
    supervisors = [
        User(20_000 + n, f"super{n}", f"Supervisor {n}", "supervisor") for n in (1, 2, 3)
    ]
    team_rows = [
        Team(
            id=t,
            name=f"team-{t}",
            label_zh=f"班组{t}",
            label_en=f"Team {t}",
            queues=frozenset({f"q{t}"}),
            members=frozenset(u for u, team in team_of.items() if team == t),
            leaders=frozenset({10_000 + t}),
        )
        for t in range(1, teams + 1)
    ]
    return People(agent_users, leaders, supervisors, team_rows, team_of)


class BenchWorkForce:
    """The agents room's port, from fixed lists (WorkItems asks it who is who)."""

    def __init__(self, who: People) -> None:
        self._teams = tuple(who.teams)
        self._users = {u.id: u for u in who.everyone}
        self._scopes: dict[int, Scope] = {}
        self.told = 0

    def scope_of(self, user: User) -> Scope:
        found = self._scopes.get(user.id)
        if found is None:
            found = self._scopes[user.id] = scope_of(user, self._teams, {})
        return found

    def teams(self) -> Sequence[Team]:
        return self._teams

    def active_user(self, user_id: int) -> User | None:
        return self._users.get(user_id)

    def active_users(self) -> Sequence[User]:
        return tuple(self._users.values())

    def ready_agents(self) -> Sequence[ReadyAgent]:
        return ()

    def tell(self, user_id: int, message: Mapping[str, Any]) -> None:
        self.told += 1


# --- the data -----------------------------------------------------------------------------

ITEM_COLUMNS = (
    "id", "ticket", "kind", "status", "is_open", "priority", "category", "title",
    "customer_id", "phone", "pbx", "queue", "language", "owner_id", "team_id", "source",
    "source_key", "created_by", "created_at", "updated_at", "version", "clock",
    "first_response_due", "first_response_at", "clock_start", "span_seconds", "due_at",
    "paused_at", "remaining_seconds", "escalation_tier", "next_escalation_at", "escalations",
    "resolved_at", "resolved_on_time", "resolution", "closed_at",
)  # fmt: skip
EVENT_COLUMNS = ("item_id", "at", "actor_id", "actor_name", "kind", "text", "data")

KINDS = (("follow-up", 40), ("callback", 25), ("complaint", 20), ("inquiry", 15))
PRIORITIES = (("urgent", 5), ("high", 20), ("normal", 60), ("low", 15))
CATEGORIES = {
    "follow-up": ("service", "billing", "product", "delivery", "technical", "other"),
    "callback": ("callback",),
    "complaint": ("service", "billing", "product", "delivery", "major-complaint"),
    "inquiry": ("service", "billing", "product", "technical", "other", "account-security"),
}
URGENT_CATEGORIES = frozenset({"account-security", "major-complaint"})
OPEN_STATUSES = (
    ("open", 35),
    ("in-progress", 40),
    ("waiting-customer", 15),
    ("waiting-department", 10),
)
SOURCES = (("agent", 70), ("ivr", 20), ("surge", 5), ("system", 5))


def weighted(rng: random.Random, table: Sequence[tuple[str, int]]) -> Callable[[], str]:
    names = [name for name, _ in table]
    cumulative: list[int] = []
    total = 0
    for _, weight in table:
        total += weight
        cumulative.append(total)

    def pick() -> str:
        return rng.choices(names, cum_weights=cumulative)[0]

    return pick


@dataclass
class Shape:
    items: int
    open_share: float = 0.30
    pool_share: float = 0.20  # of the open items: a team's pool, no owner
    overdue_share: float = 0.20  # of the open items whose clock runs (aimed at, not forced)
    customers: int = 300_000
    history_days: int = 365  # closed items were created over this many days


@dataclass
class Loaded:
    open: int = 0
    waiting: int = 0
    overdue: int = 0
    pool: int = 0
    working_clock: int = 0
    events: int = 0
    escalated_events: int = 0
    seconds: float = 0.0
    per_kind: dict[str, int] = field(default_factory=dict)


class Promises:
    """The service's own promise and tier arithmetic (work.deadlines, work.escalation) under
    the default rules and the IVR's default calendar."""

    def __init__(self, settings: WorkSettings, calendar: BusinessCalendar, now: datetime) -> None:
        self.settings = settings
        self.calendar = calendar
        self.tiers = settings.escalation
        # Mean wall seconds a promise of each kind and priority runs (over starts spread on
        # two weeks): about how old an item is when it falls overdue.
        self.wall_span: dict[tuple[str, str], float] = {}
        for kind, _ in KINDS:
            for priority, _ in PRIORITIES:
                spans = []
                for step in range(0, 14 * 24 * 4):
                    start = now - timedelta(minutes=15 * step + 7)
                    made = self.promise(kind, priority, start)
                    spans.append((made.due_at - start).total_seconds())
                self.wall_span[kind, priority] = sum(spans) / len(spans)

    def promise(self, kind: str, priority: str, start: datetime) -> Promise:
        return promise(self.settings.deadlines, self.calendar, kind, priority, start)

    def reached(self, made: Promise, at: datetime) -> int:
        return len(
            tiers_due(self.tiers, 0, self.calendar, made.clock, made.due_at, made.span_seconds, at)
        )

    def next_at(self, made: Promise, reached: int) -> datetime | None:
        found = next_tier(
            self.tiers, reached, self.calendar, made.clock, made.due_at, made.span_seconds
        )
        return None if found is None else found[1]

    def instant(self, made: Promise, tier: int) -> datetime:
        share = self.tiers[tier - 1].share
        return escalation_instant(self.calendar, made.clock, made.due_at, made.span_seconds, share)

    def remaining(self, made: Promise, at: datetime) -> int:
        return remaining(self.calendar, made.clock, at, made.due_at)


def skeleton(
    shape: Shape, who: People, promises: Promises, now: datetime, seed: int
) -> list[tuple[Any, ...]]:
    """Who, what, how old and (open items) the promise, for every item, oldest first: ids
    grow with creation time as in the service, so open items sit at the end of the table."""
    rng = random.Random(seed)
    kind_of = weighted(rng, KINDS)
    priority_of = weighted(rng, PRIORITIES)
    open_status = weighted(rng, OPEN_STATUSES)
    source_of = weighted(rng, SOURCES)
    members = {t.id: sorted(t.members) for t in who.teams}
    team_ids = [t.id for t in who.teams]
    random_ = rng.random
    uniform = rng.uniform
    history = shape.history_days * DAY
    rows = []
    for _ in range(shape.items):
        kind = kind_of()
        category = rng.choice(CATEGORIES[kind])
        priority = "urgent" if category in URGENT_CATEGORIES else priority_of()
        team = rng.choice(team_ids)
        owner: int | None = rng.choice(members[team])
        span = promises.wall_span[kind, priority]
        made = None
        if random_() < shape.open_share:
            status = open_status()
            if random_() < shape.pool_share:
                owner = None
            if status.startswith("waiting"):
                age = uniform(0.1, 1.0) * span + uniform(0, 5 * DAY)
                made = promises.promise(kind, priority, now - timedelta(seconds=age))
            else:
                age, made = running(promises, kind, priority, now, rng, shape.overdue_share)
        else:
            status = "closed" if random_() < 0.75 else "resolved"
            age = uniform(span, history)
        rows.append((age, kind, category, priority, status, team, owner, source_of(), made))
    rows.sort(key=lambda row: -row[0])
    return rows


def running(
    promises: Promises, kind: str, priority: str, now: datetime, rng: random.Random, share: float
) -> tuple[float, Any]:
    """An age and the promise made then, overdue at ``now`` with probability ``share``
    (working-time promises run for very different wall times: Friday's 4wh ends Monday)."""
    span = promises.wall_span[kind, priority]
    overdue = rng.random() < share
    age = (
        span * rng.uniform(1.02, 2.0) + rng.uniform(0, 5 * DAY) if overdue else rng.uniform(0, span)
    )
    for _ in range(12):
        made = promises.promise(kind, priority, now - timedelta(seconds=age))
        if (made.due_at < now) == overdue:
            break
        age = age + span if overdue else age * rng.uniform(0.2, 0.8)
    return age, made


def generate(
    shape: Shape,
    who: People,
    promises: Promises,
    now: datetime,
    seed: int,
    chunk: int,
    stats: Loaded,
) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Yields (item rows, event rows) in chunks, ids 1..items in creation order; counts into
    ``stats``."""
    plan = skeleton(shape, who, promises, now, seed)
    rng = random.Random(seed + 7)
    random_ = rng.random
    uniform = rng.uniform
    leader_of = {t.id: min(t.leaders) for t in who.teams}
    names = {u.id: u.display_name for u in who.everyone}
    items: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    for n, (age, kind, category, priority, status, team, owner, source, made) in enumerate(plan, 1):
        created = now - timedelta(seconds=age)
        customer = rng.randrange(1, shape.customers)
        first_response_at = paused_at = resolved_at = closed_at = next_at = None
        remaining = resolved_on_time = resolution = None
        due_at: datetime | None
        escalated: list[datetime] = []
        is_open = status not in ("resolved", "closed")
        if made is not None:
            clock, span, first_response_due = made.clock, made.span_seconds, made.first_response_due
            stats.open += 1
            stats.pool += owner is None
            stats.working_clock += clock == "working"
            if status.startswith("waiting"):
                # The clock stopped at paused_at: no deadline, the time left kept.
                stats.waiting += 1
                paused_at = created + (min(now, made.due_at) - created) * uniform(0.1, 0.95)
                reached = promises.reached(made, paused_at)
                remaining = promises.remaining(made, paused_at)
                due_at = None
            else:
                due_at = made.due_at
                stats.overdue += due_at < now
                reached = promises.reached(made, now)
                next_at = promises.next_at(made, reached)
            escalated = [promises.instant(made, tier) for tier in range(1, reached + 1)]
            if status != "open":
                first_response_at = created + (min(now, made.due_at) - created) * uniform(0.05, 0.5)
        else:
            # Closed history: a wall-clock promise of the rule's mean length.
            clock, span = "wall", int(promises.wall_span[kind, priority])
            first_response_due = None
            due_at = created + timedelta(seconds=span)
            took = uniform(0.1, 1.3) * span
            resolved_at = created + timedelta(seconds=took)
            resolved_on_time = resolved_at <= due_at
            reached = sum(1 for tier in promises.tiers if took >= tier.share * span)
            escalated = [
                created + timedelta(seconds=t.share * span) for t in promises.tiers[:reached]
            ]
            resolution = "resolved with the customer"
            first_response_at = created + timedelta(seconds=uniform(60, took))
            if status == "closed":
                closed_at = min(now, resolved_at + timedelta(seconds=uniform(HOUR, 3 * DAY)))
        body = str(1_000_000 + (n * 7919) % 9_000_000)
        updated = max(created, paused_at or created, resolved_at or created, closed_at or created)
        items.append(
            (
                n,
                body + luhn_digit(body),
                kind,
                status,
                is_open,
                priority,
                category,
                f"{kind} about {category} #{n}",
                customer,
                f"+86139{customer:08d}",
                "rig",
                f"q{team}",
                "zh",
                owner,
                team,
                source,
                f"ivr:rig:{n}" if source == "ivr" else None,
                owner if source == "agent" else None,
                created,
                updated,
                1 + reached + (status != "open") + (closed_at is not None),
                clock,
                first_response_due,
                first_response_at,
                created,
                span,
                due_at,
                paused_at,
                remaining,
                reached,
                next_at,
                reached,
                resolved_at,
                resolved_on_time,
                resolution,
                closed_at,
            )
        )
        stats.per_kind[kind] = stats.per_kind.get(kind, 0) + 1
        actor = owner if owner is not None else leader_of[team]
        actor_name = names[actor]
        events.append(
            (
                n,
                created,
                actor,
                actor_name,
                "created",
                "",
                json.dumps({"kind": kind, "priority": priority}),
            )
        )
        for tier, at in enumerate(escalated, 1):
            events.append((n, at, None, "system", "escalated", "", json.dumps({"tier": tier})))
        stats.escalated_events += len(escalated)
        if random_() < 0.3:
            at = created + (min(now, resolved_at or now) - created) * uniform(0.1, 0.9)
            events.append((n, at, actor, actor_name, "note", "called the customer", "{}"))
        if resolved_at is not None:
            events.append(
                (n, resolved_at, actor, actor_name, "status", "", json.dumps({"after": "resolved"}))
            )
        if closed_at is not None:
            events.append(
                (n, closed_at, actor, actor_name, "status", "", json.dumps({"after": "closed"}))
            )
        if len(items) >= chunk:
            stats.events += len(events)
            yield items, events
            items, events = [], []
    stats.events += len(events)
    yield items, events


@contextlib.asynccontextmanager
async def driver(url: str) -> AsyncIterator[Any]:
    """asyncpg's own connection (COPY, VACUUM, ALTER SYSTEM: no transaction around them)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            yield raw.driver_connection
    finally:
        await engine.dispose()


async def load(
    url: str, shape: Shape, who: People, promises: Promises, now: datetime, seed: int
) -> Loaded:
    started = time.perf_counter()
    stats = Loaded()
    async with driver(url) as connection:
        for items, events in generate(shape, who, promises, now, seed, 50_000, stats):
            await connection.copy_records_to_table(
                "work_items", records=items, columns=ITEM_COLUMNS
            )
            await connection.copy_records_to_table(
                "work_item_events", records=events, columns=EVENT_COLUMNS
            )
            done = items[-1][0] if items else 0
            if done and done % 250_000 == 0:
                print(f"  {done:,} items in {time.perf_counter() - started:.0f} s", flush=True)
        for table in ("work_items", "work_item_events"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        vacuum = time.perf_counter()
        # Autovacuum would have done it on a live table: statistics and the visibility map.
        await connection.execute("VACUUM (ANALYZE) work_items")
        await connection.execute("VACUUM (ANALYZE) work_item_events")
        print(f"  VACUUM (ANALYZE) in {time.perf_counter() - vacuum:.1f} s")
        sizes = await connection.fetch(
            "SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) AS size FROM pg_class "
            "WHERE relname IN ('work_items', 'work_item_events')"
        )
        print("  sizes (with indexes): " + ", ".join(f"{r['relname']} {r['size']}" for r in sizes))
    stats.seconds = time.perf_counter() - started
    return stats


# --- measuring ----------------------------------------------------------------------------


class Captured:
    """Statements the engine sends: while ``on``, kept (to EXPLAIN exactly what the core
    ran); always counted, with the time from sending each to its answer."""

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


async def explain(
    engine: AsyncEngine, capture: Captured, call: Callable[[], Awaitable[Any]], title: str
) -> None:
    capture.statements.clear()
    capture.on = True
    try:
        await call()
    finally:
        capture.on = False
    seen = [(s, p) for s, p in capture.statements if s.lstrip().upper().startswith("SELECT")]
    print(f"\n--- EXPLAIN (ANALYZE, BUFFERS): {title} ---")
    async with engine.connect() as connection:
        for statement, parameters in seen:
            print(statement.strip())
            if parameters:
                print(f"  parameters: {parameters}")
            plan = await connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
            )
            for (line,) in plan:
                print("  " + line)
        await connection.rollback()


@dataclass
class Result:
    name: str
    samples: list[float]
    target: float | None  # seconds, on p95 (or on the single figure for sweeps)
    note: str = ""
    gate_on: str = "p95"

    def cut(self, q: int) -> float:
        if len(self.samples) == 1:
            return self.samples[0]
        return statistics.quantiles(self.samples, n=100, method="inclusive")[q - 1]

    @property
    def gated(self) -> float:
        return max(self.samples) if self.gate_on == "max" else self.cut(95)

    @property
    def passed(self) -> bool | None:
        return None if self.target is None else self.gated <= self.target

    def line(self) -> str:
        verdict = {None: "", True: "PASS", False: "FAIL"}[self.passed]
        target = "" if self.target is None else f"{self.gate_on} <= {self.target * 1000:.0f} ms"
        return (
            f"{self.name:<15} n={len(self.samples):<4} p50={self.cut(50) * 1000:8.2f}  "
            f"p95={self.cut(95) * 1000:8.2f}  p99={self.cut(99) * 1000:8.2f}  "
            f"max={max(self.samples) * 1000:8.2f} ms  {target:<16} {verdict}  {self.note}"
        )


async def timed(call: Callable[[], Awaitable[Any]], repeat: int, warm: int = 5) -> list[float]:
    for _ in range(warm):
        await call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples


async def alter_system(server: PostgresServer, name: str, value: str) -> None:
    async with driver(server.url()) as connection:
        await connection.execute(f"ALTER SYSTEM SET {name} = '{value}'")


async def scalar(connection: Any, statement: str, *parameters: Any) -> Any:
    return (await connection.exec_driver_sql(statement, parameters)).scalar_one()


class FrozenClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Bench:
    """The loaded database and a real WorkItems on it, its clock frozen at T0."""

    args: argparse.Namespace
    engine: AsyncEngine
    who: People
    now: datetime
    clock: FrozenClock
    items: WorkItems
    api: WorkApi
    workforce: BenchWorkForce
    published: list[Mapping[str, Any]]
    capture: Captured
    explain_later: list[tuple[str, Callable[[], Awaitable[Any]]]] = field(default_factory=list)


async def prepare(args: argparse.Namespace, server: PostgresServer) -> Bench:
    server.init()
    server.start()
    if args.shared_buffers:
        # Into postgresql.auto.conf, read at the restart.
        await alter_system(server, "shared_buffers", args.shared_buffers)
        server.stop()
        server.start()
    url = server.create_database()
    engine = create_engine(url)
    await upgrade_to_head(engine)
    settings = WorkSettings()
    calendar = BusinessCalendar.from_ivr(IvrSettings())
    who = people(args.agents, args.teams)
    now = datetime.now(UTC).replace(microsecond=0)
    shape = Shape(items=args.items)
    print(
        f"PostgreSQL {'(fsync off)' if args.fast_pg else '(durable)'}"
        f"{', shared_buffers ' + args.shared_buffers if args.shared_buffers else ''}; "
        f"loading {shape.items:,} items, T0 = {now.isoformat()}"
    )
    stats = await load(url, shape, who, Promises(settings, calendar, now), now, args.seed)
    running = stats.open - stats.waiting
    print(
        f"  {stats.seconds:.0f} s: {stats.open:,} open ({stats.pool:,} in pools, "
        f"{stats.waiting:,} waiting, {stats.overdue:,} overdue = "
        f"{stats.overdue / max(1, running):.0%} of the running ones, {stats.working_clock:,} "
        f"on working time), {stats.events:,} events ({stats.escalated_events:,} escalated); "
        f"kinds {stats.per_kind}"
    )
    clock = FrozenClock(now)
    workforce = BenchWorkForce(who)
    published: list[Mapping[str, Any]] = []
    items = WorkItems(
        engine,
        settings,
        calendar,
        workforce,
        tell=workforce.tell,
        publish=published.append,
        clock=clock,
    )
    return Bench(
        args,
        engine,
        who,
        now,
        clock,
        items,
        WorkApi(items, None),
        workforce,
        published,
        Captured(engine),
    )


async def measure_lists(bench: Bench) -> list[Result]:
    args, engine, items, api, now = bench.args, bench.engine, bench.items, bench.api, bench.now
    rng = random.Random(args.seed + 1)
    agents, leaders, supervisor = bench.who.agents, bench.who.leaders, bench.who.supervisors[0]
    since = now - timedelta(days=1)
    overdue = lists.ItemFilters(overdue=True)

    async def mine() -> Any:
        user = rng.choice(agents)
        return await lists.mine(engine, user.id, items.my_team_ids(user))

    async def mine_answer() -> Any:
        request = make_mocked_request("GET", "/api/work/mine")
        request[USER] = rng.choice(agents)
        return await api.mine(request)

    async def overdue_all() -> Any:
        return await lists.search(engine, EVERYTHING, overdue, now, None)

    async def overdue_team() -> Any:
        return await lists.search(engine, items.scope(rng.choice(leaders)), overdue, now, None)

    async def overdue_answer() -> Any:
        request = make_mocked_request("GET", "/api/work/items?overdue=true")
        request[USER] = supervisor
        return await api.search(request)

    async def counts_all() -> Any:
        return await lists.counts(engine, EVERYTHING, now, None, since)

    async def counts_team() -> Any:
        return await lists.counts(engine, items.scope(rng.choice(leaders)), now, None, since)

    many, few = args.repeat, args.counts_repeat
    checks: list[tuple[str, Callable[[], Awaitable[Any]], int, float | None, str]] = [
        ("mine", mine, many, TARGET_LIST_P95, "lists.mine, a random agent"),
        ("mine answer", mine_answer, many, TARGET_LIST_P95, "WorkApi.mine: query + JSON"),
        ("overdue all", overdue_all, many, TARGET_LIST_P95, "lists.search overdue, supervisor"),
        ("overdue team", overdue_team, many, TARGET_LIST_P95, "the same, a team leader"),
        ("overdue answer", overdue_answer, many, TARGET_LIST_P95, "WorkApi.search, supervisor"),
        ("counts all", counts_all, few, None, "lists.counts, supervisor, since 24 h"),
        ("counts team", counts_team, few, None, "lists.counts, a team leader"),
    ]
    own, pool = await mine()
    first_page, _ = await overdue_all()
    print(
        f"  a sample agent: {len(own)} own open items, {len(pool)} on the pool's page; the "
        f"overdue list's first page: {len(first_page)} rows\n"
    )
    results = []
    for name, call, repeat, target, note in checks:
        result = Result(name, await timed(call, repeat), target, note)
        results.append(result)
        print(result.line(), flush=True)
        if result.passed is False or args.explain:
            bench.explain_later.append((name, call))
    return results


async def busiest_interval(bench: Bench) -> None:
    """Tiers fall on shared instants (a working-day promise ends at closing time): how many
    items the busiest sweep interval of the next week meets."""
    seconds = bench.items.settings.sweep_seconds
    async with bench.engine.connect() as connection:
        due_at_t0 = await scalar(connection, DUE_COUNT, bench.now)
        busiest = (
            await connection.exec_driver_sql(
                "SELECT date_bin($1, next_escalation_at, $2) AS slot, count(*) AS n "
                "FROM work_items WHERE is_open AND next_escalation_at > $2 "
                "AND next_escalation_at <= $3 GROUP BY 1 ORDER BY 2 DESC LIMIT 1",
                (timedelta(seconds=seconds), bench.now, bench.now + timedelta(days=7)),
            )
        ).first()
        await connection.rollback()
    if due_at_t0:
        print(f"WARNING: {due_at_t0} items already due at T0")
    if busiest is not None:
        print(
            f"busiest {seconds:g} s sweep interval of the next 7 days: {busiest.n:,} items due "
            f"(T0+{(busiest.slot - bench.now).total_seconds() / 3600:.1f} h)"
        )


DUE_COUNT = "SELECT count(*) FROM work_items WHERE is_open AND next_escalation_at <= $1"
NTH_NEXT = (
    "SELECT next_escalation_at FROM work_items WHERE is_open AND next_escalation_at > $1 "
    "ORDER BY next_escalation_at OFFSET $2 LIMIT 1"
)


async def sweep_round(bench: Bench, number: int) -> float:
    """Move the clock on to the instant the --due-th next tier falls due (the items' own
    next_escalation_at: no row is forged) and sweep, timed end to end."""
    args, clock, capture = bench.args, bench.clock, bench.capture
    async with bench.engine.connect() as connection:
        moment = (await connection.exec_driver_sql(NTH_NEXT, (clock.now, args.due - 1))).scalar()
        if moment is None:
            raise SystemExit(f"fewer than {args.due} tiers ahead: load more items or lower --due")
        clock.now = moment
        due = await scalar(connection, DUE_COUNT, clock.now)
        wal_before = await scalar(connection, "SELECT pg_current_wal_lsn()::text")
        await connection.rollback()
    bench.published.clear()
    told, statements, in_statements = bench.workforce.told, capture.count, capture.seconds
    started = time.perf_counter()
    # The room calls sweep() (at most 5,000 a round); the limit keeps the round at --due
    # items when more share the instant (they are left to the next round).
    done = await bench.items.sweep(limit=args.due)
    seconds = time.perf_counter() - started
    statements, in_statements = capture.count - statements, capture.seconds - in_statements
    async with bench.engine.connect() as connection:
        left = await scalar(connection, DUE_COUNT, clock.now)
        wal = await scalar(
            connection,
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::text::pg_lsn)::bigint",
            wal_before,
        )
        await connection.rollback()
    swept = max(1, min(due, args.due))
    print(
        f"sweep round {number}: clock T0+{(clock.now - bench.now).total_seconds() / 3600:.1f} h, "
        f"{due:,} due, {len({e.item['id'] for e in done}):,} items escalated ({len(done):,} "
        f"tiers, {len(bench.published):,} feed and {bench.workforce.told - told:,} console "
        f"messages), {left:,} left due; {seconds:.3f} s = {seconds / swept * 1000:.2f} ms/item: "
        f"{statements / swept:.1f} statements/item taking {in_statements / swept * 1000:.2f} ms, "
        f"the rest (BEGIN/COMMIT, pool, Python) {(seconds - in_statements) / swept * 1000:.2f} "
        f"ms; WAL {wal / swept / 1024:.0f} KiB/item",
        flush=True,
    )
    return seconds


async def measure_sweep(bench: Bench) -> list[Result]:
    args = bench.args
    await busiest_interval(bench)
    samples = [await sweep_round(bench, n) for n in range(1, args.rounds + 1)]
    sweep = Result(
        f"sweep {args.due} due",
        samples,
        TARGET_SWEEP,
        f"WorkItems.sweep end to end, {args.rounds} rounds",
        gate_on="max",
    )
    print(sweep.line(), flush=True)
    # Nothing due: back at T0 (every tier still ahead), the sweep is its SELECT alone.
    bench.clock.now = bench.now
    idle = Result(
        "sweep idle",
        await timed(bench.items.sweep, args.repeat),
        TARGET_SWEEP,
        "nothing due: the SELECT over all items",
    )
    print(idle.line(), flush=True)
    if args.explain or idle.passed is False:
        bench.explain_later.append(("sweep idle", bench.items.sweep))
    if args.explain or sweep.passed is False:
        bench.explain_later.append(("sweep, one item due", lambda: one_due(bench)))
    return [sweep, idle]


async def one_due(bench: Bench) -> Any:
    """A sweep with the next tier of one item due (what each item of a round costs)."""
    capturing, bench.capture.on = bench.capture.on, False  # not this lookup
    async with bench.engine.connect() as connection:
        bench.clock.now = await scalar(connection, NTH_NEXT, bench.clock.now, 0)
        await connection.rollback()
    bench.capture.on = capturing
    return await bench.items.sweep()


async def run(args: argparse.Namespace) -> int:
    server = PostgresServer(durable=not args.fast_pg)
    results: list[Result] = []
    try:
        bench = await prepare(args, server)
        results += await measure_lists(bench)
        results += await measure_sweep(bench)
        print("\nSummary (issue 14 item 10: lists p95 <= 50 ms, sweep <= 1 s)")
        for result in results:
            print(result.line())
        for name, call in bench.explain_later:
            await explain(bench.engine, bench.capture, call, name)
        await bench.engine.dispose()
    finally:
        try:
            server.stop()
        finally:
            server.cleanup()
    failed = [r.name for r in results if r.passed is False]
    print("\nRESULT: " + ("FAIL (" + ", ".join(failed) + ")" if failed else "PASS"))
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--teams", type=int, default=10)
    parser.add_argument("--due", type=int, default=1_000, help="items due in each sweep round")
    parser.add_argument("--rounds", type=int, default=3, help="sweep rounds of --due items")
    parser.add_argument("--repeat", type=int, default=400, help="calls per list measurement")
    parser.add_argument("--counts-repeat", type=int, default=40)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--fast-pg", action="store_true", help="PostgreSQL with fsync=off")
    parser.add_argument(
        "--shared-buffers",
        default="",
        help="PostgreSQL shared_buffers, e.g. 1GB (default: the server's own, 128MB)",
    )
    parser.add_argument("--explain", action="store_true", help="EXPLAIN every measured query")
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
