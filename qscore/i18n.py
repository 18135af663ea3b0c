"""Languages: Chinese first (zh_CN), English second; the choice sticks in a cookie and on the account."""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, g, redirect, request, url_for
from flask_babel import Babel, get_locale, get_translations
from flask_login import current_user

from .access import public
from .db import db
from .forms import LanguageForm
from .redirects import safe_next

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


def _translations():
    """The request's translations, remembered on ``g`` beside the locale they belong to.

    Flask-Babel looks the domain, the locale and the catalogue up again on every call (~20 µs);
    a roster calls gettext over a hundred times. ``force_locale`` sets a new locale object, so the
    remembered catalogue is used only while ``get_locale()`` returns the very same one.
    """
    locale = get_locale()
    cached = g.get("qscore_translations")
    if cached is not None and cached[0] is locale:
        return cached[1]
    translations = get_translations()
    g.qscore_translations = (locale, translations)
    return translations


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True)

bp = Blueprint("i18n", __name__)


@bp.post("/lang")
@public
def switch_language():
    """Switch the UI language; remembered in a cookie for a year and on the account."""
    form = LanguageForm()
    lang = form.lang.data if form.validate_on_submit() else None
    resp = redirect(safe_next(form.next.data) or url_for("home.index"))
    if lang in current_app.config["LANGUAGES"]:
        resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax", httponly=True,
                        secure=current_app.config["SESSION_COOKIE_SECURE"])
        if current_user.is_authenticated:
            current_user.locale = lang
            db.session.commit()
    return resp
