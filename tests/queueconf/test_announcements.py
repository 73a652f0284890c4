"""The announcements library: sounds converted with the real sox and espeak-ng, stored in a
real database (migrated to head, SQLite and PostgreSQL), asked for through the real HTTP stack
(the auth room's sessions, the access and CSRF middlewares, the one error shape), and written
to a PBX's sounds folder."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDictProxy
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.audit.log import AuditLog
from callcenter.audit.models import AuditEntry
from callcenter.auth.identity import Role, User
from callcenter.auth.models import UserRow
from callcenter.auth.room import AuthRoom
from callcenter.auth.sessions import COOKIE_NAME
from callcenter.auth.users import user_from_row
from callcenter.component import Room
from callcenter.queueconf.announcements import Announcements, store_announcement
from callcenter.queueconf.models import Announcement, QueueSettingsRow
from callcenter.queueconf.sound import (
    SoundError,
    convert_upload,
    draft_speech,
    sound_file_name,
    write_sound,
)
from callcenter.settings import AuthSettings, QueueConfSettings
from callcenter.web.app import create_app
from callcenter.web.http import Route

ORIGIN = "http://console.test"
T0 = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
MAX_UPLOAD = 512 * 1024
IN_PBX = "/var/lib/asterisk/sounds/callcenter-announcements"
ZH_TEXT = "您好，欢迎致电客服热线，请稍候。"  # noqa: RUF001
PEOPLE: dict[str, Role] = {"boss": "supervisor", "lin": "team_leader", "wang": "agent"}


# --- sounds made with the real tools ---------------------------------------------------------


def _sox(*args: str) -> None:
    subprocess.run(["sox", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A 1 s 440 Hz tone at 44.1 kHz stereo, as WAV, Ogg Vorbis and FLAC; a 3 s one."""
    folder = tmp_path_factory.mktemp("sounds")
    tone = folder / "tone.wav"
    _sox("-n", "-r", "44100", "-c", "2", "-b", "16", str(tone), "synth", "1", "sine", "440")
    _sox(str(tone), str(folder / "tone.ogg"))
    _sox(str(tone), str(folder / "tone.flac"))
    long = folder / "long.wav"
    _sox("-n", "-r", "16000", "-c", "1", "-b", "16", str(long), "synth", "3", "sine", "440")
    return {
        name: (folder / name).read_bytes()
        for name in ("tone.wav", "tone.ogg", "tone.flac", "long.wav")
    }


@dataclass(frozen=True)
class Shape:
    rate: int
    channels: int
    width: int
    duration_ms: float


def shape(wav: bytes) -> Shape:
    with wave.open(io.BytesIO(wav), "rb") as sound:
        rate, frames = sound.getframerate(), sound.getnframes()
        return Shape(rate, sound.getnchannels(), sound.getsampwidth(), frames * 1000 / rate)


ASTERISK = (8000, 1, 2)


def garbage() -> bytes:
    return bytes(range(7, 250)) * 20


# --- sound.py: conversion ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tone.wav", "tone.ogg", "tone.flac"])
async def test_an_upload_becomes_wav_8k_mono_16_bit(sounds: dict[str, bytes], name: str) -> None:
    converted = await convert_upload(sounds[name])

    got = shape(converted.wav)
    assert (got.rate, got.channels, got.width) == ASTERISK
    assert abs(got.duration_ms - 1000) <= 20
    assert abs(converted.duration_ms - 1000) <= 20
    assert converted.sha256 == hashlib.sha256(converted.wav).hexdigest()


async def test_garbage_is_refused_in_sox_words_without_the_temporary_folder() -> None:
    with pytest.raises(SoundError) as refused:
        await convert_upload(garbage())

    assert "can't determine type" in refused.value.reason
    assert "/tmp" not in refused.value.reason and "cc-sound" not in refused.value.reason


async def test_empty_too_large_and_too_long_sounds_are_refused(sounds: dict[str, bytes]) -> None:
    with pytest.raises(SoundError, match="empty"):
        await convert_upload(b"")
    with pytest.raises(SoundError, match="larger than 1000 bytes"):
        await convert_upload(sounds["tone.wav"], max_bytes=1000)
    with pytest.raises(SoundError, match="longer than 2 s"):
        await convert_upload(sounds["long.wav"], max_seconds=2)
    # Exactly at the limit is fine.
    assert abs((await convert_upload(sounds["long.wav"], max_seconds=3)).duration_ms - 3000) < 20


@pytest.mark.parametrize(
    ("language", "text"),
    [("zh", ZH_TEXT), ("en", "Thank you for holding.")],
)
async def test_a_draft_is_spoken_as_asterisk_plays_it(language: Any, text: str) -> None:
    converted = await draft_speech(text, language)

    got = shape(converted.wav)
    assert (got.rate, got.channels, got.width) == ASTERISK
    assert 500 < converted.duration_ms < 20_000
    assert abs(got.duration_ms - converted.duration_ms) <= 1


async def test_a_text_of_spaces_or_starting_like_an_option_is_handled() -> None:
    with pytest.raises(SoundError, match="no text"):
        await draft_speech("   ", "en")
    # Read from a file: never taken for an espeak-ng option.
    spoken = await draft_speech("--help", "en")
    assert spoken.duration_ms > 100


# --- sound.py: the file in a PBX's sounds folder -----------------------------------------------


def test_sound_file_name_is_id_and_hash_without_extension() -> None:
    assert sound_file_name(7, "abcdef0123456789" + "0" * 48) == "ann-7-abcdef012345"


def test_write_sound_is_atomic_readable_and_idempotent(tmp_path: Path) -> None:
    folder = tmp_path / "sounds" / "callcenter-announcements"
    write_sound(folder, "ann-1-abc", b"RIFF one")

    target = folder / "ann-1-abc.wav"
    assert target.read_bytes() == b"RIFF one"
    assert target.stat().st_mode & 0o777 == 0o644
    assert os.listdir(folder) == ["ann-1-abc.wav"]
    first = target.stat()

    write_sound(folder, "ann-1-abc", b"RIFF one")  # the same: left alone
    again = target.stat()
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)

    write_sound(folder, "ann-1-abc", b"RIFF two")  # different: replaced by a rename
    assert target.read_bytes() == b"RIFF two"
    assert target.stat().st_ino != first.st_ino
    assert os.listdir(folder) == ["ann-1-abc.wav"]


def test_write_sound_refuses_a_name_that_is_a_path(tmp_path: Path) -> None:
    for bad in ("../etc/x", "a/b", ".hidden", ""):
        with pytest.raises(ValueError):
            write_sound(tmp_path, bad, b"x")
    assert list(tmp_path.iterdir()) == []


# --- the library through HTTP ------------------------------------------------------------------


class LibraryRoom(Room):
    """The routes as the queue-settings room mounts them."""

    name: ClassVar[str] = "announcements-under-test"

    def __init__(self, library: Announcements) -> None:
        self.library = library

    def routes(self) -> list[Route]:
        return list(self.library.routes())


@dataclass
class Answer:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Library:
    client: TestClient[web.Request, web.Application]

    def __init__(self, engine: AsyncEngine, users: dict[str, User]) -> None:
        self.engine = engine
        self.users = users
        self.audit_log = AuditLog(engine)
        self.auth = AuthRoom(engine, AuthSettings(), audit=self.audit_log)
        self.library = Announcements(
            engine,
            QueueConfSettings(max_upload_bytes=MAX_UPLOAD),
            audit=self.audit_log,
            clock=lambda: T0,
        )
        self.tokens: dict[str, str] = {}

    async def call(
        self,
        who: str,
        method: str,
        path: str,
        *,
        body: Any = None,
        data: Any = None,
        content_type: str | None = None,
        **params: str,
    ) -> Answer:
        headers = {"Origin": ORIGIN, "Cookie": f"{COOKIE_NAME}={self.tokens[who]}"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        async with self.client.request(
            method, path, json=body, data=data, headers=headers, params=params
        ) as response:
            return Answer(response.status, response.headers, await response.read())

    async def upload(
        self, data: Any, *, who: str = "boss", content_type: str = "audio/wav", **params: str
    ) -> Answer:
        params.setdefault("language", "zh")
        return await self.call(
            who,
            "POST",
            "/api/announcements/upload",
            data=data,
            content_type=content_type,
            **params,
        )

    async def add(self, name: str, wav: bytes) -> dict[str, Any]:
        """An announcement stored as an upload stores it, without HTTP."""
        info = await store_announcement(
            self.engine,
            name=name,
            language="zh",
            source="upload",
            text=None,
            sound=await convert_upload(wav),
            created_by="boss",
            at=T0,
        )
        return dict(json.loads(json.dumps(info.answer())))

    async def draft(self, who: str = "boss", **body: Any) -> Answer:
        return await self.call(who, "POST", "/api/announcements/draft", body=body)

    async def rows(self) -> int:
        async with AsyncSession(self.engine) as session:
            return int(await session.scalar(select(func.count()).select_from(Announcement)) or 0)

    async def audit(self, action: str) -> list[AuditEntry]:
        async with AsyncSession(self.engine) as session:
            found = await session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
            return list(found.all())

    async def queue_plays(self, queue: str, settings: dict[str, Any]) -> None:
        """A queue's stored settings (as the queue-settings room keeps them)."""
        async with AsyncSession(self.engine) as session, session.begin():
            row = await session.scalar(
                select(QueueSettingsRow).where(QueueSettingsRow.queue == queue)
            )
            if row is None:
                row = QueueSettingsRow(
                    pbx="rig", queue=queue, version=0, settings="", set_by="boss", set_at=T0
                )
                session.add(row)
            row.version += 1
            row.settings = json.dumps(settings)


async def _add_people(engine: AsyncEngine) -> dict[str, User]:
    now = datetime.now(UTC)
    rows = [
        UserRow(
            username=username,
            display_name=username.title(),
            role=role,
            password_hash="-",
            interfaces=[],
            language="zh",
            disabled=False,
            created_at=now,
            updated_at=now,
        )
        for username, role in PEOPLE.items()
    ]
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        session.add_all(rows)
    return {row.username: user_from_row(row) for row in rows}


@asynccontextmanager
async def open_library(engine: AsyncEngine) -> AsyncIterator[Library]:
    users = await _add_people(engine)
    library = Library(engine, users)
    for who, user in users.items():
        library.tokens[who] = await library.auth.sessions.create(user)
    app = create_app(
        [library.auth, LibraryRoom(library.library)],
        library.auth.authenticate,
        public_origins=[ORIGIN],
    )
    async with TestClient(TestServer(app)) as client:
        library.client = client
        yield library


@pytest.fixture
async def lib(engine: AsyncEngine) -> AsyncIterator[Library]:
    async with open_library(engine) as library:
        yield library


async def test_an_uploaded_tone_is_kept_as_asterisk_plays_it_and_previewed(
    lib: Library, sounds: dict[str, bytes]
) -> None:
    answer = await lib.upload(sounds["tone.wav"], name="Welcome tone", language="en")

    assert answer.status == 201, answer.body
    made = answer.json
    assert (made["name"], made["language"], made["source"], made["text"]) == (
        "Welcome tone",
        "en",
        "upload",
        None,
    )
    assert abs(made["duration_ms"] - 1000) <= 20
    assert (made["created_by"], made["created_at"]) == ("boss", T0.isoformat())
    assert made["audio_url"] == f"/api/announcements/{made['id']}/audio"

    preview = await lib.call("boss", "GET", made["audio_url"])
    assert preview.status == 200
    assert preview.headers["Content-Type"] == "audio/wav"
    assert preview.headers["Content-Disposition"].startswith("inline")
    got = shape(preview.body)
    assert (got.rate, got.channels, got.width) == ASTERISK
    assert abs(got.duration_ms - 1000) <= 20
    assert hashlib.sha256(preview.body).hexdigest() == made["sha256"]
    # A team leader (queues:control) may listen too.
    assert (await lib.call("lin", "GET", made["audio_url"])).status == 200

    listed = await lib.call("boss", "GET", "/api/announcements")
    assert listed.status == 200
    assert listed.json == {"announcements": [made]}

    (entry,) = await lib.audit("announcement.create")
    assert (entry.username, entry.target) == ("boss", f"announcement:{made['id']}")
    assert entry.parameters["sha256"] == made["sha256"]


async def test_an_upload_sox_cannot_read_is_not_audio_and_nothing_is_stored(lib: Library) -> None:
    answer = await lib.upload(garbage(), name="Noise", content_type="application/octet-stream")

    assert answer.status == 400
    assert answer.json["error"] == "not-audio"
    assert "can't determine type" in answer.json["reason"]
    assert await lib.rows() == 0
    assert await lib.audit("announcement.create") == []


async def test_a_taken_name_is_409_for_an_upload(lib: Library, sounds: dict[str, bytes]) -> None:
    await lib.add("Hold", sounds["tone.wav"])

    again = await lib.upload(sounds["tone.ogg"], name="Hold", content_type="audio/ogg")
    assert (again.status, again.json["error"]) == (409, "name-taken")
    assert await lib.rows() == 1


async def test_a_taken_name_is_409_for_a_draft(lib: Library, sounds: dict[str, bytes]) -> None:
    await lib.add("Hold", sounds["tone.wav"])

    drafted = await lib.draft(name="Hold", language="en", text="Please hold.")
    assert (drafted.status, drafted.json["error"]) == (409, "name-taken")
    assert await lib.rows() == 1


async def test_uploads_past_the_limit_are_413_with_or_without_a_length(lib: Library) -> None:
    too_big = b"\0" * (MAX_UPLOAD + 1)
    told = await lib.upload(too_big, name="Big")
    assert (told.status, told.json["error"]) == (413, "upload-too-large")

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(MAX_UPLOAD // 65536 + 2):
            yield b"\0" * 65536

    streamed = await lib.upload(chunks(), name="Big")
    assert (streamed.status, streamed.json["error"]) == (413, "upload-too-large")
    assert await lib.rows() == 0


async def test_an_empty_or_mistyped_upload_and_a_bad_query_are_400_or_415(
    lib: Library, sounds: dict[str, bytes]
) -> None:
    empty = await lib.upload(b"", name="Empty")
    assert (empty.status, empty.json["error"]) == (400, "empty-upload")

    typed = await lib.upload(b'{"a": 1}', name="Json", content_type="application/json")
    assert (typed.status, typed.json["error"]) == (415, "not-an-upload")

    for bad in ({"language": "fr"}, {"name": ""}, {"name": " padded "}, {"name": "a\nb"}):
        query = {"name": "Ok", **bad}
        refused = await lib.upload(sounds["tone.wav"], **query)
        assert (refused.status, refused.json["error"]) == (400, "invalid-query"), bad
    assert await lib.rows() == 0


async def test_drafts_in_chinese_and_english_are_playable(lib: Library) -> None:
    for language, text in (("zh", ZH_TEXT), ("en", "Please hold.")):
        answer = await lib.draft(name=f"Draft {language}", language=language, text=text)
        assert answer.status == 201, answer.body
        assert (answer.json["source"], answer.json["text"]) == ("draft", text)
        preview = await lib.call("boss", "GET", answer.json["audio_url"])
        got = shape(preview.body)
        assert (got.rate, got.channels, got.width) == ASTERISK
        assert got.duration_ms > 300


@pytest.mark.parametrize(
    "body",
    [
        {"name": "X", "language": "en", "text": "a" * 501},
        {"name": "X", "language": "en", "text": "line one\nline two"},
        {"name": "X", "language": "en", "text": "bell\x07"},
        {"name": "X", "language": "en", "text": "   "},
        {"name": "X", "language": "de", "text": "Hallo"},
        {"name": "X", "language": "en", "text": "Hi", "voice": "whisper"},
    ],
)
async def test_a_draft_body_out_of_bounds_is_invalid(lib: Library, body: dict[str, Any]) -> None:
    answer = await lib.draft(**body)
    assert (answer.status, answer.json["error"]) == (400, "invalid-body")
    assert await lib.rows() == 0


async def test_agents_may_not_use_the_library_and_team_leaders_only_listen(
    lib: Library, sounds: dict[str, bytes]
) -> None:
    made = await lib.add("Tone", sounds["tone.wav"])
    path = f"/api/announcements/{made['id']}"

    for who, method, route, status in (
        ("wang", "GET", "/api/announcements", 403),
        ("wang", "GET", f"{path}/audio", 403),
        ("wang", "DELETE", path, 403),
        ("lin", "GET", "/api/announcements", 403),
        ("lin", "GET", f"{path}/audio", 200),
        ("lin", "DELETE", path, 403),
    ):
        answer = await lib.call(who, method, route)
        assert answer.status == status, (who, method, route)
    refused = await lib.draft("wang", name="Mine", language="en", text="Hello")
    assert (refused.status, refused.json["error"]) == (403, "forbidden")
    assert await lib.rows() == 1


async def test_an_agent_may_not_upload(lib: Library, sounds: dict[str, bytes]) -> None:
    uploaded = await lib.upload(sounds["tone.wav"], who="wang", name="Mine")
    assert (uploaded.status, uploaded.json["error"]) == (403, "forbidden")
    assert await lib.rows() == 0


async def test_an_announcement_a_queue_plays_cannot_be_deleted(
    lib: Library, sounds: dict[str, bytes]
) -> None:
    made = await lib.add("Tone", sounds["tone.wav"])
    other = await lib.add("Other", sounds["tone.flac"])
    path = f"/api/announcements/{made['id']}"
    await lib.queue_plays("support", {"strategy": "rrmemory", "periodic_announce": made["id"]})
    await lib.queue_plays("sales", {"periodic_announce": other["id"]})

    refused = await lib.call("boss", "DELETE", path)
    assert (refused.status, refused.json["error"]) == (409, "announcement-in-use")
    assert refused.json["queues"] == [{"pbx": "rig", "queue": "support"}]
    assert (await lib.call("boss", "GET", f"{path}/audio")).status == 200

    await lib.queue_plays("support", {"strategy": "rrmemory", "periodic_announce": None})
    deleted = await lib.call("boss", "DELETE", path)
    assert deleted.status == 200
    assert deleted.json == {"id": made["id"], "name": "Tone"}
    gone = await lib.call("boss", "GET", f"{path}/audio")
    assert (gone.status, gone.json["error"]) == (404, "no-such-announcement")
    missing = await lib.call("boss", "DELETE", path)
    assert (missing.status, missing.json["error"]) == (404, "no-such-announcement")
    (entry,) = await lib.audit("announcement.delete")
    assert entry.target == f"announcement:{made['id']}"
    assert await lib.rows() == 1


async def test_an_id_out_of_range_is_400(lib: Library) -> None:
    for path in ("/api/announcements/0/audio", f"/api/announcements/{2**63}"):
        method = "GET" if path.endswith("audio") else "DELETE"
        answer = await lib.call("boss", method, path)
        assert (answer.status, answer.json["error"]) == (400, "invalid-path")


async def test_file_for_pbx_writes_the_sound_and_names_it_as_asterisk_does(
    lib: Library, sounds: dict[str, bytes], tmp_path: Path
) -> None:
    made = await lib.add("Tone", sounds["tone.wav"])
    folder = tmp_path / "pbx-sounds"

    path = await lib.library.file_for_pbx(made["id"], folder, IN_PBX + "/")

    base = sound_file_name(made["id"], made["sha256"])
    assert path == f"{IN_PBX}/{base}"
    written = folder / f"{base}.wav"
    assert hashlib.sha256(written.read_bytes()).hexdigest() == made["sha256"]
    assert written.stat().st_mode & 0o777 == 0o644
    assert os.listdir(folder) == [written.name]
    before = written.stat()
    assert await lib.library.file_for_pbx(made["id"], folder, IN_PBX) == path
    assert written.stat().st_ino == before.st_ino  # the same file: not written again

    assert await lib.library.file_for_pbx(made["id"] + 100, folder, IN_PBX) is None
    assert await lib.library.find(made["id"] + 100) is None
    found = await lib.library.find(made["id"])
    assert found is not None and found.name == "Tone"
