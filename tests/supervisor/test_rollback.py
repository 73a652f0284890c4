"""Nothing half-done: a multi-queue action that the PBX refuses midway is undone.

The PBX side here is a scripted AMI sender (a refusal cannot be provoked on demand on the
rig between two removes of one request); the live model and the SQLite store are real.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.agents.scope import EveryTeam
from callcenter.ami.errors import AmiRefused
from callcenter.audit.models import AuditEntry
from callcenter.auth.identity import User
from callcenter.live import LiveModel, parse_event
from callcenter.store.db import create_engine
from callcenter.store.migrate import upgrade_to_head
from callcenter.supervisor.control import Control, ControlError
from callcenter.supervisor.models import DesiredMember
from tests.supervisor.helpers import member_event

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
BOSS = User(7, "lead", "Lead", "supervisor")


class ScriptedPbx:
    name = "rig"

    def __init__(self, refuse: Mapping[tuple[str, str], str]) -> None:
        self.refuse = refuse
        self.sent: list[dict[str, str]] = []

    async def send(
        self, fields: Mapping[str, str], *, as_list: bool = False, timeout: float | None = None
    ) -> Any:
        self.sent.append(dict(fields))
        reason = self.refuse.get((fields["Action"], fields.get("Queue", "")))
        if reason:
            raise AmiRefused("rig", f"{fields['Action']}: {reason}")
        return {"Response": "Success"}


@pytest.fixture
async def engine(tmp_path: Path) -> Any:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    await upgrade_to_head(engine)
    yield engine
    await engine.dispose()


def control_with(pbx: ScriptedPbx, engine: Any) -> Control:
    model = LiveModel()
    for queue in ("aftersales", "complaints", "consultation"):
        event = parse_event("rig", member_event(queue, "PJSIP/1004"), NOW)
        assert event is not None
        model.apply(event)

    async def no_resync(pbx: str) -> None:
        return None

    return Control(
        model,
        lambda name: pbx if name == "rig" else None,
        engine,
        lambda text: None,
        no_resync,
        scopes=EveryTeam(),
        move_context="hotline-select",
        spy_caller_id="Supervisor",
        clock=lambda: NOW,
    )


async def test_logout_refused_midway_puts_back_the_queues_already_left(engine: Any) -> None:
    pbx = ScriptedPbx({("QueueRemove", "consultation"): "Unable to remove interface"})
    control = control_with(pbx, engine)
    with pytest.raises(ControlError) as raised:
        await control.logout_agent(BOSS, "PJSIP/1004", None)
    error = raised.value
    assert (error.status, error.error) == (502, "pbx-refused")
    assert error.details["failed"] == "remove PJSIP/1004 in consultation"
    assert error.details["rolled_back"] == [
        "remove PJSIP/1004 in complaints",
        "remove PJSIP/1004 in aftersales",
    ]
    assert error.details["not_rolled_back"] == []
    # Removed from two queues, refused on the third, then re-added (newest first) exactly
    # as they were: name, penalty, pause and its reason, ring-in-use.
    assert [(f["Action"], f.get("Queue")) for f in pbx.sent] == [
        ("QueueRemove", "aftersales"),
        ("QueueRemove", "complaints"),
        ("QueueRemove", "consultation"),
        ("QueueAdd", "complaints"),
        ("QueueMemberRingInUse", "complaints"),
        ("QueueAdd", "aftersales"),
        ("QueueMemberRingInUse", "aftersales"),
    ]
    readd = pbx.sent[3]
    assert (readd["MemberName"], readd["Penalty"], readd["Paused"], readd["Reason"]) == (
        "Agent 1004",
        "2",
        "true",
        "training",
    )
    async with AsyncSession(engine) as session:
        assert (await session.execute(select(DesiredMember))).scalars().all() == []
        audit = (await session.execute(select(AuditEntry))).scalar_one()
    assert (audit.action, audit.ok, audit.username) == ("agent.logout", False, "lead")
    assert audit.message.startswith("QueueRemove: Unable to remove interface; rolled back:")


async def test_logout_stores_the_desired_absence_when_all_went_well(engine: Any) -> None:
    pbx = ScriptedPbx({})
    control = control_with(pbx, engine)
    outcome = await control.logout_agent(BOSS, "PJSIP/1004", None)
    assert len(outcome.done) == 3
    async with AsyncSession(engine) as session:
        rows = (await session.execute(select(DesiredMember))).scalars().all()
    assert sorted((r.queue, r.present, r.set_by) for r in rows) == [
        ("aftersales", False, "lead"),
        ("complaints", False, "lead"),
        ("consultation", False, "lead"),
    ]
