"""Names on the public board (docs/privacy.md, "The public noticeboard"): pure functions, no database.

Two characters: 张*; three or more: first and last with * between (王秀英 → 王*英, 欧阳明华 → 欧*华).
Two members of a branch whose labels are equal get the last two digits of their booklet numbers,
王*英(07); if that still does not tell them apart, a running number in member-id order, 王*英(1).
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

MASK = "*"


def mask_name(name: str) -> str:
    """The masked form of one name; a one-character name keeps its character (there is nothing to hide behind)."""
    name = (name or "").strip()
    if len(name) <= 2:
        return name[:1] + MASK if name else MASK
    return name[0] + MASK + name[-1]


def booklet_suffix(booklet_no: str) -> str:
    """The last two digits of a booklet number ("QJ-0107" → "07", "7" → "07"), or "" when it has no digits."""
    digits = re.sub(r"\D", "", booklet_no or "")
    return digits[-2:].zfill(2) if digits else ""


def labels(members: Iterable[tuple[int, str, str]], *, mask: bool = True) -> dict[int, str]:
    """Public labels for the members of one branch, keyed by member id.

    ``members`` are (member_id, name, booklet_no). With ``mask`` False the full names are shown,
    and equal full names are told apart the same way.
    """
    base: dict[int, str] = {}
    booklets: dict[int, str] = {}
    for member_id, name, booklet_no in members:
        base[member_id] = mask_name(name) if mask else (name or "").strip()
        booklets[member_id] = booklet_no or ""
    groups: dict[str, list[int]] = defaultdict(list)
    for member_id in sorted(base):
        groups[base[member_id]].append(member_id)
    out = dict(base)
    for label, ids in groups.items():
        if len(ids) < 2:
            continue
        suffixes = {i: booklet_suffix(booklets[i]) for i in ids}
        counts: dict[str, int] = defaultdict(int)
        for s in suffixes.values():
            counts[s] += 1
        running = 0
        for i in ids:
            s = suffixes[i]
            if s and counts[s] == 1:
                out[i] = f"{label}({s})"
            else:
                running += 1
                out[i] = f"{label}({running})"
    return out


def clashing(members: Iterable[tuple[int, str]], *, mask: bool = True) -> set[int]:
    """Ids of members whose label clashes with another's (only these need their booklet numbers)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for member_id, name in members:
        groups[mask_name(name) if mask else (name or "").strip()].append(member_id)
    return {i for ids in groups.values() if len(ids) > 1 for i in ids}
