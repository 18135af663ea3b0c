"""The second step's pages: the code at login, "two-step verification" in the account menu, and the
administrators' reset for a lost phone (on the accounts page)."""
from __future__ import annotations

import time

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from .. import audit, throttle
from ..access import EVERYONE, STREET_ADMIN, loaded, public, requires
from ..admin import bp as admin_bp
from ..db import db
from ..htmx import hx_redirect, is_htmx
from ..redirects import safe_next
from ..security import check_password, client_ip
from ..sessions import is_fresh, mark_fresh, start_session
from . import (ENROL_KEY, check_code, end_pending, enrol as enrol_account, grouped, matching_step,
               new_secret, pending_expired, pending_state, pending_user, provisioning_uri, qr_svg,
               recovery_codes_left, renew_recovery_codes, required_for, reset, seal, turn_off, unseal, verify)
from . import commands  # noqa: F401  (registers the console's reset command)
from .forms import EnrolForm, LoginCodeForm, PasswordAndCodeForm, ResetForm

bp = Blueprint("second_step", __name__)

FRESH_SECONDS = 300  # enrolling within 5 minutes of the login needs no second password
ENROL_SECONDS = 30 * 60  # the secret on the enrolment page stays the same this long (a reload keeps the scanned QR)
# Reachable while a password waits for its code (there is no login yet).
PENDING_OPEN = {"second_step.login_code", "second_step.cancel", "static", "i18n.switch_language", "health.healthz"}
# Reachable by an account whose role requires a second step that it has not set up.
ENROL_OPEN = {"second_step.enrol", "auth.logout", "account.acknowledge", "static", "i18n.switch_language",
              "health.healthz"}


def _go(target: str):
    # An XHR would follow a 302 silently and swap a whole page into a table cell.
    return hx_redirect(target, 401) if is_htmx() else redirect(target)


@bp.before_app_request
def _only_the_second_step():
    """No page but the code page while a password waits for its code; no page but enrolment for an
    account that must have a second step and has none."""
    if request.endpoint is None:
        return None
    if current_user.is_authenticated:
        # A first-time password is changed first (auth._force_password_change), then the phone is set up.
        if (request.endpoint not in ENROL_OPEN and not current_user.has_second_step
                and not current_user.must_change_password and required_for(current_user)):
            return _go(url_for("second_step.enrol"))
        return None
    state = pending_state()
    if state is None:
        return None
    if pending_expired(state):
        end_pending()
        flash(_("More than 5 minutes passed without the code: please log in again."), "warning")
        return None
    if request.endpoint in PENDING_OPEN:
        return None
    return _go(url_for("second_step.login_code"))


# --- logging in ---------------------------------------------------------------------------------------

def ask_for_code(user, after: str):
    """Called by the login once the password is right (auth.login): no session yet, the code page next."""
    from . import begin

    begin(user, after)
    db.session.commit()  # nothing written: ends the transaction (and the throttle's lock) of the password check
    return redirect(url_for("second_step.login_code"))


@bp.route("/login/code", methods=["GET", "POST"])
@public
def login_code():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    state = pending_state() or {}
    user = pending_user()
    if user is None:
        end_pending()
        return redirect(url_for("auth.login"))
    form = LoginCodeForm()
    status = 200
    if form.validate_on_submit():
        ip = client_ip()
        wait = throttle.check("second_step", user.username, ip)
        if wait:
            form.code.errors.append(throttle.message(wait, "second_step"))
            return throttle.too_many(_code_page(form, user), wait)
        how = verify(user, form.code.data, form.recovery.data)
        throttle.record("second_step", user.username, ip, ok=how is not None)
        if how is not None:
            after = safe_next(state.get("next")) or url_for("home.index")
            start_session(user)  # the login begins only now (and the pending state goes with the old cookie)
            audit.record("login", user, user=user)
            db.session.commit()
            if how == "recovery":
                left = recovery_codes_left(user)
                flash(ngettext("You logged in with a recovery code; %(num)d is left. Print new ones under "
                               "“Two-step verification”.",
                               "You logged in with a recovery code; %(num)d are left. Print new ones under "
                               "“Two-step verification”.", left), "warning")
            if user.must_change_password:
                return redirect(url_for("auth.password"))
            return redirect(after)
        db.session.commit()  # the wrong code is recorded for the throttle
        if form.code.data:
            form.code.errors.append(_("The code is wrong or was used already. Enter the code the app shows now; "
                                      "if it keeps failing, check that the phone's time is right."))
        else:
            form.recovery.errors.append(_("This recovery code is wrong or was used already."))
        status = 422
    elif form.is_submitted():
        status = 422
    return _code_page(form, user), status


def _code_page(form, user) -> str:
    return render_template("second_step/login_code.html", form=form, user=user,
                           open_recovery=bool(form.recovery.data or form.recovery.errors))


@bp.post("/login/code/cancel")
@public
def cancel():
    end_pending()
    return redirect(url_for("auth.login"))


# --- the account's own page ------------------------------------------------------------------------------

def _me():
    return current_user._get_current_object()


def _security_page(status: int = 200, *, renew=None, off=None):
    user = _me()
    return render_template(
        "second_step/security.html", user=user, required=required_for(user),
        left=recovery_codes_left(user) if user.has_second_step else 0,
        renew=renew or PasswordAndCodeForm(prefix="renew", formdata=None),
        off=off or PasswordAndCodeForm(prefix="off", formdata=None)), status


@bp.get("/account/security")
@requires(EVERYONE)
def security():
    return _security_page()


def _enrolment_secret(user) -> str:
    """The secret shown on the enrolment page, kept sealed in the session while the page is in use."""
    held = session.get(ENROL_KEY)
    if (isinstance(held, dict) and held.get("user") == user.id and isinstance(held.get("since"), int)
            and time.time() - held["since"] < ENROL_SECONDS):
        secret = unseal(held.get("secret"))
        if secret:
            return secret
    secret = new_secret()
    session[ENROL_KEY] = {"user": user.id, "secret": seal(secret), "since": int(time.time())}
    return secret


@bp.route("/account/security/enrol", methods=["GET", "POST"])
@requires(EVERYONE)
def enrol():
    user = _me()
    if user.has_second_step:
        flash(_("Two-step verification is already on."), "info")
        return redirect(url_for("second_step.security"))
    form = EnrolForm()
    if is_fresh(FRESH_SECONDS):
        del form.password
    secret = _enrolment_secret(user)
    status = 200
    if form.validate_on_submit():
        if "password" in form:
            wait = throttle.check("step_up", user.username, client_ip())
            if wait:
                form.password.errors.append(throttle.message(wait))
                return throttle.too_many(_enrol_page(form, user, secret), wait)
            ok = check_password(user.password_hash, form.password.data)
            throttle.record("step_up", user.username, client_ip(), ok=ok)
            if not ok:
                db.session.commit()
                form.password.errors.append(_("The password is wrong."))
                return _enrol_page(form, user, secret), 422
            mark_fresh()
        step = matching_step(secret, form.code.data)
        if step is None:
            db.session.commit()
            form.code.errors.append(_("This is not the code the app shows for this QR code. Check that you "
                                      "scanned the code on this page, and enter the 6 digits shown now."))
            status = 422
        else:
            codes = enrol_account(user, secret, step)
            session.pop(ENROL_KEY, None)
            db.session.commit()
            return render_template("second_step/recovery_codes.html", user=user, codes=codes, enrolled=True)
    elif form.is_submitted():
        status = 422
    return _enrol_page(form, user, secret), status


def _enrol_page(form, user, secret: str) -> str:
    issuer = _("Party member points")
    uri = provisioning_uri(secret, user, issuer)
    return render_template("second_step/enrol.html", form=form, user=user, secret=grouped(secret),
                           qr=qr_svg(uri, _("QR code to scan with the authenticator app")),
                           required=required_for(user), issuer=issuer)


def _password_and_code(form, user):
    """The password and a fresh code, through the throttle: None when both are right; else the seconds to
    wait (429), or 0 when one was wrong (422). The form carries the message."""
    ip = client_ip()
    wait = throttle.check("second_step", user.username, ip)
    if wait:
        form.code.errors.append(throttle.message(wait, "second_step"))
        return wait
    # The code is only spent when the password is right.
    ok = check_password(user.password_hash, form.password.data) and check_code(user, form.code.data)
    throttle.record("second_step", user.username, ip, ok=ok)
    if not ok:
        db.session.commit()
        form.code.errors.append(_("The password or the code is wrong."))
        return 0
    return None


@bp.post("/account/security/recovery-codes")
@requires(EVERYONE)
def renew_codes():
    user = _me()
    if not user.has_second_step:
        return redirect(url_for("second_step.enrol"))
    form = PasswordAndCodeForm(prefix="renew")
    if not form.validate_on_submit():
        return _security_page(422, renew=form)
    refused = _password_and_code(form, user)
    if refused:
        return throttle.too_many(_security_page(429, renew=form)[0], refused)
    if refused is not None:
        return _security_page(422, renew=form)
    codes = renew_recovery_codes(user)
    db.session.commit()
    return render_template("second_step/recovery_codes.html", user=user, codes=codes, enrolled=False)


@bp.post("/account/security/off")
@requires(EVERYONE)
def off():
    user = _me()
    if not user.has_second_step:
        return redirect(url_for("second_step.security"))
    if required_for(user):
        flash(_("Your role requires two-step verification: it cannot be turned off."), "error")
        return _security_page(409)
    form = PasswordAndCodeForm(prefix="off")
    if not form.validate_on_submit():
        return _security_page(422, off=form)
    refused = _password_and_code(form, user)
    if refused:
        return throttle.too_many(_security_page(429, off=form)[0], refused)
    if refused is not None:
        return _security_page(422, off=form)
    turn_off(user)
    db.session.commit()
    flash(_("Two-step verification is off: you log in with your password alone."), "success")
    return redirect(url_for("second_step.security"))


# --- a lost phone: another street administrator resets it -------------------------------------------------

@admin_bp.route("/accounts/<int:user_id>/second-step", methods=["GET", "POST"])
@requires(STREET_ADMIN)
def second_step_reset(user_id: int):
    person = loaded("user_id", user_id)
    form = ResetForm()
    refusal = None
    if person.id == current_user.id:
        refusal = _("Nobody resets their own two-step verification: ask another street administrator.")
    elif not person.has_second_step:
        refusal = _("%(name)s has not turned on two-step verification: there is nothing to reset.",
                    name=person.username)
    if refusal:
        return render_template("second_step/reset.html", form=form, person=person, refusal=refusal), 409
    if form.validate_on_submit():
        reset(person, by=_me(), reason=form.reason.data)
        db.session.commit()
        flash(_("The two-step verification of %(name)s is reset and their logins have ended. At the next login "
                "they use the password alone, or set up a new phone where their role requires it.",
                name=person.username), "success")
        return redirect(url_for("admin.accounts"), 303)
    status = 422 if form.is_submitted() else 200
    return render_template("second_step/reset.html", form=form, person=person, refusal=None), status
