"""HTTP adapter of the rota, and the /shifts page.

GET    /api/shifts          the rota: every shift with its times, days, users, teams and
                            members by name, and the centre's time zone (any logged-in
                            user). Those who may edit get every name and the pick-lists
                            (active people, teams); everyone else gets the people of their
                            own scope only (their teams, themselves) and empty pick-lists:
                            the rota is public inside the centre, other teams' names are not
GET    /api/shifts/now      who is on shift now (their shift and its end), who ends within
                            ``ending_soon_minutes``, whose shift starts within 12 h; narrowed
                            to the caller's scope (supervisors: every team; others: their
                            own teams, and themselves)
POST   /api/shifts          a new shift -> 201; 409 shift-exists
PUT    /api/shifts/{name}   the whole shift with the version read -> 200; 404 no-such-shift,
                            409 stale-shift (with the stored one)
DELETE /api/shifts/{name}   404 no-such-shift
GET    /shifts              the page (supervisors and admins edit, everyone else reads)

Every refusal changes nothing: unknown users or teams (400 unknown-user / unknown-team),
checked for the ids a change ADDS only (a disabled member or a deleted team the shift holds
already is kept: an edit of its label must not fail, and the member is back when enabled),
more than ``MAX_MEMBERS`` people (400 too-many-members), bad times or days (400
invalid-body). Every change is audited (``shift.create|update|delete``, with the shift before
and after) and the room reloads its board before answering.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.agents.scope import Scope
from callcenter.audit.log import Audit
from callcenter.auth.identity import User
from callcenter.auth.permissions import P
from callcenter.clock import Clock, utc_now
from callcenter.feed.serialize import to_data
from callcenter.handover.ports import ShiftSpan
from callcenter.settings import ShiftsSettings
from callcenter.shifts import store
from callcenter.shifts.ports import ShiftPeople
from callcenter.shifts.rota import WEEKDAYS, ShiftBoard, ShiftDef, members_of, parse_hhmm
from callcenter.web import http
from callcenter.web.errors import ApiError, Problem
from callcenter.web.http import (
    LOGIN,
    PUBLIC,
    Route,
    needs,
    read_body,
    read_path,
    reply,
    request_user,
)
from callcenter.web.text import ONE_LINE

STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static" / "shifts"

SHIFT_EXISTS = Problem(409, "shift-exists", "a shift of that name exists already")
NO_SUCH_SHIFT = Problem(404, "no-such-shift", "no shift of that name")
STALE_SHIFT = Problem(
    409, "stale-shift", "the shift changed since you read it: read it again (in `shift`)"
)
UNKNOWN_USER = Problem(400, "unknown-user", "no active user of that id")
UNKNOWN_TEAM = Problem(400, "unknown-team", "no team of that id")
TOO_MANY_MEMBERS = Problem(400, "too-many-members", "a shift holds at most 200 people")

TAG = "shifts"
MAX_MEMBERS = 200
# "Next": the spans starting within this long.
NEXT_WITHIN = timedelta(hours=12)
# Printable text only: no control characters (PostgreSQL text cannot even hold NUL).
TEXT = ONE_LINE  # callcenter/web/text.py
NAME = r"^[a-z0-9][a-z0-9_-]{0,31}$"
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Id = Annotated[int, Field(ge=1, le=2**62)]


class _ShiftFields(BaseModel):
    """What a shift is, but its name."""

    model_config = ConfigDict(extra="forbid", strict=True)
    label: str = Field(min_length=1, max_length=80, pattern=TEXT)
    # Local times; an end not after the start is the next day (equal: refused).
    start: str = Field(pattern=HHMM)
    end: str = Field(pattern=HHMM)
    # The weekdays the shift starts on.
    days: list[Weekday] = Field(min_length=1, max_length=7)
    user_ids: list[Id] = Field(default_factory=list, max_length=MAX_MEMBERS)
    team_ids: list[Id] = Field(default_factory=list, max_length=MAX_MEMBERS)

    @field_validator("label")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value

    @model_validator(mode="after")
    def _has_length(self) -> _ShiftFields:
        if self.start == self.end:
            raise ValueError(f"start and end are both {self.start}: a shift has a length")
        return self

    def shift(self, name: str, version: int = 1) -> ShiftDef:
        return ShiftDef(
            name=name,
            label=self.label,
            start=parse_hhmm(self.start),
            end=parse_hhmm(self.end),
            days=frozenset(WEEKDAYS.index(d) for d in self.days),
            user_ids=frozenset(self.user_ids),
            team_ids=frozenset(self.team_ids),
            version=version,
        )


class ShiftBody(_ShiftFields):
    """A new shift."""

    name: str = Field(pattern=NAME)


class ShiftChange(_ShiftFields):
    """The whole shift as it should be, with the version it was read at."""

    version: int = Field(ge=1, le=2**31 - 1)


class ShiftPath(BaseModel):
    name: str = Field(pattern=NAME)


class ShiftPerson(BaseModel):
    id: int
    name: str
    # A disabled account the shift keeps (on no shift until enabled again).
    disabled: bool = False


class TeamRef(BaseModel):
    id: int
    name: str
    label_zh: str
    label_en: str


class ShiftData(BaseModel):
    name: str
    label: str
    start: str
    end: str
    overnight: bool
    days: list[str]
    user_ids: list[int]
    team_ids: list[int]
    users: list[ShiftPerson]
    teams: list[TeamRef]
    # Everyone working it: the users and the teams' members, disabled users left out; for a
    # caller who may not edit, only those of the caller's scope (``user_ids``, ``users`` too).
    members: list[ShiftPerson]
    # Members left out of ``members`` for the caller (other teams' people).
    others: int
    version: int
    updated_by: str
    updated_at: datetime | None


class RotaAnswer(BaseModel):
    shifts: list[ShiftData]
    timezone: str
    ending_soon_minutes: int
    # Whether the caller may change the rota (the page shows its form).
    may_edit: bool
    # Who may be put on a shift: active users and teams (for the form); empty for a caller
    # who may not edit.
    people: list[ShiftPerson]
    teams: list[TeamRef]


class SpanData(BaseModel):
    user_id: int
    name: str
    shift: str
    label: str
    start: datetime
    end: datetime


class NowAnswer(BaseModel):
    at: datetime
    # The centre's zone: the page shows every time in it, wherever the browser is.
    timezone: str
    on_shift: list[SpanData]
    ending_soon: list[SpanData]
    next: list[SpanData]


class ShiftDeleted(BaseModel):
    deleted: bool
    name: str
    shift: ShiftData


class ShiftsApi:
    def __init__(
        self,
        engine: AsyncEngine,
        board: ShiftBoard,
        people: ShiftPeople,
        settings: ShiftsSettings,
        audit: Audit | None,
        on_change: Callable[[], Awaitable[None]],
        *,
        zone_name: str,
        clock: Clock = utc_now,
    ) -> None:
        self._engine = engine
        self._board = board
        self._people = people
        self._settings = settings
        self._audit = audit
        self._on_change = on_change
        self._zone_name = zone_name
        self._clock = clock

    def routes(self) -> Sequence[Route]:
        edit = needs(P.SHIFTS_EDIT)
        return [
            http.get(
                "/api/shifts",
                self.list_shifts,
                access=LOGIN,
                tag=TAG,
                summary="The rota: every shift with its times, days and people",
                response=RotaAnswer,
            ),
            http.get(
                "/api/shifts/now",
                self.now,
                access=LOGIN,
                tag=TAG,
                summary="Who is on shift now, who ends soon, who comes next (one's scope)",
                response=NowAnswer,
            ),
            http.post(
                "/api/shifts",
                self.create_shift,
                access=edit,
                tag=TAG,
                summary="Add a shift to the rota",
                body=ShiftBody,
                response=ShiftData,
                status=201,
                errors=(SHIFT_EXISTS, UNKNOWN_USER, UNKNOWN_TEAM, TOO_MANY_MEMBERS),
            ),
            http.put(
                "/api/shifts/{name}",
                self.update_shift,
                access=edit,
                tag=TAG,
                summary="Replace a shift, if unchanged since the version read",
                path_params=ShiftPath,
                body=ShiftChange,
                response=ShiftData,
                errors=(NO_SUCH_SHIFT, STALE_SHIFT, UNKNOWN_USER, UNKNOWN_TEAM, TOO_MANY_MEMBERS),
            ),
            http.delete(
                "/api/shifts/{name}",
                self.delete_shift,
                access=edit,
                tag=TAG,
                summary="Remove a shift from the rota",
                path_params=ShiftPath,
                response=ShiftDeleted,
                errors=(NO_SUCH_SHIFT,),
            ),
            http.get(
                "/shifts",
                self.page,
                access=PUBLIC,
                kind="page",
                content_type="text/html",
                tag=TAG,
                summary="The rota page (supervisors edit it, everyone else reads it)",
            ),
            http.static(
                "/shifts/static",
                STATIC_DIR,
                access=PUBLIC,
                summary="Scripts and styles of the rota page",
            ),
        ]

    # --- reading ---------------------------------------------------------------------------

    def _names(self) -> dict[int, str]:
        return {u.id: u.display_name or u.username for u in self._people.active_users()}

    def _team_refs(self) -> dict[int, TeamRef]:
        return {
            t.id: TeamRef(id=t.id, name=t.name, label_zh=t.label_zh, label_en=t.label_en)
            for t in self._people.teams()
        }

    async def _known(self, shifts: Sequence[ShiftDef]) -> _Known:
        """Names of the active users, and of the disabled ones these shifts hold."""
        active = self._names()
        held = {u for s in shifts for u in s.user_ids} - set(active)
        return _Known(active, await store.user_names(self._engine, held), self._team_refs())

    def shift_data(
        self, shift: ShiftDef, known: _Known, sees: Callable[[int], bool] | None = None
    ) -> dict[str, Any]:
        """The shift as the API shows it; ``sees``: whose names the caller may read (None:
        everyone's)."""
        names, gone, teams = known.active, known.gone, known.teams
        members = members_of(shift, self._people.teams(), set(names))

        def shown(uid: int) -> bool:
            return sees is None or sees(uid)

        def person(uid: int) -> dict[str, Any]:
            if uid in names:
                return {"id": uid, "name": names[uid], "disabled": False}
            return {"id": uid, "name": gone.get(uid, f"#{uid}"), "disabled": True}

        user_ids = sorted(u for u in shift.user_ids if shown(u))
        seen = [u for u in members if shown(u)]
        data: dict[str, Any] = {
            "name": shift.name,
            "label": shift.label,
            "start": shift.start.strftime("%H:%M"),
            "end": shift.end.strftime("%H:%M"),
            "overnight": shift.overnight,
            "days": shift.day_names(),
            "user_ids": user_ids,
            "team_ids": sorted(shift.team_ids),
            "users": [person(u) for u in user_ids],
            "teams": [
                teams[t].model_dump()
                if t in teams
                else {"id": t, "name": f"#{t}", "label_zh": "", "label_en": ""}
                for t in sorted(shift.team_ids)
            ],
            "members": sorted((person(u) for u in seen), key=lambda p: (str(p["name"]), p["id"])),
            "others": len(members) - len(seen),
            "version": shift.version,
            "updated_by": shift.updated_by,
            "updated_at": shift.updated_at,
        }
        result: dict[str, Any] = to_data(data)
        return result

    async def one_shift(self, shift: ShiftDef) -> dict[str, Any]:
        """One shift with every name (the answers to an editor's change)."""
        return self.shift_data(shift, await self._known([shift]))

    async def list_shifts(self, request: web.Request) -> web.Response:
        user = request_user(request)
        shifts = await store.load_shifts(self._engine)
        known = await self._known(shifts)
        edits = user.may(P.SHIFTS_EDIT)
        sees = None if edits else _seen_by(user, self._people.scope_of(user))
        people = sorted(known.active.items(), key=lambda i: (i[1], i[0])) if edits else []
        return reply(
            {
                "shifts": [self.shift_data(s, known, sees) for s in shifts],
                "timezone": self._zone_name,
                "ending_soon_minutes": self._settings.ending_soon_minutes,
                "may_edit": edits,
                "people": [{"id": uid, "name": name} for uid, name in people],
                "teams": [t.model_dump() for t in known.teams.values()] if edits else [],
            }
        )

    async def now(self, request: web.Request) -> web.Response:
        user = request_user(request)
        scope = self._people.scope_of(user)
        at = self._clock()
        names = self._names()
        board = self._board

        def mine(spans: Sequence[ShiftSpan]) -> list[dict[str, Any]]:
            return [
                {
                    "user_id": s.user_id,
                    "name": names.get(s.user_id, f"#{s.user_id}"),
                    "shift": s.shift,
                    "label": s.label,
                    "start": s.start,
                    "end": s.end,
                }
                for s in spans
                # Not a user disabled since the board's last reload (on no shift at once).
                if s.user_id in names and (s.user_id == user.id or scope.has_user(s.user_id))
            ]

        soon = timedelta(minutes=self._settings.ending_soon_minutes)
        return reply(
            to_data(
                {
                    "at": at,
                    "timezone": self._zone_name,
                    "on_shift": mine(board.on_shift(at)),
                    "ending_soon": mine(board.ending_between(at, at + soon)),
                    "next": mine(board.starting_between(at, at + NEXT_WITHIN)),
                }
            )
        )

    # --- changing --------------------------------------------------------------------------

    def _check_people(self, shift: ShiftDef, kept: ShiftDef | None = None) -> None:
        """Refuse unknown users and teams and an overfull shift (nothing stored yet). Only
        the ids added to ``kept`` (the shift as stored) are checked: a member disabled since,
        or a team deleted since, stays on it."""
        kept_users = kept.user_ids if kept is not None else frozenset()
        kept_teams = kept.team_ids if kept is not None else frozenset()
        unknown = sorted(
            u for u in shift.user_ids - kept_users if self._people.active_user(u) is None
        )
        if unknown:
            raise UNKNOWN_USER(
                f"no active user of id {', '.join(map(str, unknown))}", user_ids=unknown
            )
        teams = self._people.teams()
        known = {t.id for t in teams}
        missing = sorted(t for t in shift.team_ids - kept_teams if t not in known)
        if missing:
            raise UNKNOWN_TEAM(f"no team of id {', '.join(map(str, missing))}", team_ids=missing)
        active = {u.id for u in self._people.active_users()}
        count = len(members_of(shift, teams, active))
        if count > MAX_MEMBERS:
            raise TOO_MANY_MEMBERS(
                f"the shift would hold {count} people, at most {MAX_MEMBERS}",
                members=count,
                limit=MAX_MEMBERS,
            )

    async def _audit_change(
        self,
        request: web.Request,
        user: User,
        action: str,
        name: str,
        before: ShiftDef | None,
        after: ShiftDef | None,
        message: str,
    ) -> None:
        if self._audit is None:
            return
        await self._audit.record(
            request,
            user,
            action,
            name,
            parameters={"before": _plain(before), "after": _plain(after)},
            message=message,
        )

    async def create_shift(self, request: web.Request) -> web.Response:
        user = request_user(request)
        body = await read_body(request, ShiftBody)
        shift = body.shift(body.name)
        self._check_people(shift)
        try:
            stored = await store.create_shift(self._engine, shift, user.username, self._clock())
        except store.ShiftExists:
            raise SHIFT_EXISTS(f"there is a shift {body.name} already", name=body.name) from None
        await self._on_change()
        await self._audit_change(
            request,
            user,
            "shift.create",
            stored.name,
            None,
            stored,
            f"added shift {stored.name} ({_describe(stored)})",
        )
        return reply(await self.one_shift(stored), status=201)

    async def update_shift(self, request: web.Request) -> web.Response:
        user = request_user(request)
        name = read_path(request, ShiftPath).name
        body = await read_body(request, ShiftChange)
        shift = body.shift(name)
        # What the edit adds is judged against the version it was read at; the store's
        # version guard refuses the edit if that version is gone by the time it writes.
        current = await store.get_shift(self._engine, name)
        if current is None:
            raise NO_SUCH_SHIFT(f"there is no shift {name}", name=name)
        if current.version != body.version:
            raise await self._stale(current, body.version)
        self._check_people(shift, current)
        try:
            before, after = await store.update_shift(
                self._engine, shift, body.version, user.username, self._clock()
            )
        except store.NoSuchShift:
            raise NO_SUCH_SHIFT(f"there is no shift {name}", name=name) from None
        except store.StaleShift as exc:
            raise await self._stale(exc.current, body.version) from None
        await self._on_change()
        await self._audit_change(
            request,
            user,
            "shift.update",
            name,
            before,
            after,
            f"changed shift {name} ({_describe(after)})",
        )
        return reply(await self.one_shift(after))

    async def _stale(self, current: ShiftDef, version: int) -> ApiError:
        name = current.name
        return STALE_SHIFT(
            f"shift {name} is at version {current.version}, not {version}: read it again",
            name=name,
            shift=await self.one_shift(current),
        )

    async def delete_shift(self, request: web.Request) -> web.Response:
        user = request_user(request)
        name = read_path(request, ShiftPath).name
        before = await store.delete_shift(self._engine, name, user.username, self._clock())
        if before is None:
            raise NO_SUCH_SHIFT(f"there is no shift {name}", name=name)
        await self._on_change()
        await self._audit_change(
            request,
            user,
            "shift.delete",
            name,
            before,
            None,
            f"removed shift {name} ({_describe(before)})",
        )
        return reply({"deleted": True, "name": name, "shift": await self.one_shift(before)})

    # --- the page --------------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@dataclass(frozen=True, slots=True)
class _Known:
    """What a shift's answer names its people and teams by."""

    active: dict[int, str]  # active users
    gone: dict[int, str]  # disabled users held by the shifts answered
    teams: dict[int, TeamRef]


def _seen_by(user: User, scope: Scope) -> Callable[[int], bool]:
    """Whose names a caller who may not edit reads: their own and their teams' people."""

    def sees(uid: int) -> bool:
        return uid == user.id or scope.has_user(uid)

    return sees


def _plain(shift: ShiftDef | None) -> dict[str, Any] | None:
    """The shift as the audit trail keeps it (ids, not names: names change)."""
    if shift is None:
        return None
    return {
        "name": shift.name,
        "label": shift.label,
        "start": shift.start.strftime("%H:%M"),
        "end": shift.end.strftime("%H:%M"),
        "days": shift.day_names(),
        "user_ids": sorted(shift.user_ids),
        "team_ids": sorted(shift.team_ids),
        "version": shift.version,
    }


def _describe(shift: ShiftDef) -> str:
    days = ",".join(shift.day_names())
    return f"{shift.label}, {shift.start:%H:%M}-{shift.end:%H:%M} on {days}"
