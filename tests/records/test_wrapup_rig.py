"""Enforced wrap-up on the rig: the answering agent is paused after the call, then released."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from callcenter.rig.asterisk import AsteriskRig
from callcenter.rig.sipp import AgentPhones, default_caller_numbers, start_calls
from tests.records.rigcalls import MEMBERS, logged_calls, records_queue, wait_for
from tests.service_proc import ServiceProcess

WRAPUP_SECONDS = 3


def test_agent_stays_paused_for_wrap_up_then_is_released(
    rig: AsteriskRig,
    tmp_path: Path,
    agent_phones: Callable[..., AgentPhones],
) -> None:
    service = ServiceProcess(
        tmp_path,
        log_level="INFO",
        extra_toml=(f'[records]\nenforced_wrapup = {{ "cc-records" = {WRAPUP_SECONDS} }}\n'),
    )
    number = default_caller_numbers(1)
    with records_queue(rig) as queue:
        agent_phones(len(MEMBERS), first_ext=int(MEMBERS[0]), ring_seconds=0.3)
        service.start()
        try:
            result = start_calls(
                1,
                dial=queue,
                caller_numbers=number,
                hold_seconds=2.0,
                work_dir=tmp_path / "callers",
            ).wait(20)
            assert result.completed == 1, result.errors
            call = next(iter(logged_calls(rig, set(number)).values()))
            agent = call.agent
            assert agent is not None

            def pauses() -> list[list[str]]:
                return [
                    f
                    for f in rig.queue_log_lines()
                    if f[3] == agent
                    and f[4] in ("PAUSE", "UNPAUSE")
                    and float(f[0]) >= float(call_started(rig, call.callid))
                ]

            wait_for(lambda: any(f[4] == "UNPAUSE" for f in pauses()), 15, "released")
        finally:
            service.stop()
    seen = pauses()
    paused = next(f for f in seen if f[4] == "PAUSE")
    released = next(f for f in seen if f[4] == "UNPAUSE")
    assert paused[5] == "wrap-up"
    assert WRAPUP_SECONDS - 1 <= int(released[0]) - int(paused[0]) <= WRAPUP_SECONDS + 2


def call_started(rig: AsteriskRig, callid: str) -> str:
    return next(f[0] for f in rig.queue_log_lines() if f[1] == callid and f[4] == "ENTERQUEUE")
