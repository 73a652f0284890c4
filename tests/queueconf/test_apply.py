"""The apply step's failure paths, with a scripted PBX link (no Asterisk): a refused reload puts
the previous files back byte for byte and says Asterisk's words; a file with someone else's
lines is never overwritten. The successful path runs against the real Asterisk in
test_queue_settings_rig.py."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from callcenter.ami.errors import AmiRefused
from callcenter.queueconf.apply import ApplyFailed, Configurator, NotOurFile, PbxFiles
from callcenter.queueconf.spec import HEADER, QueueSpec


class ScriptedLink:
    """Answers like Asterisk, except that it refuses QueueReload when told to."""

    name = "pbx1"
    connected = True
    reconnects = 1
    last_error = ""

    def __init__(self, refuse_reload: bool) -> None:
        self.refuse_reload = refuse_reload
        self.sent: list[dict[str, str]] = []

    async def send(
        self, fields: Mapping[str, str], *, as_list: bool = False, timeout: float | None = None
    ) -> Any:
        self.sent.append(dict(fields))
        action = fields["Action"]
        if action == "QueueReload" and self.refuse_reload:
            raise AmiRefused(self.name, "QueueReload: Error encountered while reloading queue")
        if action == "QueueStatus":
            params = {"Event": "QueueParams", "Queue": "support", "Strategy": "rrmemory"}
            return [{"Response": "Success"}, params, {"Event": "QueueStatusComplete"}]
        if action == "GetConfig":
            return {"Response": "Success", "Category-000000": "support"}
        return {"Response": "Success", "Message": "done"}


class NoAnnouncements:
    async def file_for_pbx(self, announcement_id: int, folder: Path, folder_in_pbx: str) -> None:
        return None


def configurator(etc: Path) -> tuple[Configurator, PbxFiles]:
    files = PbxFiles(etc, "queues_post_custom.conf", "exits.conf", None, "/x", "callcenter")
    return (
        Configurator(
            {"pbx1": files},
            NoAnnouncements(),
            timeout=1,
            clock=lambda: datetime.now(UTC),
        ),
        files,
    )


def test_a_refused_reload_puts_the_previous_files_back_and_says_why(tmp_path: Path) -> None:
    conf, files = configurator(tmp_path)
    before = HEADER + "\n[support](+)\ntimeout = 15\n"
    files.queues_path.write_text(before)
    link = ScriptedLink(refuse_reload=True)

    desired = {"support": QueueSpec(timeout=9, exit_voicemail_key="1")}
    with pytest.raises(ApplyFailed) as failed:
        asyncio.run(conf.apply(link, desired, {"support"}, claimed=True))

    assert "Error encountered while reloading queue" in failed.value.message
    assert files.queues_path.read_text() == before
    assert not files.exits_path.exists()  # it was not there before
    actions = [s["Action"] for s in link.sent]
    # Written, dialplan reloaded, queue reload refused; then the old files and both reloads.
    assert actions == ["Reload", "QueueReload", "Reload", "QueueReload"]


def test_a_mismatch_in_the_read_back_is_a_failure_too(tmp_path: Path) -> None:
    conf, files = configurator(tmp_path)
    link = ScriptedLink(refuse_reload=False)  # "reloads", but GetConfig shows none of it
    with pytest.raises(ApplyFailed) as failed:
        asyncio.run(conf.apply(link, {"support": QueueSpec(weight=3)}, {"support"}, claimed=False))
    assert "weight: expected 3, Asterisk reads nothing" in failed.value.message
    assert not files.queues_path.exists()


def test_a_file_with_someone_elses_lines_is_never_overwritten(tmp_path: Path) -> None:
    conf, files = configurator(tmp_path)
    theirs = "[500](+)\nannounce-frequency = 30\n"
    files.queues_path.write_text(theirs)
    link = ScriptedLink(refuse_reload=False)
    with pytest.raises(NotOurFile):
        asyncio.run(conf.apply(link, {"support": QueueSpec(timeout=9)}, {"support"}, claimed=False))
    assert files.queues_path.read_text() == theirs
    assert link.sent == []
    # An empty one (FreePBX creates it so) is the service's to take.
    files.queues_path.write_text("")
    with pytest.raises(ApplyFailed):  # the scripted read-back shows nothing: put back
        asyncio.run(conf.apply(link, {"support": QueueSpec(timeout=9)}, {"support"}, claimed=False))
    assert files.queues_path.read_text() == ""
