"""The stored desired state of managed queues (table ``queue_settings``)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.queueconf.models import QueueSettingsRow
from callcenter.queueconf.spec import QueueSpec


def spec_of(row: QueueSettingsRow) -> QueueSpec:
    return QueueSpec.model_validate_json(row.settings, strict=False)


def dump_spec(spec: QueueSpec) -> str:
    return json.dumps(spec.model_dump(), sort_keys=True, ensure_ascii=False)


async def rows_of(session: AsyncSession, pbx: str, *, lock: bool) -> list[QueueSettingsRow]:
    """Every managed queue of one PBX, by id; ``lock``: held until the transaction ends, so
    two replicas (or two supervisors) apply one PBX's file one after the other."""
    query = select(QueueSettingsRow).where(QueueSettingsRow.pbx == pbx)
    if lock:
        query = query.with_for_update()
    return list((await session.scalars(query.order_by(QueueSettingsRow.id))).all())


async def load_all(engine: AsyncEngine) -> Sequence[QueueSettingsRow]:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        query = select(QueueSettingsRow).order_by(QueueSettingsRow.pbx, QueueSettingsRow.queue)
        return list((await session.scalars(query)).all())


async def load_one(engine: AsyncEngine, pbx: str, queue: str) -> QueueSettingsRow | None:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        return await session.scalar(
            select(QueueSettingsRow).where(
                QueueSettingsRow.pbx == pbx, QueueSettingsRow.queue == queue
            )
        )
