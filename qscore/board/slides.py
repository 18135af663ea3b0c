"""What the board shows: each branch's latest live publication, its pages (cached), counts and QR code.

Only published figures: the snapshot and adjustments JSON of the publication, never the ledger.
A publication's figures never change, so its parsed snapshot and its rendered pages are cached in
the process, keyed by the publication (id, hash, time), the language, the name setting and the
booklet numbers its clashing names use. Dates, contacts and query counts are rendered outside.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import segno
from babel.dates import format_skeleton
from flask import current_app, render_template, url_for
from flask_babel import format_date, get_locale, gettext as _, lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import load_only

from .. import privacy
from ..db import db
from ..models import Branch, Community, Member, Publication, ResidentQuery, Street
from ..names import sort_key
from .pages import ADJUSTMENT_COLUMNS, ADJUSTMENT_UNITS, MEMBER_COLUMNS, paginate

TYPE_ORDER = ("A", "B", "C", "D")
QUARTER_NAMES = {1: _l("First quarter"), 2: _l("Second quarter"), 3: _l("Third quarter"), 4: _l("Fourth quarter")}
CACHE_MAX = 256


@dataclass(frozen=True)
class Scope:
    """What a screen shows: the street, one community, or one branch."""

    street: Street
    community: Community | None = None
    branch: Branch | None = None

    def poll_args(self) -> dict[str, int]:
        args = {"street": self.street.id}
        if self.community is not None:
            args["community"] = self.community.id
        if self.branch is not None:
            args["branch"] = self.branch.id
        return args


@dataclass(frozen=True)
class Parsed:
    """A publication's snapshot and adjustments, parsed once: both never change."""

    rows: tuple[dict, ...]
    adjustments: tuple[dict, ...]


@dataclass
class Slide:
    publication: Publication
    branch: Branch
    community: Community
    title: str
    published_on: date
    supervision: str
    pages_html: Markup
    page_count: int
    received: int
    answered: int
    query_url: str
    qr_svg: Markup | None


def _cache(name: str) -> dict:
    return current_app.extensions.setdefault("qscore_board_cache", {}).setdefault(name, {})


def _remember(cache: dict, key, value):
    if len(cache) >= CACHE_MAX:
        cache.clear()
    cache[key] = value
    return value


def _pub_key(pub: Publication) -> tuple:
    # The id alone would do in production (publications are never deleted); the hash and time keep
    # the key honest where a test database reuses ids.
    return pub.id, pub.sha256, pub.published_at.isoformat()


def latest_publications(scope: Scope) -> list[tuple[Publication, Branch, Community]]:
    """Each branch's latest live (not retracted) publication in the scope, communities then branches by id."""
    yq = Publication.year * 10 + Publication.quarter
    latest = (select(Publication.branch_id, func.max(yq).label("yq"))
              .where(Publication.retracted_at.is_(None)).group_by(Publication.branch_id).subquery())
    stmt = (select(Publication, Branch, Community)
            .join(Branch, Branch.id == Publication.branch_id)
            .join(Community, Community.id == Branch.community_id)
            .join(latest, (latest.c.branch_id == Publication.branch_id) & (latest.c.yq == yq))
            .where(Publication.retracted_at.is_(None), Community.street_id == scope.street.id,
                   Community.retired.is_(False), Branch.retired.is_(False))
            .options(load_only(Publication.id, Publication.branch_id, Publication.year, Publication.quarter,
                               Publication.published_at, Publication.supervision_ends_on, Publication.sha256,
                               Publication.meeting_on,
                               Publication.retracted_at))
            .order_by(Community.id, Branch.id, Publication.published_at.desc(), Publication.id.desc()))
    if scope.community is not None:
        stmt = stmt.where(Community.id == scope.community.id)
    if scope.branch is not None:
        stmt = stmt.where(Branch.id == scope.branch.id)
    seen: set[int] = set()
    out = []
    for pub, branch, community in db.session.execute(stmt):
        if branch.id not in seen:  # one live publication per quarter; if ever two, the later one
            seen.add(branch.id)
            out.append((pub, branch, community))
    return out


def parsed_publications(pubs: list[Publication]) -> dict[int, Parsed]:
    cache = _cache("parsed")
    out: dict[int, Parsed] = {}
    missing = []
    for pub in pubs:
        hit = cache.get(_pub_key(pub))
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
            out[pub.id] = _remember(cache, _pub_key(pub), parsed)
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
                     "quarter": r["quarter_total"], "year": r["year_to_date"]}
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
    d = Decimal(str(value)).quantize(Decimal("0.1"))
    text = f"{abs(d):f}".removesuffix(".0")
    if d > 0:
        return f"+{text}"
    return f"\u2212{text}" if d < 0 else "0"


def plain_points(value) -> str:
    d = Decimal(str(value)).quantize(Decimal("0.1"))
    text = f"{abs(d):f}".removesuffix(".0")
    return f"\u2212{text}" if d < 0 else text


def rows_on(page) -> int:
    """The members (or adjustment lines) on one page, for its data-rows attribute."""
    return sum(len(seg.rows) for column in page for seg in column)


def pages_html(pub: Publication, parsed: Parsed, booklets: dict[int, str], mask: bool) -> tuple[Markup, int]:
    """The member and adjustment pages of a publication: its figures never change, so they are cached."""
    locale = str(get_locale())
    relevant = tuple(sorted((r["member_id"], booklets[r["member_id"]]) for r in parsed.rows
                            if r["member_id"] in booklets))
    key = (*_pub_key(pub), locale, mask, relevant)
    cache = _cache("pages")
    hit = cache.get(key)
    if hit is not None:
        return hit
    labels = member_labels(parsed.rows, booklets, mask)
    member_pages = paginate(member_sections(parsed.rows, labels), MEMBER_COLUMNS)
    adjustment_pages = paginate(adjustment_sections(parsed.adjustments, labels, mask), ADJUSTMENT_COLUMNS,
                                ADJUSTMENT_UNITS)
    total = len(member_pages) + len(adjustment_pages)
    html = Markup(render_template(
        "board/_pages.html", pub=pub, member_pages=member_pages, adjustment_pages=adjustment_pages,
        page_total=max(total, 1), period_of=period_of, plain_points=plain_points,
        signed_points=signed_points, rows_on=rows_on))
    return _remember(cache, key, (html, max(total, 1)))


def query_counts(pub_ids: list[int]) -> dict[int, tuple[int, int]]:
    if not pub_ids:
        return {}
    rows = db.session.execute(
        select(ResidentQuery.publication_id, func.count(), func.count(ResidentQuery.answered_at))
        .where(ResidentQuery.publication_id.in_(pub_ids)).group_by(ResidentQuery.publication_id))
    return {pid: (received, answered) for pid, received, answered in rows}


def public_query_url(base: str, publication_id: int) -> str:
    """``<query_public_url>?pub=<id>`` (keeping any query string the configured address has)."""
    parts = urlsplit(base.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "pub"]
    query.append(("pub", str(publication_id)))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def qr_svg(url: str) -> Markup:
    """An inline SVG QR code, generated here (never fetched from elsewhere); cached per address."""
    cache = _cache("qr")
    hit = cache.get(url)
    if hit is not None:
        return hit
    svg = segno.make(url, error="m", micro=False).svg_inline(
        scale=1, border=2, dark="#000", light="#fff", omitsize=True, svgclass="board-qr-code",
        lineclass=None, title=None)
    svg = svg.replace("<svg ", '<svg aria-hidden="true" focusable="false" ', 1)
    return _remember(cache, url, Markup(svg))


def local_date(value: datetime) -> date:
    tz = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return value.replace(tzinfo=ZoneInfo("UTC")).astimezone(tz).date()


def slides_for(scope: Scope, settings: dict) -> list[Slide]:
    found = latest_publications(scope)
    if not found:
        return []
    mask = bool(settings["mask_names"])
    pubs = [p for p, _b, _c in found]
    parsed = parsed_publications(pubs)
    booklets = booklet_numbers(parsed, mask)
    counts = query_counts([p.id for p in pubs])
    base = (settings.get("query_public_url") or "").strip()
    slides = []
    for pub, branch, community in found:
        html, page_count = pages_html(pub, parsed[pub.id], booklets, mask)
        received, answered = counts.get(pub.id, (0, 0))
        public_url = public_query_url(base, pub.id) if base else ""
        slides.append(Slide(
            publication=pub, branch=branch, community=community, title=str(period_title(pub.year, pub.quarter)),
            published_on=local_date(pub.published_at),
            supervision=date_range(local_date(pub.published_at), pub.supervision_ends_on),
            pages_html=html, page_count=page_count,
            received=received, answered=answered,
            query_url=public_url or url_for("queries.new", pub=pub.id),
            qr_svg=qr_svg(public_url) if public_url else None))
    return slides


def _long_date(value: date) -> str:
    return format_date(value, "long")


def date_range(start: date, end: date) -> str:
    """"2026年4月15日 至 4月20日": the year once when both days are in it."""
    end_text = format_skeleton("MMMd", end, locale=get_locale()) if end.year == start.year else _long_date(end)
    return _("%(start)s to %(end)s", start=_long_date(start), end=end_text)
