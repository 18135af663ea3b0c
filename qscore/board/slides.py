"""What the board shows: each branch's latest live publication, its pages (cached), counts and QR code.

Only published figures, read through public_snapshot.py (the snapshot and adjustments JSON of the
publication, never the ledger). A publication's figures never change, so its rendered pages are cached
in the process, keyed by the publication (id, hash, time), the language, the name setting and the
booklet numbers its clashing names use. Dates, contacts and query counts are rendered outside.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton
from flask import current_app, render_template, url_for
from flask_babel import format_date, get_locale, gettext as _
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import load_only

from .. import qr
from ..db import db
from ..models import Branch, Community, Publication, ResidentQuery, Street
from ..public_snapshot import (Parsed, adjustment_sections, booklet_numbers, member_labels, member_sections,
                               parsed_publications, period_of, period_title, plain_points, process_cache,
                               publication_key, remember, signed_points)
from .pages import ADJUSTMENT_COLUMNS, ADJUSTMENT_UNITS, MEMBER_COLUMNS, paginate


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


def rows_on(page) -> int:
    """The members (or adjustment lines) on one page, for its data-rows attribute."""
    return sum(len(seg.rows) for column in page for seg in column)


def pages_html(pub: Publication, parsed: Parsed, booklets: dict[int, str], mask: bool,
               dues: bool = False) -> tuple[Markup, int]:
    """The member and adjustment pages of a publication: its figures never change, so they are cached.
    ``dues``: the street shows "党费已交" — from what the publication froze, when it froze it (never live data)."""
    locale = str(get_locale())
    relevant = tuple(sorted((r["member_id"], booklets[r["member_id"]]) for r in parsed.rows
                            if r["member_id"] in booklets))
    dues = dues and any("dues_paid" in r for r in parsed.rows)
    key = (*publication_key(pub), locale, mask, relevant, dues)
    cache = process_cache("pages")
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
        page_total=max(total, 1), period_of=period_of, plain_points=plain_points, show_dues=dues,
        signed_points=signed_points, rows_on=rows_on))
    return remember(cache, key, (html, max(total, 1)))


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
    cache = process_cache("qr")
    hit = cache.get(url)
    if hit is not None:
        return hit
    return remember(cache, url, qr.qr_svg(url, css_class="board-qr-code", border=2))


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
        html, page_count = pages_html(pub, parsed[pub.id], booklets, mask, bool(settings["board_dues_paid"]))
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


def long_date(value: date) -> str:
    return format_date(value, "long")


def date_range(start: date, end: date) -> str:
    """"2026年4月15日 至 4月20日": the year once when both days are in it."""
    end_text = format_skeleton("MMMd", end, locale=get_locale()) if end.year == start.year else long_date(end)
    return _("%(start)s to %(end)s", start=long_date(start), end=end_text)
