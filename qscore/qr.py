"""QR codes drawn here as inline SVG (segno), never fetched from elsewhere: the intranet has no internet."""
from __future__ import annotations

import segno
from markupsafe import Markup, escape


def qr_svg(data: str, *, css_class: str, label: str | None = None, border: int = 4) -> Markup:
    """The code of ``data``; with ``label`` it is an image with that name, without it decoration."""
    svg = segno.make(data, error="m", micro=False).svg_inline(
        scale=1, border=border, dark="#000", light="#fff", omitsize=True, svgclass=css_class, lineclass=None,
        title=None)
    attrs = f'role="img" aria-label="{escape(label)}" ' if label else 'aria-hidden="true" focusable="false" '
    return Markup(svg.replace("<svg ", "<svg " + attrs, 1))
