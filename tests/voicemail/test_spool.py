"""The spool reader on a real app_voicemail folder layout written by the test."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from callcenter.voicemail import spool
from callcenter.voicemail.spool import SpoolError
from tests.voicemail.spoolfiles import INFO, tone, write_message

CHANNEL = "PJSIP/callers-00000007"


def test_the_message_file_is_read_as_asterisk_writes_it() -> None:
    text = INFO.format(
        mailbox="support",
        channel=CHANNEL,
        callerid='"Wang Fang" <13800138000>',
        origtime=1796220785,
        msg_id="1796220785-00000003",
        duration=3,
    )
    info = spool.parse_info(text)
    assert info is not None
    assert (info.msg_id, info.callerchan, info.duration) == ("1796220785-00000003", CHANNEL, 3)
    assert info.origtime == datetime.fromtimestamp(1796220785, UTC)
    assert info.caller_number == "13800138000"


@pytest.mark.parametrize(
    ("callerid", "number"),
    [('"7001" <7001>', "7001"), ("7001", "7001"), ('"Anonymous" <anonymous>', None), ("", None)],
)
def test_the_caller_number_from_callerid(callerid: str, number: str | None) -> None:
    info = spool.parse_info(f"[message]\nmsg_id=1-1\ncallerid={callerid}\n")
    assert info is not None and info.caller_number == number


def test_a_file_without_msg_id_is_not_a_message() -> None:
    assert spool.parse_info("[message]\ncallerchan=PJSIP/x\norigtime=1\n") is None
    info = spool.parse_info("[message]\nmsg_id=9-9\norigtime=soon\nduration=?\n")
    assert info is not None and (info.origtime, info.duration) == (None, None)


def test_the_newest_message_of_the_channel_is_found(tmp_path: Path) -> None:
    inbox = spool.inbox(tmp_path, "callcenter", "support")
    assert inbox == tmp_path / "callcenter" / "support" / "INBOX"
    assert spool.find_for_channel(inbox, CHANNEL) is None  # no folder yet
    write_message(inbox, 0, channel=CHANNEL, msg_id="100-00000000", origtime=100)
    write_message(inbox, 1, channel="PJSIP/callers-00000008", msg_id="150-00000001", origtime=150)
    write_message(inbox, 2, channel=CHANNEL, msg_id="200-00000002", origtime=200, seconds=2)
    (inbox / "msg0003.wav").write_bytes(tone(1))  # its .txt not written yet: not a message
    (inbox / "notes.txt").write_text("msg_id=x")  # not a message file

    found = spool.find_for_channel(inbox, CHANNEL)
    assert found is not None and (found.name, found.info.msg_id) == ("msg0002", "200-00000002")
    assert found.modified == pytest.approx(os.stat(found.txt).st_mtime)
    audio, seconds = spool.read_audio(found, max_bytes=1_000_000)
    assert audio.startswith(b"RIFF") and seconds == pytest.approx(2.0)
    assert [m.name for m in spool.list_messages(inbox)] == ["msg0000", "msg0001", "msg0002"]
    assert spool.find_for_channel(inbox, "") is None
    assert spool.mailboxes(tmp_path, "callcenter") == ["support"]

    spool.remove(found)
    assert sorted(p.name for p in inbox.iterdir()) == [
        "msg0000.txt",
        "msg0000.wav",
        "msg0001.txt",
        "msg0001.wav",
        "msg0003.wav",
        "notes.txt",
    ]
    assert spool.find_for_channel(inbox, CHANNEL).name == "msg0000"  # type: ignore[union-attr]


def test_a_broken_or_large_sound_is_refused(tmp_path: Path) -> None:
    inbox = tmp_path / "INBOX"
    write_message(inbox, 0, channel=CHANNEL, msg_id="1-1")
    message = spool.find_for_channel(inbox, CHANNEL)
    assert message is not None
    with pytest.raises(SpoolError, match="more than 1000"):
        spool.read_audio(message, max_bytes=1000)
    message.wav.write_bytes(b"RIFF-not-really")
    with pytest.raises(SpoolError, match="not a PCM WAV"):
        spool.read_audio(message, max_bytes=1_000_000)
    message.wav.unlink()
    with pytest.raises(SpoolError, match="not readable"):
        spool.read_audio(message, max_bytes=1_000_000)


@pytest.mark.parametrize("name", ["..", "../etc", "a/b", "", "x" * 81, "sup port", "队列"])
def test_names_that_could_leave_the_spool_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError):
        spool.mailbox_of(name)
    with pytest.raises(ValueError):
        spool.inbox(tmp_path, name, "support")
    with pytest.raises(ValueError):
        spool.inbox(tmp_path, "callcenter", name)


def test_one_letter_and_dashed_queue_names_are_mailboxes() -> None:
    assert spool.mailbox_of("a") == "a"
    assert spool.mailbox_of("after_sales-2") == "after_sales-2"
