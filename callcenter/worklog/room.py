"""The work-log room: each agent's daily log (seed 001: 客服代表每日填写工作日志), drafted
from the day's records, written and submitted by the agent, checked and signed off by a
supervisor (主管定期检查), rolled up per team (客服部定期汇总); see docs/worklog.md.

Needs: the Host (the engine), its settings, the agents room (``WorklogPeople``: scopes,
teams, accounts, the consoles), the shifts room's rota (``WorkRota``: a night shift's log
day), the handover room (``HandoverTally``, optional), the centre's time zone, the wrap-up
dispositions (their labels) and the audit log. Offers ``logs``: ``DayFigures`` (handover)
and ``WorklogCompletion`` (reports).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar
from zoneinfo import ZoneInfo

from callcenter.audit.log import Audit
from callcenter.auth.permissions import P
from callcenter.clock import Clock, utc_now
from callcenter.component import Host, Room
from callcenter.settings import Disposition, WorklogSettings
from callcenter.worklog.api import WorklogApi, WorklogPeople
from callcenter.worklog.book import Worklogs
from callcenter.worklog.ports import HandoverTally, WorkRota

if TYPE_CHECKING:
    from callcenter.web.http import Route


class WorklogRoom(Room):
    name: ClassVar[str] = "worklog"

    def __init__(
        self,
        host: Host,
        settings: WorklogSettings,
        *,
        people: WorklogPeople,
        rota: WorkRota | None = None,
        handovers: HandoverTally | None = None,
        zone: ZoneInfo,
        dispositions: Sequence[Disposition] = (),
        audit: Audit | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings
        self.logs = Worklogs(
            host.engine,
            settings,
            zone,
            rota=rota,
            handovers=handovers,
            dispositions=dispositions,
            clock=clock,
        )
        self.logs.writers = lambda: [u.id for u in people.active_users() if u.may(P.WORKLOG_WRITE)]
        self.api = WorklogApi(self.logs, people, audit)

    def attach_handovers(self, handovers: HandoverTally) -> None:
        """The handover room, when it is built after this one."""
        self.logs.handovers = handovers

    def routes(self) -> Sequence[Route]:
        return self.api.routes()
