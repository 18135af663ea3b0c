"""Every file the app hands out: the one writer of spreadsheets (.xlsx and CSV) and the one download response.

Cells are typed: numbers stay numbers, dates are dates, None is an empty cell. Text is made inert (OWASP
"CSV Injection"): characters a workbook cannot hold are removed, and text a spreadsheet would read as
a formula gets a leading apostrophe and is stored as text. Every export builds ``Sheet``s (or CSV rows)
and calls ``write_xlsx``/``write_csv`` and ``download``; tests/test_exports.py feeds them hostile text.
"""
from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any
from urllib.parse import quote

from flask import Response
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MIMETYPES = {"xlsx": XLSX_MIME, "csv": "text/csv", "json": "application/json"}
MAX_CELL = 32767                 # Excel's limit on the characters of a cell: a longer one makes the file "damaged"
VALIDATION_ROWS = 20001          # a template's drop-down lists cover the header and 20,000 rows
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"

# XML 1.0 holds no control characters but tab, LF and CR (openpyxl refuses them), no lone surrogates
# (UTF-8 cannot encode them) and no U+FFFE/U+FFFF: they are removed, never allowed to fail an export.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# A cell beginning with one of these is read as a formula. The full-width ＝＋－＠ are included: a Chinese
# input method types them by default and Excel and WPS on Chinese systems may take them for the ASCII
# signs when the cell is entered or edited; the cost is an apostrophe on text that hardly ever begins so.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
_SHEET_TITLE_BAD = re.compile(r"[\[\]:*?/\\]")


def inert_text(text: str) -> str:
    """Text a spreadsheet shows as it is: without characters a workbook cannot hold, never a formula."""
    text = _NOT_XML.sub("", text)
    if text.startswith(FORMULA_STARTS):
        text = "'" + text
    return text if len(text) <= MAX_CELL else text[:MAX_CELL - 1] + "…"


def cell_value(value: Any) -> Any:
    """What one cell holds: an int or float for a number, a date or datetime, None, a bool, or inert text."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, (float, Decimal, Fraction)):
        number = float(value)
        return number if math.isfinite(number) else None    # Excel has no NaN or infinity
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)                   # Excel has no time zones: the wall time is kept
    if isinstance(value, date):
        return value
    return inert_text(str(value))


def csv_field(value: Any) -> str:
    """One CSV field: the cell's value written as Excel and WPS read it back."""
    value = cell_value(value)
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_csv(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> bytes:
    """UTF-8 with a byte-order mark, so that Excel and WPS open the Chinese intact."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([csv_field(v) for v in header])
    writer.writerows([csv_field(v) for v in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# ---------------------------------------------------------------------------------------------
# Workbooks
# ---------------------------------------------------------------------------------------------

THIN = Side(style="thin", color="999999")
BOX = Border(top=THIN, bottom=THIN, left=THIN, right=THIN)


@dataclass
class Sheet:
    """One worksheet: an optional bold title line and notes, a header row, typed rows.

    ``header_style``: "table" (bold on a tint, frozen below), "template" (an import template's header:
    required columns in red, frozen below), "bold", or "plain". Columns are counted from 0.
    """

    title: str
    header: Sequence[Any] = ()
    rows: Iterable[Sequence[Any]] = ()
    widths: Sequence[float] = ()
    heading: str = ""                           # a bold line above the table, merged across it
    heading_size: int = 13
    notes: Sequence[str] = ()                   # lines between the heading and the header ("" is a blank line)
    header_style: str = "table"
    header_fill: str = "F3E3E3"
    required: Collection[int] = ()              # template: the required columns
    choices: Mapping[int, Sequence[str]] = field(default_factory=dict)   # drop-down lists under the header
    formats: Mapping[int, str] = field(default_factory=dict)             # number formats of data cells
    wrap: Collection[int] = ()                  # data columns whose text wraps
    borders: bool = False                       # thin lines around the header and data cells
    printable: bool = False                     # A4, the header repeated on every page


def sheet_title(name: str) -> str:
    """A worksheet name Excel accepts: at most 31 characters, none of []:*?/\\, not quoted, not empty."""
    title = _SHEET_TITLE_BAD.sub("", _NOT_XML.sub("", name)).strip("'")[:31].rstrip("'")
    return title or "Sheet"


def write_xlsx(*sheets: Sheet) -> bytes:
    """The workbook of the sheets, streamed row by row (a 100,000-row audit log stays small in memory)."""
    wb = Workbook(write_only=True)
    for sheet in sheets:
        _write_sheet(wb, sheet)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _cell(ws, value: Any, *, font=None, fill=None, alignment=None, border=None, number_format=None):
    value = cell_value(value)
    styled = font or fill or alignment or border or number_format
    if not styled and (value is None or isinstance(value, (int, float)) or
                       (isinstance(value, str) and value not in ERROR_CODES)):
        return value                  # openpyxl's own cell holds it as it is: streaming 100,000 rows stays quick
    cell = WriteOnlyCell(ws, value=value)
    if isinstance(value, str):
        cell.data_type = "s"          # text is text, even "#REF!" (openpyxl would make an error cell of it)
    elif isinstance(value, datetime):
        cell.number_format = DATETIME_FORMAT
    elif isinstance(value, date):
        cell.number_format = DATE_FORMAT
    if number_format and not isinstance(value, (str, date)):
        cell.number_format = number_format
    if font:
        cell.font = font
    if fill:
        cell.fill = fill
    if alignment:
        cell.alignment = alignment
    if border:
        cell.border = border
    return cell


def _header_cells(ws, sheet: Sheet) -> list:
    style = sheet.header_style
    cells = []
    for i, name in enumerate(sheet.header):
        if style == "plain":
            cells.append(_cell(ws, name))
        elif style == "bold":
            cells.append(_cell(ws, name, font=Font(bold=True)))
        elif style == "template":
            required = i in sheet.required
            cells.append(_cell(ws, name, font=Font(bold=True, color="B3121F" if required else "1F2329"),
                               fill=PatternFill("solid", fgColor="FBEAEA" if required else "F6F4F0"),
                               alignment=Alignment(horizontal="center")))
        else:
            cells.append(_cell(ws, name, font=Font(bold=True), fill=PatternFill("solid", fgColor=sheet.header_fill),
                               alignment=Alignment(wrap_text=True, vertical="center"),
                               border=BOX if sheet.borders else None))
    return cells


def _validation(values: Sequence[str]) -> DataValidation | None:
    """A drop-down list; None when Excel could not hold it (a list literal has at most 255 characters)."""
    items = [_NOT_XML.sub("", str(v)) for v in values]
    items = [v for v in items if v and '"' not in v and "," not in v]
    literal = ",".join(items)
    if not items or len(literal) > 255:
        return None
    return DataValidation(type="list", formula1=f'"{literal}"', allow_blank=True)


def _write_sheet(wb: Workbook, sheet: Sheet) -> None:
    ws = wb.create_sheet(sheet_title(sheet.title))
    span = max(len(sheet.header), 1)
    for i, width in enumerate(sheet.widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    head_row = (1 if sheet.heading else 0) + len(sheet.notes) + 1
    if sheet.header and sheet.header_style in ("table", "template"):
        ws.freeze_panes = f"A{head_row + 1}"
    if sheet.printable and sheet.header:
        ws.print_title_rows = f"{head_row}:{head_row}"
        ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    for col, values in sheet.choices.items():
        dv = _validation(values)
        if dv is not None:
            letter = get_column_letter(col + 1)
            dv.add(f"{letter}{head_row + 1}:{letter}{head_row + VALIDATION_ROWS - 1}")
            ws.data_validations.append(dv)
    if sheet.heading:
        ws.append([_cell(ws, sheet.heading, font=Font(bold=True, size=sheet.heading_size))])
        if span > 1:
            ws.merged_cells.add(f"A1:{get_column_letter(span)}1")
    for line in sheet.notes:
        ws.append([_cell(ws, line)])
    if sheet.header:
        ws.append(_header_cells(ws, sheet))
    border = BOX if sheet.borders else None
    wrap = Alignment(wrap_text=True, vertical="top")
    for row in sheet.rows:
        ws.append([_cell(ws, v, border=border, number_format=sheet.formats.get(i),
                         alignment=wrap if i in sheet.wrap else None) for i, v in enumerate(row)])


# ---------------------------------------------------------------------------------------------
# The response
# ---------------------------------------------------------------------------------------------

_FILENAME_BAD = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|]')


def download(data: bytes, filename: str, fallback: str, mimetype: str | None = None) -> Response:
    """A file to save, never to keep in a cache: its UTF-8 (Chinese) name and an ASCII fallback (RFC 6266)."""
    mimetype = mimetype or MIMETYPES[fallback.rsplit(".", 1)[-1]]
    name = _FILENAME_BAD.sub("_", _NOT_XML.sub("", filename))   # no path, no character Windows refuses
    ascii_name = _FILENAME_BAD.sub("_", fallback.encode("ascii", "replace").decode("ascii"))
    resp = Response(data, mimetype=mimetype)
    resp.headers["Content-Disposition"] = (f"attachment; filename=\"{ascii_name}\"; "
                                           f"filename*=UTF-8''{quote(name, safe='')}")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp
