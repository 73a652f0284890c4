"""Pure decisions of the supervisor room: which member actions to send, how to undo them,
what the desired state becomes, and what a restarted PBX is missing.

No I/O here: the control use cases feed these functions with live-model views and stored
desired rows, then send what they return.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from callcenter.live import MemberView
from callcenter.records.wrapup import WRAPUP_REASON

MemberOpKind = Literal["add", "remove", "pause", "penalty", "ringinuse"]

# Live member changes the desired state follows when they were made outside the console
# (agent console, phone feature code, CLI, another room): the cause is the AMI event kind.
FOLLOWED_CAUSES: frozenset[str] = frozenset(
    {
        "QueueMemberAdded",
        "QueueMemberRemoved",
        "QueueMemberPause",
        "QueueMemberPenalty",
        "QueueMemberRinginuse",
    }
)
# Pauses another room owns and ends itself (the records room's enforced wrap-up): not an
# intended state, so neither stored nor undone by a re-apply.
TRANSIENT_PAUSE_REASONS: frozenset[str] = frozenset({WRAPUP_REASON})
FOLLOWED_BY = "pbx"
SpyMode = Literal["listen", "whisper", "barge"]

# ChanSpy options: q = no beep, E = stop when the spied channel hangs up; w whispers to the
# agent only, B talks to both sides.
SPY_OPTIONS: Mapping[SpyMode, str] = {"listen": "qE", "whisper": "qwE", "barge": "qBE"}


@dataclass(frozen=True, slots=True)
class MemberOp:
    """One AMI action on one queue member."""

    kind: MemberOpKind
    queue: str
    interface: str
    name: str = ""
    state_interface: str = ""
    penalty: int = 0
    paused: bool = False
    reason: str = ""
    ringinuse: bool = False

    def describe(self) -> str:
        target = f"{self.interface} in {self.queue}"
        if self.kind == "add":
            return f"add {target} (penalty {self.penalty}" + (
                f", paused: {self.reason or '-'})" if self.paused else ")"
            )
        if self.kind == "pause":
            return f"pause {target} ({self.reason or '-'})" if self.paused else f"unpause {target}"
        if self.kind == "penalty":
            return f"penalty {self.penalty} for {target}"
        if self.kind == "ringinuse":
            return f"ringinuse {'on' if self.ringinuse else 'off'} for {target}"
        return f"remove {target}"


def undo_of(op: MemberOp, before: MemberView | None) -> list[MemberOp]:
    """The actions that put the member back as it was before ``op``."""
    base = MemberOp("remove", op.queue, op.interface)
    if op.kind == "add":
        return [base]
    if before is None:
        return []
    if op.kind == "remove":
        restore = [
            replace(
                base,
                kind="add",
                name=before.name,
                state_interface=_own_state_interface(before),
                penalty=before.penalty,
                paused=before.paused,
                reason=before.paused_reason,
            )
        ]
        if before.ringinuse is not None:
            restore.append(replace(base, kind="ringinuse", ringinuse=before.ringinuse))
        return restore
    if op.kind == "pause":
        return [replace(base, kind="pause", paused=before.paused, reason=before.paused_reason)]
    if op.kind == "penalty":
        return [replace(base, kind="penalty", penalty=before.penalty)]
    if before.ringinuse is None:
        return []
    return [replace(base, kind="ringinuse", ringinuse=before.ringinuse)]


def _own_state_interface(member: MemberView) -> str:
    return "" if member.state_interface == member.interface else member.state_interface


@dataclass(frozen=True, slots=True)
class DesiredMember:
    """What supervisors want for one member; None = no opinion (leave the PBX's value)."""

    pbx: str
    queue: str
    interface: str
    present: bool | None = None
    name: str | None = None
    state_interface: str | None = None
    penalty: int | None = None
    paused: bool | None = None
    paused_reason: str | None = None
    ringinuse: bool | None = None
    set_by: str = ""
    set_at: datetime | None = None


def desired_after(
    current: DesiredMember | None, pbx: str, op: MemberOp, set_by: str, at: datetime
) -> DesiredMember:
    """The desired state once ``op`` succeeded."""
    desired = current or DesiredMember(pbx, op.queue, op.interface)
    desired = replace(desired, set_by=set_by, set_at=at)
    if op.kind == "add":
        return replace(
            desired,
            present=True,
            name=op.name or None,
            state_interface=op.state_interface or None,
            penalty=op.penalty,
            paused=op.paused,
            paused_reason=op.reason if op.paused else "",
        )
    if op.kind == "remove":
        # A member re-added later starts from what that add says, not from old settings.
        return DesiredMember(pbx, op.queue, op.interface, present=False, set_by=set_by, set_at=at)
    if op.kind == "pause":
        return replace(desired, paused=op.paused, paused_reason=op.reason if op.paused else "")
    if op.kind == "penalty":
        return replace(desired, penalty=op.penalty)
    return replace(desired, ringinuse=op.ringinuse)


def desired_following(
    current: DesiredMember, cause: str, member: MemberView | None, at: datetime
) -> DesiredMember | None:
    """The desired state once the PBX reported a live change of this member (None: drop it).

    Only settings supervisors have an opinion on follow; the rest stay "no opinion". A
    removal drops the row (a later re-add starts afresh), and so does a re-add of a member
    a supervisor had removed: the PBX's newer state is what a restart must bring back.
    """
    if cause == "QueueMemberRemoved" or member is None:
        return current if current.present is False else None
    if cause == "QueueMemberAdded":
        return None if current.present is False else current
    followed = current
    if (
        cause == "QueueMemberPause"
        and current.paused is not None
        and member.paused_reason not in TRANSIENT_PAUSE_REASONS
    ):
        followed = replace(
            followed,
            paused=member.paused,
            paused_reason=member.paused_reason if member.paused else "",
        )
    elif cause == "QueueMemberPenalty" and current.penalty is not None:
        followed = replace(followed, penalty=member.penalty)
    elif (
        cause == "QueueMemberRinginuse"
        and current.ringinuse is not None
        and member.ringinuse is not None
    ):
        followed = replace(followed, ringinuse=member.ringinuse)
    if (followed.paused, followed.paused_reason, followed.penalty, followed.ringinuse) == (
        current.paused,
        current.paused_reason,
        current.penalty,
        current.ringinuse,
    ):
        return current
    return replace(followed, set_by=FOLLOWED_BY, set_at=at)


def plan_reapply(
    desired: Iterable[DesiredMember], members: Mapping[tuple[str, str], MemberView]
) -> list[MemberOp]:
    """What a (re)started PBX lacks of the desired state, given its members by (queue, iface)."""
    ops: list[MemberOp] = []
    for want in desired:
        have = members.get((want.queue, want.interface))
        base = MemberOp("remove", want.queue, want.interface)
        if want.present is False:
            # Static members cannot be removed over AMI; they stay until queues.conf changes.
            if have is not None and have.membership == "dynamic":
                ops.append(base)
            continue
        if have is None:
            if want.present:
                ops.append(
                    replace(
                        base,
                        kind="add",
                        name=want.name or "",
                        state_interface=want.state_interface or "",
                        penalty=want.penalty or 0,
                        paused=bool(want.paused),
                        reason=want.paused_reason or "",
                    )
                )
                if want.ringinuse is not None:
                    ops.append(replace(base, kind="ringinuse", ringinuse=want.ringinuse))
            continue
        wrapping_up = have.paused and have.paused_reason in TRANSIENT_PAUSE_REASONS
        if (
            want.paused is not None
            and not (wrapping_up and not want.paused)
            and (
                have.paused != want.paused
                or (want.paused and have.paused_reason != (want.paused_reason or ""))
            )
        ):
            ops.append(
                replace(
                    base,
                    kind="pause",
                    paused=want.paused,
                    reason=want.paused_reason or "" if want.paused else "",
                )
            )
        if want.penalty is not None and have.penalty != want.penalty:
            ops.append(replace(base, kind="penalty", penalty=want.penalty))
        if want.ringinuse is not None and have.ringinuse != want.ringinuse:
            ops.append(replace(base, kind="ringinuse", ringinuse=want.ringinuse))
    return ops


def is_already_done(op: MemberOp, pbx_message: str) -> bool:
    """A refusal that means another replica (or an earlier try) got there first."""
    text = pbx_message.lower()
    if op.kind == "add":
        return "already there" in text
    if op.kind == "remove":
        return "not there" in text
    return False
