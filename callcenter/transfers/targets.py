"""Database side of the transfer directory: the targets seeded from the configuration at the
first start, then edited by admins (``targets_api.py``). Each function is one short
transaction; what it reads or writes comes back as the pure ``directory.Target``.

Changes are whole replacements guarded by the target's ``version``: an update names the
version it was read at, and a target changed meanwhile is refused (``StaleTarget``), never
overwritten.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.settings import _INTERFACE, TransferTargetSettings
from callcenter.transfers.directory import Target
from callcenter.transfers.models import TransferTarget

log = logging.getLogger(__name__)

KINDS = ("queue", "interfaces", "external")
SEEDED_BY = "config"
# What a ``interfaces`` target gives Dial() must fit ``transfers.target_dial``.
MAX_DIAL = 400


class TargetExists(Exception):
    """A target of that slug is in the directory already (the slug in ``args[0]``)."""


class NoSuchTarget(Exception):
    """No target of that slug (the slug in ``args[0]``)."""


class StaleTarget(Exception):
    """The target changed since the version the caller read; ``current`` is how it is now."""

    def __init__(self, current: Target, version: int) -> None:
        super().__init__(
            f"transfer target {current.slug} is at version {current.version}, not {version}"
        )
        self.current = current
        self.version = version


class IncompleteTarget(ValueError):
    """A target whose fields give no way to reach it (a queue target without a queue, ...);
    ``field`` names the field to fix."""

    def __init__(self, slug: str, field: str, message: str) -> None:
        super().__init__(f"transfer target {slug}: {message}")
        self.slug = slug
        self.field = field


def check_target(target: Target) -> None:
    """``IncompleteTarget`` unless the PBX can reach ``target`` by its kind."""
    slug = target.slug
    for interface in target.interfaces:
        if not _INTERFACE.fullmatch(interface):
            raise IncompleteTarget(
                slug,
                "interfaces",
                f"{interface!r} is not an interface (technology/resource, e.g. PJSIP/1001)",
            )
    if target.kind == "queue":
        if not target.queue:
            raise IncompleteTarget(slug, "queue", "a target of kind queue needs its queue")
    elif target.kind == "interfaces":
        if not target.interfaces:
            raise IncompleteTarget(
                slug, "interfaces", "a target of kind interfaces needs at least one interface"
            )
        dial = len("&".join(target.interfaces))
        if dial > MAX_DIAL:
            raise IncompleteTarget(
                slug,
                "interfaces",
                f"the interfaces make a Dial() of {dial} characters, at most {MAX_DIAL}",
            )
    elif target.kind == "external":
        if not (target.number and target.trunk_context):
            missing = "number" if not target.number else "trunk_context"
            raise IncompleteTarget(
                slug, missing, "a target of kind external needs number and trunk_context"
            )
    else:
        raise IncompleteTarget(slug, "kind", f"kind must be one of {', '.join(KINDS)}")


def to_target(row: TransferTarget) -> Target:
    return Target(
        slug=row.slug,
        label_zh=row.label_zh,
        label_en=row.label_en,
        tier=row.tier,
        kind=row.kind,
        pbx=row.pbx,
        queue=row.queue,
        interfaces=tuple(row.interfaces or ()),
        number=row.number,
        trunk_context=row.trunk_context,
        escalation=row.escalation,
        enabled=row.enabled,
        version=row.version,
    )


def seed_target(seed: TransferTargetSettings) -> Target:
    """The target a ``[[transfers.target]]`` entry describes (on every PBX, enabled)."""
    return Target(
        slug=seed.slug,
        label_zh=seed.label_zh,
        label_en=seed.label_en,
        tier=seed.tier,
        kind=seed.kind,
        queue=seed.queue,
        interfaces=tuple(seed.interfaces),
        number=seed.number,
        trunk_context=seed.trunk_context,
        escalation=seed.escalation,
    )


def _values(target: Target) -> dict[str, Any]:
    """The row's columns a change replaces (all but id, version and who/when)."""
    return {
        "label_zh": target.label_zh,
        "label_en": target.label_en,
        "tier": target.tier,
        "kind": target.kind,
        "pbx": target.pbx,
        "queue": target.queue,
        "interfaces": list(target.interfaces),
        "number": target.number,
        "trunk_context": target.trunk_context,
        "escalation": target.escalation,
        "enabled": target.enabled,
    }


def _new_row(target: Target, by: str, at: datetime) -> TransferTarget:
    return TransferTarget(
        slug=target.slug, version=1, updated_by=by[:80], updated_at=at, **_values(target)
    )


async def _slugs(engine: AsyncEngine) -> set[str]:
    async with AsyncSession(engine) as session:
        return set((await session.scalars(select(TransferTarget.slug))).all())


async def seed_targets(
    engine: AsyncEngine, seeds: Sequence[TransferTargetSettings], at: datetime
) -> list[str]:
    """Store the configured targets whose slug is not in the directory yet; the slugs added,
    in the order of ``seeds``. A target there already is left as admins made it. Each one
    goes in on its own: two replicas seeding at once both succeed, whichever stores a slug
    first wins it (the other's IntegrityError on the unique slug is no failure)."""
    targets = [seed_target(seed) for seed in seeds]
    for target in targets:
        check_target(target)
    present = await _slugs(engine)
    added: list[str] = []
    for target in targets:
        if target.slug in present:
            continue
        try:
            async with AsyncSession(engine) as session, session.begin():
                session.add(_new_row(target, SEEDED_BY, at))
        except IntegrityError:
            log.info("transfer target %s was seeded by another replica", target.slug)
            continue
        added.append(target.slug)
    if added:
        log.info("transfer directory seeded with %s", ", ".join(added))
    return added


async def load_targets(engine: AsyncEngine) -> list[Target]:
    """The whole directory, disabled targets included, by tier then slug."""
    async with AsyncSession(engine) as session:
        rows = (
            await session.scalars(
                select(TransferTarget).order_by(TransferTarget.tier, TransferTarget.slug)
            )
        ).all()
    return [to_target(row) for row in rows]


async def get_target(engine: AsyncEngine, slug: str) -> Target | None:
    async with AsyncSession(engine) as session:
        row = await session.scalar(select(TransferTarget).where(TransferTarget.slug == slug))
        return None if row is None else to_target(row)


async def create_target(engine: AsyncEngine, target: Target, by: str, at: datetime) -> Target:
    """Store a new target at version 1 (``target.version`` is not read); ``TargetExists``
    when its slug is taken, ``IncompleteTarget`` when it cannot be reached."""
    check_target(target)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            row = _new_row(target, by, at)
            session.add(row)
            await session.flush()
            return to_target(row)
    except IntegrityError:
        raise TargetExists(target.slug) from None


async def update_target(
    engine: AsyncEngine, target: Target, version: int, by: str, at: datetime
) -> tuple[Target, Target]:
    """Replace the target of ``target.slug`` with ``target``, if it is still at ``version``:
    (before, after), after at the next version. ``NoSuchTarget``, ``StaleTarget`` (with the
    stored target) or ``IncompleteTarget``; nothing is changed then."""
    check_target(target)
    slug = target.slug
    by_slug = select(TransferTarget).where(TransferTarget.slug == slug)
    async with AsyncSession(engine) as session, session.begin():
        row = await session.scalar(by_slug.with_for_update())
        if row is None:
            raise NoSuchTarget(slug)
        before = to_target(row)
        if before.version != version:
            raise StaleTarget(before, version)
        # Guarded by the version too: a writer that slipped in between is not overwritten.
        changed = await session.execute(
            update(TransferTarget)
            .where(TransferTarget.slug == slug, TransferTarget.version == version)
            .values(version=version + 1, updated_by=by[:80], updated_at=at, **_values(target))
            .execution_options(synchronize_session=False)
        )
        if not getattr(changed, "rowcount", 0):
            now = await session.scalar(by_slug.execution_options(populate_existing=True))
            if now is None:
                raise NoSuchTarget(slug)
            raise StaleTarget(to_target(now), version)
    return before, replace(target, version=version + 1)


async def delete_target(engine: AsyncEngine, slug: str) -> Target | None:
    """Remove one target; what it was, or None when there was none of that slug."""
    async with AsyncSession(engine) as session, session.begin():
        row = await session.scalar(
            select(TransferTarget).where(TransferTarget.slug == slug).with_for_update()
        )
        if row is None:
            return None
        before = to_target(row)
        await session.execute(delete(TransferTarget).where(TransferTarget.id == row.id))
    return before
