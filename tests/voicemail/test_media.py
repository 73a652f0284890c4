"""The RTP media tool on its own: two endpoints on loopback talk to each other."""

from __future__ import annotations

import math
import struct
import time
import wave
from pathlib import Path

import pytest

from callcenter.rig.media import (
    PCMU,
    PCMU_SILENCE,
    TELEPHONE_EVENT,
    RtpEndpoint,
    load_wav_8k,
    pcmu_from_linear,
    ulaw_decode,
    ulaw_encode,
)
from tests.voicemail.spoolfiles import tone


def test_mu_law_round_trips_within_its_step() -> None:
    assert ulaw_encode(0) == 0xFF and ulaw_decode(0xFF) == 0
    for sample in (-32768, -20000, -1000, -100, -1, 1, 50, 700, 8000, 32767):
        decoded = ulaw_decode(ulaw_encode(sample))
        # G.711 keeps about 4 bits of mantissa: within 1/16 of the value (and 8 near zero).
        assert abs(decoded - sample) <= max(8, abs(sample) / 16 + 8), sample
        assert (decoded >= 0) == (sample >= 0) or abs(sample) < 8


def test_a_wav_of_another_format_is_converted_with_sox(tmp_path: Path) -> None:
    path = tmp_path / "eight.wav"
    path.write_bytes(tone(0.5))
    assert len(load_wav_8k(path)) == 4000
    stereo = tmp_path / "stereo-16k.wav"
    with wave.open(str(stereo), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(b"\x00\x10" * 2 * 16000)  # 1 s
    samples = load_wav_8k(stereo)
    assert len(samples) == pytest.approx(8000, abs=10)


def wait_until(condition: object, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.01)
    raise AssertionError("not in time")


def test_audio_and_dtmf_arrive_as_rtp_with_their_energy() -> None:
    with RtpEndpoint() as asterisk, RtpEndpoint() as caller:
        caller.remote = (asterisk.host, asterisk.port)
        loud = [int(8000 * math.sin(2 * math.pi * 440 * n / 8000)) for n in range(1600)]
        caller.send_pcmu(pcmu_from_linear(loud))  # 0.2 s of tone
        caller.send_pcmu(PCMU_SILENCE * 5)  # 0.1 s of silence
        caller.send_dtmf("1#")
        wait_until(lambda: len(asterisk.packets()) >= 15 + 2 * (8 + 3 + 5))

        packets = asterisk.packets()
        audio = [p for p in packets if p.payload_type == PCMU]
        events = [p for p in packets if p.payload_type == TELEPHONE_EVENT]
        assert [len(p.payload) for p in audio[:15]] == [160] * 15
        sequences = [p.sequence for p in packets]
        assert sequences == [(sequences[0] + i) & 0xFFFF for i in range(len(packets))]
        assert audio[0].marker and not audio[1].marker
        # Timestamps advance 160 per 20 ms frame.
        assert audio[1].timestamp - audio[0].timestamp == 160
        # The events: digit 1 then # (11), 8 packets growing, 3 end packets each.
        digits = [struct.unpack("!BBH", p.payload) for p in events]
        ones = [d for d in digits if d[0] == 1]
        hashes = [d for d in digits if d[0] == 11]
        assert len(ones) == len(hashes) == 11
        assert [d[2] for d in ones[:8]] == [160 * i for i in range(1, 9)]
        assert all(d[1] & 0x80 for d in ones[8:]) and not any(d[1] & 0x80 for d in ones[:8])
        first_one = next(p for p in events if p.payload[0] == 1)
        assert first_one.marker
        assert len({p.timestamp for p in events if p.payload[0] == 1}) == 1

        heard = asterisk.received_audio()
        assert heard.seconds == pytest.approx(0.2 + 0.1 + 2 * 0.1, abs=0.001)
        # 0.2 s of tone at about -15 dBFS, the rest digital silence.
        assert heard.loud_seconds() == pytest.approx(0.2, abs=0.001)
        assert -16 < heard.frames[0].dbfs < -14 and heard.frames[-1].dbfs == -math.inf

        # Symmetric RTP: the far end answers where packets come from.
        asterisk.send_silence(0.04)
        wait_until(lambda: len(caller.packets()) == 2)
        assert caller.packets()[0].source == (caller.host, asterisk.port)
