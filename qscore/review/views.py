"""The review page of a branch and year: built for the meeting, inline decisions, lock, print, export."""
from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from ..access import requires, SECRETARIES, STREET_ADMIN
from ..access import has_role, branches_in_scope, get_branch_or_404, refuse_own_record, user
from ..clock import today
from ..db import db
from ..errors import render_error
from ..exports import download, write_xlsx
from ..fields import as_typed, refusals
from ..htmx import is_htmx
from ..models import Branch, Community, Member, Proposal, Publication, RectificationCase, YearReview
from ..publication import live_publication
from ..scheme_versions import scheme_for_year
from . import bp
from .data import ReviewData, case_alerts, load_rows, review_counts, review_data, roll_ids
from .export import grade_table
from .forms import GradeForm, MeetingForm, ReasonForm
from .grading import (confirm_remaining, get_review, grade_member, lock_review, open_review, record_review_meeting,
                      reopen_review)
from .rules import GRADES, ReviewError


def year_or_404(year: int) -> None:
    if not (2000 <= year <= today().year):
        abort(404)


def error_response(err: ReviewError, page=None):
    """A refusal: htmx gets the error fragment (shown as a toast), a form post the page with a message."""
    db.session.rollback()
    if is_htmx() or page is None:
        return render_error(err.status, err.text(_))
    flash(err.text(_), "error")
    resp = make_response(page())
    resp.status_code = err.status
    return resp


@bp.get("/review")
@requires(SECRETARIES)
def index():
    """Every branch in scope × recent years, with the state of its review; alerts and queues."""
    day = today()
    years = [day.year - 2, day.year - 1, day.year]
    branches = db.session.execute(
        branches_in_scope().add_columns(Community.name).where(Branch.retired.is_(False))
        .order_by(Community.name, Branch.name)).all()
    ids = [b.id for b, _c in branches]
    reviews = {(r.branch_id, r.year): r for r in db.session.scalars(select(YearReview).where(
        YearReview.branch_id.in_(ids), YearReview.year.in_(years)))} if ids else {}
    q4 = {(p.branch_id, p.year) for p in db.session.scalars(select(Publication).where(
        Publication.branch_id.in_(ids), Publication.year.in_(years), Publication.quarter == 4,
        Publication.retracted_at.is_(None)))} if ids else set()
    pending = None
    if has_role(STREET_ADMIN):
        pending = db.session.scalar(select(func.count()).select_from(Proposal)
                                    .join(RectificationCase, RectificationCase.id == Proposal.case_id)
                                    .join(Member, Member.id == RectificationCase.member_id)
                                    .where(Proposal.status == "pending", Member.street_id == current_user.street_id))
    return render_template("review/index.html", branches=branches, years=years, reviews=reviews, q4=q4, day=day,
                           alerts=case_alerts(user(), day), pending=pending)


def _branch(branch_id: int, year: int) -> tuple[Branch, Community]:
    branch, community = get_branch_or_404(branch_id)
    year_or_404(year)
    return branch, community


def _context(branch_id: int, year: int) -> tuple[Branch, Community, YearReview | None]:
    branch, community = _branch(branch_id, year)
    return branch, community, get_review(branch.id, year)


def _page(branch_id: int, year: int, **extra):
    branch, community, review = _context(branch_id, year)
    data = review_data(branch, community, year, today(), review)
    resp = make_response(render_template("review/page.html", data=data, branch=branch, community=community,
                                         year=year, own_member_id=current_user.member_id,
                                         errors=extra.pop("errors", {}), values=extra.pop("values", {}), **extra))
    resp.vary.add("HX-Request")
    return resp


@bp.get("/branches/<int:branch_id>/review/<int:year>")
@requires(SECRETARIES)
def page(branch_id: int, year: int):
    return _page(branch_id, year)


@bp.post("/branches/<int:branch_id>/review/<int:year>/meeting")
@requires(SECRETARIES)
def meeting(branch_id: int, year: int):
    branch, _community = _branch(branch_id, year)
    form = MeetingForm()
    values = as_typed(form)
    try:
        if not form.validate_on_submit():
            open_review(branch, year)  # a review closed to writes says so before the form's messages
            return _page(branch_id, year, errors=refusals(form), values=values), 422
        record_review_meeting(branch, year, meeting_on=form.meeting_on.data, present=form.present.data,
                              total=form.total.data, chair=form.chair.data or "", minutes=form.minutes.data or "",
                              by=user(), today=today())
    except ReviewError as err:
        if err.status == 422:
            db.session.rollback()
            return _page(branch_id, year, errors={err.field or "meeting_on": err.text(_)}, values=values), 422
        return error_response(err, lambda: _page(branch_id, year, values=values))
    db.session.commit()
    flash(_("The meeting is recorded."), "success")
    return redirect(url_for("review.page", branch_id=branch.id, year=year))


def _member_on_roll_or_404(branch: Branch, year: int, member_id: int) -> Member:
    member = db.session.get(Member, member_id)
    if member is None or member_id not in roll_ids(branch.id, year):
        abort(404)
    return member


def _row_response(branch: Branch, community: Community, year: int, member: Member, *, mode: str = "row",
                  status: int = 200, oob: bool = False, **extra):
    """One row of the table (display or override form), plus the counts and lock panel out of band."""
    review = get_review(branch.id, year)
    scheme = scheme_for_year(year)
    row = load_rows(branch.id, year, today(), scheme, review, only=[member.id])[0]
    q4 = live_publication(branch.id, year, 4)
    editable = q4 is not None and (review is None or review.status != "confirmed")
    template = "review/_row.html" if mode == "row" else "review/_row_form.html"
    context = dict(r=row, rows=[row], branch=branch, year=year, editable=editable,
                   own_member_id=current_user.member_id, scheme=scheme, grades=GRADES, users={}, **extra)
    body = render_template(template, **context)
    if oob:
        data = ReviewData(branch, community, year, today(), scheme, review, q4, [],
                          review_counts(review, roll_ids(branch.id, year)))
        body += render_template("review/_oob.html", data=data, branch=branch, year=year)
    resp = make_response(body, status)
    resp.vary.add("HX-Request")
    return resp


@bp.get("/branches/<int:branch_id>/review/<int:year>/members/<int:member_id>")
@requires(SECRETARIES)
def row(branch_id: int, year: int, member_id: int):
    branch, community = _branch(branch_id, year)
    return _row_response(branch, community, year, _member_on_roll_or_404(branch, year, member_id))


@bp.get("/branches/<int:branch_id>/review/<int:year>/members/<int:member_id>/override")
@requires(SECRETARIES)
def override_form(branch_id: int, year: int, member_id: int):
    branch, community = _branch(branch_id, year)
    member = _member_on_roll_or_404(branch, year, member_id)
    try:
        open_review(branch, year)
    except ReviewError as err:
        return error_response(err)
    refuse_own_record(member.id)
    return _row_response(branch, community, year, member, mode="form", values={}, errors={})


@bp.post("/branches/<int:branch_id>/review/<int:year>/members/<int:member_id>/grade")
@requires(SECRETARIES)
def grade(branch_id: int, year: int, member_id: int):
    """Confirm the suggestion in one click (action=confirm), or decide another grade with a reason."""
    branch, community = _branch(branch_id, year)
    member = _member_on_roll_or_404(branch, year, member_id)
    form = GradeForm()
    values = {k: v for k, v in as_typed(form).items() if k in ("grade", "reason")}
    try:
        if not form.validate_on_submit():
            open_review(branch, year)  # a review closed to writes says so before the form's messages
            refused = refusals(form)
            if not {"grade", "reason"} & refused.keys():  # the row form shows those two fields' messages
                refused["grade"] = next(iter(refused.values()))
            return _refused_grade(branch, community, year, member, refused, values)
        grade_member(branch, year, member, confirm=form.action.data == "confirm", grade=form.grade.data or "",
                     reason=form.reason.data or "", by=user(), today=today())
    except ReviewError as err:
        if err.status == 422:
            return _refused_grade(branch, community, year, member, {err.field or "grade": err.text(_)}, values)
        db.session.rollback()
        return error_response(err, lambda: _page(branch_id, year))
    db.session.commit()
    if not is_htmx():
        return redirect(url_for("review.page", branch_id=branch.id, year=year))
    return _row_response(branch, community, year, member, oob=True, saved=True)


def _refused_grade(branch: Branch, community: Community, year: int, member: Member, errors: dict[str, str],
                   values: dict[str, str]):
    """The override form again with its messages (htmx), or the page with the first message."""
    db.session.rollback()
    if not is_htmx():
        flash(next(iter(errors.values())), "error")
        return _page(branch.id, year), 422
    return _row_response(branch, community, year, member, mode="form", status=422, values=values, errors=errors)


@bp.post("/branches/<int:branch_id>/review/<int:year>/confirm-all")
@requires(SECRETARIES)
def confirm_all(branch_id: int, year: int):
    """Confirm the suggestion of every member without a decision (the common case)."""
    branch, community = _branch(branch_id, year)
    try:
        confirm_remaining(branch, year, by=user(), today=today())
    except ReviewError as err:
        return error_response(err, lambda: _page(branch_id, year))
    db.session.commit()
    if not is_htmx():
        return redirect(url_for("review.page", branch_id=branch.id, year=year))
    data = review_data(branch, community, year, today(), get_review(branch.id, year))
    body = render_template("review/_rows.html", data=data, branch=branch, year=year,
                           own_member_id=current_user.member_id, grades=GRADES)
    body += render_template("review/_oob.html", data=data, branch=branch, year=year)
    resp = make_response(body)
    resp.vary.add("HX-Request")
    return resp


@bp.post("/branches/<int:branch_id>/review/<int:year>/confirm")
@requires(SECRETARIES)
def confirm(branch_id: int, year: int):
    """Lock the review: grades final, with who, when and the meeting; rectification cases open."""
    branch, _community = _branch(branch_id, year)
    try:
        opened = lock_review(branch, year, by=user(), today=today(), gettext=_)
    except ReviewError as err:
        return error_response(err, lambda: _page(branch_id, year))
    db.session.commit()
    flash(_("The %(year)d review is confirmed and locked.", year=year) + (" " + _(
        "%(n)d rectification case(s) opened: assign each a mentor and write the plan.", n=len(opened)) if opened else ""),
          "success")
    return redirect(url_for("review.page", branch_id=branch.id, year=year))


@bp.post("/branches/<int:branch_id>/review/<int:year>/reopen")
@requires(STREET_ADMIN)
def reopen(branch_id: int, year: int):
    branch, _community, review = _context(branch_id, year)
    if review is None:
        abort(409)
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(next(iter(refusals(form).values())), "error")
        return _page(branch_id, year), 422
    try:
        reopen_review(review, reason=form.reason.data or "", user=user())
    except ReviewError as err:
        return error_response(err, lambda: _page(branch_id, year))
    db.session.commit()
    flash(_("The review is reopened: the branch can change grades and confirm it again."), "success")
    return redirect(url_for("review.page", branch_id=branch.id, year=year))


@bp.get("/branches/<int:branch_id>/review/<int:year>/print")
@requires(SECRETARIES)
def print_view(branch_id: int, year: int):
    """The grade table (等次评定表) on A4: the confirmed grades, or a draft for the meeting to fill in."""
    branch, community, review = _context(branch_id, year)
    data = review_data(branch, community, year, today(), review)
    return render_template("review/print.html", data=data, branch=branch, community=community, year=year,
                           day=today())


@bp.get("/branches/<int:branch_id>/review/<int:year>/export.xlsx")
@requires(SECRETARIES)
def export(branch_id: int, year: int):
    branch, community, review = _context(branch_id, year)
    if review is None or review.status != "confirmed":
        return render_error(409, _("Only a confirmed review can be exported."))
    data = review_data(branch, community, year, today(), review)
    return download(write_xlsx(grade_table(data, _)), f"{year}-{branch.name}-等次评定表.xlsx",
                    f"review-{year}-{branch.id}.xlsx")
