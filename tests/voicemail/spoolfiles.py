"""app_voicemail's file storage written by hand, as Asterisk 22 writes it (the .txt below is
one the rig wrote, with its values as parameters)."""

from __future__ import annotations

import io
import math
import wave
from pathlib import Path

INFO = """;
; Message Information file
;
[message]
origmailbox={mailbox}
context=callcenter-exit-voicemail
exten={mailbox}
rdnis=unknown
priority=11
callerchan={channel}
callerid={callerid}
origdate=Wed Dec  2 02:13:05 PM UTC 2026
origtime={origtime}
category=
msg_id={msg_id}
flag=
duration={duration}
"""


def tone(seconds: float, *, hz: float = 440.0, amplitude: int = 8000) -> bytes:
    """A WAV (8 kHz, mono, 16-bit) of a tone; amplitude 0: digital silence."""
    frames = int(seconds * 8000)
    samples = bytearray()
    for n in range(frames):
        value = int(amplitude * math.sin(2 * math.pi * hz * n / 8000))
        samples += value.to_bytes(2, "little", signed=True)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(bytes(samples))
    return buffer.getvalue()


def write_message(
    inbox: Path,
    number: int,
    *,
    channel: str,
    msg_id: str,
    callerid: str = '"7001" <7001>',
    origtime: int = 1796220785,
    seconds: float = 3.0,
    mailbox: str = "support",
) -> Path:
    """``inbox/msgNNNN.txt`` and ``.wav``; returns the .txt."""
    inbox.mkdir(parents=True, exist_ok=True)
    name = f"msg{number:04d}"
    (inbox / f"{name}.wav").write_bytes(tone(seconds))
    txt = inbox / f"{name}.txt"
    txt.write_text(
        INFO.format(
            mailbox=mailbox,
            channel=channel,
            callerid=callerid,
            origtime=origtime,
            msg_id=msg_id,
            duration=round(seconds),
        ),
        encoding="utf-8",
    )
    return txt
