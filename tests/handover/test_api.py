"""The handover room through its HTTP API, on SQLite and on PostgreSQL: refusals (a clear
4xx and nothing changed), refusing and the supervisor stepping in, withdrawing, a permanent
handover, the end-of-shift pool, races, and the ownerless check."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.handover.desk import POOL_AT_END_OF_SHIFT
from callcenter.handover.models import HandoverItemRow, HandoverMessageRow, HandoverRow
from callcenter.settings import HandoverSettings
from callcenter.work.models import WorkItemEventRow, WorkItemRow
from tests.handover.helpers import Centre, hand_over, local, open_centre


@pytest.fixture
async def centre(engine: AsyncEngine) -> AsyncIterator[Centre]:
    async with open_centre(engine, HandoverSettings(check_seconds=0, grace_minutes=30)) as c:
        c.shifts()
        yield c


async def counts(centre: Centre) -> dict[str, int]:
    found = {}
    async with AsyncSession(centre.engine) as session:
        for table in (HandoverRow, HandoverItemRow, HandoverMessageRow, WorkItemEventRow):
            found[table.__tablename__] = int(
                await session.scalar(select(func.count()).select_from(table)) or 0
            )
    return found


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"successor_id": 999999}, 404, "no-such-user"),
        ({"successor_id": "wang"}, 400, "self-handover"),
        ({"successor_id": "gone"}, 409, "user-disabled"),
        (
            {"kind": "permanent", "reason": "leaving", "successor_id": None},
            400,
            "successor-required",
        ),
        ({"kind": "permanent", "successor_id": "li"}, 400, "reason-required"),
        ({"items": "other's"}, 409, "item-not-yours"),
        ({"items": "twice"}, 400, "duplicate-item"),
        ({"items": "none"}, 400, "nothing-to-hand-over"),
        ({"items": "pending"}, 409, "item-in-handover"),
        ({"kind": "nonsense"}, 400, "invalid-body"),
        # A right-to-left override would show the note in another order than it is stored.
        ({"items": "reordered"}, 400, "invalid-body"),
    ],
)
async def test_a_bad_handover_is_refused_and_nothing_is_stored(
    centre: Centre, change: dict[str, Any], status: int, error: str
) -> None:
    await centre.disable("gone")
    mine = await centre.create("wang")
    theirs = await centre.create("zhao")
    if change.get("items") == "pending":
        await hand_over(centre, "wang", "li", mine["id"])
    before = await counts(centre)
    items: list[dict[str, Any]] = {
        "other's": [{"item_id": theirs["id"]}],
        "twice": [{"item_id": mine["id"]}, {"item_id": mine["id"]}],
        "none": [],
        "pending": [{"item_id": mine["id"]}],
        "reordered": [{"item_id": mine["id"], "note": "退款 \u202e05 元"}],
    }.get(str(change.get("items")), [{"item_id": mine["id"]}])
    successor = change.get("successor_id", "li")
    body = {
        "kind": change.get("kind", "end_of_shift"),
        "items": items,
        **({"reason": change["reason"]} if "reason" in change else {}),
    }
    if successor is not None:
        body["successor_id"] = centre.id(successor) if isinstance(successor, str) else successor
    code, answer = await centre.call("wang", "POST", "/api/handovers", body)
    assert (code, answer["error"]) == (status, error), answer
    assert await counts(centre) == before
    assert await centre.owner_of(mine["id"]) == centre.id("wang")


async def test_accepting_an_item_that_changed_owner_meanwhile_changes_nothing(
    centre: Centre,
) -> None:
    item = await centre.create("wang")
    hid = await hand_over(centre, "wang", "li", item["id"])
    # Meanwhile the supervisor gives the item to Zhao.
    await centre.ok(
        "boss",
        "POST",
        f"/api/work/items/{item['id']}/assign",
        {"version": item["version"], "owner_id": centre.id("zhao")},
    )
    before = await counts(centre)
    code, answer = await centre.call(
        "li", "POST", f"/api/handovers/{hid}/items/{item['id']}/accept"
    )
    assert (code, answer["error"]) == (409, "item-moved")
    assert await counts(centre) == before
    assert await centre.owner_of(item["id"]) == centre.id("zhao")
    detail = await centre.ok("li", "GET", f"/api/handovers/{hid}")
    assert detail["items"][0]["state"] == "pending"
    # The check takes it out of the handover, which is then done.
    await centre.handover.desk.check()
    detail = await centre.ok("li", "GET", f"/api/handovers/{hid}")
    assert (detail["state"], detail["items"][0]["state"]) == ("done", "withdrawn")


async def test_only_the_successor_decides_and_only_the_giver_answers(centre: Centre) -> None:
    item = await centre.create("wang")
    hid = await hand_over(centre, "wang", "li", item["id"])
    path = f"/api/handovers/{hid}/items/{item['id']}"
    before = await counts(centre)
    assert (await centre.call("zhao", "POST", f"{path}/accept"))[1]["error"] == "not-the-successor"
    assert (await centre.call("wang", "POST", f"{path}/accept"))[1]["error"] == "not-the-successor"
    code, answer = await centre.call("li", "POST", f"{path}/answer", {"text": "x"})
    assert (code, answer["error"]) == (403, "not-the-giver")
    # Nothing asked: nothing to answer.
    code, answer = await centre.call("wang", "POST", f"{path}/answer", {"text": "x"})
    assert (code, answer["error"]) == (409, "already-decided")
    code, answer = await centre.call("zhao", "GET", f"/api/handovers/{hid}")
    assert (code, answer["error"]) == (403, "outside-your-teams")
    code, answer = await centre.call("li", "POST", f"/api/handovers/{hid}/items/999/accept")
    assert (code, answer["error"]) == (404, "no-such-handover-item")
    code, answer = await centre.call("li", "POST", f"{path}/ask", {"text": ""})
    assert (code, answer["error"]) == (400, "invalid-body")
    assert await counts(centre) == before
    await centre.ok("li", "POST", f"{path}/accept")
    code, answer = await centre.call("li", "POST", f"{path}/accept")
    assert (code, answer["error"]) == (409, "handover-closed")


async def test_two_accepts_at_once_one_wins(
    centre: Centre, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A handover to the team pool: Li and Zhao press accept at the same moment. Both requests
    read the waiting item before either stores anything (a barrier after the read), so they
    truly overlap: the loser's claim matches no row and it is told ``already-decided``."""
    item = await centre.create("wang")
    hid = await hand_over(centre, "wang", None, item["id"])
    path = f"/api/handovers/{hid}/items/{item['id']}/accept"
    desk = centre.handover.desk
    read = desk._item
    both_read = asyncio.Barrier(2)

    async def read_then_wait(handover_id: int, item_id: int) -> Any:
        found = await read(handover_id, item_id)
        await asyncio.wait_for(both_read.wait(), 10)
        return found

    monkeypatch.setattr(desk, "_item", read_then_wait)
    results = await asyncio.gather(
        centre.call("li", "POST", path), centre.call("zhao", "POST", path)
    )
    codes = sorted(code for code, _ in results)
    assert codes == [200, 409], results
    loser = next(answer for code, answer in results if code == 409)
    assert loser["error"] == "already-decided", loser
    winner = await centre.owner_of(item["id"])
    assert winner in (centre.id("li"), centre.id("zhao"))
    events = await centre.owner_events(item["id"])
    assert [(e[3], e[4]) for e in events] == [(centre.id("wang"), winner)]
    detail = await centre.ok("boss", "GET", f"/api/handovers/{hid}")
    assert detail["items"][0]["to_user"] == winner and detail["state"] == "done"


async def test_a_refused_item_goes_to_the_supervisor_who_reassigns_it(centre: Centre) -> None:
    first = await centre.create("wang")
    second = await centre.create("wang")
    hid = await hand_over(centre, "wang", "li", first["id"], second["id"])
    await centre.ok("li", "POST", f"/api/handovers/{hid}/items/{first['id']}/accept")
    centre.clock.advance(minutes=1)
    refused = await centre.ok(
        "li",
        "POST",
        f"/api/handovers/{hid}/items/{second['id']}/refuse",
        {"reason": "不是我的业务"},
    )
    assert refused["items"][1]["state"] == "refused" and refused["state"] == "submitted"
    assert [m["event"] for m in centre.told_to("lin")] == ["refused"]
    assert await centre.owner_of(second["id"]) == centre.id("wang")
    pending = await centre.ok("lin", "GET", "/api/handovers", state="pending")
    assert [h["id"] for h in pending["handovers"]] == [hid]
    # Another team's agent cannot take it; the disabled and the giver are refused.
    await centre.disable("gone")
    for who, code, error in [
        (999999, 404, "no-such-user"),
        (centre.id("gone"), 409, "user-disabled"),
        (centre.id("wang"), 400, "self-handover"),
        (centre.id("plan"), 409, "not-an-agent"),
        # A team leader gives work to the people of their own teams only.
        (centre.id("other"), 403, "outside-your-teams"),
    ]:
        status, answer = await centre.call(
            "lin", "POST", f"/api/handovers/{hid}/items/{second['id']}/reassign", {"user_id": who}
        )
        assert (status, answer["error"]) == (code, error)
    centre.clock.advance(minutes=1)
    done = await centre.ok(
        "lin",
        "POST",
        f"/api/handovers/{hid}/items/{second['id']}/reassign",
        {"user_id": centre.id("zhao")},
    )
    assert done["state"] == "done"
    assert done["items"][1]["state"] == "reassigned" and done["items"][1]["to_user"] == centre.id(
        "zhao"
    )
    assert await centre.owner_of(second["id"]) == centre.id("zhao")
    events = await centre.owner_events(second["id"])
    assert [(e[1], e[3], e[4]) for e in events] == [
        (centre.id("lin"), centre.id("wang"), centre.id("zhao"))
    ]
    # Another team's agent and another team's leader do not read it.
    for outsider in ("other", "mei"):
        code, answer = await centre.call(outsider, "GET", f"/api/handovers/{hid}")
        assert (code, answer["error"]) == (403, "outside-your-teams")


async def test_the_giver_withdraws_and_keeps_the_items(centre: Centre) -> None:
    item = await centre.create("wang")
    hid = await hand_over(centre, "wang", "li", item["id"])
    code, answer = await centre.call("li", "POST", f"/api/handovers/{hid}/withdraw")
    assert (code, answer["error"]) == (403, "not-the-giver")
    withdrawn = await centre.ok("wang", "POST", f"/api/handovers/{hid}/withdraw")
    assert withdrawn["state"] == "withdrawn" and withdrawn["items"][0]["state"] == "withdrawn"
    assert await centre.owner_of(item["id"]) == centre.id("wang")
    # The item may be handed over again.
    await hand_over(centre, "wang", "zhao", item["id"])


async def test_a_permanent_handover_is_told_to_the_team_leaders(centre: Centre) -> None:
    item = await centre.create("wang")
    hid = await hand_over(
        centre,
        "wang",
        "li",
        item["id"],
        kind="permanent",
        reason="leaving",
        summary={"work_done": "三年客服", "results": "", "problems": "交接大客户"},
    )
    told = centre.told_to("lin")
    assert [(m["event"], m.get("kind"), m["handover_id"]) for m in told] == [
        ("submitted", "permanent", hid)
    ]
    seen = await centre.ok("boss", "GET", "/api/handovers")
    assert [(h["id"], h["kind"], h["reason"]) for h in seen["handovers"]] == [
        (hid, "permanent", "leaving")
    ]
    mine = await centre.ok("li", "GET", "/api/handover/mine")
    assert [h["id"] for h in mine["to_me"]] == [hid] and mine["given"] == []


async def test_at_a_plain_end_of_shift_unpromised_items_go_back_to_the_pool(
    centre: Centre,
) -> None:
    promised = await centre.create("wang")
    await centre.note("wang", promised["id"], "已回复客户")
    plain = await centre.create("wang")
    in_handover = await centre.create("wang")
    await hand_over(centre, "wang", "li", in_handover["id"])
    centre.clock.set(local(3, 15, 59))
    answer = await centre.ok("wang", "POST", "/api/handover/end-of-shift/pool")
    assert answer == {"returned": [plain["id"]]}
    async with AsyncSession(centre.engine) as session:
        row = await session.get(WorkItemRow, plain["id"])
    assert row is not None and row.owner_id is None and row.team_id == centre.teams["front"]
    assert await centre.owner_events(plain["id"]) == [
        (
            local(3, 15, 59),
            centre.id("wang"),
            POOL_AT_END_OF_SHIFT,
            centre.id("wang"),
            None,
        )
    ]
    assert await centre.owner_of(promised["id"]) == centre.id("wang")
    assert await centre.owner_of(in_handover["id"]) == centre.id("wang")


async def test_items_of_someone_off_shift_are_listed_then_returned_to_the_pool(
    centre: Centre,
) -> None:
    left = await centre.create("wang")  # nothing handed over
    handed = await centre.create("wang")
    await hand_over(centre, "wang", "li", handed["id"])
    zhaos = await centre.create("zhao")  # Zhao works no shifts: never off shift

    centre.clock.set(local(3, 15, 59))
    await centre.handover.desk.check()
    assert (await centre.ok("boss", "GET", "/api/handover/ownerless"))["items"] == []

    centre.clock.set(local(3, 16, 1))
    await centre.handover.desk.check()
    listed = (await centre.ok("lin", "GET", "/api/handover/ownerless"))["items"]
    assert [(i["item_id"], i["why"], i["owner_name"]) for i in listed] == [
        (left["id"], "off-shift", "Wang Fang")
    ]
    # The grace time runs from the end of Wang's shift.
    assert datetime.fromisoformat(listed[0]["since"]) == local(3, 16)
    assert datetime.fromisoformat(listed[0]["returns_at"]) == local(3, 16, 30)
    assert [m["event"] for m in centre.told_to("lin")] == ["ownerless"]
    # Told once; still Wang's within the grace time; another team's lead sees nothing.
    centre.clock.set(local(3, 16, 20))
    await centre.handover.desk.check()
    assert [m["event"] for m in centre.told_to("lin")] == ["ownerless"]
    assert await centre.owner_of(left["id"]) == centre.id("wang")
    assert (await centre.ok("mei", "GET", "/api/handover/ownerless"))["items"] == []
    assert centre.told_to("mei") == []

    centre.clock.set(local(3, 16, 31))
    await centre.handover.desk.check()
    assert await centre.owner_of(left["id"]) is None
    (event,) = await centre.owner_events(left["id"])
    assert (event[0], event[1], event[3], event[4]) == (
        local(3, 16, 31),
        None,
        centre.id("wang"),
        None,
    )
    assert (await centre.ok("boss", "GET", "/api/handover/ownerless"))["items"] == []
    # The handed-over item and Zhao's stay with their owners.
    assert await centre.owner_of(handed["id"]) == centre.id("wang")
    assert await centre.owner_of(zhaos["id"]) == centre.id("zhao")


async def test_an_owner_back_on_shift_or_disabled(centre: Centre) -> None:
    item = await centre.create("wang")
    gone = await centre.create("gone")
    centre.clock.set(local(3, 16, 1))
    await centre.disable("gone")
    await centre.handover.desk.check()
    listed = (await centre.ok("boss", "GET", "/api/handover/ownerless"))["items"]
    assert sorted((i["item_id"], i["why"]) for i in listed) == sorted(
        [(item["id"], "off-shift"), (gone["id"], "disabled")]
    )
    # Wang comes back for an evening shift: the item drops from the list.
    centre.rota.add(centre.id("wang"), "evening", local(3, 16, 5), local(3, 20))
    centre.clock.set(local(3, 16, 6))
    await centre.handover.desk.check()
    listed = (await centre.ok("boss", "GET", "/api/handover/ownerless"))["items"]
    assert [i["item_id"] for i in listed] == [gone["id"]]
