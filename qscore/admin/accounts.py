"""Accounts: create, edit role and scope, link to a member record, disable, reset, and member
accounts in bulk with a printable sheet of first-time passwords.

The office never types or sees a chosen password: a new or reset account gets a random first-time
password, shown once, which the holder must change at the first login.
"""
from __future__ import annotations

import secrets

from flask import abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import case, exists, func, or_, select
from werkzeug.security import generate_password_hash
from wtforms import SelectChoice

from ..access import STREET_ADMIN, loaded, requires, scope_loader
from .. import account_events, audit, passwords
from ..db import db
from ..fields import args_form
from ..htmx import is_htmx
from ..models import ROLES, Branch, Community, Member, User
from ..security import hash_password
from ..sessions import end_all_sessions
from . import bp
from .forms import AccountEditForm, AccountFilters, AccountForm, BulkAccountsForm, NewAccountArgs
from .scope import member_number, street_id

# No 0/o, 1/l/i: read off paper and typed by an elderly member without confusion.
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
PAGE_SIZE = 50


def first_time_password() -> str:
    """12 random characters (about 59 bits) in groups of four: xxxx-xxxx-xxxx."""
    chars = "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(12))
    return "-".join(chars[i:i + 4] for i in range(0, 12, 4))


def first_time_hash(password: str) -> str:
    """A lighter scrypt for random first-time passwords: their ~59 bits, not the work factor, make them
    safe, and a branch of 80 members is created in seconds. The holder's own password gets the full cost."""
    method = current_app.config.get("FIRST_PASSWORD_HASH_METHOD")
    if not method:
        configured = current_app.config["PASSWORD_HASH_METHOD"]
        method = "scrypt:16384:8:1" if configured.startswith("scrypt") else configured
    return generate_password_hash(password, method=method)


def _user_or_404(user_id: int) -> User:
    return loaded("user_id", user_id)


@scope_loader("user_id")
def _load_user(user_id: int) -> User:
    """An account of the street (accounts are the street admin's; any secretary sees they exist)."""
    u = db.session.get(User, user_id)
    if u is None or u.street_id != street_id():
        abort(404)
    return u


def _active_admins() -> int:
    return db.session.scalar(select(func.count()).select_from(User).where(
        User.street_id == street_id(), User.role == "street_admin", User.active.is_(True)))


def _is_last_admin(u: User) -> bool:
    return u.role == "street_admin" and u.active and _active_admins() <= 1


def _snapshot(u: User) -> dict:
    return {"username": u.username, "display_name": u.display_name, "role": u.role, "community_id": u.community_id,
            "branch_id": u.branch_id, "member_id": u.member_id, "active": u.active,
            "must_change_password": u.must_change_password}


@bp.get("/accounts")
@requires(STREET_ADMIN)
def accounts():
    args = args_form(AccountFilters)
    role, q, state = args.role.data or "", args.q.data or "", args.state.data or ""
    stmt = select(User).where(User.street_id == street_id())
    if role:
        stmt = stmt.where(User.role == role)
    if q:
        stmt = stmt.where(or_(User.username.contains(q.lower()), User.display_name.contains(q)))
    if state in ("active", "disabled"):
        stmt = stmt.where(User.active.is_(state == "active"))
    rank = case({r: i for i, r in enumerate(ROLES)}, value=User.role, else_=len(ROLES))
    page = db.paginate(stmt.order_by(rank, User.username), page=args.page.data or 1, per_page=PAGE_SIZE,
                       error_out=False)
    return render_template("admin/accounts.html", pg=page, places=_places(page.items),
                           members=_linked_names(page.items), role=role, q=q, state=state,
                           without=_branches_without_accounts())


def _places(users) -> dict[int, str]:
    """'community · branch' of each account's scope."""
    ids = {u.branch_id for u in users if u.branch_id}
    branches = {b.id: (b, c) for b, c in db.session.execute(
        select(Branch, Community).join(Community, Community.id == Branch.community_id).where(Branch.id.in_(ids)))}
    cids = {u.community_id for u in users if u.community_id}
    communities = {c.id: c for c in db.session.scalars(select(Community).where(Community.id.in_(cids)))}
    out = {}
    for u in users:
        if u.branch_id in branches:
            b, c = branches[u.branch_id]
            out[u.id] = f"{c.name} · {b.name}"
        elif u.community_id in communities:
            out[u.id] = communities[u.community_id].name
    return out


def _linked_names(users) -> dict[int, str]:
    ids = [u.member_id for u in users if u.member_id]
    return dict(db.session.execute(select(Member.id, Member.name).where(Member.id.in_(ids))).all()) if ids else {}


def _branches_without_accounts() -> int:
    """Active members of the street with no account (the bulk form's reason to exist)."""
    has_account = select(User.member_id).where(User.member_id.isnot(None))
    return db.session.scalar(select(func.count()).select_from(Member).where(
        Member.street_id == street_id(), Member.status == "active", Member.id.not_in(has_account)))


def _set_choices(form: AccountForm) -> None:
    communities = db.session.scalars(select(Community).where(
        Community.street_id == street_id(), Community.retired.is_(False)).order_by(Community.name)).all()
    form.community_id.choices = [SelectChoice(0, "—")] + [SelectChoice(c.id, c.name) for c in communities]
    branches = db.session.execute(select(Branch, Community).join(Community, Community.id == Branch.community_id)
                                  .where(Community.street_id == street_id(), Branch.retired.is_(False),
                                         Community.retired.is_(False))
                                  .order_by(Community.name, Branch.name)).all()
    form.branch_id.choices = [SelectChoice(0, "—")] + [SelectChoice(b.id, f"{c.name} · {b.name}") for b, c in branches]


def _apply_scope(form: AccountForm, u: User) -> bool:
    """Check the role's scope and the member link; set them on ``u``. False (with field errors) if invalid."""
    ok = True
    member = None
    if form.member_ref.data:
        number = member_number(form.member_ref.data)
        member = db.session.scalar(select(Member).where(Member.id == number, Member.street_id == street_id())) \
            if number else None
        if member is None:
            form.member_ref.errors.append(_("No member with this number in the street."))
            ok = False
        elif db.session.scalar(select(exists().where(User.member_id == member.id, User.id != (u.id or 0)))):
            form.member_ref.errors.append(_("This member record is already linked to another account."))
            ok = False
    role = form.role.data
    community_id = form.community_id.data or None
    branch_id = form.branch_id.data or None
    if role == "street_admin":
        community_id = branch_id = None
    elif role == "community_secretary":
        branch_id = None
        if community_id is None:
            form.community_id.errors.append(_("Choose the community this secretary works for."))
            ok = False
    elif role == "branch_secretary":
        if branch_id is None:
            form.branch_id.errors.append(_("Choose the branch this secretary works for."))
            ok = False
    elif role == "member":
        if member is None and not form.member_ref.errors:
            form.member_ref.errors.append(_("A member's account must be linked to their member record."))
            ok = False
        branch_id = member.branch_id if member is not None else None
    if branch_id is not None:
        community_id = db.session.scalar(select(Branch.community_id).where(Branch.id == branch_id))
    if ok:
        u.role, u.community_id, u.branch_id = role, community_id, branch_id
        u.member_id = member.id if member is not None else None
    return ok


@bp.route("/accounts/new", methods=["GET", "POST"])
@requires(STREET_ADMIN)
def account_new():
    form = AccountForm()
    _set_choices(form)
    if request.method == "GET":
        member_id = args_form(NewAccountArgs).member_id.data
        if member_id:
            member = db.session.scalar(select(Member).where(Member.id == member_id, Member.street_id == street_id()))
            if member is not None:
                form.member_ref.data = str(member.id)
                form.role.data = "member"
                form.branch_id.data = member.branch_id
                form.display_name.data = member.name
        return render_template("admin/account_form.html", form=form, u=None)
    if form.validate_on_submit():
        taken = db.session.scalar(select(exists().where(User.username == form.username.data)))
        if taken:
            form.username.errors.append(_("This username is taken."))
        else:
            password = first_time_password()
            u = User(username=form.username.data, display_name=form.display_name.data or form.username.data,
                     password_hash=hash_password(password), street_id=street_id(), must_change_password=True,
                     password_expires_at=passwords.first_password_expiry(), role=form.role.data)
            if _apply_scope(form, u):
                db.session.add(u)
                db.session.flush()
                audit.record("account_created", u, summary=f"{u.username} ({u.role})", after=_snapshot(u),
                             member_id=u.member_id)
                db.session.commit()
                return render_template("admin/account_password.html", u=u, password=password, created=True)
    return render_template("admin/account_form.html", form=form, u=None), 422


@bp.route("/accounts/<int:user_id>/edit", methods=["GET", "POST"])
@requires(STREET_ADMIN)
def account_edit(user_id: int):
    u = _user_or_404(user_id)
    form = AccountEditForm(obj=u) if request.method == "GET" else AccountEditForm()
    _set_choices(form)
    if request.method == "GET":
        form.member_ref.data = str(u.member_id) if u.member_id else ""
        form.community_id.data = u.community_id or 0
        form.branch_id.data = u.branch_id or 0
        return render_template("admin/account_form.html", form=form, u=u)
    if form.validate_on_submit():
        before = _snapshot(u)
        if form.role.data != "street_admin" and _is_last_admin(u):
            form.role.errors.append(_("This is the street's last active administrator: appoint another first."))
        elif _apply_scope(form, u):
            u.display_name = form.display_name.data or u.username
            after = _snapshot(u)
            if after != before:
                audit.record("account_updated", u, summary=u.username, before=before, after=after,
                             member_id=u.member_id)
            db.session.commit()
            flash(_("Account %(name)s saved.", name=u.username), "success")
            return redirect(url_for("admin.accounts"))
    db.session.rollback()
    return render_template("admin/account_form.html", form=form, u=u), 422


def _row(u: User, status: int = 200, **extra):
    body = render_template("admin/_account_row.html", u=u, place=_places([u]).get(u.id, ""),
                           member_name=_linked_names([u]).get(u.member_id, ""), **extra)
    resp = make_response(body, status)
    resp.vary.add("HX-Request")
    return resp


@bp.post("/accounts/<int:user_id>/disable")
@requires(STREET_ADMIN)
def account_disable(user_id: int):
    u = _user_or_404(user_id)
    if _is_last_admin(u):
        message = _("This is the street's last active administrator: it cannot be disabled.")
        if is_htmx():
            return _row(u, 409, error=message)
        flash(message, "error")
        return redirect(url_for("admin.accounts")), 303
    before = _snapshot(u)
    u.active = False
    end_all_sessions(u.id)  # at once: the next request from any of its logins is refused
    audit.record("account_disabled", u, summary=u.username, before=before, after=_snapshot(u), member_id=u.member_id)
    db.session.commit()
    if u.id == current_user.id:
        return redirect(url_for("auth.login")), 303
    if is_htmx():
        return _row(u, done=_("Disabled; its sessions have ended."))
    flash(_("%(name)s is disabled; its sessions have ended.", name=u.username), "success")
    return redirect(url_for("admin.accounts")), 303


@bp.post("/accounts/<int:user_id>/enable")
@requires(STREET_ADMIN)
def account_enable(user_id: int):
    u = _user_or_404(user_id)
    before = _snapshot(u)
    u.active = True
    audit.record("account_enabled", u, summary=u.username, before=before, after=_snapshot(u), member_id=u.member_id)
    db.session.commit()
    if is_htmx():
        return _row(u, done=_("Enabled."))
    flash(_("%(name)s is enabled.", name=u.username), "success")
    return redirect(url_for("admin.accounts")), 303


@bp.post("/accounts/<int:user_id>/reset")
@requires(STREET_ADMIN)
def account_reset(user_id: int):
    u = _user_or_404(user_id)
    password = first_time_password()
    u.password_hash = hash_password(password)
    u.must_change_password = True
    u.password_expires_at = passwords.first_password_expiry()
    end_all_sessions(u.id)
    audit.record("password_reset", u, summary=u.username, member_id=u.member_id)
    account_events.note(u, "password_reset", by=current_user._get_current_object())
    db.session.commit()
    if is_htmx():
        return _row(u, password=password)
    return render_template("admin/account_password.html", u=u, password=password, created=False)


@bp.route("/accounts/bulk", methods=["GET", "POST"])
@requires(STREET_ADMIN)
def account_bulk():
    """Member accounts for every member of a branch who has none, with a printable sheet."""
    form = BulkAccountsForm()
    has_account = select(User.member_id).where(User.member_id.isnot(None))
    rows = db.session.execute(
        select(Branch, Community, func.count(Member.id))
        .join(Community, Community.id == Branch.community_id)
        .outerjoin(Member, (Member.branch_id == Branch.id) & (Member.status == "active")
                   & Member.id.not_in(has_account))
        .where(Community.street_id == street_id(), Branch.retired.is_(False))
        .group_by(Branch.id, Community.id).order_by(Community.name, Branch.name)).all()
    form.branch_id.choices = [SelectChoice(b.id, f"{c.name} · {b.name} ({n})") for b, c, n in rows if n]
    if request.method == "GET" or not form.validate_on_submit():
        status = 200 if request.method == "GET" else 422
        return render_template("admin/accounts_bulk.html", form=form, rows=rows), status
    branch, community = next((b, c) for b, c, _n in rows if b.id == form.branch_id.data)
    members = db.session.scalars(select(Member).where(
        Member.branch_id == branch.id, Member.status == "active", Member.id.not_in(has_account))
        .order_by(Member.name_key, Member.name, Member.id)).all()
    taken = set(db.session.scalars(select(User.username).where(User.username.like("m%"))))
    sheet = []
    for m in members:
        username = f"m{m.id:05d}"
        n = 2
        while username in taken:
            username, n = f"m{m.id:05d}-{n}", n + 1
        taken.add(username)
        password = first_time_password()
        u = User(username=username, display_name=m.name, password_hash=first_time_hash(password), role="member",
                 street_id=street_id(), community_id=community.id, branch_id=branch.id, member_id=m.id,
                 must_change_password=True, password_expires_at=passwords.first_password_expiry())
        db.session.add(u)
        sheet.append((m, u, password))
    db.session.flush()
    for m, u, _p in sheet:
        audit.record("account_created", u, summary=f"{u.username} (member, bulk)", after=_snapshot(u), member_id=m.id)
    audit.record("accounts_bulk_created", branch, summary=f"{branch.name}: {len(sheet)} member accounts")
    db.session.commit()
    return render_template("admin/accounts_sheet.html", branch=branch, community=community, sheet=sheet,
                           login_url=url_for("auth.login", _external=True))
