"""Sign in and out at any phone with a feature code: the FastAGI routes behind ``*60``/``*61``.

The dialplan (``dialplan/agents.conf``) reads the agent number and the PIN and calls

  agent-sign-in   PBX, agent number, PIN, phone interface (optional)
  agent-sign-out  PBX, phone interface (optional)

The interface defaults to the calling channel's own (``PJSIP/1001-0000002a`` is the phone
``PJSIP/1001``). Every value is checked before the desk sees it; a value that is not what the
dialplan sends is refused (``AgiBadValue``: one logged line, the desk is never asked, the
dialplan goes on with its default). The answer is the channel variable ``AGENT_RESULT``:
``ok`` or the desk's reason id. The PIN check and its lockout are the desk's
(``PhoneDesk``); these routes never log, store or echo the PIN.
"""

from __future__ import annotations

import logging
import re
from typing import Protocol

from callcenter.ivr.agi import AgiBadValue, AgiChannel, AgiRequest, Handler, shown

log = logging.getLogger(__name__)

RESULT_VARIABLE = "AGENT_RESULT"
# What the desk answers; anything else it answers is passed on (made safe), and logged.
RESULTS = frozenset(
    {
        "ok",
        "bad-pin",
        "locked",
        "unknown-agent",
        "phone-taken",
        "signed-in-elsewhere",
        "no-queues",
        "no-such-phone",
        "not-signed-in",
        "pbx-error",
    }
)
# The desk failed in a way it did not name: the same answer as a service that is down (the
# dialplan's default before the AGI call).
UNAVAILABLE = "unavailable"

# ASCII digits only: str.isdigit() and \d accept other scripts' digits.
_AGENT_NUMBER = re.compile(r"[0-9]{1,16}")
_PIN = re.compile(r"[0-9]{4,8}")
# [[pbx]] name in the settings.
_PBX_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
# A phone: technology and resource (PJSIP/1001, Local/1001@phones, Local/agent1@agents/n),
# nothing that could split an AMI header or a dialplan function argument.
_INTERFACE = re.compile(r"[A-Za-z][A-Za-z0-9]{0,15}/[A-Za-z0-9_.@+/-]{1,100}")
# A channel name's unique tail: "-0000002a", and ";1" / ";2" for the halves of a Local one.
_CHANNEL_TAIL = re.compile(r"-[0-9a-fA-F]{1,16}(;[0-9]+)?\Z")
_SAFE_RESULT = re.compile(r"[^a-z0-9-]")


class PhoneDesk(Protocol):
    """The agents room's desk, as far as the phone needs it.

    Each answers ``"ok"`` or a reason id (``bad-pin``, ``locked``, ``unknown-agent``,
    ``phone-taken``, ``signed-in-elsewhere``, ``no-queues``, ``no-such-phone``,
    ``not-signed-in``, ``pbx-error``). ``pbx`` None: the PBX was not named.
    """

    async def sign_in_at_phone(
        self, pbx: str | None, agent_number: str, pin: str, interface: str
    ) -> str: ...

    async def sign_out_at_phone(self, pbx: str | None, interface: str) -> str: ...


def interface_of_channel(channel: str) -> str:
    """The phone (queue-member interface) a channel belongs to.

    ``PJSIP/1001-0000002a`` -> ``PJSIP/1001``; ``Local/x@ctx-0000001;2`` -> ``Local/x@ctx``;
    a resource may hold dashes (``PJSIP/desk-3-0000000b`` -> ``PJSIP/desk-3``). A name
    without the unique tail is returned as it is.
    """
    channel = channel.strip()
    tail = _CHANNEL_TAIL.search(channel)
    if tail is None or "/" not in channel[: tail.start()]:
        return channel
    return channel[: tail.start()]


class PhoneRoutes:
    """The FastAGI routes ``agent-sign-in`` and ``agent-sign-out`` over a ``PhoneDesk``."""

    def __init__(self, desk: PhoneDesk) -> None:
        self._desk = desk

    def handlers(self) -> dict[str, Handler]:
        return {"agent-sign-in": self.sign_in, "agent-sign-out": self.sign_out}

    async def sign_in(self, request: AgiRequest, channel: AgiChannel) -> None:
        pbx = _pbx(request.arg(0))
        number = request.arg(1)
        if not _AGENT_NUMBER.fullmatch(number):
            raise AgiBadValue(f"agent number {shown(number)} is not 1-16 digits")
        if not _PIN.fullmatch(request.arg(2)):
            # Never the value: it is (nearly) a PIN.
            raise AgiBadValue("the PIN is not 4-8 digits")
        interface = _interface(request, 3)
        where = f"pbx={pbx or '-'} interface={interface} agent={number}"
        try:
            result = await self._desk.sign_in_at_phone(pbx, number, request.arg(2), interface)
        except Exception as exc:
            # No traceback or message: their text could carry the arguments, the PIN among them.
            log.error("agent sign-in at a phone %s: the desk failed (%s)", where, _name(exc))
            result = UNAVAILABLE
        await _answer(channel, "agent sign-in at a phone", where, result)

    async def sign_out(self, request: AgiRequest, channel: AgiChannel) -> None:
        pbx = _pbx(request.arg(0))
        interface = _interface(request, 1)
        where = f"pbx={pbx or '-'} interface={interface}"
        try:
            result = await self._desk.sign_out_at_phone(pbx, interface)
        except Exception as exc:
            log.error("agent sign-out at a phone %s: the desk failed (%s)", where, _name(exc))
            result = UNAVAILABLE
        await _answer(channel, "agent sign-out at a phone", where, result)


def _pbx(given: str) -> str | None:
    if not given:
        return None
    if not _PBX_NAME.fullmatch(given):
        raise AgiBadValue(f"PBX name {shown(given)} is not a [[pbx]] name")
    return given


def _interface(request: AgiRequest, index: int) -> str:
    given = request.arg(index)
    interface = given or interface_of_channel(request.get("agi_channel"))
    if not _INTERFACE.fullmatch(interface):
        source = "interface" if given else f"channel {shown(request.get('agi_channel'))}"
        raise AgiBadValue(f"{source}: {shown(interface)} is not a phone interface (Tech/resource)")
    return interface


async def _answer(channel: AgiChannel, what: str, where: str, result: str) -> None:
    answer = _SAFE_RESULT.sub("", result.lower())[:40] or UNAVAILABLE
    if answer not in RESULTS and answer != UNAVAILABLE:
        log.warning("%s %s: the desk answered an unknown result %s", what, where, shown(result))
    log.info("%s %s: %s", what, where, answer)
    await channel.set_variable(RESULT_VARIABLE, answer)


def _name(exc: BaseException) -> str:
    return type(exc).__name__
