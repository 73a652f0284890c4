"""Sound files of announcements, as Asterisk plays them: WAV, 8 kHz, mono, 16-bit.

An uploaded recording is converted with sox, a drafted one is spoken by espeak-ng and then
converted the same way, with the commands ``prompts/build.sh`` uses for the hotline's own
prompts (voice ``cmn`` for zh, ``en`` for en, ``-s 160``, then ``sox ... -r 8000 -c 1 -b 16
... gain -n -3``). Both tools run as subprocesses in a temporary folder, under a time limit;
what they refuse comes back as a ``SoundError`` with the tool's own words. ``write_sound``
puts a converted sound in a PBX's sounds folder, atomically.

No HTTP here: ``callcenter.queueconf.announcements`` is the adapter.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from callcenter.queueconf.files import replace_atomically

# The defaults of QueueConfSettings.max_upload_bytes and of the longest announcement.
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAX_SECONDS = 300
# A tool that has not finished by then is stopped (a crafted file, a stuck process).
TOOL_TIMEOUT = 60.0
# What Asterisk plays without transcoding.
RATE, CHANNELS, SAMPLE_WIDTH = 8000, 1, 2
VOICES: dict[str, str] = {"zh": "cmn", "en": "en"}
SPEED = "160"
# sox's normalisation: espeak-ng peaks at full scale and resampling would clip.
GAIN = ("gain", "-n", "-3")
# What a file name in a sounds folder may be (no folder, no hidden file).
_BASE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,119}$")


class SoundError(Exception):
    """The sound (or text) cannot be made into an announcement; ``reason`` says why, in the
    tool's own words where a tool refused it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SoundToolMissing(Exception):
    """sox or espeak-ng is not installed where the service runs: no request's fault."""


@dataclass(frozen=True, slots=True)
class ConvertedSound:
    wav: bytes
    duration_ms: int
    sha256: str


async def _run(args: list[str], *, timeout: float, folder: Path) -> None:
    """Run one tool; a failure is a ``SoundError`` with its last words (the temporary
    folder's path left out)."""
    try:
        process = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            cwd=folder,
        )
    except FileNotFoundError:
        raise SoundToolMissing(f"{args[0]} is not installed") from None
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise SoundError(f"{args[0]} took longer than {timeout:g} s") from None
    except asyncio.CancelledError:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    if process.returncode != 0:
        raise SoundError(_reason(args[0], stderr, folder))


def _reason(tool: str, stderr: bytes, folder: Path) -> str:
    text = stderr.decode("utf-8", "replace").replace(f"{folder}{os.sep}", "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    failed = [line for line in lines if " FAIL " in f" {line} "] or lines
    if not failed:
        return f"{tool} could not read it"
    reason = failed[-1].removeprefix(f"{tool} FAIL ").removeprefix(f"{tool}: ")
    return reason[:300]


def _measured(path: Path, max_seconds: int) -> ConvertedSound:
    data = path.read_bytes()
    try:
        with wave.open(str(path), "rb") as sound:
            frames, rate = sound.getnframes(), sound.getframerate()
            shape = (rate, sound.getnchannels(), sound.getsampwidth())
    except (wave.Error, EOFError) as exc:  # pragma: no cover - sox wrote it
        raise SoundError(f"the converted sound is not a WAV file ({exc})") from None
    if shape != (RATE, CHANNELS, SAMPLE_WIDTH):  # pragma: no cover - sox was told so
        raise SoundError(f"the converted sound is {shape}, not 8 kHz mono 16-bit")
    if frames == 0:
        raise SoundError("there is no sound in it")
    if frames > max_seconds * RATE:
        raise SoundError(f"it is longer than {max_seconds} s")
    duration_ms = round(frames * 1000 / rate)
    return ConvertedSound(data, duration_ms, hashlib.sha256(data).hexdigest())


async def _convert(folder: Path, source: Path, max_seconds: int) -> ConvertedSound:
    target = folder / "converted.wav"
    # trim: a longer sound is never written out whole (one second more tells it is too long).
    await _run(
        [
            "sox",
            "-q",
            str(source),
            "-r",
            str(RATE),
            "-c",
            str(CHANNELS),
            "-b",
            str(SAMPLE_WIDTH * 8),
            str(target),
            "trim",
            "0",
            str(max_seconds + 1),
            *GAIN,
        ],
        timeout=TOOL_TIMEOUT,
        folder=folder,
    )
    return await asyncio.to_thread(_measured, target, max_seconds)


async def convert_upload(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_seconds: int = MAX_SECONDS
) -> ConvertedSound:
    """An uploaded recording (any format sox reads: WAV, FLAC, Ogg Vorbis, AIFF, AU, ...;
    sox tells the type from the content) as Asterisk plays it."""
    if not data:
        raise SoundError("the file is empty")
    if len(data) > max_bytes:
        raise SoundError(f"the file is larger than {max_bytes} bytes")
    with tempfile.TemporaryDirectory(prefix="cc-sound-") as name:
        folder = Path(name)
        # No extension: sox reads the type from the file's header, never from a name.
        source = folder / "upload"
        await asyncio.to_thread(source.write_bytes, data)
        return await _convert(folder, source, max_seconds)


async def draft_speech(
    text: str, language: Literal["zh", "en"], *, max_seconds: int = MAX_SECONDS
) -> ConvertedSound:
    """``text`` spoken by espeak-ng (a draft until someone records it), as Asterisk plays it."""
    if not text.strip():
        raise SoundError("there is no text to speak")
    voice = VOICES[language]
    with tempfile.TemporaryDirectory(prefix="cc-speech-") as name:
        folder = Path(name)
        # From a file, as prompts/build.sh does: a text is never taken for an option.
        words, spoken = folder / "text.txt", folder / "spoken.wav"
        await asyncio.to_thread(words.write_text, text, "utf-8")
        await _run(
            ["espeak-ng", "-v", voice, "-s", SPEED, "-f", str(words), "-w", str(spoken)],
            timeout=TOOL_TIMEOUT,
            folder=folder,
        )
        return await _convert(folder, spoken, max_seconds)


def sound_file_name(announcement_id: int, sha256: str) -> str:
    """The name of an announcement's file in a sounds folder, without extension (what
    queues.conf names): a new recording under the same id is a new name."""
    return f"ann-{announcement_id}-{sha256[:12]}"


def write_sound(folder: Path, base_name: str, wav: bytes) -> None:
    """Write ``<folder>/<base_name>.wav`` atomically (a temporary file in the same folder,
    then renamed), readable by Asterisk; nothing is written if the same file is there."""
    if not _BASE_NAME.fullmatch(base_name):
        raise ValueError(f"not a sound file name: {base_name!r}")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{base_name}.wav"
    try:
        if target.stat().st_size == len(wav) and target.read_bytes() == wav:
            return
    except FileNotFoundError:
        pass
    replace_atomically(target, wav)
