"""Real media for SIPp callers: RTP the test can hear and speak, DTMF as RFC 4733 events.

SIPp does the signalling of one call (``tests/sipp/uac_media.xml``); its SDP offer names a
UDP port this module owns (``-key rtp_port``), so the audio Asterisk sends reaches an
``RtpEndpoint`` here and what the endpoint sends reaches Asterisk as the caller's voice:

- ``RtpEndpoint`` (a UDP socket and a receiving thread): records every RTP packet Asterisk
  sends (arrival time, payload type, sequence, timestamp, payload bytes); sends PCMU audio
  from a WAV file (converted to 8 kHz mono 16-bit with sox when it is not already), silence,
  and DTMF digits as RFC 4733 telephone-events (payload type 101, as the rig's pjsip
  ``callers`` endpoint takes them: ``dtmf_mode = rfc4733``), paced in real time (20 ms
  packets), toward the address of Asterisk's SDP answer;
- ``received_audio()`` decodes the PCMU packets received to linear samples and gives the
  energy of every 20 ms frame (RMS and dBFS): enough to tell a prompt, music on hold or a
  periodic announcement (frames well above -50 dBFS) from silence (PCMU 0xFF: 0 RMS);
- ``SippMediaCall``: starts SIPp with the endpoint's port, learns Asterisk's media address
  from SIPp's log (``MEDIA`` line: the answer's ``c=`` and ``m=audio`` port), and hangs up
  when the test says so (an in-dialog INFO to SIPp, which then sends the BYE).

The rig's ``callers`` endpoint (config/asterisk/pjsip.conf) has ``direct_media = no`` (media
always through Asterisk), ``rtp_symmetric = yes`` (Asterisk answers to where our packets
come from: the same socket as the SDP port) and ``dtmf_mode = rfc4733``.

Blocking API (threads): an asyncio test calls the senders through ``asyncio.to_thread``.
"""

from __future__ import annotations

import math
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import wave
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from callcenter.rig.asterisk import SIP_PORT, RigError
from callcenter.rig.sipp import (
    SCENARIO_DIR,
    SIP_HOST,
    _Sipp,
    free_media_port,
    free_udp_port,
)

PCMU = 0
TELEPHONE_EVENT = 101
SAMPLE_RATE = 8000
FRAME_SAMPLES = 160  # 20 ms at 8 kHz
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
PCMU_SILENCE = b"\xff" * FRAME_SAMPLES
# RFC 4733 event codes of the DTMF digits.
DTMF_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11, "A": 12, "B": 13, "C": 14}
DTMF_EVENTS["D"] = 15
_RTP_HEADER = struct.Struct("!BBHII")
_MEDIA_LINE = re.compile(
    r"^MEDIA (?P<call_id>\S+) (?P<ip>[0-9.]+) (?P<port>[0-9]+) ?(?P<pt>[0-9]*)"
)

# --- G.711 µ-law -----------------------------------------------------------------------------

_BIAS = 0x84
_CLIP = 32635


def ulaw_decode(byte: int) -> int:
    """One µ-law byte as a linear 16-bit sample."""
    u = ~byte & 0xFF
    magnitude = ((((u & 0x0F) << 3) + _BIAS) << ((u >> 4) & 0x07)) - _BIAS
    return -magnitude if u & 0x80 else magnitude


_DECODE = array("h", (ulaw_decode(b) for b in range(256)))


def ulaw_encode(sample: int) -> int:
    """One linear 16-bit sample as a µ-law byte (G.711)."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(-sample if sample < 0 else sample, _CLIP) + _BIAS
    exponent = (magnitude >> 7).bit_length() - 1
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def pcmu_from_linear(samples: Sequence[int]) -> bytes:
    return bytes(ulaw_encode(s) for s in samples)


def linear_from_pcmu(payload: bytes) -> array[int]:
    return array("h", (_DECODE[b] for b in payload))


def load_wav_8k(path: Path) -> array[int]:
    """The WAV's samples as 8 kHz mono 16-bit; other formats are converted with sox first."""
    with wave.open(str(path), "rb") as wav:
        fits = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (SAMPLE_RATE, 1, 2)
        if fits:
            data = wav.readframes(wav.getnframes())
            samples = array("h")
            samples.frombytes(data)
            return samples
    sox = shutil.which("sox")
    if sox is None:
        raise RigError("sox not found: install it with 'apt-get install -y sox'")
    with tempfile.TemporaryDirectory(prefix="callcenter-media-") as folder:
        converted = Path(folder) / "8k.wav"
        subprocess.run(
            [sox, "-q", str(path), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(converted)],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return load_wav_8k(converted)


# --- what was received -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """One RTP packet received; ``at`` is ``time.monotonic()`` at arrival."""

    at: float
    source: tuple[str, int]
    payload_type: int
    marker: bool
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """20 ms of received audio: when it arrived (seconds since the endpoint opened), its
    RMS (linear, 0..32767) and its level in dBFS (-inf for digital silence)."""

    at: float
    rms: float
    dbfs: float


@dataclass(frozen=True, slots=True)
class ReceivedAudio:
    """The PCMU audio received, in arrival order: samples (8 kHz, linear 16-bit) and the
    energy of each 20 ms frame (160 samples)."""

    samples: array[int]
    frames: tuple[AudioFrame, ...]

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE

    def loud_frames(self, threshold_dbfs: float = -50.0) -> list[AudioFrame]:
        """Frames louder than ``threshold_dbfs`` (speech, music and tones are above -40)."""
        return [f for f in self.frames if f.dbfs > threshold_dbfs]

    def loud_seconds(self, threshold_dbfs: float = -50.0) -> float:
        return len(self.loud_frames(threshold_dbfs)) * FRAME_SECONDS


def frame_energy(samples: Sequence[int]) -> tuple[float, float]:
    """(RMS, dBFS) of some samples; dBFS is -inf for digital silence."""
    if not samples:
        return 0.0, -math.inf
    rms = math.sqrt(sum(s * s for s in samples) / len(samples))
    return rms, (20 * math.log10(rms / 32768) if rms > 0 else -math.inf)


class RtpEndpoint:
    """One RTP session's local end: a UDP socket on ``host`` (port chosen by the kernel
    unless given), a thread that records what arrives, and paced senders."""

    def __init__(self, host: str = SIP_HOST, port: int = 0) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((host, port))
        self._sock.settimeout(0.2)
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        self.opened = time.monotonic()
        self.remote: tuple[str, int] | None = None
        self.telephone_event = TELEPHONE_EVENT
        self._packets: list[RtpPacket] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._ssrc = random.getrandbits(32)
        self._sequence = random.getrandbits(16)
        self._timestamp = random.getrandbits(32)
        self._send_lock = threading.Lock()
        self._thread = threading.Thread(target=self._receive, name=f"rtp-{self.port}", daemon=True)
        self._thread.start()

    # --- receiving ---------------------------------------------------------------------------

    def _receive(self) -> None:
        while not self._closed.is_set():
            try:
                data, source = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            packet = _parse_rtp(data, source)
            if packet is not None:
                with self._lock:
                    self._packets.append(packet)

    def packets(self) -> list[RtpPacket]:
        """Every RTP packet received so far (a copy), in arrival order."""
        with self._lock:
            return list(self._packets)

    def packets_since(self, at: float) -> list[RtpPacket]:
        return [p for p in self.packets() if p.at >= at]

    def last_packet_at(self) -> float | None:
        with self._lock:
            return self._packets[-1].at if self._packets else None

    def received_audio(self, since: float | None = None) -> ReceivedAudio:
        """The PCMU received (from ``since``, a ``time.monotonic()`` value, if given) decoded
        to linear samples, with the energy of each 20 ms frame. Packets of other payload
        types (comfort noise, events) are left out."""
        samples = array("h")
        frames: list[AudioFrame] = []
        for packet in self.packets():
            if packet.payload_type != PCMU or (since is not None and packet.at < since):
                continue
            decoded = linear_from_pcmu(packet.payload)
            samples.extend(decoded)
            for start in range(0, len(decoded), FRAME_SAMPLES):
                rms, dbfs = frame_energy(decoded[start : start + FRAME_SAMPLES])
                frames.append(AudioFrame(packet.at - self.opened, rms, dbfs))
        return ReceivedAudio(samples, tuple(frames))

    def wait_for_packets(self, timeout: float, since: float | None = None) -> RtpPacket:
        """The first packet received (after ``since``), waiting up to ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for packet in self.packets():
                if since is None or packet.at >= since:
                    return packet
            time.sleep(0.02)
        raise RigError(f"no RTP arrived on {self.host}:{self.port} within {timeout} s")

    def wait_for_quiet(self, quiet: float, timeout: float, since: float | None = None) -> float:
        """Wait until Asterisk has sent nothing for ``quiet`` seconds, after having sent
        something (after ``since``): e.g. the beep before a recording. Returns when the last
        packet arrived (``time.monotonic()``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            last = self.last_packet_at()
            now = time.monotonic()
            if last is not None and (since is None or last >= since) and now - last >= quiet:
                return last
            time.sleep(0.02)
        raise RigError(f"Asterisk did not go quiet for {quiet} s within {timeout} s")

    # --- sending -----------------------------------------------------------------------------

    def _target(self) -> tuple[str, int]:
        if self.remote is not None:
            return self.remote
        packets = self.packets()
        if packets:
            return packets[0].source  # symmetric RTP: answer where it comes from
        raise RigError("no remote media address yet (no SDP answer, no packet received)")

    def _send(self, payload_type: int, payload: bytes, *, marker: bool, timestamp: int) -> None:
        header = _RTP_HEADER.pack(
            0x80,
            (0x80 if marker else 0) | payload_type,
            self._sequence,
            timestamp & 0xFFFFFFFF,
            self._ssrc,
        )
        self._sequence = (self._sequence + 1) & 0xFFFF
        self._sock.sendto(header + payload, self._target())

    def send_pcmu(self, payload: bytes) -> None:
        """Send PCMU bytes as 20 ms packets in real time (the last one padded with silence)."""
        with self._send_lock:
            pace = _Pace()
            first = True
            for start in range(0, len(payload), FRAME_SAMPLES):
                chunk = payload[start : start + FRAME_SAMPLES].ljust(FRAME_SAMPLES, b"\xff")
                pace.wait()
                self._send(PCMU, chunk, marker=first, timestamp=self._timestamp)
                self._timestamp += FRAME_SAMPLES
                first = False

    def send_samples(self, samples: Sequence[int]) -> None:
        """Send linear 16-bit samples (8 kHz) as PCMU."""
        self.send_pcmu(pcmu_from_linear(samples))

    def send_wav(self, path: Path) -> float:
        """Send a WAV file as PCMU (any format sox reads); returns its length in seconds."""
        samples = load_wav_8k(path)
        self.send_samples(samples)
        return len(samples) / SAMPLE_RATE

    def send_silence(self, seconds: float) -> None:
        self.send_pcmu(b"\xff" * int(seconds * SAMPLE_RATE))

    def send_dtmf(self, digits: str, *, duration: float = 0.16, gap: float = 0.1) -> None:
        """Send each digit as an RFC 4733 telephone-event (``duration`` long, then ``gap``
        of silence), with the payload type Asterisk's answer gave (101 by default)."""
        for digit in digits:
            event = DTMF_EVENTS.get(digit.upper())
            if event is None:
                raise ValueError(f"{digit!r} is not a DTMF digit")
            self._send_event(event, duration)
            self.send_silence(gap)

    def _send_event(self, event: int, duration: float, volume: int = 10) -> None:
        with self._send_lock:
            pace = _Pace()
            start = self._timestamp
            steps = max(1, round(duration / FRAME_SECONDS))
            for step in range(1, steps + 1):
                pace.wait()
                length = step * FRAME_SAMPLES
                payload = struct.pack("!BBH", event, volume & 0x3F, length)
                self._send(self.telephone_event, payload, marker=step == 1, timestamp=start)
            # The end: three packets with the E bit, the same final length (RFC 4733 2.5.1.4).
            length = steps * FRAME_SAMPLES
            for _ in range(3):
                pace.wait()
                payload = struct.pack("!BBH", event, 0x80 | (volume & 0x3F), length)
                self._send(self.telephone_event, payload, marker=False, timestamp=start)
            self._timestamp = start + length + 3 * FRAME_SAMPLES

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=1.0)
        self._sock.close()

    def __enter__(self) -> RtpEndpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Pace:
    """Sleep so that successive calls are 20 ms apart (real-time sending, no drift)."""

    def __init__(self) -> None:
        self._next = time.monotonic()

    def wait(self) -> None:
        delay = self._next - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._next += FRAME_SECONDS


def _parse_rtp(data: bytes, source: tuple[str, int]) -> RtpPacket | None:
    if len(data) < _RTP_HEADER.size or data[0] >> 6 != 2:
        return None
    first, second, sequence, timestamp, ssrc = _RTP_HEADER.unpack_from(data)
    offset = _RTP_HEADER.size + 4 * (first & 0x0F)  # CSRC list
    if first & 0x10:  # header extension
        if len(data) < offset + 4:
            return None
        (words,) = struct.unpack_from("!H", data, offset + 2)
        offset += 4 + 4 * words
    end = len(data)
    if first & 0x20 and end > offset:  # padding
        end -= data[-1]
    return RtpPacket(
        time.monotonic(),
        (source[0], source[1]),
        second & 0x7F,
        bool(second & 0x80),
        sequence,
        timestamp,
        ssrc,
        data[offset:end],
    )


# --- one SIPp call with media ----------------------------------------------------------------


class SippMediaCall(_Sipp):
    """One SIPp caller whose media is an ``RtpEndpoint`` of this process.

    ``start()`` places the call (``dial`` picks the hotline's queue), ``wait_answered()``
    waits for the 200 OK and points the endpoint at Asterisk's media address, ``hang_up()``
    makes SIPp send the BYE, ``wait_ended()`` waits for SIPp to finish. ``stop()`` kills
    SIPp and closes the endpoint (always call it: a ``with`` block does).
    """

    def __init__(self, caller: str, *, dial: str = "support", work_dir: Path | None = None) -> None:
        base = work_dir or Path(tempfile.mkdtemp(prefix="callcenter-media-"))
        super().__init__(f"media-{caller}-{os.getpid()}", base)
        self.caller = caller
        self.dial = dial
        self.sip_port = 0
        self.call_id: str | None = None
        self.answered_at: float | None = None
        self.rtp = RtpEndpoint()

    def start(self) -> None:
        self.sip_port = free_udp_port()
        args = [
            f"{SIP_HOST}:{SIP_PORT}",
            "-sf", str(SCENARIO_DIR / "uac_media.xml"),
            "-s", self.dial,
            "-key", "caller", self.caller,
            "-key", "rtp_port", str(self.rtp.port),
            "-i", SIP_HOST, "-p", str(self.sip_port),
            # SIPp's own media sockets (unused: the SDP names the endpoint's port).
            "-mi", SIP_HOST, "-mp", str(free_media_port()),
            "-cp", str(free_udp_port()),
            "-m", "1", "-l", "1",
        ]  # fmt: skip
        self._start(args)

    def _log_lines(self) -> list[str]:
        try:
            return self.log_file.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def wait_answered(self, timeout: float = 10.0) -> None:
        """Wait for the answer; the endpoint then sends to Asterisk's SDP address."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self._log_lines():
                media = _MEDIA_LINE.match(line)
                if media is not None:
                    self.call_id = media["call_id"]
                    self.rtp.remote = (media["ip"], int(media["port"]))
                    if media["pt"]:
                        self.rtp.telephone_event = int(media["pt"])
                    self.answered_at = time.monotonic()
                    return
            if not self.running:
                raise self._failure("SIPp ended before the call was answered")
            time.sleep(0.05)
        raise self._failure(f"the call was not answered within {timeout} s")

    def hang_up(self, timeout: float = 5.0) -> None:
        """The caller hangs up: an in-dialog INFO tells SIPp's scenario to send the BYE.

        SIPp answers the INFO toward Asterisk (its remote address, not our Via), so the sign
        that it was taken is the scenario's log line; the INFO is sent again while none
        comes (a lost datagram)."""
        if self.call_id is None:
            raise RigError("hang_up() before the call was answered")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((SIP_HOST, 0))
            port = sock.getsockname()[1]
            branch = f"z9hG4bK-media-{random.getrandbits(32)}"
            request = (
                f"INFO sip:{self.caller}@{SIP_HOST}:{self.sip_port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {SIP_HOST}:{port};branch={branch}\r\n"
                f"From: <sip:rig@{SIP_HOST}>;tag=media-py\r\n"
                f"To: <sip:{self.caller}@{SIP_HOST}>\r\n"
                f"Call-ID: {self.call_id}\r\n"
                "CSeq: 1 INFO\r\n"
                "Max-Forwards: 70\r\n"
                "Content-Length: 0\r\n\r\n"
            ).encode()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.outcome() is not None:
                    return  # hung up (or Asterisk did first)
                sock.sendto(request, (SIP_HOST, self.sip_port))
                resend = time.monotonic() + 1.0
                while time.monotonic() < min(resend, deadline):
                    if self.outcome() is not None:
                        return
                    time.sleep(0.02)
        raise self._failure(f"SIPp did not take the hang-up within {timeout} s")

    def outcome(self) -> str | None:
        """HUNGUP (the caller hung up), BYE_RECEIVED (Asterisk did), or None yet."""
        for line in self._log_lines():
            word = line.split(" ", 1)[0]
            if word in ("HUNGUP", "BYE_RECEIVED"):
                return word
        return None

    def wait_ended(self, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.outcome()
            if found is not None:
                return found
            if not self.running:
                raise self._failure("SIPp ended without a hang-up")
            time.sleep(0.05)
        raise self._failure(f"the call did not end within {timeout} s")

    def stop(self) -> None:
        self._stop()
        self.rtp.close()

    def __enter__(self) -> SippMediaCall:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
