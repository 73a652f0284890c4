"""The stored call records agree with the rig Asterisk's own queue_log (issue 5, item 5)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from callcenter.rig.asterisk import AsteriskRig
from callcenter.rig.sipp import AgentPhone, default_caller_numbers, start_calls
from callcenter.settings import Settings
from tests.records.rigcalls import (
    MEMBERS,
    SILENT_QUEUE,
    LoggedCall,
    disagreements,
    finished,
    logged_calls,
    records_queue,
    stored_records,
    wait_for,
)
from tests.service_proc import ServiceProcess

CALLS = 44
# Per caller: seconds on the line after the hotline answers (wait + talk). 1 s callers mostly
# hang up while waiting; 12 s callers outlast the 4 s queue timeout when nobody is free.
HOLDS = (4.0, 1.0, 3.0, 7.0)
SILENT_HOLDS = (8.0, 2.0, 8.0, 2.0, 8.0, 2.0)


async def test_records_agree_with_the_queue_log(
    rig: AsteriskRig,
    database_url: str,
    tmp_path: Path,
    agent_phones: Callable[..., object],
) -> None:
    service = ServiceProcess(tmp_path, database_url=database_url, log_level="INFO")
    numbers = default_caller_numbers(CALLS)
    silent_numbers = default_caller_numbers(len(SILENT_HOLDS))
    with records_queue(rig) as queue:
        # One phone never answers: its calls ring it 1 s, then go on to another agent.
        silent = AgentPhone(MEMBERS[0], answer=False, work_dir=tmp_path / "silent")
        silent.start()
        try:
            agent_phones(len(MEMBERS) - 1, first_ext=int(MEMBERS[1]), ring_seconds=0.3)
            service.start()
            batch = start_calls(
                CALLS,
                dial=queue,
                caller_numbers=numbers,
                rate_per_s=2,
                hold_seconds=[HOLDS[i % len(HOLDS)] for i in range(CALLS)],
                work_dir=tmp_path / "callers",
            )
            # Callers of the silent queue hang up while it rings or time out, for certain.
            silent_batch = start_calls(
                len(SILENT_HOLDS),
                dial=SILENT_QUEUE,
                caller_numbers=silent_numbers,
                rate_per_s=2,
                hold_seconds=SILENT_HOLDS,
                work_dir=tmp_path / "silent-callers",
            )
            result = batch.wait(90)
            assert result.completed == CALLS, result.errors
            result = silent_batch.wait(30)
            assert result.completed == len(SILENT_HOLDS), result.errors
            wanted = set(numbers) | set(silent_numbers)
            wait_for(
                lambda: (
                    len(logged_calls(rig, wanted)) == len(wanted)
                    and finished(logged_calls(rig, wanted))
                ),
                30,
                "every call in the queue_log",
            )
            logged = logged_calls(rig, wanted)
            rows: list[dict[str, object]] = []
            for _ in range(100):
                rows = await stored_records(database_url, set(logged))
                if len(rows) >= len(wanted):
                    break
                await asyncio.sleep(0.2)
            # The reports (issue 17) count the same calls as the queue_log, queue by queue.
            expected = _queue_log_counts(logged)
            wait_for(lambda: _report_counts(service) == expected, 30, "the report's counts")
        finally:
            silent.stop()
            service.stop()
    fates = Counter(call.outcome for call in logged.values())
    print(
        "queue_log fates:",
        dict(fates),
        "ring-no-answer then answered:",
        sum(1 for c in logged.values() if c.outcome == "answered" and c.ring_no_answers),
    )
    assert disagreements(logged, rows) == [], service.log_tail()
    assert len(logged) == CALLS + len(SILENT_HOLDS)
    assert fates["answered"] >= 10 and fates["abandoned"] >= 3 and fates["timeout"] >= 3, fates
    assert any(c.outcome == "answered" and c.ring_no_answers for c in logged.values()), (
        "no call rang the silent phone and was then answered by another agent"
    )


def _queue_log_counts(logged: dict[str, LoggedCall]) -> dict[str, tuple[int, int, int]]:
    """(answered, abandoned with short ones, timeouts) per queue, from the queue_log."""
    counts: dict[str, Counter[str | None]] = {}
    for call in logged.values():
        counts.setdefault(call.queue, Counter())[call.outcome] += 1
    return {q: (c["answered"], c["abandoned"], c["timeout"]) for q, c in counts.items()}


def _report_counts(service: ServiceProcess) -> dict[str, tuple[int, int, int]]:
    today = datetime.now(ZoneInfo(Settings().ivr.timezone)).date()
    status, body = service.get_json(
        "/api/reports/run?report=custom&figures=answered,abandoned,short_abandons,timeouts"
        f"&dimension=queue&start={today - timedelta(days=1)}&end={today + timedelta(days=1)}"
    )
    assert status == 200, body
    return {
        row["key"]: (
            int(row["values"]["answered"]),
            int(row["values"]["abandoned"] + row["values"]["short_abandons"]),
            int(row["values"]["timeouts"]),
        )
        for row in body["rows"]
    }
