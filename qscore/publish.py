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
from . import audit
from .access import branches_in_scope, get_branch_or_404, get_publication_or_404
from .clock import today
from .db import db
from .fields import ArgsForm, Count, Day, Note, Points, Text, args_form, as_typed, refusals
from .htmx import is_htmx
from .ledger import NOTE_MAX, type_history
from .models import (Branch, Community, Member, Publication, Reconciliation, ResidentQuery, SelfRecord, Street,
                     User)
from .publication import (PublishError, later_adjustments, live_publication, members_on_roll, period, publish, quarter_bounds,
                          readiness, retract, snapshot, verify)
from .scheme_versions import scheme_for_year
from .templating import local_time
from .scoring import EntryError, check_earned_on, entry_points, score_members, type_on

bp = Blueprint("publish", __name__)


class YearArg(ArgsForm):
    year = Count(minimum=2000, maximum=2100)


class ReconcileForm(FlaskForm):
    status = SelectField(choices=[SelectChoice(s) for s in ("agrees", "deferred", "clear")])


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


def _street_id(branch: Branch) -> int:
    return db.session.scalar(select(Community.street_id).where(Community.id == branch.community_id))


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


def _quarter_data(branch: Branch, year: int, quarter: int):
    _start, end = quarter_bounds(year, quarter)
    members = members_on_roll(branch.id, end)
    ids = [m.id for m in members]
    scores = score_members(db.session, scheme_for_year(year), year, end, members)
    pending = dict(db.session.execute(
        select(SelfRecord.member_id, func.count()).where(
            SelfRecord.member_id.in_(ids), SelfRecord.status == "pending", SelfRecord.earned_on <= end)
        .group_by(SelfRecord.member_id)).all()) if ids else {}
    recon = {r.member_id: r for r in db.session.scalars(select(Reconciliation).where(
        Reconciliation.branch_id == branch.id, Reconciliation.year == year, Reconciliation.quarter == quarter))}
    return members, scores, pending, recon


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
    members, scores, pending, recon = _quarter_data(branch, year, quarter)
    state = readiness(branch, year, quarter, day)
    form = publish_form or PublishForm(formdata=None, total=len(members))
    return render_template("publish/quarter.html", members=members, scores=scores, pending=pending, recon=recon,
                           state=state, form=form, **context)


def _adjustments(pub: Publication) -> list[dict]:
    import json

    return json.loads(pub.adjustments or "[]")


def _member_in_quarter(branch: Branch, year: int, quarter: int, member_id: int) -> Member:
    _start, end = quarter_bounds(year, quarter)
    member = next((m for m in members_on_roll(branch.id, end) if m.id == member_id), None)
    if member is None:
        abort(404)
    return member


def _row_response(branch: Branch, year: int, quarter: int, member: Member, status: int = 200, **extra):
    members, scores, pending, recon = _quarter_data(branch, year, quarter)
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
    if live_publication(branch.id, year, quarter) is not None:
        abort(409)
    form = ReconcileForm()
    if not form.validate_on_submit():  # the page's buttons send one of the three
        abort(400)
    status = form.status.data
    row = db.session.scalar(select(Reconciliation).where(
        Reconciliation.branch_id == branch.id, Reconciliation.year == year, Reconciliation.quarter == quarter,
        Reconciliation.member_id == member.id))
    before = row.status if row else None
    if status == "clear":
        if row is not None:
            db.session.delete(row)
    elif row is None:
        db.session.add(Reconciliation(branch_id=branch.id, year=year, quarter=quarter, member_id=member.id,
                                      status=status, recorded_by_id=current_user.id))
    else:
        row.status, row.recorded_by_id = status, current_user.id
    audit.record("reconciled", member, member_id=member.id, before=before, after=status,
                 summary=f"{branch.name} {period(year, quarter)}: {member.name} {status}")
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
    if live_publication(branch.id, year, quarter) is not None:
        abort(409)
    members, _scores, pending, recon = _quarter_data(branch, year, quarter)
    todo = [m for m in members if m.id not in recon and not pending.get(m.id)]
    if todo:
        db.session.add_all([Reconciliation(branch_id=branch.id, year=year, quarter=quarter, member_id=m.id,
                                           status="agrees", recorded_by_id=current_user.id) for m in todo])
        audit.record("reconciled_all", branch, after={"agrees": [m.id for m in todo]},
                     summary=f"{branch.name} {period(year, quarter)}: {len(todo)} booklets agree")
        try:
            db.session.commit()
        except IntegrityError:  # the same click twice: the first marked them
            db.session.rollback()
    if not is_htmx():
        return redirect(url_for("publish.quarter", branch_id=branch.id, year=year, quarter=quarter))
    members, scores, pending, recon = _quarter_data(branch, year, quarter)
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
    if live_publication(branch.id, year, quarter) is not None:
        abort(409)
    scheme = scheme_for_year(year)
    start, end = quarter_bounds(year, quarter)
    type_code = type_on(type_history(member.id), end)
    choices = [i for i in scheme.applicable(type_code) if i.category != "K" and not i.veto]
    form = BookletItemForm()
    posted = form.is_submitted()
    errors: dict[str, str] = {}
    if posted:
        form.validate()
        errors = refusals(form)
        ind = next((i for i in choices if i.code == form.indicator.data), None)
        earned = form.earned_on.data
        if ind is None:
            errors["indicator"] = _("Choose an indicator.")
        if earned is not None and not (start <= earned <= end):
            errors["earned_on"] = _("The date must fall in %(period)s.", period=period(year, quarter))
        elif earned is not None and earned < member.on_roll_since:
            errors["earned_on"] = _("The member came onto the roll on %(d)s.", d=member.on_roll_since.isoformat())
        quantity = None
        if ind is not None and earned is not None and not errors:
            try:
                check_earned_on(earned, today(), previous_year_open=True)
                value = entry_points(scheme, ind, type_on(type_history(member.id), earned),
                                     form.hours.data if ind.is_hours else None)
                quantity = value.quantity
            except EntryError as err:
                errors["hours" if ind.is_hours else "earned_on"] = err.text(_)
        if not errors:
            sr = SelfRecord(member_id=member.id, indicator_code=ind.code, earned_on=earned, quantity=quantity,
                            note=form.note.data, origin="reconciliation", created_by_id=current_user.id)
            db.session.add(sr)
            db.session.flush()
            audit.record("booklet_item_added", sr, member_id=member.id,
                         summary=f"{member.name} {ind.code} {earned}: {form.note.data[:200]}")
            db.session.commit()
            return _row_response(branch, year, quarter, member)
    return _row_response(branch, year, quarter, member, status=422 if posted else 200,
                         item_form=True, choices=choices, values=as_typed(form), errors=errors)


@bp.get("/branches/<int:branch_id>/quarters/<int:year>/<int:quarter>/sheet")
@requires(SECRETARIES)
def sheet(branch_id: int, year: int, quarter: int):
    """The printable reconciliation sheet for the branch meeting (A4)."""
    branch, community = get_branch_or_404(branch_id)
    _quarter_or_404(year, quarter)
    members, scores, _pending, _recon = _quarter_data(branch, year, quarter)
    return render_template("publish/sheet.html", branch=branch, community=community, year=year, quarter=quarter,
                           period=period(year, quarter), members=members, scores=scores, day=today(),
                           scheme=scheme_for_year(year))


@bp.post("/branches/<int:branch_id>/quarters/<int:year>/<int:quarter>/publish")
@requires(SECRETARIES)
def publish_quarter(branch_id: int, year: int, quarter: int):
    branch, _c = get_branch_or_404(branch_id)
    _quarter_or_404(year, quarter)
    form = PublishForm()
    if not form.validate_on_submit():
        return quarter_page_with_status(branch_id, year, quarter, 422, form)
    try:
        pub = publish(branch=branch, year=year, quarter=quarter, user=current_user._get_current_object(),
                      today=today(), meeting_on=form.meeting_on.data, present=form.present.data,
                      total=form.total.data, chair=form.chair.data or "", street_id=_street_id(branch))
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
    flash(_("%(period)s is published. The noticeboard shows it now; the supervision period ends on %(end)s.",
            period=period(year, quarter), end=pub.supervision_ends_on.isoformat()), "success")
    return redirect(url_for("publish.quarter", branch_id=branch.id, year=year, quarter=quarter))


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


