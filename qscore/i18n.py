"""Languages: Chinese first (zh_CN), English second; the choice sticks in a cookie and on the account."""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, redirect, request, url_for
from flask_babel import Babel
from flask_login import current_user

from .db import db

babel = Babel()
LANG_COOKIE = "qscore_lang"


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in languages:
        return chosen
    user = current_user if current_user and current_user.is_authenticated else None
    if user is not None and user.locale in languages:
        return user.locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)

bp = Blueprint("i18n", __name__)


@bp.post("/lang")
def switch_language():
    """Switch the UI language; remembered in a cookie for a year and on the account."""
    from .auth import safe_next

    lang = request.form.get("lang", "")
    target = safe_next(request.form.get("next")) or url_for("home.index")
    resp = redirect(target)
    if lang in current_app.config["LANGUAGES"]:
        resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
        if current_user.is_authenticated:
            current_user.locale = lang
            db.session.commit()
    return resp
