"""Members: list and search, add, edit, the member's page, private fields (every view logged),
transfer between branches, and leaving the roll (transferred out, deceased).

Withdrawal and expulsion are not here: they come only through the review's approval flow.
"""
from __future__ import annotations

from datetime import date

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select
from wtforms import SelectChoice

from ..access import requires, MEMBER_ADMINS
from .. import audit
from ..clock import today
from ..db import db
from ..fields import args_form
from ..htmx import page_or_fragment
from ..models import Branch, BranchSpell, Community, Member, MemberType, PointEntry, User
from ..scheme_versions import scheme_for_year
from ..scoring import score_members
from ..sessions import end_all_sessions
from . import bp
from ..type_changes import earliest_type_change, latest_published_quarter
from .forms import MemberFilters, MemberForm, NewMemberArgs, NewMemberForm, StatusForm, TransferForm, type_form
from .scope import (branch_choices, branch_or_404, current_type_expr, current_types, member_number, member_or_404,
                    scoped_branches, scoped_members)

PAGE_SIZE = 50
PRIVATE = ("phone", "address")
FIELDS = ("name", "gender", "birth_year", "joined_party_on", "on_roll_since", "probationary", "booklet_no",
          "phone", "address", "branch_id", "status", "left_roll_on")


def snapshot(m: Member) -> dict:
    """A member for the audit log: private fields appear only as whether they are set."""
    out = {}
    for f in FIELDS:
        v = getattr(m, f)
        if f in PRIVATE:
            v = "•••" if v else ""
        out[f] = v.isoformat() if isinstance(v, date) else v
    return out


def log_private_view(members: list[Member], how: str) -> None:
    """Views of phone and address are logged like writes (docs/privacy.md, "Phone and address")."""
    for m in members:
        audit.record("private_viewed", m, member_id=m.id, summary=f"{m.name}: {how}")


def _filters():
    f = args_form(MemberFilters)
    return {"q": f.q.data or "", "community": f.community.data, "branch": f.branch.data, "type": f.type.data or "",
            "status": "active" if f.status.data is None else f.status.data,  # no status asked: those on the roll
            "page": f.page.data or 1}


def filtered_members(f: dict, day: date):
    stmt = scoped_members().join(Branch, Branch.id == Member.branch_id)
    if f["q"]:
        q = f["q"]
        clauses = [Member.name.contains(q), Member.booklet_no == q]
        if member_number(q) is not None:
            clauses.append(Member.id == member_number(q))
        stmt = stmt.where(or_(*clauses))
    if f["community"]:
        stmt = stmt.where(Branch.community_id == f["community"])
    if f["branch"]:
        stmt = stmt.where(Member.branch_id == f["branch"])
    if f["type"] in ("A", "B", "C", "D"):
        stmt = stmt.where(current_type_expr(day) == f["type"])
    if f["status"] == "active":
        stmt = stmt.where(Member.status == "active")
    elif f["status"] == "left":
        stmt = stmt.where(Member.status != "active")
    return stmt


@bp.get("/members")
@requires(MEMBER_ADMINS)
def members():
    day = today()
    f = _filters()
    page = db.paginate(filtered_members(f, day).order_by(Member.name_key, Member.name, Member.id), page=f["page"],
                       per_page=PAGE_SIZE, error_out=False)
    branches = scoped_branches(include_retired=True)
    context = dict(pg=page, f=f, day=day, types=current_types(page.items, day),
                   branch_names={b.id: (c.name, b.name) for b, c in branches},
                   communities=sorted({c.id: c for _b, c in branches}.values(), key=lambda c: c.name),
                   branches=branches, scheme=scheme_for_year(day.year))
    return page_or_fragment("admin/members.html", "admin/_members_table.html", **context)


# --- add and edit ------------------------------------------------------------------------------

def _check_dates(form: MemberForm, day: date) -> bool:
    ok = True
    top = day.year - 16
    if form.birth_year.data is not None and not (1900 <= form.birth_year.data <= top):
        form.birth_year.errors.append(_("A year between 1900 and %(top)d.", top=top))
        ok = False
    joined, since = form.joined_party_on.data, form.on_roll_since.data
    if joined and joined > day:
        form.joined_party_on.errors.append(_("The date cannot be after today."))
        ok = False
    elif joined and form.birth_year.data and joined.year < form.birth_year.data + 16:
        form.joined_party_on.errors.append(_("Too early for the year of birth."))
        ok = False
    if since and since > day:
        form.on_roll_since.errors.append(_("The date cannot be after today."))
        ok = False
    elif since and joined and since < joined:
        form.on_roll_since.errors.append(_("A member comes onto the roll on or after joining the party."))
        ok = False
    return ok


def _same_person_exists(branch_id: int, name: str, birth_year: int | None, except_id: int | None = None) -> bool:
    stmt = select(func.count()).select_from(Member).where(
        Member.branch_id == branch_id, Member.name == name, Member.birth_year == birth_year,
        Member.status == "active")
    if except_id:
        stmt = stmt.where(Member.id != except_id)
    return bool(db.session.scalar(stmt))


def _type_choices(form, day: date) -> None:
    from ..templating import TYPE_LABELS, localized

    scheme = scheme_for_year(day.year)
    form.type_code.choices = [SelectChoice(c, f"{TYPE_LABELS[c]} · {localized(t)}") for c, t in scheme.types.items()]


@bp.route("/members/new", methods=["GET", "POST"])
@requires(MEMBER_ADMINS)
def new_member():
    day = today()
    form = NewMemberForm()
    form.branch_id.choices = branch_choices()
    _type_choices(form, day)
    if request.method == "GET":
        form.branch_id.data = args_form(NewMemberArgs).branch.data
        form.on_roll_since.data = day
        return render_template("admin/member_form.html", form=form, member=None)
    if form.validate_on_submit() and _check_dates(form, day):
        if not form.same_name_ok.data and _same_person_exists(form.branch_id.data, form.name.data,
                                                               form.birth_year.data):
            form.name.errors.append(_("The branch already has a member of this name born in %(y)d. If this is "
                                      "another person, tick the box below.", y=form.birth_year.data))
            form.show_same_name = True
        else:
            member = Member(street_id=current_user.street_id, branch_id=form.branch_id.data, status="active")
            _fill(member, form)
            db.session.add(member)
            db.session.flush()
            db.session.add(MemberType(member_id=member.id, type_code=form.type_code.data,
                                      effective_from=member.on_roll_since, reason=_("Type on coming onto the roll"),
                                      own_wish="", decided_by_id=current_user.id))
            db.session.add(BranchSpell(member_id=member.id, branch_id=member.branch_id, starts_on=member.on_roll_since,
                                       recorded_by_id=current_user.id))
            audit.record("member_added", member, member_id=member.id, summary=member.name,
                         after={**snapshot(member), "type": form.type_code.data})
            db.session.commit()
            flash(_("%(name)s is on the roll.", name=member.name), "success")
            return redirect(url_for("admin.member", member_id=member.id))
    return render_template("admin/member_form.html", form=form, member=None), 422


def _fill(member: Member, form: MemberForm) -> None:
    member.name = form.name.data
    member.gender = form.gender.data or ""
    member.birth_year = form.birth_year.data
    member.joined_party_on = form.joined_party_on.data
    member.on_roll_since = form.on_roll_since.data
    member.probationary = bool(form.probationary.data)
    member.booklet_no = form.booklet_no.data or ""
    member.phone = form.phone.data or ""
    member.address = form.address.data or ""


def _move_roll_date(member: Member, new: date, form: MemberForm) -> bool:
    """The date on the roll moves its first type record and branch spell; refused past later history."""
    first_entry = db.session.scalar(select(func.min(PointEntry.earned_on)).where(PointEntry.member_id == member.id))
    if first_entry is not None and new > first_entry:
        form.on_roll_since.errors.append(_("Points are recorded from %(d)s: the date cannot be later.",
                                           d=first_entry.isoformat()))
        return False
    types = db.session.scalars(select(MemberType).where(MemberType.member_id == member.id)
                               .order_by(MemberType.effective_from, MemberType.id)).all()
    spells = db.session.scalars(select(BranchSpell).where(BranchSpell.member_id == member.id)
                                .order_by(BranchSpell.starts_on, BranchSpell.id)).all()
    later = [t.effective_from for t in types[1:]] + [s.starts_on for s in spells[1:]]
    if member.left_roll_on:
        later.append(member.left_roll_on)
    if later and new >= min(later):
        form.on_roll_since.errors.append(_("The member's history changes on %(d)s: the date must be earlier.",
                                           d=min(later).isoformat()))
        return False
    if types:
        types[0].effective_from = new
    if spells:
        spells[0].starts_on = new
    return True


@bp.route("/members/<int:member_id>/edit", methods=["GET", "POST"])
@requires(MEMBER_ADMINS)
def edit_member(member_id: int):
    member = member_or_404(member_id)
    day = today()
    if request.method == "GET":
        form = MemberForm(obj=member)
        log_private_view([member], "edit form")
        db.session.commit()
        return render_template("admin/member_form.html", form=form, member=member)
    form = MemberForm()
    if form.validate_on_submit() and _check_dates(form, day):
        before = snapshot(member)
        moved = form.on_roll_since.data != member.on_roll_since
        if moved and not _move_roll_date(member, form.on_roll_since.data, form):
            db.session.rollback()
        elif _same_person_exists(member.branch_id, form.name.data, form.birth_year.data, except_id=member.id) and (
                form.name.data, form.birth_year.data) != (member.name, member.birth_year):
            form.name.errors.append(_("The branch already has a member of this name born in %(y)d.",
                                      y=form.birth_year.data))
            db.session.rollback()
        else:
            old_private = {k: getattr(member, k) for k in PRIVATE}
            _fill(member, form)
            after = snapshot(member)
            changed = {k for k in after if after[k] != before[k]}
            # A private field is logged as changed, never with its value.
            changed |= {k for k in PRIVATE if getattr(member, k) != old_private[k]}
            if changed:
                audit.record("member_updated", member, member_id=member.id, summary=f"{member.name}: "
                             + ", ".join(sorted(changed)), before={k: before[k] for k in sorted(changed)},
                             after={k: after[k] for k in sorted(changed)})
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for("admin.member", member_id=member.id))
    return render_template("admin/member_form.html", form=form, member=member), 422


# --- the member's page ----------------------------------------------------------------------------

def member_context(member: Member) -> dict:
    day = today()
    scheme = scheme_for_year(day.year)
    active = member.status == "active"
    score = score_members(db.session, scheme, day.year, day, [member])[member.id]
    types = db.session.execute(
        select(MemberType, User.username).outerjoin(User, User.id == MemberType.decided_by_id)
        .where(MemberType.member_id == member.id).order_by(MemberType.effective_from.desc(), MemberType.id.desc())
    ).all()
    spells = db.session.execute(
        select(BranchSpell, Branch, Community).join(Branch, Branch.id == BranchSpell.branch_id)
        .join(Community, Community.id == Branch.community_id)
        .where(BranchSpell.member_id == member.id).order_by(BranchSpell.starts_on.desc(), BranchSpell.id.desc())
    ).all()
    branch, community = db.session.execute(select(Branch, Community).join(
        Community, Community.id == Branch.community_id).where(Branch.id == member.branch_id)).one()
    accounts = db.session.scalars(select(User).where(User.member_id == member.id)).all()
    return dict(member=member, day=day, scheme=scheme, score=score, types=types, spells=spells, branch=branch,
                community=community, accounts=accounts,
                earliest=earliest_type_change(member) if active else None,
                published=latest_published_quarter(member) if active else None,
                type_form=type_form(member, day) if active else None)


@bp.get("/members/<int:member_id>")
@requires(MEMBER_ADMINS)
def member(member_id: int):
    m = member_or_404(member_id)
    return render_template("admin/member.html", **member_context(m))


@bp.post("/members/<int:member_id>/private")
@requires(MEMBER_ADMINS)
def private_fields(member_id: int):
    """Phone and address, on request; the view is logged (a POST: a GET never writes, not even the log)."""
    m = member_or_404(member_id)
    log_private_view([m], "member page")
    db.session.commit()
    resp = make_response(render_template("admin/_private.html", member=m))
    resp.vary.add("HX-Request")
    return resp


# --- transfer and leaving the roll -----------------------------------------------------------------

def _open_spell(member: Member) -> BranchSpell | None:
    return db.session.scalar(select(BranchSpell).where(BranchSpell.member_id == member.id,
                                                       BranchSpell.ends_on.is_(None))
                             .order_by(BranchSpell.starts_on.desc()).limit(1))


@bp.route("/members/<int:member_id>/transfer", methods=["GET", "POST"])
@requires(MEMBER_ADMINS)
def transfer(member_id: int):
    member = member_or_404(member_id)
    if member.status != "active":
        abort(409)
    day = today()
    form = TransferForm()
    form.branch_id.choices = branch_choices(exclude=member.branch_id)
    spell = _open_spell(member)
    since = spell.starts_on if spell else member.on_roll_since
    if request.method == "GET":
        form.on.data = day
        return render_template("admin/member_transfer.html", form=form, member=member, since=since)
    if form.validate_on_submit():
        on = form.on.data
        if on > day:
            form.on.errors.append(_("The date cannot be after today."))
        elif on <= since:
            form.on.errors.append(_("The member is in this branch since %(d)s: the transfer must be later.",
                                    d=since.isoformat()))
        else:
            target, target_community = branch_or_404(form.branch_id.data)
            old_branch = member.branch_id
            if spell is not None:
                spell.ends_on = on
            db.session.add(BranchSpell(member_id=member.id, branch_id=target.id, starts_on=on,
                                       recorded_by_id=current_user.id))
            member.branch_id = target.id
            # A member's own account follows the record (its scope is the member's branch).
            for u in db.session.scalars(select(User).where(User.member_id == member.id, User.role == "member")):
                u.branch_id, u.community_id = target.id, target_community.id
            audit.record("member_transferred", member, member_id=member.id,
                         summary=f"{member.name}: branch {old_branch} → {target.id} on {on.isoformat()}"
                                 + (f" ({form.note.data})" if form.note.data else ""),
                         before={"branch_id": old_branch}, after={"branch_id": target.id, "on": on.isoformat(),
                                                                   "note": form.note.data})
            db.session.commit()
            flash(_("%(name)s is transferred to %(branch)s from %(d)s. Their entries stay with them.",
                    name=member.name, branch=target.name, d=on.isoformat()), "success")
            return redirect(url_for("admin.member", member_id=member.id))
    return render_template("admin/member_transfer.html", form=form, member=member, since=since), 422


@bp.route("/members/<int:member_id>/status", methods=["GET", "POST"])
@requires(MEMBER_ADMINS)
def status(member_id: int):
    """Transferred out of the street or deceased: the member leaves the roll on the date."""
    member = member_or_404(member_id)
    if member.status != "active":
        abort(409)
    day = today()
    form = StatusForm()
    if request.method == "GET":
        form.on.data = day
        return render_template("admin/member_status.html", form=form, member=member)
    if form.validate_on_submit():
        on = form.on.data
        spell = _open_spell(member)
        if on > day:
            form.on.errors.append(_("The date cannot be after today."))
        elif on <= member.on_roll_since or (spell is not None and on <= spell.starts_on):
            form.on.errors.append(_("The date must be after the member came onto the roll or into the branch."))
        else:
            before = snapshot(member)
            member.status, member.left_roll_on = form.status.data, on
            if spell is not None:
                spell.ends_on = on
            for u in db.session.scalars(select(User).where(User.member_id == member.id, User.role == "member",
                                                           User.active.is_(True))):
                u.active = False
                end_all_sessions(u.id)
                audit.record("account_disabled", u, member_id=member.id, summary=f"{u.username}: member left the roll")
            audit.record("member_status_changed", member, member_id=member.id,
                         summary=f"{member.name}: {form.status.data} on {on.isoformat()}"
                                 + (f" ({form.note.data})" if form.note.data else ""),
                         before=before, after={**snapshot(member), "note": form.note.data})
            db.session.commit()
            flash(_("%(name)s has left the roll on %(d)s. The record and its history are kept.", name=member.name,
                    d=on.isoformat()), "success")
            return redirect(url_for("admin.member", member_id=member.id))
    return render_template("admin/member_status.html", form=form, member=member), 422
