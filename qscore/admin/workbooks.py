"""Reading the office's Excel workbooks (.xlsx): Chinese headers, forgiving cell values, and a row-by-row
error report (row, column, what is wrong); and the import templates, written by qscore.exports."""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Iterator

from flask_babel import gettext as _
from xml.etree.ElementTree import ParseError, fromstring, iterparse

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format
from openpyxl.utils.datetime import MAC_EPOCH, WINDOWS_EPOCH, from_excel

from ..exports import Sheet, write_xlsx

MAX_ROWS = 20000
_DATE_RE = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*$")


@dataclass(frozen=True)
class Column:
    key: str
    header: str      # the Chinese header in the workbook
    required: bool = False
    width: int = 14
    hint: str = ""   # for the instructions sheet (Chinese, like the headers)


@dataclass(frozen=True)
class RowError:
    row: int          # the Excel row number (the header is row 1)
    column: str       # the column's header, or "" for the whole row or file
    message: str


class WorkbookError(ValueError):
    """The file as a whole cannot be read (not .xlsx, headers missing, too many rows)."""

    def __init__(self, errors: list[RowError]):
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def parse_date(value: Any) -> date | None:
    """A date cell, or text like 2020-03-05, 2020/3/5, 2020.3.5 or 2020年3月5日; None when it is not one."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    m = _DATE_RE.match(text(value))
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def parse_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    t = text(value)
    return int(t) if re.fullmatch(r"\d{1,6}", t) else None


def read_rows(data: bytes, columns: tuple[Column, ...]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, {column key: raw value}) for every non-blank row of the first sheet.

    Headers are matched by name in any order (a trailing * or spaces ignored); unknown columns are
    ignored. Raises WorkbookError when the file is not a workbook or a required header is missing.
    """
    try:
        rows = _sheet_rows(data)
        _number, header_row = next(rows, (1, []))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, ParseError):
        raise WorkbookError([RowError(0, "", _("The file is not an Excel workbook (.xlsx)."))]) from None
    positions: dict[str, int] = {}
    by_header = {c.header: c for c in columns}
    for i, cell in enumerate(header_row):
        name = text(cell).rstrip("*＊ ").strip()
        if name in by_header and by_header[name].key not in positions:
            positions[by_header[name].key] = i
    missing = [c.header for c in columns if c.required and c.key not in positions]
    if missing:
        raise WorkbookError([RowError(1, h, _("This column is missing from the first row.")) for h in missing])
    count = 0
    try:
        for number, values in rows:
            row = {key: (values[i] if i < len(values) else None) for key, i in positions.items()}
            if all(blank(v) for v in row.values()):
                continue
            count += 1
            if count > MAX_ROWS:
                raise WorkbookError([RowError(number, "", _("At most %(n)d rows per file.", n=MAX_ROWS))])
            yield number, row
    except (KeyError, ValueError, IndexError, ParseError):
        raise WorkbookError([RowError(0, "", _("The file is damaged: save it again in Excel and retry."))]) from None


# --- a lean reader of the first sheet ----------------------------------------------------------
# openpyxl builds an object per cell; streaming the sheet's XML reads a 2,000-row roster three
# times faster, which is most of an import's time. Only values are read: no formulas, no styles
# beyond which cells hold dates.

_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_ROW = _NS + "row"


def _column(ref: str) -> int:
    n = 0
    for ch in ref:
        if not ch.isalpha():
            break
        n = n * 26 + ord(ch.upper()) - 64
    return n - 1


def _sheet_rows(data: bytes) -> Iterator:
    """(row number, values) of each row of the first sheet that has cells; the first is the header."""
    book = zipfile.ZipFile(io.BytesIO(data))
    names = set(book.namelist())
    workbook = fromstring(book.read("xl/workbook.xml"))
    sheet = workbook.find(f"{_NS}sheets/{_NS}sheet")
    rid = sheet.get(f"{_REL}id")
    target = next(r.get("Target") for r in fromstring(book.read("xl/_rels/workbook.xml.rels")) if r.get("Id") == rid)
    path = target.lstrip("/") if target.startswith("/") else "xl/" + target
    pr = workbook.find(f"{_NS}workbookPr")
    epoch = MAC_EPOCH if pr is not None and pr.get("date1904") in ("1", "true") else WINDOWS_EPOCH
    strings: list[str] = []
    if "xl/sharedStrings.xml" in names:
        for _event, el in iterparse(book.open("xl/sharedStrings.xml")):
            if el.tag == _NS + "si":
                strings.append("".join(t.text or "" for t in el.iter(_NS + "t")))
                el.clear()
    dates: set[int] = set()
    if "xl/styles.xml" in names:
        styles = fromstring(book.read("xl/styles.xml"))
        custom = {int(f.get("numFmtId")): f.get("formatCode") for f in styles.iter(_NS + "numFmt")}
        xfs = styles.find(_NS + "cellXfs")
        for i, xf in enumerate(xfs if xfs is not None else ()):
            fid = int(xf.get("numFmtId", 0))
            if is_date_format(custom.get(fid, BUILTIN_FORMATS.get(fid, "General"))):
                dates.add(i)
    expected = 1
    for _event, row in iterparse(book.open(path)):
        if row.tag != _ROW:
            continue
        number = int(row.get("r") or expected)
        expected = number + 1
        values: dict[int, Any] = {}
        for c in row.iter(_NS + "c"):
            kind, v = c.get("t", "n"), c.find(_NS + "v")
            if kind == "inlineStr":
                value: Any = "".join(t.text or "" for t in c.iter(_NS + "t"))
            elif v is None or v.text is None:
                continue
            elif kind == "s":
                value = strings[int(v.text)]
            elif kind in ("str", "e"):
                value = v.text
            elif kind == "b":
                value = v.text == "1"
            else:
                num = float(v.text)
                if int(c.get("s", 0)) in dates:
                    try:
                        value = from_excel(num, epoch)
                    except (OverflowError, ValueError):  # 1e300 or NaN in a date cell: its row says "not a date"
                        value = num
                else:
                    value = int(num) if num.is_integer() else num
            values[_column(c.get("r", ""))] = value
        row.clear()
        yield number, [values.get(i) for i in range(max(values) + 1)] if values else []


def template_workbook(title: str, columns: tuple[Column, ...], *, choices: dict[str, list[str]] | None = None,
                      notes: list[str] = (), lists: dict[str, list[list[str]]] | None = None,
                      rows: list[list[Any]] | None = None) -> bytes:
    """A workbook whose first sheet has the headers (required ones in red), drop-down lists where the
    values are fixed, optional data rows, and a sheet of instructions ("说明") plus reference lists."""
    keys = [c.key for c in columns]
    instructions = [[c.header + ("（必填）" if c.required else ""), c.hint] for c in columns] + [["", n] for n in notes]
    sheets = [Sheet(title, [c.header for c in columns], rows or [], [c.width for c in columns],
                    header_style="template", required={i for i, c in enumerate(columns) if c.required},
                    choices={keys.index(k): v for k, v in (choices or {}).items()}),
              Sheet("说明", ["列", "填写说明"], instructions, [22, 90], header_style="bold")]
    sheets += [Sheet(name, table[0], table[1:], [24, 24], header_style="plain")
               for name, table in (lists or {}).items() if table]
    return write_xlsx(*sheets)
