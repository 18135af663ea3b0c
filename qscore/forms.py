"""Forms of the account pages: setup, login, password change, the language switch."""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, ValidationError

from . import passwords
from .fields import ArgsForm, Text
from .models import Street, User

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,63}$")
PASSWORD_MAX = 128


def username_rules(form, field) -> None:
    field.data = (field.data or "").strip().lower()
    if not USERNAME_RE.match(field.data):
        raise ValidationError(_l("3 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit."))


def password_rules(form, field) -> None:
    """A password being chosen: the one rule of qscore/passwords.py, with the username typed beside it or the user's own."""
    username = form.username.data if "username" in form else (
        current_user.username if current_user.is_authenticated else None)
    reason = passwords.problem(field.data or "", username)
    if reason:
        raise ValidationError(reason)


def _at_most_128(form, field) -> None:
    # Not wtforms' Length: its maxlength attribute counts UTF-16 units, and a browser would cut an emoji password.
    if len(field.data or "") > PASSWORD_MAX:
        raise ValidationError(_l("At most 128 characters."))


def _password(label, *rules):
    """A password is kept as typed (spaces count). One being checked (login, the current one) meets no other
    rule, so a password chosen under older rules still works; one being chosen meets password_rules."""
    return PasswordField(label, validators=[DataRequired(), *(rules or (_at_most_128,))])


class SetupForm(FlaskForm):
    street_name = Text(_l("Street name"), required=True, column=Street.name)
    username = Text(_l("Street administrator's username"), [username_rules], required=True, column=User.username)
    password = _password(_l("Password"), password_rules)
    confirm = _password(_l("Repeat the password"), EqualTo("password", message=_l("The passwords differ.")))
    submit = SubmitField(_l("Create the street"))


class LoginForm(FlaskForm):
    username = Text(_l("Username"), required=True, column=User.username)
    password = _password(_l("Password"))
    submit = SubmitField(_l("Log in"))


class PasswordForm(FlaskForm):
    current = _password(_l("Current password"))
    password = _password(_l("New password"), password_rules)
    confirm = _password(_l("Repeat the new password"), EqualTo("password", message=_l("The passwords differ.")))
    submit = SubmitField(_l("Change password"))


class NextArgs(ArgsForm):
    """?next= of the login page: where to go afterwards (redirects.safe_next is its rule)."""

    next = StringField()


class LanguageForm(FlaskForm):
    """The language switch in every page's header."""

    lang = Text(max_length=8)
    next = StringField()    # redirects.safe_next is its rule
