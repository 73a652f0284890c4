"""Scheduled reports: each ended day, week and month written once as a workbook that opens,
mailed through a real SMTP server (aiosmtpd), on SQLite and PostgreSQL."""

from __future__ import annotations

import email
import io
from datetime import date, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.agents.scope import Team
from callcenter.auth.identity import User
from callcenter.reports.labels import FixedPeople
from callcenter.reports.query import Reports
from callcenter.reports.refresh import RollupRefresher
from callcenter.reports.schedule import (
    Period,
    ScheduledReports,
    complete_periods,
    periods_to_write,
)
from callcenter.settings import DEFAULT_DISPOSITIONS, ReportsSettings, SmtpSettings
from callcenter.work.departments import Mailer
from tests.fixtures_pg import free_port
from tests.reports.helpers import SHANGHAI, add_call, add_user, add_wrapup, local


def test_complete_periods_are_the_last_day_week_and_month_that_ended() -> None:
    # Wednesday 2 December 2026
    assert complete_periods(date(2026, 12, 2)) == [
        Period("daily", date(2026, 12, 1), date(2026, 12, 1)),
        Period("weekly", date(2026, 11, 23), date(2026, 11, 29)),
        Period("monthly", date(2026, 11, 1), date(2026, 11, 30)),
    ]
    # On a Monday the week just ended is last week; on the 1st, last month.
    assert complete_periods(date(2027, 3, 1))[1:] == [
        Period("weekly", date(2027, 2, 22), date(2027, 2, 28)),
        Period("monthly", date(2027, 2, 1), date(2027, 2, 28)),
    ]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def inbox() -> Any:
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield box, controller.port
    finally:
        controller.stop()


async def test_each_ended_period_is_written_once_and_mailed(
    engine: AsyncEngine, tmp_path: Path, inbox: Any
) -> None:
    box, port = inbox
    ann = await add_user(engine, "ann")
    call_id, _ = await add_call(
        engine, queue="sales", joined=local("2026-12-01T10:00"), outcome="answered",
        wait=12, talk=90, user=ann,
    )  # fmt: skip
    await add_wrapup(engine, call_id, "resolved", "consultation", local("2026-12-01T10:03"))
    await add_call(
        engine, queue="sales", joined=local("2026-11-20T10:00"), outcome="abandoned", wait=30
    )
    settings = ReportsSettings(schedule_dir=tmp_path / "out", schedule_mail_to=["boss@example.cn"])
    now = local("2026-12-02T08:00")
    await RollupRefresher(engine, settings, SHANGHAI, clock=lambda: now).refresh()
    people = FixedPeople(
        [Team(1, "north", "北区", "North", frozenset({"sales"}), frozenset({ann}), frozenset())],
        [User(ann, "ann", "Ann", "agent")],
    )
    scheduled = ScheduledReports(
        engine,
        Reports(engine, settings, SHANGHAI),
        settings,
        people,
        DEFAULT_DISPOSITIONS,
        SHANGHAI,
        Mailer(SmtpSettings(host="127.0.0.1", port=port)),
        sender="reports@example.cn",
        clock=lambda: now,
    )
    # A grace hour after midnight: at 00:30 the 1st is not over yet.
    early = ScheduledReports(
        engine, Reports(engine, settings, SHANGHAI), settings, people, DEFAULT_DISPOSITIONS,
        SHANGHAI, None, clock=lambda: local("2026-12-02T00:30"),
    )  # fmt: skip
    assert "daily-2026-12-01.xlsx" not in {p.name for p in await early.run_due()}
    written = {p.name for p in await scheduled.run_due()}
    # The early look caught up a week of days (to the 30th), five weeks and three months;
    # once the grace is over, the 1st.
    assert written == {"daily-2026-12-01.xlsx"}
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(files) == 8 + 5 + 3
    assert {"weekly-2026-11-23.xlsx", "monthly-2026-11-01.xlsx"} <= set(files)
    # A second look (or another replica) writes nothing again.
    assert await scheduled.run_due() == []

    daily = openpyxl.load_workbook(tmp_path / "out" / "daily-2026-12-01.xlsx")
    assert daily.sheetnames[0] == "队列汇总"
    queue_sheet = daily["队列汇总"]
    header = [c.value for c in queue_sheet[1]]
    assert header[:4] == ["期间", "维度", "呼入量", "接通量"]
    assert [c.value for c in queue_sheet[2]][1:4] == ["sales", 1, 1]
    agents = daily["坐席汇总"]
    assert [c.value for c in agents[2]][1:3] == ["Ann", 1]
    dispositions = daily["小结分类"]
    assert [c.value for c in dispositions[2]][1:3] == ["已解答", 1]
    monthly = openpyxl.load_workbook(tmp_path / "out" / "monthly-2026-11-01.xlsx")
    assert [c.value for c in monthly["放弃分析"][2]][1:4] == ["10:00", 1, 1]

    # Only the second look had the relay.
    assert len(box.messages) == 1
    message = box.messages[0]
    assert message["To"] == "boss@example.cn"
    assert message["From"] == "reports@example.cn"
    attachments = [p for p in message.walk() if p.get_filename()]
    assert len(attachments) == 1
    payload = attachments[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert openpyxl.load_workbook(io.BytesIO(payload)).sheetnames == daily.sheetnames


async def test_a_period_whose_file_could_not_be_written_is_tried_again(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the folder should be")
    settings = ReportsSettings(schedule_dir=blocked)
    now = local("2026-12-02T08:00")
    scheduled = ScheduledReports(
        engine, Reports(engine, settings, SHANGHAI), settings, FixedPeople([], []),
        DEFAULT_DISPOSITIONS, SHANGHAI, None, clock=lambda: now,
    )  # fmt: skip
    with pytest.raises(OSError):
        await scheduled.run_due()
    blocked.unlink()
    assert len(await scheduled.run_due()) == 7 + 5 + 3
    assert (blocked / "daily-2026-12-01.xlsx").exists()


def test_periods_to_write_catch_up_a_week_five_weeks_and_three_months() -> None:
    periods = periods_to_write(date(2026, 12, 2))
    assert [p.start for p in periods if p.kind == "daily"] == [
        date(2026, 12, 1) - timedelta(days=n) for n in range(7)
    ]
    assert next(p.start for p in periods if p.kind == "weekly") == date(2026, 11, 23)
    assert len([p for p in periods if p.kind == "weekly"]) == 5
    assert [p.start for p in periods if p.kind == "monthly"] == [
        date(2026, 11, 1),
        date(2026, 10, 1),
        date(2026, 9, 1),
    ]
