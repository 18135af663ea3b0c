"""The public noticeboard (公示栏): each branch's latest live publication, for the TV in the community office.

GET only, no login. Only published figures (the snapshots, never the live ledger); names masked as
privacy.py says; types shown as 第一类…第四类 only. The page polls /board/poll: while the street's
board version is unchanged that costs one indexed read and answers 204; otherwise it answers the new
slides, which htmx swaps in place. A poll from a page of another build (a deploy) reloads the page.
"""
from __future__ import annotations

import hashlib

from flask import Blueprint, abort, current_app, make_response, render_template, url_for
from flask_babel import get_locale
from sqlalchemy import select

from ..access import public
from .. import ROOT, __version__
from ..clock import today
from ..db import db
from ..fields import args_form
from ..htmx import is_htmx
from ..models import Branch, Community, Street
from ..board_version import current as board_version  # one read a second per process (see there)
from ..street_settings import all_settings
from ..public_snapshot import plain_points, process_cache, remember, signed_points
from .forms import BoardArgs, PollArgs
from .pages import COLUMN_UNITS, HEADING_UNITS, MEMBER_COLUMNS, paginate
from .slides import Scope, long_date, public_query_url, slides_for

# What the app, the bench and the tests use (what a snapshot shows in public is in public_snapshot.py).
__all__ = ["bp", "BUILD", "board_version", "COLUMN_UNITS", "HEADING_UNITS", "MEMBER_COLUMNS", "paginate",
           "public_query_url"]

bp = Blueprint("board", __name__)


def _build_id() -> str:
    """Changes with every deploy that changes the board: a page of an older build reloads itself."""
    h = hashlib.sha256(__version__.encode())
    files = [ROOT / "static" / "board.js", ROOT / "static" / "board.css",
             *sorted((ROOT / "templates" / "board").glob("*.html"))]
    for path in files:
        h.update(path.name.encode())
        h.update(path.read_bytes() if path.exists() else b"")
    return h.hexdigest()[:16]


BUILD = _build_id()


def _scope(street_id: int | None, community_id: int | None = None, branch_id: int | None = None) -> Scope:
    """The street (?street=, else the first), or one community, or one of its branches; 404 otherwise."""
    if community_id is not None:
        community = db.session.get(Community, community_id)
        if community is None or community.retired or (street_id is not None and community.street_id != street_id):
            abort(404)
        branch = None
        if branch_id is not None:
            branch = db.session.get(Branch, branch_id)
            if branch is None or branch.retired or branch.community_id != community.id:
                abort(404)
        return Scope(db.session.get(Street, community.street_id), community, branch)
    if street_id is not None:
        street = db.session.get(Street, street_id)
    else:
        street = db.session.scalar(select(Street).order_by(Street.id).limit(1))
    if street is None:
        abort(404)
    return Scope(street)


def _context(scope: Scope, version: str) -> dict:
    # The version was read first: a publication made meanwhile shows at the next poll.
    settings = all_settings(scope.street.id)
    slides = slides_for(scope, settings)
    day = today()
    poll_seconds = max(1, int(current_app.config.get("BOARD_POLL_SECONDS", 10)))
    rotate = max(5, int(settings.get("board_rotation_seconds") or 20))
    poll_url = url_for("board.poll", **scope.poll_args(), v=version, d=day.isoformat(), build=BUILD)
    return {"scope": scope, "slides": slides, "settings": settings, "poll_url": poll_url,
            "poll_seconds": poll_seconds, "poll_timeout_ms": min(poll_seconds * 1000, 30000),
            "rotate_seconds": rotate, "day": day, "build": BUILD, "format_date": long_date,
            "signed_points": signed_points, "plain_points": plain_points}


def _no_cache(resp):
    # The board holds no private data, but a screen must never show a stale copy: revalidate always.
    resp.headers["Cache-Control"] = "no-cache"
    return resp


def _street_of(community_id: int) -> int | None:
    """The street a community belongs to (that never changes: remembered per process)."""
    known = process_cache("street_of")
    if community_id not in known:
        street_id = db.session.scalar(select(Community.street_id).where(Community.id == community_id))
        if street_id is None:
            return None
        remember(known, community_id, street_id)
    return known[community_id]


def _render(street_id: int | None, community_id: int | None = None, branch_id: int | None = None,
            fragment: bool | None = None):
    """The board page (or its live fragment), rendered once per board version, day and language.

    Everything the board shows changes the street's board version when it changes (publications,
    retractions, queries, settings, names: publication.py), so one indexed read tells whether the
    bytes rendered last time are still the board; only then is anything else read.
    """
    fragment = is_htmx() if fragment is None else fragment
    if community_id is not None:
        street_id = _street_of(community_id)
        if street_id is None:
            abort(404)
    version = board_version(street_id)
    key = (street_id, community_id, branch_id, fragment, version, today(), str(get_locale()), BUILD,
           current_app.config.get("BOARD_POLL_SECONDS"))
    cache = process_cache("responses")
    body = cache.get(key)
    if body is None:
        scope = _scope(street_id, community_id, branch_id)
        context = _context(scope, version)
        body = remember(cache, key, render_template(
            "board/_slides.html" if fragment else "board/index.html", **context).encode())
    resp = make_response(body)
    resp.mimetype = "text/html"
    resp.vary.add("HX-Request")
    return _no_cache(resp)


@bp.get("/board")
@public
def index():
    return _render(args_form(BoardArgs).street.data)


@bp.get("/board/<int:community_id>")
@public
def community(community_id: int):
    return _render(None, community_id)


@bp.get("/board/<int:community_id>/<int:branch_id>")
@public
def branch(community_id: int, branch_id: int):
    return _render(None, community_id, branch_id)


@bp.get("/board/poll")
@public
def poll():
    """204 while nothing changed (one indexed read); the new slides when it did; a reload after a deploy."""
    args = args_form(PollArgs)
    if args.build.data != BUILD:
        resp = make_response("", 204)
        resp.headers["HX-Refresh"] = "true"
        return _no_cache(resp)
    street_id = args.street.data
    if board_version(street_id) == args.v.data and args.d.data == today().isoformat():
        return _no_cache(make_response("", 204))
    community_id = args.community.data
    if community_id is not None and _street_of(community_id) != street_id:
        abort(404)
    return _render(street_id, community_id, args.branch.data, fragment=True)
