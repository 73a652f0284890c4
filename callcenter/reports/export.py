"""A report as a table for people: CSV (UTF-8 with a BOM, so Excel opens Chinese right) and
XLSX (openpyxl). Pure: a `ReportResult` in, bytes out.

CSV cells that a spreadsheet would take for a formula (starting with = + - @, a tab or a
carriage return) are prefixed with an apostrophe: a queue or a disposition named
``=HYPERLINK(...)`` must stay text (CSV injection). XLSX cells are written as typed values,
text as text, so openpyxl never makes a formula of them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from callcenter.reports.figures import FIGURES
from callcenter.reports.query import WRAPPED, WRAPPED_SHARE, ReportResult
from callcenter.web.spreadsheet import csv_cell

__all__ = ["csv_bytes", "figure_label", "table", "xlsx_bytes"]

_EXTRA_LABELS = {
    WRAPPED: ("小结通话数", "Calls wrapped up", "count"),
    WRAPPED_SHARE: ("占比", "Share", "ratio"),
}
_OFF = PatternFill("solid", fgColor="FFE0E0")


def figure_label(name: str, language: str) -> tuple[str, str]:
    """(label, unit) of a figure in the language ("zh" or "en")."""
    if name in FIGURES:
        f = FIGURES[name]
        return (f.label_zh if language == "zh" else f.label_en), f.unit
    zh, en, unit = _EXTRA_LABELS.get(name, (name, name, "count"))
    return (zh if language == "zh" else en), unit


def table(
    result: ReportResult, language: str, key_labels: Mapping[str, str] | None = None
) -> tuple[list[str], list[list[object]]]:
    """The header and the rows (the totals last): numbers as numbers, ratios as 0..1."""
    zh = language == "zh"
    figures = [n for n in result.request.figures]
    header = ["期间" if zh else "Period", "维度" if zh else "Key"]
    header += [figure_label(n, language)[0] for n in figures]
    labels = key_labels or {}
    rows: list[list[object]] = []
    for row in result.rows:
        rows.append(
            [row.period, labels.get(row.key, row.key)] + [row.values.get(n) for n in figures]
        )
    rows.append(["合计" if zh else "Total", ""] + [result.totals.get(n) for n in figures])
    return header, rows


def _safe(cell: object) -> object:
    return csv_cell(cell) if isinstance(cell, str) else cell


def _csv_cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, float):
        return round(value, 4)
    return _safe(value)


def csv_bytes(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_safe(h) for h in header])
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def xlsx_bytes(
    title: str,
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    units: Sequence[str],
    off_target: Sequence[Sequence[bool]] = (),
) -> bytes:
    """One sheet; ratios formatted as percentages, seconds with one decimal, off-target cells
    shaded."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31] or "report"
    sheet.append([str(h) for h in header])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for index, row in enumerate(rows):
        sheet.append([_xlsx_cell(v) for v in row])
        line = sheet.max_row
        for column, unit in enumerate(units, start=3):
            cell = sheet.cell(row=line, column=column)
            if unit == "ratio":
                cell.number_format = "0.0%"
            elif unit == "seconds":
                cell.number_format = "0.0"
        marks = off_target[index] if index < len(off_target) else ()
        for column, off in enumerate(marks, start=3):
            if off:
                sheet.cell(row=line, column=column).fill = _OFF
    sheet.freeze_panes = "C2"
    for letter in ("A", "B"):
        sheet.column_dimensions[letter].width = 18
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _xlsx_cell(value: object) -> object:
    if isinstance(value, str):
        # A typed string cell is never a formula in openpyxl unless it starts with "=";
        # keep such text literal.
        return _safe(value)
    return value
