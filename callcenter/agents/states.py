"""One state model for every agent, derived from what the PBX says of their phone. Pure.

signed-out -> (sign in) -> ready <-> on-call -> acw -> ready, and not-ready (code) from and
back to ready. The state is never pushed around by hand: it is computed again from the
agent's queue memberships (the live model), whether they are signed in, and any after-call
work still running, each time one of those changes; the room stores a new history row only
when the result differs. So a pause made elsewhere (a phone's key, the Asterisk CLI, a
supervisor) shows like one made in the console, and a free-text reason that is no code
shows as "other".
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from callcenter.live import MemberView
from callcenter.records.wrapup import WRAPUP_REASON

OTHER = "other"


class StateName(enum.StrEnum):
    SIGNED_OUT = "signed-out"
    READY = "ready"
    ON_CALL = "on-call"
    ACW = "acw"
    NOT_READY = "not-ready"


SIGNED_IN_STATES = frozenset(
    {StateName.READY, StateName.ON_CALL, StateName.ACW, StateName.NOT_READY}
)


@dataclass(frozen=True, slots=True)
class AgentState:
    state: StateName
    # The not-ready code ("other" for a reason that is no code); "" in other states.
    code: str = ""
    # The PBX's pause reason as given (for "other": what someone typed elsewhere).
    reason: str = ""


SIGNED_OUT = AgentState(StateName.SIGNED_OUT)
READY = AgentState(StateName.READY)


def derive(
    signed_in: bool,
    members: Sequence[MemberView],
    codes: Collection[str],
    acw_until: datetime | None,
    now: datetime,
    *,
    on_call: bool = False,
) -> AgentState:
    """The agent's state from their phone's memberships (every queue, one PBX); ``on_call``:
    the live model saw a queue call connect to the phone and not end yet."""
    if not signed_in:
        return SIGNED_OUT
    if on_call or any(m.in_call or m.state == "busy" for m in members):
        return AgentState(StateName.ON_CALL)
    if members and all(m.paused for m in members):
        reason = next((m.paused_reason for m in members if m.paused_reason), "")
        if reason == WRAPUP_REASON:
            return AgentState(StateName.ACW, reason=reason)
        if reason in codes:
            return AgentState(StateName.NOT_READY, reason, reason)
        return AgentState(StateName.NOT_READY, OTHER, reason)
    if acw_until is not None and now < acw_until:
        return AgentState(StateName.ACW)
    return READY


def over_limit(
    state: AgentState, since: datetime, limit_seconds: int | None, now: datetime
) -> bool:
    """A not-ready code held longer than its limit."""
    return (
        state.state is StateName.NOT_READY
        and limit_seconds is not None
        and (now - since).total_seconds() > limit_seconds
    )
