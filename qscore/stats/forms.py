"""Query parameters of the figures pages: a scope key, a period key, a figure; a bad one is a 404."""
from __future__ import annotations

from flask import abort
from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError

from .. import figures as F
from ..fields import ArgsForm, Day, Text, args_form


def period_keys(form, field) -> None:
    """'2026', '2026-Q2', '2026-05' or two years '2025+2026', in the years a Day allows."""
    parts = (field.data or "").split("+")
    periods = [F.Period.parse(p) for p in parts]
    if len(parts) > 2 or any(p is None or not Day.FIRST.year <= p.year <= Day.LAST.year for p in periods):
        raise ValidationError(_l("Not one of the list."))


class FiguresArgs(ArgsForm):
    scope = Text(max_length=40)                 # "street", "community-3", "branch-7": scope.resolve_scope checks it
    period = Text([period_keys], max_length=20)


class MembersArgs(FiguresArgs):
    figure = Text(max_length=20)
    show = Text(max_length=10)
    format = Text(max_length=8)


def figures_args(form_class: type[FiguresArgs]) -> FiguresArgs:
    """The page's parameters; one that is not a scope, period or figure of the list is a page that is not there."""
    args = args_form(form_class)
    if any(field.errors for field in args):
        abort(404)
    return args
