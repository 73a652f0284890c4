"""FastAGI route latency: the lookup route over real sockets against a real customer table.

Fills a SQLite (or --database-url) database with N customers and call records, serves the
IVR routes on a local port and runs M lookups at concurrency C the way res_agi does (env
block, then one reply per SET VARIABLE). Prints p50/p95/p99 from connect to close and how
many lookups fell back to the default because they exceeded the route budget.

    .venv/bin/python bench/ivr_fastagi.py --customers 10000 --lookups 2000 --concurrency 20
    .venv/bin/python bench/ivr_fastagi.py --directory sql   # without the screen-pop's index
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.customers.directory import CustomerDirectory as ScreenPopDirectory
from callcenter.customers.models import CustomerRow
from callcenter.ivr.agi import FastAgiServer
from callcenter.ivr.directory import (
    CustomerDirectory,
    IndexedCustomerDirectory,
    SqlCustomerDirectory,
)
from callcenter.ivr.routes import IvrRoutes
from callcenter.settings import IvrSettings
from callcenter.store.db import create_engine
from callcenter.store.migrate import upgrade_to_head
from callcenter.store.models import CallRecord
from tests.ivr.agi_client import call_route


async def fill(url: str, customers: int) -> None:
    engine = create_engine(url)
    await upgrade_to_head(engine)
    now = datetime.now(UTC)
    async with AsyncSession(engine) as session, session.begin():
        for i in range(customers):
            session.add(CustomerRow(name=f"客户{i}", phones=[f"+86139{i:08d}"],
                                    account_number=f"{8800000 + i}", vip_level=i % 4,
                                    language="zh", tags=[], notes="", created_at=now,
                                    updated_at=now))
        for i in range(0, customers, 10):
            session.add(CallRecord(pbx="rig", uniqueid=f"1.{i}", queue="support",
                                   caller_number=f"139{i:08d}", joined_at=now,
                                   outcome="answered", agents_rung=["PJSIP/1001"],
                                   ring_no_answer_count=0, answered_by="PJSIP/1001",
                                   ivr_data={}))
    await engine.dispose()


async def run(args: argparse.Namespace) -> None:
    url = args.database_url or f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
    await fill(url, args.customers)
    engine = create_engine(url)
    settings = IvrSettings(route_timeout_ms=args.budget_ms)
    directory: CustomerDirectory
    if args.directory == "index":
        customers = ScreenPopDirectory(engine, "CN", 5)
        await customers.load()
        directory = IndexedCustomerDirectory(customers, engine)
    else:
        directory = SqlCustomerDirectory(engine)
    routes = IvrRoutes(settings, engine, directory, ["rig"])
    server = FastAgiServer("127.0.0.1", 0, routes.handlers())
    await server.start()
    latencies: list[float] = []
    defaults = 0
    semaphore = asyncio.Semaphore(args.concurrency)

    async def one(i: int) -> None:
        nonlocal defaults
        number = f"139{(i * 7919) % args.customers:08d}"
        async with semaphore:
            started = time.perf_counter()
            call = await call_route(server.bound_port, "lookup", ["rig", number, "", ""])
            latencies.append(time.perf_counter() - started)
        if call.variables.get("IVR_LOOKUP") != "known":
            defaults += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(args.lookups)))
    wall = time.perf_counter() - started
    await server.stop()
    await engine.dispose()
    cuts = statistics.quantiles(latencies, n=100)
    print(f"lookups={args.lookups} customers={args.customers} concurrency={args.concurrency} "
          f"budget={args.budget_ms} ms db={url.split(':', 1)[0]} directory={args.directory}")
    print(f"p50={cuts[49] * 1000:.1f} ms p95={cuts[94] * 1000:.1f} ms "
          f"p99={cuts[98] * 1000:.1f} ms max={max(latencies) * 1000:.1f} ms "
          f"rate={args.lookups / wall:.0f}/s not-known={defaults}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--budget-ms", type=int, default=200)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--directory", choices=["index", "sql"], default="index",
                        help="screen-pop's in-memory index (as in the service) or SQL only")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
