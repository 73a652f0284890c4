"""What the reports room needs of its siblings besides ``ReportPeople`` (labels.py).

``WorklogCompletion`` is offered by the work-log room: each day an agent owed a daily log, and
whether it was submitted on time and signed off (seed 001's 工作日志填写情况). Days, not totals,
so a report groups them into any interval (day, week, month, ...) with one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol


@dataclass(frozen=True, slots=True)
class LogDay:
    """A day (the centre's local date) on which the agent owed a daily log and whose
    deadline has passed."""

    user_id: int
    day: date
    on_time: bool  # the log was submitted before the deadline
    signed: bool  # the log is signed off by a supervisor


class WorklogCompletion(Protocol):
    async def log_days(
        self, user_ids: Sequence[int] | None, first: date, last: date
    ) -> Sequence[LogDay]:
        """The days first..last (inclusive) on which each of the users (None: every user)
        owed a log (the agent worked that day) and the deadline has passed; other days are
        absent."""
