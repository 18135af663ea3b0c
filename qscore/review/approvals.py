"""The street's approval queue: proposals to persuade to withdraw, expel or cancel probation.

A different street-level user than the proposer decides, with a comment, after re-entering their
password (a login fresh within 5 minutes).
"""
from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import aliased

from ..access import STREET_ADMIN, loaded, member_visible, requires, scope_loader
from ..clock import today
from ..db import db
from ..models import Branch, Community, Member, Proposal, RectificationCase, User
from .. import throttle
from ..security import check_password, client_ip
from ..second_step import check_code
from ..sessions import is_fresh, mark_fresh
from . import bp
from .forms import DecisionForm
from .rectification import check_decidable, decide_proposal, follow_up_count
from .rules import ReviewError

FRESH_SECONDS = 300


@scope_loader("proposal_id")
def _load_proposal(proposal_id: int) -> tuple[Proposal, RectificationCase, Member]:
    """A proposal to the street, seen by whoever sees its member (decided by the street admin only)."""
    proposal = db.session.get(Proposal, proposal_id)
    case = db.session.get(RectificationCase, proposal.case_id) if proposal else None
    member = db.session.get(Member, case.member_id) if case else None
    if member is None or member.street_id != current_user.street_id or not member_visible(member):
        abort(404)
    return proposal, case, member


def _rows(pending: bool):
    proposer, decider = aliased(User), aliased(User)
    stmt = (select(Proposal, RectificationCase, Member, Branch.name, Community.name, proposer, decider)
            .join(RectificationCase, RectificationCase.id == Proposal.case_id)
            .join(Member, Member.id == RectificationCase.member_id)
            .join(Branch, Branch.id == Member.branch_id)
            .join(Community, Community.id == Branch.community_id)
            .outerjoin(proposer, proposer.id == Proposal.proposed_by_id)
            .outerjoin(decider, decider.id == Proposal.decided_by_id)
            .where(Member.street_id == current_user.street_id))
    if pending:
        return db.session.execute(stmt.where(Proposal.status == "pending")
                                  .order_by(Proposal.proposed_at, Proposal.id)).all()
    return db.session.execute(stmt.where(Proposal.status != "pending")
                              .order_by(Proposal.decided_at.desc(), Proposal.id.desc()).limit(20)).all()


def _page(status: int = 200, *, prompt_for: int | None = None, errors: dict | None = None,
          values: dict | None = None):
    pending = _rows(True)
    counts = {p.case_id: follow_up_count(p.case_id) for p, *_rest in pending}
    resp = make_response(render_template(
        "review/approvals.html", pending=pending, decided=_rows(False), follow_ups=counts, fresh=is_fresh(FRESH_SECONDS),
        prompt_for=prompt_for, errors=errors or {}, values=values or {}, day=today()), status)
    return resp


@bp.get("/approvals")
@requires(STREET_ADMIN)
def approvals():
    return _page()


@bp.post("/approvals/<int:proposal_id>")
@requires(STREET_ADMIN)
def decide(proposal_id: int):
    proposal, case, member = loaded("proposal_id", proposal_id)
    form = DecisionForm()
    form.validate()
    decision = form.decision.data if not form.decision.errors else ""
    values = {proposal_id: {"comment": form.comment._value()}}
    try:
        check_decidable(proposal, current_user)  # before the password is asked for
    except ReviewError as err:
        flash(err.text(_), "error")
        return _page(err.status)
    password = form.password.data or ""
    if password:
        username, ip = current_user.username, client_ip()
        wait = throttle.check("step_up", username, ip)
        if wait:
            return throttle.too_many(_page(429, prompt_for=proposal_id, values=values,
                                           errors={proposal_id: throttle.message(wait)}), wait)
        # A password with control characters or past 128 characters is no account's: wrong, and counted.
        ok = not form.password.errors and check_password(current_user.password_hash, password)
        if ok and current_user.has_second_step:  # and the phone's code (spent only after the right password)
            ok = not form.code.errors and check_code(current_user, form.code.data or "")
        throttle.record("step_up", username, ip, ok=ok)
        if not ok:
            db.session.commit()
            wrong = (_("The password or the code is wrong.") if current_user.has_second_step
                     else ReviewError("wrong_password").text(_))
            return _page(403, prompt_for=proposal_id, values=values, errors={proposal_id: wrong})
        mark_fresh()
    if not is_fresh(FRESH_SECONDS):
        db.session.commit()
        return _page(403, prompt_for=proposal_id, values=values,
                     errors={proposal_id: ReviewError("fresh_login").text(_)})
    if decision not in ("approve", "reject") or form.comment.errors:
        db.session.commit()  # the password re-entered stays fresh
        message = form.comment.errors[0] if form.comment.errors else ReviewError("decision_invalid").text(_)
        return _page(422, values=values, errors={proposal_id: str(message)})
    try:
        decide_proposal(proposal, case, member, approve=decision == "approve", comment=form.comment.data or "",
                        user=current_user._get_current_object(), today=today())
    except ReviewError as err:
        db.session.rollback()
        if password:  # keep the fresh login the user just proved
            throttle.record("step_up", current_user.username, client_ip(), ok=True)
            mark_fresh()
            db.session.commit()
        return _page(err.status, values=values, errors={proposal_id: err.text(_)})
    db.session.commit()
    if decision == "approve":
        flash(_("Approved: %(name)s has left the roll (%(status)s).", name=member.name,
                status=_status_label(member.status)), "success")
    else:
        flash(_("Rejected: the case of %(name)s goes back to the branch.", name=member.name), "success")
    return redirect(url_for("review.approvals"))


def _status_label(status: str) -> str:
    from .texts import MEMBER_STATUS_LABELS

    return str(MEMBER_STATUS_LABELS.get(status, status))
