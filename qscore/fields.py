"""What comes in: the field types every form uses, so each rule about input is written once.

- Text (one line) and Note (several lines) strip surrounding space, refuse control characters and
  the invisible direction marks that make a name read differently on screen than in the database,
  and are no longer than the column they fill. A NUL reaching PostgreSQL answered 500; control
  characters stored raw broke every later export.
- Id: a whole number that fits the id columns (1 to 2^31 - 1); anything else is "not one of the list".
- Count and Points: numbers with ranges. Day: a date from 2000 to 2100; Month: YYYY-MM in the same years.
- Ids: several ids under one name (ticked checkboxes), each checked as an Id. IdChoice: an Id from a select.
- ``required=True`` asks with a general message; a message given instead of True says what this field needs.
- ``args_form`` reads query parameters (GET) through the same field types, without CSRF.

Messages are in the user's language; a refused field changes nothing.
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (DateField, DecimalField, Field, Form, IntegerField, SelectField, SelectMultipleField, StringField,
                     TextAreaField, TimeField)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from .converters import ID_MAX

# C0 and C1 controls (a Note keeps \t and \n), DEL, line/paragraph separators, the BOM, bidirectional
# overrides and isolates (they reorder what is shown), non-characters and lone surrogates.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff\u202a-\u202e\u2066-\u2069"
                      "\ufff9-\ufffb\ufffe\uffff\ud800-\udfff]")
_LINE_BREAKS = re.compile("[\t\n\r]")


def strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def one_line(value: Any) -> Any:
    """A pasted name or title loses its line breaks and tabs: one space each, then stripped."""
    return re.sub(r"[\t\r\n]+", " ", value).strip() if isinstance(value, str) else value


def several_lines(value: Any) -> Any:
    """Notes keep their lines; Windows line ends become plain ones (so lengths count the same)."""
    return value.replace("\r\n", "\n").replace("\r", "\n").strip() if isinstance(value, str) else value


def has_control_characters(value: Any) -> bool:
    """The rule of Text and Note, for text that comes another way (a workbook's cells)."""
    return isinstance(value, str) and _CONTROL.search(value) is not None


CONTROL_MESSAGE = _l("Contains invisible control characters: please type it again.")
LENGTH_MESSAGE = _l("At most %(max)d characters.")


def no_control_characters(form, field) -> None:
    if has_control_characters(field.data):
        raise ValidationError(CONTROL_MESSAGE)


def one_line_refusal(value: str | None, max_length: int) -> str | None:
    """Text's rule for a value already read with one_line, without a field (a form's many similar inputs)."""
    if has_control_characters(value):
        return str(CONTROL_MESSAGE)
    if value and len(value) > max_length:
        return LENGTH_MESSAGE % {"max": max_length}
    return None


def column_length(column) -> int | None:
    """The length a String column allows (None for Text)."""
    return getattr(getattr(column, "type", None), "length", None)


def _said(required: Any, general) -> Any:
    """A required field's message: its own when ``required`` is one, else the general one."""
    return general if required is True else required


def _length(max_length: int | None, column) -> list:
    limit = max_length or column_length(column)
    return [Length(max=limit, message=LENGTH_MESSAGE)] if limit else []


class Text(StringField):
    """One line of text: stripped, no control characters, as long as its column allows."""

    def __init__(self, label=None, validators=None, *, required: Any = False, column=None,
                 max_length: int | None = None, **kwargs):
        first = ([DataRequired(message=_said(required, _l("Fill this in.")))] if required
                 else [Optional(strip_whitespace=False)])
        kwargs.setdefault("filters", [one_line])
        super().__init__(label, [*first, no_control_characters, *_length(max_length, column), *(validators or [])],
                         **kwargs)


class Note(TextAreaField):
    """Text of several lines (a note, a reason, a plan): the same rules, with line breaks kept."""

    def __init__(self, label=None, validators=None, *, required: Any = False, column=None,
                 max_length: int | None = 2000, **kwargs):
        first = ([DataRequired(message=_said(required, _l("Fill this in.")))] if required
                 else [Optional(strip_whitespace=False)])
        kwargs.setdefault("filters", [several_lines])
        super().__init__(label, [*first, no_control_characters, *_length(max_length, column), *(validators or [])],
                         **kwargs)


class Id(IntegerField):
    """A record chosen from a list or named in a query parameter: 1 to 2^31 - 1, or refused."""

    def __init__(self, label=None, validators=None, *, required: Any = False, **kwargs):
        first = [InputRequired(message=_said(required, _l("Choose one.")))] if required else [Optional()]
        super().__init__(label, [*first, _id_range, *(validators or [])], **kwargs)

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as err:  # "abc", "1e9", 30 digits: not a valid id; said once, as a choice
            self.data = None
            raise ValueError(_l("Not one of the list.")) from err
        if self.data is not None and not 1 <= self.data <= ID_MAX:
            self.data = None  # so that a view reading .data of a refused form never queries with 10^40
            raise ValueError(_l("Not one of the list."))


def _id_range(form, field) -> None:
    """An id set by the code (default, obj) is checked too; one refused while read is not said twice."""
    if field.data is not None and not 1 <= field.data <= ID_MAX:
        raise ValidationError(_l("Not one of the list."))


class Count(IntegerField):
    """A whole number within a range (members present, a page number, lines of a form)."""

    def __init__(self, label=None, validators=None, *, minimum: int = 0, maximum: int = 100_000,
                 required: Any = False, **kwargs):
        first = [InputRequired(message=_said(required, _l("Enter a number.")))] if required else [Optional()]
        message = _l("Between %(min)d and %(max)d.", min=minimum, max=maximum)
        super().__init__(label, [*first, NumberRange(minimum, maximum, message=message), *(validators or [])],
                         **kwargs)
        self.minimum, self.maximum = minimum, maximum

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as err:
            self.data = None
            raise ValueError(_l("Enter a whole number.")) from err

    @property
    def in_range(self) -> int | None:
        """The number if it lies within the field's range, else None, whether or not the form was validated:
        what sizes a structure reads this (a posted "lines" of 10^40 once built a form of that many fields)."""
        return self.data if self.data is not None and self.minimum <= self.data <= self.maximum else None


class Points(DecimalField):
    """Points or hours as typed: a finite number with at most one decimal, within a range."""

    def __init__(self, label=None, validators=None, *, minimum: Decimal = Decimal(-1000),
                 maximum: Decimal = Decimal(1000), required: Any = False, **kwargs):
        first = [InputRequired(message=_said(required, _l("Enter a number.")))] if required else [Optional()]
        super().__init__(label, [*first, *(validators or [])], places=None, **kwargs)
        self.minimum, self.maximum = minimum, maximum

    def process_formdata(self, valuelist):
        if valuelist and str(valuelist[0]).strip():
            raw = str(valuelist[0]).strip()
            try:
                value = Decimal(raw)
            except (InvalidOperation, ValueError):
                value = None
            if value is None or not value.is_finite() or len(raw) > 12:
                self.data = None
                raise ValueError(_l("Enter a number, with at most one decimal."))
            # The range first: quantizing 1e309 overflows the context (InvalidOperation: a 500).
            if not (self.minimum <= value <= self.maximum) or value != value.quantize(Decimal("0.1")):
                self.data = None
                raise ValueError(_l("Between %(min)s and %(max)s, with at most one decimal.",
                                    min=self.minimum, max=self.maximum))
            self.data = value
        else:
            self.data = None


AMOUNT_MIN, AMOUNT_MAX = Decimal("0.01"), Decimal("99999.99")


def amount_of(raw: Any) -> Decimal | None:
    """A sum of money in yuan as typed ("12.5", "¥12.50", "12元"): a finite number with at most two decimals
    (fen), or None. The one reading of an amount: the forms' Amount and the dues sheet's cells."""
    text = str(raw).strip().replace("¥", "").replace("元", "").strip() if raw is not None else ""
    if not text or len(text) > 12:
        return None
    try:
        value = Decimal(text)
        # An exact check, never a rounding: the value has no digit below the fen.
        exact = value.quantize(Decimal("0.01")) if value.is_finite() else None
        return exact if exact is not None and value == exact else None  # "1E+1" reads as 10.00
    except (InvalidOperation, ValueError):  # not a number; or 1e309, which quantizing overflows
        return None


class Amount(DecimalField):
    """A sum of money in yuan (amount_of), within a range."""

    def __init__(self, label=None, validators=None, *, minimum: Decimal = AMOUNT_MIN,
                 maximum: Decimal = AMOUNT_MAX, required: Any = False, **kwargs):
        first = [InputRequired(message=_said(required, _l("Enter an amount.")))] if required else [Optional()]
        super().__init__(label, [*first, *(validators or [])], places=None, **kwargs)
        self.minimum, self.maximum = minimum, maximum

    def process_formdata(self, valuelist):
        self.data = None
        if not valuelist or not str(valuelist[0]).strip():
            return
        value = amount_of(valuelist[0])
        if value is None or not self.minimum <= value <= self.maximum:
            raise ValueError(_l("Between %(min)s and %(max)s yuan, to the fen, such as 12.50.",
                                min=self.minimum, max=self.maximum))
        self.data = value


class Day(DateField):
    """A date between 2000 and 2100 (a typo of the year is refused, not stored); a subclass may move FIRST/LAST."""

    FIRST, LAST = date(2000, 1, 1), date(2100, 12, 31)

    def __init__(self, label=None, validators=None, *, required: Any = False, **kwargs):
        first = [InputRequired(message=_said(required, _l("Enter a date.")))] if required else [Optional()]
        super().__init__(label, [*first, *(validators or [])], **kwargs)

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as err:
            self.data = None
            raise ValueError(_l("Enter a date.")) from err
        if self.data is not None and not (self.FIRST <= self.data <= self.LAST):
            self.data = None
            raise ValueError(_l("Enter a date between %(first)d and %(last)d.", first=self.FIRST.year,
                                last=self.LAST.year))


class ClockTime(TimeField):
    """A time of day typed as 19:30 (a phone's time picker sends the same)."""

    def __init__(self, label=None, validators=None, *, required: Any = False, **kwargs):
        said = _said(required, _l("Enter a time such as 19:30."))
        first = [InputRequired(message=said)] if required else [Optional()]
        super().__init__(label, [*first, *(validators or [])], format="%H:%M", **kwargs)

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as err:
            self.data = None
            raise ValueError(_l("Enter a time such as 19:30.")) from err


class Pick(SelectField):
    """One of the offered values; anything else is "not one of the list", said once in the user's language."""

    def pre_validate(self, form):
        if self.data not in {c[0] for c in self.iter_choices()}:
            raise ValidationError(_l("Not one of the list."))


class Month(StringField):
    """A month as a month picker sends it (YYYY-MM), from 2000 to 2100; its data is the month's first day."""

    def __init__(self, label=None, validators=None, *, required: Any = False, **kwargs):
        first = [InputRequired(message=_said(required, _l("Choose a month.")))] if required else [Optional()]
        super().__init__(label, [*first, *(validators or [])], **kwargs)

    def process_formdata(self, valuelist):
        self.data = None
        raw = str(valuelist[0]).strip() if valuelist else ""
        if raw:
            m = re.fullmatch(r"([0-9]{4})-([0-9]{1,2})", raw)
            if m is None or not 2000 <= int(m[1]) <= 2100 or not 1 <= int(m[2]) <= 12:
                raise ValueError(_l("Choose a month between 2000-01 and 2100-12."))
            self.data = date(int(m[1]), int(m[2]), 1)

    def _value(self):
        if isinstance(self.data, date):
            return self.data.strftime("%Y-%m")
        return self.raw_data[0] if self.raw_data else ""


class Ids(Field):
    """Records ticked in a list (checkboxes sharing one name): each an Id, or the whole field is refused."""

    def process_data(self, value):
        self.data = list(value or [])

    def process_formdata(self, valuelist):
        self.data = []
        for raw in valuelist:
            text = str(raw).strip()
            if not re.fullmatch(r"[0-9]{1,10}", text) or not 1 <= int(text) <= ID_MAX:
                self.data = []
                raise ValueError(_l("Not one of the list."))
            if int(text) not in self.data:
                self.data.append(int(text))


def _id_or_none(value: Any) -> int | None:
    """An option's value as an id; "" is the select's empty option."""
    return None if value in ("", None) else int(value)


class IdChoice(SelectField):
    """A record chosen from a select of ids: anything but an offered id is "not one of the list", said once."""

    def __init__(self, label=None, validators=None, *, required: Any = False, **kwargs):
        first = [InputRequired(message=_said(required, _l("Choose one.")))] if required else [Optional()]
        super().__init__(label, [*first, *(validators or [])], coerce=_id_or_none, **kwargs)

    def process_formdata(self, valuelist):
        self.data = None
        raw = str(valuelist[0]).strip() if valuelist else ""
        if raw:
            if not re.fullmatch(r"[0-9]{1,10}", raw) or not 1 <= int(raw) <= ID_MAX:
                raise ValueError(_l("Not one of the list."))
            self.data = int(raw)

    def pre_validate(self, form):
        if self.process_errors or self.data is None or not self.validate_choice:
            return
        if not any(choice[2] for choice in self.iter_choices()):
            raise ValidationError(_l("Not one of the list."))


class Choices(SelectMultipleField):
    """Several of the offered values (ticked boxes): anything else is refused with the single-choice words
    (WTForms' plural message has no Chinese in its catalogue, and showed the hostile value back in English)."""

    def pre_validate(self, form):
        try:
            super().pre_validate(form)
        except ValidationError:
            raise ValidationError(_l("Not a valid choice.")) from None


def refusals(form: Form) -> dict[str, str]:
    """Each refused field's first message, by field name (pages that show one message per field)."""
    return {f.name: str(f.errors[0]) for f in form if f.errors}


def as_typed(form: Form) -> dict[str, str]:
    """Each field's value as sent (or as set), to show again beside its message."""
    return {f.name: f._value() if hasattr(f, "_value") else ("" if f.data is None else str(f.data))
            for f in form if f.name != "csrf_token"}


class ArgsForm(Form):
    """Query parameters of a GET (filters, a year, a page): the same fields, no CSRF, never a 500."""


def args_form(form_class: type[Form]):
    """The class's fields read from ``request.args`` (validated; bad values come back as None)."""
    from flask import request

    form = form_class(request.args)
    form.validate()
    for field in form:
        if field.errors:
            field.data = None
    return form


__all__ = ["Amount", "amount_of", "ArgsForm", "ClockTime", "Count", "Day", "FlaskForm", "Id", "IdChoice", "Ids", "Month", "Note", "Pick", "Points", "Text",
           "args_form", "as_typed", "column_length", "has_control_characters", "no_control_characters", "one_line",
           "one_line_refusal",
           "refusals", "several_lines", "strip"]
