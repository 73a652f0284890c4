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


async def queue_status(link: ActionSender, queue: str | None = None,
                       timeout: float | None = None) -> list[Fields]:
    """QueueParams, QueueMember and QueueEntry records of one queue or of all."""
    fields = {"Action": "QueueStatus"}
    if queue:
        fields["Queue"] = queue
    return await _list(link, fields, timeout)


async def core_show_channels(link: ActionSender, timeout: float | None = None) -> list[Fields]:
    return await _list(link, {"Action": "CoreShowChannels"}, timeout)


async def queue_add(link: ActionSender, queue: str, interface: str, *, penalty: int = 0,
                    paused: bool = False, member_name: str = "", state_interface: str = "",
                    reason: str = "") -> None:
    fields = {"Action": "QueueAdd", "Queue": queue, "Interface": interface,
              "Penalty": str(penalty), "Paused": "true" if paused else "false"}
    for key, value in (("MemberName", member_name), ("StateInterface", state_interface),
                       ("Reason", reason)):
        if value:
            fields[key] = value
    await link.send(fields)


async def queue_remove(link: ActionSender, queue: str, interface: str) -> None:
    await link.send({"Action": "QueueRemove", "Queue": queue, "Interface": interface})


async def queue_pause(link: ActionSender, interface: str, paused: bool, *, queue: str = "",
                      reason: str = "") -> None:
    fields = {"Action": "QueuePause", "Interface": interface,
              "Paused": "true" if paused else "false"}
    if queue:
        fields["Queue"] = queue
    if reason:
        fields["Reason"] = reason
    await link.send(fields)


async def queue_penalty(link: ActionSender, interface: str, penalty: int, *,
                        queue: str = "") -> None:
    fields = {"Action": "QueuePenalty", "Interface": interface, "Penalty": str(penalty)}
    if queue:
        fields["Queue"] = queue
    await link.send(fields)


async def ping(link: ActionSender, timeout: float | None = None) -> None:
    await link.send({"Action": "Ping"}, timeout=timeout)
