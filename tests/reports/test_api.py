"""The reports over HTTP from a real service process: figures, comparison, exports that open,
the scorecard's limits, every bad request a clear 4xx, and the two commands."""

from __future__ import annotations

import asyncio
import csv
import io
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select

from callcenter.store.db import create_engine
from callcenter.store.migrate import upgrade_to_head
from tests.reports.helpers import USERS, add_call, add_survey, add_wrapup, local
from tests.service_proc import ServiceProcess
from tests.supervisor.helpers import Browser, add_users

DAY = "2026-11-02"
ONE_AGENT = "report=custom&figures=answered&agent=1"


async def _seed(database: Path) -> dict[str, int]:
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        await upgrade_to_head(engine)
        async with engine.connect() as conn:
            ids = {
                name: int(i) for name, i in await conn.execute(select(USERS.c.username, USERS.c.id))
            }
        c1, u1 = await add_call(
            engine, queue="sales", joined=local(f"{DAY}T09:00"), outcome="answered",
            wait=10, talk=100, wrapup=20, user=ids["wang"], number="13800000001",
        )  # fmt: skip
        await add_call(
            engine, queue="sales", joined=local(f"{DAY}T09:05"), outcome="answered",
            wait=30, talk=200, user=ids["wang"],
        )  # fmt: skip
        await add_call(
            engine, queue="sales", joined=local(f"{DAY}T09:20"), outcome="abandoned", wait=40
        )
        await add_call(
            engine,
            queue="=cmd|' /C calc'!A0",
            joined=local(f"{DAY}T11:00"),
            outcome="timeout",
            wait=90,
        )
        # The day before, for the comparison.
        await add_call(
            engine,
            queue="sales",
            joined=local("2026-11-01T09:00"),
            outcome="answered",
            wait=5,
            talk=50,
        )
        await add_wrapup(engine, c1, "resolved", "consultation", local(f"{DAY}T09:03"))
        await add_survey(engine, u1, "sales", 5, local(f"{DAY}T09:02"))
        return ids
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServiceProcess, dict[str, int]]]:
    workdir = tmp_path_factory.mktemp("reports-api")
    process = ServiceProcess(
        workdir,
        pbx=[],
        log_level="INFO",
        extra_toml="[reports]\nrefresh_seconds = 0.2\n",
    )
    add_users(
        process.config,
        ("boss", "supervisor"),
        ("wang", "agent", "PJSIP/1001"),
        ("li", "agent", "PJSIP/1002"),
    )
    ids = asyncio.run(_seed(workdir / "callcenter.db"))
    process.start()
    try:
        yield process, ids
    finally:
        process.stop()


def _raw(browser: Browser, path: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with browser.opener.open(browser.base_url + path, timeout=15) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _run(browser: Browser, query: str) -> tuple[int, Any]:
    return browser.call("GET", f"/api/reports/run?{query}")


def _wait_for_rollups(process: ServiceProcess, boss: Browser) -> None:
    def ready() -> bool:
        status, body = _run(boss, f"report=queue-summary&start={DAY}&end={DAY}")
        return status == 200 and body["totals"].get("answered") == 2

    process.wait_until(ready, 20, "roll-ups of the seeded calls")


def test_queue_summary_with_comparison(service: tuple[ServiceProcess, dict[str, int]]) -> None:
    process, _ = service
    boss = Browser(process.base_url).login("boss")
    _wait_for_rollups(process, boss)
    status, body = _run(boss, f"report=queue-summary&start={DAY}&end={DAY}&compare=true")
    assert status == 200, body
    rows = {r["key"]: r for r in body["rows"]}
    sales = rows["sales"]["values"]
    assert sales["offered"] == 3
    assert sales["answered"] == 2
    assert sales["answer_rate"] == pytest.approx(2 / 3)
    assert sales["service_level"] == pytest.approx(1 / 2)
    assert "service_level" in rows["sales"]["off_target"]
    assert body["previous_start"] == body["previous_end"] == "2026-11-01"
    assert body["previous"]["answered"] == 1
    figures = {f["name"]: f for f in body["figures"]}
    assert figures["answer_rate"]["label_zh"] == "接通率"
    assert figures["abandon_rate"]["target"] == pytest.approx(0.05)


def test_exports_open_and_never_start_a_formula(
    service: tuple[ServiceProcess, dict[str, int]],
) -> None:
    process, _ = service
    boss = Browser(process.base_url).login("boss")
    _wait_for_rollups(process, boss)
    status, headers, body = _raw(
        boss, f"/api/reports/export?report=queue-summary&start={DAY}&end={DAY}&format=csv"
    )
    assert status == 200
    assert headers["Content-Type"].startswith("text/csv")
    assert body.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert table[0][:4] == ["期间", "维度", "呼入量", "接通量"]
    keys = [row[1] for row in table[1:]]
    assert "'=cmd|' /C calc'!A0" in keys
    assert table[-1][0] == "合计"
    status, headers, body = _raw(
        boss, f"/api/reports/export?report=agent-summary&start={DAY}&end={DAY}&format=xlsx&lang=en"
    )
    assert status == 200
    assert "spreadsheetml" in headers["Content-Type"]
    sheet = openpyxl.load_workbook(io.BytesIO(body)).active
    assert sheet is not None
    assert [c.value for c in sheet[1]][:3] == ["Period", "Key", "Answered"]
    assert [c.value for c in sheet[2]][1:3] == ["wang", 2]


@pytest.mark.parametrize(
    ("query", "error"),
    [
        (f"start={DAY}&end=2026-11-01", "invalid-query"),
        (f"report=custom&start={DAY}&end={DAY}", "invalid-query"),
        (f"report=custom&figures=offered,bogus&start={DAY}&end={DAY}", "invalid-query"),
        (f"report=nope&start={DAY}&end={DAY}", "invalid-query"),
        (f"start=2000-01-01&end={DAY}", "invalid-query"),
        (f"start={DAY}&end={DAY}&interval=fortnight", "invalid-query"),
        (f"start={DAY}&end={DAY}&team=0", "invalid-query"),
        (f"report=agent-summary&start={DAY}&end={DAY}&interval=hour", "report-too-fine"),
        ("report=service-level&start=2026-01-01&end=2026-11-30", "report-too-fine"),
        (f"start={DAY}", "invalid-query"),
        (
            f"report=custom&figures=answered&agent=1&interval=hour&start={DAY}&end={DAY}",
            "report-too-fine",
        ),
        (
            f"report=custom&figures=answered&agent=1&dimension=hour&start={DAY}&end={DAY}",
            "report-too-fine",
        ),
        ("report=complaints&start=9999-12-30&end=9999-12-31", "invalid-query"),
        ("start=0001-01-01&end=0001-01-02&compare=true", "invalid-query"),
    ],
)
def test_bad_requests_are_400s(
    service: tuple[ServiceProcess, dict[str, int]], query: str, error: str
) -> None:
    process, _ = service
    boss = Browser(process.base_url).login("boss")
    status, body = _run(boss, query)
    assert status == 400, body
    assert body["error"] == error


def test_who_may_read_what(service: tuple[ServiceProcess, dict[str, int]]) -> None:
    process, ids = service
    anonymous = Browser(process.base_url)
    assert _run(anonymous, f"start={DAY}&end={DAY}")[0] == 401
    wang = Browser(process.base_url).login("wang")
    assert _run(wang, f"start={DAY}&end={DAY}")[0] == 403
    status, card = wang.call("GET", "/api/reports/scorecard?year=2026")
    assert status == 200, card
    assert card["name"] == "wang"
    november = {m["month"]: m["values"] for m in card["months"]}["2026-11-01"]
    assert november["answered"] == 2
    status, body = wang.call("GET", f"/api/reports/scorecard?year=2026&agent={ids['li']}")
    assert (status, body["error"]) == (403, "not-your-scorecard")
    boss = Browser(process.base_url).login("boss")
    assert boss.call("GET", f"/api/reports/scorecard?year=2026&agent={ids['li']}")[0] == 200
    status, body = boss.call("GET", "/api/reports/scorecard?year=2026&agent=999999")
    assert (status, body["error"]) == (404, "no-such-agent")
    status, body = boss.call("GET", "/api/reports/episodes?start=2026-01-01&end=9999-12-31")
    assert (status, body["error"]) == (400, "invalid-query")
    status, body = boss.call("GET", f"/api/reports/episodes?start={DAY}&end={DAY}")
    assert (status, body) == (200, {"episodes": []})
    status, catalogue = boss.call("GET", "/api/reports/catalogue")
    assert status == 200
    assert len(catalogue["reports"]) >= 10
    assert catalogue["timezone"] == "Asia/Shanghai"
    assert {a["name"] for a in catalogue["agents"]} >= {"wang", "li"}


def test_rebuild_and_write_commands(
    service: tuple[ServiceProcess, dict[str, int]], tmp_path: Path
) -> None:
    process, _ = service

    def cli(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "callcenter", "reports", *args, "--config", str(process.config)],
            capture_output=True, text=True, cwd=process.workdir, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert "rebuilt the report roll-ups: 5 calls over 2 days" in cli("rebuild")
    out = cli("write", "--kind", "daily", "--start", DAY, "--out", str(tmp_path))
    assert "daily-2026-11-02.xlsx" in out
    book = openpyxl.load_workbook(tmp_path / "daily-2026-11-02.xlsx")
    assert "队列汇总" in book.sheetnames
    # The agents who answered calls that day owed a work log and wrote none: 0 % on time,
    # as the service's own agent summary says (the command reads the rota and the logs too).
    agents = [[cell.value for cell in row] for row in book["坐席汇总"].iter_rows()]
    column = agents[0].index("工作日志按时提交率")
    assert {row[column] for row in agents[1:] if row[0] != "合计"} == {0}
    bad = subprocess.run(
        [sys.executable, "-m", "callcenter", "reports", "write", "--kind", "weekly",
         "--start", "2026-11-03", "--out", str(tmp_path), "--config", str(process.config)],
        capture_output=True, text=True, cwd=process.workdir, timeout=120, check=False,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "Monday" in bad.stderr
