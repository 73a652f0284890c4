"""FastAGI route latency: the lookup route over real sockets against a real customer table.

Fills a SQLite (or --database-url) database with N customers, call records (one customer
in ten has an answered call: a sticky agent) and complaint wrap-ups with an open follow-up
(one in a hundred), serves the IVR routes on a local port and runs M lookups at concurrency
C the way res_agi does (env block, then one reply per SET VARIABLE). The directory is built
as the service builds it (`IvrRoom`): the customer directory room's in-memory directory, loaded
from the database, with the default settings' region, history size, calendar and overdue
window, and the collector settled as `Service.start()` settles it. Prints p50/p95/p99 from
connect to close, how many lookups did not find their customer (a default answer: over the
route budget) and how many saw a sticky agent and an open complaint, with how many the data
holds. Client and server share one process and one event loop (2 cores here).

    .venv/bin/python bench/ivr_fastagi.py --customers 10000 --lookups 2000 --concurrency 20
    .venv/bin/python bench/ivr_fastagi.py --directory sql   # without the in-memory index
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.customers.directory import CustomerDirectory as ScreenPopDirectory
from callcenter.customers.followups import local_date
from callcenter.customers.models import CustomerRow
from callcenter.ivr.agi import FastAgiServer
from callcenter.ivr.directory import (
    CustomerDirectory,
    IndexedCustomerDirectory,
    SqlCustomerDirectory,
)
from callcenter.ivr.routes import IvrRoutes
from callcenter.loopwatch import settle_collector
from callcenter.records.models import CallRecord, CallWrapup
from callcenter.settings import IvrSettings, ScreenPopSettings
from callcenter.store.db import create_engine
from callcenter.store.migrate import upgrade_to_head
from tests.ivr.agi_client import call_route


async def fill(url: str, customers: int, zone: ZoneInfo) -> None:
    engine = create_engine(url)
    await upgrade_to_head(engine)
    now = datetime.now(UTC)
    today = local_date(now, zone)
    async with AsyncSession(engine) as session, session.begin():
        rows = [
            CustomerRow(
                name=f"客户{i}",
                phones=[f"+86139{i:08d}"],
                account_number=f"{8800000 + i}",
                vip_level=i % 4,
                language="zh",
                tags=[],
                notes="",
                created_at=now,
                updated_at=now,
            )
            for i in range(customers)
        ]
        session.add_all(rows)
        await session.flush()
        for i in range(0, customers, 10):
            # customer_id as the records writer fills it (the SQL directory reads it).
            call = CallRecord(
                pbx="rig",
                uniqueid=f"1.{i}",
                queue="support",
                caller_number=f"139{i:08d}",
                customer_id=rows[i].id,
                joined_at=now,
                outcome="answered",
                agents_rung=["PJSIP/1001"],
                ring_no_answer_count=0,
                answered_by="PJSIP/1001",
                answered_by_name="Agent 1001",
                ivr_data={},
            )
            session.add(call)
            if i % 100 == 0:
                await session.flush()
                session.add(
                    CallWrapup(
                        call_id=call.id,
                        disposition="complaint-logged",
                        category="complaint",
                        notes="",
                        follow_up_due=today + timedelta(days=3),
                        agent_interface="PJSIP/1001",
                        username="bench",
                        submitted_at=now,
                    )
                )
    await engine.dispose()


async def run(args: argparse.Namespace) -> None:
    url = args.database_url or f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
    settings = IvrSettings(route_timeout_ms=args.budget_ms)
    pop = ScreenPopSettings()
    zone = ZoneInfo(settings.timezone)
    await fill(url, args.customers, zone)
    engine = create_engine(url)
    directory: CustomerDirectory
    # As CustomerDirectoryRoom and IvrRoom build them.
    if args.directory == "index":
        customers = ScreenPopDirectory(
            engine,
            pop.default_region,
            pop.history_size,
            follow_up_overdue_days=pop.follow_up_overdue_days,
            zone=zone,
        )
        await customers.load()
        directory = IndexedCustomerDirectory(customers)
    else:
        directory = SqlCustomerDirectory(
            engine, zone=zone, follow_up_overdue_days=pop.follow_up_overdue_days
        )
    routes = IvrRoutes(settings, engine, directory, ["rig"])
    server = FastAgiServer("127.0.0.1", 0, routes.handlers())
    await server.start()
    if args.settle:
        settle_collector()  # as Service.start() does once everything is loaded
    latencies: list[float] = []
    defaults = sticky = complaints = expected_sticky = expected_complaints = 0
    semaphore = asyncio.Semaphore(args.concurrency)

    async def one(i: int) -> None:
        nonlocal defaults, sticky, complaints, expected_sticky, expected_complaints
        customer = (i * 7919) % args.customers
        number = f"139{customer:08d}"
        expected_sticky += customer % 10 == 0
        expected_complaints += customer % 100 == 0
        async with semaphore:
            started = time.perf_counter()
            call = await call_route(server.bound_port, "lookup", ["rig", number, "", ""])
            latencies.append(time.perf_counter() - started)
        if call.variables.get("IVR_LOOKUP") != "known":
            defaults += 1
        sticky += call.variables.get("CC_STICKY_AGENT") == "PJSIP/1001"
        complaints += call.variables.get("CC_COMPLAINT") == "1"

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(args.lookups)))
    wall = time.perf_counter() - started
    await server.stop()
    await engine.dispose()
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"lookups={args.lookups} customers={args.customers} concurrency={args.concurrency} "
        f"budget={args.budget_ms} ms db={url.split(':', 1)[0]} directory={args.directory} "
        f"settled-gc={args.settle}"
    )
    print(
        f"p50={cuts[49] * 1000:.1f} ms p95={cuts[94] * 1000:.1f} ms "
        f"p99={cuts[98] * 1000:.1f} ms max={max(latencies) * 1000:.1f} ms "
        f"rate={args.lookups / wall:.0f}/s not-known={defaults}"
    )
    print(
        f"sticky-agent={sticky}/{expected_sticky} open-complaint={complaints}/{expected_complaints}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--budget-ms", type=int, default=200)
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--directory",
        choices=["index", "sql"],
        default="index",
        help="screen-pop's in-memory index (as in the service) or SQL only",
    )
    parser.add_argument(
        "--no-settle",
        dest="settle",
        action="store_false",
        help="keep the collector's default thresholds (the service freezes "
        "what it loaded and raises them: callcenter.loopwatch)",
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
