"""The IVR room on its own: its FastAGI server answers lookups from the customer directory's
memory (the directory the customer directory room keeps), with no database round trip."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.customers.directory import CustomerDirectory
from callcenter.customers.index import Customer
from callcenter.customers.repo import past_call
from callcenter.ivr.agi import AgiChannel, AgiRequest
from callcenter.ivr.room import IvrRoom
from callcenter.settings import FastAgiSettings, IvrSettings
from callcenter.store.db import create_engine
from callcenter.store.migrate import upgrade_to_head
from tests.ivr.agi_client import call_route
from tests.records.helpers import call_record

ZONE = ZoneInfo("Asia/Shanghai")
# Port 0: any free port (the settings themselves ask for a real one).
ANY_PORT = FastAgiSettings.model_construct(host="127.0.0.1", port=0)
WANG = Customer(7, "王五", ("+8613800990001",), "7700", 2, "en", (), "")


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}")
    await upgrade_to_head(engine)
    yield engine
    await engine.dispose()


async def test_lookups_answer_from_the_directory_in_memory(sqlite: AsyncEngine) -> None:
    directory = CustomerDirectory(sqlite, "CN", 5, follow_up_overdue_days=30, zone=ZONE)
    directory.index.put(WANG)
    answered = call_record(
        1, caller_num="13800990001", joined_at=datetime.now(UTC) - timedelta(days=1)
    )
    directory.record_call("13800990001", past_call(answered))
    room = IvrRoom(
        IvrSettings(route_timeout_ms=3000),
        ANY_PORT,
        sqlite,
        directory,
        pbx_names=["rig"],
    )
    assert room.routes() == ()
    await room.start()
    try:
        port = room.server.bound_port
        call = await call_route(port, "lookup", ["rig", "13800990001", "", ""])
        assert call.variables["IVR_LOOKUP"] == "known"
        assert call.variables["CC_VIP"] == "2"
        assert call.variables["CC_STICKY_AGENT"] == "PJSIP/1001"
        by_account = await call_route(port, "lookup", ["rig", "1000", "7700", ""])
        assert by_account.variables["CC_VIP"] == "2"
        # A customer saved after the start is found at once: the room reads the live index.
        directory.index.put(Customer(8, "赵六", ("+8613900990002",), None, 1, "zh", (), ""))
        later = await call_route(port, "lookup", ["rig", "13900990002", "", ""])
        assert later.variables["CC_VIP"] == "1"
    finally:
        await room.stop()


async def _echo(request: AgiRequest, channel: AgiChannel) -> None:
    await channel.set_variable("ECHO", "|".join(request.args))


async def test_extra_routes_are_served_beside_the_ivr_routes(sqlite: AsyncEngine) -> None:
    directory = CustomerDirectory(sqlite, "CN", 5, follow_up_overdue_days=30, zone=ZONE)
    room = IvrRoom(
        IvrSettings(route_timeout_ms=3000),
        ANY_PORT,
        sqlite,
        directory,
        pbx_names=["rig"],
        extra_routes={"agent-sign-in": _echo},
    )
    await room.start()
    try:
        port = room.server.bound_port
        extra = await call_route(port, "agent-sign-in", ["rig", "8001"])
        assert extra.variables == {"ECHO": "rig|8001"}
        own = await call_route(port, "hours", ["rig"])
        assert set(own.variables) == {"IVR_HOURS"}
    finally:
        await room.stop()


@pytest.mark.parametrize("name", ["lookup", "survey", "bad name"])
async def test_an_extra_route_that_clashes_or_cannot_be_called_is_refused(
    sqlite: AsyncEngine, name: str
) -> None:
    directory = CustomerDirectory(sqlite, "CN", 5, follow_up_overdue_days=30, zone=ZONE)
    with pytest.raises(ValueError, match=name.split()[0]):
        IvrRoom(
            IvrSettings(),
            ANY_PORT,
            sqlite,
            directory,
            pbx_names=["rig"],
            extra_routes={"agent-sign-out": _echo, name: _echo},
        )
