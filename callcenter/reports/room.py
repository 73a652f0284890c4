"""The reports room: roll-ups kept up to date from the raw records, reports over any period,
exports, the scorecard, and the reports pages.

- ``rollup.py`` (pure) computes roll-up rows from raw facts; ``refresh.py`` keeps the roll-up
  tables equal to the raw records (triggers queue what changed; every round recomputes those
  queue-days and agent-days) and rebuilds them (``callcenter reports rebuild``);
- ``figures.py`` defines each figure from the sums (formulas in ``callcenter.kpi``),
  ``query.py`` runs a report, ``standard.py`` names the standard ones;
- ``export.py`` writes CSV and XLSX; ``api.py`` serves the API and the pages;
- ``schedule.py`` writes the daily, weekly and monthly workbooks to ``schedule_dir`` (and
  mails them through the work items' relay when ``schedule_mail_to`` is set).

Built from its settings (``settings.reports``), the Host, the agents room (``ReportPeople``:
teams, scopes, accounts), the wrap-up dispositions (their labels) and the contact centre's
time zone, the mail relay (``[work.smtp]``) and the work-log room (``WorklogCompletion``: the
daily logs owed, submitted on time and signed off).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar
from zoneinfo import ZoneInfo

from callcenter.clock import Clock, utc_now
from callcenter.component import Host, Room
from callcenter.reports.api import ReportsApi
from callcenter.reports.labels import ReportPeople
from callcenter.reports.ports import WorklogCompletion
from callcenter.reports.query import Reports
from callcenter.reports.refresh import RollupRefresher
from callcenter.reports.schedule import ReportMailer, ScheduledReports
from callcenter.settings import Disposition, ReportsSettings
from callcenter.tasks import every

if TYPE_CHECKING:
    from callcenter.web.http import Route

# Seconds between two looks for a day, week or month that ended and was not written yet.
SCHEDULE_CHECK_SECONDS = 300.0


class ReportsRoom(Room):
    name: ClassVar[str] = "reports"

    def __init__(
        self,
        host: Host,
        settings: ReportsSettings,
        people: ReportPeople,
        *,
        dispositions: Sequence[Disposition],
        zone: ZoneInfo,
        mailer: ReportMailer | None = None,
        sender: str = "callcenter@localhost",
        worklog: WorklogCompletion | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings
        self._spawn = host.spawner(self.name)
        self.refresher = RollupRefresher(host.engine, settings, zone, clock=clock)
        self.reports = Reports(host.engine, settings, zone, worklog)
        self.api = ReportsApi(
            host.engine, self.reports, settings, people, dispositions, clock=clock
        )
        self.scheduled = ScheduledReports(
            host.engine,
            self.reports,
            settings,
            people,
            dispositions,
            zone,
            mailer,
            sender=sender,
            clock=clock,
        )

    def routes(self) -> Sequence[Route]:
        return self.api.routes()

    async def start(self) -> None:
        self._spawn(
            every(self.settings.refresh_seconds, self._refresh, "report roll-ups"), "refresh"
        )
        self._spawn(
            every(self.settings.states_refresh_seconds, self._states, "today's agent states"),
            "states",
        )
        if self.settings.schedule_dir is not None:
            self._spawn(
                every(SCHEDULE_CHECK_SECONDS, self._scheduled, "scheduled reports"), "schedule"
            )

    async def _refresh(self) -> None:
        await self.refresher.refresh()

    async def _states(self) -> None:
        await self.refresher.refresh_states_today()

    async def _scheduled(self) -> None:
        # Today's refresh first: yesterday's last calls may still be queued.
        await self.refresher.refresh()
        await self.scheduled.run_due()
