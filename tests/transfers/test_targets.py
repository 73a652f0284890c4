"""The transfer directory's storage and its admin API, on SQLite and on PostgreSQL.

Real parts: the database (migrated to head), the audit log, the HTTP stack (declared routes,
access, readers, problems); who is logged in is read from a test header, and the room's
reload is a counter.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.audit.log import AuditLog
from callcenter.audit.models import AuditEntry
from callcenter.auth.identity import User
from callcenter.auth.permissions import P
from callcenter.component import Room
from callcenter.settings import TransferTargetSettings
from callcenter.store.db import create_engine
from callcenter.transfers import targets
from callcenter.transfers.directory import Target
from callcenter.transfers.models import TransferTarget
from callcenter.transfers.targets_api import TargetsApi, TransferTargetData, TransferTargetList
from callcenter.web.app import create_app
from callcenter.web.http import Route, needs

T0 = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
ORIGIN = "http://console.test"
PATH = "/api/transfer-targets"
ADMIN = User(1, "root", "Root", "admin")
AGENT = User(2, "wang", "Wang Fang", "agent", ("PJSIP/1001",))
PEOPLE = {"root": ADMIN, "wang": AGENT}

SEEDS = [
    TransferTargetSettings(
        slug="billing", label_zh="账务组", label_en="Billing", tier=2, queue="billing"
    ),
    TransferTargetSettings(
        slug="managers",
        label_zh="值班经理",
        label_en="Duty managers",
        tier=3,
        kind="interfaces",
        interfaces=["PJSIP/9001", "PJSIP/9002"],
        escalation=True,
    ),
    TransferTargetSettings(
        slug="front", label_zh="一线", label_en="First line", tier=1, queue="support"
    ),
    TransferTargetSettings(
        slug="bank",
        label_zh="合作银行",
        label_en="Partner bank",
        tier=2,
        kind="external",
        number="+862150001234",
        trunk_context="from-trunk",
    ),
]
NEW: dict[str, Any] = {
    "slug": "tech",
    "label_zh": "技术支持",
    "label_en": "Tech support",
    "tier": 2,
    "kind": "queue",
    "queue": "tech",
}


async def rows(engine: AsyncEngine) -> list[TransferTarget]:
    async with AsyncSession(engine) as session:
        found = await session.scalars(select(TransferTarget).order_by(TransferTarget.slug))
        return list(found.all())


async def audit(engine: AsyncEngine) -> list[AuditEntry]:
    async with AsyncSession(engine) as session:
        return list((await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all())


# --- storage ------------------------------------------------------------------------------


async def test_seeding_adds_each_configured_target_once(engine: AsyncEngine) -> None:
    assert await targets.seed_targets(engine, SEEDS[:2], T0) == ["billing", "managers"]
    assert await targets.seed_targets(engine, SEEDS, T0 + timedelta(hours=1)) == ["front", "bank"]
    assert await targets.seed_targets(engine, SEEDS, T0 + timedelta(hours=2)) == []

    stored = await rows(engine)
    assert [r.slug for r in stored] == ["bank", "billing", "front", "managers"]
    assert {r.updated_by for r in stored} == {"config"}
    assert {r.slug: r.updated_at for r in stored} == {
        "billing": T0,
        "managers": T0,
        "front": T0 + timedelta(hours=1),
        "bank": T0 + timedelta(hours=1),
    }
    assert {r.version for r in stored} == {1}


async def test_seeding_leaves_what_admins_changed(engine: AsyncEngine) -> None:
    await targets.seed_targets(engine, SEEDS, T0)
    billing = await targets.get_target(engine, "billing")
    assert billing is not None
    changed = Target(**{**_fields(billing), "label_en": "Accounts", "enabled": False})
    await targets.update_target(engine, changed, 1, "root", T0 + timedelta(hours=1))
    assert await targets.seed_targets(engine, SEEDS, T0 + timedelta(hours=2)) == []
    now = await targets.get_target(engine, "billing")
    assert now is not None
    assert (now.label_en, now.enabled, now.version) == ("Accounts", False, 2)


async def test_two_replicas_seeding_at_once_store_each_target_once(engine: AsyncEngine) -> None:
    first, second = await asyncio.gather(
        targets.seed_targets(engine, SEEDS, T0), targets.seed_targets(engine, SEEDS, T0)
    )
    assert sorted(first + second) == sorted(s.slug for s in SEEDS)
    assert len(await rows(engine)) == len(SEEDS)


async def test_a_seed_its_kind_cannot_reach_is_refused(engine: AsyncEngine) -> None:
    broken = TransferTargetSettings(slug="x", label_zh="x", label_en="x", kind="interfaces")
    with pytest.raises(targets.IncompleteTarget, match="needs at least one interface"):
        await targets.seed_targets(engine, [SEEDS[0], broken], T0)
    assert await rows(engine) == []


async def test_the_directory_loads_by_tier_then_slug(engine: AsyncEngine) -> None:
    assert await targets.load_targets(engine) == []
    await targets.seed_targets(engine, SEEDS, T0)
    await targets.create_target(
        engine,
        Target("audit", "稽核", "Audit", 2, "queue", pbx="east", queue="audit", enabled=False),
        "root",
        T0,
    )
    loaded = await targets.load_targets(engine)
    assert [(t.tier, t.slug) for t in loaded] == [
        (1, "front"),
        (2, "audit"),
        (2, "bank"),
        (2, "billing"),
        (3, "managers"),
    ]
    managers = loaded[-1]
    assert managers == Target(
        slug="managers",
        label_zh="值班经理",
        label_en="Duty managers",
        tier=3,
        kind="interfaces",
        interfaces=("PJSIP/9001", "PJSIP/9002"),
        escalation=True,
    )
    audit_target = loaded[1]
    assert (audit_target.pbx, audit_target.enabled, audit_target.version) == ("east", False, 1)


async def test_store_changes_and_their_refusals(engine: AsyncEngine) -> None:
    await targets.seed_targets(engine, SEEDS[:1], T0)
    billing = Target("billing", "账务", "Billing", 2, "queue", queue="billing")
    with pytest.raises(targets.TargetExists):
        await targets.create_target(engine, billing, "root", T0)

    moved = Target(**{**_fields(billing), "queue": "billing2"})
    before, after = await targets.update_target(engine, moved, 1, "root", T0 + timedelta(1))
    assert (before.queue, before.version) == ("billing", 1)
    assert (after.queue, after.version) == ("billing2", 2)
    assert await targets.get_target(engine, "billing") == after

    with pytest.raises(targets.StaleTarget) as stale:
        await targets.update_target(engine, billing, 1, "root", T0)
    assert stale.value.current == after
    with pytest.raises(targets.NoSuchTarget):
        await targets.update_target(engine, Target(**{**_fields(billing), "slug": "x"}), 1, "r", T0)
    assert await targets.get_target(engine, "billing") == after

    (row,) = await rows(engine)
    assert (row.updated_by, row.updated_at) == ("root", T0 + timedelta(1))
    assert await targets.delete_target(engine, "billing") == after
    assert await targets.delete_target(engine, "billing") is None
    assert await rows(engine) == []


def _fields(target: Target) -> dict[str, Any]:
    return {name: getattr(target, name) for name in Target.__dataclass_fields__}


# --- the API ------------------------------------------------------------------------------


class Directory(Room):
    """The API's routes, as the transfers room offers them."""

    name = "transfers"

    def __init__(self, api: TargetsApi) -> None:
        self.api = api

    def routes(self) -> Sequence[Route]:
        return self.api.routes()


class Admin:
    """The directory behind HTTP; ``reloads`` counts the room's reloads."""

    client: TestClient[web.Request, web.Application]

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.reloads = 0
        self.api = TargetsApi(engine, AuditLog(engine), self.reload, clock=lambda: T0)

    async def reload(self) -> None:
        self.reloads += 1

    async def call(
        self, method: str, path: str = PATH, body: Any = None, who: str = "root"
    ) -> tuple[int, Any]:
        headers = {"Origin": ORIGIN, "X-Test-User": who}
        async with self.client.request(method, path, json=body, headers=headers) as response:
            return response.status, await response.json()

    async def state(self) -> tuple[list[Target], int, int]:
        """What a refused request must leave as it was: the directory, the audit trail, the
        reloads."""
        return await targets.load_targets(self.engine), len(await audit(self.engine)), self.reloads


@pytest.fixture
async def admin(engine: AsyncEngine) -> AsyncIterator[Admin]:
    admin = Admin(engine)

    async def authenticate(request: web.Request) -> User | None:
        return PEOPLE.get(request.headers.get("X-Test-User", ""))

    app = create_app([Directory(admin.api)], authenticate, public_origins=[ORIGIN])
    async with TestClient(TestServer(app)) as client:
        admin.client = client
        yield admin


def test_routes_are_declared_for_the_directory_editors() -> None:
    async def nothing() -> None:
        return None

    engine = create_engine("sqlite+aiosqlite://")  # never connected
    routes = TargetsApi(engine, AuditLog(engine), nothing).routes()
    assert {route.key: route.access for route in routes} == {
        "GET /api/transfer-targets": needs(P.TRANSFERS_EDIT),
        "POST /api/transfer-targets": needs(P.TRANSFERS_EDIT),
        "PUT /api/transfer-targets/{slug}": needs(P.TRANSFERS_EDIT),
        "DELETE /api/transfer-targets/{slug}": needs(P.TRANSFERS_EDIT),
    }
    assert all(r.tag == "transfers" and r.summary and r.response for r in routes)
    assert all(r.path_params for r in routes if "{slug}" in r.path)
    assert all(r.body for r in routes if r.method in ("POST", "PUT"))
    errors = {r.key: {p.error for p in r.errors} for r in routes}
    assert errors["POST /api/transfer-targets"] == {"target-exists", "incomplete-target"}
    assert errors["PUT /api/transfer-targets/{slug}"] == {
        "no-such-target",
        "stale-target",
        "incomplete-target",
    }
    assert errors["DELETE /api/transfer-targets/{slug}"] == {"no-such-target"}


async def test_only_directory_editors_may_call(admin: Admin) -> None:
    await targets.seed_targets(admin.engine, SEEDS, T0)
    before = await admin.state()
    for method, path, body in [
        ("GET", PATH, None),
        ("POST", PATH, NEW),
        ("PUT", f"{PATH}/billing", {**NEW, "version": 1}),
        ("DELETE", f"{PATH}/billing", None),
    ]:
        status, answer = await admin.call(method, path, body, who="nobody")
        assert (status, answer["error"]) == (401, "not-logged-in"), answer
        status, answer = await admin.call(method, path, body, who="wang")
        assert (status, answer["error"]) == (403, "forbidden"), answer
    assert await admin.state() == before


async def test_list_create_update_delete_with_audit(admin: Admin) -> None:
    await targets.seed_targets(admin.engine, SEEDS, T0)
    status, listed = await admin.call("GET")
    assert status == 200, listed
    assert [t.slug for t in TransferTargetList.model_validate(listed).targets] == [
        "front",
        "bank",
        "billing",
        "managers",
    ]
    assert listed["targets"][-1] == {
        "slug": "managers",
        "label_zh": "值班经理",
        "label_en": "Duty managers",
        "tier": 3,
        "kind": "interfaces",
        "pbx": None,
        "queue": None,
        "interfaces": ["PJSIP/9001", "PJSIP/9002"],
        "number": None,
        "trunk_context": None,
        "escalation": True,
        "enabled": True,
        "version": 1,
    }

    # Create: the defaults filled in, labels trimmed.
    status, created = await admin.call(
        "POST", body={**NEW, "label_en": " Tech support ", "pbx": "east"}
    )
    assert status == 201, created
    assert TransferTargetData.model_validate(created).model_dump() == created
    assert created == {
        **NEW,
        "pbx": "east",
        "interfaces": [],
        "number": None,
        "trunk_context": None,
        "escalation": False,
        "enabled": True,
        "version": 1,
    }
    assert admin.reloads == 1
    (row,) = [r for r in await rows(admin.engine) if r.slug == "tech"]
    assert (row.updated_by, row.updated_at) == ("root", T0)

    # Update: the whole target, with the version read.
    change = {k: v for k, v in created.items() if k != "slug"}
    change.update(kind="interfaces", interfaces=["PJSIP/2001"], queue=None, enabled=False)
    status, updated = await admin.call("PUT", f"{PATH}/tech", change)
    assert status == 200, updated
    assert updated == {**change, "slug": "tech", "version": 2}
    assert admin.reloads == 2
    stored = await targets.get_target(admin.engine, "tech")
    assert stored is not None and stored.interfaces == ("PJSIP/2001",) and not stored.enabled

    # Delete: what it was comes back.
    status, deleted = await admin.call("DELETE", f"{PATH}/tech")
    assert (status, deleted) == (200, {"deleted": True, "slug": "tech", "target": updated})
    assert admin.reloads == 3
    assert await targets.get_target(admin.engine, "tech") is None
    status, answer = await admin.call("DELETE", f"{PATH}/tech")
    assert (status, answer["error"], answer["slug"]) == (404, "no-such-target", "tech"), answer

    entries = await audit(admin.engine)
    assert [(e.action, e.target, e.username, e.ok) for e in entries] == [
        ("transfer.target.create", "tech", "root", True),
        ("transfer.target.update", "tech", "root", True),
        ("transfer.target.delete", "tech", "root", True),
    ]
    create, update, delete = (e.parameters for e in entries)
    assert create == {"before": None, "after": created}
    assert update == {"before": created, "after": updated}
    assert delete == {"before": updated, "after": None}
    assert admin.reloads == 3


async def test_a_used_slug_is_refused(admin: Admin) -> None:
    await targets.seed_targets(admin.engine, SEEDS, T0)
    before = await admin.state()
    status, answer = await admin.call("POST", body={**NEW, "slug": "billing"})
    assert (status, answer["error"], answer["slug"]) == (409, "target-exists", "billing"), answer
    assert await admin.state() == before


async def test_a_stale_version_changes_nothing(admin: Admin) -> None:
    await targets.seed_targets(admin.engine, SEEDS, T0)
    status, billing = await admin.call(
        "PUT", f"{PATH}/billing", {**_change(SEEDS[0]), "label_en": "Accounts", "version": 1}
    )
    assert status == 200, billing
    before = await admin.state()

    status, answer = await admin.call(
        "PUT", f"{PATH}/billing", {**_change(SEEDS[0]), "tier": 3, "version": 1}
    )
    assert (status, answer["error"]) == (409, "stale-target"), answer
    assert answer["target"] == billing and billing["version"] == 2
    assert "version 2" in answer["message"]
    assert await admin.state() == before

    status, answer = await admin.call("PUT", f"{PATH}/nowhere", {**_change(SEEDS[0]), "version": 1})
    assert (status, answer["error"]) == (404, "no-such-target"), answer
    assert await admin.state() == before


def _change(seed: TransferTargetSettings) -> dict[str, Any]:
    return seed.model_dump(exclude={"slug"})


INCOMPLETE: list[tuple[dict[str, Any], str, str]] = [
    ({"kind": "queue", "queue": None}, "queue", "needs its queue"),
    ({"kind": "interfaces", "interfaces": []}, "interfaces", "at least one interface"),
    ({"kind": "interfaces", "interfaces": ["1001"]}, "interfaces", "'1001' is not an interface"),
    ({"kind": "interfaces", "interfaces": ["PJSIP/1001", "PJSIP/a b"]}, "interfaces", "a b"),
    ({"interfaces": ["PJSIP/1001\n"]}, "interfaces", "not an interface"),
    ({"kind": "interfaces", "interfaces": ["PJSIP/" + "1" * 80] * 5}, "interfaces", "Dial()"),
    ({"kind": "external", "number": "+8610", "trunk_context": None}, "trunk_context", "needs"),
    ({"kind": "external", "trunk_context": "out"}, "number", "needs number and trunk_context"),
]


@pytest.mark.parametrize(("fields", "field", "message"), INCOMPLETE)
async def test_a_target_its_kind_cannot_reach_changes_nothing(
    admin: Admin, fields: dict[str, Any], field: str, message: str
) -> None:
    await targets.seed_targets(admin.engine, SEEDS, T0)
    before = await admin.state()
    status, answer = await admin.call("POST", body={**NEW, **fields})
    assert (status, answer["error"], answer["field"]) == (400, "incomplete-target", field)
    assert message in answer["message"] and answer["slug"] == "tech"
    change = {**_change(SEEDS[0]), **fields, "version": 1}
    status, answer = await admin.call("PUT", f"{PATH}/billing", change)
    assert (status, answer["error"], answer["field"]) == (400, "incomplete-target", field)
    assert await admin.state() == before


INVALID: list[dict[str, Any]] = [
    {**NEW, "slug": "Tech"},  # slugs are lower case
    {**NEW, "slug": "-tech"},
    {**NEW, "slug": "t" * 41},
    {**NEW, "colour": "red"},
    {**NEW, "label_zh": "技术\x00支持"},
    {**NEW, "label_en": "Tech\nsupport"},
    {**NEW, "label_en": "   "},
    {**NEW, "label_en": "x" * 81},
    {**NEW, "tier": 0},
    {**NEW, "tier": 10},
    {**NEW, "tier": "2"},  # strict: no strings for numbers
    {**NEW, "kind": "phone"},
    {**NEW, "pbx": "east west"},
    {**NEW, "pbx": "p" * 33},
    {**NEW, "queue": "tech;support"},
    {**NEW, "number": "phone"},
    {**NEW, "trunk_context": "a/b"},
    {**NEW, "interfaces": "PJSIP/1001"},
    {**NEW, "interfaces": ["PJSIP/1"] * 17},
    {**NEW, "enabled": "yes"},
    {k: v for k, v in NEW.items() if k != "label_zh"},
]


async def test_bodies_out_of_pattern_are_refused(admin: Admin) -> None:
    await targets.seed_targets(admin.engine, SEEDS, T0)
    before = await admin.state()
    for body in INVALID:
        status, answer = await admin.call("POST", body=body)
        assert (status, answer["error"]) == (400, "invalid-body"), (body, answer)
    change = {**_change(SEEDS[0]), "version": 1}
    for body in [
        {**change, "slug": "billing"},  # the slug is the path's
        {k: v for k, v in change.items() if k != "version"},
        {**change, "version": 0},
        {**change, "version": "1"},
        {**change, "label_en": "\x7f"},
    ]:
        status, answer = await admin.call("PUT", f"{PATH}/billing", body)
        assert (status, answer["error"]) == (400, "invalid-body"), (body, answer)
    for method, sent in [("PUT", change), ("DELETE", None)]:
        status, answer = await admin.call(method, f"{PATH}/Billing", sent)
        assert (status, answer["error"]) == (400, "invalid-path"), answer
    assert await admin.state() == before
