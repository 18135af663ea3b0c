"""The one check for going back to a URL taken from the request (``next``, the page an htmx call came from).

Like Django's ``url_has_allowed_host_and_scheme``, but stricter: only a path on this site. Browsers
drop tabs and newlines from a URL and read a backslash as a slash, so ``/\\t/evil.example`` and
``/\\evil.example`` would leave the site; a CR or LF would split the Location header.
"""
from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit

MAX_LENGTH = 2000


def _clean(text: str) -> bool:
    """No backslash, no whitespace and no control or format characters."""
    return not any(c == "\\" or c.isspace() or unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")
                   for c in text)


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site (one leading "/", nothing a browser reads as a host), else None."""
    if not target or len(target) > MAX_LENGTH:
        return None
    decoded = unquote(target)
    for text in (target, decoded):
        if not text.startswith("/") or text.startswith("//") or not _clean(text):
            return None
    try:
        parts = urlsplit(target)
    except ValueError:
        return None
    if parts.scheme or parts.netloc:
        return None
    return target
