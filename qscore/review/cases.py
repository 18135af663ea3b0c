"""Rectification cases (限期整改): mentor, plan, deadline, follow-ups, outcome, proposal to the street.

A case is seen by the secretaries whose scope holds the member's branch, and by its mentor through
the account linked to the mentor's member record (any role), who sees the plan, the log and the
deadline and nothing else private about the member. A mentor needs no account.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import abort, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import aliased

from ..access import EVERYONE, loaded, requires, scope_loader
from ..access import is_secretary, own_record, branch_in_scope, branches_in_scope, user
from ..clock import today
from ..db import db
from ..fields import args_form, as_typed, refusals
from ..models import (Branch, CaseFollowUp, Community, Member, Proposal, RectificationCase, ReviewGrade, User,
                      YearReview)
from . import bp
from .data import local_date
from .forms import FollowUpForm, MentorForm, NameSearch, OutcomeForm, PlanForm, ProposalForm
from .rectification import (add_follow_up, assign_mentor, close_rectified, extend_case, propose, proposal_earliest,
                            proposal_early_from, write_plan)
from .rules import ReviewError


@dataclass
class CaseView:
    case: RectificationCase
    member: Member
    branch: Branch
    community: Community
    can_manage: bool   # a secretary whose scope holds the member's branch (never for their own record)
    is_mentor: bool

    @property
    def can_follow_up(self) -> bool:
        return self.can_manage or self.is_mentor

    @property
    def opened_on(self):
        # Never after today: the opening time is a clock reading, today may be pinned (tests, the demo).
        return min(local_date(self.case.opened_at), today())


def case_or_404(case_id: int) -> CaseView:
    """The case, seen by the secretaries whose scope holds its branch or by its mentor; else 404."""
    return loaded("case_id", case_id)


@scope_loader("case_id")
def _load_case(case_id: int) -> CaseView:
    case = db.session.get(RectificationCase, case_id)
    if case is None:
        abort(404)
    member = db.session.get(Member, case.member_id)
    row = db.session.execute(select(Branch, Community).join(Community, Community.id == Branch.community_id)
                             .where(Branch.id == member.branch_id)).first()
    branch, community = row
    u = user()
    if community.street_id != u.street_id:
        abort(404)
    in_scope = is_secretary(u) and branch_in_scope(branch, community, u)
    is_mentor = u.member_id is not None and case.mentor_member_id == u.member_id
    if not (in_scope or is_mentor):
        abort(404)
    return CaseView(case, member, branch, community, in_scope and not own_record(member.id, u), is_mentor)


def _manager(view: CaseView) -> None:
    if not view.can_manage:
        abort(403)


def mentor_candidates(view: CaseView, q: str) -> list[Member]:
    """Members on the roll of the case's branch, other than the member, whose name holds ``q``."""
    stmt = select(Member).where(Member.street_id == view.member.street_id, Member.branch_id == view.branch.id,
                                Member.status == "active", Member.id != view.member.id)
    if q:
        stmt = stmt.where(Member.name.contains(q, autoescape=True))
    return list(db.session.scalars(stmt.order_by(Member.name_key, Member.name, Member.id).limit(12)))


def _show(view: CaseView, *, status: int = 200, errors: dict | None = None, values: dict | None = None):
    c = view.case
    follow_ups = db.session.execute(
        select(CaseFollowUp, User).outerjoin(User, User.id == CaseFollowUp.by_id)
        .where(CaseFollowUp.case_id == c.id).order_by(CaseFollowUp.on.desc(), CaseFollowUp.id.desc())).all()
    mentor = db.session.get(Member, c.mentor_member_id) if c.mentor_member_id else None
    context = dict(v=view, c=c, follow_ups=follow_ups, mentor=mentor, day=today(), errors=errors or {},
                   values=values or {}, q=args_form(NameSearch).q.data or "", earliest=proposal_earliest(c),
                   early_from=proposal_early_from(view.opened_on))
    if view.can_manage:
        grade = db.session.execute(select(ReviewGrade, YearReview).join(
            YearReview, YearReview.id == ReviewGrade.review_id).where(ReviewGrade.id == c.review_grade_id)).first()
        proposals = db.session.execute(
            select(Proposal, User).outerjoin(User, User.id == Proposal.decided_by_id)
            .where(Proposal.case_id == c.id).order_by(Proposal.proposed_at.desc(), Proposal.id.desc())).all()
        context.update(grade=grade, proposals=proposals,
                       candidates=mentor_candidates(view, context["q"]) if context["q"] else None)
    resp = make_response(render_template("cases/show.html", **context), status)
    resp.vary.add("HX-Request")
    return resp


@bp.get("/cases")
@requires(EVERYONE)
def my_cases():
    """The cases the user mentors; for secretaries also the cases of their branches."""
    u = user()
    mentored = []
    if u.member_id is not None:
        mentored = db.session.execute(
            select(RectificationCase, Member.name, Branch.name)
            .join(Member, Member.id == RectificationCase.member_id).join(Branch, Branch.id == Member.branch_id)
            .where(RectificationCase.mentor_member_id == u.member_id, Member.street_id == u.street_id)
            .order_by(RectificationCase.status != "open", RectificationCase.deadline)).all()
    in_scope = []
    if is_secretary(u):
        mentor = aliased(Member)
        in_scope = db.session.execute(
            select(RectificationCase, Member.name, Branch.name, mentor.name)
            .join(Member, Member.id == RectificationCase.member_id).join(Branch, Branch.id == Member.branch_id)
            .outerjoin(mentor, mentor.id == RectificationCase.mentor_member_id)
            .where(Member.branch_id.in_(branches_in_scope(u).with_only_columns(Branch.id)))
            .order_by(RectificationCase.status != "open", RectificationCase.deadline, RectificationCase.id)).all()
    return render_template("cases/index.html", mentored=mentored, in_scope=in_scope, day=today())


@bp.get("/cases/<int:case_id>")
@requires(EVERYONE)
def case(case_id: int):
    return _show(case_or_404(case_id))


@bp.get("/cases/<int:case_id>/mentors")
@requires(EVERYONE)
def mentors(case_id: int):
    """Name search for a mentor (htmx fragment)."""
    view = case_or_404(case_id)
    _manager(view)
    q = args_form(NameSearch).q.data or ""
    return render_template("cases/_mentor_results.html", v=view, candidates=mentor_candidates(view, q), q=q)


def _invalid(view: CaseView, form) -> object | None:
    """The page again with the fields' messages (422) when the form refuses what was typed; else None."""
    if form.validate_on_submit():
        return None
    return _show(view, status=422, errors=refusals(form), values=as_typed(form))


def _refused(view: CaseView, err: ReviewError, values: dict):
    db.session.rollback()
    if err.status == 422:
        return _show(view, status=422, errors={err.field or "form": err.text(_)}, values=values)
    flash(err.text(_), "error")
    return _show(view, status=err.status, values=values)


@bp.post("/cases/<int:case_id>/mentor")
@requires(EVERYONE)
def set_mentor(case_id: int):
    view = case_or_404(case_id)
    _manager(view)
    form = MentorForm()
    # The id comes from a search result's button: not a valid id is like an unknown one (404).
    mentor = db.session.get(Member, form.mentor_id.data) if form.validate_on_submit() else None
    if mentor is None or mentor.street_id != view.community.street_id:
        abort(404)
    try:
        assign_mentor(view.case, mentor=mentor, member=view.member, branch=view.branch, user=user())
    except ReviewError as err:
        return _refused(view, err, {})
    db.session.commit()
    flash(_("%(name)s is the mentor of this case.", name=mentor.name), "success")
    return redirect(url_for("review.case", case_id=view.case.id))


@bp.post("/cases/<int:case_id>/plan")
@requires(EVERYONE)
def plan(case_id: int):
    view = case_or_404(case_id)
    _manager(view)
    form = PlanForm()
    if (refused := _invalid(view, form)) is not None:
        return refused
    try:
        write_plan(view.case, problems=form.problems.data or "", plan=form.plan.data or "",
                   deadline=form.deadline.data, user=user(), today=today())
    except ReviewError as err:
        return _refused(view, err, as_typed(form))
    db.session.commit()
    flash(_("The plan is saved."), "success")
    return redirect(url_for("review.case", case_id=view.case.id))


@bp.post("/cases/<int:case_id>/follow-ups")
@requires(EVERYONE)
def follow_up(case_id: int):
    view = case_or_404(case_id)
    if not view.can_follow_up:
        abort(403)
    form = FollowUpForm()
    if (refused := _invalid(view, form)) is not None:
        return refused
    try:
        add_follow_up(view.case, on=form.on.data, text=form.text.data or "", user=user(), today=today(),
                      opened_on=view.opened_on)
    except ReviewError as err:
        return _refused(view, err, as_typed(form))
    db.session.commit()
    flash(_("The follow-up is recorded."), "success")
    return redirect(url_for("review.case", case_id=view.case.id) + "#case-log")


@bp.post("/cases/<int:case_id>/outcome")
@requires(EVERYONE)
def outcome(case_id: int):
    """Rectified (closes the case) or extended (a new deadline and the reason)."""
    view = case_or_404(case_id)
    _manager(view)
    form = OutcomeForm()
    if form.action.data not in ("rectified", "extended"):  # the page's two forms each send theirs
        abort(400)
    if (refused := _invalid(view, form)) is not None:
        return refused
    values = as_typed(form)
    try:
        if form.action.data == "rectified":
            close_rectified(view.case, note=form.note.data or "", user=user())
            message = _("The case is closed: rectified.")
        else:
            extend_case(view.case, deadline=form.new_deadline.data, reason=form.extension_reason.data or "",
                        user=user(), today=today())
            message = _("The deadline is extended to %(d)s.", d=view.case.deadline.isoformat())
    except ReviewError as err:
        return _refused(view, err, values)
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("review.case", case_id=view.case.id))


@bp.post("/cases/<int:case_id>/proposal")
@requires(EVERYONE)
def proposal(case_id: int):
    """The branch general meeting's decision, for the street's approval."""
    view = case_or_404(case_id)
    _manager(view)
    form = ProposalForm()
    if (refused := _invalid(view, form)) is not None:
        return refused
    f = form
    try:
        made = propose(view.case, view.member, kind=f.kind.data or "", meeting_on=f.meeting_on.data,
                       present=f.members_present.data, total=f.members_total.data, votes_for=f.votes_for.data,
                       votes_against=f.votes_against.data, votes_abstain=f.votes_abstain.data,
                       statement=f.member_statement.data or "", early_reason=f.early_reason.data or "", user=user(),
                       today=today(), opened_on=view.opened_on)
    except ReviewError as err:
        return _refused(view, err, as_typed(form))
    db.session.commit()
    flash(_("The early proposal is sent to the street office for approval, with its reason.") if made.early_reason
          else _("The proposal is sent to the street office for approval."), "success")
    return redirect(url_for("review.case", case_id=view.case.id))
