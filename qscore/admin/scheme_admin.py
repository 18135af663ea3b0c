"""The scheme of the year: read it as the secretaries see it, start next year's as a copy, edit any
number or text, add or retire an indicator, export and import it as JSON.

Versions are DOMAIN.md's (scheme_versions.save_scheme): edited in place until the year's first
publication, then each save is a new version with a reason; entries keep their recorded points.
"""
from __future__ import annotations

import json
import re

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..clock import today
from ..db import db
from ..models import SchemeVersion, User
from ..scheme import Scheme, SchemeError
from ..scheme_versions import ensure_year, latest_version, reason_text, save_scheme, year_has_publication
from ..templating import UNIT_LABELS
from . import bp
from .forms import SchemeImportForm
from .scheme_form import form_fields, from_fields, to_fields
from .workbooks import download


def _editable_years() -> range:
    day = today()
    return range(day.year - 1, day.year + 2)


def _year_or_404(year: int, create: bool = False) -> SchemeVersion:
    """The year's latest version; the current year's is created on first sight (ensure_year)."""
    if year not in _editable_years():
        version = latest_version(year)
        if version is None:
            abort(404)
        return version
    version = latest_version(year)
    if version is None:
        if not create and year != today().year:
            abort(404)
        version = ensure_year(year, current_user)
        db.session.commit()
    return version


def _versions(year: int) -> list[tuple[SchemeVersion, str | None]]:
    return db.session.execute(select(SchemeVersion, User.username).outerjoin(User, User.id == SchemeVersion.created_by_id)
                              .where(SchemeVersion.year == year).order_by(SchemeVersion.version.desc())).all()


@bp.get("/scheme")
def scheme():
    return redirect(url_for("admin.scheme_year", year=today().year))


@bp.get("/scheme/<int:year>")
def scheme_year(year: int):
    latest = _year_or_404(year)
    shown = latest
    wanted = request.args.get("version", type=int)
    if wanted and wanted != latest.version:
        shown = db.session.scalar(select(SchemeVersion).where(SchemeVersion.year == year,
                                                              SchemeVersion.version == wanted))
        if shown is None:
            abort(404)
    day = today()
    return render_template("admin/scheme.html", year=year, version=shown, latest=latest,
                           scheme=Scheme.from_dict(shown.data), versions=_versions(year),
                           published=year_has_publication(year), editable=year in _editable_years(),
                           next_exists=latest_version(year + 1) is not None, day=day,
                           import_form=SchemeImportForm(formdata=None), reason_text=reason_text)


@bp.post("/scheme/<int:year>/start")
def scheme_start(year: int):
    """Start a year's scheme as a copy of the previous year's (or the shipped default)."""
    if year not in _editable_years():
        abort(404)
    existed = latest_version(year) is not None
    version = ensure_year(year, current_user)
    db.session.commit()
    if not existed:
        flash(_("The scheme of %(y)d is started: %(how)s. Edit it freely until the year's first publication.",
                y=year, how=reason_text(version.reason)), "success")
    return redirect(url_for("admin.scheme_year", year=year)), 303


def _edit_page(year: int, version: SchemeVersion, fields: dict, errors: dict, problems: list[str], status: int,
               reason: str = ""):
    # Open the indicators a problem names ("indicator K2: deductions must be negative").
    named = {m.group(1).rstrip(":'\"") for p in problems if (m := re.match(r"indicator '?([^\s']+)", p))}
    opened = {f"i{n}-" for n, ind in enumerate(version.data.get("indicators", [])) if ind.get("code") in named}
    if str(fields.get("new-code") or "").strip().upper() in named:
        opened.add("new-")
    return render_template("admin/scheme_edit.html", year=year, version=version, data=version.data, f=fields,
                           errors=errors, problems=problems, published=year_has_publication(year), reason=reason,
                           unit_keys=list(UNIT_LABELS),
                           scheme=Scheme.from_dict(version.data),
                           indicator_errors=lambda prefix: prefix in opened or any(k.startswith(prefix) for k in errors)), status


@bp.route("/scheme/<int:year>/edit", methods=["GET", "POST"])
def scheme_edit(year: int):
    if year not in _editable_years():
        abort(404)
    version = _year_or_404(year)
    if request.method == "GET":
        return _edit_page(year, version, to_fields(version.data), {}, [], 200)
    fields = form_fields(request.form, version.data)
    reason = (request.form.get("reason") or "").strip()
    data, errors = from_fields(fields, version.data)
    problems: list[str] = []
    published = year_has_publication(year)
    if published and not reason:
        errors["reason"] = _("The year has published quarters: say why the scheme changes (a new version).")
    if len(reason) > 500:
        errors["reason"] = _("At most %(n)d characters.", n=500)
    if not errors:
        try:
            Scheme.from_dict(data)
        except SchemeError as err:
            problems = err.problems
    if errors or problems:
        return _edit_page(year, version, fields, errors, problems, 422, reason)
    return _save(year, version, data, reason)


def _save(year: int, version: SchemeVersion, data: dict, reason: str):
    if data == version.data:
        flash(_("Nothing changed."), "info")
        return redirect(url_for("admin.scheme_year", year=year)), 303
    saved = save_scheme(year, data, reason, current_user)
    db.session.commit()
    if saved.id == version.id:
        flash(_("The scheme of %(y)d is saved (edited in place: nothing is published yet this year).", y=year),
              "success")
    else:
        flash(_("The scheme of %(y)d is saved as version %(v)d. Entries keep the points they were recorded with.",
                y=year, v=saved.version), "success")
    return redirect(url_for("admin.scheme_year", year=year)), 303


@bp.get("/scheme/<int:year>/export.json")
def scheme_export(year: int):
    version = _year_or_404(year)
    wanted = request.args.get("version", type=int)
    if wanted:
        version = db.session.scalar(select(SchemeVersion).where(SchemeVersion.year == year,
                                                                SchemeVersion.version == wanted)) or abort(404)
    text = json.dumps(version.data, ensure_ascii=False, indent=2) + "\n"
    return download(text.encode("utf-8"), f"积分方案-{year}-v{version.version}.json",
                    f"scheme-{year}-v{version.version}.json", mimetype="application/json")


@bp.post("/scheme/<int:year>/import")
def scheme_import(year: int):
    if year not in _editable_years():
        abort(404)
    version = _year_or_404(year, create=True)
    form = SchemeImportForm()
    problems: list[str] = []
    data = None
    published = year_has_publication(year)
    if form.validate_on_submit():
        raw = form.file.data.read()
        try:
            data = json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            problems.append(_("The file is not JSON: %(err)s", err=str(err)))
        if data is not None:
            try:
                Scheme.from_dict(data)
            except SchemeError as err:
                problems += err.problems
        if published and not form.reason.data:
            form.reason.errors.append(_("The year has published quarters: say why the scheme changes (a new "
                                        "version)."))
        if not problems and not form.reason.errors:
            reason = form.reason.data or _("imported from %(file)s", file=form.file.data.filename)
            return _save(year, version, data, reason)
    return render_template("admin/scheme.html", year=year, version=version, latest=version,
                           scheme=Scheme.from_dict(version.data), versions=_versions(year), published=published,
                           editable=True, next_exists=latest_version(year + 1) is not None, day=today(),
                           import_form=form, import_problems=problems, reason_text=reason_text), 422
