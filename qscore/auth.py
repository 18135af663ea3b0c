"""Logging in and out, and changing one's password."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from .access import requires, public, EVERYONE
from . import account_events, audit, passwords, throttle
from .db import db
from .demo_mode import DEMO_PASSWORD, is_real_data_present
from .fields import args_form
from .forms import LoginForm, NextArgs, PasswordForm
from .models import User
from .redirects import safe_next
from .second_step import views as second_step_views
from .security import check_password, client_ip, hash_password
from .sessions import end_all_sessions, end_current_session, start_session

bp = Blueprint("auth", __name__)

_dummy_hashes: dict[str, str] = {}


def _dummy_hash() -> str:
    """Checked for unknown usernames too, so that timing does not reveal which accounts exist."""
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _dummy_hashes:
        _dummy_hashes[method] = hash_password("no such account")
    return _dummy_hashes[method]


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    after = safe_next(args_form(NextArgs).next.data) or url_for("home.index")
    if current_user.is_authenticated:
        return redirect(after)
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        username = form.username.data.lower()
        ip = client_ip()
        wait = throttle.check("login", username, ip)
        if wait:
            form.password.errors.append(throttle.message(wait))
            return throttle.too_many(render_template("auth/login.html", form=form), wait)
        user = db.session.scalar(select(User).where(User.username == username))
        ok = check_password(user.password_hash if user else _dummy_hash(), form.password.data)
        if ok and form.password.data == DEMO_PASSWORD and is_real_data_present():
            # Once a real street exists, the demo's shared password would be a way in: refuse it.
            throttle.record("login", username, ip, ok=False)
            db.session.commit()
            form.password.errors.append(_("The demo password is no longer accepted: this server holds real data. "
                                          "Ask your street office for a password."))
            return render_template("auth/login.html", form=form), 422
        if user is None or not ok or not user.active:
            throttle.record("login", username, ip, ok=False)
            db.session.commit()
            form.password.errors.append(_("Wrong username or password, or the account is disabled."))
            status = 422
        elif passwords.first_password_expired(user):
            # The right password, too late: not a guess, so the throttle counts nothing; no session starts.
            form.password.errors.append(_("This first-time password has expired. Please ask your administrator "
                                          "to set a new one."))
            status = 422
        elif user.has_second_step:
            # No session yet, and no success recorded: the code page logs in (qscore/second_step).
            return second_step_views.ask_for_code(user, after)
        else:
            throttle.record("login", username, ip, ok=True)
            start_session(user)
            audit.record("login", user, user=user)
            db.session.commit()
            if user.must_change_password:
                return redirect(url_for("auth.password"))
            return redirect(after)
    elif form.is_submitted():
        status = 422
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_required
@requires(EVERYONE)
def logout():
    audit.record("logout", current_user._get_current_object())
    end_current_session()
    db.session.commit()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
@requires(EVERYONE)
def password():
    form = PasswordForm()
    status = 200
    if form.validate_on_submit():
        user = current_user._get_current_object()
        wait = throttle.check("password", user.username, client_ip())
        if wait:
            form.current.errors.append(throttle.message(wait))
            return throttle.too_many(render_template("auth/password.html", form=form), wait)
        ok = check_password(user.password_hash, form.current.data)
        throttle.record("password", user.username, client_ip(), ok=ok)
        if not ok:
            form.current.errors.append(_("The current password is wrong."))
            status = 422
        elif form.password.data == form.current.data:
            form.password.errors.append(_("Choose a password different from the current one."))
            status = 422
        else:
            user.password_hash = hash_password(form.password.data)
            user.must_change_password = False
            user.password_expires_at = None  # their own password now: it never expires (ASVS 2.1.10)
            # Every other login of this account ends; this one is replaced by a fresh session.
            end_all_sessions(user.id)
            start_session(user)
            audit.record("password_change", user)
            account_events.note(user, "password_change", by=user)  # told in the account's other and later logins
            db.session.commit()
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("home.index"))
        db.session.commit()  # the check is recorded whatever else the form says
    elif form.is_submitted():
        status = 422
    return render_template("auth/password.html", form=form), status


# Pages an account that must change its password may still reach.
_PASSWORD_CHANGE_OPEN = {"auth.password", "auth.logout", "static", "i18n.switch_language", "health.healthz",
                         "passwords.meter",
                         "account.acknowledge"}


@bp.before_app_request
def _force_password_change():
    """A reset password is a first-time password: nothing else opens until the user chooses their own."""
    if (current_user.is_authenticated and current_user.must_change_password
            and request.endpoint not in _PASSWORD_CHANGE_OPEN):
        return redirect(url_for("auth.password"))
    return None
