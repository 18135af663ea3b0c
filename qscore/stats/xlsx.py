"""Writing a workbook: a title, a header row, widths, and the download (used by the figures and the assessment)."""
from __future__ import annotations

import io
from decimal import Decimal
from fractions import Fraction

from flask import send_file
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

HEAD_FILL = PatternFill("solid", fgColor="F3E3E3")


def sheet_name(name: str) -> str:
    return "".join(ch for ch in name if ch not in "[]:*?/\\")[:31]


def title_row(ws, text: str, span: int) -> None:
    ws.append([text])
    ws.cell(row=ws.max_row, column=1).font = Font(bold=True, size=13)
    if span > 1:
        ws.merge_cells(start_row=ws.max_row, start_column=1, end_row=ws.max_row, end_column=span)


def header_row(ws, names: list[str]) -> None:
    ws.append(names)
    r = ws.max_row
    for i in range(1, len(names) + 1):
        cell = ws.cell(row=r, column=i)
        cell.font = Font(bold=True)
        cell.fill = HEAD_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    ws.freeze_panes = f"A{r + 1}"  # a string: ws.cell() would create the row below


def set_widths(ws, widths: list[int]) -> None:
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w


def xlsx_response(wb: Workbook, filename: str):
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    return send_file(buf, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     as_attachment=True, download_name=filename)


def cell_number(value) -> float | int | None:
    """A number for a cell: ints stay ints, decimals become floats with one decimal."""
    if value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, (Decimal, Fraction)):
        return float(Decimal(value.numerator) / Decimal(value.denominator)) if isinstance(value, Fraction) \
            else float(value)
    return value
