"""What a published quarter shows in public: its parsed snapshot, the members' public labels, sections and figures.

The noticeboard, the residents' query form and the demo read publications through this module (never the
board blueprint). Only published figures: the snapshot and adjustments JSON, never the ledger. Names are
labelled as privacy.py says, in the order of every list of the app (names.py).

A publication never changes, so its parsed snapshot is kept in the process, keyed by the publication
(id, hash, time); the board keeps its rendered pages beside it (``process_cache``).
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from . import privacy
from .db import db
from .models import Member, Publication
from .names import sort_key
from .templating import rounded

TYPE_ORDER = ("A", "B", "C", "D")
QUARTER_NAMES = {1: _l("First quarter"), 2: _l("Second quarter"), 3: _l("Third quarter"), 4: _l("Fourth quarter")}
CACHE_MAX = 256
# One home for the public caches (parsed snapshots here; the board's pages, responses and QR codes), emptied
# together: the name is the board's because the board came first, and the tests reset it by this name.
CACHE_KEY = "qscore_board_cache"


@dataclass(frozen=True)
class Parsed:
    """A publication's snapshot and adjustments, parsed once: both never change."""

    rows: tuple[dict, ...]
    adjustments: tuple[dict, ...]


def process_cache(name: str) -> dict:
    """One of the app's public caches (kept for the life of the process, at most CACHE_MAX entries)."""
    return current_app.extensions.setdefault(CACHE_KEY, {}).setdefault(name, {})


def remember(cache: dict, key, value):
    if len(cache) >= CACHE_MAX:
        cache.clear()
    cache[key] = value
    return value


def publication_key(pub: Publication) -> tuple:
    # The id alone would do in production (publications are never deleted); the hash and time keep
    # the key honest where a test database reuses ids.
    return pub.id, pub.sha256, pub.published_at.isoformat()


def parsed_publications(pubs: list[Publication]) -> dict[int, Parsed]:
    cache = process_cache("parsed")
    out: dict[int, Parsed] = {}
    missing = []
    for pub in pubs:
        hit = cache.get(publication_key(pub))
        if hit is None:
            missing.append(pub)
        else:
            out[pub.id] = hit
    if missing:
        texts = {i: (s, a) for i, s, a in db.session.execute(
            select(Publication.id, Publication.snapshot, Publication.adjustments)
            .where(Publication.id.in_([p.id for p in missing])))}
        for pub in missing:
            snapshot, adjustments = texts[pub.id]
            parsed = Parsed(tuple(json.loads(snapshot)), tuple(json.loads(adjustments or "[]")))
            out[pub.id] = remember(cache, publication_key(pub), parsed)
    return out


def booklet_numbers(parsed: dict[int, Parsed], mask: bool) -> dict[int, str]:
    """Booklet numbers of the members whose labels clash in their publication (only they need one)."""
    ids = set()
    for p in parsed.values():
        ids |= privacy.clashing(((r["member_id"], r["name"]) for r in p.rows), mask=mask)
    if not ids:
        return {}
    return dict(db.session.execute(select(Member.id, Member.booklet_no).where(Member.id.in_(ids))).all())


def member_labels(rows, booklets: dict[int, str], mask: bool) -> dict[int, str]:
    return privacy.labels(((r["member_id"], r["name"], booklets.get(r["member_id"], "")) for r in rows), mask=mask)


def labels_for(pub: Publication, *, mask: bool = True) -> dict[int, str]:
    """The public labels of one publication's members (the query form always uses masked ones)."""
    parsed = parsed_publications([pub])
    return member_labels(parsed[pub.id].rows, booklet_numbers(parsed, mask), mask)


def _sort_key(row: dict):
    # Within a type: the pinyin of the full name, as on every list of the app (names.py); then member id.
    return sort_key(row["name"]), row["name"], row["member_id"]


def member_sections(rows, labels: dict[int, str]) -> list[tuple[str, list[dict]]]:
    by_type: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_type[r["type"]].append(r)
    return [(code, [{"label": labels[r["member_id"]], "J": r["J"], "Z": r["Z"], "K": r["K"],
                     "quarter": r["quarter_total"], "year": r["year_to_date"], "dues": r.get("dues_paid") is True}
                    for r in sorted(by_type[code], key=_sort_key)])
            for code in TYPE_ORDER if by_type.get(code)]


def adjustment_sections(adjustments, labels: dict[int, str], mask: bool) -> list[tuple[str, list[dict]]]:
    """Per earlier quarter, each member's net change (an entry and its correction cancel out)."""
    net: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    names: dict[int, str] = {}
    for a in adjustments:
        net[(a["period"], a["member_id"])] += Decimal(str(a["points"]))
        names[a["member_id"]] = a.get("name", "")
    periods: dict[str, list[dict]] = defaultdict(list)
    for (period_, member_id), points in sorted(net.items()):
        if points == 0:
            continue
        label = labels.get(member_id) or (privacy.mask_name(names[member_id]) if mask else names[member_id])
        periods[period_].append({"label": label, "points": points})
    return sorted(periods.items())


def period_title(year: int, quarter: int) -> str:
    """"First quarter 2026" (in Chinese 2026年第一季度)."""
    return _l("%(quarter)s %(year)s", year=year, quarter=QUARTER_NAMES.get(quarter, quarter))


def period_of(text: str) -> str:
    """"2026-Q1" in words."""
    try:
        year, q = text.split("-Q")
        return str(period_title(int(year), int(q)))
    except ValueError:
        return text


def signed_points(value) -> str:
    """+3, −2 (a true minus sign, legible across a room), 0; one decimal only where needed."""
    d = rounded(value)
    text = f"{abs(d):f}".removesuffix(".0")
    if d > 0:
        return f"+{text}"
    return f"\u2212{text}" if d < 0 else "0"


def plain_points(value) -> str:
    d = rounded(value)
    text = f"{abs(d):f}".removesuffix(".0")
    return f"\u2212{text}" if d < 0 else text
