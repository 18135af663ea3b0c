"""First run: while no account exists, every page leads to the setup page; afterwards it is gone."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import exists, select

from .access import public
from . import audit
from .db import db
from .forms import SetupForm
from .models import Street, User
from .security import hash_password
from .sessions import start_session
from .streets import create_street

bp = Blueprint("setup", __name__)

# Endpoints reachable before setup: the setup page itself, assets, health and language.
OPEN_BEFORE_SETUP = {"setup.setup", "setup.demo", "static", "health.healthz", "i18n.switch_language"}


def accounts_exist() -> bool:
    # Once true it stays true (accounts are never deleted), so each process asks only until then.
    if current_app.extensions.get("qscore_setup_done"):
        return True
    done = bool(db.session.scalar(select(exists().where(User.id.isnot(None)))))
    if done:
        current_app.extensions["qscore_setup_done"] = True
    return done


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
    form = SetupForm()
    status = 200
    if form.validate_on_submit():
        if db.session.scalar(select(Street).where(Street.name == form.street_name.data)):
            form.street_name.errors.append(_("A street with this name exists."))
            return render_template("setup/setup.html", form=form), 422
        street = create_street(form.street_name.data)
        admin = User(username=form.username.data, display_name=form.username.data,
                     password_hash=hash_password(form.password.data), role="street_admin", street_id=street.id)
        db.session.add(admin)
        db.session.flush()
        audit.record("setup", street, summary=f"street {street.name}; admin {admin.username}", user=admin)
        start_session(admin)
        db.session.commit()
        flash(_("Welcome. Your street is ready: add its communities, branches and members next."), "success")
        return redirect(url_for("home.index"))
    if form.is_submitted():
        status = 422
    return render_template("setup/setup.html", form=form), status


@bp.post("/setup/demo")
@public
def demo():
    """Explore with a demo street instead of creating a real one (only on an empty database)."""
    from .clock import today
    from .demo import DEMO_PASSWORD, is_real_data_present, load_demo

    if accounts_exist() or is_real_data_present():
        abort(404)
    load_demo(today())
    audit.record("demo_loaded", summary="demo street loaded from the setup page")
    db.session.commit()
    flash(_("The demo street is loaded. Log in as “street” (street administrator) or “branch01” (a branch "
            "secretary); every demo account's password is %(pw)s.", pw=DEMO_PASSWORD), "success")
    return redirect(url_for("auth.login"))
