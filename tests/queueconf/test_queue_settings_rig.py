"""Queue settings on the real Asterisk: applied by include file + QueueReload and confirmed,
refused before anything is written, kept after hand edits and restarts, and harmless to the
callers waiting while it happens."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from callcenter.rig.asterisk import AsteriskRig
from callcenter.rig.sipp import AgentPhone
from tests.ivr.rig_calls import ami_action
from tests.queueconf.lab import (
    LAB,
    AmiRecorder,
    include_text,
    lab_queue,
    originate_caller,
    pbx_entry,
    queue_line,
)
from tests.service_proc import ServiceProcess
from tests.supervisor.helpers import Browser, add_users, queue_status, wait_for

PATH = f"/api/queue-settings/rig/{LAB}"


def _service(rig: AsteriskRig, tmp_path: Path, extra_toml: str = "") -> ServiceProcess:
    service = ServiceProcess(
        tmp_path, pbx=[pbx_entry(rig)], log_level="INFO", extra_toml=extra_toml
    )
    add_users(
        service.config,
        ("boss", "supervisor"),
        ("agent7", "agent"),
    )
    return service


def _known(boss: Browser) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        status, body = boss.call("GET", PATH)
        return body if status == 200 else None

    state: dict[str, Any] = wait_for(found, 20, "the lab queue in the live model")
    return state


def test_a_supervisor_changes_a_queue_live_and_asterisk_confirms_it(
    rig: AsteriskRig, tmp_path: Path
) -> None:
    with lab_queue(rig):
        service = _service(rig, tmp_path)
        service.start()
        try:
            boss = Browser(service.base_url).login("boss")
            state = _known(boss)
            assert (state["managed"], state["manageable"], state["version"]) == (False, True, 0)
            assert state["settings"]["strategy"] is None  # as queues.conf has it

            agent = Browser(service.base_url).login("agent7")
            status, _ = agent.call("PUT", PATH, {"version": 0, "settings": {"timeout": 5}})
            assert status == 403

            # Bad input: a clear 4xx, nothing written, Asterisk untouched.
            refused: tuple[tuple[dict[str, object], tuple[int, str]], ...] = (
                ({"strategy": "roundrobin"}, (400, "invalid-body")),
                ({"timeout": -5}, (400, "invalid-body")),
                ({"musicclass": "jazz"}, (400, "unknown-music-class")),
                ({"strategy": "linear"}, (409, "needs-restart")),
                ({"exit_operator_key": "0"}, (400, "invalid-body")),
            )
            for bad, expected in refused:
                status, answer = boss.call("PUT", PATH, {"version": 0, "settings": bad})
                assert (status, answer["error"]) == expected, (bad, answer)
            assert include_text(rig) is None
            assert "'ringall' strategy" in queue_line(rig)

            settings = {
                "strategy": "rrmemory",
                "timeout": 7,
                "wrapuptime": 3,
                "weight": 4,
                "maxlen": 9,
                "servicelevel": 30,
                "announce_position": True,
                "musicclass": "default",
            }
            status, answer = boss.call("PUT", PATH, {"version": 0, "settings": settings})
            assert status == 200, answer
            assert (answer["version"], answer["applied_version"], answer["set_by"]) == (
                1,
                1,
                "boss",
            )
            assert answer["live"] == {
                "strategy": "rrmemory",
                "max": 9,
                "weight": 4,
                "servicelevel": 30,
            }
            line = queue_line(rig)
            assert "'rrmemory' strategy" in line and "max 9" in line and "W:4" in line, line
            assert "within 30s" in line
            text = include_text(rig)
            assert text is not None and f"[{LAB}](+)" in text
            assert "timeout = 7" in text and "wrapuptime = 3" in text
            assert "[support]" not in text  # queues the service does not manage: never written

            # The rig's own queues take their strategy from a template: Asterisk 22 keeps it.
            status, answer = boss.call(
                "PUT",
                "/api/queue-settings/rig/support",
                {"version": 0, "settings": {"strategy": "ringall"}},
            )
            assert (status, answer["error"]) == (409, "strategy-fixed-in-queues-conf"), answer
            assert "[support]" not in (include_text(rig) or "")

            # A second supervisor with the form loaded before the change is told, with it.
            status, answer = boss.call("PUT", PATH, {"version": 0, "settings": {"timeout": 9}})
            assert (status, answer["error"]) == (409, "version-conflict")
            assert answer["current"]["settings"]["timeout"] == 7
            assert answer["current"]["set_by"] == "boss" and answer["current"]["version"] == 1
            assert "timeout = 7" in (include_text(rig) or "")

            status, audit = boss.call("GET", "/api/audit?action=queue.settings")
            assert status == 200 and audit["total"] == 1, audit
            entry = audit["entries"][0]
            assert entry["parameters"]["after"]["timeout"] == 7
            assert entry["parameters"]["before"]["timeout"] is None

            status, answer = boss.call("DELETE", f"{PATH}?version=1")
            assert status == 200 and answer["managed"] is False, answer
            assert "'ringall' strategy" in queue_line(rig) and "W:0" in queue_line(rig)
            assert f"[{LAB}]" not in (include_text(rig) or "")
        finally:
            service.stop()


def test_drift_from_a_hand_edit_or_a_restart_is_repaired_and_shown(
    rig: AsteriskRig, tmp_path: Path
) -> None:
    with lab_queue(rig):
        service = _service(rig, tmp_path, "[queueconf]\ncheck_seconds = 1\n")
        service.start()
        try:
            boss = Browser(service.base_url).login("boss")
            _known(boss)
            status, answer = boss.call(
                "PUT", PATH, {"version": 0, "settings": {"weight": 6, "timeout": 8}}
            )
            assert status == 200, answer
            written = include_text(rig)

            # Someone edits the file by hand and reloads the queue.
            (rig.etc_dir / "queues_post_custom.conf").write_text(f"[{LAB}](+)\nweight = 1\n")
            rig.rx(f"queue reload parameters {LAB}")
            wait_for(
                lambda: "W:6" in queue_line(rig) and include_text(rig) == written, 10, "repaired"
            )
            status, state = boss.call("GET", PATH)
            assert state["drift"] and "differs from the desired state" in state["drift"], state
            status, audit = boss.call("GET", "/api/audit?action=queue.settings.drift")
            assert audit["total"] >= 1 and audit["entries"][0]["user"] == "system", audit

            # The PBX restarts without the file (a fresh /etc/asterisk, say).
            rig.stop()
            (rig.etc_dir / "queues_post_custom.conf").unlink()
            rig.start()
            wait_for(lambda: "W:6" in queue_line(rig), 30, "re-applied after the restart")
            assert include_text(rig) == written
        finally:
            service.stop()


def _entries() -> list[tuple[str, str]]:
    _, entries = queue_status(LAB)
    return [(e["Uniqueid"], e["Position"]) for e in entries]


def _pause(interface: str, paused: bool) -> None:
    answer = ami_action(
        [
            ("Action", "QueuePause"),
            ("Queue", LAB),
            ("Interface", interface),
            ("Paused", "true" if paused else "false"),
        ]
    )
    assert answer.get("Response") == "Success", answer


def _stamp(event: dict[str, str]) -> float:
    return float(event["Timestamp"])


def test_callers_waiting_through_reloads_are_neither_dropped_nor_reordered_and_the_phones_ring_as_set(  # noqa: E501
    rig: AsteriskRig, tmp_path: Path
) -> None:
    with lab_queue(rig):
        service = _service(rig, tmp_path)
        service.start()
        recorder = AmiRecorder()
        phones: list[AgentPhone] = []
        try:
            boss = Browser(service.base_url).login("boss")
            _known(boss)
            # Three callers wait: the members' phones are not up yet (their INVITEs go
            # unanswered), so nobody answers.
            for number in ("5101", "5102", "5103"):
                originate_caller(number)

                def waiting(number: str = number) -> bool:
                    return any(
                        e.get("CallerIDNum") == number for e in recorder.of("QueueCallerJoin")
                    )

                wait_for(waiting, 10, f"caller {number} waiting")
            before = _entries()
            assert [p for _, p in before] == ["1", "2", "3"]

            for version, settings in enumerate(
                (
                    {"strategy": "rrmemory", "timeout": 4, "weight": 2},
                    {"strategy": "ringall", "timeout": 4, "wrapuptime": 4},
                )
            ):
                status, answer = boss.call("PUT", PATH, {"version": version, "settings": settings})
                assert status == 200, answer
                assert _entries() == before  # the same callers in the same places

            # One phone that answers (the other member paused): the callers are taken in their
            # original order, and after each call the phone rests the 4 s of wrap-up (Asterisk
            # counts it in whole seconds from the call's end: at least 3 s).
            _pause("PJSIP/1004", True)
            phones = [AgentPhone(1003, ring_seconds=0.2, talk_seconds=0.5)]
            phones[0].start()
            connects = wait_for(
                lambda: (
                    recorder.of("AgentConnect") if len(recorder.of("AgentConnect")) >= 3 else None
                ),
                40,
                "three calls answered",
            )
            assert [c["Uniqueid"] for c in connects] == [uid for uid, _ in before]
            completes = wait_for(
                lambda: (
                    recorder.of("AgentComplete") if len(recorder.of("AgentComplete")) >= 3 else None
                ),
                10,
                "the three calls completed",
            )
            for complete, caller in zip(completes[:2], before[1:], strict=True):
                rung_again = min(
                    _stamp(e)
                    for e in recorder.of("AgentCalled")
                    if e["Uniqueid"] == caller[0]
                    and e["Interface"] == "PJSIP/1003"
                    and _stamp(e) > _stamp(complete)
                )
                assert rung_again - _stamp(complete) >= 3.0, (complete, caller)
            assert recorder.of("QueueCallerAbandon") == []  # nobody dropped by the reloads
            phones[0].stop()
            _pause("PJSIP/1004", False)

            # The ring pattern, one caller: rrmemory rings one phone at a time for 4 s ...
            phones = [AgentPhone(ext, answer=False) for ext in (1003, 1004)]
            for phone in phones:
                phone.start()
            status, answer = boss.call(
                "PUT", PATH, {"version": 2, "settings": {"strategy": "rrmemory", "timeout": 4}}
            )
            assert status == 200, answer
            originate_caller("5104")
            caller = wait_for(
                lambda: next(
                    (
                        e["Uniqueid"]
                        for e in recorder.of("QueueCallerJoin")
                        if e.get("CallerIDNum") == "5104"
                    ),
                    None,
                ),
                10,
                "caller 5104 waiting",
            )

            def rings() -> list[dict[str, str]]:
                return [e for e in recorder.of("AgentRingNoAnswer") if e["Uniqueid"] == caller]

            given_up = wait_for(lambda: rings()[:2] if len(rings()) >= 2 else None, 15, "2 rings")
            for event in given_up:
                assert 3500 <= int(event["RingTime"]) <= 4600, event
            second_began = _stamp(given_up[1]) - int(given_up[1]["RingTime"]) / 1000
            assert second_began >= _stamp(given_up[0]) - 0.2  # one after the other

            # ... ringall rings both at once.
            status, answer = boss.call(
                "PUT", PATH, {"version": 3, "settings": {"strategy": "ringall", "timeout": 4}}
            )
            assert status == 200, answer
            changed = time.time()

            def called() -> list[dict[str, str]]:
                return [
                    e
                    for e in recorder.of("AgentCalled")
                    if e["Uniqueid"] == caller and _stamp(e) > changed
                ]

            pair = wait_for(lambda: called()[:2] if len(called()) >= 2 else None, 15, "ringall")
            assert {e["Interface"] for e in pair} == {"PJSIP/1003", "PJSIP/1004"}
            assert abs(_stamp(pair[1]) - _stamp(pair[0])) < 0.5
        finally:
            recorder.close()
            for phone in phones:
                phone.stop()
            service.stop()
