"""A queue of the tests' own on the rig, an AMI event recorder, and the service's PBX entry
with the queue-settings folders: what the queue-settings rig tests share.

The lab queue is appended to the rig's copy of queues.conf *without* a strategy line (nor a
template), so Asterisk 22, which keeps a queue's first strategy line, can take one from the
service's include file; the rig's own queues (template with ``strategy = rrmemory``) show the
other case.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from callcenter.rig.asterisk import AsteriskRig
from tests.ivr.rig_calls import ami_action
from tests.routing.amiwatch import AmiEvents
from tests.service_proc import RIG_PBX

LAB = "cclab"
LAB_SECTION = f"""
; --- test lab queue (tests/queueconf/lab.py) ---
[{LAB}]
timeout = 2
retry = 1
servicelevel = 20
joinempty = yes
leavewhenempty = no
ringinuse = no
setinterfacevar = yes
member => PJSIP/1003,0,Agent 1003
member => PJSIP/1004,0,Agent 1004
; --- end of test lab queue ---
"""
INCLUDES = ("queues_post_custom.conf", "callcenter_queue_exits.conf")


def pbx_entry(rig: AsteriskRig) -> dict[str, Any]:
    """The rig's [[pbx]] entry with the folders the queue-settings room writes to."""
    return {
        **RIG_PBX,
        "asterisk_etc": str(rig.etc_dir),
        "sounds_dir": str(rig.run_dir / "lib" / "sounds" / "callcenter-announcements"),
        "voicemail_spool": str(rig.run_dir / "spool" / "voicemail"),
    }


@contextlib.contextmanager
def lab_queue(rig: AsteriskRig) -> Iterator[str]:
    """The lab queue exists while the block runs; afterwards the rig is as before (the
    service's include files gone, the queues reloaded from queues.conf alone)."""
    conf = rig.etc_dir / "queues.conf"
    original = conf.read_text(encoding="utf-8")
    # Before the service's include: queues.conf must read it last.
    include = f"#tryinclude {INCLUDES[0]}"
    assert include in original
    conf.write_text(original.replace(include, LAB_SECTION + include), encoding="utf-8")
    reload(LAB, members=True)
    try:
        yield LAB
    finally:
        for name in INCLUDES:
            (rig.etc_dir / name).unlink(missing_ok=True)
        conf.write_text(original, encoding="utf-8")
        rig.rx("dialplan reload")
        rig.rx("queue reload all")
        rig.rx("channel request hangup all")


def reload(queue: str, *, members: bool = False) -> None:
    fields = [("Action", "QueueReload"), ("Queue", queue), ("Parameters", "yes")]
    if members:
        fields.append(("Members", "yes"))
    answer = ami_action(fields)
    assert answer.get("Response") == "Success", answer


def originate_caller(number: str, queue: str = LAB, hold: int = 60) -> None:
    """A caller (Local channel) who dials ``queue`` and waits up to ``hold`` seconds."""
    answer = ami_action(
        [
            ("Action", "Originate"),
            ("Channel", f"Local/{queue}@local-callers"),
            ("Application", "Wait"),
            ("Data", str(hold)),
            ("CallerID", f'"Lab {number}" <{number}>'),
            ("Async", "true"),
        ]
    )
    assert answer.get("Response") == "Success", answer


class AmiRecorder(AmiEvents):
    """Queue, agent and hang-up events of the rig (the lab queue's by default in ``of``)."""

    def __init__(self) -> None:
        super().__init__(("Agent", "QueueCaller", "Hangup"), classes="agent,call")

    def of(self, event: str, queue: str | None = LAB) -> list[dict[str, str]]:
        return super().of(event, queue)


def queue_line(rig: AsteriskRig, queue: str = LAB) -> str:
    """The first line of ``queue show``: strategy, max, weight, service level."""
    return rig.rx(f"queue show {queue}").splitlines()[0]


def include_text(rig: AsteriskRig) -> str | None:
    path: Path = rig.etc_dir / INCLUDES[0]
    return path.read_text(encoding="utf-8") if path.exists() else None
