"""Pytest plugin: the real Asterisk rig (one per session) and SIPp agent phones.

If the rig cannot be built or started, tests that use it FAIL with the reason: a
missing PBX must never look like a passing (skipped) suite.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from callcenter.rig.asterisk import AsteriskRig, RigError, ensure_rootfs
from callcenter.rig.sipp import AgentPhones, kill_all_sipp

_start_error: str | None = None

# The rig's ports are fixed (AMI 5038, SIP 5060, phones 6001-6010): two test sessions on one
# machine take turns instead of failing on each other's Asterisk.
RIG_LOCK = Path(os.environ.get("CALLCENTER_RIG_LOCK", "/tmp/callcenter-rig.lock"))
RIG_LOCK_WAIT_SECONDS = 1800


def _take_rig_lock() -> int:
    handle = os.open(RIG_LOCK, os.O_CREAT | os.O_RDWR, 0o666)
    deadline = time.monotonic() + RIG_LOCK_WAIT_SECONDS
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(handle)
                pytest.fail(
                    f"the rig stayed busy (lock {RIG_LOCK}) for {RIG_LOCK_WAIT_SECONDS} s",
                    pytrace=False,
                )
            time.sleep(0.5)


@pytest.fixture(scope="session")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsteriskRig]:
    """A running Asterisk 22 on 127.0.0.1 (AMI 5038, SIP 5060), stopped at session end.

    Tests may stop/restart it but must leave it running. Its ``queue_log`` accumulates
    over the session: filter by your own caller numbers or Uniqueids.
    """
    global _start_error
    if _start_error is not None:
        pytest.fail(f"Asterisk rig unavailable: {_start_error}", pytrace=False)
    lock = _take_rig_lock()
    instance = AsteriskRig(tmp_path_factory.mktemp("asterisk-rig"))
    try:
        # Builds the cached root file system on a fresh machine (about a minute).
        ensure_rootfs()
        instance.start()
    except RigError as exc:
        _start_error = str(exc)
        instance.stop()
        os.close(lock)
        pytest.fail(f"Asterisk rig did not start: {exc}", pytrace=False)
    try:
        yield instance
    finally:
        instance.stop()
        kill_all_sipp()
        os.close(lock)


@pytest.fixture
def agent_phones(tmp_path: Path) -> Iterator[Callable[..., AgentPhones]]:
    """Factory: ``agent_phones(n, first_ext=1001, ring_seconds=1, talk_seconds=None,
    answer=True)`` starts SIPp phones; all are stopped when the test ends."""
    started: list[AgentPhones] = []

    def make(n: int = 1, **kwargs: object) -> AgentPhones:
        phones = AgentPhones(n, work_dir=tmp_path / f"phones-{len(started)}", **kwargs)  # type: ignore[arg-type]
        started.append(phones)
        phones.start()
        return phones

    try:
        yield make
    finally:
        for phones in started:
            phones.stop()
