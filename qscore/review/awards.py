"""Use of results: the confirmed advanced members per community (for commendation and the street's
and district's selections), and the red-flag branch ranking (红旗党支部) the street chooses from."""
from __future__ import annotations


from flask import current_app, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..access import requires, SECRETARIES, STREET_ADMIN
from .. import audit
from ..access import branches_in_scope, user
from ..clock import today
from ..db import db
from ..fields import refusals
from ..models import Branch, Community, Member, ReviewGrade, Setting, YearReview
from ..models._common import utcnow
from ..scheme_versions import scheme_for_year
from ..scoring import BRANCH_INDEX_COMPONENTS, branch_indices, rank_branch_indices
from . import bp
from .forms import RedFlagForm
from .views import year_or_404
from .workflow import ReviewError


def _advanced(year: int):
    """Confirmed advanced members of the branches in scope, grouped by community (name order)."""
    rows = db.session.execute(
        branches_in_scope().with_only_columns(Community, Branch, Member, ReviewGrade)
        .join(YearReview, YearReview.branch_id == Branch.id)
        .join(ReviewGrade, ReviewGrade.review_id == YearReview.id)
        .join(Member, Member.id == ReviewGrade.member_id)
        .where(YearReview.year == year, YearReview.status == "confirmed", ReviewGrade.grade == "advanced")
        .order_by(Community.name, Branch.name, Member.name_key, Member.name, Member.id)).all()
    grouped: dict[int, tuple[Community, list]] = {}
    for community, branch, member, grade in rows:
        grouped.setdefault(community.id, (community, []))[1].append((branch, member, grade))
    confirmed = db.session.execute(
        branches_in_scope().with_only_columns(Branch.id, YearReview.status)
        .outerjoin(YearReview, (YearReview.branch_id == Branch.id) & (YearReview.year == year))
        .where(Branch.retired.is_(False))).all()
    missing = sum(1 for _b, status in confirmed if status != "confirmed")
    return list(grouped.values()), missing


@bp.get("/review/commendations/<int:year>")
@requires(SECRETARIES)
def commendations(year: int):
    year_or_404(year)
    groups, missing = _advanced(year)
    return render_template("review/commendations.html", groups=groups, missing=missing, year=year, day=today())


@bp.get("/review/commendations/<int:year>/print")
@requires(SECRETARIES)
def commendations_print(year: int):
    year_or_404(year)
    groups, missing = _advanced(year)
    return render_template("review/commendations_print.html", groups=groups, missing=missing, year=year, day=today())


def _ranking(year: int):
    branches = {b.id: (b, c) for b, c in db.session.execute(
        branches_in_scope().add_columns(Community).where(Branch.retired.is_(False)))}
    indices = branch_indices(db.session, scheme_for_year(year), year, today(), list(branches),
                             current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return [(rank, bi, *branches[bi.branch_id]) for rank, bi in rank_branch_indices(indices.values())]


def _key(year: int) -> str:
    return f"red_flag_{year}"


def _page(year: int, status: int = 200, error: str = "", values: dict | None = None):
    ranking = _ranking(year)
    stored = db.session.scalar(select(Setting).where(Setting.street_id == current_user.street_id,
                                                     Setting.key == _key(year)))
    scheme = scheme_for_year(year)
    resp = make_response(render_template(
        "review/red_flag.html", ranking=ranking, year=year, day=today(), stored=stored.value if stored else None,
        components=BRANCH_INDEX_COMPONENTS, weights=scheme.branch_index_weights, error=error,
        values=values or {}), status)
    return resp


@bp.get("/review/red-flag/<int:year>")
@requires(STREET_ADMIN)
def red_flag(year: int):
    year_or_404(year)
    return _page(year)


@bp.post("/review/red-flag/<int:year>")
@requires(STREET_ADMIN)
def red_flag_choose(year: int):
    """Record the chosen branches with a note; the computed ranking is stored beside the choice."""
    year_or_404(year)
    form = RedFlagForm()
    form.validate()
    chosen = form.branch.data or []
    values = {"chosen": [str(c) for c in chosen], "note": form.note._value()}
    if year >= today().year:
        flash(ReviewError("year_not_ended", year=year).text(_), "error")
        return _page(year, 409, values=values)
    ranking = _ranking(year)
    known = {bi.branch_id for _r, bi, _b, _c in ranking}
    if form.branch.errors or not chosen or any(c not in known for c in chosen):
        return _page(year, 422, ReviewError("choose_branches").text(_), values)
    if form.errors:
        return _page(year, 422, next(iter(refusals(form).values())), values)
    computed = [{"rank": rank, "branch_id": bi.branch_id, "branch": b.name, "community": c.name,
                 "index": str(bi.rounded(places=4)),
                 "components": {k: str(bi.rounded(k, places=4)) for k in BRANCH_INDEX_COMPONENTS}}
                for rank, bi, b, c in ranking]
    u = user()
    value = {"year": year, "computed": computed, "chosen": sorted(set(chosen)), "note": form.note.data or "",
             "recorded_by_id": u.id, "recorded_by": u.display_name or u.username,
             "recorded_at": utcnow().isoformat(timespec="seconds")}
    row = db.session.scalar(select(Setting).where(Setting.street_id == u.street_id, Setting.key == _key(year)))
    before = row.value if row else None
    if row is None:
        row = Setting(street_id=u.street_id, key=_key(year), value=value)
        db.session.add(row)
    else:
        row.value = value
    db.session.flush()
    audit.record("red_flag_chosen", row, before=before, after={"chosen": value["chosen"], "note": value["note"]},
                 summary=f"{year}: branches {value['chosen']}")
    db.session.commit()
    flash(_("The red-flag branches of %(year)d are recorded.", year=year), "success")
    return redirect(url_for("review.red_flag", year=year))
