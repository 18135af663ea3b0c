"""Small helpers for answering htmx requests."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, make_response, render_template, request

from .redirects import safe_next


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def page_or_fragment(page: str, fragment: str, **context) -> Response:
    """The same URL serves the full page and, to htmx, the partial the page includes."""
    resp = make_response(render_template(fragment if is_htmx() else page, **context))
    resp.vary.add("HX-Request")
    return resp


def hx_redirect(url: str, status: int = 200) -> Response:
    """Tell htmx to navigate; an XHR must never silently follow a 302."""
    resp = make_response("", status)
    resp.headers["HX-Redirect"] = url
    return resp


def current_path() -> str:
    """The page the user is on: for htmx requests, the page that made the request (a path on this site)."""
    if is_htmx() and request.headers.get("HX-Current-URL"):
        try:
            parts = urlsplit(request.headers["HX-Current-URL"])
        except ValueError:  # a header sent by hand, such as "http://[x"
            return "/"
        return safe_next(parts.path + (f"?{parts.query}" if parts.query else "")) or "/"
    return request.full_path.rstrip("?")
