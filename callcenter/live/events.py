"""Typed AMI events used by the live model, and the one place that reads AMI field names.

`parse_event` turns one AMI message (a mapping of header → value, as panoramisk gives it) into a
frozen dataclass, or None for an event the live model does not use. Field names are exactly those
Asterisk 22 sends (apps/app_queue.c, main/manager_channels.c):

* Agent* events carry the *caller* channel snapshot unprefixed (Channel, Uniqueid, CallerIDNum…)
  and the member's channel as Dest* (DestChannel, DestUniqueid).
* AgentRingNoAnswer.RingTime is in milliseconds; AgentConnect.RingTime/HoldTime are in seconds.
* QueueMember* events carry the full member snapshot (Queue, MemberName, Interface, …); the
  QueueMember record of a QueueStatus list names the member `Name` and its interface `Location`.

Only Queue and the key fields are required; the other member fields are optional (None when
absent) so that the model can merge what it gets instead of resetting what it did not get.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "DEFAULT_VAR_PREFIX",
    "QUEUESTATUS",
    "AgentCalled",
    "AgentComplete",
    "AgentConnect",
    "AgentDump",
    "AgentRingNoAnswer",
    "CoreShowChannel",
    "Event",
    "Hangup",
    "MalformedEvent",
    "MemberEvent",
    "QueueCallerAbandon",
    "QueueCallerJoin",
    "QueueCallerLeave",
    "QueueEntry",
    "QueueMember",
    "QueueMemberAdded",
    "QueueMemberPause",
    "QueueMemberPenalty",
    "QueueMemberRemoved",
    "QueueMemberRinginuse",
    "QueueMemberStatus",
    "QueueParams",
    "ResyncRecord",
    "VarSet",
    "parse_event",
]

DEFAULT_VAR_PREFIX = "CC_"
#: The channel variable app_queue sets when Queue() returns for a reason other than a hang-up.
QUEUESTATUS = "QUEUESTATUS"


class MalformedEvent(ValueError):
    """A used AMI event lacks a required field or has a value that is not a number."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason


# --------------------------------------------------------------------------- event types


@dataclass(frozen=True, slots=True)
class QueueCallerJoin:
    pbx: str
    at: datetime
    queue: str
    position: int
    count: int
    channel: str
    uniqueid: str
    linkedid: str
    caller_num: str
    caller_name: str


@dataclass(frozen=True, slots=True)
class QueueCallerLeave:
    pbx: str
    at: datetime
    queue: str
    position: int
    count: int
    channel: str
    uniqueid: str


@dataclass(frozen=True, slots=True)
class QueueCallerAbandon:
    """Emitted on a caller hang-up *and* on timeout, leave-when-empty and withdraw."""

    pbx: str
    at: datetime
    queue: str
    position: int
    original_position: int
    hold_time: int  # seconds
    channel: str
    uniqueid: str


@dataclass(frozen=True, slots=True)
class AgentCalled:
    pbx: str
    at: datetime
    queue: str
    interface: str
    member_name: str
    channel: str  # caller channel
    uniqueid: str  # caller uniqueid = call key
    linkedid: str
    caller_num: str
    caller_name: str
    dest_channel: str  # the member's channel being rung
    dest_uniqueid: str


@dataclass(frozen=True, slots=True)
class AgentRingNoAnswer:
    pbx: str
    at: datetime
    queue: str
    interface: str
    member_name: str
    channel: str
    uniqueid: str
    dest_channel: str
    ring_time_ms: int  # milliseconds, unlike AgentConnect


@dataclass(frozen=True, slots=True)
class AgentDump:
    """The member hung up during the announcement: the caller goes back to waiting."""

    pbx: str
    at: datetime
    queue: str
    interface: str
    member_name: str
    channel: str
    uniqueid: str
    dest_channel: str


@dataclass(frozen=True, slots=True)
class AgentConnect:
    pbx: str
    at: datetime
    queue: str
    interface: str
    member_name: str
    channel: str
    uniqueid: str
    linkedid: str
    caller_num: str
    caller_name: str
    dest_channel: str
    dest_uniqueid: str
    hold_time: int  # seconds
    ring_time: int  # seconds


@dataclass(frozen=True, slots=True)
class AgentComplete:
    pbx: str
    at: datetime
    queue: str
    interface: str
    member_name: str
    channel: str
    uniqueid: str
    dest_channel: str
    hold_time: int
    talk_time: int
    reason: str  # caller | agent | transfer
    # For a call connected while no process listened, the record is made from this event.
    linkedid: str = ""
    caller_num: str = ""
    caller_name: str = ""


@dataclass(frozen=True, slots=True)
class MemberEvent:
    """Full member snapshot shared by every QueueMember* event; None = not sent."""

    pbx: str
    at: datetime
    queue: str
    interface: str
    member_name: str | None = None
    state_interface: str | None = None
    membership: str | None = None
    penalty: int | None = None
    calls_taken: int | None = None
    last_call: int | None = None  # epoch seconds, 0 = never
    last_pause: int | None = None
    login_time: int | None = None
    in_call: bool | None = None
    status: int | None = None
    paused: bool | None = None
    paused_reason: str | None = None
    ringinuse: bool | None = None
    wrapup_time: int | None = None


@dataclass(frozen=True, slots=True)
class QueueMemberAdded(MemberEvent):
    pass


@dataclass(frozen=True, slots=True)
class QueueMemberRemoved(MemberEvent):
    pass


@dataclass(frozen=True, slots=True)
class QueueMemberStatus(MemberEvent):
    pass


@dataclass(frozen=True, slots=True)
class QueueMemberPause(MemberEvent):
    pass


@dataclass(frozen=True, slots=True)
class QueueMemberPenalty(MemberEvent):
    pass


@dataclass(frozen=True, slots=True)
class QueueMemberRinginuse(MemberEvent):
    pass


@dataclass(frozen=True, slots=True)
class QueueMember(MemberEvent):
    """Resync record from QueueStatus (there: Name and Location)."""


@dataclass(frozen=True, slots=True)
class Hangup:
    pbx: str
    at: datetime
    channel: str
    uniqueid: str
    linkedid: str
    cause: int | None
    cause_txt: str


@dataclass(frozen=True, slots=True)
class SoftHangupRequest:
    """Asterisk asks a channel to hang up; `cause` is its AST_SOFTHANGUP_* bit set."""

    pbx: str
    at: datetime
    channel: str
    uniqueid: str
    cause: int | None


# AST_SOFTHANGUP_SHUTDOWN: the PBX itself is stopping ("core stop now"/"restart").
SOFTHANGUP_SHUTDOWN = 0x4


@dataclass(frozen=True, slots=True)
class VarSet:
    """Only for QUEUESTATUS and for variables with the configured prefix (IVR data)."""

    pbx: str
    at: datetime
    channel: str
    uniqueid: str
    linkedid: str
    variable: str  # leading '_' / '__' (inheritance marks) stripped
    value: str


@dataclass(frozen=True, slots=True)
class QueueParams:
    pbx: str
    at: datetime
    queue: str
    strategy: str
    max: int
    calls: int
    holdtime: int
    talktime: int
    completed: int
    abandoned: int
    service_level: int  # seconds: the queue's own servicelevel setting
    service_level_perf: float
    service_level_perf2: float
    weight: int


@dataclass(frozen=True, slots=True)
class QueueEntry:
    pbx: str
    at: datetime
    queue: str
    position: int
    channel: str
    uniqueid: str
    caller_num: str
    caller_name: str
    wait: int  # seconds
    priority: int


@dataclass(frozen=True, slots=True)
class CoreShowChannel:
    pbx: str
    at: datetime
    channel: str
    uniqueid: str
    linkedid: str
    application: str
    bridge_id: str


Event = (
    QueueCallerJoin
    | QueueCallerLeave
    | QueueCallerAbandon
    | AgentCalled
    | AgentRingNoAnswer
    | AgentDump
    | AgentConnect
    | AgentComplete
    | QueueMemberAdded
    | QueueMemberRemoved
    | QueueMemberStatus
    | QueueMemberPause
    | QueueMemberPenalty
    | QueueMemberRinginuse
    | Hangup
    | SoftHangupRequest
    | VarSet
    | QueueParams
    | QueueMember
    | QueueEntry
    | CoreShowChannel
)
ResyncRecord = QueueParams | QueueMember | QueueEntry | CoreShowChannel


# --------------------------------------------------------------------------- field readers


class _Fields:
    """Typed access to one message's headers; every error names the event kind."""

    __slots__ = ("kind", "raw")

    def __init__(self, kind: str, raw: Mapping[str, str]) -> None:
        self.kind = kind
        self.raw = raw

    def text(self, name: str) -> str:
        value = self.raw.get(name)
        if value is None:
            raise MalformedEvent(self.kind, f"missing {name}")
        return value

    def opt_text(self, name: str, default: str = "") -> str:
        value = self.raw.get(name)
        return default if value is None else value

    def maybe_text(self, name: str) -> str | None:
        return self.raw.get(name)

    def integer(self, name: str) -> int:
        return self._to_int(name, self.text(name))

    def opt_int(self, name: str) -> int | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        return self._to_int(name, value)

    def opt_float(self, name: str) -> float:
        value = self.raw.get(name)
        if value is None or value == "":
            return 0.0
        try:
            number = float(value)
        except ValueError:
            raise MalformedEvent(self.kind, f"{name} is not a number: {value!r}") from None
        if not math.isfinite(number):
            raise MalformedEvent(self.kind, f"{name} is not finite: {value!r}")
        return number

    def opt_bool(self, name: str) -> bool | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise MalformedEvent(self.kind, f"{name} is not a flag: {value!r}")

    def _to_int(self, name: str, value: str) -> int:
        try:
            return int(value)
        except ValueError:
            raise MalformedEvent(self.kind, f"{name} is not an integer: {value!r}") from None


_TRUE = frozenset({"1", "yes", "true", "on"})
_FALSE = frozenset({"0", "no", "false", "off"})


def _event_time(fields: Mapping[str, str], received_at: datetime) -> datetime:
    """Asterisk's `Timestamp` header (timestampevents = yes) when valid, else arrival time."""
    stamp = fields.get("Timestamp")
    if stamp:
        try:
            seconds = float(stamp)
        except ValueError:
            seconds = math.nan
        if math.isfinite(seconds) and seconds > 0:
            try:
                return datetime.fromtimestamp(seconds, UTC)
            except (OverflowError, OSError, ValueError):
                pass
    if received_at.tzinfo is None:
        # A naive arrival time is taken as UTC rather than local time: the model is UTC only.
        return received_at.replace(tzinfo=UTC)
    return received_at.astimezone(UTC)


# --------------------------------------------------------------------------- builders

_Builder = Callable[[str, datetime, _Fields], "Event | None"]


def _join(pbx: str, at: datetime, f: _Fields) -> Event:
    return QueueCallerJoin(
        pbx,
        at,
        f.text("Queue"),
        f.integer("Position"),
        f.integer("Count"),
        f.opt_text("Channel"),
        f.text("Uniqueid"),
        f.opt_text("Linkedid"),
        f.opt_text("CallerIDNum"),
        f.opt_text("CallerIDName"),
    )


def _leave(pbx: str, at: datetime, f: _Fields) -> Event:
    return QueueCallerLeave(
        pbx,
        at,
        f.text("Queue"),
        f.integer("Position"),
        f.integer("Count"),
        f.opt_text("Channel"),
        f.text("Uniqueid"),
    )


def _abandon(pbx: str, at: datetime, f: _Fields) -> Event:
    return QueueCallerAbandon(
        pbx,
        at,
        f.text("Queue"),
        f.integer("Position"),
        f.integer("OriginalPosition"),
        f.integer("HoldTime"),
        f.opt_text("Channel"),
        f.text("Uniqueid"),
    )


def _called(pbx: str, at: datetime, f: _Fields) -> Event:
    return AgentCalled(
        pbx,
        at,
        f.text("Queue"),
        f.text("Interface"),
        f.opt_text("MemberName"),
        f.opt_text("Channel"),
        f.text("Uniqueid"),
        f.opt_text("Linkedid"),
        f.opt_text("CallerIDNum"),
        f.opt_text("CallerIDName"),
        f.opt_text("DestChannel"),
        f.opt_text("DestUniqueid"),
    )


def _ring_no_answer(pbx: str, at: datetime, f: _Fields) -> Event:
    return AgentRingNoAnswer(
        pbx,
        at,
        f.text("Queue"),
        f.text("Interface"),
        f.opt_text("MemberName"),
        f.opt_text("Channel"),
        f.text("Uniqueid"),
        f.opt_text("DestChannel"),
        f.integer("RingTime"),
    )


def _dump(pbx: str, at: datetime, f: _Fields) -> Event:
    return AgentDump(
        pbx,
        at,
        f.text("Queue"),
        f.text("Interface"),
        f.opt_text("MemberName"),
        f.opt_text("Channel"),
        f.text("Uniqueid"),
        f.opt_text("DestChannel"),
    )


def _connect(pbx: str, at: datetime, f: _Fields) -> Event:
    return AgentConnect(
        pbx,
        at,
        f.text("Queue"),
        f.text("Interface"),
        f.opt_text("MemberName"),
        f.opt_text("Channel"),
        f.text("Uniqueid"),
        f.opt_text("Linkedid"),
        f.opt_text("CallerIDNum"),
        f.opt_text("CallerIDName"),
        f.opt_text("DestChannel"),
        f.opt_text("DestUniqueid"),
        f.integer("HoldTime"),
        f.integer("RingTime"),
    )


def _complete(pbx: str, at: datetime, f: _Fields) -> Event:
    return AgentComplete(
        pbx,
        at,
        f.text("Queue"),
        f.text("Interface"),
        f.opt_text("MemberName"),
        f.opt_text("Channel"),
        f.text("Uniqueid"),
        f.opt_text("DestChannel"),
        f.integer("HoldTime"),
        f.integer("TalkTime"),
        f.opt_text("Reason"),
        f.opt_text("Linkedid"),
        f.opt_text("CallerIDNum"),
        f.opt_text("CallerIDName"),
    )


def _member_kwargs(f: _Fields, name_field: str, interface_field: str) -> dict[str, object]:
    return {
        "queue": f.text("Queue"),
        "interface": f.text(interface_field),
        "member_name": f.maybe_text(name_field),
        "state_interface": f.maybe_text("StateInterface"),
        "membership": f.maybe_text("Membership"),
        "penalty": f.opt_int("Penalty"),
        "calls_taken": f.opt_int("CallsTaken"),
        "last_call": f.opt_int("LastCall"),
        "last_pause": f.opt_int("LastPause"),
        "login_time": f.opt_int("LoginTime"),
        "in_call": f.opt_bool("InCall"),
        "status": f.opt_int("Status"),
        "paused": f.opt_bool("Paused"),
        "paused_reason": f.maybe_text("PausedReason"),
        "ringinuse": f.opt_bool("Ringinuse"),
        "wrapup_time": f.opt_int("Wrapuptime"),
    }


def _member_builder(cls: type[MemberEvent]) -> _Builder:
    def build(pbx: str, at: datetime, f: _Fields) -> Event:
        kwargs = _member_kwargs(f, "MemberName", "Interface")
        return cls(pbx, at, **kwargs)  # type: ignore[arg-type, return-value]

    return build


def _queue_member(pbx: str, at: datetime, f: _Fields) -> Event:
    return QueueMember(pbx, at, **_member_kwargs(f, "Name", "Location"))  # type: ignore[arg-type]


def _hangup(pbx: str, at: datetime, f: _Fields) -> Event:
    return Hangup(
        pbx,
        at,
        f.opt_text("Channel"),
        f.text("Uniqueid"),
        f.opt_text("Linkedid"),
        f.opt_int("Cause"),
        f.opt_text("Cause-txt"),
    )


def _soft_hangup(pbx: str, at: datetime, f: _Fields) -> Event:
    return SoftHangupRequest(pbx, at, f.opt_text("Channel"), f.text("Uniqueid"), f.opt_int("Cause"))


def _var_set_builder(prefix: str) -> _Builder:
    def build(pbx: str, at: datetime, f: _Fields) -> Event | None:
        # Checked before anything else: VarSet is the loudest event on the AMI stream.
        name = f.text("Variable").lstrip("_")
        if name != QUEUESTATUS and not (prefix and name.startswith(prefix)):
            return None
        return VarSet(
            pbx,
            at,
            f.opt_text("Channel"),
            f.text("Uniqueid"),
            f.opt_text("Linkedid"),
            name,
            f.opt_text("Value"),
        )

    return build


def _queue_params(pbx: str, at: datetime, f: _Fields) -> Event:
    return QueueParams(
        pbx,
        at,
        f.text("Queue"),
        f.opt_text("Strategy"),
        f.opt_int("Max") or 0,
        f.opt_int("Calls") or 0,
        f.opt_int("Holdtime") or 0,
        f.opt_int("TalkTime") or 0,
        f.opt_int("Completed") or 0,
        f.opt_int("Abandoned") or 0,
        f.opt_int("ServiceLevel") or 0,
        f.opt_float("ServicelevelPerf"),
        f.opt_float("ServicelevelPerf2"),
        f.opt_int("Weight") or 0,
    )


def _queue_entry(pbx: str, at: datetime, f: _Fields) -> Event:
    return QueueEntry(
        pbx,
        at,
        f.text("Queue"),
        f.integer("Position"),
        f.opt_text("Channel"),
        f.text("Uniqueid"),
        f.opt_text("CallerIDNum"),
        f.opt_text("CallerIDName"),
        f.opt_int("Wait") or 0,
        f.opt_int("Priority") or 0,
    )


def _core_show_channel(pbx: str, at: datetime, f: _Fields) -> Event:
    return CoreShowChannel(
        pbx,
        at,
        f.opt_text("Channel"),
        f.text("Uniqueid"),
        f.opt_text("Linkedid"),
        f.opt_text("Application"),
        f.opt_text("BridgeId"),
    )


_FIXED_BUILDERS: dict[str, _Builder] = {
    "QueueCallerJoin": _join,
    "QueueCallerLeave": _leave,
    "QueueCallerAbandon": _abandon,
    "AgentCalled": _called,
    "AgentRingNoAnswer": _ring_no_answer,
    "AgentDump": _dump,
    "AgentConnect": _connect,
    "AgentComplete": _complete,
    "QueueMemberAdded": _member_builder(QueueMemberAdded),
    "QueueMemberRemoved": _member_builder(QueueMemberRemoved),
    "QueueMemberStatus": _member_builder(QueueMemberStatus),
    "QueueMemberPause": _member_builder(QueueMemberPause),
    "QueueMemberPenalty": _member_builder(QueueMemberPenalty),
    "QueueMemberRinginuse": _member_builder(QueueMemberRinginuse),
    "Hangup": _hangup,
    "SoftHangupRequest": _soft_hangup,
    "QueueParams": _queue_params,
    "QueueMember": _queue_member,
    "QueueEntry": _queue_entry,
    "CoreShowChannel": _core_show_channel,
}
_VAR_SET_BUILDERS: dict[str, _Builder] = {DEFAULT_VAR_PREFIX: _var_set_builder(DEFAULT_VAR_PREFIX)}


def _builder_for(kind: str, var_prefix: str) -> _Builder | None:
    if kind != "VarSet":
        return _FIXED_BUILDERS.get(kind)
    builder = _VAR_SET_BUILDERS.get(var_prefix)
    if builder is None:
        builder = _VAR_SET_BUILDERS[var_prefix] = _var_set_builder(var_prefix)
    return builder


def parse_event(
    pbx: str,
    fields: Mapping[str, str],
    received_at: datetime,
    *,
    var_prefix: str = DEFAULT_VAR_PREFIX,
) -> Event | None:
    """Parse one AMI message into a typed event.

    Returns None for an event the live model does not use (including VarSets of other
    variables). Raises `MalformedEvent` when a used event lacks a required field or carries a
    bad number. `at` is Asterisk's Timestamp header when present and valid, else `received_at`.
    """
    kind = fields.get("Event")
    if kind is None:
        return None
    builder = _builder_for(kind, var_prefix)
    if builder is None:
        return None
    return builder(pbx, _event_time(fields, received_at), _Fields(kind, fields))
