"""The handover room's edges, on SQLite and on PostgreSQL: whom work may go to (a team leader's
scope, users who work items), the item's team following its new owner, a break between two
shifts, handovers nobody will take, the work log's tally, a summary submitted twice, blank
texts, the day's bounds, the key contacts, the check closing a decided handover, and (on
PostgreSQL) two replicas running the ownerless check at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.handover.desk import NOBODY_OWNS_IT, HandoverDesk
from callcenter.handover.models import HandoverItemRow, HandoverRow, OwnerlessRow
from callcenter.settings import HandoverSettings
from callcenter.work.models import WorkItemEventRow, WorkItemRow
from tests.handover.helpers import ZONE, Centre, hand_over, local, open_centre

SETTINGS = HandoverSettings(check_seconds=0, grace_minutes=30)


@pytest.fixture
async def bare(engine: AsyncEngine) -> AsyncIterator[Centre]:
    """The centre without the usual rota (a test sets its own)."""
    async with open_centre(engine, SETTINGS) as c:
        yield c


@pytest.fixture
async def centre(bare: Centre) -> Centre:
    bare.shifts()
    return bare


async def team_of(centre: Centre, item_id: int) -> int | None:
    async with AsyncSession(centre.engine) as session:
        return await session.scalar(select(WorkItemRow.team_id).where(WorkItemRow.id == item_id))


async def owner_teams(centre: Centre, item_id: int) -> list[tuple[Any, Any]]:
    async with AsyncSession(centre.engine) as session:
        rows = (
            await session.scalars(
                select(WorkItemEventRow)
                .where(WorkItemEventRow.item_id == item_id, WorkItemEventRow.kind == "owner")
                .order_by(WorkItemEventRow.id)
            )
        ).all()
    return [(r.data["team_before"], r.data["team_after"]) for r in rows]


async def test_a_team_leader_reassigns_only_within_their_teams(centre: Centre) -> None:
    front, back = centre.teams["front"], centre.teams["back"]
    item = await centre.create("wang")
    assert await team_of(centre, item["id"]) == front
    hid = await hand_over(centre, "wang", "li", item["id"])
    path = f"/api/handovers/{hid}/items/{item['id']}/reassign"
    code, answer = await centre.call("lin", "POST", path, {"user_id": centre.id("other")})
    assert (code, answer["error"]) == (403, "outside-your-teams")
    assert await centre.owner_of(item["id"]) == centre.id("wang")
    assert await owner_teams(centre, item["id"]) == []
    # Another team's leader may not step in at all.
    code, answer = await centre.call("mei", "POST", path, {"user_id": centre.id("other")})
    assert (code, answer["error"]) == (403, "outside-your-teams")
    # The floor's supervisor may: the item moves to the new owner's team.
    done = await centre.ok("boss", "POST", path, {"user_id": centre.id("other")})
    assert done["items"][0]["state"] == "reassigned"
    assert await centre.owner_of(item["id"]) == centre.id("other")
    assert await team_of(centre, item["id"]) == back
    assert await owner_teams(centre, item["id"]) == [(front, back)]
    # Its new team's leader sees it as one of theirs on the work page.
    code, _ = await centre.call("mei", "GET", f"/api/work/items/{item['id']}")
    assert code == 200


async def test_accepting_keeps_the_team_or_moves_it_to_the_new_owners(centre: Centre) -> None:
    front, back = centre.teams["front"], centre.teams["back"]
    same, other = await centre.create("wang"), await centre.create("wang")
    first = await hand_over(centre, "wang", "li", same["id"])
    await centre.ok("li", "POST", f"/api/handovers/{first}/items/{same['id']}/accept")
    assert await team_of(centre, same["id"]) == front
    assert await owner_teams(centre, same["id"]) == [(front, front)]
    second = await hand_over(
        centre, "wang", "other", other["id"], kind="permanent", reason="absence"
    )
    await centre.ok("other", "POST", f"/api/handovers/{second}/items/{other['id']}/accept")
    assert await team_of(centre, other["id"]) == back
    assert await owner_teams(centre, other["id"]) == [(front, back)]


async def test_work_goes_only_to_users_who_work_items(centre: Centre) -> None:
    item = await centre.create("wang")
    body = {
        "kind": "permanent",
        "reason": "leaving",
        "successor_id": centre.id("plan"),
        "items": [{"item_id": item["id"]}],
    }
    code, answer = await centre.call("wang", "POST", "/api/handovers", body)
    assert (code, answer["error"]) == (409, "not-an-agent")
    async with AsyncSession(centre.engine) as session:
        assert await session.scalar(select(func.count()).select_from(HandoverRow)) == 0
    # The page offers only users who work items: the draft's list and the supervisor's.
    draft = await centre.ok("wang", "GET", "/api/handover/draft")
    offered = {p["id"] for p in draft["people"]}
    assert centre.id("plan") not in offered and centre.id("wang") not in offered
    assert {centre.id("li"), centre.id("other"), centre.id("lin")} <= offered
    assert draft["zone"] == "Asia/Shanghai"
    lins = await centre.ok("lin", "GET", "/api/handovers")
    assert {p["id"] for p in lins["people"]} == {
        centre.id(u) for u in ("lin", "wang", "li", "zhao", "gone")
    }
    assert lins["zone"] == "Asia/Shanghai"
    boss = await centre.ok("boss", "GET", "/api/handovers")
    assert centre.id("other") in {p["id"] for p in boss["people"]}
    assert centre.id("plan") not in {p["id"] for p in boss["people"]}


async def test_the_pool_handover_shows_the_teams_labels(centre: Centre) -> None:
    item = await centre.create("wang")
    hid = await hand_over(centre, "wang", None, item["id"])
    seen = await centre.ok("li", "GET", f"/api/handovers/{hid}")
    assert (seen["team_name"], seen["team_label_zh"], seen["team_label_en"]) == (
        "front",
        "front组",
        "Front",
    )


@pytest.mark.parametrize(
    ("day", "status"),
    [
        ("9999-12-31", 400),
        ("0001-01-01", 400),
        ("1999-12-31", 400),
        ("2101-01-01", 400),
        ("2000-01-01", 200),
        ("2100-12-31", 200),
    ],
)
async def test_the_day_of_the_list_is_bounded(centre: Centre, day: str, status: int) -> None:
    code, answer = await centre.call("boss", "GET", "/api/handovers", day=day)
    assert code == status, answer
    if status == 400:
        assert answer["error"] == "invalid-query"


async def test_a_break_between_two_shifts_leaves_nothing_ownerless(bare: Centre) -> None:
    centre, wang = bare, bare.id("wang")
    centre.rota.add(wang, "am", local(3, 8), local(3, 12))
    centre.rota.add(wang, "pm", local(3, 13), local(3, 17))
    centre.clock.set(local(3, 9))
    item = await centre.create("wang")
    for at in (local(3, 12, 1), local(3, 12, 31), local(3, 12, 59)):
        centre.clock.set(at)
        await centre.handover.desk.check()
        assert (await centre.ok("boss", "GET", "/api/handover/ownerless"))["items"] == []
        assert await centre.owner_of(item["id"]) == wang
    # After the last shift of the day: listed, back to the pool 30 minutes after 17:00.
    centre.clock.set(local(3, 17, 1))
    await centre.handover.desk.check()
    (listed,) = (await centre.ok("boss", "GET", "/api/handover/ownerless"))["items"]
    assert listed["why"] == "off-shift"
    assert datetime.fromisoformat(listed["returns_at"]) == local(3, 17, 30)
    centre.clock.set(local(3, 17, 29))
    await centre.handover.desk.check()
    assert await centre.owner_of(item["id"]) == wang
    centre.clock.set(local(3, 17, 30))
    await centre.handover.desk.check()
    assert await centre.owner_of(item["id"]) is None
    assert [e[2] for e in await centre.owner_events(item["id"])] == [NOBODY_OWNS_IT["off-shift"]]


async def test_a_handover_to_a_disabled_successor_is_listed_then_pooled(centre: Centre) -> None:
    item = await centre.create("wang")
    hid = await hand_over(centre, "wang", "li", item["id"])
    await centre.disable("li")
    centre.clock.set(local(3, 16, 5))
    await centre.handover.desk.check()
    (listed,) = (await centre.ok("boss", "GET", "/api/handover/ownerless"))["items"]
    assert (listed["item_id"], listed["why"], listed["handover_id"]) == (
        item["id"],
        "successor-disabled",
        hid,
    )
    assert [m["items"][0]["why"] for m in centre.told_to("lin")] == ["successor-disabled"]
    centre.clock.set(local(3, 16, 34))
    await centre.handover.desk.check()
    assert await centre.owner_of(item["id"]) == centre.id("wang")
    centre.clock.set(local(3, 16, 35))
    await centre.handover.desk.check()
    assert await centre.owner_of(item["id"]) is None
    detail = await centre.ok("boss", "GET", f"/api/handovers/{hid}")
    assert (detail["state"], detail["items"][0]["state"]) == ("done", "withdrawn")
    assert detail["items"][0]["reason"] == NOBODY_OWNS_IT["successor-disabled"]
    assert (await centre.ok("boss", "GET", "/api/handover/ownerless"))["items"] == []
    assert [(e[3], e[4]) for e in await centre.owner_events(item["id"])] == [
        (centre.id("wang"), None)
    ]


async def test_a_pool_handover_whose_takers_are_all_disabled_is_stuck(centre: Centre) -> None:
    item = await centre.create("wang")
    await hand_over(centre, "wang", None, item["id"])
    for who in ("li", "zhao", "gone"):
        await centre.disable(who)
    await centre.handover.desk.check()
    assert (await centre.ok("boss", "GET", "/api/handover/ownerless"))["items"] == []  # Lin
    await centre.disable("lin")
    await centre.handover.desk.check()
    listed = (await centre.ok("boss", "GET", "/api/handover/ownerless"))["items"]
    assert [(i["item_id"], i["why"]) for i in listed] == [(item["id"], "successor-disabled")]


async def test_a_disabled_givers_handover_waits_the_grace_then_is_listed(centre: Centre) -> None:
    item = await centre.create("wang")  # submitted at 15:30
    hid = await hand_over(centre, "wang", "li", item["id"], kind="permanent", reason="leaving")
    await centre.disable("wang")
    centre.clock.set(local(3, 15, 59))
    await centre.handover.desk.check()
    assert (await centre.ok("boss", "GET", "/api/handover/ownerless"))["items"] == []
    centre.clock.set(local(3, 16))
    await centre.handover.desk.check()
    (listed,) = (await centre.ok("boss", "GET", "/api/handover/ownerless"))["items"]
    assert (listed["why"], listed["handover_id"]) == ("giver-disabled", hid)
    centre.clock.set(local(3, 16, 30))
    await centre.handover.desk.check()
    assert await centre.owner_of(item["id"]) is None
    detail = await centre.ok("boss", "GET", f"/api/handovers/{hid}")
    assert detail["items"][0]["state"] == "withdrawn" and detail["state"] == "done"


async def test_the_tally_counts_what_was_submitted_not_what_was_withdrawn(
    centre: Centre,
) -> None:
    wang = centre.id("wang")
    first, second = await centre.create("wang"), await centre.create("wang")
    hid = await hand_over(centre, "wang", "li", first["id"], second["id"])
    day = (local(3, 0), local(4, 0))
    assert (await centre.handover.handovers_of(wang, *day)).given == 2  # pending is given
    await centre.ok("wang", "POST", f"/api/handovers/{hid}/withdraw")
    assert (await centre.handover.handovers_of(wang, *day)).given == 0
    again = await hand_over(centre, "wang", "li", first["id"], second["id"])
    await centre.ok("li", "POST", f"/api/handovers/{again}/items/{first['id']}/accept")
    # The second closes meanwhile: withdrawn from the handover by the check, not given.
    async with AsyncSession(centre.engine) as session, session.begin():
        await session.execute(
            update(WorkItemRow)
            .where(WorkItemRow.id == second["id"])
            .values(status="closed", is_open=False)
        )
    await centre.handover.desk.check()
    tally = await centre.handover.handovers_of(wang, *day)
    assert tally.given == 1
    assert (await centre.handover.handovers_of(centre.id("li"), *day)).taken == 1


async def test_a_summary_only_handover_is_stored_once(centre: Centre) -> None:
    body = {
        "kind": "end_of_shift",
        "successor_id": centre.id("li"),
        "summary": {"work_done": "接听 40 通", "results": "", "problems": ""},
    }
    first = await centre.ok("wang", "POST", "/api/handovers", body)
    code, answer = await centre.call("wang", "POST", "/api/handovers", body)
    assert (code, answer["error"], answer["handover_id"]) == (409, "already-submitted", first["id"])
    other = dict(body, summary={"work_done": "接听 41 通"})
    await centre.ok("wang", "POST", "/api/handovers", other)
    centre.clock.advance(minutes=11)
    await centre.ok("wang", "POST", "/api/handovers", body)
    async with AsyncSession(centre.engine) as session:
        assert await session.scalar(select(func.count()).select_from(HandoverRow)) == 3


async def test_blank_texts_are_refused(centre: Centre) -> None:
    item = await centre.create("wang")
    hid = await hand_over(centre, "wang", "li", item["id"])
    path = f"/api/handovers/{hid}/items/{item['id']}"
    for who, verb, body in [
        ("li", "ask", {"text": "   "}),
        ("li", "refuse", {"reason": " \n\t "}),
        ("li", "ask", {"text": "\u3000"}),
    ]:
        code, answer = await centre.call(who, "POST", f"{path}/{verb}", body)
        assert (code, answer["error"]) == (400, "invalid-body"), (verb, body)
    await centre.ok("li", "POST", f"{path}/ask", {"text": "哪个地址?"})
    code, answer = await centre.call("wang", "POST", f"{path}/answer", {"text": "  "})
    assert (code, answer["error"]) == (400, "invalid-body")
    detail = await centre.ok("wang", "GET", f"/api/handovers/{hid}")
    assert detail["items"][0]["state"] == "asked"
    assert [m["kind"] for m in detail["items"][0]["messages"]] == ["question"]


async def test_the_check_closes_a_handover_whose_items_are_all_decided(centre: Centre) -> None:
    item = await centre.create("wang")
    hid = await hand_over(centre, "wang", "li", item["id"])
    # As after a crash between the item's move and the document's "done".
    async with AsyncSession(centre.engine) as session, session.begin():
        await session.execute(
            update(HandoverItemRow)
            .where(HandoverItemRow.handover_id == hid)
            .values(state="accepted", to_user=centre.id("li"))
        )
    await centre.handover.desk.check()
    detail = await centre.ok("wang", "GET", f"/api/handovers/{hid}")
    assert detail["state"] == "done"
    assert [m["event"] for m in centre.told_to("wang")] == ["done"]


async def test_key_contacts_find_the_agents_dedicated_customers(centre: Centre) -> None:
    near = await centre.add_customer("近期客户", "+8613800000002", tags=["agent:wang"])
    far = await centre.add_customer("专属客户", "+8613800000003", tags=["vip", "agent:wang"])
    await centre.add_customer("别人的", "+8613800000004", tags=["agent:li"])
    await centre.create("wang", customer_id=near)
    draft = await centre.ok("wang", "GET", "/api/handover/draft")
    found = {c["customer_id"]: c["dedicated"] for c in draft["key_contacts"]}
    if centre.engine.dialect.name == "postgresql":
        # Every dedicated customer, through the tags' GIN index.
        assert found == {near: True, far: True}
    else:
        # SQLite looks only among the customers of recent calls and open items.
        assert found == {near: True}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_replicas_checking_at_once_do_each_thing_once(
    centre: Centre, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two replicas' checks on one database. The second reads who owns what before the first
    acts and writes after it (forced: its "follow" step waits for the first check to end): it
    must neither follow again what the first returned to the pool a moment ago nor tell the
    leaders twice."""
    items = [await centre.create("wang") for _ in range(5)]
    first = centre.handover.desk
    second = HandoverDesk(
        centre.engine,
        SETTINGS,
        rota=centre.rota,
        ledger=centre.work.ledger,
        people=centre.agents,
        zone=ZONE,
        clock=centre.clock,
    )
    first_done = asyncio.Event()
    follow = second._follow

    async def follow_late(*args: Any) -> None:
        await asyncio.wait_for(first_done.wait(), 10)
        await follow(*args)

    monkeypatch.setattr(second, "_follow", follow_late)

    async def first_check() -> None:
        await first.check()
        first_done.set()

    for at in (local(3, 16, 1), local(3, 16, 20), local(3, 16, 40), local(3, 16, 41)):
        centre.clock.set(at)
        first_done.clear()
        await asyncio.gather(first_check(), second.check())
    told = [i["item_id"] for m in centre.told_to("lin") for i in m["items"]]
    assert sorted(told) == sorted(i["id"] for i in items)  # each item told once
    async with AsyncSession(centre.engine) as session:
        rows = (await session.scalars(select(OwnerlessRow).order_by(OwnerlessRow.item_id))).all()
    assert [r.item_id for r in rows] == [i["id"] for i in items]  # followed once each
    assert all(r.returned_at == local(3, 16, 40) and r.cleared_at is None for r in rows)
    for item in items:
        assert await centre.owner_of(item["id"]) is None
        assert [(e[3], e[4]) for e in await centre.owner_events(item["id"])] == [
            (centre.id("wang"), None)
        ]
    # And plainly at once, both on their own pace, on new items: told once too.
    more = [await centre.create("li") for _ in range(3)]
    monkeypatch.setattr(second, "_follow", follow)
    for at in (local(4, 0, 1), local(4, 0, 40)):
        centre.clock.set(at)
        await asyncio.gather(first.check(), second.check())
    told = [i["item_id"] for m in centre.told_to("lin") for i in m["items"]]
    assert sorted(told) == sorted(i["id"] for i in items + more)
    for item in more:
        assert await centre.owner_of(item["id"]) is None
