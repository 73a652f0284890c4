"""The shifts room: the rota (docs/shifts.md).

- ``rota.py`` (pure) turns shifts into spans of UTC time in the centre's zone and answers
  who is on shift, who ends soon, who comes next (``ShiftBoard``, the ``RotaView`` of
  ``callcenter/handover/ports.py``);
- ``store.py`` keeps the shifts in the database (seeded from ``[[shifts.shift]]``, edited by
  supervisors, deleted ones kept as tombstones);
- ``api.py`` serves the API and the /shifts page.

Needs: the Host, its settings, the agents room (``ShiftPeople``: teams, accounts, scopes),
the centre's time zone and the audit log. Offers ``rota`` to its siblings: one object from
construction on (empty until ``start``), reloaded from the table at start, after every
edit, and every ``RELOAD_SECONDS`` (replicas share one database; teams and accounts change
in the agents room).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar
from zoneinfo import ZoneInfo

from callcenter.audit.log import Audit
from callcenter.clock import Clock, utc_now
from callcenter.component import Host, Room
from callcenter.settings import ShiftsSettings
from callcenter.shifts import store
from callcenter.shifts.api import ShiftsApi
from callcenter.shifts.ports import ShiftPeople
from callcenter.shifts.rota import WEEKDAYS, ShiftBoard, ShiftDef, parse_hhmm
from callcenter.tasks import every

if TYPE_CHECKING:
    from callcenter.web.http import Route

log = logging.getLogger(__name__)

# Seconds between two reloads of the rota from the table (another replica's edits, and the
# agents room's team and account changes).
RELOAD_SECONDS = 30.0


def seed_defs(settings: ShiftsSettings, people: ShiftPeople) -> list[ShiftDef]:
    """The configured shifts with users and teams as ids; an unknown (or disabled) username
    or team name is logged and left out, not fatal: the rota is fixed on /shifts."""
    users = {u.username: u.id for u in people.active_users()}
    teams = {t.name: t.id for t in people.teams()}
    defs = []
    for seed in settings.shift:
        user_ids = set()
        for username in seed.users:
            if username in users:
                user_ids.add(users[username])
            else:
                log.warning("shift %s: no active user %r, left out", seed.name, username)
        team_ids = set()
        for team in seed.teams:
            if team in teams:
                team_ids.add(teams[team])
            else:
                log.warning("shift %s: no team %r, left out", seed.name, team)
        defs.append(
            ShiftDef(
                name=seed.name,
                label=seed.label,
                start=parse_hhmm(seed.start),
                end=parse_hhmm(seed.end),
                days=frozenset(WEEKDAYS.index(d) for d in seed.days),
                user_ids=frozenset(user_ids),
                team_ids=frozenset(team_ids),
            )
        )
    return defs


class ShiftsRoom(Room):
    name: ClassVar[str] = "shifts"

    def __init__(
        self,
        host: Host,
        settings: ShiftsSettings,
        people: ShiftPeople,
        *,
        zone: ZoneInfo,
        audit: Audit | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings
        self.engine = host.engine
        self.people = people
        self.clock = clock
        self.rota = ShiftBoard(zone)
        self.api = ShiftsApi(
            host.engine,
            self.rota,
            people,
            settings,
            audit,
            self.reload,
            zone_name=zone.key,
            clock=clock,
        )
        self._spawn = host.spawner(self.name)

    def routes(self) -> Sequence[Route]:
        return self.api.routes()

    async def start(self) -> None:
        # After the agents room's start (service.py's order): its teams and users are loaded.
        await self.seed()
        await self.reload()
        self._spawn(every(RELOAD_SECONDS, self.reload, "rota reload"), "reload")

    async def seed(self) -> list[str]:
        return await store.seed_shifts(
            self.engine, seed_defs(self.settings, self.people), self.clock()
        )

    async def reload(self) -> None:
        shifts = await store.load_shifts(self.engine)
        self.rota.load(shifts, self.people.teams(), [u.id for u in self.people.active_users()])
