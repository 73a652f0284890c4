"""Scheduled reports: yesterday's, last week's and last month's standard reports written to a
folder as one workbook each (and mailed through the configured relay when addresses are set).

``complete_periods`` (pure) says which periods have ended; ``ScheduledReports.run_due``
writes each one once: the row it inserts in ``report_runs`` first is the claim, so several
replicas sharing a database write each period once. The file is written to a temporary name
and renamed, so a reader never sees half a workbook. ``callcenter reports write`` runs the
same for any period by hand.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Table, delete, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.agents.scope import EVERYTHING
from callcenter.clock import Clock, utc_now
from callcenter.reports.export import Sheet, sheet, xlsx_bytes
from callcenter.reports.labels import ReportPeople, key_labels
from callcenter.reports.models import ReportRun
from callcenter.reports.query import Interval, ReportRequest, Reports
from callcenter.reports.standard import STANDARD
from callcenter.settings import Disposition, ReportsSettings

__all__ = [
    "Kind",
    "Period",
    "ReportMailer",
    "ScheduledReports",
    "complete_periods",
    "periods_to_write",
]

log = logging.getLogger(__name__)

Kind = Literal["daily", "weekly", "monthly"]
# The standard reports in each scheduled workbook, and the interval of the by-time sheet.
_SHEETS = ("queue-summary", "agent-summary", "abandons", "dispositions", "surveys", "complaints")
_BY_TIME: Mapping[Kind, Interval] = {"daily": "hour", "weekly": "day", "monthly": "day"}

_runs: Table = ReportRun.__table__  # type: ignore[assignment]

# How many ended periods of each kind are looked at (catching up after an outage).
CATCH_UP: Mapping[Kind, int] = {"daily": 7, "weekly": 5, "monthly": 3}
# A claim whose file was never written (its replica died writing) is taken over after this.
CLAIM_STALE = timedelta(minutes=30)


class ReportMailer(Protocol):
    """The mail relay (the work-items room's ``Mailer`` on ``[work.smtp]``)."""

    @property
    def configured(self) -> bool: ...

    async def send(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True, slots=True)
class Period:
    kind: Kind
    start: date
    end: date  # inclusive

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.start.isoformat()}"


def periods_to_write(today: date) -> list[Period]:
    """The periods that ended before ``today`` and are still looked at: a week of days, five
    weeks and three months back, so the days a stopped service missed are written when it
    is back (and a new installation writes at most that much)."""
    out: list[Period] = []
    for back in range(CATCH_UP["daily"]):
        out.append(complete_periods(today - timedelta(days=back))[0])
    for back in range(CATCH_UP["weekly"]):
        out.append(complete_periods(today - timedelta(weeks=back))[1])
    month_day = today
    for _ in range(CATCH_UP["monthly"]):
        out.append(complete_periods(month_day)[2])
        month_day = month_day.replace(day=1) - timedelta(days=1)
    return list(dict.fromkeys(out))


def complete_periods(today: date) -> list[Period]:
    """The latest day, week (Monday to Sunday) and month that ended before ``today``."""
    yesterday = today - timedelta(days=1)
    week_start = today - timedelta(days=today.weekday() + 7)
    month_end = today.replace(day=1) - timedelta(days=1)
    return [
        Period("daily", yesterday, yesterday),
        Period("weekly", week_start, week_start + timedelta(days=6)),
        Period("monthly", month_end.replace(day=1), month_end),
    ]


class ScheduledReports:
    def __init__(
        self,
        engine: AsyncEngine,
        reports: Reports,
        settings: ReportsSettings,
        people: ReportPeople,
        dispositions: Sequence[Disposition],
        zone: ZoneInfo,
        mailer: ReportMailer | None,
        *,
        sender: str = "callcenter@localhost",
        clock: Clock = utc_now,
    ) -> None:
        self.engine = engine
        self.reports = reports
        self.settings = settings
        self.people = people
        self.dispositions = {d.code: d for d in dispositions}
        self.zone = zone
        self.mailer = mailer
        self.sender = sender
        self.clock = clock

    async def run_due(self) -> list[Path]:
        """Write every complete period not written yet (by any replica)."""
        folder = self.settings.schedule_dir
        if folder is None:
            return []
        # A day counts as ended a grace after midnight: calls still waiting or talking at
        # midnight get their record when they end.
        grace = timedelta(minutes=self.settings.schedule_grace_minutes)
        today = (self.clock() - grace).astimezone(self.zone).date()
        written = []
        for period in periods_to_write(today):
            if not await self._claim(period):
                continue
            try:
                written.append(await self.write(period, folder))
            except BaseException:
                await self._release(period)  # the next look tries again
                raise
        return written

    async def _claim(self, period: Period) -> bool:
        """Take the period (path "" until its file is written); False if it is written or
        being written by someone else."""
        now = self.clock()
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    insert(_runs).values(
                        kind=period.kind,
                        period_start=period.start,
                        written_at=now,
                        path="",
                        mailed_to=0,
                    )
                )
            return True
        except IntegrityError:
            pass
        async with self.engine.begin() as conn:
            taken = await conn.execute(
                update(_runs)
                .where(
                    _runs.c.kind == period.kind,
                    _runs.c.period_start == period.start,
                    _runs.c.path == "",
                    _runs.c.written_at < now - CLAIM_STALE,
                )
                .values(written_at=now)
            )
            return taken.rowcount == 1

    async def _release(self, period: Period) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(_runs).where(
                    _runs.c.kind == period.kind,
                    _runs.c.period_start == period.start,
                    _runs.c.path == "",
                )
            )

    async def workbook(self, period: Period, language: str = "zh") -> bytes:
        sheets: list[Sheet] = []
        for name in (*_SHEETS, "service-level"):
            preset = STANDARD[name]
            interval: Interval = _BY_TIME[period.kind] if name == "service-level" else "total"
            request = ReportRequest(
                preset.figures, preset.dimension, interval, period.start, period.end
            )
            result = await self.reports.run(request, EVERYTHING, list(self.people.teams()))
            labels = key_labels(result, language, self.people, self.dispositions)
            title = preset.label_zh if language == "zh" else preset.label_en
            sheets.append(sheet(title, result, language, labels))
        return xlsx_bytes(sheets)

    async def write(self, period: Period, folder: Path) -> Path:
        """Write one period's workbook (replacing a file of the same name), mail it if
        addresses are configured, and note where it went."""
        path = folder / f"{period.name}.xlsx"
        data = await self.workbook(period)
        await asyncio.to_thread(_save, path, data)
        mailed, error = await self._mail(period, path.name, data)
        async with self.engine.begin() as conn:
            await conn.execute(
                update(_runs)
                .where(_runs.c.kind == period.kind, _runs.c.period_start == period.start)
                .values(path=str(path), mailed_to=mailed, error=error)
            )
        log.info("scheduled report %s written to %s (mailed to %d)", period.name, path, mailed)
        return path

    async def _mail(self, period: Period, filename: str, data: bytes) -> tuple[int, str | None]:
        to = self.settings.schedule_mail_to
        if not to or self.mailer is None or not self.mailer.configured:
            return 0, None
        message = EmailMessage()
        message["Subject"] = f"呼叫中心报表 Contact-centre report {period.name}"
        message["From"] = self.sender
        message["To"] = ", ".join(to)
        message.set_content(
            f"附件为 {period.start} 至 {period.end} 的报表。\n"
            f"Attached: the report of {period.start} to {period.end}.\n"
        )
        message.add_attachment(
            data,
            maintype="application",
            subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            filename=filename,
        )
        try:
            await self.mailer.send(message)
        except Exception as exc:  # the relay's reason is logged and kept; the file stays
            log.warning("scheduled report %s not mailed: %s", period.name, exc)
            return 0, str(exc)[:300]
        return len(to), None


def _save(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)
