"""Use of results: the confirmed advanced members per community (for commendation and the street's
and district's selections), and the red-flag branch ranking (红旗党支部) the street chooses from."""
from __future__ import annotations


from flask import flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..access import requires, SECRETARIES, STREET_ADMIN
from ..access import branches_in_scope, user
from ..clock import today
from ..db import db
from ..fields import refusals
from ..models import Branch, Community, Member, ReviewGrade, Setting, YearReview
from ..scheme_versions import scheme_for_year
from ..scoring import BRANCH_INDEX_COMPONENTS
from . import bp
from .forms import RedFlagForm
from .grading import check_red_flag_choice, choose_red_flag, red_flag_key, red_flag_ranking
from .rules import ReviewError
from .views import year_or_404


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


def _page(year: int, status: int = 200, error: str = "", values: dict | None = None):
    ranking = red_flag_ranking(current_user.street_id, year, today())  # the street admin's scope is the street
    stored = db.session.scalar(select(Setting).where(Setting.street_id == current_user.street_id,
                                                     Setting.key == red_flag_key(year)))
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
    chosen = [] if form.branch.errors else form.branch.data or []
    values = {"chosen": [str(c) for c in chosen], "note": form.note._value()}
    u = user()
    try:
        if form.errors:
            check_red_flag_choice(u.street_id, year, chosen, today=today())  # the year and the ids say so first
            return _page(year, 422, next(iter(refusals(form).values())), values)
        choose_red_flag(u.street_id, year, chosen, form.note.data or "", by=u, today=today())
    except ReviewError as err:
        db.session.rollback()
        if err.status == 409:
            flash(err.text(_), "error")
            return _page(year, 409, values=values)
        return _page(year, err.status, err.text(_), values)
    db.session.commit()
    flash(_("The red-flag branches of %(year)d are recorded.", year=year), "success")
    return redirect(url_for("review.red_flag", year=year))
