"""Workbook readers against a 2,000-row roster and hostile files (issue #19).

``python -m bench.workbook_reader [--repeat N] [--only NAME,...]``

Readers: ``old`` (the hand-written reader the imports used until issue #19, kept here to measure
against), ``calamine`` (python-calamine, when installed), ``openpyxl`` (openpyxl read-only, every row
and column, no checks) and ``qscore`` (qscore.admin.workbooks.read_rows: openpyxl read-only behind its
checks). Each reader reads each file in a child process limited to 4 GiB of address space, so a
reader that exhausts memory or aborts is reported, not fatal: wall time (the median of --repeat runs on
the rosters, one run on a hostile file, stopped after 90 s), peak RSS growth, and what came out. The
rosters: qscore's template filled with 2,000 members (text inline, as openpyxl writes it) and the same
with its text in shared strings (as Excel and WPS save it). The hostile files are built here and used by
tests/test_hostile_workbooks.py too.
"""
from __future__ import annotations

import argparse
import functools
import io
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from datetime import date, datetime
from typing import Any, Callable, Iterable, Iterator, Sequence

CHILD_MEMORY = 4 * 2**30
CHILD_TIMEOUT_S = 90
_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHEET = "xl/worksheets/sheet1.xml"
ROSTER_HEADERS = ("姓名", "性别", "出生年份", "入党日期", "列入街道名册日期", "类别", "预备党员", "社区", "支部", "联系电话",
                  "住址", "积分手册编号")


# --- the files -----------------------------------------------------------------------------------

def roster(n: int = 2000) -> bytes:
    """A filled-in import template of n members, as a secretary would upload it."""
    from qscore.admin.imports import ROSTER_COLUMNS
    from qscore.admin.workbooks import template_workbook

    rows = [[f"党员{i:04d}", "男女"[i % 2], 1940 + i % 40, datetime(1998, 7, 1), date(2015, 1 + i % 12, 1 + i % 28),
             "ABCD"[i % 4], "否", "前进社区", ("第一党支部", "再就业党支部")[i % 2], f"1380000{i:04d}", f"和平路{i}号",
             f"QJ-{i:05d}"] for i in range(n)]
    return template_workbook("党员名册", ROSTER_COLUMNS, rows=rows)


def shared(data: bytes) -> bytes:
    """The workbook with its text in a shared-strings table, as Excel saves it (openpyxl writes text inline)."""
    import re

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        parts = {name: z.read(name) for name in z.namelist()}
    strings: dict[str, int] = {}

    def share(m: re.Match) -> str:
        return f'<c r="{m[1]}" t="s"><v>{strings.setdefault(m[2], len(strings))}</v></c>'

    sheet = re.sub(r'<c r="(\w+)" t="inlineStr"><is><t>(.*?)</t></is></c>', share, parts[SHEET].decode())
    sst = "".join(f"<si><t>{t}</t></si>" for t in strings)
    parts[SHEET] = sheet.encode()
    parts["xl/sharedStrings.xml"] = f'<sst xmlns="{_NS}" uniqueCount="{len(strings)}">{sst}</sst>'.encode()
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(b"</Types>", _SST_TYPE + b"</Types>")
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(b"</Relationships>",
                                                                                        _SST_REL + b"</Relationships>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in parts.items():
            z.writestr(name, body)
    return out.getvalue()


_SST_TYPE = (b'<Override PartName="/xl/sharedStrings.xml" '
             b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>')
_SST_REL = (b'<Relationship Id="rIdS" Target="sharedStrings.xml" '
            b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>')


@functools.lru_cache(maxsize=None)
def _base_parts(headers: tuple[str, ...]) -> dict[str, bytes]:
    """The parts of a workbook openpyxl writes with these headers: the frame every hostile file changes."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(list(headers))
    wb.active.append(["李娜"])
    out = io.BytesIO()
    wb.save(out)
    with zipfile.ZipFile(out) as z:
        return {name: z.read(name) for name in z.namelist()}


def _header_row(headers: Sequence[str]) -> str:
    return '<row r="1">' + "".join(f'<c r="{_letters(i + 1)}1" t="inlineStr"><is><t>{h}</t></is></c>'
                                  for i, h in enumerate(headers)) + "</row>"


def _letters(n: int) -> str:
    s = ""
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def sheet_xml(headers: Sequence[str], body: Iterable[str]) -> Iterator[bytes]:
    yield f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_NS}"><sheetData>'.encode()
    yield _header_row(headers).encode()
    for chunk in body:
        yield chunk.encode()
    yield b"</sheetData></worksheet>"


def workbook_with(headers: Sequence[str], replace: dict[str, bytes | Iterable[bytes]]) -> bytes:
    """The base workbook with some parts replaced; an iterable part is streamed into the zip."""
    parts = dict(_base_parts(tuple(headers)), **replace)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in parts.items():
            with z.open(name, "w") as f:
                if isinstance(body, _Zeros):
                    f._compressor = _ZeroDeflate()  # zipfile's own deflate takes 15 s a GiB here
                for chunk in [body] if isinstance(body, bytes) else body:
                    f.write(chunk)
    return out.getvalue()


class _Zeros:
    """``size`` zero bytes in blocks of 1 MiB."""

    block = bytes(2**20)

    def __init__(self, size: int):
        self.size = size

    def __iter__(self) -> Iterator[bytes]:
        return (self.block for _ in range(self.size // len(self.block)))


class _ZeroDeflate:
    """Deflates _Zeros' blocks: each block fully flushed deflates to the same bytes, computed once."""

    _stream = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = _stream.compress(_Zeros.block) + _stream.flush(zlib.Z_FULL_FLUSH)

    def compress(self, data: bytes) -> bytes:
        assert data == _Zeros.block
        return self.chunk

    def flush(self) -> bytes:
        return b"\x03\x00"  # an empty final block


def _rows(n: int, make: Callable[[int], str], chunk: int = 10000) -> Iterator[str]:
    for start in range(2, n + 2, chunk):
        yield "".join(make(r) for r in range(start, min(start + chunk, n + 2)))


@functools.lru_cache(maxsize=None)
def _bomb(headers: tuple[str, ...]) -> bytes:
    return workbook_with(headers, {"xl/styles.xml": _Zeros(2**30)})  # ~1 MB that unpacks to 1 GiB


def with_shared_strings(headers: Sequence[str], sst: str) -> bytes:
    """A workbook whose row 2 shows shared string 0 of ``sst``, declared as Excel declares it."""
    parts = _base_parts(tuple(headers))
    types = parts["[Content_Types].xml"].replace(b"</Types>", _SST_TYPE + b"</Types>")
    rels = parts["xl/_rels/workbook.xml.rels"].replace(b"</Relationships>", _SST_REL + b"</Relationships>")
    return workbook_with(headers, {"[Content_Types].xml": types, "xl/_rels/workbook.xml.rels": rels,
                              "xl/sharedStrings.xml": sst.encode(), SHEET: sheet_xml(headers, [_SHARED_CELL])})


def _lie(data: bytes, name: str, size: int) -> bytes:
    """The zip with one part's unpacked size (and CRC, to match its first bytes) declared as ``size``."""
    buf = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = z.getinfo(name)
        crc = zlib.crc32(z.open(info).read(size)) if info.file_size >= size else info.CRC
        start = z.start_dir
    struct.pack_into("<I", buf, info.header_offset + 14, crc)
    struct.pack_into("<I", buf, info.header_offset + 22, size)
    at = start
    while buf[at:at + 4] == b"PK\x01\x02":
        n, m, k = struct.unpack_from("<HHH", buf, at + 28)
        if bytes(buf[at + 46:at + 46 + n]) == name.encode():
            struct.pack_into("<I", buf, at + 16, crc)
            struct.pack_into("<I", buf, at + 24, size)
        at += 46 + n + m + k
    return bytes(buf)


_XXE = (f'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE sst [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        f'<sst xmlns="{_NS}" count="1" uniqueCount="1"><si><t>&xxe;</t></si></sst>')
_LAUGHS = ('<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE sst [<!ENTITY lol "lol">'
           + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
           + f']><sst xmlns="{_NS}" count="1" uniqueCount="1"><si><t>&lol9;</t></si></sst>')
_SHARED_CELL = '<row r="2"><c r="A2" t="s"><v>0</v></c></row>'


def _rows_file(headers: Sequence[str], rows: Iterable[str]) -> bytes:
    return workbook_with(headers, {SHEET: sheet_xml(headers, rows)})


HOSTILE: dict[str, Callable[[Sequence[str]], bytes]] = {
    # 30 rows with one cell each at column ZZZZZ (12,356,630): the old reader built a list that wide per row.
    "zzzzz_30_rows": lambda h: _rows_file(h, _rows(30, lambda r: f'<row r="{r}"><c r="ZZZZZ{r}"><v>1</v></c></row>')),
    # One cell at ZZZZZZZZ: 2 x 10^11 columns.
    "column_zzzzzzzz": lambda h: _rows_file(h, ['<row r="2"><c r="ZZZZZZZZ2"><v>1</v></c></row>']),
    # xl/styles.xml: 1 GiB of zeros in about 1 MB, its size declared honestly...
    "zip_bomb": lambda h: _bomb(tuple(h)),
    # ... and declared as 1 KiB (CRC to match), for a reader that trusts the compressed stream instead.
    "zip_bomb_lying": lambda h: _lie(_bomb(tuple(h)), "xl/styles.xml", 1024),
    # An external entity (a file of the server) and a billion laughs, in the shared strings.
    "xxe": lambda h: with_shared_strings(h, _XXE),
    "billion_laughs": lambda h: with_shared_strings(h, _LAUGHS),
    # The first 1,500 bytes of a workbook: no list of entries at the end.
    "truncated": lambda h: workbook_with(h, {})[:1500],
    # An .xls renamed to .xlsx: the OLE2 compound file's signature and an empty header sector.
    "renamed_xls": lambda h: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504),
    "empty": lambda h: b"",
    # 900,000 shared strings (20 MB, 4 MB packed) for a sheet that uses one: openpyxl parses each.
    "many_strings": lambda h: with_shared_strings(h, f'<sst xmlns="{_NS}">' + "".join(
        f"<si><t>{i * 2654435761 & 0xFFFFFF:06x}</t></si>" for i in range(900_000)) + "</sst>"),
    # 50,000 empty entries besides the workbook's own: zipfile lists every one before anything is read.
    "many_entries": lambda h: workbook_with(h, {f"x/{i}": b"" for i in range(50_000)}),
    # A header and 1,000,000 empty rows.
    "million_empty_rows": lambda h: _rows_file(h, _rows(1_000_000, lambda r: f'<row r="{r}"/>')),
}


def base(headers: Sequence[str]) -> bytes:
    """The benign twin of every hostile file: the same frame, one row under the headers."""
    return workbook_with(headers, {})


# --- the readers ---------------------------------------------------------------------------------

def read_old(data: bytes) -> int:
    from qscore.admin.imports import ROSTER_COLUMNS
    return len(list(old_read_rows(data, ROSTER_COLUMNS)))


def read_calamine(data: bytes) -> int:
    from python_calamine import CalamineWorkbook
    return len(CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python())


def read_openpyxl(data: bytes) -> int:
    from openpyxl import load_workbook
    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    n = sum(1 for _ in book.worksheets[0].iter_rows(values_only=True))
    book.close()
    return n


def read_qscore(data: bytes) -> int:
    from qscore.admin.imports import ROSTER_COLUMNS
    from qscore.admin.workbooks import read_rows
    return len(list(read_rows(data, ROSTER_COLUMNS)))


READERS = {"old": read_old, "calamine": read_calamine, "openpyxl": read_openpyxl, "qscore": read_qscore}


def _child(reader: str, path: str, repeat: int) -> None:
    """Runs in the child: read the file ``repeat`` times, print one JSON line."""
    import resource  # POSIX only, like the child processes: the tests import the files above on Windows too
    import warnings
    warnings.simplefilter("ignore")
    data = open(path, "rb").read()
    fn = READERS[reader]
    import openpyxl  # noqa: F401 - imports are not the reader's time
    import qscore.admin.imports  # noqa: F401
    if reader == "calamine":
        import python_calamine  # noqa: F401
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times, outcome = [], ""
    for _ in range(repeat):
        t0 = time.perf_counter()
        try:
            outcome = f"{fn(data)} rows"
        except Exception as e:  # noqa: BLE001 - what a reader raised is the result
            outcome = f"{type(e).__name__}: {str(e)[:70]}"
            times.append(time.perf_counter() - t0)
            break
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": sorted(times)[len(times) // 2], "grew_mb": (peak - before) // 1024,
                      "outcome": outcome}), flush=True)


def measure(reader: str, path: str, repeat: int) -> dict[str, Any]:
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY))

    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bench.workbook_reader", "--child", reader, path, str(repeat)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, preexec_fn=limit)
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() - t0 > CHILD_TIMEOUT_S:
            proc.kill()
            _pid, status, usage = os.wait4(proc.pid, 0)
            return {"seconds": None, "outcome": f"still running after {CHILD_TIMEOUT_S} s",
                    "peak_mb": usage.ru_maxrss // 1024}
        time.sleep(0.02)
    out = proc.stdout.read().decode()
    proc.stdout.close()
    if os.WIFSIGNALED(status):
        return {"seconds": round(time.perf_counter() - t0, 2), "peak_mb": usage.ru_maxrss // 1024,
                "outcome": f"process killed by {signal.Signals(os.WTERMSIG(status)).name}"}
    return {**json.loads(out.strip().splitlines()[-1]), "peak_mb": usage.ru_maxrss // 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs of each reader on the roster (median)")
    ap.add_argument("--only", default="", help="comma-separated files to run (roster, " + ", ".join(HOSTILE) + ")")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return _child(args.child[0], args.child[1], int(args.child[2]))
    try:
        import python_calamine  # noqa: F401
        readers = list(READERS)
    except ImportError:
        readers = [r for r in READERS if r != "calamine"]
        print("python-calamine is not installed (pip install python-calamine): its column is left out")
    files = {"roster": lambda h: roster(), "roster_shared": lambda h: shared(roster()), **HOSTILE}
    chosen = [f for f in (args.only.split(",") if args.only else files) if f]
    print(f"{len(os.sched_getaffinity(0))} CPUs, load {os.getloadavg()[0]:.1f}; each cell: seconds / peak RSS growth MB"
          " / outcome")
    with tempfile.TemporaryDirectory() as tmp:
        for name in chosen:
            data = files[name](ROSTER_HEADERS)
            path = os.path.join(tmp, name + ".xlsx")
            with open(path, "wb") as f:
                f.write(data)
            print(f"\n{name} ({len(data):,} bytes)")
            for reader in readers:
                r = measure(reader, path, args.repeat if name.startswith("roster") else 1)
                secs = "-" if r["seconds"] is None else f"{r['seconds']:.3f} s"
                grew = r.get("grew_mb", r["peak_mb"])
                print(f"  {reader:9} {secs:>10} {grew:>6} MB  {r['outcome']}", flush=True)
        if "roster" in chosen:
            from qscore.admin.imports import ROSTER_COLUMNS
            from qscore.admin.workbooks import read_rows
            for data in (roster(), shared(roster())):
                same = list(read_rows(data, ROSTER_COLUMNS)) == list(old_read_rows(data, ROSTER_COLUMNS))
                print(f"\nroster: qscore's rows {'are identical to' if same else 'DIFFER from'} the old reader's")


# --- the reader replaced in issue #19, as it was, to measure against -------------------------------

def old_read_rows(data: bytes, columns) -> Iterator[tuple[int, dict[str, Any]]]:
    from xml.etree.ElementTree import ParseError

    from qscore.admin.workbooks import MAX_ROWS, RowError, WorkbookError, blank, text
    try:
        rows = _old_sheet_rows(data)
        _number, header_row = next(rows, (1, []))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, ParseError):
        raise WorkbookError([RowError(0, "", "The file is not an Excel workbook (.xlsx).")]) from None
    positions: dict[str, int] = {}
    by_header = {c.header: c for c in columns}
    for i, cell in enumerate(header_row):
        name = text(cell).rstrip("*＊ ").strip()
        if name in by_header and by_header[name].key not in positions:
            positions[by_header[name].key] = i
    missing = [c.header for c in columns if c.required and c.key not in positions]
    if missing:
        raise WorkbookError([RowError(1, h, "This column is missing from the first row.") for h in missing])
    count = 0
    try:
        for number, values in rows:
            row = {key: (values[i] if i < len(values) else None) for key, i in positions.items()}
            if all(blank(v) for v in row.values()):
                continue
            count += 1
            if count > MAX_ROWS:
                raise WorkbookError([RowError(number, "", "At most %d rows per file." % MAX_ROWS)])
            yield number, row
    except (KeyError, ValueError, IndexError, ParseError):
        raise WorkbookError([RowError(0, "", "The file is damaged: save it again in Excel and retry.")]) from None


def _old_sheet_rows(data: bytes) -> Iterator:
    from xml.etree.ElementTree import fromstring, iterparse

    from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format
    from openpyxl.utils.datetime import MAC_EPOCH, WINDOWS_EPOCH, from_excel
    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"

    def column(ref: str) -> int:
        n = 0
        for ch in ref:
            if not ch.isalpha():
                break
            n = n * 26 + ord(ch.upper()) - 64
        return n - 1

    book = zipfile.ZipFile(io.BytesIO(data))
    names = set(book.namelist())
    workbook = fromstring(book.read("xl/workbook.xml"))
    sheet = workbook.find(f"{ns}sheets/{ns}sheet")
    rid = sheet.get(f"{rel}id")
    target = next(r.get("Target") for r in fromstring(book.read("xl/_rels/workbook.xml.rels")) if r.get("Id") == rid)
    path = target.lstrip("/") if target.startswith("/") else "xl/" + target
    pr = workbook.find(f"{ns}workbookPr")
    epoch = MAC_EPOCH if pr is not None and pr.get("date1904") in ("1", "true") else WINDOWS_EPOCH
    strings: list[str] = []
    if "xl/sharedStrings.xml" in names:
        for _event, el in iterparse(book.open("xl/sharedStrings.xml")):
            if el.tag == ns + "si":
                strings.append("".join(t.text or "" for t in el.iter(ns + "t")))
                el.clear()
    dates: set[int] = set()
    if "xl/styles.xml" in names:
        styles = fromstring(book.read("xl/styles.xml"))
        custom = {int(f.get("numFmtId")): f.get("formatCode") for f in styles.iter(ns + "numFmt")}
        xfs = styles.find(ns + "cellXfs")
        for i, xf in enumerate(xfs if xfs is not None else ()):
            fid = int(xf.get("numFmtId", 0))
            if is_date_format(custom.get(fid, BUILTIN_FORMATS.get(fid, "General"))):
                dates.add(i)
    expected = 1
    for _event, row in iterparse(book.open(path)):
        if row.tag != ns + "row":
            continue
        number = int(row.get("r") or expected)
        expected = number + 1
        values: dict[int, Any] = {}
        for c in row.iter(ns + "c"):
            kind, v = c.get("t", "n"), c.find(ns + "v")
            if kind == "inlineStr":
                value: Any = "".join(t.text or "" for t in c.iter(ns + "t"))
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
                    except (OverflowError, ValueError):
                        value = num
                else:
                    value = int(num) if num.is_integer() else num
            values[column(c.get("r", ""))] = value
        row.clear()
        yield number, [values.get(i) for i in range(max(values) + 1)] if values else []


if __name__ == "__main__":
    main()
