"""Forms of the account pages: setup, login, password change."""
from __future__ import annotations

import re

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,63}$")


def username_rules(form, field) -> None:
    field.data = (field.data or "").strip().lower()
    if not USERNAME_RE.match(field.data):
        raise ValidationError(_l("3 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit."))


def password_rules(form, field) -> None:
    minimum = current_app.config["MIN_PASSWORD_LENGTH"]
    if len(field.data or "") < minimum:
        raise ValidationError(_l("At least %(n)d characters.", n=minimum))
    if len(field.data) > 128:
        raise ValidationError(_l("At most 128 characters."))


class SetupForm(FlaskForm):
    street_name = StringField(_l("Street name"), validators=[DataRequired(), Length(max=100)],
                              filters=[lambda s: s.strip() if s else s])
    username = StringField(_l("Street administrator's username"), validators=[DataRequired(), username_rules])
    password = PasswordField(_l("Password"), validators=[DataRequired(), password_rules])
    confirm = PasswordField(_l("Repeat the password"),
                            validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))])
    submit = SubmitField(_l("Create the street"))


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)])
    submit = SubmitField(_l("Log in"))


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=128)])
    password = PasswordField(_l("New password"), validators=[DataRequired(), password_rules])
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))])
    submit = SubmitField(_l("Change password"))
