"""The street's approval queue: proposals to persuade to withdraw, expel or cancel probation.

A different street-level user than the proposer decides, with a comment, after re-entering their
password (a login fresh within 5 minutes).
"""
from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import aliased

from ..clock import today
from ..db import db
from ..models import Branch, Community, Member, Proposal, RectificationCase, User
from ..security import check_password, client_ip, login_blocked, record_login_attempt
from ..sessions import is_fresh, mark_fresh
from . import bp
from .workflow import ReviewError, decide_proposal, follow_up_count

FRESH_SECONDS = 300


def _street_admin() -> None:
    if current_user.role != "street_admin":
        abort(403)


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
def approvals():
    _street_admin()
    return _page()


@bp.post("/approvals/<int:proposal_id>")
def decide(proposal_id: int):
    _street_admin()
    proposal = db.session.get(Proposal, proposal_id)
    case = db.session.get(RectificationCase, proposal.case_id) if proposal else None
    member = db.session.get(Member, case.member_id) if case else None
    if member is None or member.street_id != current_user.street_id:
        abort(404)
    decision = request.form.get("decision", "")
    values = {proposal_id: {"comment": request.form.get("comment", "")}}
    if proposal.status != "pending":
        flash(ReviewError("not_pending").text(_), "error")
        return _page(409)
    if proposal.proposed_by_id == current_user.id:
        flash(ReviewError("own_proposal").text(_), "error")
        return _page(403)
    password = request.form.get("password", "")
    if password:
        username, ip = current_user.username, client_ip()
        if login_blocked(username, ip):
            return _page(429, prompt_for=proposal_id, values=values,
                         errors={proposal_id: ReviewError("too_many_attempts").text(_)})
        if not check_password(current_user.password_hash, password):
            record_login_attempt(username, ip, success=False)
            db.session.commit()
            return _page(403, prompt_for=proposal_id, values=values,
                         errors={proposal_id: ReviewError("wrong_password").text(_)})
        mark_fresh()
    if not is_fresh(FRESH_SECONDS):
        db.session.commit()
        return _page(403, prompt_for=proposal_id, values=values,
                     errors={proposal_id: ReviewError("fresh_login").text(_)})
    if decision not in ("approve", "reject"):
        db.session.commit()  # the password re-entered stays fresh
        return _page(422, values=values, errors={proposal_id: ReviewError("decision_invalid").text(_)})
    try:
        decide_proposal(proposal, case, member, approve=decision == "approve", comment=values[proposal_id]["comment"],
                        user=current_user._get_current_object(), today=today())
        if decision == "approve":
            from ..publication import bump_board_version

            bump_board_version(member.street_id)
    except ReviewError as err:
        db.session.rollback()
        if password:  # keep the fresh login the user just proved
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
