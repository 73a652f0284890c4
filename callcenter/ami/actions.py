"""Every AMI action the service sends, one small function each.

Nothing outside this module knows AMI action or field names. Each function takes the link,
sends with an explicit list/non-list shape (panoramisk guesses wrong for QueueAdd and some
acks) and returns plain data; failures arrive as the AmiError family.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from callcenter.ami.protocol import Fields


class ActionSender(Protocol):
    async def send(
        self, fields: Mapping[str, str], *, as_list: bool = False, timeout: float | None = None
    ) -> Any: ...


def _fields(message: Any) -> Fields:
    return {str(k): v if isinstance(v, str) else str(v[-1]) for k, v in message.items()}


async def _list(
    link: ActionSender, fields: Mapping[str, str], timeout: float | None
) -> list[Fields]:
    """The events of a list action, without its ack and its ``...Complete`` trailer."""
    messages = await link.send(fields, as_list=True, timeout=timeout)
    return [_fields(m) for m in messages[1:] if not str(m.get("Event", "")).endswith("Complete")]


async def queue_status(
    link: ActionSender, queue: str | None = None, timeout: float | None = None
) -> list[Fields]:
    """QueueParams, QueueMember and QueueEntry records of one queue or of all."""
    fields = {"Action": "QueueStatus"}
    if queue:
        fields["Queue"] = queue
    return await _list(link, fields, timeout)


async def core_show_channels(link: ActionSender, timeout: float | None = None) -> list[Fields]:
    return await _list(link, {"Action": "CoreShowChannels"}, timeout)


async def queue_add(
    link: ActionSender,
    queue: str,
    interface: str,
    *,
    penalty: int = 0,
    paused: bool = False,
    member_name: str = "",
    state_interface: str = "",
    reason: str = "",
) -> None:
    fields = {
        "Action": "QueueAdd",
        "Queue": queue,
        "Interface": interface,
        "Penalty": str(penalty),
        "Paused": "true" if paused else "false",
    }
    for key, value in (
        ("MemberName", member_name),
        ("StateInterface", state_interface),
        ("Reason", reason),
    ):
        if value:
            fields[key] = value
    await link.send(fields)


async def queue_remove(link: ActionSender, queue: str, interface: str) -> None:
    await link.send({"Action": "QueueRemove", "Queue": queue, "Interface": interface})


async def queue_pause(
    link: ActionSender, interface: str, paused: bool, *, queue: str = "", reason: str = ""
) -> None:
    fields = {
        "Action": "QueuePause",
        "Interface": interface,
        "Paused": "true" if paused else "false",
    }
    if queue:
        fields["Queue"] = queue
    if reason:
        fields["Reason"] = reason
    await link.send(fields)


async def queue_penalty(
    link: ActionSender, interface: str, penalty: int, *, queue: str = ""
) -> None:
    fields = {"Action": "QueuePenalty", "Interface": interface, "Penalty": str(penalty)}
    if queue:
        fields["Queue"] = queue
    await link.send(fields)


async def ping(link: ActionSender, timeout: float | None = None) -> None:
    await link.send({"Action": "Ping"}, timeout=timeout)


async def queue_member_ringinuse(
    link: ActionSender, interface: str, ringinuse: bool, *, queue: str = ""
) -> None:
    fields = {
        "Action": "QueueMemberRingInUse",
        "Interface": interface,
        "RingInUse": "true" if ringinuse else "false",
    }
    if queue:
        fields["Queue"] = queue
    await link.send(fields)


async def redirect(
    link: ActionSender, channel: str, context: str, exten: str, priority: int = 1
) -> None:
    """Send a channel elsewhere in the dialplan (out of Queue(), for a move)."""
    await link.send(
        {
            "Action": "Redirect",
            "Channel": channel,
            "Context": context,
            "Exten": exten,
            "Priority": str(priority),
        }
    )


async def queue_withdraw_caller(
    link: ActionSender, queue: str, caller_channel: str, withdraw_info: str = ""
) -> None:
    """The caller leaves at its next pass of the queue loop, QUEUESTATUS=WITHDRAW."""
    fields = {"Action": "QueueWithdrawCaller", "Queue": queue, "Caller": caller_channel}
    if withdraw_info:
        fields["WithdrawInfo"] = withdraw_info
    await link.send(fields)


async def queue_change_priority_caller(
    link: ActionSender, queue: str, caller_channel: str, priority: int, *, immediate: bool = True
) -> None:
    """Asterisk emits no event for this: the model learns it from the next QueueStatus."""
    await link.send(
        {
            "Action": "QueueChangePriorityCaller",
            "Queue": queue,
            "Caller": caller_channel,
            "Priority": str(priority),
            "Immediate": "true" if immediate else "false",
        }
    )


async def originate_chanspy(
    link: ActionSender,
    supervisor_interface: str,
    spied_channel: str,
    options: str,
    *,
    caller_id: str = "",
    ring_seconds: int | None = None,
) -> None:
    """Ring the supervisor's phone; once answered it runs ChanSpy on the agent's channel.

    Async so the answer is the ack, not the end of the supervisor's ringing.
    """
    fields = {
        "Action": "Originate",
        "Channel": supervisor_interface,
        "Application": "ChanSpy",
        "Data": f"{spied_channel},{options}",
        "Async": "true",
    }
    if ring_seconds is not None:
        fields["Timeout"] = str(ring_seconds * 1000)
    if caller_id:
        fields["CallerID"] = caller_id
    await link.send(fields)


async def queue_log(
    link: ActionSender,
    queue: str,
    event: str,
    *,
    interface: str = "",
    uniqueid: str = "",
    message: str = "",
) -> None:
    """Write one line of our own into Asterisk's queue_log (reports read it beside app_queue's)."""
    fields = {"Action": "QueueLog", "Queue": queue, "Event": event}
    for key, value in (("Interface", interface), ("UniqueID", uniqueid), ("Message", message)):
        if value:
            fields[key] = value
    await link.send(fields)


async def setvar(link: ActionSender, channel: str, variable: str, value: str) -> None:
    """Set a channel variable (e.g. data a Redirect must carry into the next context)."""
    await link.send({"Action": "Setvar", "Channel": channel, "Variable": variable, "Value": value})


async def db_put(link: ActionSender, family: str, key: str, value: str) -> None:
    """Write an AstDB entry the dialplan reads with ${DB(family/key)}."""
    await link.send({"Action": "DBPut", "Family": family, "Key": key, "Val": value})


async def db_del(link: ActionSender, family: str, key: str) -> None:
    """Delete an AstDB entry; a missing one is refused ("Database entry not found")."""
    await link.send({"Action": "DBDel", "Family": family, "Key": key})


async def device_state(link: ActionSender, interface: str) -> str:
    """The PBX's state of a device (``NOT_INUSE``, ``UNAVAILABLE``, ``INVALID`` for one it
    does not know...), read through the DEVICE_STATE function: AMI's Getvar evaluates a
    function without a channel."""
    message = await link.send({"Action": "Getvar", "Variable": f"DEVICE_STATE({interface})"})
    return str(_fields(message).get("Value", "")).strip().upper()


async def queue_reload_parameters(
    link: ActionSender, queue: str, timeout: float | None = None
) -> str:
    """Re-read one queue's parameters from queues.conf: members, callers, rules and stats are
    left alone (``Members``/``Rules`` not sent). Returns Asterisk's answer text."""
    answer = await link.send(
        {"Action": "QueueReload", "Queue": queue, "Parameters": "yes"}, timeout=timeout
    )
    return str(answer.get("Message", ""))


async def reload_module(link: ActionSender, module: str, timeout: float | None = None) -> str:
    """Reload one module (``pbx_config`` re-reads the dialplan); Asterisk's answer text."""
    answer = await link.send({"Action": "Reload", "Module": module}, timeout=timeout)
    return str(answer.get("Message", ""))


async def get_config(
    link: ActionSender, filename: str, category: str | None = None, timeout: float | None = None
) -> dict[str, list[tuple[str, str]]]:
    """Asterisk's own reading of a config file (includes and templates resolved):
    category -> its (key, value) lines in order."""
    fields = {"Action": "GetConfig", "Filename": filename}
    if category:
        fields["Category"] = category
    answer = await link.send(fields, timeout=timeout)
    names: dict[str, str] = {}
    lines: dict[str, list[tuple[int, str, str]]] = {}
    for key, raw in _fields(answer).items():
        head, _, index = key.partition("-")
        if head.lower() == "category":
            names[index] = raw
        elif head.lower() == "line":
            cat, _, number = index.partition("-")
            name, _, value = raw.partition("=")
            lines.setdefault(cat, []).append((int(number or 0), name, value))
    return {
        names[cat]: [(name, value) for _, name, value in sorted(found)]
        for cat, found in lines.items()
        if cat in names
    } | {name: [] for cat, name in names.items() if cat not in lines}


async def voicemail_mailboxes(link: ActionSender, timeout: float | None = None) -> set[str]:
    """Every mailbox Asterisk knows, as ``mailbox@context``."""
    entries = await _list(link, {"Action": "VoicemailUsersList"}, timeout)
    return {
        f"{e.get('VoiceMailbox', '')}@{e.get('VMContext', '')}"
        for e in entries
        if e.get("Event") == "VoicemailUserEntry"
    }


async def getvar(link: ActionSender, expression: str, timeout: float | None = None) -> str:
    """A global variable or a dialplan function's value (no channel), e.g.
    ``DIALPLAN_EXISTS(context,exten,1)``."""
    answer = await link.send({"Action": "Getvar", "Variable": expression}, timeout=timeout)
    return str(answer.get("Value", ""))


async def asterisk_version(link: ActionSender, timeout: float | None = None) -> str:
    """The PBX's Asterisk version (CoreSettings ``AsteriskVersion``, e.g. ``22.10.1``)."""
    answer = await link.send({"Action": "CoreSettings"}, timeout=timeout)
    return str(answer.get("AsteriskVersion", ""))


async def blind_transfer(link: ActionSender, channel: str, context: str, exten: str) -> None:
    """The other party of ``channel`` (an agent's channel in its bridge) goes to
    ``exten@context``; ``channel`` hangs up. queue_log: BLINDTRANSFER."""
    await link.send(
        {"Action": "BlindTransfer", "Channel": channel, "Context": context, "Exten": exten}
    )


async def atxfer(link: ActionSender, channel: str, context: str, exten: str) -> None:
    """An attended transfer started by ``channel`` as if it had keyed the feature: its peer
    hears music on hold, ``channel`` is connected to ``exten@context`` (a Local channel).

    Asterisk feeds ``exten`` to the feature as DTMF digits: it must be digits, and the
    context should leave no longer match (else the transfer waits transferdigittimeout).
    Completed when ``channel`` hangs up; ``cancel_atxfer`` goes back to the peer."""
    await link.send({"Action": "Atxfer", "Channel": channel, "Context": context, "Exten": exten})


async def cancel_atxfer(link: ActionSender, channel: str) -> None:
    await link.send({"Action": "CancelAtxfer", "Channel": channel})


async def hangup(link: ActionSender, channel: str, cause: int = 16) -> None:
    await link.send({"Action": "Hangup", "Channel": channel, "Cause": str(cause)})


async def mute_audio(link: ActionSender, channel: str, direction: str, on: bool) -> None:
    """res_mutestream: ``in`` mutes what the channel's phone sends (the caller no longer
    hears the agent), ``out`` what it receives, ``all`` both."""
    await link.send(
        {
            "Action": "MuteAudio",
            "Channel": channel,
            "Direction": direction,
            "State": "on" if on else "off",
        }
    )
