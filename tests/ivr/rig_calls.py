"""Callers that press keys: Local channels into the hotline whose other half sends DTMF.

``call_hotline`` originates ``Local/400@local-callers``: the ``;2`` half runs the IVR as the
caller, the ``;1`` half runs ``ivr-test-phone`` (written into the rig's config copy by
``install_test_phone``), which waits, then sends ``keys`` with SendDTMF (``w`` = 0.5 s).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from callcenter.rig.asterisk import AMI_HOST, AMI_PORT, AMI_SECRET, AMI_USERNAME, AsteriskRig

TEST_PHONE_CONF = "ivr-test-phone.conf"
TEST_PHONE = """; Test-only (written by tests/ivr/rig_calls.py into the rig's config copy).
[ivr-test-phone]
exten => s,1,Wait(${TEST_DELAY})
 same => n,SendDTMF(${TEST_KEYS})
 same => n,Wait(${TEST_HOLD})
 same => n,Hangup()
; A redirect here presses the survey score.
exten => score,1,SendDTMF(${TEST_SCORE})
 same => n,Wait(15)
 same => n,Hangup()
"""


def install_test_phone(rig: AsteriskRig) -> None:
    (rig.etc_dir / TEST_PHONE_CONF).write_text(TEST_PHONE, encoding="utf-8")
    extensions = rig.etc_dir / "extensions.conf"
    text = extensions.read_text(encoding="utf-8")
    include = f"#include {TEST_PHONE_CONF}\n"
    if include not in text:
        extensions.write_text(text + include, encoding="utf-8")
    rig.rx("dialplan reload")


def ami_action(fields: list[tuple[str, str]], timeout: float = 5.0) -> dict[str, str]:
    """Log in, send one action, return its response block."""
    with socket.create_connection((AMI_HOST, AMI_PORT), timeout=timeout) as sock:
        reader = sock.makefile("rb")
        reader.readline()  # banner

        def send(items: list[tuple[str, str]]) -> dict[str, str]:
            sock.sendall("".join(f"{k}: {v}\r\n" for k, v in items).encode() + b"\r\n")
            block: dict[str, str] = {}
            while True:
                line = reader.readline().decode("utf-8", "replace").rstrip("\r\n")
                if not line:
                    if "Response" in block:
                        return block
                    block = {}  # an event before our response
                    continue
                key, _, value = line.partition(": ")
                block[key] = value

        login = send(
            [
                ("Action", "Login"),
                ("Username", AMI_USERNAME),
                ("Secret", AMI_SECRET),
                ("Events", "off"),
            ]
        )
        assert login.get("Response") == "Success", login
        answer = send(fields)
        send([("Action", "Logoff")])
        return answer


def call_hotline(
    number: str,
    keys: str,
    *,
    hold: int = 60,
    delay: float = 1.0,
    score: str = "",
    extra: dict[str, str] | None = None,
) -> None:
    """One caller from ``number`` who dials the IVR hotline and presses ``keys``."""
    call_local(
        "Local/400@local-callers", number, keys, hold=hold, delay=delay, score=score, extra=extra
    )


def call_local(
    channel: str,
    number: str,
    keys: str,
    *,
    hold: int = 60,
    delay: float = 1.0,
    score: str = "",
    extra: dict[str, str] | None = None,
) -> None:
    """A Local ``channel`` (``Local/<exten>@<context>``) whose ``;2`` half runs that dialplan
    while the ``;1`` half presses ``keys``. ``extra`` channel variables reach both halves."""
    variables = {
        "TEST_KEYS": keys,
        "TEST_HOLD": str(hold),
        "TEST_DELAY": f"{delay:g}",
        "TEST_SCORE": score,
        **(extra or {}),
    }
    answer = ami_action(
        [
            ("Action", "Originate"),
            ("Channel", channel),
            ("Context", "ivr-test-phone"),
            ("Exten", "s"),
            ("Priority", "1"),
            ("CallerID", f'"{number}" <{number}>'),
            ("Async", "true"),
            ("Timeout", "10000"),
            *(("Variable", f"{k}={v}") for k, v in variables.items()),
        ]
    )
    assert answer.get("Response") == "Success", answer


def channels(rig: AsteriskRig) -> list[list[str]]:
    """``core show channels concise``: channel!context!exten!prio!state!app!data!callerid..."""
    return [
        line.split("!") for line in rig.rx("core show channels concise").splitlines() if "!" in line
    ]


def hang_up_test_calls(rig: AsteriskRig, prefix: str = "Local/400@local-callers") -> None:
    """Hang up every channel whose name starts with ``prefix`` (by default: the hotline's)."""
    for fields in channels(rig):
        if fields[0].startswith(prefix):
            rig.rx(f"channel request hangup {fields[0]}")


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"not {what} within {timeout} s")


def entered(rig: AsteriskRig, number: str) -> list[list[str]]:
    """queue_log ENTERQUEUE lines of this caller number (callid, queue in fields 1, 2)."""
    return [f for f in rig.queue_log_lines() if f[4] == "ENTERQUEUE" and f[6] == number]
