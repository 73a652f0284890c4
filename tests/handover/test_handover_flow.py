"""The issue's scenario, on SQLite and on PostgreSQL: an agent with three open items (two
with a promise to the customer) hands them over at the end of the shift to the next shift's
agent; the successor accepts two and asks about the third; the giver answers; the successor
accepts it. Ownership moves at each acceptance, on each item's timeline, straight from the
giver to the successor: no item is ever without an owner, and the ownerless check (run
between every step) never lists one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.handover.models import HandoverItemRow, HandoverRow
from callcenter.work.models import WorkItemRow
from tests.handover.helpers import Centre, local, open_centre


@pytest.fixture
async def centre(engine: AsyncEngine) -> AsyncIterator[Centre]:
    async with open_centre(engine) as centre:
        centre.shifts()
        yield centre


async def nobody_ownerless(centre: Centre, ids: list[int]) -> None:
    """The check finds nothing, and every item has an owner."""
    await centre.handover.desk.check()
    listed = await centre.ok("boss", "GET", "/api/handover/ownerless")
    assert listed["items"] == []
    async with AsyncSession(centre.engine) as session:
        owners = (
            await session.scalars(select(WorkItemRow.owner_id).where(WorkItemRow.id.in_(ids)))
        ).all()
    assert None not in owners and len(owners) == len(ids)


async def test_an_end_of_shift_handover_accepted_item_by_item(centre: Centre) -> None:
    wang, li = centre.id("wang"), centre.id("li")
    customer = await centre.add_customer("王芳", "+8613800000001", vip_level=2)

    # 14:00: three items of Wang's. A callback is booked for the first; Wang already called
    # the second's customer (a first response); the third is untouched.
    centre.clock.set(local(3, 14))
    callback = await centre.create(
        "wang", kind="callback", title="回电 发票", phone="+8613800000001", customer_id=customer
    )
    await centre.schedule_callback(callback["id"], local(3, 17))
    answered = await centre.create("wang", title="退款进度", customer_id=customer)
    await centre.note("wang", answered["id"], "已告知客户三个工作日内到账")
    untouched = await centre.create("wang", title="地址变更")
    ids = [callback["id"], answered["id"], untouched["id"]]

    # 15:50: the draft, promised items first; the late shift's Li is the suggested successor.
    centre.clock.set(local(3, 15, 50))
    draft = await centre.ok("wang", "GET", "/api/handover/draft")
    assert [(i["id"], i["promised"]) for i in draft["items"]] == [
        (callback["id"], True),
        (answered["id"], True),
        (untouched["id"], False),
    ]
    assert draft["items"][1]["last_note"] == "已告知客户三个工作日内到账"
    assert [c["id"] for c in draft["callbacks"]] == [callback["id"]]
    assert datetime.fromisoformat(draft["callbacks"][0]["callback_at"]) == local(3, 17)
    assert [(s["id"], s["name"]) for s in draft["successors"]] == [(li, "Li Na")]
    assert draft["shift"]["shift"] == "early" and draft["on_shift"] is True
    assert [c["customer_id"] for c in draft["customers"]] == [customer]
    assert [(k["customer_id"], k["vip_level"]) for k in draft["key_contacts"]] == [(customer, 2)]
    assert draft["figures"] is None
    assert draft["to_pool"] == [untouched["id"]]

    handover = await centre.ok(
        "wang",
        "POST",
        "/api/handovers",
        {
            "kind": "end_of_shift",
            "successor_id": li,
            "items": [
                {"item_id": callback["id"], "note": "17:00 回电 客户要纸质发票"},
                {"item_id": answered["id"], "note": "已承诺三天内到账"},
                {"item_id": untouched["id"], "note": "还没联系"},
            ],
            "summary": {"work_done": "接听 42 通", "results": "解决 5 单", "problems": "系统慢"},
        },
    )
    hid = handover["id"]
    assert (handover["state"], handover["giver_id"], handover["successor_id"]) == (
        "submitted",
        wang,
        li,
    )
    assert [i["state"] for i in handover["items"]] == ["pending"] * 3
    assert handover["shift"] == "Early"
    assert [m["handover_id"] for m in centre.told_to("li")] == [hid]
    # Submitting moves nothing: the items are Wang's until Li accepts each.
    assert [await centre.owner_of(i) for i in ids] == [wang] * 3
    await nobody_ownerless(centre, ids)

    # 16:05 and 16:06 (Wang is off shift now): Li accepts the two promised items.
    accepted_at = [local(3, 16, 5), local(3, 16, 6)]
    for at, item in zip(accepted_at, ids[:2], strict=True):
        centre.clock.set(at)
        answer = await centre.ok("li", "POST", f"/api/handovers/{hid}/items/{item}/accept")
        assert await centre.owner_of(item) == li
        await nobody_ownerless(centre, ids)
    assert [i["state"] for i in answer["items"]] == ["accepted", "accepted", "pending"]
    assert answer["state"] == "submitted"

    # 16:07: a question on the third; Wang (at home, on the phone app) answers at 16:10.
    centre.clock.set(local(3, 16, 7))
    asked = await centre.ok(
        "li", "POST", f"/api/handovers/{hid}/items/{ids[2]}/ask", {"text": "新地址是哪里"}
    )
    assert asked["items"][2]["state"] == "asked"
    assert await centre.owner_of(ids[2]) == wang
    await nobody_ownerless(centre, ids)
    centre.clock.set(local(3, 16, 10))
    answered_q = await centre.ok(
        "wang", "POST", f"/api/handovers/{hid}/items/{ids[2]}/answer", {"text": "见备注 浦东新区"}
    )
    assert answered_q["items"][2]["state"] == "pending"
    assert [(m["kind"], m["author_id"], m["text"]) for m in answered_q["items"][2]["messages"]] == [
        ("question", li, "新地址是哪里"),
        ("answer", wang, "见备注 浦东新区"),
    ]
    await nobody_ownerless(centre, ids)

    # 16:12: Li accepts the third; the handover is done.
    centre.clock.set(local(3, 16, 12))
    done = await centre.ok("li", "POST", f"/api/handovers/{hid}/items/{ids[2]}/accept")
    assert done["state"] == "done"
    assert datetime.fromisoformat(done["done_at"]) == local(3, 16, 12)
    assert [
        (i["state"], i["to_user"], datetime.fromisoformat(i["decided_at"])) for i in done["items"]
    ] == [
        ("accepted", li, local(3, 16, 5)),
        ("accepted", li, local(3, 16, 6)),
        ("accepted", li, local(3, 16, 12)),
    ]
    await nobody_ownerless(centre, ids)

    # Each timeline: one owner line, from Wang straight to Li, by Li, at the acceptance,
    # with Wang's note; the item never passed through "nobody".
    notes = ["17:00 回电 客户要纸质发票", "已承诺三天内到账", "还没联系"]
    for item, at, note in zip(ids, [*accepted_at, local(3, 16, 12)], notes, strict=True):
        assert await centre.owner_events(item) == [(at, li, note, wang, li)]
        detail = await centre.ok("li", "GET", f"/api/work/items/{item}")
        assert detail["owner_id"] == li
        owner_lines = [e for e in detail["timeline"] if e["kind"] == "owner"]
        assert owner_lines[0]["data"]["handover"] == hid
    # Li's console was told of each item, Wang of each step and of the end.
    assert len(centre.told_to("li", "work_item")) == 3
    assert [m["event"] for m in centre.told_to("wang")] == [
        "accepted",
        "accepted",
        "asked",
        "accepted",
        "done",
    ]
    assert [m["event"] for m in centre.told_to("li")] == ["submitted", "answered"]
    # The supervisor sees it among the day's done handovers, not the pending ones.
    day = await centre.ok("boss", "GET", "/api/handovers", state="done", day="2026-12-03")
    assert [h["id"] for h in day["handovers"]] == [hid]
    assert (await centre.ok("boss", "GET", "/api/handovers", state="pending"))["handovers"] == []
    async with AsyncSession(centre.engine) as session:
        states = (await session.scalars(select(HandoverItemRow.state))).all()
        row = await session.get(HandoverRow, hid)
    assert states == ["accepted"] * 3 and row is not None and row.version == 2
    # The work log's tally: three given by Wang, three taken by Li that day.
    start, end = local(3, 0), local(4, 0)
    assert (await centre.handover.handovers_of(wang, start, end)).given == 3
    assert (await centre.handover.handovers_of(li, start, end)).taken == 3
