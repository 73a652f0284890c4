"""Queue exits on the real rig: the real `callcenter serve` (its FastAGI on the port the rig's
dialplan calls), Asterisk 22 with app_voicemail, dialplan/exits.conf, and callers that press
keys while they wait in a queue nobody serves.

- voicemail: a SIPp caller with real media (callcenter/rig/media.py) presses 1 as an RFC 4733
  event, waits for the beep, speaks 3 s (RTP from a WAV made with sox) and hangs up; the
  message becomes a work item holding the recording;
- operator and callback: cheaper Local-channel callers whose other half presses the key
  with SendDTMF (tests/ivr/rig_calls.py).

The exits of the queue are set through the service's own queue-settings API
(``set_queue_exits``: ``PUT /api/queue-settings/rig/<queue>`` as a supervisor): the service
renders the queue's ``context`` into queues_post_custom.conf and the exit keys' context into
callcenter_queue_exits.conf, reloads pbx_config and the queue, and checks them
(``DIALPLAN_EXISTS``), so the calls below prove that rendering end to end.
"""

from __future__ import annotations

import io
import json
import math
import shutil
import sqlite3
import subprocess
import urllib.error
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from callcenter.rig.asterisk import AsteriskRig
from callcenter.rig.media import SippMediaCall
from tests.ivr.rig_calls import call_local, hang_up_test_calls, install_test_phone
from tests.queueconf.lab import pbx_entry
from tests.service_proc import ServiceProcess
from tests.supervisor.helpers import Browser, add_users, queue_status, wait_for

FASTAGI_PORT = 4573  # IVR_AGI in config/asterisk/extensions.conf
QUEUE = "consultation"  # no static members; nobody signs in here
OPERATOR_QUEUE = "complaints"
QUEUES_INCLUDE = "queues_post_custom.conf"
EXITS_INCLUDE = "callcenter_queue_exits.conf"


def set_queue_exits(
    boss: Browser,
    queue: str,
    *,
    voicemail_key: str | None = None,
    callback_key: str | None = None,
    operator_key: str | None = None,
    operator_queue: str | None = None,
) -> int:
    """Give ``queue`` its exit keys through the queue-settings API, as a supervisor does
    from the wallboard; the settings' version afterwards (to drop them with)."""
    path = f"/api/queue-settings/rig/{queue}"

    def known() -> dict[str, Any] | None:
        status, body = boss.call("GET", path)
        return body if status == 200 else None

    state = wait_for(known, 20, f"{queue} in the service's live model")
    settings = {
        "exit_voicemail_key": voicemail_key,
        "exit_callback_key": callback_key,
        "exit_operator_key": operator_key,
        "operator_queue": operator_queue,
    }
    status, answer = boss.call("PUT", path, {"version": state["version"], "settings": settings})
    assert status == 200, answer
    assert answer["apply_error"] is None and answer["applied_version"] == answer["version"]
    return int(answer["version"])


def drop_queue_exits(boss: Browser, queue: str, version: int) -> None:
    """Stop managing ``queue``: the service takes its lines out of both include files."""
    status, answer = boss.call("DELETE", f"/api/queue-settings/rig/{queue}?version={version}")
    assert status == 200 and answer["managed"] is False, answer


@pytest.fixture(scope="module")
def exits_rig(rig: AsteriskRig) -> Iterator[AsteriskRig]:
    """The rig with the test phone; afterwards as it was (the service's include files put
    back as found, Asterisk reloaded), whatever the service did or failed to do."""
    kept = {
        name: (rig.etc_dir / name).read_text() if (rig.etc_dir / name).exists() else None
        for name in (QUEUES_INCLUDE, EXITS_INCLUDE)
    }
    install_test_phone(rig)
    try:
        yield rig
    finally:
        hang_up_test_calls(rig)
        hang_up_test_calls(rig, "PJSIP/callers")
        hang_up_test_calls(rig, f"Local/{QUEUE}@local-callers")
        for name, text in kept.items():
            if text is None:
                (rig.etc_dir / name).unlink(missing_ok=True)
            else:
                (rig.etc_dir / name).write_text(text)
        rig.rx(f"queue reload parameters {QUEUE}")
        rig.rx("dialplan reload")


@dataclass
class Centre:
    service: ServiceProcess
    boss: Browser
    zhao: Browser
    spool: Path

    @property
    def db(self) -> Path:
        return self.service.workdir / "callcenter.db"

    def rows(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db) as connection:
            return list(connection.execute(sql, args))

    def record(self, number: str, queue: str = QUEUE, outcome: str | None = None) -> Any:
        """The call record of this caller's join of ``queue`` (once written)."""

        def written() -> tuple[Any, ...] | None:
            found = self.rows(
                "SELECT outcome, evidence, ivr_data, overflow_queue FROM call_records "
                "WHERE caller_number = ? AND queue = ?",
                number,
                queue,
            )
            if found and (outcome is None or found[0][0] == outcome):
                return found[0]
            return None

        return wait_for(written, 15, f"the call record of {number} in {queue}")

    def get_bytes(self, who: Browser, path: str) -> tuple[int, str, bytes]:
        try:
            with who.opener.open(self.service.base_url + path, timeout=15) as response:
                return response.status, response.headers.get_content_type(), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get_content_type(), exc.read()


@pytest.fixture(scope="module")
def centre(exits_rig: AsteriskRig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Centre]:
    """The service with the rig's folders (its /etc/asterisk and voicemail spool); the
    queue's exits set through its API; a team serving the queue (Li, who never signs in), a
    supervisor (Boss) and an agent of no team (Zhao)."""
    workdir = tmp_path_factory.mktemp("exits-service")
    entry = pbx_entry(exits_rig)
    spool = Path(entry["voicemail_spool"])
    service = ServiceProcess(workdir, pbx=[entry], fastagi_port=FASTAGI_PORT, log_level="INFO")
    add_users(
        service.config,
        ("boss", "supervisor"),
        ("li", "agent"),
        ("zhao", "agent"),
    )
    service.start()
    try:
        boss = Browser(service.base_url).login("boss")
        li = Browser(service.base_url).login("li")
        status, me = li.call("GET", "/api/me")
        assert status == 200, me
        status, body = boss.call(
            "POST",
            "/api/teams",
            {"name": "consult", "queues": [QUEUE], "members": [int(me["user"]["id"])]},
        )
        assert status == 201, body
        version = set_queue_exits(
            boss,
            QUEUE,
            voicemail_key="1",
            callback_key="2",
            operator_key="0",
            operator_queue=OPERATOR_QUEUE,
        )
        # What the service rendered, as Asterisk's dialplan now has it.
        shown = exits_rig.rx(f"dialplan show callcenter-exits-{QUEUE}")
        for key, target in (
            ("1", f"callcenter-exit-voicemail,{QUEUE},1"),
            ("2", f"callcenter-exit-callback,{QUEUE},1"),
            ("0", f"callcenter-exit-operator,{OPERATOR_QUEUE},1"),
        ):
            assert f"'{key}' =>" in shown and target in shown, shown
        yield Centre(service, boss, Browser(service.base_url).login("zhao"), spool)
        drop_queue_exits(boss, QUEUE, version)
        assert f"[{QUEUE}]" not in (exits_rig.etc_dir / QUEUES_INCLUDE).read_text()
    finally:
        service.stop()


def wait_waiting(queue: str, number: str, timeout: float = 10) -> None:
    """Until the PBX lists the caller among the queue's waiting callers."""

    def waiting() -> bool:
        _, entries = queue_status(queue)
        return any(e.get("CallerIDNum") == number for e in entries)

    wait_for(waiting, timeout, f"{number} waiting in {queue}")


def speech_wav(folder: Path, seconds: float = 3.0) -> Path:
    """A voice-like sweep (300-900 Hz, -6 dBFS), made with sox."""
    sox = shutil.which("sox")
    assert sox is not None, "sox is needed (apt-get install -y sox)"
    path = folder / "speech.wav"
    subprocess.run(
        [
            *(sox, "-n", "-r", "16000", "-c", "1", "-b", "16", str(path)),
            *("synth", str(seconds), "sine", "300-900", "gain", "-6"),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return path


def wav_facts(data: bytes) -> tuple[int, int, float, float]:
    """(rate, channels, seconds, RMS) of a 16-bit WAV."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
        frames = wav.readframes(wav.getnframes())
    assert width == 2
    samples = [
        int.from_bytes(frames[i : i + 2], "little", signed=True) for i in range(0, len(frames), 2)
    ]
    rms = math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))
    return rate, channels, len(samples) / rate / channels, rms


def test_a_caller_leaves_a_voicemail_that_becomes_a_work_item(
    centre: Centre, tmp_path: Path
) -> None:
    number = "7101"
    speech = speech_wav(tmp_path)
    with SippMediaCall(number, dial=QUEUE, work_dir=tmp_path) as call:
        call.wait_answered()
        wait_waiting(QUEUE, number)
        # Music on hold reaches the caller while it waits.
        call.rtp.wait_for_packets(5)
        pressed = call.rtp.packets()[-1].at
        call.rtp.send_dtmf("1")
        # The prompt (Chinese, then English: no language chosen), the beep, then silence:
        # Asterisk records.
        call.rtp.wait_for_quiet(0.5, timeout=20, since=pressed + 0.5)
        heard = call.rtp.received_audio(since=pressed)
        assert heard.loud_seconds() > 3, "the voicemail prompt was not heard"
        assert call.rtp.send_wav(speech) == pytest.approx(3.0)
        call.hang_up()
        assert call.wait_ended() == "HUNGUP"

    def stored() -> tuple[Any, ...] | None:
        found = centre.rows(
            "SELECT id, queue, mailbox, caller, duration_seconds, audio, work_item_id "
            "FROM voicemail_messages WHERE caller = ?",
            number,
        )
        return found[0] if found and found[0][6] is not None else None

    message_id, queue, mailbox, caller, duration, audio, item_id = wait_for(
        stored, 15, "the voicemail stored and filed"
    )
    assert (queue, mailbox, caller) == (QUEUE, QUEUE, number)
    rate, channels, seconds, rms = wav_facts(audio)
    assert (rate, channels) == (8000, 1)
    assert 2.5 <= seconds <= 3.6 and duration == round(seconds)
    assert rms > 1000, f"the recording is silence (RMS {rms:.0f})"
    # Taken out of the mailbox once stored.
    assert not list((centre.spool / "callcenter" / QUEUE / "INBOX").glob("msg*"))

    status, item = centre.boss.call("GET", f"/api/work/items/{item_id}")
    assert status == 200, item
    assert (item["kind"], item["source"], item["phone"], item["queue"]) == (
        "callback",
        "voicemail",
        number,
        QUEUE,
    )
    assert item["team_name"] == "consult" and item["owner_id"] is None
    url = f"/api/voicemail/{message_id}/audio"
    assert item["voicemail"] == {"id": message_id, "duration_seconds": duration, "audio_url": url}
    assert centre.get_bytes(centre.boss, url) == (200, "audio/wav", audio)
    status, _, body = centre.get_bytes(centre.zhao, url)
    assert status == 403 and json.loads(body)["error"] == "not-your-voicemail"

    # The call record: the caller withdrew from the queue through its voicemail exit.
    outcome, evidence, ivr_data, _ = centre.record(number)
    assert (outcome, evidence) == ("withdrawn", "exit_key")
    ivr = json.loads(ivr_data)
    assert (ivr["CC_EXIT"], ivr["CC_EXIT_FROM"]) == ("voicemail", QUEUE)


def test_the_operator_exit_puts_the_caller_in_the_operator_queue(
    centre: Centre, exits_rig: AsteriskRig
) -> None:
    number = "7102"
    call_local(f"Local/{QUEUE}@local-callers", number, "0", hold=20, delay=2)
    wait_waiting(OPERATOR_QUEUE, number, timeout=15)
    # The join of the first queue was left through the exit; joining the operator queue at
    # once marks its record as moved there.
    _, evidence, ivr_data, moved_to = centre.record(number, outcome="overflowed")
    assert (evidence, moved_to) == ("exit_key", OPERATOR_QUEUE)
    assert json.loads(ivr_data)["CC_EXIT"] == "operator"
    hang_up_test_calls(exits_rig, f"Local/{QUEUE}@local-callers")
    # The operator queue's own record says where the caller came from.
    outcome, _, ivr_data, _ = centre.record(number, OPERATOR_QUEUE)
    ivr = json.loads(ivr_data)
    assert (outcome, ivr["CC_EXIT"], ivr["CC_EXIT_FROM"]) == ("abandoned", "operator", QUEUE)


def test_the_callback_exit_books_a_callback(centre: Centre) -> None:
    number = "7103"
    call_local(f"Local/{QUEUE}@local-callers", number, "2", hold=20, delay=2)

    def booked() -> tuple[Any, ...] | None:
        found = centre.rows(
            "SELECT id, kind, source, queue FROM work_items WHERE phone = ?", number
        )
        return found[0] if found else None

    item_id, kind, source, queue = wait_for(booked, 15, "a callback booked")
    assert (kind, source, queue) == ("callback", "ivr", QUEUE)
    assert item_id > 0
    outcome, evidence, ivr_data, _ = centre.record(number)
    assert (outcome, evidence) == ("withdrawn", "exit_key")
    assert json.loads(ivr_data)["CC_EXIT"] == "callback"
