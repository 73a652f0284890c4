"""Reading app_voicemail's file storage: ``<spool>/<context>/<mailbox>/INBOX/msgNNNN.*``.

Each message is a ``msgNNNN.txt`` (its "Message Information file", ``key=value`` lines under
``[message]``: ``callerchan``, ``callerid``, ``origtime``, ``duration``, ``msg_id``...) beside
its sound in each configured format (``msgNNNN.wav`` with ``format = wav``: 8 kHz, 16-bit PCM).

Blocking file I/O, small and bounded: the room calls these through ``asyncio.to_thread``.
Names that reach a path (context, mailbox) are checked first: nothing a PBX sends can
point outside the spool.
"""

from __future__ import annotations

import io
import logging
import os
import re
import wave
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

# Queue names (and so mailbox names: one per queue, named like it), voicemail.conf contexts.
NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
_MESSAGE = re.compile(r"msg[0-9]{4,}")
_CALLER_NUMBER = re.compile(r"<([^<>]*)>\s*$")
MAX_INFO_BYTES = 16 * 1024


class SpoolError(Exception):
    """A message that cannot be read (gone, unreadable, not a WAV, too large)."""


@dataclass(frozen=True, slots=True)
class MessageInfo:
    """What a msgNNNN.txt says (the fields the service uses)."""

    msg_id: str
    callerchan: str
    callerid: str
    origtime: datetime | None
    duration: int | None

    @property
    def caller_number(self) -> str | None:
        """The number of ``callerid`` (``"Name" <7001>`` or ``7001``); None when unknown."""
        text = self.callerid.strip()
        match = _CALLER_NUMBER.search(text)
        number = (match.group(1) if match else text).strip().strip('"')
        if not number or number.lower() in ("unknown", "anonymous", "<unknown>"):
            return None
        return number[:80]


@dataclass(frozen=True, slots=True)
class SpoolMessage:
    """One message in a mailbox folder: ``folder/<name>.txt`` and its sound files."""

    folder: Path
    name: str
    info: MessageInfo
    # When the .txt was last written (seconds since the epoch): the message's end.
    modified: float = 0.0

    @property
    def wav(self) -> Path:
        return self.folder / f"{self.name}.wav"

    @property
    def txt(self) -> Path:
        return self.folder / f"{self.name}.txt"


def valid_name(name: str) -> bool:
    return NAME.fullmatch(name) is not None


def mailbox_of(queue: str) -> str:
    """The mailbox of a queue's voicemail exit: named like the queue (docs/voicemail.md)."""
    if not valid_name(queue):
        raise ValueError(f"{queue!r} is not a queue name")
    return queue


def inbox(spool: Path, context: str, mailbox: str) -> Path:
    """``<spool>/<context>/<mailbox>/INBOX``; refuses names that are not plain names."""
    if not valid_name(context) or not valid_name(mailbox):
        raise ValueError(f"not a voicemail context and mailbox: {context!r}, {mailbox!r}")
    return spool / context / mailbox / "INBOX"


def parse_info(text: str) -> MessageInfo | None:
    """The fields of a msgNNNN.txt; None when it has no msg_id (a file of an Asterisk older
    than 12, or a half-written one)."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith((";", "[")):
            continue
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    msg_id = values.get("msg_id", "")
    if not msg_id or len(msg_id) > 64:
        return None
    origtime: datetime | None = None
    duration: int | None = None
    try:
        origtime = datetime.fromtimestamp(int(values.get("origtime", "")), UTC)
    except (ValueError, OverflowError, OSError):
        origtime = None
    try:
        duration = max(0, int(values.get("duration", "")))
    except ValueError:
        duration = None
    return MessageInfo(
        msg_id=msg_id,
        callerchan=values.get("callerchan", ""),
        callerid=values.get("callerid", ""),
        origtime=origtime,
        duration=duration,
    )


def read_message(txt: Path) -> SpoolMessage | None:
    """The message of one msgNNNN.txt, or None (not a message file, gone, not readable)."""
    if _MESSAGE.fullmatch(txt.stem) is None or txt.suffix != ".txt":
        return None
    try:
        with txt.open("rb") as handle:
            modified = os.fstat(handle.fileno()).st_mtime
            data = handle.read(MAX_INFO_BYTES)
    except OSError:
        return None
    info = parse_info(data.decode("utf-8", "replace"))
    if info is None:
        return None
    return SpoolMessage(txt.parent, txt.stem, info, modified)


def list_messages(folder: Path) -> list[SpoolMessage]:
    """The messages of a mailbox folder (INBOX), oldest first; none when it does not exist."""
    try:
        texts = sorted(folder.glob("msg*.txt"))
    except OSError:
        return []
    found = [m for m in (read_message(t) for t in texts) if m is not None]
    found.sort(key=_age_key)
    return found


def _age_key(message: SpoolMessage) -> tuple[float, str]:
    when = message.info.origtime
    return (when.timestamp() if when is not None else 0.0, message.name)


def find_for_channel(folder: Path, channel: str) -> SpoolMessage | None:
    """The newest message of the folder left by ``channel`` (its ``callerchan``)."""
    if not channel:
        return None
    mine = [m for m in list_messages(folder) if m.info.callerchan == channel]
    return mine[-1] if mine else None


def read_audio(message: SpoolMessage, max_bytes: int) -> tuple[bytes, float]:
    """The message's WAV and its length in seconds; raises ``SpoolError``."""
    try:
        size = message.wav.stat().st_size
        if size > max_bytes:
            raise SpoolError(f"{message.wav.name} is {size} bytes (more than {max_bytes})")
        data = message.wav.read_bytes()
    except OSError as exc:
        raise SpoolError(f"{message.wav.name} not readable: {exc.strerror or exc}") from None
    return data, wav_seconds(data)


def wav_seconds(data: bytes) -> float:
    """The length of a WAV in seconds; raises ``SpoolError`` when it is not a PCM WAV."""
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            rate = wav.getframerate()
            frames = wav.getnframes()
    except (wave.Error, EOFError) as exc:
        raise SpoolError(f"not a PCM WAV: {exc}") from None
    if rate <= 0:
        raise SpoolError("not a PCM WAV: no sample rate")
    return frames / rate


def remove(message: SpoolMessage) -> None:
    """Delete every file of the message (``msgNNNN.*``): its sound in each format, its .txt."""
    for path in message.folder.glob(f"{message.name}.*"):
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("voicemail: %s not removed from the spool: %s", path, exc.strerror)


def mailboxes(spool: Path, context: str) -> list[str]:
    """The mailbox folders of a context that could be queues' (plain names)."""
    if not valid_name(context):
        raise ValueError(f"{context!r} is not a voicemail context")
    try:
        return sorted(
            p.name for p in (spool / context).iterdir() if p.is_dir() and valid_name(p.name)
        )
    except OSError:
        return []
