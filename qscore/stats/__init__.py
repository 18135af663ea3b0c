"""The figures page (统计): a scope and a period in, figures, charts, tables, a workbook and a report out.

Every number comes from figures.py (one definition per figure); this package only chooses the
scope and period the viewer may see (scope.py), formats and draws the figures (format.py,
charts.py and templates/stats/_charts.html), lays out the pages (views.py) and writes the Excel
workbooks (xlsx.py, export.py).
"""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("stats", __name__)


from . import views, export  # noqa: E402,F401  (views register on bp)
