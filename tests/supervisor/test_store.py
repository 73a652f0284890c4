"""The supervisor room's tables on SQLite and PostgreSQL: caller claims per join, and desired
state following the PBX."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.live import MemberView
from callcenter.supervisor import store
from callcenter.supervisor.plan import DesiredMember

JOINED = datetime(2026, 11, 23, 8, 0, 0, 123456, tzinfo=UTC)


async def claim(
    engine: AsyncEngine, joined_at: datetime, queue: str = "support", action: str = "move"
) -> bool:
    return await store.claim_caller(
        engine,
        pbx="rig",
        uniqueid="1700000000.7",
        queue=queue,
        joined_at=joined_at,
        action=action,
        destination="hotline-select,complaints,1",
        username="lead",
        at=joined_at + timedelta(seconds=30),
    )


async def test_one_join_is_claimed_once_and_a_return_to_the_queue_is_a_new_caller(
    engine: AsyncEngine,
) -> None:
    assert await claim(engine, JOINED)
    assert not await claim(engine, JOINED, action="withdraw")  # second click / replica
    # Moved away, then back to support (overflow back, or through the IVR again).
    back = JOINED + timedelta(minutes=3)
    assert await claim(engine, back, action="withdraw")
    assert not await claim(engine, back)
    first = await store.caller_claim(engine, "rig", "1700000000.7", "support", JOINED)
    second = await store.caller_claim(engine, "rig", "1700000000.7", "support", back)
    assert first is not None and first.action == "move" and first.joined_at == JOINED
    assert second is not None and second.action == "withdraw"


async def test_releasing_a_refused_claim_frees_only_that_join(engine: AsyncEngine) -> None:
    back = JOINED + timedelta(minutes=3)
    assert await claim(engine, JOINED)
    assert await claim(engine, back)
    await store.release_caller(engine, "rig", "1700000000.7", "support", back)
    assert await store.caller_claim(engine, "rig", "1700000000.7", "support", back) is None
    assert await store.caller_claim(engine, "rig", "1700000000.7", "support", JOINED)
    assert await claim(engine, back)
    assert not await claim(engine, JOINED)


def member_view(paused: bool, reason: str = "") -> MemberView:
    return MemberView(
        "rig",
        "support",
        "PJSIP/1002",
        "Agent 1002",
        "PJSIP/1002",
        1,
        "paused" if paused else "available",
        paused,
        reason,
        0,
        None,
        0,
        None,
        False,
        "static",
        0,
    )


async def store_pause(engine: AsyncEngine, at: datetime) -> None:
    async with AsyncSession(engine) as session, session.begin():
        await store.save_desired(
            session,
            DesiredMember(
                "rig",
                "support",
                "PJSIP/1002",
                paused=True,
                paused_reason="质检 QA",
                set_by="lead",
                set_at=at,
            ),
        )


async def test_a_later_unpause_on_the_pbx_replaces_the_stored_pause(engine: AsyncEngine) -> None:
    await store_pause(engine, JOINED)
    later = JOINED + timedelta(minutes=1)
    changed = await store.follow_pbx_change(
        engine, "rig", "support", "PJSIP/1002", "QueueMemberPause", member_view(False), later
    )
    assert changed is not None
    (stored,) = await store.load_desired(engine, "rig")
    assert (stored.paused, stored.paused_reason, stored.set_by, stored.set_at) == (
        False,
        "",
        "pbx",
        later,
    )
    # Removed on the PBX: nothing left to re-apply.
    assert await store.follow_pbx_change(
        engine,
        "rig",
        "support",
        "PJSIP/1002",
        "QueueMemberRemoved",
        None,
        later + timedelta(seconds=1),
    )
    assert await store.load_desired(engine, "rig") == []


async def test_a_change_older_than_the_stored_row_or_of_an_unknown_member_is_ignored(
    engine: AsyncEngine,
) -> None:
    await store_pause(engine, JOINED)
    earlier = JOINED - timedelta(seconds=1)
    assert (
        await store.follow_pbx_change(
            engine, "rig", "support", "PJSIP/1002", "QueueMemberPause", member_view(False), earlier
        )
        is None
    )
    assert (
        await store.follow_pbx_change(
            engine,
            "rig",
            "support",
            "PJSIP/1001",
            "QueueMemberPause",
            member_view(False),
            JOINED + timedelta(minutes=1),
        )
        is None
    )
    (stored,) = await store.load_desired(engine, "rig")
    assert (stored.paused, stored.paused_reason, stored.set_by) == (True, "质检 QA", "lead")
    assert len(await store.load_desired(engine, "rig")) == 1
