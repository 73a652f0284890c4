"""Builders of AMI messages exactly as Asterisk 22 sends them, for hand-written traces.

Each builder returns the raw header dict (what panoramisk hands the adapter), including the
channel snapshot fields, the `Timestamp` header and the unprefixed caller / Dest* member split of
the Agent* events. `Pbx` feeds them through `parse_event` into a model, as the adapter would.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callcenter.live import Change, LiveModel, parse_event
from callcenter.live.events import ResyncRecord
from callcenter.live.journal import ResyncJournal

T0 = datetime(2025, 3, 3, 9, 0, 0, tzinfo=UTC)


def snapshot(
    channel: str,
    uniqueid: str,
    num: str = "",
    name: str = "",
    linkedid: str | None = None,
    prefix: str = "",
) -> dict[str, str]:
    fields = {
        "Channel": channel,
        "ChannelState": "6",
        "ChannelStateDesc": "Up",
        "CallerIDNum": num or "<unknown>",
        "CallerIDName": name or "<unknown>",
        "ConnectedLineNum": "<unknown>",
        "ConnectedLineName": "<unknown>",
        "Language": "en",
        "AccountCode": "",
        "Context": "hotline-queue",
        "Exten": "s",
        "Priority": "5",
        "Uniqueid": uniqueid,
        "Linkedid": linkedid or uniqueid,
    }
    return {prefix + key: value for key, value in fields.items()}


class Caller:
    def __init__(
        self,
        uniqueid: str,
        num: str,
        name: str = "",
        linkedid: str | None = None,
        channel: str | None = None,
    ) -> None:
        self.uniqueid = uniqueid
        self.num = num
        self.name = name
        self.linkedid = linkedid or uniqueid
        self.channel = channel or f"PJSIP/trunk-{uniqueid[-8:]}"

    def fields(self) -> dict[str, str]:
        return snapshot(self.channel, self.uniqueid, self.num, self.name, self.linkedid)


class Agent:
    def __init__(self, interface: str, name: str) -> None:
        self.interface = interface
        self.name = name
        self._legs = 0

    def leg(self) -> tuple[str, str]:
        self._legs += 1
        return f"{self.interface}-0000{self._legs:04d}", f"agentleg.{self.interface}.{self._legs}"


def _stamp(at: datetime) -> str:
    return f"{at.timestamp():.6f}"


def join(at: datetime, queue: str, caller: Caller, position: int, count: int) -> dict[str, str]:
    return {
        "Event": "QueueCallerJoin",
        "Privilege": "agent,all",
        "Timestamp": _stamp(at),
        **caller.fields(),
        "Queue": queue,
        "Position": str(position),
        "Count": str(count),
    }


def leave(at: datetime, queue: str, caller: Caller, position: int, count: int) -> dict[str, str]:
    return {
        "Event": "QueueCallerLeave",
        "Privilege": "agent,all",
        "Timestamp": _stamp(at),
        **caller.fields(),
        "Queue": queue,
        "Position": str(position),
        "Count": str(count),
    }


def abandon(
    at: datetime, queue: str, caller: Caller, position: int, original: int, hold: int
) -> dict[str, str]:
    return {
        "Event": "QueueCallerAbandon",
        "Privilege": "agent,all",
        "Timestamp": _stamp(at),
        **caller.fields(),
        "Queue": queue,
        "Position": str(position),
        "OriginalPosition": str(original),
        "HoldTime": str(hold),
    }


def _agent_event(
    kind: str, at: datetime, queue: str, caller: Caller, agent: Agent, leg: tuple[str, str]
) -> dict[str, str]:
    return {
        "Event": kind,
        "Privilege": "agent,all",
        "Timestamp": _stamp(at),
        **caller.fields(),
        **snapshot(leg[0], leg[1], prefix="Dest"),
        "Queue": queue,
        "MemberName": agent.name,
        "Interface": agent.interface,
    }


def called(
    at: datetime, queue: str, caller: Caller, agent: Agent, leg: tuple[str, str]
) -> dict[str, str]:
    return _agent_event("AgentCalled", at, queue, caller, agent, leg)


def ring_no_answer(
    at: datetime, queue: str, caller: Caller, agent: Agent, leg: tuple[str, str], ring_ms: int
) -> dict[str, str]:
    return {
        **_agent_event("AgentRingNoAnswer", at, queue, caller, agent, leg),
        "RingTime": str(ring_ms),
    }


def connect(
    at: datetime,
    queue: str,
    caller: Caller,
    agent: Agent,
    leg: tuple[str, str],
    hold: int,
    ring: int,
) -> dict[str, str]:
    return {
        **_agent_event("AgentConnect", at, queue, caller, agent, leg),
        "HoldTime": str(hold),
        "RingTime": str(ring),
    }


def complete(
    at: datetime,
    queue: str,
    caller: Caller,
    agent: Agent,
    leg: tuple[str, str],
    hold: int,
    talk: int,
    reason: str,
) -> dict[str, str]:
    return {
        **_agent_event("AgentComplete", at, queue, caller, agent, leg),
        "HoldTime": str(hold),
        "TalkTime": str(talk),
        "Reason": reason,
    }


def hangup(at: datetime, caller: Caller, cause: int = 16) -> dict[str, str]:
    return {
        "Event": "Hangup",
        "Privilege": "call,all",
        "Timestamp": _stamp(at),
        **caller.fields(),
        "Cause": str(cause),
        "Cause-txt": "Normal Clearing",
    }


def var_set(at: datetime, caller: Caller, variable: str, value: str) -> dict[str, str]:
    return {
        "Event": "VarSet",
        "Privilege": "dialplan,all",
        "Timestamp": _stamp(at),
        **caller.fields(),
        "Variable": variable,
        "Value": value,
    }


def member(
    kind: str,
    at: datetime,
    queue: str,
    agent: Agent,
    *,
    status: int = 1,
    paused: bool = False,
    reason: str = "",
    penalty: int = 0,
    calls: int = 0,
    in_call: bool = False,
    membership: str = "dynamic",
    last_call: int = 0,
    wrapup: int = 0,
) -> dict[str, str]:
    return {
        "Event": kind,
        "Privilege": "agent,all",
        "Timestamp": _stamp(at),
        "Queue": queue,
        "MemberName": agent.name,
        "Interface": agent.interface,
        "StateInterface": agent.interface,
        "Membership": membership,
        "Penalty": str(penalty),
        "CallsTaken": str(calls),
        "LastCall": str(last_call),
        "LastPause": "0",
        "LoginTime": str(int(T0.timestamp())),
        "InCall": "1" if in_call else "0",
        "Status": str(status),
        "Paused": "1" if paused else "0",
        "PausedReason": reason,
        "Ringinuse": "0",
        "Wrapuptime": str(wrapup),
    }


# --------------------------------------------------------------------------- resync records


def queue_params(
    queue: str, *, strategy: str = "ringall", service_level: int = 20, calls: int = 0
) -> dict[str, str]:
    return {
        "Event": "QueueParams",
        "Queue": queue,
        "Max": "0",
        "Strategy": strategy,
        "Calls": str(calls),
        "Holdtime": "0",
        "TalkTime": "0",
        "Completed": "0",
        "Abandoned": "0",
        "ServiceLevel": str(service_level),
        "ServicelevelPerf": "0.0",
        "ServicelevelPerf2": "0.0",
        "Weight": "0",
        "ActionID": "resync-1",
    }


def queue_member(
    queue: str,
    agent: Agent,
    *,
    status: int = 1,
    paused: bool = False,
    reason: str = "",
    penalty: int = 0,
    calls: int = 0,
    membership: str = "dynamic",
) -> dict[str, str]:
    return {
        "Event": "QueueMember",
        "Queue": queue,
        "Name": agent.name,
        "Location": agent.interface,
        "StateInterface": agent.interface,
        "Membership": membership,
        "Penalty": str(penalty),
        "CallsTaken": str(calls),
        "LastCall": "0",
        "LastPause": "0",
        "LoginTime": "0",
        "InCall": "0",
        "Status": str(status),
        "Paused": "1" if paused else "0",
        "PausedReason": reason,
        "Wrapuptime": "0",
        "ActionID": "resync-1",
    }


def queue_entry(
    queue: str, caller: Caller, position: int, wait: int, priority: int = 0
) -> dict[str, str]:
    return {
        "Event": "QueueEntry",
        "Queue": queue,
        "Position": str(position),
        "Channel": caller.channel,
        "Uniqueid": caller.uniqueid,
        "CallerIDNum": caller.num,
        "CallerIDName": caller.name or "<unknown>",
        "ConnectedLineNum": "<unknown>",
        "ConnectedLineName": "<unknown>",
        "Wait": str(wait),
        "Priority": str(priority),
        "ActionID": "resync-1",
    }


def core_show_channel(caller: Caller, application: str = "Queue") -> dict[str, str]:
    return {
        "Event": "CoreShowChannel",
        **caller.fields(),
        "Application": application,
        "ApplicationData": "support",
        "Duration": "00:00:42",
        "BridgeId": "",
        "ActionID": "resync-2",
    }


class Pbx:
    """One PBX feeding a model; `at(seconds)` is T0 + seconds."""

    def __init__(self, model: LiveModel, name: str = "pbx-a") -> None:
        self.model = model
        self.name = name

    @staticmethod
    def at(seconds: float) -> datetime:
        return T0 + timedelta(seconds=seconds)

    def send(self, fields: dict[str, str]) -> list[Change]:
        event = parse_event(self.name, fields, T0)
        assert event is not None, fields["Event"]
        return self.model.apply(event)

    def send_all(self, *messages: dict[str, str]) -> list[Change]:
        changes: list[Change] = []
        for fields in messages:
            changes.extend(self.send(fields))
        return changes

    def resync(
        self, *messages: dict[str, str], now: float, journal: ResyncJournal | None = None
    ) -> list[Change]:
        records: list[ResyncRecord] = []
        for fields in messages:
            event = parse_event(self.name, fields, self.at(now))
            assert isinstance(event, ResyncRecord), fields["Event"]
            records.append(event)
        return self.model.reconcile(self.name, records, self.at(now), journal)
