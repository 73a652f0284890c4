"""What free text the API accepts: printable text, and never an invisible reordering.

Control characters are refused (PostgreSQL text cannot even hold NUL; a CR/LF in a one-line
field would break the lines it is written into). So are the Unicode bidirectional embedding,
override and isolate controls (U+202A-U+202E, U+2066-U+2069): invisible, they make a text show
in another order than it is stored, so a note could read "refund 05" on the page and say "50"
(the "Trojan Source" trick). Chinese, English and every other script are untouched.
"""

from __future__ import annotations

__all__ = ["LINES", "ONE_LINE"]

_BIDI = r"\u202a-\u202e\u2066-\u2069"

# A name, a label, a reason: one line.
ONE_LINE = rf"^[^\x00-\x1f\x7f{_BIDI}]*$"
# A note, a summary, a narrative: newlines and tabs allowed.
LINES = rf"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f{_BIDI}]*$"
