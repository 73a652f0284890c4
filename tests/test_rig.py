"""The rig itself: a real Asterisk 22 with SIPp phones and callers."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from callcenter.rig.asterisk import AMI_PORT, AsteriskRig, read_ami_banner
from callcenter.rig.sipp import AgentPhones, place_calls, start_calls

pytestmark = pytest.mark.rig

# Client sockets of pjproject's DNS resolver: bound to the wildcard address on an
# ephemeral port by res_pjsip whatever the config says (Asterisk creates the
# resolver whenever the system has a nameserver, and glibc always reports one).
EPHEMERAL_PORTS = range(32768, 61000)


def _asterisk_sockets() -> list[tuple[str, str, int]]:
    """(protocol, address, port) of every listening/unconnected Asterisk socket."""
    out = subprocess.run(["ss", "-ltnupH"], capture_output=True, text=True, check=True).stdout
    sockets = []
    for line in out.splitlines():
        if '"asterisk"' not in line:
            continue
        fields = line.split()
        address, _, port = fields[4].rpartition(":")
        sockets.append((fields[0], address, int(port)))
    return sockets


def _wait_for(predicate: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.2)


def _calls_taken(rig: AsteriskRig, queue: str, interface: str) -> int:
    """Calls the member took since Asterisk started (other tests share the rig)."""
    line = _member_line(rig, queue, interface)
    match = re.search(r"has taken (\d+) calls", line)
    return int(match.group(1)) if match else 0


def _member_line(rig: AsteriskRig, queue: str, interface: str) -> str:
    for line in rig.rx(f"queue show {queue}").splitlines():
        if f"({interface})" in line:
            return line
    return ""


def test_ami_answers_and_everything_listens_on_loopback(rig: AsteriskRig) -> None:
    assert read_ami_banner().startswith("Asterisk Call Manager/")
    assert "Asterisk 22" in rig.rx("core show version")
    sockets = _asterisk_sockets()
    assert ("tcp", "127.0.0.1", AMI_PORT) in sockets
    assert ("udp", "127.0.0.1", 5060) in sockets
    for proto, address, port in sockets:
        if address in ("127.0.0.1", "[::1]"):
            continue
        assert proto == "udp" and port in EPHEMERAL_PORTS, (
            f"Asterisk listens on {address}:{port}/{proto}"
        )
    assert not [s for s in sockets if s[0] == "tcp" and s[1] != "127.0.0.1"]


def test_sip_caller_is_answered_by_agent_phone_1001(
    rig: AsteriskRig, agent_phones: Callable[..., AgentPhones]
) -> None:
    # Only 1001 has a phone; keep rrmemory from ringing the silent static member 1002.
    rig.rx("queue pause member PJSIP/1002 queue support reason rig-test")
    taken_before = _calls_taken(rig, "support", "PJSIP/1001")
    try:
        phones = agent_phones(1, first_ext=1001, ring_seconds=1.0)
        number = "13912340001"
        batch = start_calls(1, dial="support", caller_numbers=[number], hold_seconds=6.0)
        _wait_for(
            lambda: "(in call) (In use)" in _member_line(rig, "support", "PJSIP/1001"),
            15,
            "PJSIP/1001 in a call in queue support",
        )
        # While the call is up, its RTP sockets are on the loopback address too.
        rtp = [s for s in _asterisk_sockets() if 10000 <= s[2] <= 10999]
        assert rtp and all(address == "127.0.0.1" for _, address, _ in rtp)
        result = batch.wait(30)
    finally:
        rig.rx("queue unpause member PJSIP/1002 queue support")

    assert result.ok, result.errors
    assert result.answered == 1 and result.hung_up == 1
    stats = phones.stats()
    assert stats.rang == 1 and stats.answered == 1 and stats.bye_received == 1

    lines = rig.queue_log_lines()
    enter = [f for f in lines if f[4] == "ENTERQUEUE" and f[2] == "support" and f[6] == number]
    assert len(enter) == 1, lines
    callid = enter[0][1]
    events = [f[4] for f in lines if f[1] == callid]
    assert events == ["ENTERQUEUE", "CONNECT", "COMPLETECALLER"], events
    connect = next(f for f in lines if f[1] == callid and f[4] == "CONNECT")
    assert connect[3] == "Agent 1001"
    assert _calls_taken(rig, "support", "PJSIP/1001") == taken_before + 1


def test_dialled_name_picks_the_queue(rig: AsteriskRig) -> None:
    # consultation has no members: joinempty lets the caller wait, then it hangs up.
    result = place_calls(
        1, dial="consultation", caller_numbers=["13912340002"], hold_seconds=2.0, timeout=20
    )
    assert result.ok, result.errors
    lines = rig.queue_log_lines()
    mine = [f for f in lines if "13912340002" in f]
    assert mine and mine[0][2] == "consultation"
    callid = mine[0][1]
    assert [f[4] for f in lines if f[1] == callid] == ["ENTERQUEUE", "ABANDON"]


def test_local_channel_caller_and_agent_without_sip(rig: AsteriskRig) -> None:
    rig.rx("queue add member Local/agent1@agents/n to overflow")
    try:
        rig.rx("channel originate Local/overflow@local-callers application Wait 4")
        _wait_for(
            lambda: any(f[2] == "overflow" and f[4] == "CONNECT" for f in rig.queue_log_lines()),
            15,
            "CONNECT in overflow",
        )
    finally:
        rig.rx("queue remove member Local/agent1@agents/n from overflow")


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{entry.name}: {cmdline}")
    return found


def test_stop_leaves_no_process_then_restart(
    rig: AsteriskRig, agent_phones: Callable[..., AgentPhones]
) -> None:
    phones = agent_phones(2, first_ext=1003)
    pids = [p.proc.pid for p in phones.phones if p.proc is not None]
    phones.stop()
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists(), f"sipp {pid} survived stop()"

    rig.stop()
    try:
        assert not rig.running
        assert _processes_mentioning(str(rig.run_dir)) == []
        assert subprocess.run(["pgrep", "-x", "asterisk"], capture_output=True).stdout == b""
    finally:
        # The rig is session-wide: leave it running for the tests after this one.
        started = time.monotonic()
        rig.start()
    assert time.monotonic() - started < 30
    assert read_ami_banner().startswith("Asterisk Call Manager/")
