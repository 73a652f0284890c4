"""Nothing lost, nothing twice: PostgreSQL stopped for 30 s during traffic, and kill -9."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from callcenter.rig.asterisk import AsteriskRig
from callcenter.rig.sipp import AgentPhones, default_caller_numbers, start_calls
from tests.fixtures_pg import PostgresServer
from tests.records.rigcalls import (
    MEMBERS,
    disagreements,
    finished,
    logged_calls,
    records_queue,
    stored_records,
    wait_for,
)
from tests.service_proc import RIG_PBX, ServiceProcess

OUTAGE_SECONDS = 30


def _metric(service: ServiceProcess, name: str) -> float:
    for line in service.scrape_metrics().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return -1.0


async def _records(url: str, callids: set[str], expected: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = await stored_records(url, callids)
        if len(rows) >= expected:
            break
        await asyncio.sleep(0.3)
    return rows


async def test_postgresql_down_for_30_s_during_traffic_loses_no_record(
    rig: AsteriskRig,
    postgres_server: PostgresServer,
    tmp_path: Path,
    agent_phones: Callable[..., AgentPhones],
) -> None:
    url = postgres_server.create_database()
    service = ServiceProcess(tmp_path, database_url=url, log_level="INFO")
    numbers = default_caller_numbers(40)
    with records_queue(rig) as queue:
        agent_phones(len(MEMBERS), first_ext=int(MEMBERS[0]), ring_seconds=0.3)
        service.start()
        try:
            # 40 calls over about 36 s: before, during and after the outage.
            batch = start_calls(
                40,
                dial=queue,
                caller_numbers=numbers,
                rate_per_s=1.1,
                hold_seconds=2.0,
                work_dir=tmp_path / "callers",
            )
            await asyncio.sleep(3)
            postgres_server.stop()
            try:
                wait_for(
                    lambda: _metric(service, "callcenter_call_records_backlog") == 1,
                    15,
                    "records spooled while PostgreSQL is down",
                )
                await asyncio.sleep(OUTAGE_SECONDS - 1)
                spooled = sorted((tmp_path / "var" / "spool").glob("segment-*.jsonl"))
                assert spooled, "no spool segment while the database was down"
            finally:
                postgres_server.start()
            result = batch.wait(60)
            assert result.completed == 40, result.errors
            wanted = set(numbers)
            wait_for(lambda: finished(logged_calls(rig, wanted)), 30, "calls over")
            logged = logged_calls(rig, wanted)
            rows = await _records(url, set(logged), len(logged))
            wait_for(
                lambda: _metric(service, "callcenter_call_records_backlog") == 0,
                15,
                "spool drained",
            )
        finally:
            service.stop()
    assert len(logged) == 40
    assert disagreements(logged, rows) == []
    assert "database back:" in service.log_text()
    assert not list((tmp_path / "var" / "spool").glob("segment-*.jsonl"))


@pytest.mark.parametrize("queue_log", [False, True], ids=["alone", "with_queue_log"])
async def test_kill_9_of_the_service_loses_and_duplicates_nothing(
    rig: AsteriskRig,
    tmp_path: Path,
    agent_phones: Callable[..., AgentPhones],
    queue_log: bool,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'callcenter.db'}"
    pbx = {**RIG_PBX, "queue_log": str(rig.queue_log_path)} if queue_log else RIG_PBX
    service = ServiceProcess(tmp_path, database_url=url, log_level="INFO", pbx=[pbx])
    numbers = default_caller_numbers(30)
    with records_queue(rig) as queue:
        agent_phones(len(MEMBERS), first_ext=int(MEMBERS[0]), ring_seconds=0.3)
        service.start()
        try:
            # Every call joins before the kill (30 at 6/s); with 6 agents and a 4 s queue
            # timeout they end before the kill, while no service runs, and after the restart:
            # answered, abandoned and timed out.
            batch = start_calls(
                30,
                dial=queue,
                caller_numbers=numbers,
                rate_per_s=6,
                hold_seconds=[1.5, 3.0, 9.0] * 10,
                work_dir=tmp_path / "callers",
            )
            await asyncio.sleep(6)
            killed_at = time.time()
            service.kill()
            ended_before_kill = set(re.findall(r"call rig/(\S+) ", service.log_text()))
            service.start()
            result = batch.wait(60)
            assert result.completed == 30, result.errors
            wanted = set(numbers)
            wait_for(lambda: finished(logged_calls(rig, wanted)), 30, "calls over")
            logged = logged_calls(rig, wanted)
            rows = await _records(url, set(logged), len(logged))
        finally:
            service.stop()
    joined = {
        f[1]: float(f[0])
        for f in rig.queue_log_lines()
        if len(f) > 4 and f[4] == "ENTERQUEUE" and f[1] in logged
    }
    assert len(logged) == 30 and max(joined.values()) < killed_at, "a call joined while down"
    by_id: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_id.setdefault(str(row["uniqueid"]), []).append(row)
    assert ended_before_kill, "kill -9 came before any call ended"
    assert sorted(set(logged) - set(by_id)) == [], "calls without a record"
    assert sorted(c for c, found in by_id.items() if len(found) != 1) == [], "stored twice"
    # What the killed process saw end is stored as Asterisk tells it.
    assert (
        disagreements(
            {c: logged[c] for c in ended_before_kill}, [by_id[c][0] for c in ended_before_kill]
        )
        == []
    )
    restarted = {c for c, found in by_id.items() if found[0]["evidence"] == "service_restart"}
    if queue_log:
        # What ended while no process listened is told by the queue_log, as it ended.
        told = {c for c, found in by_id.items() if found[0]["evidence"] == "queue_log"}
        assert told and not restarted, (told, restarted)
        assert disagreements({c: logged[c] for c in told}, [by_id[c][0] for c in told]) == []
        return
    assert restarted, "no call ended while the service was down"
    for callid, found in by_id.items():
        row, call = found[0], logged[callid]
        # Ended while down: answered if it was answered before the kill, else unknown.
        assert row["outcome"] in (call.outcome, "unknown"), (callid, row, call)
        if row["outcome"] == "answered":
            assert row["answered_by_name"] == call.agent, (callid, row, call)
    print(
        f"ended before kill: {len(ended_before_kill)}, closed at restart: {len(restarted)}, "
        f"stored: {len(by_id)}, queue_log: {len(logged)}"
    )


async def test_calls_made_while_the_service_was_stopped_are_recorded_once(
    rig: AsteriskRig,
    tmp_path: Path,
    agent_phones: Callable[..., AgentPhones],
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'callcenter.db'}"
    service = ServiceProcess(
        tmp_path,
        database_url=url,
        log_level="INFO",
        pbx=[{**RIG_PBX, "queue_log": str(rig.queue_log_path)}],
    )
    numbers = default_caller_numbers(24)
    done = "queue_log compared with the records"
    with records_queue(rig) as queue:
        agent_phones(len(MEMBERS), first_ext=int(MEMBERS[0]), ring_seconds=0.3)
        service.start()  # it ran before (schema in place) and is stopped before any call
        service.stop()
        try:
            # 24 calls at 6/s while no service runs: 6 agents held by the 12 s callers, so
            # others time out (4 s) or hang up waiting; the long ones still talk at the start.
            batch = start_calls(
                24,
                dial=queue,
                caller_numbers=numbers,
                rate_per_s=6,
                hold_seconds=[1.5, 3.0, 12.0] * 8,
                work_dir=tmp_path / "callers",
            )
            await asyncio.sleep(8)
            started_at = time.time()
            compared = service.log_text().count(done)
            service.start()
            result = batch.wait(60)
            assert result.completed == 24, result.errors
            wanted = set(numbers)
            wait_for(lambda: finished(logged_calls(rig, wanted)), 30, "calls over")
            logged = logged_calls(rig, wanted)
            wait_for(lambda: service.log_text().count(done) > compared, 30, "queue_log compared")
            rows = await _records(url, set(logged), len(logged))
            # Started again, the service reads the same queue_log: nothing is added twice.
            service.stop()
            compared = service.log_text().count(done)
            service.start()
            wait_for(lambda: service.log_text().count(done) > compared, 30, "compared again")
            await asyncio.sleep(1)
            again = await stored_records(url, set(logged))
        finally:
            service.stop()
    ended_at = {
        f[1]: float(f[0])
        for f in rig.queue_log_lines()
        if len(f) > 4
        and f[1] in logged
        and (f[4] in ("ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY") or f[4].startswith("COMPLETE"))
    }
    before = {c for c, t in ended_at.items() if t < started_at - 1}
    after = {c for c, t in ended_at.items() if t > started_at + 1}
    assert len(logged) == 24 and before and after, (len(logged), before, after)
    assert {logged[c].outcome for c in before} >= {"answered", "abandoned"} or {
        logged[c].outcome for c in before
    } >= {"answered", "timeout"}
    by_id: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_id.setdefault(str(row["uniqueid"]), []).append(row)
    assert sorted(set(logged) - set(by_id)) == [], "calls without a record"
    assert sorted(c for c, found in by_id.items() if len(found) != 1) == [], "stored twice"
    # What ended while no service ran is stored as the queue_log tells it.
    assert disagreements({c: logged[c] for c in before}, [by_id[c][0] for c in before]) == []
    assert {by_id[c][0]["evidence"] for c in before} == {"queue_log"}
    # What was still going on at the start is the live model's, answered ones included.
    for callid in after:
        row, call = by_id[callid][0], logged[callid]
        assert row["evidence"] != "queue_log", (callid, row)
        assert (row["outcome"], row["answered_by_name"]) == (call.outcome, call.agent), callid
    assert len(again) == len(rows)
