"""Languages: Chinese first (zh_CN), English second; the choice sticks in a cookie and on the account."""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, g, redirect, request, url_for
from flask_babel import Babel, get_locale, get_translations
from flask_login import current_user
from jinja2 import pass_context
from markupsafe import Markup

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


def translate(msgid: str) -> str:
    """``msgid`` in the request's language: a label looked up on every row or page, without the ~25 µs
    of Flask-Babel's ``gettext`` (which finds the domain, the locale and the catalogue again each time)."""
    return _translations().ugettext(msgid)


def _render_gettext() -> dict:
    """The template's ``_``, ``gettext`` and ``ngettext``, bound to this render's translations.

    A context processor runs once per render, inside any ``force_locale`` around it, so the catalogue
    is looked up once per page instead of once per string (a roster has ~150). They behave as
    Jinja's newstyle callables: the text is escaped Markup and always a format string. Macros
    imported without context fall back to the environment's callables (same result, slower).
    """
    translations = _translations()
    ugettext, ungettext = translations.ugettext, translations.ungettext

    @pass_context
    def gettext(context, string, **variables):
        rv = ugettext(string)
        if context.eval_ctx.autoescape:
            rv = Markup(rv)
        return rv % variables if variables or "%" in rv else rv  # "x" % {} is "x"

    @pass_context
    def ngettext(context, singular, plural, num, **variables):
        variables.setdefault("num", num)
        rv = ungettext(singular, plural, num)
        if context.eval_ctx.autoescape:
            rv = Markup(rv)
        return rv % variables

    return {"_": gettext, "gettext": gettext, "ngettext": ngettext}


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True)
    app.context_processor(_render_gettext)

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
