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
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from callcenter.reports.figures import FIGURES
from callcenter.reports.query import WRAPPED, WRAPPED_SHARE, ReportResult
from callcenter.web.spreadsheet import csv_cell

__all__ = ["Sheet", "csv_bytes", "figure_label", "sheet", "table", "xlsx_bytes"]

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


@dataclass(frozen=True, slots=True)
class Sheet:
    """One report as a worksheet: the header, the rows (totals last), each figure's unit
    and which cells are off target."""

    title: str
    header: list[str]
    rows: list[list[object]]
    units: list[str]
    off_target: list[list[bool]]


def sheet(title: str, result: ReportResult, language: str, key_labels: Mapping[str, str]) -> Sheet:
    header, rows = table(result, language, key_labels)
    figures = result.request.figures
    marks = [[n in r.off_target for n in figures] for r in result.rows]
    marks.append([n in result.totals_off_target for n in figures])
    return Sheet(title, header, rows, [figure_label(n, language)[1] for n in figures], marks)


def xlsx_bytes(sheets: Sequence[Sheet]) -> bytes:
    """A workbook, one sheet per report: ratios as percentages, seconds with one decimal,
    off-target cells shaded."""
    book = Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    for one in sheets:
        _write_sheet(book, one)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _write_sheet(book: Workbook, one: Sheet) -> None:
    ws = book.create_sheet(one.title[:31] or "report")
    ws.append([str(h) for h in one.header])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for index, row in enumerate(one.rows):
        ws.append([_xlsx_cell(v) for v in row])
        line = ws.max_row
        for column, unit in enumerate(one.units, start=3):
            cell = ws.cell(row=line, column=column)
            if unit == "ratio":
                cell.number_format = "0.0%"
            elif unit == "seconds":
                cell.number_format = "0.0"
            elif unit == "score":
                cell.number_format = "0.00"
        marks = one.off_target[index] if index < len(one.off_target) else []
        for column, off in enumerate(marks, start=3):
            if off:
                ws.cell(row=line, column=column).fill = _OFF
    ws.freeze_panes = "C2"
    for letter in ("A", "B"):
        ws.column_dimensions[letter].width = 18


def _xlsx_cell(value: object) -> object:
    if isinstance(value, str):
        # A typed string cell is never a formula in openpyxl unless it starts with "=";
        # keep such text literal.
        return _safe(value)
    return value
