"""Phone numbers as E.164, read with a default region for national numbers."""

from __future__ import annotations

import re

import phonenumbers

_NOT_DIALLABLE = re.compile(r"[^0-9+]")


class BadPhoneNumber(ValueError):
    pass


def to_e164(raw: str, region: str) -> str:
    """``"138 0013 8000"`` with region CN -> ``"+8613800138000"``; raise when impossible."""
    text = raw.strip()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise BadPhoneNumber(f"{raw!r} is not a phone number ({exc})") from None
    if not phonenumbers.is_possible_number(number):
        raise BadPhoneNumber(f"{raw!r} is not a possible phone number in region {region}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def lookup_key(raw: str, region: str) -> str:
    """The key a caller number is looked up by: E.164 when it is a possible number, else
    its bare digits (internal extensions, withheld numbers), which match nothing stored."""
    if not raw:
        return ""
    try:
        return to_e164(raw, region)
    except BadPhoneNumber:
        return _NOT_DIALLABLE.sub("", raw)
