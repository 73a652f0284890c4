"""What the work-items room needs of its siblings, as small protocols.

``WorkForce`` is offered by the agents room (teams, users, who is ready where, the agents'
consoles); ``QueueWaiting`` by the live model (how many callers wait in a queue);
``VoicemailOfItem`` by the voicemail room (the message an item was filed for).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from callcenter.agents.scope import Scope, Team
from callcenter.auth.identity import User


@dataclass(frozen=True, slots=True)
class ReadyAgent:
    """An agent signed in at a phone and ready for a call now."""

    user_id: int
    pbx: str
    interface: str
    # Since when the agent is ready: the longest ready is offered the next callback.
    since: datetime


class WorkForce(Protocol):
    def scope_of(self, user: User) -> Scope:
        """The teams (and their members) the user may see and steer."""

    def teams(self) -> Sequence[Team]:
        """Every team with its queues, members and leaders."""

    def active_user(self, user_id: int) -> User | None:
        """The user, if the account exists and is not disabled."""

    def active_users(self) -> Sequence[User]:
        """Every account that is not disabled."""

    def ready_agents(self) -> Sequence[ReadyAgent]:
        """Agents ready for a call now, longest ready first."""

    def tell(self, user_id: int, message: Mapping[str, Any]) -> None:
        """Put a message on the user's console (/ws/agent)."""


@dataclass(frozen=True, slots=True)
class ItemVoicemail:
    """The voicemail a work item was filed for (the voicemail room's message)."""

    id: int
    duration_seconds: int
    audio_url: str


class VoicemailOfItem(Protocol):
    """Offered by the voicemail room: the message an item holds, shown in its detail."""

    async def voicemail_of_item(self, item_id: int) -> ItemVoicemail | None: ...


class CallParts(Protocol):
    """Offered by the transfers room: who took a part (a leg) of a call. A work item filed
    on any leg belongs to the whole call, so a person who took a transferred leg may link
    items to the call's records as the first agent may."""

    async def took_part(
        self, pbx: str, linkedid: str, user_id: int, interfaces: tuple[str, ...]
    ) -> bool: ...
