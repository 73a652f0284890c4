"""The announcements library of the queue-settings room: recorded (uploaded) or drafted
(espeak-ng) prompts, kept as Asterisk plays them, previewed in the browser, and written to a
PBX's sounds folder when a queue plays one as its periodic announcement.

``Announcements`` holds the store functions, the HTTP adapter (``routes()``, mounted by the
queue-settings room among its own) and ``file_for_pbx``, which the room calls when it applies
a queue's settings. Sound conversion is ``callcenter.queueconf.sound``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.audit.log import Audit
from callcenter.auth.identity import User
from callcenter.auth.permissions import P
from callcenter.feed.serialize import to_data
from callcenter.queueconf.models import Announcement, QueueSettingsRow
from callcenter.queueconf.sound import (
    ConvertedSound,
    SoundError,
    SoundToolMissing,
    convert_upload,
    draft_speech,
    sound_file_name,
    write_sound,
)
from callcenter.settings import QueueConfSettings
from callcenter.web import http
from callcenter.web.errors import Problem
from callcenter.web.http import (
    EMPTY_UPLOAD,
    NOT_AN_UPLOAD,
    UPLOAD_TOO_LARGE,
    Route,
    needs,
    read_body,
    read_path,
    read_query,
    read_upload,
    reply,
    request_user,
)

log = logging.getLogger(__name__)

TAG = "queue-settings"
NO_SUCH_ANNOUNCEMENT = Problem(404, "no-such-announcement", "no announcement of that id")
NAME_TAKEN = Problem(409, "name-taken", "another announcement has that name")
NOT_AUDIO = Problem(400, "not-audio", "the file is no sound sox can read, or is too long")
NOT_SPOKEN = Problem(400, "not-spoken", "espeak-ng could not speak the text")
ANNOUNCEMENT_IN_USE = Problem(
    409, "announcement-in-use", "a queue plays it as its periodic announcement"
)
SOUND_TOOLS_MISSING = Problem(
    503, "sound-tools-missing", "sox or espeak-ng is not installed where the service runs"
)

# No control characters (C0, DEL, C1); a name has no space at either end; a text to speak
# has at least one character that is not a space.
_NAME = r"^[^\s\x00-\x1f\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$"
_SPOKEN = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
Name = Annotated[str, Field(min_length=1, max_length=80, pattern=_NAME)]
Language = Literal["zh", "en"]
# Largest id SQLite and PostgreSQL's BIGINT hold.
MAX_ID = 2**63 - 1
# Conversions at once: each is a sox (and espeak-ng) process.
CONVERSIONS_AT_ONCE = 2


class AnnouncementPath(BaseModel):
    id: int = Field(ge=1, le=MAX_ID)


class UploadQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    language: Language


class DraftBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: Name
    language: Language
    text: Annotated[str, Field(min_length=1, max_length=500, pattern=_SPOKEN)]


class AnnouncementData(BaseModel):
    id: int
    name: str
    language: str
    source: Literal["upload", "draft"]
    # What espeak-ng spoke (a draft); none for a recording.
    text: str | None
    duration_ms: int
    sha256: str
    created_by: str
    created_at: datetime
    # The sound as WAV, for the browser's preview.
    audio_url: str


class AnnouncementList(BaseModel):
    announcements: list[AnnouncementData]


class AnnouncementDeleted(BaseModel):
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class AnnouncementInfo:
    """An announcement without its sound."""

    id: int
    name: str
    language: str
    source: str
    text: str | None
    duration_ms: int
    sha256: str
    created_by: str
    created_at: datetime

    def answer(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "language": self.language,
            "source": self.source,
            "text": self.text,
            "duration_ms": self.duration_ms,
            "sha256": self.sha256,
            "created_by": self.created_by,
            "created_at": to_data(self.created_at),
            "audio_url": f"/api/announcements/{self.id}/audio",
        }


_INFO_COLUMNS = (
    Announcement.id,
    Announcement.name,
    Announcement.language,
    Announcement.source,
    Announcement.text,
    Announcement.duration_ms,
    Announcement.sha256,
    Announcement.created_by,
    Announcement.created_at,
)


def _info(row: Any) -> AnnouncementInfo:
    return AnnouncementInfo(
        id=row.id,
        name=row.name,
        language=row.language,
        source=row.source,
        text=row.text,
        duration_ms=row.duration_ms,
        sha256=row.sha256,
        created_by=row.created_by,
        created_at=row.created_at,
    )


# --- the store ------------------------------------------------------------------------------


async def list_announcements(engine: AsyncEngine) -> list[AnnouncementInfo]:
    """Every announcement, by name (their sounds left in the database)."""
    async with engine.connect() as connection:
        rows = await connection.execute(select(*_INFO_COLUMNS).order_by(Announcement.name))
        return [_info(row) for row in rows]


async def find_announcement(engine: AsyncEngine, announcement_id: int) -> AnnouncementInfo | None:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(*_INFO_COLUMNS).where(Announcement.id == announcement_id)
        )
        row = rows.first()
    return None if row is None else _info(row)


async def load_sound(engine: AsyncEngine, announcement_id: int) -> tuple[str, bytes] | None:
    """An announcement's sound: its SHA-256 and the WAV."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(Announcement.sha256, Announcement.audio).where(
                Announcement.id == announcement_id
            )
        )
        row = rows.first()
    return None if row is None else (row.sha256, bytes(row.audio))


async def name_taken(engine: AsyncEngine, name: str) -> bool:
    async with engine.connect() as connection:
        found = await connection.scalar(select(Announcement.id).where(Announcement.name == name))
    return found is not None


async def store_announcement(
    engine: AsyncEngine,
    *,
    name: str,
    language: str,
    source: Literal["upload", "draft"],
    text: str | None,
    sound: ConvertedSound,
    created_by: str,
    at: datetime,
) -> AnnouncementInfo:
    """Add an announcement; 409 ``name-taken`` when another has the name (checked by the
    table's unique name, whoever wrote first)."""
    row = Announcement(
        name=name,
        language=language,
        source=source,
        text=text,
        audio=sound.wav,
        duration_ms=sound.duration_ms,
        sha256=sound.sha256,
        created_by=created_by[:80],
        created_at=at,
    )
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            session.add(row)
    except IntegrityError:
        raise NAME_TAKEN(f"there is already an announcement named {name!r}", name=name) from None
    return _info(row)


def _announces(node: Any, announcement_id: int) -> bool:
    """Does a queue's settings JSON name the announcement as a periodic announcement
    (anywhere in it, alone or in a list)?"""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "periodic_announce" and announcement_id in _ids(value):
                    return True
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _ids(value: Any) -> Iterator[int]:
    for one in value if isinstance(value, list) else [value]:
        if isinstance(one, int) and not isinstance(one, bool):
            yield one
        elif isinstance(one, str) and one.isdigit():
            yield int(one)


async def _queues_using(session: AsyncSession, announcement_id: int) -> list[dict[str, str]]:
    rows = await session.execute(
        select(QueueSettingsRow.pbx, QueueSettingsRow.queue, QueueSettingsRow.settings)
        .where(QueueSettingsRow.settings.contains("periodic_announce"))
        .order_by(QueueSettingsRow.pbx, QueueSettingsRow.queue)
    )
    using: list[dict[str, str]] = []
    for pbx, queue, settings in rows:
        try:
            data = orjson.loads(settings)
        except orjson.JSONDecodeError:
            log.warning("queue settings of %s/%s are not JSON", pbx, queue)
            continue
        if _announces(data, announcement_id):
            using.append({"pbx": pbx, "queue": queue})
    return using


async def queues_using(engine: AsyncEngine, announcement_id: int) -> list[dict[str, str]]:
    """The queues (``pbx``, ``queue``) whose settings play the announcement."""
    async with AsyncSession(engine) as session:
        return await _queues_using(session, announcement_id)


async def delete_announcement(engine: AsyncEngine, announcement_id: int) -> AnnouncementInfo:
    """Remove an announcement no queue plays: 404 when there is none, 409
    ``announcement-in-use`` (with the queues) when a queue's settings name it."""
    async with AsyncSession(engine) as session, session.begin():
        row = (
            await session.execute(select(*_INFO_COLUMNS).where(Announcement.id == announcement_id))
        ).first()
        if row is None:
            raise NO_SUCH_ANNOUNCEMENT(
                f"there is no announcement {announcement_id}", id=announcement_id
            )
        using = await _queues_using(session, announcement_id)
        if using:
            named = ", ".join(f"{q['pbx']}/{q['queue']}" for q in using)
            raise ANNOUNCEMENT_IN_USE(
                f"{row.name!r} is the periodic announcement of {named}: choose another there first",
                id=announcement_id,
                queues=using,
            )
        await session.execute(delete(Announcement).where(Announcement.id == announcement_id))
    return _info(row)


# --- the library: HTTP and the PBX side ---------------------------------------------------------


class Announcements:
    """The announcements library. The queue-settings room mounts ``routes()`` among its own
    and calls ``file_for_pbx`` when a queue's periodic announcement is applied."""

    def __init__(
        self,
        engine: AsyncEngine,
        settings: QueueConfSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        audit: Audit | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.audit = audit
        self._clock = clock
        self._converting = asyncio.Semaphore(CONVERSIONS_AT_ONCE)

    def routes(self) -> Sequence[Route]:
        configure = needs(P.QUEUES_CONFIGURE)
        return [
            http.get(
                "/api/announcements",
                self.list_all,
                access=configure,
                tag=TAG,
                summary="The announcements library (without the sounds)",
                response=AnnouncementList,
            ),
            http.post(
                "/api/announcements/upload",
                self.upload,
                access=configure,
                tag=TAG,
                summary="Add a recorded announcement: the request body is the sound file",
                description="The body is the file itself (`Content-Type: audio/*` or "
                "`application/octet-stream`; WAV, FLAC, Ogg Vorbis, AIFF, AU: whatever sox "
                "reads, told from the content), at most `queueconf.max_upload_bytes`. It is "
                "kept as Asterisk plays it: WAV, 8 kHz, mono, 16-bit, normalised to -3 dB, at "
                "most 300 s. A file sox cannot read is a 400 `not-audio` with sox's words, "
                "and nothing is stored.",
                query=UploadQuery,
                response=AnnouncementData,
                status=201,
                errors=(
                    NOT_AN_UPLOAD,
                    EMPTY_UPLOAD,
                    UPLOAD_TOO_LARGE,
                    NOT_AUDIO,
                    NAME_TAKEN,
                    SOUND_TOOLS_MISSING,
                ),
            ),
            http.post(
                "/api/announcements/draft",
                self.draft,
                access=configure,
                tag=TAG,
                summary="Add a drafted announcement spoken by espeak-ng (zh or en)",
                body=DraftBody,
                response=AnnouncementData,
                status=201,
                errors=(NOT_SPOKEN, NAME_TAKEN, SOUND_TOOLS_MISSING),
            ),
            http.get(
                "/api/announcements/{id}/audio",
                self.audio,
                access=needs(P.QUEUES_CONFIGURE, P.QUEUES_CONTROL),
                tag=TAG,
                summary="An announcement's sound (WAV, 8 kHz mono), for the browser's preview",
                path_params=AnnouncementPath,
                kind="text",
                content_type="audio/wav",
                errors=(NO_SUCH_ANNOUNCEMENT,),
            ),
            http.delete(
                "/api/announcements/{id}",
                self.remove,
                access=configure,
                tag=TAG,
                summary="Remove an announcement no queue plays",
                path_params=AnnouncementPath,
                response=AnnouncementDeleted,
                errors=(NO_SUCH_ANNOUNCEMENT, ANNOUNCEMENT_IN_USE),
            ),
        ]

    # --- for the queue-settings room --------------------------------------------------------

    async def find(self, announcement_id: int) -> AnnouncementInfo | None:
        return await find_announcement(self.engine, announcement_id)

    async def file_for_pbx(
        self, announcement_id: int, folder: Path, folder_in_pbx: str
    ) -> str | None:
        """Write the announcement's sound into a PBX's sounds folder (``folder``, as this
        service sees it) and answer its path as Asterisk names it (``folder_in_pbx``, no
        extension); None when there is no such announcement."""
        found = await load_sound(self.engine, announcement_id)
        if found is None:
            return None
        sha256, wav = found
        base_name = sound_file_name(announcement_id, sha256)
        await asyncio.to_thread(write_sound, folder, base_name, wav)
        return f"{folder_in_pbx.rstrip('/')}/{base_name}"

    # --- handlers ---------------------------------------------------------------------------

    async def list_all(self, request: web.Request) -> web.Response:
        found = await list_announcements(self.engine)
        return reply({"announcements": [info.answer() for info in found]})

    async def upload(self, request: web.Request) -> web.Response:
        user = request_user(request)
        query = read_query(request, UploadQuery)
        await self._name_free(query.name)
        data = await read_upload(request, self.settings.max_upload_bytes)
        try:
            async with self._converting:
                sound = await convert_upload(data, max_bytes=self.settings.max_upload_bytes)
        except SoundError as exc:
            raise NOT_AUDIO(f"not a sound we can play: {exc.reason}", reason=exc.reason) from None
        except SoundToolMissing as exc:
            raise _tools_missing(exc) from None
        info = await self._store(request, user, query.name, query.language, "upload", None, sound)
        return reply(info.answer(), status=201)

    async def draft(self, request: web.Request) -> web.Response:
        user = request_user(request)
        body = await read_body(request, DraftBody)
        await self._name_free(body.name)
        try:
            async with self._converting:
                sound = await draft_speech(body.text, body.language)
        except SoundError as exc:
            raise NOT_SPOKEN(f"the text was not spoken: {exc.reason}", reason=exc.reason) from None
        except SoundToolMissing as exc:
            raise _tools_missing(exc) from None
        info = await self._store(request, user, body.name, body.language, "draft", body.text, sound)
        return reply(info.answer(), status=201)

    async def audio(self, request: web.Request) -> web.Response:
        announcement_id = read_path(request, AnnouncementPath).id
        found = await load_sound(self.engine, announcement_id)
        if found is None:
            raise NO_SUCH_ANNOUNCEMENT(
                f"there is no announcement {announcement_id}", id=announcement_id
            )
        sha256, wav = found
        file_name = f"{sound_file_name(announcement_id, sha256)}.wav"
        return web.Response(
            body=wav,
            content_type="audio/wav",
            headers={
                "Content-Disposition": f'inline; filename="{file_name}"',
                "Cache-Control": "private, no-cache",
                "ETag": f'"{sha256}"',
            },
        )

    async def remove(self, request: web.Request) -> web.Response:
        user = request_user(request)
        announcement_id = read_path(request, AnnouncementPath).id
        info = await delete_announcement(self.engine, announcement_id)
        if self.audit is not None:
            await self.audit.record(
                request,
                user,
                "announcement.delete",
                f"announcement:{info.id}",
                parameters={"name": info.name, "sha256": info.sha256},
            )
        return reply({"id": info.id, "name": info.name})

    # --- steps ----------------------------------------------------------------------------

    async def _name_free(self, name: str) -> None:
        """Told before any sound is converted (the table checks again when storing)."""
        if await name_taken(self.engine, name):
            raise NAME_TAKEN(f"there is already an announcement named {name!r}", name=name)

    async def _store(
        self,
        request: web.Request,
        user: User,
        name: str,
        language: str,
        source: Literal["upload", "draft"],
        text: str | None,
        sound: ConvertedSound,
    ) -> AnnouncementInfo:
        info = await store_announcement(
            self.engine,
            name=name,
            language=language,
            source=source,
            text=text,
            sound=sound,
            created_by=user.username,
            at=self._clock(),
        )
        if self.audit is not None:
            await self.audit.record(
                request,
                user,
                "announcement.create",
                f"announcement:{info.id}",
                parameters={
                    "name": info.name,
                    "language": info.language,
                    "source": info.source,
                    "duration_ms": info.duration_ms,
                    "sha256": info.sha256,
                },
            )
        return info


def _tools_missing(exc: SoundToolMissing) -> Exception:
    log.error("announcements: %s", exc)
    return SOUND_TOOLS_MISSING(str(exc))
