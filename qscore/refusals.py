"""The one error type for a refused action of the domain (no request involved).

A refusal names a message by key (each subclass keeps its messages in ``TEXTS``, marked for
translation), the form field it belongs next to, and the HTTP status a view answers with (422 for
bad input, 409 for a state that no longer allows it, 403 for a rule about who). Views show
``err.text(gettext)`` next to the field, or as the page's message (errors.render_refusal).
"""
from __future__ import annotations

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
