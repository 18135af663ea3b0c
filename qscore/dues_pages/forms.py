"""What the dues pages take in: every value through the shared field types (qscore/fields.py)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectChoice, StringField

from ..fields import Amount, ArgsForm, Count, Day, Ids, Month, Pick, Text
from ..models import DUES_METHODS

NOTE_MAX = 200

METHOD_LABELS = {"cash": _l("Cash"), "transfer": _l("Bank transfer"), "proxy": _l("Paid by proxy"),
                 "online": _l("Online")}


def Method() -> Pick:
    """How dues were paid: one of DUES_METHODS."""
    return Pick(choices=[SelectChoice(m, METHOD_LABELS[m]) for m in DUES_METHODS], default="cash")


class YearArgs(ArgsForm):
    """?year=2026&month=2026-11 of the grid (bad values read as none: this year, this month)."""

    year = Count(minimum=2000, maximum=2100)
    month = Month()


class IndexArgs(ArgsForm):
    """?year=2026&by=quarter of the collection figures."""

    year = Count(minimum=2000, maximum=2100)
    by = Text(max_length=10)


class PaidForm(FlaskForm):
    """"Paid this month" for the ticked members in one save."""

    month = Month(required=_l("Choose the month paid for."))
    through = Month()   # the last month paid for, when several are paid at once (empty: ``month`` alone)
    paid_on = Day(required=_l("Enter the day it was paid."))
    method = Method()
    member_ids = Ids()


class CloseForm(FlaskForm):
    month = Month(required=_l("Choose the month to close."))


class RateForm(FlaskForm):
    monthly = Amount(minimum=0, required=_l("Enter the monthly amount due."))
    effective_from = Month(required=_l("Choose the first month it applies to."))
    note = Text(max_length=NOTE_MAX)


class LineForm(FlaskForm):
    """One line for a member's month: a payment (any amount) or an approved reduction or exemption."""

    month = Month(required=_l("Choose the month paid for."))
    kind = Pick(choices=[SelectChoice("payment", _l("Payment")),
                                SelectChoice("exemption", _l("Approved reduction or exemption"))], default="payment")
    amount = Amount()
    paid_on = Day()
    method = Method()
    note = Text(max_length=NOTE_MAX)
    idempotency_key = StringField()  # idempotency.key_from is its rule: a double submit records once


class VoidForm(FlaskForm):
    reason = Text(required=_l("Give a reason for voiding the line."), max_length=NOTE_MAX)


class SheetForm(FlaskForm):
    """A year's dues sheet (.xlsx) to import into the register."""

    file = FileField(validators=[FileRequired(_l("Choose a file."))])
    year = Count(minimum=2000, maximum=2100, required=_l("Choose a year."))
    approval = Text(max_length=NOTE_MAX)
    method = Method()
