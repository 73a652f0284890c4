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

MemberOpKind = Literal["add", "remove", "pause", "penalty", "ringinuse"]
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
                f", paused: {self.reason or '-'})" if self.paused else ")")
        if self.kind == "pause":
            return (f"pause {target} ({self.reason or '-'})" if self.paused
                    else f"unpause {target}")
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
        restore = [replace(base, kind="add", name=before.name,
                           state_interface=_own_state_interface(before),
                           penalty=before.penalty, paused=before.paused,
                           reason=before.paused_reason)]
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


def desired_after(current: DesiredMember | None, pbx: str, op: MemberOp, set_by: str,
                  at: datetime) -> DesiredMember:
    """The desired state once ``op`` succeeded."""
    desired = current or DesiredMember(pbx, op.queue, op.interface)
    desired = replace(desired, set_by=set_by, set_at=at)
    if op.kind == "add":
        return replace(desired, present=True, name=op.name or None,
                       state_interface=op.state_interface or None, penalty=op.penalty,
                       paused=op.paused, paused_reason=op.reason if op.paused else "")
    if op.kind == "remove":
        # A member re-added later starts from what that add says, not from old settings.
        return DesiredMember(pbx, op.queue, op.interface, present=False, set_by=set_by,
                             set_at=at)
    if op.kind == "pause":
        return replace(desired, paused=op.paused, paused_reason=op.reason if op.paused else "")
    if op.kind == "penalty":
        return replace(desired, penalty=op.penalty)
    return replace(desired, ringinuse=op.ringinuse)


def plan_reapply(desired: Iterable[DesiredMember],
                 members: Mapping[tuple[str, str], MemberView]) -> list[MemberOp]:
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
                ops.append(replace(base, kind="add", name=want.name or "",
                                   state_interface=want.state_interface or "",
                                   penalty=want.penalty or 0, paused=bool(want.paused),
                                   reason=want.paused_reason or ""))
                if want.ringinuse is not None:
                    ops.append(replace(base, kind="ringinuse", ringinuse=want.ringinuse))
            continue
        if want.paused is not None and (
            have.paused != want.paused
            or (want.paused and have.paused_reason != (want.paused_reason or ""))
        ):
            ops.append(replace(base, kind="pause", paused=want.paused,
                               reason=want.paused_reason or "" if want.paused else ""))
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
