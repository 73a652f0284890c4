"""Routing policies: per queue, what triggers a level and what runs in a surge.

The same models validate the TOML (``[routing.queues.NAME]``) and the live API's PUT body, so
a policy edited live obeys exactly the rules of one written in the file.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from callcenter.ami.values import DIALPLAN_NAME_PATTERN, Interface, Plain

Metric = Literal["longest_wait", "callers_waiting", "service_level", "predicted_wait", "no_agent"]
TriggerLevel = Literal["warning", "surge"]

# For these a *lower* value is worse: the trigger fires at or below its threshold.
LOWER_IS_WORSE: frozenset[str] = frozenset({"service_level"})

QUEUE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TriggerPolicy(_Model):
    """One condition on one figure of the queue.

    ``threshold``/``release`` are seconds for the waits, a count for callers_waiting, a
    percentage (0-100) for service_level; no_agent needs neither (it fires while no member is
    available and releases when one is).
    """

    metric: Metric
    level: TriggerLevel = "surge"
    threshold: float = 0.0
    # Hysteresis: an active trigger releases only once the figure is back beyond this.
    release: float | None = None
    # Seconds the condition must hold before the trigger fires.
    min_duration: float = Field(default=0.0, ge=0)
    # Seconds after a release before the same trigger may fire again.
    cooldown: float = Field(default=0.0, ge=0)

    @property
    def key(self) -> str:
        return f"{self.metric}/{self.level}"

    @model_validator(mode="after")
    def _release_beyond_threshold(self) -> TriggerPolicy:
        if self.metric == "no_agent" or self.release is None:
            return self
        if self.metric in LOWER_IS_WORSE:
            if self.release < self.threshold:
                raise ValueError("release must be at or above threshold for service_level")
        elif self.release > self.threshold:
            raise ValueError(f"release must be at or below threshold for {self.metric}")
        return self

    def breached(self, value: float | None) -> bool:
        if value is None:
            return False
        if self.metric == "no_agent":
            return value >= 1
        if self.metric in LOWER_IS_WORSE:
            return value <= self.threshold
        return value >= self.threshold

    def released(self, value: float | None) -> bool:
        """Back to calm: beyond the release threshold (or the trigger's own without one)."""
        if value is None:
            return True
        if self.metric == "no_agent":
            return value < 1
        limit = self.threshold if self.release is None else self.release
        if self.metric in LOWER_IS_WORSE:
            return value > limit if self.release is None else value >= limit
        return value < limit if self.release is None else value <= limit


class MemberPolicy(_Model):
    """An overflow agent (or one of a tier) brought into the queue during a surge."""

    interface: Interface
    penalty: int = Field(default=0, ge=0, le=1000)
    name: Plain = ""


class MovePolicy(_Model):
    """Move waiting callers with Redirect: to another queue, or to a dialplan destination."""

    # Another queue: the caller goes through `overflow-entry` (dialplan/overflow.conf), which
    # keeps the original join time and the IVR data on the channel.
    to_queue: str | None = Field(default=None, pattern=QUEUE_NAME_PATTERN)
    # Or any dialplan destination (context, extension, priority 1).
    context: str | None = Field(default=None, pattern=DIALPLAN_NAME_PATTERN)
    exten: str = Field(default="s", pattern=DIALPLAN_NAME_PATTERN)
    # Only callers who waited at least this long; 0 = any, longest-waiting first.
    over_seconds: float = Field(default=0.0, ge=0)
    # At most this many callers per evaluation (0 = no limit).
    max_per_round: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _one_destination(self) -> MovePolicy:
        if (self.to_queue is None) == (self.context is None):
            raise ValueError("give exactly one of to_queue or context")
        return self


class CallbackPolicy(_Model):
    """Offer a callback (dialplan branch `overflow-callback`) to callers who waited long."""

    over_seconds: float = Field(default=0.0, ge=0)
    max_per_round: int = Field(default=0, ge=0)


class ActionsPolicy(_Model):
    add_members: tuple[MemberPolicy, ...] = ()
    move_callers: MovePolicy | None = None
    offer_callback: CallbackPolicy | None = None
    # AstDB callcenter/surge/<queue> = 1 while in surge: the IVR plays its surge announcement.
    surge_flag: bool = False


class QueuePolicy(_Model):
    # Only this PBX; empty: the queue of that name on every PBX.
    pbx: str = Field(default="", pattern=r"^([a-z0-9][a-z0-9_-]{0,31})?$")
    enabled: bool = True
    triggers: tuple[TriggerPolicy, ...] = ()
    # Seconds in recovery (no trigger active) before the episode closes and the level is normal.
    recovery_seconds: float = Field(default=30.0, ge=0)
    actions: ActionsPolicy = ActionsPolicy()

    @model_validator(mode="after")
    def _unique_triggers(self) -> QueuePolicy:
        keys = [t.key for t in self.triggers]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"one trigger per metric and level; repeated: {', '.join(duplicates)}")
        return self


def valid_queue_name(name: str) -> bool:
    return re.fullmatch(QUEUE_NAME_PATTERN, name) is not None
