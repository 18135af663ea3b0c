"""Quarterly reconciliation with the members' booklets, and publishing the quarter (公示)."""
from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, abort, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from wtforms import SelectChoice, SelectField
from wtforms.widgets import TextInput

from .access import requires, SECRETARIES, STREET_ADMIN
from .access import branches_in_scope, get_branch_or_404, get_publication_or_404
from .clock import today
from .db import db
from .fields import ArgsForm, Count, Day, Note, Points, Text, args_form, as_typed, refusals
from .htmx import is_htmx
from .ledger import NOTE_MAX
from .models import Branch, Community, Member, Publication, ResidentQuery, Street, User
from .publication import (PublishError, later_adjustments, live_publication, period, publish, quarter_bounds,
                          readiness, retract, snapshot, verify)
from .reconciliation import (STATUSES, BookletItemRefused, add_booklet_item, booklet_item_choices,
                             booklet_item_problems, ensure_unpublished, quarter_data, quarter_member)
from .reconciliation import reconcile as reconcile_member, reconcile_all as reconcile_remaining
from .refusals import Refusal
from .scheme_versions import scheme_for_year
from .templating import local_time

bp = Blueprint("publish", __name__)


class YearArg(ArgsForm):
    year = Count(minimum=2000, maximum=2100)


class ReconcileForm(FlaskForm):
    status = SelectField(choices=[SelectChoice(s) for s in STATUSES])


class BookletItemForm(FlaskForm):
    """What the member's booklet shows that the ledger lacks (the indicator is checked against the quarter's list)."""

    indicator = SelectField(_l("Indicator"), validate_choice=False)
    earned_on = Day(_l("Date earned"), required=True)
    hours = Points(_l("Hours (volunteer service)"), minimum=Decimal("0.1"), maximum=Decimal("999.9"), widget=TextInput())
    note = Text(_l("What the booklet shows"), required=_l("Say what the booklet shows (at most 500 characters)."),
                max_length=NOTE_MAX)


class PublishForm(FlaskForm):
    """The branch meeting that reconciled the quarter; its absence or bad counts are refused by publish()."""

    meeting_on = Day(_l("Date of the branch meeting"))
    present = Count(_l("Members present"))
    total = Count(_l("Members in total"))
    chair = Text(_l("Chaired by"), column=Publication.chair)


class RetractForm(FlaskForm):
    reason = Note(_l("Reason"), max_length=1000)


def _quarter_or_404(year: int, quarter: int) -> None:
    if quarter not in (1, 2, 3, 4) or not (2000 <= year <= today().year):
        abort(404)


@bp.get("/publish")
@requires(SECRETARIES)
def index():
    """Every branch in scope with the state of each quarter of the year."""
    day = today()
    year = args_form(YearArg).year.data or day.year
    if not (2000 <= year <= day.year):
        abort(404)
    branches = db.session.execute(
        branches_in_scope().add_columns(Community.name).where(Branch.retired.is_(False))
        .order_by(Community.name, Branch.name)).all()
    ids = [b.id for b, _c in branches]
    pubs = {(p.branch_id, p.quarter): p for p in db.session.scalars(select(Publication).where(
        Publication.branch_id.in_(ids), Publication.year == year, Publication.retracted_at.is_(None)))} if ids else {}
    quarters = [q for q in (1, 2, 3, 4)]
    ended = {q: day > quarter_bounds(year, q)[1] for q in quarters}
    return render_template("publish/index.html", branches=branches, pubs=pubs, quarters=quarters, ended=ended,
                           year=year, day=day)


@bp.get("/branches/<int:branch_id>/quarters/<int:year>/<int:quarter>")
@requires(SECRETARIES)
def quarter(branch_id: int, year: int, quarter: int, publish_form: PublishForm | None = None):
    branch, community = get_branch_or_404(branch_id)
    _quarter_or_404(year, quarter)
    day = today()
    published = live_publication(branch.id, year, quarter)
    retracted = db.session.scalars(select(Publication).where(
        Publication.branch_id == branch.id, Publication.year == year, Publication.quarter == quarter,
        Publication.retracted_at.isnot(None)).order_by(Publication.published_at)).all()
    context = dict(branch=branch, community=community, year=year, quarter=quarter, period=period(year, quarter),
                   day=day, published=published, retracted=retracted, scheme=scheme_for_year(year))
    if published is not None:
        counts = dict(db.session.execute(select(
            func.count(), func.count(ResidentQuery.answered_at)).where(
            ResidentQuery.publication_id == published.id)).one()._mapping)
        return render_template("publish/published.html", rows=snapshot(published), intact=verify(published),
                               adjustments=_adjustments(published), later=later_adjustments(published),
                               publisher=db.session.get(User, published.published_by_id),
                               query_counts=list(counts.values()), **context)
    members, scores, pending, recon = quarter_data(branch, year, quarter)
    state = readiness(branch, year, quarter, day)
    form = publish_form or PublishForm(formdata=None, total=len(members))
    return render_template("publish/quarter.html", members=members, scores=scores, pending=pending, recon=recon,
                           state=state, form=form, **context)


def _adjustments(pub: Publication) -> list[dict]:
    import json

    return json.loads(pub.adjustments or "[]")


def _member_in_quarter(branch: Branch, year: int, quarter: int, member_id: int) -> Member:
    member = quarter_member(branch, year, quarter, member_id)
    if member is None:
        abort(404)
    return member


def _row_response(branch: Branch, year: int, quarter: int, member: Member, status: int = 200, **extra):
    members, scores, pending, recon = quarter_data(branch, year, quarter)
    body = render_template("publish/_member_row.html", branch=branch, year=year, quarter=quarter, m=member,
                           s=scores[member.id], pending=pending, recon=recon, scheme=scheme_for_year(year),
                           editable=live_publication(branch.id, year, quarter) is None, **extra)
    state = readiness(branch, year, quarter, today())
    body += render_template("publish/_readiness.html", state=state, oob=True, period=period(year, quarter))
    body += render_template("publish/_recon_all.html", oob=True, branch=branch, year=year, quarter=quarter,
                            members=members, recon=recon, pending=pending)
    resp = make_response(body, status)
    resp.vary.add("HX-Request")
    return resp


@bp.post("/branches/<int:branch_id>/quarters/<int:year>/<int:quarter>/members/<int:member_id>/reconcile")
@requires(SECRETARIES)
def reconcile(branch_id: int, year: int, quarter: int, member_id: int):
    """'Booklet agrees' or 'member absent — reconcile later' (deferred)."""
    branch, _c = get_branch_or_404(branch_id)
    _quarter_or_404(year, quarter)
    member = _member_in_quarter(branch, year, quarter, member_id)
    form = ReconcileForm()
    try:  # published: 409; a status not on the page's buttons: 400
        reconcile_member(branch, year, quarter, member, form.status.data if form.validate_on_submit() else None,
                         by=current_user._get_current_object())
    except Refusal as err:
        db.session.rollback()
        abort(err.status)
    db.session.commit()
    if not is_htmx():
        return redirect(url_for("publish.quarter", branch_id=branch.id, year=year, quarter=quarter))
    return _row_response(branch, year, quarter, member)


@bp.post("/branches/<int:branch_id>/quarters/<int:year>/<int:quarter>/reconcile-all")
@requires(SECRETARIES)
def reconcile_all(branch_id: int, year: int, quarter: int):
    """'All booklets agree': every member not yet reconciled and with nothing pending agrees, in one click.

    Members already marked (absent, or agreeing) and members with pending items keep their rows: only
    the differences need a click each."""
    branch, _c = get_branch_or_404(branch_id)
    _quarter_or_404(year, quarter)
    try:
        reconcile_remaining(branch, year, quarter, by=current_user._get_current_object())
        db.session.commit()
    except PublishError as err:
        db.session.rollback()
        abort(err.status)
    except IntegrityError:  # the same click twice: the first marked them
        db.session.rollback()
    if not is_htmx():
        return redirect(url_for("publish.quarter", branch_id=branch.id, year=year, quarter=quarter))
    members, scores, pending, recon = quarter_data(branch, year, quarter)
    state = readiness(branch, year, quarter, today())
    context = dict(branch=branch, year=year, quarter=quarter, members=members, scores=scores, pending=pending,
                   recon=recon, scheme=scheme_for_year(year))
    body = render_template("publish/_recon_rows.html", **context)
    body += render_template("publish/_recon_all.html", oob=True, **context)
    body += render_template("publish/_readiness.html", state=state, oob=True, period=period(year, quarter))
    resp = make_response(body)
    resp.vary.add("HX-Request")
    return resp


@bp.route("/branches/<int:branch_id>/quarters/<int:year>/<int:quarter>/members/<int:member_id>/booklet-item",
          methods=["GET", "POST"])
@requires(SECRETARIES)
def booklet_item(branch_id: int, year: int, quarter: int, member_id: int):
    """What the member's booklet shows that the ledger lacks: a pending item to confirm or reject."""
    branch, _c = get_branch_or_404(branch_id)
    _quarter_or_404(year, quarter)
    member = _member_in_quarter(branch, year, quarter, member_id)
    form = BookletItemForm()
    posted = form.is_submitted()
    errors: dict[str, str] = {}
    try:  # a published quarter answers 409, whatever was sent
        if not posted:
            ensure_unpublished(branch, year, quarter)
        elif form.validate():
            add_booklet_item(branch, year, quarter, member, indicator_code=form.indicator.data,
                             earned_on=form.earned_on.data, hours=form.hours.data, note=form.note.data,
                             by=current_user._get_current_object(), today=today())
            db.session.commit()
            return _row_response(branch, year, quarter, member)
        else:  # the form's own refusals, and what the quarter's rules say of the rest
            ensure_unpublished(branch, year, quarter)
            errors = refusals(form) | {name: err.text(_) for name, err in booklet_item_problems(
                member, year, quarter, indicator_code=form.indicator.data, earned_on=form.earned_on.data).items()}
    except PublishError as err:
        db.session.rollback()
        abort(err.status)
    except BookletItemRefused as refused:
        db.session.rollback()
        errors = refused.texts(_)
    return _row_response(branch, year, quarter, member, status=422 if posted else 200, item_form=True,
                         choices=booklet_item_choices(member, year, quarter), values=as_typed(form), errors=errors)


@bp.get("/branches/<int:branch_id>/quarters/<int:year>/<int:quarter>/sheet")
@requires(SECRETARIES)
def sheet(branch_id: int, year: int, quarter: int):
    """The printable reconciliation sheet for the branch meeting (A4)."""
    branch, community = get_branch_or_404(branch_id)
    _quarter_or_404(year, quarter)
    members, scores, _pending, _recon = quarter_data(branch, year, quarter)
    return render_template("publish/sheet.html", branch=branch, community=community, year=year, quarter=quarter,
                           period=period(year, quarter), members=members, scores=scores, day=today(),
                           scheme=scheme_for_year(year))


@bp.post("/branches/<int:branch_id>/quarters/<int:year>/<int:quarter>/publish")
@requires(SECRETARIES)
def publish_quarter(branch_id: int, year: int, quarter: int):
    branch, community = get_branch_or_404(branch_id)
    _quarter_or_404(year, quarter)
    form = PublishForm()
    if not form.validate_on_submit():
        return quarter_page_with_status(branch_id, year, quarter, 422, form)
    try:
        pub = publish(branch=branch, year=year, quarter=quarter, user=current_user._get_current_object(),
                      today=today(), meeting_on=form.meeting_on.data, present=form.present.data,
                      total=form.total.data, chair=form.chair.data or "", street_id=community.street_id)
        # Said before the commit: afterwards the publication and the user would be read again, in a new transaction.
        said = _("%(period)s is published. The noticeboard shows it now; the supervision period ends on %(end)s.",
                 period=period(year, quarter), end=pub.supervision_ends_on.isoformat())
        db.session.commit()
    except PublishError as err:
        db.session.rollback()
        if err.key == "already_published":
            return _published_by_another(branch, year, quarter, err.publication)
        flash(err.text(_), "error")
        return quarter_page_with_status(branch_id, year, quarter, 422, form)
    except IntegrityError:
        # The one-live-publication index refused a second one that a concurrent publish made first.
        db.session.rollback()
        return _published_by_another(branch, year, quarter, live_publication(branch.id, year, quarter))
    flash(said, "success")
    return redirect(url_for("publish.quarter", branch_id=branch_id, year=year, quarter=quarter))


def _published_by_another(branch: Branch, year: int, quarter_: int, pub: Publication | None):
    """The loser of two publishes of one quarter: who published it and when, on the publication's page."""
    if pub is None:  # retracted again in between: the quarter page says what holds now
        flash(_("Another publication of %(period)s was being made at the same time. Check the quarter and "
                "publish again if it is still unpublished.", period=period(year, quarter_)), "error")
        return quarter_page_with_status(branch.id, year, quarter_, 409)
    who = db.session.get(User, pub.published_by_id) if pub.published_by_id else None
    flash(_("%(period)s was already published by %(who)s at %(when)s. Nothing was published a second time.",
            period=period(year, quarter_), who=(who.display_name or who.username) if who else "—",
            when=local_time(pub.published_at)), "error")
    return quarter_page_with_status(branch.id, year, quarter_, 409)


def quarter_page_with_status(branch_id: int, year: int, quarter_: int, status: int,
                             form: PublishForm | None = None):
    resp = make_response(quarter(branch_id, year, quarter_, publish_form=form))
    resp.status_code = status
    return resp


def _publication_in_scope(publication_id: int) -> tuple[Publication, Branch, Community]:
    return get_publication_or_404(publication_id)


@bp.get("/publications/<int:publication_id>/notice")
@requires(SECRETARIES)
def notice(publication_id: int):
    """The printable notice sheet (A4/A3) of a publication."""
    from .street_settings import all_settings

    pub, branch, community = _publication_in_scope(publication_id)
    return render_template("publish/notice.html", pub=pub, branch=branch, community=community,
                           rows=snapshot(pub), adjustments=_adjustments(pub), period=period(pub.year, pub.quarter),
                           settings=all_settings(community.street_id), street=db.session.get(Street, community.street_id))


@bp.post("/publications/<int:publication_id>/retract")
@requires(STREET_ADMIN)
def retract_publication(publication_id: int):
    pub, branch, community = _publication_in_scope(publication_id)
    form = RetractForm()
    if not form.validate_on_submit():
        flash(next(iter(refusals(form).values())), "error")
        return quarter_page_with_status(branch.id, pub.year, pub.quarter, 422)
    try:
        retract(publication=pub, reason=form.reason.data or "", user=current_user._get_current_object())
    except PublishError as err:
        db.session.rollback()
        flash(err.text(_), "error")
        return quarter_page_with_status(branch.id, pub.year, pub.quarter, 409 if err.key == "already_retracted" else 422)
    db.session.commit()
    flash(_("The publication is retracted; the branch may publish the quarter again."), "success")
    return redirect(url_for("publish.quarter", branch_id=branch.id, year=pub.year, quarter=pub.quarter))


