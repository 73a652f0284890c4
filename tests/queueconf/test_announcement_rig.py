"""A periodic announcement heard by a waiting SIPp caller: the prompt's RTP arrives.

The real chain: an announcement uploaded to the real service (sox converts it), set on the
lab queue through the queue-settings API (the service writes it into the PBX's sounds folder
and names it in queues_post_custom.conf, QueueReload), a SIPp caller whose media is an
``RtpEndpoint`` (callcenter/rig/media.py) dials the queue and waits; nobody answers (the
members are paused: no ring cycles, so the head caller's loop in app_queue comes round every
``retry`` second and the announcement is due on time).

The announcement is a 1 kHz tone, told apart from anything else by a Goertzel filter on each
20 ms packet; the queue's music class is ``silence`` (config/asterisk/musiconhold.conf), so
between announcements the caller hears (near) digital silence, and every loud packet is the
tone.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callcenter.rig.asterisk import AsteriskRig
from callcenter.rig.media import PCMU, RtpPacket, SippMediaCall, linear_from_pcmu
from tests.ivr.rig_calls import ami_action
from tests.queueconf.lab import (
    LAB,
    AmiRecorder,
    include_text,
    lab_queue,
    pbx_entry,
)
from tests.service_proc import ServiceProcess
from tests.supervisor.helpers import Browser, add_user, wait_for

PATH = f"/api/queue-settings/rig/{LAB}"
TONE_HZ = 1000
TONE_SECONDS = 1.5
FREQUENCY = 4  # periodic_announce_frequency, seconds
CALLER = "7301"
MEMBERS = ("PJSIP/1003", "PJSIP/1004")


def tone_wav(folder: Path) -> Path:
    """1.5 s of 1 kHz at -6 dBFS, 16 kHz mono (the service converts it to 8 kHz)."""
    sox = shutil.which("sox")
    assert sox is not None, "sox is needed (apt-get install -y sox)"
    path = folder / "tone.wav"
    subprocess.run(
        [
            *(sox, "-n", "-r", "16000", "-c", "1", "-b", "16", str(path)),
            *("synth", str(TONE_SECONDS), "sine", str(TONE_HZ), "gain", "-6"),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return path


def upload(boss: Browser, name: str, wav: bytes) -> tuple[int, Any]:
    """``POST /api/announcements/upload`` with the file as the body (audio/wav)."""
    query = urllib.parse.urlencode({"name": name, "language": "en"})
    request = urllib.request.Request(
        f"{boss.base_url}/api/announcements/upload?{query}",
        data=wav,
        method="POST",
        headers={"Content-Type": "audio/wav", "Origin": boss.base_url},
    )
    try:
        with boss.opener.open(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def tone_share(samples: Sequence[int]) -> float:
    """The share of a frame's energy at TONE_HZ (Goertzel): about 1 for the pure tone, about
    0 for anything else (speech, music, noise)."""
    n = len(samples)
    energy = sum(s * s for s in samples)
    if n == 0 or energy == 0:
        return 0.0
    coefficient = 2 * math.cos(2 * math.pi * TONE_HZ / 8000)
    before = before2 = 0.0
    for sample in samples:
        before, before2 = sample + coefficient * before - before2, before
    power = before * before + before2 * before2 - coefficient * before * before2
    return 2 * power / (n * energy)


@dataclass(frozen=True)
class Heard:
    at: float  # time.monotonic() at arrival
    dbfs: float
    share: float

    @property
    def loud(self) -> bool:
        return self.dbfs > -40

    @property
    def tone(self) -> bool:
        return self.dbfs > -20 and self.share > 0.8


def analyse(packets: list[RtpPacket]) -> list[Heard]:
    heard: list[Heard] = []
    for packet in packets:
        if packet.payload_type != PCMU or not packet.payload:
            continue
        samples = linear_from_pcmu(packet.payload)
        rms = math.sqrt(sum(s * s for s in samples) / len(samples))
        dbfs = 20 * math.log10(rms / 32768) if rms > 0 else -math.inf
        heard.append(Heard(packet.at, dbfs, tone_share(samples)))
    return heard


def bursts(heard: list[Heard], gap: float = 0.2) -> list[tuple[float, float]]:
    """(first, last) arrival of each run of tone packets (runs split by > ``gap`` s)."""
    runs: list[tuple[float, float]] = []
    for frame in heard:
        if not frame.tone:
            continue
        if runs and frame.at - runs[-1][1] <= gap:
            runs[-1] = (runs[-1][0], frame.at)
        else:
            runs.append((frame.at, frame.at))
    return runs


def pause_members(paused: bool) -> None:
    for interface in MEMBERS:
        answer = ami_action(
            [
                ("Action", "QueuePause"),
                ("Queue", LAB),
                ("Interface", interface),
                ("Paused", "true" if paused else "false"),
            ]
        )
        assert answer.get("Response") == "Success" or not paused, answer


def test_a_periodic_announcement_is_heard_by_a_waiting_sipp_caller(
    rig: AsteriskRig, tmp_path: Path
) -> None:
    wav = tone_wav(tmp_path).read_bytes()
    entry = pbx_entry(rig)
    sounds = Path(entry["sounds_dir"])
    before = set(sounds.glob("*")) if sounds.exists() else None
    with lab_queue(rig):
        (tmp_path / "service").mkdir()
        service = ServiceProcess(tmp_path / "service", pbx=[entry], log_level="INFO")
        add_user(service.config, "boss", "supervisor")
        service.start()
        recorder = AmiRecorder()
        try:
            boss = Browser(service.base_url).login("boss")
            status, announcement = upload(boss, "Lab tone 1 kHz", wav)
            assert status == 201, announcement
            assert 1400 <= announcement["duration_ms"] <= 1600, announcement
            wait_for(lambda: boss.call("GET", PATH)[0] == 200, 20, "the lab queue known")

            settings = {
                "periodic_announce": announcement["id"],
                "periodic_announce_frequency": FREQUENCY,
                "musicclass": "silence",
            }
            status, answer = boss.call("PUT", PATH, {"version": 0, "settings": settings})
            assert status == 200, answer
            assert answer["applied_version"] == 1 and answer["apply_error"] is None, answer

            # The sound is in the PBX's sounds folder, named by queues_post_custom.conf.
            base = f"ann-{announcement['id']}-{announcement['sha256'][:12]}"
            file = sounds / f"{base}.wav"
            assert file.is_file(), sorted(p.name for p in sounds.glob("*"))
            assert hashlib.sha256(file.read_bytes()).hexdigest() == announcement["sha256"]
            text = include_text(rig) or ""
            assert f"[{LAB}](+)" in text, text
            in_pbx = f"/var/lib/asterisk/sounds/callcenter-announcements/{base}"
            assert f"periodic-announce = {in_pbx}\n" in text, text
            assert f"periodic-announce-frequency = {FREQUENCY}\n" in text, text
            assert "musicclass = silence\n" in text, text
            # ... and Asterisk reads it so (its own reading of queues.conf with the include).
            config = ami_action([("Action", "GetConfig"), ("Filename", "queues.conf")])
            assert f"periodic-announce={in_pbx}" in config.values(), config

            pause_members(True)
            # Asterisk's event clock (wall time) against the RTP arrival clock (monotonic).
            offset = time.time() - time.monotonic()
            with SippMediaCall(CALLER, dial=LAB, work_dir=tmp_path / "sipp") as call:
                call.wait_answered()
                joined = wait_for(
                    lambda: next(
                        (
                            float(e["Timestamp"]) - offset
                            for e in recorder.of("QueueCallerJoin")
                            if e.get("CallerIDNum") == CALLER
                        ),
                        None,
                    ),
                    10,
                    "the caller in the lab queue",
                )
                # Two announcements are due by join + 2 x frequency (+ the loop's second, the
                # tone itself and a margin).
                until = joined + 2 * FREQUENCY + TONE_SECONDS + 1.5
                time.sleep(max(0.0, until - time.monotonic()))
                heard = analyse(call.rtp.packets_since(joined))
                call.hang_up()
                call.wait_ended()
            # Nobody answered: the caller left the queue by hanging up.
            wait_for(
                lambda: any(
                    e.get("CallerIDNum") == CALLER for e in recorder.of("QueueCallerAbandon")
                ),
                5,
                "the caller's abandon",
            )

            assert len(heard) > 40 * (until - joined), "the caller got no steady RTP stream"
            runs = bursts(heard)
            assert len(runs) >= 2, (runs, _summary(heard, joined))
            first, second = runs[0], runs[1]
            # app_queue: the first announcement once `frequency` seconds have passed since the
            # join, then every `frequency` seconds from the start of the last one; it counts
            # in whole seconds (time_t: up to 1 s early) and looks every `retry` = 1 s while
            # nobody can be rung (up to 1 s late, and the RTP's own way).
            assert FREQUENCY - 1.1 <= first[0] - joined <= FREQUENCY + 1.5, (runs, joined)
            assert FREQUENCY - 1.1 <= second[0] - first[0] <= FREQUENCY + 1.5, runs
            for start, end in runs[:2]:
                assert TONE_SECONDS - 0.3 <= end - start <= TONE_SECONDS + 0.2, runs
            # The rest is the silence class: every loud packet is the tone (a transition
            # packet at either end of a burst aside), so what was heard is the announcement.
            stray = [
                f
                for f in heard
                if f.loud and not f.tone and not any(s - 0.1 <= f.at <= e + 0.1 for s, e in runs)
            ]
            assert stray == [], _summary(stray, joined)
        finally:
            pause_members(False)
            recorder.close()
            service.stop()
            # The rig's sounds folder as it was (the service wrote the announcement there).
            for path in set(sounds.glob("*")) - (before or set()):
                path.unlink()
            if before is None and sounds.exists():
                sounds.rmdir()


def _summary(heard: list[Heard], joined: float) -> str:
    return ", ".join(f"{h.at - joined:.2f}s {h.dbfs:.0f}dB {h.share:.2f}" for h in heard[:60])
