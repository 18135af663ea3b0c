"""The board's pages: sections (a type, or an adjusted quarter) flowed into columns, columns into pages.

Laid out for a 16:9 screen with names at 40 px on 1920×1080: two columns of COLUMN_UNITS rows each, where a
section heading with its table head takes HEADING_UNITS rows. A branch with more members than fit pages
through them in the fewest pages, split so the pages hold as even a number of rows as they can (34 members
over three pages: 12/11/11, never 18/12/4); each page's columns are evened out, cutting as few sections as
possible. A section cut by a page continues on the next page under its heading ("continued").
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache

MEMBER_COLUMNS = 2
ADJUSTMENT_COLUMNS = 3
COLUMN_UNITS = 12
ADJUSTMENT_UNITS = 9  # the adjustment pages' title and lead take three rows
HEADING_UNITS = 2
MIN_PIECE = 3  # a section is split across columns only into pieces of at least this many rows


@dataclass(frozen=True)
class Segment:
    key: str           # the section: a type code (A-D) or an adjusted period ("2026-Q1")
    rows: tuple        # the rows of this piece
    continued: bool    # the section began in an earlier column
    total: int         # rows in the whole section


def _fill(pieces: list[Segment], capacity: int) -> list[list[Segment]]:
    """Flow the pieces into columns of ``capacity`` units; a split leaves no piece under MIN_PIECE rows if it can."""
    columns: list[list[Segment]] = []
    col: list[Segment] = []
    used = 0
    for piece in pieces:
        rest, continued = list(piece.rows), piece.continued
        while rest:
            room = capacity - used - HEADING_UNITS
            if len(rest) <= room:
                take = len(rest)
            else:
                take = room
                if len(rest) - take < MIN_PIECE:
                    take = len(rest) - MIN_PIECE  # leave a tail worth its heading
                if take < MIN_PIECE and col:
                    columns.append(col)  # too little room here: the section begins in the next column
                    col, used = [], 0
                    continue
                take = max(take, 1)
            col.append(Segment(piece.key, tuple(rest[:take]), continued, piece.total))
            rest = rest[take:]
            used += HEADING_UNITS + take
            continued = True
    if col:
        columns.append(col)
    return columns


def _merge(segments: list[Segment]) -> list[Segment]:
    out: list[Segment] = []
    for s in segments:
        if out and out[-1].key == s.key:
            out[-1] = Segment(s.key, out[-1].rows + s.rows, out[-1].continued, s.total)
        else:
            out.append(s)
    return out


def _layout(pieces: list[Segment], columns: int, capacity: int) -> list[list[Segment]] | None:
    """One page's pieces in at most ``columns`` columns: fewest sections cut, then the lowest column; None if they
    do not fit without leaving a column a piece under MIN_PIECE rows."""
    pieces = _merge(pieces)
    whole = {p.key: len(p.rows) for p in pieces}
    best, best_key = None, None
    for c in range(HEADING_UNITS + 1, capacity + 1):
        trial = _fill(pieces, c)
        if len(trial) > columns:
            continue
        if all(len(s.rows) >= MIN_PIECE or len(s.rows) == whole[s.key] for col in trial for s in col):
            key = (sum(len(col) for col in trial), c)  # segments beyond the pieces are cuts
            if best_key is None or key < best_key:
                best, best_key = trial, key
    return best


def _even_split(sections: list[tuple[str, list]], count: int, columns: int, capacity: int,
                worst: int) -> list[list[list[Segment]]] | None:
    """``count`` pages of consecutive rows whose sizes differ as little as possible (and by at most ``worst``);
    then fewest short pieces (under MIN_PIECE rows) where a page cuts a section, fewest cuts, fuller pages
    first. None if none fits."""
    starts, n = [], 0
    for _key, rows in sections:
        starts.append(n)
        n += len(rows)
    ends = {s + len(rows) for s, (_k, rows) in zip(starts, sections)}

    @cache
    def page(a: int, b: int) -> tuple[list[list[Segment]] | None, int]:
        pieces = []
        for (key, rows), s in zip(sections, starts):
            lo, hi = max(a, s), min(b, s + len(rows))
            if lo < hi:
                pieces.append(Segment(key, tuple(rows[lo - s:hi - s]), lo > s, len(rows)))
        short = sum(1 for p in pieces if len(p.rows) < MIN_PIECE and len(p.rows) < p.total)
        if b - a + HEADING_UNITS * len(pieces) > columns * capacity:
            return None, short  # more than the page holds, however it is laid out
        return _layout(pieces, columns, capacity), short

    for spread in range(worst + 1):
        best = None
        for low in range(max(1, -(-n // count) - spread), n // count + 1):
            high = low + spread
            layer = {0: (0, 0, ())}  # rows placed -> (short pieces, cuts, page sizes)
            for k in range(count):
                left = count - k - 1
                nxt: dict[int, tuple] = {}
                for pos, (short, cuts, sizes) in layer.items():
                    for size in range(low, high + 1):
                        end = pos + size
                        if not left * low <= n - end <= left * high:
                            continue
                        layout, page_short = page(pos, end)
                        if layout is None:
                            continue
                        cand = (short + page_short, cuts + (end < n and end not in ends), sizes + (size,))
                        if end not in nxt or _better(cand, nxt[end]):
                            nxt[end] = cand
                layer = nxt
            if n in layer and (best is None or _better(layer[n], best)):
                best = layer[n]
        if best is not None:
            out, pos = [], 0
            for size in best[2]:
                out.append(page(pos, pos + size)[0])
                pos += size
            return out
    return None


def _better(a: tuple, b: tuple) -> bool:
    return (a[0], a[1], tuple(-s for s in a[2])) < (b[0], b[1], tuple(-s for s in b[2]))


def paginate(sections: list[tuple[str, list]], columns: int, capacity: int = COLUMN_UNITS) -> list[list[list[Segment]]]:
    """Pages of columns of segments: the fewest pages, rows spread evenly over them, each page's columns evened out."""
    sections = [(key, list(rows)) for key, rows in sections if rows]
    pieces = [Segment(key, tuple(rows), False, len(rows)) for key, rows in sections]
    if not pieces:
        return []
    full = _fill(pieces, capacity)
    pages = [full[i:i + columns] for i in range(0, len(full), columns)]
    if len(pages) > 1:
        filled = [sum(len(s.rows) for col in p for s in col) for p in pages]
        even = _even_split(sections, len(pages), columns, capacity, max(filled) - min(filled))
        if even is not None:
            return even
    return [_layout([s for col in p for s in col], columns, capacity) or p for p in pages]
