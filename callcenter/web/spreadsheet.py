"""Text bound for a spreadsheet (the CSV exports of calls and reports, the XLSX reports)."""

from __future__ import annotations

__all__ = ["csv_cell"]

# A cell starting with one of these is a formula to Excel and LibreOffice (which the BOM
# invites to open the file): a caller name "=HYPERLINK(...)" would run when opened.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """Text as a spreadsheet shows it, never as a formula (OWASP: prefix a quote)."""
    return "'" + text if text.startswith(_FORMULA_START) else text
