"""The handover room: end-of-shift and permanent handover documents, accepted item by item,
and the check that nothing open is left without an owner (docs/handover.md).

Needs: the Host, its settings, the shifts room's ``RotaView`` (who works when), the work room's
``WorkLedger`` (what an agent owns, moving it), the agents room (``HandoverPeople``: teams,
users, consoles), the audit log and the contact centre's time zone; the work-log room's
``DayFigures`` when attached. Offers ``HandoverTally`` to the work-log room.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar
from zoneinfo import ZoneInfo

from callcenter.audit.log import Audit
from callcenter.clock import Clock, utc_now
from callcenter.component import Host, Room
from callcenter.handover.api import HandoverApi
from callcenter.handover.desk import HandoverDesk
from callcenter.handover.ports import DayFigures, HandoverPeople, RotaView, WorkLedger
from callcenter.settings import HandoverSettings
from callcenter.tasks import every
from callcenter.worklog.ports import HandoverCount

if TYPE_CHECKING:
    from callcenter.web.http import Route


class HandoverRoom(Room):
    name: ClassVar[str] = "handover"

    def __init__(
        self,
        host: Host,
        settings: HandoverSettings,
        *,
        rota: RotaView,
        ledger: WorkLedger,
        people: HandoverPeople,
        audit: Audit | None = None,
        zone: ZoneInfo,
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings
        self.desk = HandoverDesk(
            host.engine, settings, rota=rota, ledger=ledger, people=people, zone=zone, clock=clock
        )
        self.api = HandoverApi(self.desk, audit)
        self._spawn = host.spawner(self.name)

    def attach_figures(self, figures: DayFigures) -> None:
        """The work-log room's figures of the day, shown in the draft."""
        self.desk.figures = figures

    def routes(self) -> Sequence[Route]:
        return self.api.routes()

    async def start(self) -> None:
        if self.settings.check_seconds > 0:
            self._spawn(
                every(self.settings.check_seconds, self.desk.check, "handover ownerless check"),
                "ownerless",
            )

    # --- the work-log room's HandoverTally --------------------------------------------------

    async def handovers_of(self, user_id: int, start: datetime, end: datetime) -> HandoverCount:
        given, taken = await self.desk.tally(user_id, start, end)
        return HandoverCount(given=given, taken=taken)
