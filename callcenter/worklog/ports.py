"""What the work-log room needs of its siblings, as small protocols.

``WorkRota`` is offered by the shifts room (an agent's shifts make the log day of a night
shift); ``HandoverTally`` by the handover room (handovers given and taken in a day).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from callcenter.handover.ports import ShiftSpan


class WorkRota(Protocol):
    def spans(self, user_id: int, start: datetime, end: datetime) -> Sequence[ShiftSpan]:
        """The user's shift spans overlapping [start, end), in time order."""


@dataclass(frozen=True, slots=True)
class HandoverCount:
    given: int  # handover items the user handed over (submitted in the span)
    taken: int  # handover items the user accepted (in the span)


class HandoverTally(Protocol):
    async def handovers_of(self, user_id: int, start: datetime, end: datetime) -> HandoverCount:
        """Handover items given and taken by the user in [start, end)."""
