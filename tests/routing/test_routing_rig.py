"""Overflow and surge routing against the real rig: `callcenter serve`, Asterisk, SIPp."""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from callcenter.rig.asterisk import AsteriskRig
from callcenter.rig.sipp import AgentPhones, start_calls
from callcenter.store.db import create_engine
from tests.fixtures_pg import PostgresServer
from tests.ivr.rig_calls import ami_action, channels, install_test_phone
from tests.routing.amiwatch import JoinWatcher
from tests.service_proc import ServiceProcess

MOVE_POLICY = """
[routing]
interval = 0.25
[routing.queues.support]
recovery_seconds = 1
[[routing.queues.support.triggers]]
metric = "longest_wait"
level = "surge"
threshold = 8
release = 4
[routing.queues.support.actions.move_callers]
to_queue = "overflow"
over_seconds = 8
"""

SURGE_POLICY = """
[routing]
interval = 0.25
[routing.queues.support]
recovery_seconds = 1
[[routing.queues.support.triggers]]
metric = "callers_waiting"
level = "surge"
threshold = 1
release = 0
[routing.queues.support.actions]
surge_flag = true
add_members = [{ interface = "PJSIP/1004", penalty = 7, name = "Overflow 1004" }]
"""


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not {what} within {timeout} s")


def rows(db: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as connection:
        return list(connection.execute(sql, args))


def start_service(
    workdir: Path, extra_toml: str, fastagi_port: int | None = None
) -> ServiceProcess:
    service = ServiceProcess(
        workdir, log_level="DEBUG", extra_toml=extra_toml, fastagi_port=fastagi_port
    )
    try:
        service.start()
        service.wait_until(lambda: "PBX rig: resynced" in service.log_text(), 20, "resynced")
    except BaseException:
        service.stop()  # no service left behind by a failed start
        raise
    return service


@pytest.fixture
def support_paused(rig: AsteriskRig) -> Iterator[Callable[[str], None]]:
    """Pause support's static members on demand; unpaused again after the test."""
    paused: list[str] = []

    def pause(interface: str) -> None:
        rig.rx(f"queue pause member {interface} queue support reason routing-test")
        paused.append(interface)

    rig.rx("dialplan reload")  # dialplan/overflow.conf is bound live
    try:
        yield pause
    finally:
        for interface in paused:
            rig.rx(f"queue unpause member {interface} queue support")
        # What a failed test left of a surge must not fail the next tests too.
        if "PJSIP/1004" in queue_show(rig):
            rig.rx("queue remove member PJSIP/1004 from support")
        rig.rx("database del callcenter/surge support")


def test_a_waiting_callers_are_moved_to_overflow_within_1_5_s_of_8_s_and_answered_there(
    rig: AsteriskRig,
    tmp_path: Path,
    support_paused: Callable[[str], None],
    agent_phones: Callable[..., AgentPhones],
) -> None:
    support_paused("PJSIP/1002")
    agent_phones(1, first_ext=1001, answer=False)  # rings for ever in support
    overflow_phones = agent_phones(2, first_ext=1005, ring_seconds=0.5)
    for ext in (1005, 1006):
        rig.rx(f"queue add member PJSIP/{ext} to overflow penalty 0 as Overflow-{ext}")
    service = start_service(tmp_path, MOVE_POLICY)
    watcher = JoinWatcher()
    numbers = ["13800881001", "13800881002"]
    batch = start_calls(
        2, dial="support", caller_numbers=numbers, rate_per_s=1.0, hold_seconds=16.0
    )
    try:
        ids = {
            n: wait_for(functools.partial(watcher.uniqueid_of, n, "support"), 10, f"{n} joined")
            for n in numbers
        }
        for number, uniqueid in ids.items():
            assert watcher.wait(lambda u=uniqueid: watcher.join_time(u, "overflow"), 15), (
                f"{number} never joined overflow:\n{service.log_tail()}"
            )
        lags = {}
        for number, uniqueid in ids.items():
            joined = watcher.join_time(uniqueid, "support")
            moved = watcher.join_time(uniqueid, "overflow")
            assert joined is not None and moved is not None
            lags[number] = moved - joined - 8.0
        print(
            f"overflow lag after 8 s (Asterisk timestamps): "
            f"{ {n: round(v, 3) for n, v in lags.items()} }"
        )
        assert all(0.0 <= lag <= 1.5 for lag in lags.values()), lags

        def connected_in_overflow() -> set[str]:
            return {
                f[1]
                for f in rig.queue_log_lines()
                if len(f) > 4 and f[2] == "overflow" and f[4] == "CONNECT"
            }

        wait_for(lambda: set(ids.values()) <= connected_in_overflow(), 10, "answered in overflow")
        assert overflow_phones.stats().answered >= 2
        moved_rows = rows(
            tmp_path / "callcenter.db",
            "SELECT uniqueid, from_queue, to_queue, status, kind FROM "
            "routing_moved_callers ORDER BY uniqueid",
        )
        assert sorted(moved_rows) == sorted(
            (u, "support", "overflow", "ok", "move") for u in ids.values()
        )

        # The records room shows each left-behind leg as overflowed, linked to the target.
        def overflowed() -> list[tuple[Any, ...]]:
            return rows(
                tmp_path / "callcenter.db",
                "SELECT uniqueid, outcome, overflow_queue, ivr_data FROM call_records "
                "WHERE queue = 'support' AND outcome = 'overflowed'",
            )

        legs = wait_for(
            lambda: len(overflowed()) == 2 and overflowed(),
            10,
            "support legs recorded as overflowed",
        )
        assert {(u, q) for u, _, q, _ in legs} == {(u, "overflow") for u in ids.values()}
        assert all(
            '"CC_ORIG_JOINED"' in ivr and '"CC_OVERFLOW_FROM": "support"' in ivr for *_, ivr in legs
        )
        # Moved once each: one ENTERQUEUE in overflow per caller.
        enters = [
            f[1]
            for f in rig.queue_log_lines()
            if len(f) > 4 and f[2] == "overflow" and f[4] == "ENTERQUEUE" and f[1] in ids.values()
        ]
        assert sorted(enters) == sorted(ids.values())
    finally:
        batch.wait(30)
        watcher.close()
        service.stop()
        for ext in (1005, 1006):
            rig.rx(f"queue remove member PJSIP/{ext} from overflow")


def queue_show(rig: AsteriskRig) -> str:
    return rig.rx("queue show support")


def surge_flag(rig: AsteriskRig) -> str:
    return rig.rx("database get callcenter/surge support")


def test_b_a_surge_brings_overflow_members_in_with_their_penalty_and_out_after_release(
    rig: AsteriskRig,
    tmp_path: Path,
    support_paused: Callable[[str], None],
    agent_phones: Callable[..., AgentPhones],
) -> None:
    support_paused("PJSIP/1001")
    support_paused("PJSIP/1002")
    agent_phones(1, first_ext=1004, answer=False)
    service = start_service(tmp_path, SURGE_POLICY)
    batch = start_calls(1, dial="support", caller_numbers=["13800882001"], hold_seconds=5.0)
    try:
        shown = wait_for(
            lambda: "PJSIP/1004" in queue_show(rig) and queue_show(rig), 8, "overflow member added"
        )
        line = next(x for x in shown.splitlines() if "Overflow 1004" in x or "PJSIP/1004" in x)
        assert "with penalty 7" in line and "(dynamic)" in line, line
        # The flag is the round's next action after the QueueAdd.
        wait_for(lambda: "Value: 1" in surge_flag(rig), 5, "surge flag set")
        batch.wait(20)
        wait_for(lambda: "PJSIP/1004" not in queue_show(rig), 8, "overflow member removed")
        wait_for(lambda: "Value: 1" not in surge_flag(rig), 5, "surge flag cleared")
        db = tmp_path / "callcenter.db"
        expected = [
            ("add_member", "PJSIP/1004", "ok"),
            ("surge_flag", None, "ok"),
            ("remove_member", "PJSIP/1004", "ok"),
            ("surge_flag", None, "ok"),
        ]
        wait_for(
            lambda: (
                rows(
                    db,
                    "SELECT kind, target, status FROM routing_actions "
                    "WHERE kind IN ('add_member', 'remove_member', 'surge_flag') "
                    "ORDER BY id",
                )
                == expected
            ),
            5,
            "actions recorded",
        )
        assert rows(db, "SELECT * FROM routing_members") == []
        episode = wait_for(
            lambda: rows(
                db,
                "SELECT ended_at, peak_callers_waiting, summary "
                "FROM routing_episodes WHERE ended_at IS NOT NULL",
            ),
            5,
            "episode closed",
        )
        assert len(episode) == 1 and episode[0][1] == 1
        assert '"surge"' in episode[0][2] and '"recovery"' in episode[0][2]
    finally:
        batch.stop()
        service.stop()


def test_c_stopping_mid_surge_neither_repeats_nor_loses_an_action(
    rig: AsteriskRig,
    tmp_path: Path,
    support_paused: Callable[[str], None],
    agent_phones: Callable[..., AgentPhones],
) -> None:
    support_paused("PJSIP/1001")
    support_paused("PJSIP/1002")
    agent_phones(1, first_ext=1004, answer=False)
    db = tmp_path / "callcenter.db"
    service = start_service(tmp_path, SURGE_POLICY)
    batch = start_calls(1, dial="support", caller_numbers=["13800883001"], hold_seconds=16.0)

    def actions() -> list[tuple[Any, ...]]:
        return rows(
            db,
            "SELECT kind, target, status FROM routing_actions "
            "WHERE kind IN ('add_member', 'remove_member', 'surge_flag') ORDER BY id",
        )

    surge = [("add_member", "PJSIP/1004", "ok"), ("surge_flag", None, "ok")]
    try:
        wait_for(lambda: "PJSIP/1004" in queue_show(rig), 8, "overflow member added")
        wait_for(lambda: actions() == surge, 5, "surge actions done")
        service.stop()  # SIGTERM
        service.start()
        service.wait_until(
            lambda: service.log_text().count("PBX rig: resynced") >= 2, 20, "resynced after SIGTERM"
        )
        time.sleep(1.5)  # several rounds after the restart
        assert "PJSIP/1004" in queue_show(rig) and actions() == surge
        assert service.process is not None
        service.process.kill()  # kill -9: no clean stop at all
        service.process.wait()
        service.process = None
        service.start()
        service.wait_until(
            lambda: service.log_text().count("PBX rig: resynced") >= 3, 20, "resynced after kill -9"
        )
        time.sleep(1.5)
        assert "PJSIP/1004" in queue_show(rig) and actions() == surge
        batch.wait(25)
        wait_for(lambda: "PJSIP/1004" not in queue_show(rig), 8, "removed after the restarts")
        released = [*surge, ("remove_member", "PJSIP/1004", "ok"), ("surge_flag", None, "ok")]
        wait_for(lambda: actions() == released, 5, "release actions done")
        assert "Value: 1" not in surge_flag(rig)
        assert len(rows(db, "SELECT id FROM routing_episodes")) == 1
    finally:
        batch.stop()
        service.stop()


CALLBACK_POLICY = """
[routing]
interval = 0.25
[routing.queues.support]
recovery_seconds = 1
[[routing.queues.support.triggers]]
metric = "longest_wait"
level = "surge"
threshold = 3
release = 1
[routing.queues.support.actions.offer_callback]
over_seconds = 3
"""
FASTAGI_PORT = 4573  # IVR_AGI in config/asterisk/extensions.conf: the IVR's callback route


def call_queue(number: str, score: str, queue: str = "support", hold: int = 40) -> None:
    """A caller dialling the queue directly (no IVR); its other half presses ``score`` when
    the test redirects it to ``ivr-test-phone,score`` (tests/ivr/rig_calls.py)."""
    answer = ami_action(
        [
            ("Action", "Originate"),
            ("Channel", f"Local/{queue}@local-callers"),
            ("Context", "ivr-test-phone"),
            ("Exten", "s"),
            ("Priority", "1"),
            ("CallerID", f'"{number}" <{number}>'),
            ("Async", "true"),
            ("Timeout", "10000"),
            *(
                ("Variable", f"{k}={v}")
                for k, v in {
                    "TEST_KEYS": "w",
                    "TEST_HOLD": str(hold),
                    "TEST_DELAY": "0",
                    "TEST_SCORE": score,
                }.items()
            ),
        ]
    )
    assert answer.get("Response") == "Success", answer


def in_offer(rig: AsteriskRig, number: str) -> str | None:
    """The caller's phone half (;1) while the caller (;2) hears the callback offer."""
    for fields in channels(rig):
        if (
            fields[0].startswith("Local/support@local-callers")
            and fields[0].endswith(";2")
            and fields[1] == "ivr-queue"
            and fields[5] == "Read"
            and fields[7] == number
        ):
            return fields[0][:-1] + "1"
    return None


def waiting_numbers(service: ServiceProcess, queue: str = "support") -> set[str]:
    status, body = service.get_json(f"/api/queues/{queue}")
    assert status == 200, body
    return {c["caller_num"] for c in body["callers"]}


def test_d_callback_offer_books_a_task_or_puts_the_caller_back_in_the_queue(
    rig: AsteriskRig,
    tmp_path: Path,
    support_paused: Callable[[str], None],
) -> None:
    support_paused("PJSIP/1001")
    support_paused("PJSIP/1002")
    install_test_phone(rig)
    db = tmp_path / "callcenter.db"
    service = start_service(tmp_path, CALLBACK_POLICY, fastagi_port=FASTAGI_PORT)
    watcher = JoinWatcher()
    accepts, declines = "13800884001", "13800884002"
    try:
        call_queue(accepts, score="1")
        call_queue(declines, score="2")
        ids = {
            n: wait_for(functools.partial(watcher.uniqueid_of, n, "support"), 10, f"{n} joined")
            for n in (accepts, declines)
        }
        # Past 3 s each is redirected to overflow-callback,support: the IVR's offer.
        for number in (accepts, declines):
            phone = wait_for(functools.partial(in_offer, rig, number), 10, f"{number} offered")
            rig.rx(f"channel redirect {phone} ivr-test-phone,score,1")  # presses TEST_SCORE

        def task() -> list[tuple[Any, ...]]:
            # The booking is a callback work item the dialler has scheduled.
            return rows(
                db,
                "SELECT r.pbx, r.uniqueid, i.kind, i.status, c.queue, c.number "
                "FROM work_items i JOIN work_callbacks c ON c.item_id = i.id "
                "JOIN callback_requests r ON i.source_key = 'ivr:' || r.pbx || ':' || r.uniqueid",
            )

        assert wait_for(task, 10, "a callback item") == [
            ("rig", ids[accepts], "callback", "open", "support", accepts)
        ]
        moves = rows(
            db,
            "SELECT target, status, message, detail FROM routing_actions "
            "WHERE kind = 'move_caller' AND status != 'skipped' ORDER BY id",
        )
        # Both callers pass the threshold in the same round: either may be moved first.
        assert sorted((t, st) for t, st, *_ in moves) == sorted(
            [(ids[accepts], "ok"), (ids[declines], "ok")]
        )
        assert all(
            '"move": "callback"' in d and '"context": "overflow-callback"' in d for *_, d in moves
        )
        assert sorted(
            rows(db, "SELECT uniqueid, kind, status FROM routing_moved_callers")
        ) == sorted((u, "callback", "ok") for u in ids.values())

        # The one who declined waits in support again; the one who booked has left for good.
        wait_for(lambda: declines in waiting_numbers(service), 15, "the decliner queued again")
        enters = [
            f[1]
            for f in rig.queue_log_lines()
            if len(f) > 4 and f[2] == "support" and f[4] == "ENTERQUEUE"
        ]
        assert enters.count(ids[declines]) == 2 and enters.count(ids[accepts]) == 1
        assert accepts not in waiting_numbers(service)
        # Past 3 s again the engine decides to offer once more: the claim refuses it.
        skipped = wait_for(
            lambda: rows(
                db,
                "SELECT target, message FROM routing_actions "
                "WHERE kind = 'move_caller' AND status = 'skipped'",
            ),
            10,
            "the second offer refused",
        )
        assert skipped == [(ids[declines], "caller already moved")]
        time.sleep(0.5)
        assert declines in waiting_numbers(service) and in_offer(rig, declines) is None
    finally:
        for fields in channels(rig):
            if fields[0].startswith("Local/support@local-callers"):
                rig.rx(f"channel request hangup {fields[0]}")
        watcher.close()
        service.stop()


NO_AGENT_POLICY = """
[routing]
interval = 0.25
[routing.queues.support]
recovery_seconds = 1
[[routing.queues.support.triggers]]
metric = "no_agent"
level = "surge"
[routing.queues.support.actions]
add_members = [{ interface = "PJSIP/1004", penalty = 3, name = "Tier 1004" }]
"""


def test_e_no_agent_brings_a_tier_in_that_answers_and_goes_when_staff_is_back(
    rig: AsteriskRig,
    tmp_path: Path,
    support_paused: Callable[[str], None],
    agent_phones: Callable[..., AgentPhones],
) -> None:
    support_paused("PJSIP/1001")
    support_paused("PJSIP/1002")
    tier = agent_phones(1, first_ext=1004, ring_seconds=0.5)
    db = tmp_path / "callcenter.db"
    service = start_service(tmp_path, NO_AGENT_POLICY)

    def actions() -> list[tuple[Any, ...]]:
        return rows(
            db,
            "SELECT kind, target, status, reason FROM routing_actions "
            "WHERE kind IN ('add_member', 'remove_member') ORDER BY id",
        )

    batch = start_calls(1, dial="support", caller_numbers=["13800885001"], hold_seconds=4.0)
    try:
        shown = wait_for(
            lambda: "PJSIP/1004" in queue_show(rig) and queue_show(rig), 8, "tier member added"
        )
        line = next(x for x in shown.splitlines() if "PJSIP/1004" in x or "Tier 1004" in x)
        assert "with penalty 3" in line, line
        # The tier takes the call nobody else could.
        wait_for(lambda: tier.stats().answered == 1, 10, "answered by the tier")
        batch.wait(20)
        time.sleep(1.0)  # rounds with the tier available: it is not the queue's own staff
        assert [(k, t, st) for k, t, st, _ in actions()] == [("add_member", "PJSIP/1004", "ok")]
        assert actions()[0][3] == "no_agent/surge"
        rig.rx("queue unpause member PJSIP/1001 queue support")  # own staff back
        wait_for(lambda: "PJSIP/1004" not in queue_show(rig), 5, "tier member removed")
        # The PBX has acted; the action row is marked ok right after its answer arrives.
        wait_for(
            lambda: (
                [(k, t, st) for k, t, st, _ in actions()]
                == [("add_member", "PJSIP/1004", "ok"), ("remove_member", "PJSIP/1004", "ok")]
            ),
            5,
            "both actions recorded ok",
        )
        assert rows(db, "SELECT * FROM routing_members") == []
    finally:
        batch.stop()
        service.stop()


TWO_REPLICA_POLICY = """
[routing]
interval = 0.25
lease_seconds = 1.0
[routing.queues.support]
recovery_seconds = 1
[[routing.queues.support.triggers]]
metric = "no_agent"
level = "surge"
[routing.queues.support.actions]
surge_flag = true
add_members = [{ interface = "PJSIP/1004", penalty = 7, name = "Overflow 1004" }]
[routing.queues.support.actions.move_callers]
to_queue = "overflow"
over_seconds = 2
"""


def pg_rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    async def query() -> list[tuple[Any, ...]]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return [tuple(r) for r in (await connection.execute(text(sql))).all()]
        finally:
            await engine.dispose()

    return asyncio.run(query())


def test_f_two_replicas_on_one_postgresql_act_once_and_the_survivor_undoes_once(
    rig: AsteriskRig,
    tmp_path: Path,
    support_paused: Callable[[str], None],
    agent_phones: Callable[..., AgentPhones],
    postgres_server: PostgresServer,
) -> None:
    support_paused("PJSIP/1001")
    support_paused("PJSIP/1002")
    agent_phones(1, first_ext=1004, answer=False)  # rings, never answers: callers wait
    url = postgres_server.create_database()
    replicas = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        replicas.append(
            ServiceProcess(
                tmp_path / name, database_url=url, log_level="DEBUG", extra_toml=TWO_REPLICA_POLICY
            )
        )
    first, second = replicas
    watcher = JoinWatcher()
    numbers = ["13800886001", "13800886002"]
    batch = None
    try:
        for service in replicas:  # one after the other: the first takes the queue
            service.start()
            service.wait_until(
                lambda s=service: "PBX rig: resynced" in s.log_text(), 20, "resynced"
            )
        wait_for(lambda: "PJSIP/1004" in queue_show(rig), 8, "overflow member added")
        assert "rig/support: lease taken" in first.log_text()
        batch = start_calls(
            2, dial="support", caller_numbers=numbers, rate_per_s=2.0, hold_seconds=8.0
        )
        ids = [
            wait_for(functools.partial(watcher.uniqueid_of, n, "overflow"), 10, f"{n} moved")
            for n in numbers
        ]
        first.stop()  # SIGTERM: the holder releases its lease; the other takes over
        second.wait_until(
            lambda: "rig/support: lease taken" in second.log_text(), 5, "support taken over"
        )
        time.sleep(1.0)  # rounds of the new holder mid-surge: nothing repeated nor undone
        assert "PJSIP/1004" in queue_show(rig) and "Value: 1" in surge_flag(rig)
        rig.rx("queue unpause member PJSIP/1001 queue support")  # own staff back
        wait_for(lambda: "PJSIP/1004" not in queue_show(rig), 5, "overflow member removed")
        wait_for(lambda: "Value: 1" not in surge_flag(rig), 5, "surge flag cleared")
        wait_for(
            lambda: pg_rows(url, "SELECT id FROM routing_episodes WHERE ended_at IS NOT NULL"),
            5,
            "episode closed",
        )

        done = pg_rows(
            url,
            "SELECT kind, target, status, epoch FROM routing_actions "
            "WHERE kind <> 'episode_open' ORDER BY id",
        )
        by_kind = {k: [(t, s, e) for kk, t, s, e in done if kk == k] for k in {d[0] for d in done}}
        assert by_kind["add_member"] == [("PJSIP/1004", "ok", 1)], done
        assert by_kind["remove_member"] == [("PJSIP/1004", "ok", 2)], done
        assert by_kind["surge_flag"] == [(None, "ok", 1), (None, "ok", 2)], done
        assert sorted(by_kind["move_caller"]) == sorted((u, "ok", 1) for u in ids), done
        assert [s for _, s, _ in by_kind["notify"]] == ["ok"] * 3, done
        episodes = pg_rows(url, "SELECT calls_affected FROM routing_episodes")
        assert episodes == [(2,)]
        # Each caller entered support once and was moved (entered overflow) once.
        lines = rig.queue_log_lines()
        for queue in ("support", "overflow"):
            enters = sorted(
                f[1]
                for f in lines
                if len(f) > 4 and f[4] == "ENTERQUEUE" and f[2] == queue and f[1] in ids
            )
            assert enters == sorted(ids), (queue, enters)
    finally:
        if batch is not None:
            batch.stop()
        watcher.close()
        for service in replicas:
            service.stop()
