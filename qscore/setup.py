"""First run: while no account exists, every page leads to the setup page; afterwards it is gone.

Whoever reaches a new server first must not become its administrator (or load the demo, whose
accounts have a known password): the page asks for a one-time setup code that only the person
who started the server can read. ``flask qscore init`` (run by ``make run``) writes it to
``instance/setup-token`` (mode 0600) and prints the link with it, as Jupyter prints its token.
Wrong codes are throttled per address like passwords (throttle.py, kind "setup"); the file is
deleted once the street or the demo exists.
"""
from __future__ import annotations

import hmac
import math
import os
import secrets
from pathlib import Path

from flask import (Blueprint, Response, abort, current_app, flash, make_response, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _, lazy_gettext as _l, ngettext
from sqlalchemy import exists, select
from sqlalchemy.exc import SQLAlchemyError

from . import audit, throttle
from .access import public
from .db import db
from .demo_mode import DEMO_PASSWORD, is_real_data_present
from .fields import ArgsForm, Text, args_form
from .forms import SetupForm
from .models import Street, User
from .security import client_ip, hash_password
from .sessions import start_session
from .streets import create_street

bp = Blueprint("setup", __name__)

# Endpoints reachable before setup: the setup page itself, assets, health and language.
OPEN_BEFORE_SETUP = {"setup.setup", "setup.demo", "static", "health.healthz", "i18n.switch_language",
                     "passwords.meter"}

TOKEN_FILE_NAME = "setup-token"
TOKEN_MAX = 200  # room for the whole printed link pasted into the field
THROTTLE_ACCOUNT = "(setup)"  # never a username (usernames are letters and digits), so no pair is shared


def accounts_exist() -> bool:
    # Once true it stays true (accounts are never deleted), so each process asks only until then.
    if current_app.extensions.get("qscore_setup_done"):
        return True
    done = bool(db.session.scalar(select(exists().where(User.id.isnot(None)))))
    if done:
        current_app.extensions["qscore_setup_done"] = True
    return done


# ---------------------------------------------------------------------------------------------
# The setup code
# ---------------------------------------------------------------------------------------------

def token_path() -> Path:
    return Path(current_app.config.get("SETUP_TOKEN_FILE") or Path(current_app.instance_path) / TOKEN_FILE_NAME)


def read_token() -> str | None:
    try:
        return token_path().read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def issue_token() -> str:
    """The setup code: the one already written (a link printed earlier keeps working), else a new one."""
    existing = read_token()
    if existing:
        return existing
    path = token_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    path.chmod(0o600)  # os.open's mode applies only to a file it creates, and through the umask
    return token


def discard_token() -> None:
    token_path().unlink(missing_ok=True)


def needs_token() -> bool:
    """For `flask qscore init`: no account yet (a database without tables has none either)."""
    try:
        return not accounts_exist()
    except SQLAlchemyError:
        db.session.rollback()
        return True


def _given(value: str | None) -> str:
    """The code as typed, or taken out of the whole link when that was pasted."""
    value = value or ""
    if "token=" in value:
        value = value.split("token=", 1)[1].split("&", 1)[0]
    return value.strip()


def token_matches(given: str | None) -> bool:
    expected, typed = read_token(), _given(given)
    # compare_digest: the time taken says nothing about how much of the code was right.
    return bool(expected and typed) and hmac.compare_digest(typed.encode(), expected.encode())


def _token_field():
    return Text(_l("Setup code"), max_length=TOKEN_MAX,
                render_kw={"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false",
                           "maxlength": TOKEN_MAX})


class TokenArg(ArgsForm):
    token = _token_field()


class StreetSetupForm(SetupForm):
    token = _token_field()


def _wait_words(seconds: int) -> str:
    if seconds < 60:
        return ngettext("%(num)d second", "%(num)d seconds", seconds)
    return ngettext("%(num)d minute", "%(num)d minutes", math.ceil(seconds / 60))


def _refuse_token(form: StreetSetupForm) -> Response | None:
    """None when the posted code is right; else the page with the refusal, and nothing but the try written.

    Throttled per address like a password (throttle.py): a few free tries, then waits that double.
    """
    ip = client_ip()
    wait = throttle.check("setup", THROTTLE_ACCOUNT, ip)
    if wait:
        form.token.errors = [_("Too many wrong setup codes. Please wait %(wait)s and try again.",
                               wait=_wait_words(wait))]
        resp = _page(form, 429)
        resp.headers["Retry-After"] = str(wait)
        return resp
    if token_matches(form.token.data):
        return None
    if _given(form.token.data):
        throttle.record("setup", THROTTLE_ACCOUNT, ip, False)
        db.session.commit()
        form.token.errors = [_("This setup code is not right. Copy it again from the server's console or from the "
                               "file instance/setup-token.")]
    else:
        form.token.errors = [_("Enter the setup code: it is in the link qscore printed on the server's console when "
                               "it started.")]
    return _page(form, 403)


def _page(form: StreetSetupForm, status: int) -> Response:
    return make_response(render_template("setup/setup.html", form=form, token_issued=read_token() is not None),
                         status)


# ---------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------

@bp.before_app_request
def require_setup():
    if request.endpoint in OPEN_BEFORE_SETUP or request.endpoint is None:
        return None
    if not accounts_exist():
        return redirect(url_for("setup.setup"))
    return None


@bp.route("/setup", methods=["GET", "POST"])
@public
def setup():
    if accounts_exist():
        abort(404)
    # The printed link carries the code (?token=); the field is filled with it.
    form = StreetSetupForm(token=args_form(TokenArg).token.data)
    if not form.is_submitted():
        return _page(form, 200)
    refusal = _refuse_token(form)
    if refusal:
        return refusal
    if not form.validate():
        return _page(form, 422)
    if db.session.scalar(select(Street).where(Street.name == form.street_name.data)):
        form.street_name.errors.append(_("A street with this name exists."))
        return _page(form, 422)
    street = create_street(form.street_name.data)
    admin = User(username=form.username.data, display_name=form.username.data,
                 password_hash=hash_password(form.password.data), role="street_admin", street_id=street.id)
    db.session.add(admin)
    db.session.flush()
    audit.record("setup", street, summary=f"street {street.name}; admin {admin.username}", user=admin)
    start_session(admin)
    db.session.commit()
    discard_token()
    flash(_("Welcome. Your street is ready: add its communities, branches and members next."), "success")
    return redirect(url_for("home.index"))


@bp.post("/setup/demo")
@public
def demo():
    """Explore with a demo street instead of creating a real one (only on an empty database, with the code)."""
    from .clock import today
    from .demo import load_demo  # the builder, only when the demo is loaded

    if accounts_exist() or is_real_data_present():
        abort(404)
    # The demo's button posts the street's form (CSRFProtect has checked it): only its code is read.
    refusal = _refuse_token(StreetSetupForm())
    if refusal:
        return refusal
    load_demo(today())
    audit.record("demo_loaded", summary="demo street loaded from the setup page")
    db.session.commit()
    discard_token()
    flash(_("The demo street is loaded. Log in as “street” (street administrator) or “branch01” (a branch "
            "secretary); every demo account's password is %(pw)s.", pw=DEMO_PASSWORD), "success")
    return redirect(url_for("auth.login"))
