"""The board's pages: sections (a type, or an adjusted quarter) flowed into columns, columns into pages.

Laid out for a 1920×1080 screen with names at 36 px: two columns of COLUMN_UNITS rows each, where a
section heading with its table head takes HEADING_UNITS rows. A branch with more members than fit
pages through them; each page's columns are evened out, cutting as few sections as possible.
"""
from __future__ import annotations

from dataclasses import dataclass

MEMBER_COLUMNS = 2
ADJUSTMENT_COLUMNS = 3
COLUMN_UNITS = 12
ADJUSTMENT_UNITS = 10  # the adjustment pages' title and lead take two rows
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


def _tidy(columns: list[list[Segment]]) -> bool:
    return all(len(s.rows) >= MIN_PIECE or len(s.rows) == s.total for col in columns for s in col)


def _merge(segments: list[Segment]) -> list[Segment]:
    out: list[Segment] = []
    for s in segments:
        if out and out[-1].key == s.key:
            out[-1] = Segment(s.key, out[-1].rows + s.rows, out[-1].continued, s.total)
        else:
            out.append(s)
    return out


def _balance(page: list[list[Segment]], columns: int, capacity: int) -> list[list[Segment]]:
    """The page's rows spread over its columns: fewest sections cut in two, then the lowest column height."""
    pieces = _merge([s for col in page for s in col])
    best, best_key = page, None
    for c in range(HEADING_UNITS + 1, capacity + 1):
        trial = _fill(pieces, c)
        if len(trial) <= columns and _tidy(trial):
            key = (sum(len(col) for col in trial), c)  # segments beyond the pieces are cuts
            if best_key is None or key < best_key:
                best, best_key = trial, key
    return best


def paginate(sections: list[tuple[str, list]], columns: int, capacity: int = COLUMN_UNITS) -> list[list[list[Segment]]]:
    """Pages of columns of segments: the fewest pages at full height, then each page's columns evened out."""
    pieces = [Segment(key, tuple(rows), False, len(rows)) for key, rows in sections if rows]
    if not pieces:
        return []
    full = _fill(pieces, capacity)
    return [_balance(full[i:i + columns], columns, capacity) for i in range(0, len(full), columns)]
