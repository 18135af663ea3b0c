"""The second step's forms: the code at login, enrolment, renewing recovery codes, turning it off, the reset."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired, ValidationError

from ..fields import Note, Text
from ..forms import PASSWORD_MAX
from . import is_code, is_recovery_code, normalise


def _code(form, field) -> None:
    field.data = normalise(field.data)
    if field.data and not is_code(field.data):
        raise ValidationError(_l("Enter the 6 digits the app shows."))


def _recovery(form, field) -> None:
    field.data = normalise(field.data)
    if field.data and not is_recovery_code(field.data):
        raise ValidationError(_l("A recovery code has 10 letters and digits, as printed (for example abcde-23456)."))


def _at_most_128(form, field) -> None:
    # As the login's (qscore/forms.py): no maxlength attribute, which a browser counts in UTF-16 units.
    if len(field.data or "") > PASSWORD_MAX:
        raise ValidationError(_l("At most 128 characters."))


def _password(label):
    """The account's password re-entered: kept as typed and only checked, like the login's."""
    return PasswordField(label, validators=[DataRequired(message=_l("Enter your password.")), _at_most_128])


def Code(label=_l("6-digit code"), *, required: bool = True, autofocus: bool = False):  # noqa: N802 (a field type)
    # A phone keyboard shows digits, and the browser may offer a code it received.
    attrs = {"inputmode": "numeric", "autocomplete": "one-time-code", "spellcheck": "false"}
    return Text(label, [_code], required=_l("Enter the 6-digit code from the app.") if required else False,
                max_length=20, render_kw={**attrs, "autofocus": True} if autofocus else attrs)


class LoginCodeForm(FlaskForm):
    """The code page: the app's code, or a recovery code instead."""

    code = Code(required=False, autofocus=True)
    recovery = Text(_l("Recovery code"), [_recovery], max_length=40,
                    render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"})

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        if not self.code.data and not self.recovery.data:
            self.code.errors.append(_l("Enter the 6-digit code from the app."))
            return False
        return True


class EnrolForm(FlaskForm):
    code = Code()
    # Asked only when the login is older than 5 minutes (the view drops it otherwise).
    password = _password(_l("Your password, to confirm"))


class PasswordAndCodeForm(FlaskForm):
    """Renewing the recovery codes or turning the second step off: the password and a code."""

    password = _password(_l("Your password"))
    code = Code()


class ResetForm(FlaskForm):
    """Another administrator removes a person's second step (a lost phone)."""

    reason = Note(_l("Reason"), required=_l("Say why (for example: phone lost, confirmed by telephone)."),
                  max_length=500)
