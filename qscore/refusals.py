"""The one error type for a refused action of the domain (no request involved).

A refusal names a message by key (each subclass keeps its messages in ``TEXTS``, marked for
translation), the form field it belongs next to, and the HTTP status a view answers with (422 for
bad input, 409 for a state that no longer allows it, 403 for a rule about who). Views show
``err.text(gettext)`` next to the field, or as the page's message.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class Refusal(ValueError):
    TEXTS: ClassVar[dict[str, str]] = {}

    def __init__(self, key: str, field: str = "", *, status: int = 422, **params: Any):
        self.key = key
        self.field = field
        self.status = status
        self.params = {k: str(v) for k, v in params.items()}
        super().__init__(self.text())

    def text(self, gettext=lambda s: s) -> str:
        return gettext(self.TEXTS.get(self.key, self.key)).format(**self.params)


class FieldsRefused(Refusal):
    """Nothing is written: several fields refused at once, each by its own refusal (keyed by field name)."""

    KEY: ClassVar[str] = "fields_refused"

    def __init__(self, errors: Mapping[str, Refusal]):
        self.errors = dict(errors)
        super().__init__(self.KEY, next(iter(self.errors), ""), status=422)

    def text(self, gettext=lambda s: s) -> str:
        first = next(iter(self.errors.values()), None)
        return first.text(gettext) if first is not None else self.key

    def texts(self, gettext) -> dict[str, str]:
        return {name: err.text(gettext) for name, err in self.errors.items()}
