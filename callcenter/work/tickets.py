"""Ticket numbers (工单号): eight digits a caller reads out or keys in the IVR.

Seven random digits (the first never 0, so the number keeps its length when a spreadsheet or
a caller drops a leading zero) and a Luhn check digit, which catches every single mistyped
digit and every swap of two adjacent digits except 09 <-> 90. Random rather than sequential:
a ticket number does not tell how many items there are, nor lead to its neighbours.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

_TICKET = re.compile(r"[0-9]{8}")  # ASCII only: str.isdigit() would take "٣" too


def luhn_digit(body: str) -> str:
    """The Luhn check digit to append to ``body`` (decimal digits)."""
    total = 0
    # Appending the check digit shifts every body digit one place left, so the doubled ones
    # are the body's last digit and every second one before it.
    for index, char in enumerate(reversed(body)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def new_ticket(rng: Callable[[int], int] = secrets.randbelow) -> str:
    """A fresh ticket number; ``rng(n)`` answers 0..n-1 (tests pass a fixed one)."""
    drawn = rng(9_000_000)
    if not 0 <= drawn < 9_000_000:
        raise ValueError(f"rng(9000000) answered {drawn}, outside 0..8999999")
    body = str(1_000_000 + drawn)
    return body + luhn_digit(body)


def valid_ticket(text: str) -> bool:
    """Eight digits whose last is the Luhn check digit of the seven before it."""
    return _TICKET.fullmatch(text) is not None and luhn_digit(text[:7]) == text[7]
