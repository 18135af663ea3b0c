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

from ..access import requires, STREET_ADMIN
from ..clock import today
from ..db import db
from ..fields import args_form
from ..models import SchemeVersion, User
from ..scheme import Problem, Scheme, SchemeError
from ..scheme_schema import check_scheme, problem_lines, read_scheme_file
from ..scheme_versions import (ensure_year, latest_version, planned_version, reason_text, save_scheme,
                               year_has_publication)
from ..templating import UNIT_LABELS
from . import bp
from .forms import SchemeImportForm, SchemeVersionArgs
from .scheme_form import edit_form, field_of, form_fields, from_fields, to_fields
from ..exports import download


# An uploaded file's name goes into the version's reason: a database cannot hold some control characters.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def _editable_years() -> range:
    day = today()
    return range(day.year - 1, day.year + 2)


def _year_or_404(year: int, create: bool = False) -> SchemeVersion:
    """The year's latest version. The current year's, before anything needed it, is shown as it will be
    (planned_version, not stored: a GET never writes); ``create`` (a POST that saves) stores it."""
    version = latest_version(year)
    if version is not None:
        return version
    if year not in _editable_years() or (year != today().year and not create):
        abort(404)
    return ensure_year(year, current_user) if create else planned_version(year)


def _versions(year: int) -> list[tuple[SchemeVersion, str | None]]:
    return db.session.execute(select(SchemeVersion, User.username).outerjoin(User, User.id == SchemeVersion.created_by_id)
                              .where(SchemeVersion.year == year).order_by(SchemeVersion.version.desc())).all()


@bp.get("/scheme")
@requires(STREET_ADMIN)
def scheme():
    return redirect(url_for("admin.scheme_year", year=today().year))


@bp.get("/scheme/<int:year>")
@requires(STREET_ADMIN)
def scheme_year(year: int):
    latest = _year_or_404(year)
    shown = latest
    wanted = args_form(SchemeVersionArgs).version.data
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
@requires(STREET_ADMIN)
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


def _edit_page(year: int, version: SchemeVersion, fields: dict, errors: dict, problems: list[Problem], status: int,
               reason: str = "", data: dict | None = None):
    # Open the indicators a problem lies in (indicators[n]…; past the stored ones: the one being added).
    stored = len(version.data.get("indicators", []))
    opened = {(f"i{p.path[1]}-" if p.path[1] < stored else "new-") for p in problems
              if p.path and len(p.path) > 1 and p.path[0] == "indicators" and isinstance(p.path[1], int)}
    return render_template("admin/scheme_edit.html", year=year, version=version, data=version.data, f=fields,
                           errors=errors, problems=problem_lines(problems, data), published=year_has_publication(year),
                           reason=reason,
                           unit_keys=list(UNIT_LABELS),
                           scheme=Scheme.from_dict(version.data),
                           indicator_errors=lambda prefix: prefix in opened or any(k.startswith(prefix) for k in errors)), status


@bp.route("/scheme/<int:year>/edit", methods=["GET", "POST"])
@requires(STREET_ADMIN)
def scheme_edit(year: int):
    if year not in _editable_years():
        abort(404)
    if request.method == "GET":
        version = _year_or_404(year)
        return _edit_page(year, version, to_fields(version.data), {}, [], 200)
    version = _as_planned(year)
    form = edit_form(version.data)()
    form.validate_on_submit()
    fields, refused = form_fields(form)
    reason = form.reason.data or ""
    data, errors = from_fields(fields, version.data)
    errors.update(refused)  # a field's own refusal (control characters, too long) before what _Reader made of it
    problems: list[Problem] = []
    published = year_has_publication(year)
    if published and not reason and "reason" not in errors:
        errors["reason"] = _("The year has published quarters: say why the scheme changes (a new version).")
    if not errors:
        try:
            check_scheme(data)  # the import's door: the same schema, then the same rules
        except SchemeError as err:
            for p in err.problems:  # at its field where the form has one, else in the list above the form
                name = field_of(p.path, version.data)
                if name and name not in errors:
                    errors[name] = p.text(_)
                else:
                    problems.append(p)
    if errors or problems:
        return _edit_page(year, version, fields, errors, problems, 422, reason, data)
    return _save(year, _year_or_404(year, create=True), data, reason)


def _as_planned(year: int) -> SchemeVersion:
    """The version a POST checks against: the stored one, or the one saving would store. A refused edit or
    import stores nothing, not even the year's first version (on PostgreSQL that is committed apart)."""
    return latest_version(year) or planned_version(year)


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
@requires(STREET_ADMIN)
def scheme_export(year: int):
    version = _year_or_404(year)
    wanted = args_form(SchemeVersionArgs).version.data
    if wanted:
        version = db.session.scalar(select(SchemeVersion).where(SchemeVersion.year == year,
                                                                SchemeVersion.version == wanted)) or abort(404)
    text = json.dumps(version.data, ensure_ascii=False, indent=2) + "\n"
    return download(text.encode("utf-8"), f"积分方案-{year}-v{version.version}.json",
                    f"scheme-{year}-v{version.version}.json")


@bp.post("/scheme/<int:year>/import")
@requires(STREET_ADMIN)
def scheme_import(year: int):
    if year not in _editable_years():
        abort(404)
    version = _as_planned(year)
    form = SchemeImportForm()
    problems: list[str] = []
    status = 422
    published = year_has_publication(year)
    if form.validate_on_submit():
        data = None
        try:  # read (size, encoding, JSON), then the schema, then the rules: nothing is written on any problem
            data = read_scheme_file(form.file.data.stream)
            check_scheme(data)
        except SchemeError as err:
            problems = problem_lines(err.problems, data)
            status = getattr(err, "status", 422)
        if published and not form.reason.data:
            form.reason.errors.append(_("The year has published quarters: say why the scheme changes (a new "
                                        "version)."))
        if not problems and not form.reason.errors:
            filename = _CONTROL.sub("", form.file.data.filename or "")[:100]
            reason = form.reason.data or _("imported from %(file)s", file=filename)
            return _save(year, _year_or_404(year, create=True), data, reason)
    return render_template("admin/scheme.html", year=year, version=version, latest=version,
                           scheme=Scheme.from_dict(version.data), versions=_versions(year), published=published,
                           editable=True, next_exists=latest_version(year + 1) is not None, day=today(),
                           import_form=form, import_problems=problems, reason_text=reason_text), status
