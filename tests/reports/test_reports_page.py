"""End to end in headless Chromium: the reports page and the agent's scorecard (issue 17).

A real `callcenter serve` (SQLite, no PBX) with call records written into its database the
way the records room writes them, a few days of them; the reports room's roll-ups follow
within its refresh period (0.5 s here). A supervisor runs the queue summary and sees the
figures computed by hand, the chart drawn, the off-target marks in words, the previous period
and the change; the CSV and XLSX exports are downloaded and read; the routing episodes tab
is reached from the keyboard and shows a surge with its summary (expected to fail until
GET /api/reports/episodes stops answering 500 for a period that holds an episode). An agent
sees their own scorecard against the team, is refused another agent's, and prints the
monthly appraisal alone. Both pages switch to English.

Set CALLCENTER_SHOTS to a folder to keep screenshots of both pages in both languages.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import create_async_engine

from callcenter.routing.models import RoutingEpisode
from tests.e2e.pages import PAGE_PROBLEMS, chromium, log_in, shoot
from tests.reports.helpers import USERS as USERS_TABLE
from tests.reports.helpers import add_call, add_survey, local
from tests.service_proc import ServiceProcess, UserSpec
from tests.supervisor.helpers import PASSWORD
from tests.supervisor.helpers import Browser as Client

USERS = [
    ("lead", "supervisor", "班长老陈"),
    ("ann", "agent", "坐席安"),
    ("bob", "agent", "坐席宝"),
]
TIMEOUT = 15_000
# The period the tests report on (Monday to Wednesday), and the day before it: the previous
# period of three days (27 February to 1 March) holds one call.
START, END = "2026-03-02", "2026-03-04"
MARCH = "2026-03-01"
EPISODES: Table = RoutingEpisode.__table__  # type: ignore[assignment]


async def seed(database_url: str) -> None:
    """Calls of queues sales and support answered by Ann and Bob, surveys, one surge."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            users = dict(
                (await conn.execute(select(USERS_TABLE.c.username, USERS_TABLE.c.id))).all()
            )
        ann, bob = int(users["ann"]), int(users["bob"])

        async def answered(
            queue: str, at: str, wait: float, talk: float, user: int, number: str
        ) -> str:
            _, uid = await add_call(
                engine, queue=queue, joined=local(at), outcome="answered", wait=wait,
                talk=talk, wrapup=10, user=user, number=number,
            )  # fmt: skip
            return uid

        # sales, 2 to 4 March: 4 answered (waits 10, 30, 5, 15), 2 abandoned.
        first = await answered("sales", "2026-03-02T09:00", 10, 100, ann, "13800000001")
        second = await answered("sales", "2026-03-02T09:10", 30, 200, bob, "13800000002")
        third = await answered("sales", "2026-03-03T10:00", 5, 60, ann, "13800000003")
        await answered("sales", "2026-03-04T11:00", 15, 90, bob, "13800000004")
        for at, wait in (("2026-03-02T09:20", 40), ("2026-03-03T10:05", 50)):
            await add_call(engine, queue="sales", joined=local(at), outcome="abandoned", wait=wait)
        # support: 1 answered, 1 timed out.
        await answered("support", "2026-03-03T14:00", 8, 120, ann, "13800000005")
        await add_call(
            engine, queue="support", joined=local("2026-03-04T15:00"), outcome="timeout", wait=300
        )
        # The previous period: one call on 1 March.
        await answered("sales", "2026-03-01T16:00", 12, 80, ann, "13800000006")
        # Surveys: Ann's two satisfied, Bob's not.
        await add_survey(engine, first, "sales", 5, local("2026-03-02T09:03"))
        await add_survey(engine, second, "sales", 3, local("2026-03-02T09:15"))
        await add_survey(engine, third, "sales", 4, local("2026-03-03T10:03"))
        started, ended = local("2026-03-03T10:01"), local("2026-03-03T10:19")
        levels = [
            {"at": started.isoformat(), "level": "warning"},
            {"at": local("2026-03-03T10:04").isoformat(), "level": "surge"},
            {"at": local("2026-03-03T10:12").isoformat(), "level": "recovery"},
        ]
        async with engine.begin() as conn:
            await conn.execute(
                insert(EPISODES).values(
                    pbx="pbx1", queue="sales", started_at=started, ended_at=ended,
                    levels=levels, peak_callers_waiting=7, peak_longest_wait=95.0,
                    calls_affected=4,
                    summary={
                        "started_at": started.isoformat(), "ended_at": ended.isoformat(),
                        "duration_seconds": 1080.0, "levels": levels,
                        "peak_callers_waiting": 7, "peak_longest_wait": 95.0,
                        "calls_affected": 4,
                    },
                )
            )  # fmt: skip
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as instance:
        yield instance


@pytest.fixture(autouse=True)
def no_page_problems() -> Iterator[None]:
    PAGE_PROBLEMS.clear()
    yield
    assert PAGE_PROBLEMS == []


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    workdir = tmp_path_factory.mktemp("reports-page")
    process = ServiceProcess(
        workdir,
        pbx=[],
        log_level="INFO",
        extra_toml="[reports]\nrefresh_seconds = 0.5\n",
    )
    process.add_users(PASSWORD, [UserSpec(username, role, name) for username, role, name in USERS])
    # Seeded before the start (the browser's loop runs in this thread once it is open); the
    # triggers queue the days, the reports room rolls them up once started.
    asyncio.run(seed(f"sqlite+aiosqlite:///{workdir / 'callcenter.db'}"))
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def ids(service: ServiceProcess) -> dict[str, int]:
    """Users by name, and team north (queues sales and support: Ann and Bob); once the calls
    seeded are rolled up."""
    lead = Client(service.base_url).login("lead")
    status, body = lead.call("GET", "/api/roster")
    assert status == 200, body
    found = {a["username"]: int(a["user_id"]) for a in body["agents"]}
    status, body = lead.call(
        "POST",
        "/api/teams",
        {
            "name": "north",
            "label_zh": "北区",
            "label_en": "North",
            "queues": ["sales", "support"],
            "members": [found["ann"], found["bob"]],
        },
    )
    assert status in (200, 201), body

    def rolled_up() -> bool:
        status, body = lead.call(
            "GET", f"/api/reports/run?report=queue-summary&start=2026-03-01&end={END}"
        )
        assert status == 200, body
        return any(r["key"] == "sales" and r["values"]["answered"] == 5 for r in body["rows"])

    service.wait_until(rolled_up, 20, "the calls rolled up")
    return found


def watch_console(page: Page, where: str) -> None:
    """Script errors written to the console count too (a refused API call is not one: the
    page shows it)."""
    page.on(
        "console",
        lambda message: (
            PAGE_PROBLEMS.append(f"{where}: {message.text}")
            if message.type == "error" and "Failed to load resource" not in message.text
            else None
        ),
    )


def open_page(browser: Browser, service: ServiceProcess, path: str, user: str, view: str) -> Page:
    page = log_in(browser, service, path, user)
    watch_console(page, path)
    expect(page.locator(view)).to_be_visible(timeout=TIMEOUT)
    return page


def canvas_painted(page: Page, selector: str) -> int:
    """How many pixels of the canvas are painted (not transparent)."""
    return int(
        page.evaluate(
            """(selector) => {
                const canvas = document.querySelector(selector);
                const data = canvas.getContext("2d")
                    .getImageData(0, 0, canvas.width, canvas.height).data;
                let painted = 0;
                for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted += 1;
                return painted;
            }""",
            selector,
        )
    )


def cell(row: str, figure: str) -> str:
    return f'{row} td[data-figure="{figure}"]'


def test_a_supervisor_runs_the_queue_summary_and_exports_it(
    service: ServiceProcess, browser: Browser, ids: dict[str, int], tmp_path: Path
) -> None:
    page = open_page(browser, service, "/reports", "lead", "#reports-view")
    # The default: the first standard report (queue summary) over this month so far.
    expect(page.locator("#f-report")).to_have_value("queue-summary")
    today = date.today()
    expect(page.locator("#f-start")).to_have_value(today.replace(day=1).isoformat())
    expect(page.locator("#f-dimension")).to_have_value("queue")
    expect(page.locator("#f-interval")).to_have_value("total")

    page.fill("#f-start", START)
    page.fill("#f-end", END)
    page.check("#f-compare")
    page.click("#run")
    sales = '#report-table tbody tr[data-key="sales"]'
    expect(page.locator(sales)).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#report-status")).to_contain_text("队列汇总")
    expect(page.locator(f"{sales} th")).to_have_text("sales")
    # sales: 6 offered (4 answered, 2 abandoned); 3 of 4 answered within 20 s.
    expect(page.locator(cell(sales, "offered"))).to_have_text("6")
    expect(page.locator(cell(sales, "answered"))).to_have_text("4")
    expect(page.locator(cell(sales, "answer_rate"))).to_have_text("66.7 %")
    expect(page.locator(cell(sales, "asa"))).to_have_text("0:15")
    # Off target: marked in words (and a mark), not by colour alone.
    level = page.locator(cell(sales, "service_level"))
    expect(level).to_contain_text("75.0 %")
    expect(level).to_contain_text("▼")
    expect(level).to_contain_text("低于目标")
    expect(level).to_have_class("num off")
    expect(page.locator(cell(sales, "abandon_rate"))).to_contain_text("高于目标上限")
    expect(page.locator(cell(sales, "answer_rate"))).not_to_have_class("num off")
    expect(page.locator('#report-table thead th[data-figure="service_level"]')).to_contain_text(
        "目标 ≥ 80.0 %"
    )
    support = '#report-table tbody tr[data-key="support"]'
    expect(page.locator(cell(support, "answered"))).to_have_text("1")
    # The totals, the previous period (1 March: one call) and the change.
    expect(page.locator(cell("#report-table tr.totals", "answered"))).to_have_text("5")
    expect(page.locator("#report-table tr.previous th")).to_contain_text("上期合计")
    expect(page.locator("#report-table tr.previous th .range")).to_have_text(
        "2026-02-27 至 2026-03-01"
    )
    expect(page.locator(cell("#report-table tr.previous", "answered"))).to_have_text("1")
    expect(page.locator(cell("#report-table tr.change", "answered"))).to_have_text("+4 (+400.0 %)")
    # The address keeps the report: a reload or a link shows it again.
    assert f"start={START}" in page.url and "compare=true" in page.url

    # A bar chart of the first figure by queue, drawn.
    expect(page.locator("#chart-title")).to_have_text("呼入量，按队列")  # noqa: RUF001
    assert canvas_painted(page, "#chart") > 500
    # Another figure charted: still drawn.
    page.select_option("#chart-figure", "answer_rate")
    expect(page.locator("#chart-title")).to_have_text("接通率，按队列")  # noqa: RUF001
    assert canvas_painted(page, "#chart") > 500
    shoot(page, "reports-queue-summary")

    # XLSX: the same table, typed (answered as a number, the rate as a fraction).
    with page.expect_download() as info:
        page.click("#export-xlsx")
    download = info.value
    assert download.suggested_filename == f"queue-summary-{START}-{END}.xlsx"
    xlsx = tmp_path / "report.xlsx"
    download.save_as(xlsx)
    sheet = openpyxl.load_workbook(xlsx).active
    assert sheet is not None
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][:4] == ["期间", "维度", "呼入量", "接通量"]
    by_key = {r[1]: r for r in rows[1:]}
    assert by_key["sales"][3] == 4
    assert by_key["sales"][4] == pytest.approx(4 / 6)
    assert rows[-1][0] == "合计" and rows[-1][3] == 5

    # CSV: UTF-8 with its BOM (Excel opens the Chinese right).
    with page.expect_download() as info:
        page.click("#export-csv")
    csv = tmp_path / "report.csv"
    info.value.save_as(csv)
    raw = csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("期间,维度,呼入量,接通量")
    assert any(line.startswith(",sales,6,4,") for line in lines)

    # A period that cannot be read that finely: the server's refusal is shown.
    page.select_option("#f-dimension", "agent")
    page.select_option("#f-interval", "hour")
    page.click("#run")
    expect(page.locator("#report-error")).to_contain_text("所选时间粒度太细", timeout=TIMEOUT)
    expect(page.locator("#report-error")).to_have_attribute("role", "alert")

    # A line chart over days, one line per queue (custom figures; the figure charted stays).
    page.select_option("#f-report", "custom")
    expect(page.locator("#f-figures")).to_be_visible()
    page.uncheck("#fig-offered")
    page.select_option("#f-dimension", "queue")
    page.select_option("#f-interval", "day")
    page.click("#run")
    expect(page.locator("#report-error")).to_be_empty(timeout=TIMEOUT)
    day_row = '#report-table tbody tr[data-key="sales"][data-period="2026-03-02"]'
    expect(page.locator(cell(day_row, "answered"))).to_have_text("2", timeout=TIMEOUT)
    expect(page.locator("#report-table thead th[data-figure=offered]")).to_have_count(0)
    expect(page.locator("#chart-title")).to_have_text("接通率，按天")  # noqa: RUF001
    assert canvas_painted(page, "#chart") > 500
    shoot(page, "reports-custom-by-day")

    # The routing episodes, from the keyboard: the tab list moves with the arrow keys. None
    # in February.
    page.focus("#tab-report")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#panel-episodes")).to_be_visible()
    expect(page.locator("#tab-episodes")).to_be_focused()
    expect(page.locator("#panel-report")).to_be_hidden()
    page.fill("#e-start", "2026-02-01")
    page.fill("#e-end", "2026-02-28")
    page.click("#episodes-form button[type=submit]")
    expect(page.locator("#episodes-status")).to_have_text("共 0 个路由事件", timeout=TIMEOUT)
    expect(page.locator("#episodes-empty")).to_be_visible()
    expect(page.locator("#episodes-table")).to_be_hidden()
    expect(page.locator("#episodes-error")).to_be_empty()


def test_the_episodes_tab_shows_a_surge_with_its_summary(
    service: ServiceProcess, browser: Browser, ids: dict[str, int]
) -> None:
    page = open_page(browser, service, "/reports?tab=episodes", "lead", "#panel-episodes")
    page.fill("#e-start", START)
    page.fill("#e-end", END)
    page.click("#episodes-form button[type=submit]")
    expect(page.locator("#episodes-error")).to_be_empty(timeout=TIMEOUT)
    episode = page.locator("#episodes-table tbody tr").first
    expect(episode.locator("th")).to_have_text("sales", timeout=TIMEOUT)
    expect(episode).to_contain_text("预警")
    expect(episode).to_contain_text("高峰")
    expect(episode.locator("td").nth(2)).to_have_text("18:00")  # 18 minutes
    expect(episode.locator("td").nth(3)).to_have_text("7")
    expect(episode.locator("td").nth(4)).to_have_text("1:35")
    episode.locator("summary").click()
    expect(episode.locator("dl.facts")).to_contain_text("受影响来电")
    shoot(page, "reports-episodes")


def test_an_agent_sees_their_scorecard_and_prints_the_appraisal(
    service: ServiceProcess, browser: Browser, ids: dict[str, int]
) -> None:
    page = open_page(browser, service, "/scorecard?year=2026", "ann", "#card-view")
    # An agent has no one to choose: the agent field is not there; no reports link either.
    expect(page.locator("#agent-field")).to_be_hidden()
    expect(page.locator("#reports-link")).to_be_hidden()
    march = f'#card-table tbody tr[data-month="{MARCH}"]'
    expect(page.locator(march)).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#card-title")).to_have_text("坐席安 · 2026 年")
    expect(page.locator(f"{march} th")).to_have_text("2026 年 3 月")
    # Ann answered 4 in March (the team 6); her surveys 2 of 2 satisfied (the team's 2 of 3).
    expect(page.locator(cell(march, "answered") + " .mine")).to_have_text("4")
    expect(page.locator(cell(march, "answered") + " .team")).to_have_text("团队 6")
    expect(page.locator(cell(march, "satisfaction") + " .mine")).to_have_text("100.0 %")
    expect(page.locator(cell(march, "satisfaction") + " .team")).to_have_text("团队 66.7 %")
    assert canvas_painted(page, "#card-chart") > 500

    # The appraisal of March: each figure, its target, the team's, met or not.
    expect(page.locator("#a-month")).to_have_value(MARCH)
    expect(page.locator("#ap-agent")).to_have_text("坐席安")
    expect(page.locator("#ap-month")).to_have_text("2026 年 3 月")
    satisfaction = page.locator('#ap-table tr[data-figure="satisfaction"]')
    expect(satisfaction.locator("td").nth(0)).to_have_text("100.0 %")
    expect(satisfaction.locator("td").nth(1)).to_have_text("≥ 90.0 %")
    expect(satisfaction.locator("td").nth(2)).to_have_text("66.7 %")
    expect(satisfaction.locator("td").nth(3)).to_have_text("✓ 达标")
    expect(page.locator('#ap-table tr[data-figure="answered"] td').nth(3)).to_have_text("无目标")
    shoot(page, "scorecard")

    # Printing shows the appraisal alone.
    page.emulate_media(media="print")
    for hidden in ("header", "#card-form", "#card-result", "#appraisal-controls"):
        expect(page.locator(hidden)).to_be_hidden()
    expect(page.locator("#appraisal")).to_be_visible()
    expect(page.locator("#ap-table")).to_be_visible()
    expect(page.locator(".signatures")).to_contain_text("组长签字")
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 5000
    pages = re.search(rb"/Type\s*/Pages\b.*?/Count\s+(\d+)", pdf, re.DOTALL)
    assert pages is not None and int(pages.group(1)) == 1  # one page
    page.emulate_media(media="screen")
    expect(page.locator("#card-form")).to_be_visible()

    # Another agent's scorecard is refused, and the page says so.
    page.goto(f"{service.base_url}/scorecard?year=2026&agent={ids['bob']}")
    expect(page.locator("#card-error")).to_contain_text("坐席只能查看自己的考核", timeout=TIMEOUT)
    expect(page.locator("#card-result")).to_be_hidden()
    expect(page.locator("#appraisal")).to_be_hidden()


def test_the_pages_switch_to_english(
    service: ServiceProcess, browser: Browser, ids: dict[str, int]
) -> None:
    query = f"?report=queue-summary&start={START}&end={END}"
    page = open_page(browser, service, "/reports" + query, "lead", "#reports-view")
    # Run from the address alone.
    sales = '#report-table tbody tr[data-key="sales"]'
    expect(page.locator(cell(sales, "answered"))).to_have_text("4", timeout=TIMEOUT)
    expect(page.locator("h1")).to_have_text("报表")
    page.click("#lang")
    expect(page.locator("h1")).to_have_text("Reports")
    expect(page.locator("#tab-episodes")).to_have_text("Routing episodes")
    expect(page.locator("label[for=f-dimension]")).to_have_text("Breakdown")
    expect(page.locator('#report-table thead th[data-figure="answered"]')).to_have_text("Answered")
    expect(page.locator("#result-title")).to_have_text(f"Queue summary · {START} to {END}")
    expect(page.locator(cell(sales, "service_level"))).to_contain_text("below target")
    expect(page.locator("#chart-title")).to_have_text("Offered by queue")
    export = page.locator("#export-xlsx")
    expect(export).to_have_attribute(
        "href",
        re.compile(
            rf"^/api/reports/export\?report=queue-summary&.*&end={END}&lang=en&format=xlsx$"
        ),
    )
    assert page.evaluate("document.documentElement.lang") == "en"

    # The supervisor chooses Ann's scorecard; the language stays English.
    page.goto(f"{service.base_url}/scorecard?year=2026&agent={ids['ann']}")
    expect(page.locator("h1")).to_have_text("Agent scorecard", timeout=TIMEOUT)
    expect(page.locator("#agent-field")).to_be_visible()
    expect(page.locator("#c-agent")).to_have_value(str(ids["ann"]))
    expect(page.locator("#card-title")).to_have_text("坐席安 · 2026", timeout=TIMEOUT)
    expect(page.locator("#card-table thead th").first).to_have_text("Month")
    expect(page.locator(f'#card-table tbody tr[data-month="{MARCH}"] th')).to_have_text(
        "March 2026"
    )
    expect(page.locator("#ap-title")).to_have_text("Monthly agent appraisal")
    expect(page.locator('#ap-table tr[data-figure="satisfaction"] td').nth(3)).to_have_text("✓ met")
    # Bob's, chosen from the list.
    page.select_option("#c-agent", str(ids["bob"]))
    page.click("#card-form button[type=submit]")
    expect(page.locator("#card-title")).to_have_text("坐席宝 · 2026", timeout=TIMEOUT)
    expect(page.locator('#ap-table tr[data-figure="satisfaction"] td').nth(3)).to_have_text(
        "✗ not met"
    )
    shoot(page, "scorecard-supervisor")
    page.click("#lang")
    expect(page.locator("h1")).to_have_text("坐席考核")
    expect(page.locator("#ap-title")).to_have_text("坐席月度考核表")
