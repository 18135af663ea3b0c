"""Reading the office's Excel workbooks (.xlsx): Chinese headers, forgiving cell values, and a row-by-row
error report (row, column, what is wrong); and the import templates, written by qscore.exports.

An upload is checked before anything parses it (issue #19). It must be a zip whose end record declares at
most MAX_PARTS entries; each XML part is unpacked here, with an explicit size, under limits (per part, in
all, packed/unpacked ratio, number of tags) and searched for a DTD, which no Office package may hold and
which every entity bomb and external entity needs. The reader is then given a fresh uncompressed zip of
exactly the bytes that passed: zipfile's read() of a whole part inflates up to 1 GiB in one call whatever
size the part declares (a lying zip bomb kept the old reader 13 s and 2 GB). Only the first worksheet is
parsed; every row read counts toward MAX_ROWS, blank ones included; a row is taken only up to the column
of the last header found. Whatever still fails in the reader (MemoryError included) is a WorkbookError,
which the imports answer with 422 and a message, never a 500.

The reader is openpyxl in read-only mode, not python-calamine. Measured with ``python -m
bench.workbook_reader`` (each reader in a child process limited to 4 GiB, on the shared 2-core machine):
calamine reads a 2,000-row roster fastest (0.02 s, against 0.34 s here and 0.27 s for the hand-written
reader this replaces, when Excel saved the text in shared strings; 0.06 / 0.89 / 0.30 s with the text
inline, as openpyxl writes it), but it builds one dense grid from the cell references it is given before
anything can look at them: a cell at ZZZZZ in 30 rows, or one at ZZZZZZZZ, aborted the whole process (an
allocation failure in Rust, which Python cannot catch), and a cell at row 99,999,999 took 10 s and 3 GB.
Only parsing each sheet ourselves first could rule that out. openpyxl streams a sheet a row at a time, fills
a row only up to the column asked for and refuses column names past ZZZ; two of its habits are turned off
below: parsing a sheet without <dimension> whole to learn its size, and turning a date serial out of range
into "#VALUE!" with a warning.
"""
from __future__ import annotations

import io
import re
import struct
import sys
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Iterator

from flask_babel import gettext as _
from openpyxl.cell.read_only import EMPTY_CELL
from openpyxl.reader.excel import ExcelReader
from openpyxl.utils.datetime import from_excel
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from ..exports import Sheet, write_xlsx

MAX_ROWS = 20000                 # rows under the header, blank ones included
MAX_COLUMNS = 256                # headers are looked for in columns A to IV (all an .xls could hold)
HEADER_ROWS = 100                # ... in the first row with anything in it, among the first 100
MAX_PART_BYTES = 20 * 2**20      # one XML part, unpacked
MAX_PACKAGE_BYTES = 50 * 2**20   # all the XML parts, unpacked
MAX_RATIO = 100                  # unpacked/packed of a part larger than RATIO_GRACE (Apache POI's default)
RATIO_GRACE = 2**20
MAX_PARTS = 2000                 # entries of the zip (an .xlsx has a dozen, more with pictures)
MAX_DIRECTORY_BYTES = 2**18      # the zip's list of its entries
MAX_MARKUP = 3_000_000           # tags in all the XML parts: a roster of 20,000 rows has 1.4 million
_ZIP = b"PK\x03\x04"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and an .xlsx saved with a password
_DTD = tuple("<!DOCTYPE".encode(e) for e in ("utf-8", "utf-16-le", "utf-16-be"))
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
    """The file as a whole cannot be read (not .xlsx, headers missing, too many rows, over a limit)."""

    def __init__(self, errors: list[RowError]):
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:  # 1e300 stays "1e+300"
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


def _refused(message: str, row: int = 0) -> WorkbookError:
    return WorkbookError([RowError(row, "", message)])


def _too_large() -> WorkbookError:
    return _refused(_("The workbook is too large to read: copy the rows to import into a new workbook and upload "
                      "that."))


def _damaged() -> WorkbookError:
    return _refused(_("The file is damaged: save it again in Excel and retry."))


def read_rows(data: bytes, columns: tuple[Column, ...]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, {column key: raw value}) for every non-blank row of the first sheet.

    Headers are matched by name in any order (a trailing * or spaces ignored) in the first row that has
    any; unknown columns are ignored. The whole sheet is read and checked before the first row is
    returned, so a refusal (WorkbookError) comes before the caller has written anything.
    """
    package = _checked_package(data)
    try:
        reader = _FirstSheetReader(package, read_only=True, data_only=True, keep_links=False)
        try:
            reader.read()
            rows = _sheet_rows(reader.wb, columns)
        finally:
            reader.archive.close()
    except WorkbookError:
        raise
    except MemoryError:
        raise _too_large() from None
    except Exception:  # noqa: BLE001 - whatever the reader trips on in a file is the file's fault, never a 500
        raise _damaged() from None
    return iter(rows)


def _checked_package(data: bytes) -> io.BytesIO:
    """The upload's XML parts, each unpacked under the limits and free of a DTD, as a new stored zip."""
    if data.startswith(_OLE2):
        raise _refused(_("This is an old Excel file (.xls) or one with a password: open it in Excel, choose “Save As” "
                         "with the type “Excel Workbook (*.xlsx)” and no password, and upload that."))
    if not data.startswith(_ZIP):
        raise _refused(_("The file is not an Excel workbook (.xlsx)."))
    entries, directory = _zip_directory(data)
    if entries > MAX_PARTS or directory > MAX_DIRECTORY_BYTES:  # zipfile took 10 s to list 200,000 empty entries
        raise _damaged()
    out = io.BytesIO()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as copy:
            # Images, printer settings and macros are never read: only the XML parts go on.
            if len(package.infolist()) > MAX_PARTS:
                raise _damaged()
            parts = [i for i in package.infolist() if i.filename.lower().endswith((".xml", ".rels"))]
            if len({i.filename for i in parts}) < len(parts):
                raise _damaged()
            declared = markup = 0
            for info in parts:
                declared += info.file_size
                if (info.file_size > MAX_PART_BYTES or declared > MAX_PACKAGE_BYTES
                        or info.file_size > max(RATIO_GRACE, info.compress_size * MAX_RATIO)):
                    raise _too_large()
            for info in parts:
                # Read with a size, zipfile inflates no more than that (checked above) and checks the CRC.
                with package.open(info) as member:
                    body = member.read(info.file_size + 1)
                if len(body) > info.file_size:
                    raise _too_large()
                if any(dtd in body for dtd in _DTD):
                    raise _damaged()
                # Every tag starts with "<", which text and attributes cannot hold (in UTF-16 this counts more).
                markup += body.count(b"<")
                if markup > MAX_MARKUP:
                    raise _too_large()
                copy.writestr(info.filename, body)
    except WorkbookError:
        raise
    except MemoryError:
        raise _too_large() from None
    except Exception:  # noqa: BLE001 - truncated, corrupt, encrypted, an unknown compression: the file's fault
        raise _damaged() from None
    out.seek(0)
    return out


def _zip_directory(data: bytes) -> tuple[int, int]:
    """(entries, bytes) of the zip's central directory, as its end record (Zip64's if any) declares them."""
    at = data.rfind(b"PK\x05\x06", max(0, len(data) - 22 - 0xFFFF))  # the end record, then a comment of <= 64 KB
    if at < 0 or at + 22 > len(data):
        return sys.maxsize, sys.maxsize
    entries, size = struct.unpack_from("<HI", data, at + 10)
    locator = at - 20
    if (entries == 0xFFFF or size == 0xFFFFFFFF) and locator >= 0 and data[locator:locator + 4] == b"PK\x06\x07":
        (record,) = struct.unpack_from("<Q", data, locator + 8)
        if data[record:record + 4] == b"PK\x06\x06" and record + 56 <= len(data):
            entries, size = struct.unpack_from("<QQ", data, record + 32)
    return entries, size


class _UnsizedSheet(ReadOnlyWorksheet):
    """A read-only sheet that does not learn its size from the file: the <dimension> a file declares may
    be stale or a lie, and openpyxl parses a sheet without one whole just to look for it."""

    def _get_size(self) -> None:
        pass


class _FirstSheetReader(ExcelReader):
    """openpyxl's reader of a package, which takes its first worksheet only: the others are never parsed."""

    def read_worksheets(self) -> None:
        for sheet, rel in self.parser.find_sheets():
            if rel.target in self.valid_files and "worksheet" in (rel.Type or ""):
                self.wb._sheets.append(_UnsizedSheet(self.wb, sheet.name, rel.target, self.shared_strings))
                return


def _sheet_rows(book, columns: tuple[Column, ...]) -> list[tuple[int, dict[str, Any]]]:
    sheet = book.worksheets[0]
    # Dates are converted here, as before: openpyxl would turn a serial out of range (1e300) into
    # "#VALUE!" with a warning, and the row would not say which value was wrong.
    book._date_formats, book._timedelta_formats = set(), set()
    epoch = book.epoch
    header_at, header = 0, ()
    for number, cells in enumerate(sheet.iter_rows(max_row=HEADER_ROWS, max_col=MAX_COLUMNS), start=1):
        if any(c is not EMPTY_CELL and not blank(c.value) for c in cells):
            header_at, header = number, cells
            break
    positions: dict[str, int] = {}
    by_header = {c.header: c for c in columns}
    for i, cell in enumerate(header):
        name = text(cell.value).rstrip("*＊ ").strip()
        if name in by_header and by_header[name].key not in positions:
            positions[by_header[name].key] = i
    missing = [c.header for c in columns if c.required and c.key not in positions]
    if missing:
        raise WorkbookError([RowError(header_at or 1, h, _("This column is missing from the first row."))
                             for h in missing])
    if not positions:
        return []
    rows: list[tuple[int, dict[str, Any]]] = []
    last = max(positions.values()) + 1  # columns past the last header are never allocated
    for number, cells in enumerate(sheet.iter_rows(min_row=header_at + 1, max_col=last), start=header_at + 1):
        if number - header_at > MAX_ROWS:
            raise _refused(_("At most %(n)d rows per file, empty ones included: delete the rows below your data.",
                             n=MAX_ROWS), number)
        if all(cells[i] is EMPTY_CELL for i in positions.values()):  # no cell under a header: skipped cheaply
            continue
        row = {key: _value(cells[i], epoch) for key, i in positions.items()}
        if not all(blank(v) for v in row.values()):
            rows.append((number, row))
    return rows


def _value(cell, epoch) -> Any:
    """A cell's value as the imports take it: a whole number as an int, a number in a date format as a datetime."""
    value = cell.value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if cell.is_date:
        try:
            return from_excel(value, epoch)
        except (OverflowError, ValueError):  # 1e300 or NaN in a date cell: its row says "not a date"
            return value
    return int(value) if isinstance(value, float) and value.is_integer() and abs(value) < 1e16 else value


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
