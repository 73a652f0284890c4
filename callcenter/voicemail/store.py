"""The voicemail room's database reads and writes (table ``voicemail_messages``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from callcenter.voicemail.models import VoicemailMessage


@dataclass(frozen=True, slots=True)
class NewMessage:
    pbx: str
    queue: str
    mailbox: str
    msg_id: str
    linkedid: str | None
    caller: str | None
    duration_seconds: int
    audio: bytes
    received_at: datetime


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message row without its audio."""

    id: int
    pbx: str
    queue: str
    mailbox: str
    msg_id: str
    caller: str | None
    linkedid: str | None
    duration_seconds: int
    work_item_id: int | None
    received_at: datetime


def _stored(row: VoicemailMessage) -> StoredMessage:
    return StoredMessage(
        id=row.id,
        pbx=row.pbx,
        queue=row.queue,
        mailbox=row.mailbox,
        msg_id=row.msg_id,
        caller=row.caller,
        linkedid=row.linkedid,
        duration_seconds=row.duration_seconds,
        work_item_id=row.work_item_id,
        received_at=row.received_at,
    )


_WITHOUT_AUDIO = (
    VoicemailMessage.id,
    VoicemailMessage.pbx,
    VoicemailMessage.queue,
    VoicemailMessage.mailbox,
    VoicemailMessage.msg_id,
    VoicemailMessage.caller,
    VoicemailMessage.linkedid,
    VoicemailMessage.duration_seconds,
    VoicemailMessage.work_item_id,
    VoicemailMessage.received_at,
)


async def find_message(
    engine: AsyncEngine, pbx: str, mailbox: str, msg_id: str
) -> StoredMessage | None:
    async with AsyncSession(engine) as session:
        row = (
            await session.execute(
                select(*_WITHOUT_AUDIO).where(
                    VoicemailMessage.pbx == pbx,
                    VoicemailMessage.mailbox == mailbox,
                    VoicemailMessage.msg_id == msg_id,
                )
            )
        ).one_or_none()
    return None if row is None else StoredMessage(**row._asdict())


async def store_message(engine: AsyncEngine, new: NewMessage) -> tuple[StoredMessage, bool]:
    """The message's row, and whether this call stored it (False: it was there already: the
    same (pbx, mailbox, msg_id) from an earlier call, a sweep or another replica)."""
    found = await find_message(engine, new.pbx, new.mailbox, new.msg_id)
    if found is not None:
        return found, False
    row = VoicemailMessage(
        pbx=new.pbx,
        queue=new.queue,
        mailbox=new.mailbox,
        msg_id=new.msg_id,
        linkedid=new.linkedid,
        caller=new.caller,
        duration_seconds=new.duration_seconds,
        audio=new.audio,
        work_item_id=None,
        received_at=new.received_at,
    )
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            session.add(row)
    except IntegrityError:
        again = await find_message(engine, new.pbx, new.mailbox, new.msg_id)
        if again is None:
            raise
        return again, False
    return _stored(row), True


async def link_item(engine: AsyncEngine, message_id: int, item_id: int) -> None:
    async with AsyncSession(engine) as session, session.begin():
        await session.execute(
            update(VoicemailMessage)
            .where(VoicemailMessage.id == message_id)
            .values(work_item_id=item_id)
            .execution_options(synchronize_session=False)
        )


async def load_audio(engine: AsyncEngine, message_id: int) -> tuple[StoredMessage, bytes] | None:
    async with AsyncSession(engine) as session:
        row = await session.get(VoicemailMessage, message_id)
        if row is None:
            return None
        return _stored(row), row.audio


async def of_item(engine: AsyncEngine, item_id: int) -> StoredMessage | None:
    """The (first) message filed as this work item."""
    async with AsyncSession(engine) as session:
        row = (
            await session.execute(
                select(*_WITHOUT_AUDIO)
                .where(VoicemailMessage.work_item_id == item_id)
                .order_by(VoicemailMessage.id)
                .limit(1)
            )
        ).one_or_none()
    return None if row is None else StoredMessage(**row._asdict())
