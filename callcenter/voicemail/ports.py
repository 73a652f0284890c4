"""What the voicemail room needs of the work-items room, as a small protocol.

``WorkDesk`` is offered by the work-items room: it files a message as a work item (in the pool
of the team serving the queue, as the IVR's callbacks are), says who may hear it (its rules
for who handles an item), and takes the voicemail room's ``VoicemailOfItem`` so an item's
detail can carry its message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from callcenter.auth.identity import User
from callcenter.work.ports import VoicemailOfItem


@dataclass(frozen=True, slots=True)
class VoicemailFiling:
    """A message a caller left through a queue's voicemail exit, stored, to be filed."""

    pbx: str
    queue: str
    mailbox: str
    msg_id: str
    # The row of the message (voicemail_messages.id) and where the recording is played.
    message_id: int
    audio_url: str
    # The caller's number as the PBX knew it; None when withheld or unknown.
    caller: str | None
    linkedid: str | None
    duration_seconds: int
    received_at: datetime


class WorkDesk(Protocol):
    async def file_voicemail(self, filing: VoicemailFiling) -> int:
        """A work item for the message (idempotent per PBX, mailbox and msg_id); its id."""

    async def may_hear(self, user: User, item_id: int) -> bool:
        """Whether the user handles the item (its owner, its team, a supervisor of it)."""

    def attach_voicemail(self, voicemails: VoicemailOfItem) -> None:
        """Show each item's message in its detail."""
