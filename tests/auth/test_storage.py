"""Users, sessions and customers in the database, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.auth import users
from callcenter.auth.sessions import SessionStore
from callcenter.customers import repo
from callcenter.customers.directory import CustomerDirectory


async def test_users_are_created_listed_and_unique(engine: AsyncEngine) -> None:
    created = await users.add_user(
        engine,
        "zhang",
        "walnut-cobalt-ferry",
        role="agent",
        display_name="张三",
        interfaces=["PJSIP/1001"],
    )
    assert created.display_name == "张三" and created.interfaces == ("PJSIP/1001",)
    with pytest.raises(users.UserError, match="exists"):
        await users.add_user(engine, "zhang", "walnut-cobalt-ferry", role="agent")
    with pytest.raises(users.UserError, match="role"):
        await users.add_user(engine, "li", "walnut-cobalt-ferry", role="boss")
    with pytest.raises(users.UserError, match="interface"):
        await users.add_user(engine, "li", "walnut-cobalt-ferry", role="agent", interfaces=["1001"])
    [(listed, disabled)] = await users.list_users(engine)
    assert listed == created and not disabled
    found = await users.find_login(engine, "zhang")
    assert found is not None and found[1].startswith("$argon2id$")


async def test_changed_users_are_read_a_page_at_a_time_with_nothing_missed(
    engine: AsyncEngine,
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    for n in range(5):
        await users.add_user(
            engine,
            f"agent{n}",
            "walnut-cobalt-ferry",
            role="agent",
            interfaces=[f"PJSIP/10{n:02d}"],
        )
    await users.disable_user(engine, "agent3")
    changed = await users.users_changed_since(engine, before, page_size=2)
    assert [(u.username, disabled) for u, disabled in changed] == [
        ("agent0", False),
        ("agent1", False),
        ("agent2", False),
        ("agent3", True),
        ("agent4", False),
    ]
    assert await users.users_changed_since(engine, datetime.now(UTC) + timedelta(1)) == []


async def test_sessions_open_expire_end_and_die_with_a_new_password(
    engine: AsyncEngine,
) -> None:
    user = await users.add_user(engine, "wang", "walnut-cobalt-ferry", role="supervisor")
    now = [datetime(2026, 11, 23, tzinfo=UTC)]
    store = SessionStore(engine, timedelta(hours=1), clock=lambda: now[0])
    token = await store.create(user)
    assert await store.user_for(token) == user
    assert await store.user_for(token + "x") is None
    # Another replica (no cache) sees the same session.
    other = SessionStore(engine, timedelta(hours=1), clock=lambda: now[0])
    assert await other.user_for(token) == user
    await store.end(token)
    assert await store.user_for(token) is None

    token = await store.create(user)
    await users.set_password(engine, "wang", "walnut-cobalt-river")
    now[0] += timedelta(seconds=10)  # past the lookup cache
    assert await store.user_for(token) is None

    token = await store.create(user)
    now[0] += timedelta(hours=2)
    assert await store.user_for(token) is None
    assert await store.purge_expired() == 1

    token = await store.create(user)
    await users.disable_user(engine, "wang")
    assert await other.user_for(token) is None
    assert await users.find_login(engine, "wang") is None


async def test_customers_round_trip_into_the_index(engine: AsyncEngine) -> None:
    directory = CustomerDirectory(engine, "CN", history_size=5)
    await directory.load()
    saved = await directory.save(
        {
            "name": "李四",
            "phones": ["+8613800138000"],
            "account_number": "A1",
            "vip_level": 2,
            "language": "zh",
            "tags": ["金卡"],
            "notes": "备注",
        }
    )
    assert directory.find("138 0013 8000", None)[0] == saved
    with pytest.raises(repo.DuplicateAccount):
        await directory.save(
            {
                "name": "x",
                "phones": [],
                "account_number": "A1",
                "vip_level": 0,
                "language": "zh",
                "tags": [],
                "notes": "",
            }
        )
    await directory.save(
        {
            **{
                "name": "李四四",
                "phones": [],
                "account_number": "A1",
                "vip_level": 5,
                "language": "en",
                "tags": [],
                "notes": "",
            }
        },
        saved.id,
    )
    assert directory.find("13800138000", None) == (None, None)
    reloaded = CustomerDirectory(engine, "CN", history_size=5)
    await reloaded.load()
    customer, matched = reloaded.find("", "A1")
    assert customer is not None and customer.name == "李四四" and customer.vip_level == 5
    assert matched == "account"
    with pytest.raises(repo.NoSuchCustomer):
        await repo.save_customer(engine, {"name": "y"}, 999)
