"""Error pages in the UI's language; an htmx request gets a short fragment with the same status."""
from __future__ import annotations

from flask import Flask, render_template
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from .db import db
from .htmx import is_htmx

TITLES = {
    400: _l("Bad request"),
    401: _l("Please log in"),
    403: _l("Not allowed"),
    404: _l("Not found"),
    405: _l("Not allowed"),
    409: _l("Conflict"),
    413: _l("File too large"),
    422: _l("Invalid input"),
    429: _l("Too many attempts"),
    500: _l("Something went wrong"),
    503: _l("Service unavailable"),
}
EXPLANATIONS = {
    400: _l("The request could not be understood. Please go back and try again."),
    403: _l("Your account may not do this. Ask your street office if you think it should."),
    404: _l("There is no such page, or it is not within your organisation."),
    405: _l("This action is not available here."),
    409: _l("This can no longer be done: the record has changed. Reload the page."),
    413: _l("The file is larger than allowed."),
    429: _l("Too many attempts. Please wait a few minutes and try again."),
    500: _l("The error has been logged. Please try again; if it happens again, tell your street office."),
}


def render_error(status: int, message: str | None = None):
    title = TITLES.get(status, TITLES[500])
    text = message or EXPLANATIONS.get(status, "")
    template = "errors/_error.html" if is_htmx() else "errors/error.html"
    return render_template(template, status=status, title=title, message=text), status


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(e):
        return render_error(400, str(_l("The form has expired. Please reload the page and try again.")))

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        if e.code is None or e.code < 400:
            return e
        return render_error(e.code)

    @app.errorhandler(InternalServerError)
    def server_error(e):
        db.session.rollback()
        return render_error(500)
