"""The agents room: teams, skills, sign-in at any phone, coded agent states.

It offers two ports to its siblings: ``TeamScopes`` (what a user may see and steer, for the
supervisor and live-view rooms) and ``Seats`` (who sits at which phone, for the screen-pop
room), and FastAGI routes (the phone's sign-in feature code) to the IVR room's server.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from callcenter.agents.admin_api import AdminApi
from callcenter.agents.api import AgentsApi
from callcenter.agents.desk import AgentDesk, UsersWithSessions
from callcenter.agents.phone import PhoneRoutes
from callcenter.agents.scope import Scope, Team
from callcenter.agents.seats import Seats
from callcenter.agents.states import AgentState, StateName
from callcenter.agents.store import Code, seed_codes, seed_missing_codes
from callcenter.auth.identity import User
from callcenter.component import Host, PbxLink, Room
from callcenter.ivr.agi import Handler
from callcenter.live import CallConnected, CallEnded, Change, Correction, MemberChanged
from callcenter.settings import AgentsSettings
from callcenter.tasks import every
from callcenter.work.ports import ReadyAgent

if TYPE_CHECKING:
    from callcenter.web.http import Route

log = logging.getLogger(__name__)


class AgentsRoom(Room):
    name: ClassVar[str] = "agents"

    def __init__(
        self,
        host: Host,
        settings: AgentsSettings,
        *,
        pbx_names: Sequence[str],
        users_with_sessions: UsersWithSessions,
        required_codes: Sequence[str] = (),
    ) -> None:
        self.settings = settings
        # Codes other rooms give agents themselves (screening's abusive-caller break): made
        # from initial_codes when missing, also on a database that already has codes.
        self.required_codes = tuple(required_codes)
        self.seats = Seats()
        self.desk = AgentDesk(
            host.engine,
            host.live,
            host.links,
            host.publish,
            settings,
            seats=self.seats,
            pbx_names=pbx_names,
        )
        self.api = AgentsApi(self.desk)
        self.admin = AdminApi(self.desk)
        self.phone = PhoneRoutes(self.desk)
        self._users_with_sessions = users_with_sessions
        self._spawn = host.spawner(self.name)

    # --- ports ---------------------------------------------------------------------------

    def scope_of(self, user: User) -> Scope:
        return self.desk.scope_of(user)

    # WorkForce (the work-items room): teams, users, who is ready, the consoles.

    def teams(self) -> Sequence[Team]:
        return tuple(self.desk.teams)

    def active_user(self, user_id: int) -> User | None:
        if user_id in self.desk.disabled:
            return None
        return self.desk.users.get(user_id)

    def active_users(self) -> Sequence[User]:
        disabled = self.desk.disabled
        return [user for uid, user in self.desk.users.items() if uid not in disabled]

    def ready_agents(self) -> Sequence[ReadyAgent]:
        ready = [
            ReadyAgent(status.user_id, status.pbx, status.interface, status.since)
            for status in self.desk.status.values()
            if status.pbx is not None
            and status.interface is not None
            and status.state.state is StateName.READY
            and status.user_id not in self.desk.disabled
        ]
        ready.sort(key=lambda agent: agent.since)
        return ready

    def tell(self, user_id: int, message: Mapping[str, Any]) -> None:
        self.seats.tell(user_id, message)

    # TransferPeople (the transfers room): besides the above, where people sit and their state.

    def phone_of(self, user_id: int) -> tuple[str, str] | None:
        return self.desk.phone_of(user_id)

    def state_of(self, user_id: int) -> AgentState:
        return self.desk.derived(user_id)

    def user_at(self, pbx: str, interface: str) -> int | None:
        return self.seats.holder(pbx, interface)

    def agi_routes(self) -> Mapping[str, Handler]:
        return self.phone.handlers()

    # --- room ------------------------------------------------------------------------------

    def routes(self) -> Sequence[Route]:
        return [*self.api.routes(), *self.admin.routes()]

    def on_change(self, change: Change) -> None:
        desk = self.desk
        if isinstance(change, MemberChanged):
            desk.member_changed(change.pbx, change.queue, change.interface, change.member)
        elif isinstance(change, CallConnected):
            desk.call_connected(change.pbx, change.agent_interface)
        elif isinstance(change, Correction) and change.kind.startswith(("member_", "queue_")):
            # A resync fixed the model behind the events' back: read the PBX's part again.
            desk.members_stale(change.pbx)
        elif isinstance(change, CallEnded):
            record = change.record
            if record.answered_by:
                desk.call_ended(record.pbx, record.answered_by, record.queue, record.ended_at)

    async def start(self) -> None:
        seeds = [
            Code(c.code, c.label_zh, c.label_en, c.paid, c.limit_seconds, c.max_agents)
            for c in self.settings.initial_codes
        ]
        created = await seed_codes(self.desk.engine, seeds, self.desk.clock())
        if created:
            log.info("created %d not-ready code(s) (first start)", created)
        wanted = [c for c in seeds if c.code in self.required_codes]
        for name in sorted(set(self.required_codes) - {c.code for c in wanted}):
            log.warning("not-ready code %s is needed but not in agents.initial_codes", name)
        added = await seed_missing_codes(self.desk.engine, wanted, self.desk.clock())
        if added:
            log.info("created not-ready code(s) other rooms need: %s", ", ".join(added))
        await self.desk.load()
        self.desk.rebuild_members()
        self._spawn(self.desk.work_states(), "states")
        self._spawn(every(self.settings.check_seconds, self._check, "agents check"), "check")

    async def _check(self) -> None:
        await self.desk.refresh()
        await self.desk.check_limits()
        await self.desk.sign_out_sessionless(self._users_with_sessions)

    async def on_pbx_ready(self, link: PbxLink) -> None:
        await self.desk.reapply(link)
