"""What screening decides about a caller: pure functions of the number, its presentation, the
blocked list and the withheld rule (no I/O; the FastAGI route gathers the facts).

Numbers are compared the way the customer directory keys them (``customers/phones.py``):
E.164 when the number is a possible one for the contact centre's region (``138 0013 8000``,
``013800138000``, ``0086 138...``, ``8613800138000`` and ``+86 138...`` are one number),
else its bare digits (an extension, which matches no blocked number).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Container
from dataclasses import dataclass
from typing import Literal

from callcenter.customers.phones import BadPhoneNumber, lookup_key, to_e164

# What a PBX or a trunk puts in the number field of a caller who withholds it.
WITHHELD_WORDS = frozenset(
    {"", "anonymous", "unknown", "private", "restricted", "withheld", "unavailable"}
)
_DIGIT = re.compile(r"[0-9]")
# Stored numbers (screening_blocked_numbers.number): E.164.
MAX_NUMBER_LENGTH = 40

WithheldRule = Literal["allow", "message", "queue"]


class Result(enum.StrEnum):
    """SCREEN_RESULT, and the kind of the ScreeningEvent a non-ok answer writes."""

    OK = "ok"
    BLOCKED = "blocked"
    WITHHELD_MESSAGE = "withheld-message"
    WITHHELD_QUEUE = "withheld-queue"


ABUSIVE = "abusive"  # the kind of the agent button's ScreeningEvent
EVENT_KINDS = (
    Result.BLOCKED.value,
    Result.WITHHELD_MESSAGE.value,
    Result.WITHHELD_QUEUE.value,
    ABUSIVE,
)


@dataclass(frozen=True, slots=True)
class Decision:
    result: Result
    # The number as compared (E.164 or digits; "" for a withheld one).
    key: str
    # The queue of withheld callers (only with WITHHELD_QUEUE).
    queue: str = ""

    def variables(self) -> dict[str, str]:
        """The channel variables the route answers with."""
        return {"SCREEN_RESULT": self.result.value, "SCREEN_QUEUE": self.queue}


def is_withheld(number: str, presentation: str = "") -> bool:
    """The caller withheld their number: the presentation (``${CALLERID(pres)}``) is one of
    the ``prohib*`` values, or the number field carries no digit at all (empty,
    ``anonymous``, ``unknown``, ``Restricted``...)."""
    if presentation.strip().lower().startswith("prohib"):
        return True
    text = number.strip()
    return text.lower() in WITHHELD_WORDS or _DIGIT.search(text) is None


def caller_key(raw: str, region: str) -> str:
    """The key a caller number is looked up by in the blocked list: the customer
    directory's (E.164 when possible, else the bare digits; "" for no number)."""
    return lookup_key(raw.strip(), region) if raw.strip() else ""


def blocked_key(raw: str, region: str) -> str:
    """The key a number to block is stored under (E.164); ``BadPhoneNumber`` when it is no
    possible phone number of ``region`` (or, with a ``+``, of its own country)."""
    text = raw.strip()
    if not text or len(text) > MAX_NUMBER_LENGTH:
        raise BadPhoneNumber(f"{raw!r} is not a phone number")
    return to_e164(text, region)


def decide(
    number: str,
    presentation: str,
    blocked: Container[str],
    *,
    region: str,
    withheld: WithheldRule,
    withheld_queue: str | None,
) -> Decision:
    """Blocked first (a blocked number is turned away even when shown withheld), then the
    withheld rule; everybody else is put through."""
    key = caller_key(number, region)
    if key and key in blocked:
        return Decision(Result.BLOCKED, key)
    if is_withheld(number, presentation):
        if withheld == "message":
            return Decision(Result.WITHHELD_MESSAGE, "")
        if withheld == "queue" and withheld_queue:
            return Decision(Result.WITHHELD_QUEUE, "", withheld_queue)
    return Decision(Result.OK, key)
