"""What the sign-in pages take in: every value through the shared field types (qscore/fields.py)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectChoice

from ..fields import ClockTime, Day, Pick, Text
from ..models import MEETING_KINDS, CheckinMeeting, Member


class OpenForm(FlaskForm):
    """Opening a meeting for sign-in (the indicator's choices are the scheme's of the day, set per request)."""

    held_on = Day(_l("Date"), required=True)
    kind = Pick(_l("Kind"), choices=[SelectChoice(k) for k in MEETING_KINDS])
    indicator = Pick(_l("Indicator"), choices=[])
    topic = Text(_l("Topic or title"), required=True, column=CheckinMeeting.topic)
    opens = ClockTime(_l("Sign-in opens at"), required=True)
    closes = ClockTime(_l("Sign-in closes at"), required=True)


class CodeForm(FlaskForm):
    """A member's phone without a login: the code on the screen and their name."""

    code = Text(_l("Code on the screen"), required=_l("Type the code shown on the screen."), max_length=16,
                render_kw={"inputmode": "numeric", "autocomplete": "off", "pattern": "[0-9]*"})
    name = Text(_l("Your full name"), required=_l("Type your full name."), max_length=Member.name.type.length * 2,
                render_kw={"autocomplete": "name"})


class PlainForm(FlaskForm):
    """A button's post: its CSRF token only (a tap on the tablet, close)."""


class OwnForm(FlaskForm):
    """A logged-in member's "sign in as me" on the phone: ``way`` says the button was that one."""

    way = HiddenField()
