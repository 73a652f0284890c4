"""The rota's storage, its seeding from the configuration and its API, on SQLite and on
PostgreSQL.

Real parts: the database (migrated to head), the audit log, the HTTP stack (declared routes,
access, readers, problems), the room and its board; the agents room is a small fake of
``ShiftPeople`` (teams, accounts, scopes), and who is logged in is read from a test header.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.agents.scope import Scope, Team, scope_of
from callcenter.audit.log import AuditLog
from callcenter.audit.models import AuditEntry
from callcenter.auth.identity import User
from callcenter.auth.models import UserRow
from callcenter.auth.permissions import P
from callcenter.settings import ShiftsSettings
from callcenter.shifts import store
from callcenter.shifts.models import Shift
from callcenter.shifts.room import ShiftsRoom
from callcenter.web.app import create_app
from callcenter.web.http import LOGIN, needs
from tests.rooms import make_host

ZONE = ZoneInfo("Asia/Shanghai")
# Monday 30 November 2026, 23:00 in Shanghai.
T0 = datetime(2026, 11, 30, 23, tzinfo=ZONE).astimezone(UTC)
ORIGIN = "http://console.test"
PATH = "/api/shifts"

ROOT = User(1, "root", "Root", "admin")
LEAD = User(2, "lead", "班长老陈", "supervisor")
WANG = User(3, "wang", "王芳", "agent")
LI = User(4, "li", "李雷", "agent")
ZHAO = User(5, "zhao", "赵敏", "agent")
OLD = User(6, "old", "老员工", "agent")
USERS = {u.id: u for u in (ROOT, LEAD, WANG, LI, ZHAO, OLD)}
FRONT = Team(10, "front", "一线", "Front line", frozenset(), frozenset({3, 4, 6}), frozenset())
BACK = Team(20, "back", "二线", "Back office", frozenset(), frozenset({5}), frozenset())

SETTINGS = ShiftsSettings.model_validate(
    {
        "shift": [
            {
                "name": "early",
                "label": "早班 / Early",
                "start": "08:00",
                "end": "16:00",
                "days": ["mon", "tue", "wed", "thu", "fri"],
                "users": ["zhao", "ghost"],
            },
            {
                "name": "night",
                "label": "夜班 / Night",
                "start": "22:00",
                "end": "06:00",
                "days": ["mon"],
                "teams": ["front", "nowhere"],
            },
        ]
    }
)
NEW: dict[str, Any] = {
    "name": "late",
    "label": "中班 / Late",
    "start": "16:00",
    "end": "00:00",
    "days": ["mon", "tue"],
    "user_ids": [5],
    "team_ids": [],
}


class People:
    """The agents room as the shifts room sees it; ``disabled`` users are not active."""

    def __init__(self) -> None:
        self.users = dict(USERS)
        self.disabled = {6}
        self.team_list = [FRONT, BACK]

    def teams(self) -> Sequence[Team]:
        return list(self.team_list)

    def active_users(self) -> Sequence[User]:
        return [u for uid, u in self.users.items() if uid not in self.disabled]

    def active_user(self, user_id: int) -> User | None:
        return None if user_id in self.disabled else self.users.get(user_id)

    def scope_of(self, user: User) -> Scope:
        return scope_of(user, self.team_list, {})


def make_room(
    engine: AsyncEngine, people: People, settings: ShiftsSettings = SETTINGS
) -> ShiftsRoom:
    return ShiftsRoom(
        make_host(engine), settings, people, zone=ZONE, audit=AuditLog(engine), clock=lambda: T0
    )


async def audit_count(engine: AsyncEngine) -> int:
    async with AsyncSession(engine) as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


async def rows(engine: AsyncEngine) -> list[Shift]:
    async with AsyncSession(engine) as session:
        return list((await session.scalars(select(Shift).order_by(Shift.name))).all())


# --- seeding ------------------------------------------------------------------------------


async def test_the_board_exists_before_start_and_is_empty(engine: AsyncEngine) -> None:
    room = make_room(engine, People())
    assert not room.rota.has_shifts()
    assert room.rota.on_shift(T0) == []


async def test_seeding_stores_the_configured_shifts_once_and_skips_unknown_people(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    room = make_room(engine, People())
    with caplog.at_level(logging.WARNING, logger="callcenter.shifts.room"):
        await room.start()
    assert "no active user 'ghost'" in caplog.text
    assert "no team 'nowhere'" in caplog.text
    stored = await rows(engine)
    assert [(r.name, r.user_ids, r.team_ids, r.version, r.updated_by) for r in stored] == [
        ("early", [5], [], 1, "config"),
        ("night", [], [10], 1, "config"),
    ]
    assert (stored[1].start_time, stored[1].end_time, stored[1].days) == ("22:00", "06:00", ["mon"])
    # Team 10's members but the disabled one are on the night shift now.
    assert [(s.user_id, s.shift) for s in room.rota.on_shift(T0)] == [(3, "night"), (4, "night")]
    assert await room.seed() == []
    assert len(await rows(engine)) == 2


async def test_seeding_never_brings_back_an_edited_or_a_deleted_shift(engine: AsyncEngine) -> None:
    room = make_room(engine, People())
    await room.start()
    early = await store.get_shift(engine, "early")
    assert early is not None
    changed = type(early)(**{**_fields(early), "label": "早班 A"})
    await store.update_shift(engine, changed, 1, "lead", T0)
    assert await store.delete_shift(engine, "night", "lead", T0) is not None

    assert await room.seed() == []
    await room.reload()
    assert [s.name for s in room.rota.shifts] == ["early"]
    assert room.rota.shifts[0].label == "早班 A"
    (tombstone,) = [r for r in await rows(engine) if r.name == "night"]
    assert (tombstone.deleted_at, tombstone.version, tombstone.updated_by) == (T0, 2, "lead")
    # Another service (a fresh replica) with the same configuration: still not seeded.
    other = make_room(engine, People())
    await other.start()
    assert [s.name for s in other.rota.shifts] == ["early"]


def _fields(shift: Any) -> dict[str, Any]:
    return {name: getattr(shift, name) for name in shift.__dataclass_fields__}


# --- the API ------------------------------------------------------------------------------


class Client:
    client: TestClient[web.Request, web.Application]

    def __init__(self, engine: AsyncEngine, room: ShiftsRoom) -> None:
        self.engine = engine
        self.room = room

    async def call(
        self, method: str, path: str = PATH, body: Any = None, who: str = "lead"
    ) -> tuple[int, Any]:
        headers = {"Origin": ORIGIN, "X-Test-User": who}
        async with self.client.request(method, path, json=body, headers=headers) as response:
            return response.status, await response.json()

    async def state(self) -> tuple[list[Any], int, list[str]]:
        """What a refused request must leave as it was: the rows, the audit, the board."""
        stored = [
            (r.name, r.label, r.start_time, r.end_time, r.days, r.user_ids, r.team_ids, r.version)
            for r in await rows(self.engine)
        ]
        return stored, await audit_count(self.engine), [s.name for s in self.room.rota.shifts]


@pytest.fixture
async def api(engine: AsyncEngine) -> AsyncIterator[Client]:
    people = People()
    room = make_room(engine, people)
    await room.start()

    async def authenticate(request: web.Request) -> User | None:
        # The people as they are now (a test may add one).
        by_name = {u.username: u for u in people.users.values()}
        return by_name.get(request.headers.get("X-Test-User", ""))

    client = Client(engine, room)
    app = create_app([room], authenticate, public_origins=[ORIGIN])
    async with TestClient(TestServer(app)) as test_client:
        client.client = test_client
        yield client


def test_routes_are_declared() -> None:
    from callcenter.store.db import create_engine

    engine = create_engine("sqlite+aiosqlite://")  # never connected
    routes = make_room(engine, People()).routes()
    access = {r.key: r.access for r in routes if r.kind == "api"}
    assert access == {
        "GET /api/shifts": LOGIN,
        "GET /api/shifts/now": LOGIN,
        "POST /api/shifts": needs(P.SHIFTS_EDIT),
        "PUT /api/shifts/{name}": needs(P.SHIFTS_EDIT),
        "DELETE /api/shifts/{name}": needs(P.SHIFTS_EDIT),
    }
    assert all(r.tag == "shifts" and r.summary and r.response for r in routes if r.kind == "api")


async def test_everyone_reads_the_rota_and_only_supervisors_change_it(api: Client) -> None:
    status, rota = await api.call("GET", who="wang")
    assert status == 200, rota
    assert rota["may_edit"] is False
    assert rota["timezone"] == "Asia/Shanghai"
    assert rota["ending_soon_minutes"] == 30
    night = {s["name"]: s for s in rota["shifts"]}["night"]
    assert night["teams"] == [
        {"id": 10, "name": "front", "label_zh": "一线", "label_en": "Front line"}
    ]
    assert night["members"] == [
        {"id": 4, "name": "李雷", "disabled": False},
        {"id": 3, "name": "王芳", "disabled": False},
    ]
    assert night["others"] == 0
    assert (night["start"], night["end"], night["overnight"], night["days"]) == (
        "22:00",
        "06:00",
        True,
        ["mon"],
    )
    # The form's pick-lists are for those who may edit.
    assert (rota["people"], rota["teams"]) == ([], [])
    status, rota = await api.call("GET", who="lead")
    assert rota["may_edit"] is True
    assert {p["id"] for p in rota["people"]} == {1, 2, 3, 4, 5}  # no disabled user
    assert [t["id"] for t in rota["teams"]] == [10, 20]

    before = await api.state()
    for method, path, body in [
        ("POST", PATH, NEW),
        ("PUT", f"{PATH}/night", {**NEW, "version": 1}),
        ("DELETE", f"{PATH}/night", None),
    ]:
        body_ = {k: v for k, v in (body or {}).items() if not (method == "PUT" and k == "name")}
        status, answer = await api.call(method, path, body_ or None, who="wang")
        assert (status, answer["error"]) == (403, "forbidden"), answer
        status, answer = await api.call(method, path, body_ or None, who="nobody")
        assert (status, answer["error"]) == (401, "not-logged-in"), answer
    status, answer = await api.call("GET", who="nobody")
    assert status == 401
    assert await api.state() == before


async def test_create_edit_delete_with_audit_and_reload(api: Client) -> None:
    status, late = await api.call("POST", body=NEW)
    assert status == 201, late
    assert (late["name"], late["version"], late["updated_by"], late["overnight"]) == (
        "late",
        1,
        "lead",
        True,
    )
    assert late["members"] == [{"id": 5, "name": "赵敏", "disabled": False}]
    # The board has it at once: Monday 23:00 is inside 16:00-00:00.
    assert 5 in {s.user_id for s in api.room.rota.on_shift(T0) if s.shift == "late"}

    change = {k: v for k, v in NEW.items() if k != "name"}
    change.update(version=1, label="中班", team_ids=[20], days=["tue"])
    status, edited = await api.call("PUT", f"{PATH}/late", change)
    assert status == 200, edited
    assert (edited["version"], edited["label"], edited["days"], edited["team_ids"]) == (
        2,
        "中班",
        ["tue"],
        [20],
    )
    assert "late" not in {s.shift for s in api.room.rota.on_shift(T0)}

    # A stale version: refused with the stored shift, nothing changed.
    before = await api.state()
    status, stale = await api.call("PUT", f"{PATH}/late", {**change, "label": "x"})
    assert (status, stale["error"]) == (409, "stale-shift"), stale
    assert stale["shift"]["version"] == 2
    assert await api.state() == before

    status, gone = await api.call("DELETE", f"{PATH}/late")
    assert status == 200, gone
    assert (gone["deleted"], gone["shift"]["label"]) == (True, "中班")
    status, again = await api.call("DELETE", f"{PATH}/late")
    assert (status, again["error"]) == (404, "no-such-shift")
    assert "late" not in [s.name for s in api.room.rota.shifts]

    # A deleted name may be used again: the tombstone comes back at the next version.
    status, back = await api.call("POST", body=NEW)
    assert (status, back["version"]) == (201, 4), back

    async with AsyncSession(api.engine) as session:
        entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    assert [(e.action, e.target, e.username) for e in entries] == [
        ("shift.create", "late", "lead"),
        ("shift.update", "late", "lead"),
        ("shift.delete", "late", "lead"),
        ("shift.create", "late", "lead"),
    ]
    assert entries[1].parameters["before"]["label"] == "中班 / Late"
    assert entries[1].parameters["after"]["team_ids"] == [20]


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"user_ids": [99]}, 400, "unknown-user"),
        ({"user_ids": [6]}, 400, "unknown-user"),  # disabled
        ({"team_ids": [77]}, 400, "unknown-team"),
        ({"start": "08:00", "end": "08:00"}, 400, "invalid-body"),
        ({"start": "8:00"}, 400, "invalid-body"),
        ({"end": "24:00"}, 400, "invalid-body"),
        ({"days": []}, 400, "invalid-body"),
        ({"days": ["monday"]}, 400, "invalid-body"),
        ({"name": "Night Shift"}, 400, "invalid-body"),
        ({"label": "  "}, 400, "invalid-body"),
        ({"user_ids": list(range(1, 202))}, 400, "invalid-body"),
        ({"name": "night"}, 409, "shift-exists"),
    ],
)
async def test_bad_shifts_are_refused_and_nothing_changes(
    api: Client, change: dict[str, Any], status: int, error: str
) -> None:
    before = await api.state()
    got, answer = await api.call("POST", body={**NEW, **change})
    assert (got, answer["error"]) == (status, error), answer
    put = {k: v for k, v in {**NEW, **change}.items() if k != "name"}
    if error != "shift-exists" and "name" not in change:
        got, answer = await api.call("PUT", f"{PATH}/night", {**put, "version": 1})
        assert (got, answer["error"]) == (status, error), answer
    got, answer = await api.call("PUT", f"{PATH}/nothing", {**put, "version": 1})
    assert got in (400, 404), answer
    assert await api.state() == before


async def test_more_than_200_people_through_teams_is_refused(api: Client) -> None:
    people = api.room.people
    assert isinstance(people, People)
    crowd = frozenset(range(100, 301))
    for uid in crowd:
        people.users[uid] = User(uid, f"u{uid}", f"U{uid}", "agent")
    people.team_list.append(Team(30, "crowd", "大组", "Crowd", frozenset(), crowd, frozenset()))
    before = await api.state()
    status, answer = await api.call("POST", body={**NEW, "team_ids": [30]})
    assert (status, answer["error"], answer["members"]) == (400, "too-many-members", 202)
    assert await api.state() == before


async def test_now_is_scoped_to_the_callers_teams(api: Client) -> None:
    status, late = await api.call(
        "POST", body={**NEW, "user_ids": [5], "start": "15:00", "end": "23:20"}
    )
    assert status == 201, late
    status, now = await api.call("GET", f"{PATH}/now", who="lead")
    assert status == 200, now
    assert now["at"].startswith("2026-11-30T15:00:00")
    assert now["timezone"] == "Asia/Shanghai"
    assert [(s["user_id"], s["shift"]) for s in now["on_shift"]] == [
        (5, "late"),
        (3, "night"),
        (4, "night"),
    ]
    assert [(s["name"], s["end"][:16]) for s in now["ending_soon"]] == [
        ("赵敏", "2026-11-30T15:20")
    ]
    # Next within 12 h: Tuesday's early shift at 08:00 (00:00 UTC).
    assert [(s["user_id"], s["shift"], s["start"][:16]) for s in now["next"]] == [
        (5, "early", "2026-12-01T00:00")
    ]
    # An agent of the front line sees the front line (and themselves), not the back office.
    status, now = await api.call("GET", f"{PATH}/now", who="wang")
    assert status == 200, now
    assert [s["user_id"] for s in now["on_shift"]] == [3, 4]
    assert now["ending_soon"] == [] and now["next"] == []


async def test_another_replicas_edit_is_seen_at_the_next_reload(api: Client) -> None:
    other = make_room(api.engine, People())
    await other.start()
    status, _ = await api.call("POST", body=NEW)
    assert status == 201
    assert "late" not in [s.name for s in other.rota.shifts]
    await other.reload()
    assert "late" in [s.name for s in other.rota.shifts]


async def test_the_page_and_its_files_are_served(api: Client) -> None:
    async with api.client.get("/shifts") as response:
        assert response.status == 200
        assert "text/html" in response.headers["Content-Type"]
        assert 'id="rota"' in await response.text()
    for name in ("shifts.js", "shifts.css", "i18n.js"):
        async with api.client.get(f"/shifts/static/{name}") as response:
            assert response.status == 200, name


async def test_store_refusals(engine: AsyncEngine) -> None:
    room = make_room(engine, People())
    await room.start()
    night = await store.get_shift(engine, "night")
    assert night is not None
    with pytest.raises(store.ShiftExists):
        await store.create_shift(engine, night, "lead", T0)
    with pytest.raises(store.NoSuchShift):
        await store.update_shift(
            engine, type(night)(**{**_fields(night), "name": "x"}), 1, "lead", T0
        )
    await store.update_shift(engine, night, 1, "lead", T0 + timedelta(minutes=1))
    with pytest.raises(store.StaleShift) as stale:
        await store.update_shift(engine, night, 1, "lead", T0)
    assert stale.value.current.version == 2


# --- a disabled member is kept; only what an edit adds is checked -----------------------


def _as_read(shift: dict[str, Any], **change: Any) -> dict[str, Any]:
    """The PUT body of a shift as GET answered it, with ``change``."""
    keys = ("label", "start", "end", "days", "user_ids", "team_ids", "version")
    return {**{k: shift[k] for k in keys}, **change}


async def _read(api: Client, name: str, who: str = "lead") -> dict[str, Any]:
    status, rota = await api.call("GET", who=who)
    assert status == 200, rota
    found: dict[str, Any] = {s["name"]: s for s in rota["shifts"]}[name]
    return found


async def test_a_shift_keeps_a_disabled_member_and_a_deleted_team_through_an_edit(
    api: Client,
) -> None:
    people = api.room.people
    assert isinstance(people, People)
    # The accounts table names a disabled user (the agents room lists active ones only).
    async with AsyncSession(api.engine) as session, session.begin():
        session.add(
            UserRow(
                id=3,
                username="wang",
                display_name="王芳",
                role="agent",
                password_hash="x",
                disabled=True,
                created_at=T0,
                updated_at=T0,
            )
        )
    body = {**NEW, "name": "mixed", "user_ids": [3, 5], "team_ids": [20]}
    status, made = await api.call("POST", body=body)
    assert status == 201, made
    people.disabled.add(3)
    people.team_list.remove(BACK)
    # Before the board's reload too, "now" leaves a disabled user out.
    status, now = await api.call("GET", f"{PATH}/now")
    assert status == 200, now
    assert 3 not in {s["user_id"] for s in now["on_shift"]}
    await api.room.reload()
    shift = await _read(api, "mixed")
    # Still held, named and marked; not a member (on no shift) while disabled.
    assert shift["user_ids"] == [3, 5]
    assert shift["users"] == [
        {"id": 3, "name": "王芳", "disabled": True},
        {"id": 5, "name": "赵敏", "disabled": False},
    ]
    assert [m["id"] for m in shift["members"]] == [5]
    assert shift["teams"] == [{"id": 20, "name": "#20", "label_zh": "", "label_en": ""}]

    # Put back as read with a new label: accepted, the disabled member and the team kept.
    status, edited = await api.call("PUT", f"{PATH}/mixed", _as_read(shift, label="Mixed 2"))
    assert status == 200, edited
    assert (edited["label"], edited["user_ids"], edited["team_ids"]) == ("Mixed 2", [3, 5], [20])
    (row,) = [r for r in await rows(api.engine) if r.name == "mixed"]
    assert (row.user_ids, row.team_ids, row.version) == ([3, 5], [20], 2)

    # ADDING a disabled or unknown user, or an unknown team, is still refused.
    before = await api.state()
    for change, error in [
        ({"user_ids": [3, 5, 6]}, "unknown-user"),
        ({"user_ids": [3, 5, 99]}, "unknown-user"),
        ({"team_ids": [20, 77]}, "unknown-team"),
    ]:
        status, answer = await api.call("PUT", f"{PATH}/mixed", _as_read(edited, **change))
        assert (status, answer["error"]) == (400, error), answer
        assert answer.get("user_ids", answer.get("team_ids")) in ([6], [99], [77])
    # A stale version is a stale edit, not a bad member.
    status, answer = await api.call("PUT", f"{PATH}/mixed", _as_read(shift, user_ids=[6]))
    assert (status, answer["error"], answer["shift"]["version"]) == (409, "stale-shift", 2)
    assert await api.state() == before

    # Enabled again: back on the shift, as documented.
    people.disabled.discard(3)
    await api.room.reload()
    assert 3 in api.room.rota.members("mixed")
    # And an edit may drop them.
    status, dropped = await api.call("PUT", f"{PATH}/mixed", _as_read(edited, user_ids=[5]))
    assert (status, dropped["user_ids"]) == (200, [5]), dropped


# --- what a caller who may not edit reads ---------------------------------------------------


async def test_an_agent_reads_the_whole_rota_but_only_their_own_teams_names(
    api: Client,
) -> None:
    people = api.room.people
    assert isinstance(people, People)
    people.users[7] = User(7, "solo", "独行", "agent")  # in no team
    status, _ = await api.call("POST", body={**NEW, "user_ids": [5, 7]})
    assert status == 201

    def seen(rota: dict[str, Any]) -> dict[str, tuple[list[int], list[int], int]]:
        return {
            s["name"]: ([m["id"] for m in s["members"]], s["user_ids"], s["others"])
            for s in rota["shifts"]
        }

    # wang (front line): the front line's names; zhao of the back office only counted.
    status, rota = await api.call("GET", who="wang")
    assert status == 200, rota
    assert seen(rota) == {
        "early": ([], [], 1),
        "late": ([], [], 2),
        "night": ([4, 3], [], 0),
    }
    assert (rota["people"], rota["teams"]) == ([], [])
    # Every shift is listed, with its times and teams (the rota is public in the centre).
    night = {s["name"]: s for s in rota["shifts"]}["night"]
    assert [t["name"] for t in night["teams"]] == ["front"]
    assert "赵敏" not in str(rota) and "独行" not in str(rota)

    # zhao (back office): their own name, nobody of the front line.
    status, rota = await api.call("GET", who="zhao")
    assert seen(rota) == {
        "early": ([5], [5], 0),
        "late": ([5], [5], 1),
        "night": ([], [], 2),
    }
    assert "王芳" not in str(rota) and "李雷" not in str(rota)

    # solo (no team): themselves only.
    status, rota = await api.call("GET", who="solo")
    assert seen(rota)["late"] == ([7], [7], 1)
    assert seen(rota)["night"] == ([], [], 2)

    # Those who may edit read every name.
    status, rota = await api.call("GET", who="lead")
    assert seen(rota)["late"] == ([7, 5], [5, 7], 0)


# --- two re-creations of a deleted shift at once ------------------------------------------


async def test_two_recreations_of_a_deleted_shift_at_once_one_wins(api: Client) -> None:
    status, _ = await api.call("POST", body=NEW)
    assert status == 201
    status, _ = await api.call("DELETE", f"{PATH}/late")
    assert status == 200
    audited = await audit_count(api.engine)
    answers = await asyncio.gather(
        api.call("POST", body={**NEW, "label": "A"}),
        api.call("POST", body={**NEW, "label": "B"}),
    )
    assert sorted((status, body.get("error")) for status, body in answers) == [
        (201, None),
        (409, "shift-exists"),
    ]
    (winner,) = [body for status, body in answers if status == 201]
    (row,) = [r for r in await rows(api.engine) if r.name == "late"]
    assert (row.label, row.version, row.deleted_at) == (winner["label"], 3, None)
    assert winner["version"] == 3
    assert await audit_count(api.engine) == audited + 1


async def test_the_store_recreates_a_deleted_shift_once_when_asked_twice_at_once(
    engine: AsyncEngine,
) -> None:
    room = make_room(engine, People())
    await room.start()
    night = await store.get_shift(engine, "night")
    assert night is not None
    await store.delete_shift(engine, "night", "lead", T0)
    results = await asyncio.gather(
        *(
            store.create_shift(engine, replace(night, label=label), "lead", T0)
            for label in ("A", "B", "C")
        ),
        return_exceptions=True,
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, store.ShiftExists)]
    assert (len(made), len(refused)) == (1, 2), results
    stored = await store.get_shift(engine, "night")
    assert stored is not None
    assert (stored.label, stored.version) == (made[0].label, 3)
