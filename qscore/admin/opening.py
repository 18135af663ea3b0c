"""Opening balances: a street that starts mid-year records the points each member already earned
this year, by indicator, from the paper booklets. Each line becomes ledger entries with the source
"opening_balance" and the date earned (so month and quarter caps apply as they would have), through
ledger.record_entry and all its rules. By form or by workbook; all or nothing either way."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask import abort, make_response, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from ..access import requires, MEMBER_ADMINS
from .. import audit
from ..access import own_record
from ..clock import today
from ..db import db
from ..fields import has_control_characters
from ..fields import args_form
from ..htmx import is_htmx
from ..ledger import LedgerError, error_field_and_text, record_entry, type_history
from ..models import Branch, Community, Member, PointEntry
from ..scheme_versions import scheme_for_year
from ..scoring import EntryError, live_entry_clause, type_on
from . import bp
from .forms import (OPENING_LINE_KEYS, OPENING_TIMES_MAX, OpeningArgs, OpeningCountForm, OpeningImportForm,
                    opening_lines_form)
from .scope import member_or_404, scoped_branches, scoped_members
from ..exports import download
from .workbooks import (Column, RowError, WorkbookError, blank, parse_date, parse_int, read_rows,
                        template_workbook, text)

MAX_TIMES = OPENING_TIMES_MAX
FORM_LINES = 8
OPENING_COLUMNS = (
    Column("member_id", "编号", False, 8, "系统中的党员编号（党员页面上的“编号”）；填写后可不填姓名等"),
    Column("booklet_no", "积分手册编号", False, 14, "可代替编号识别党员"),
    Column("community", "社区", False, 14, "支部名称在街道内唯一时可不填"),
    Column("branch", "支部", False, 18, "与姓名一起识别党员"),
    Column("name", "姓名", False, 12, ""),
    Column("birth_year", "出生年份", False, 10, "同一支部有同名党员时填写"),
    Column("indicator", "指标代码", True, 10, "如 J1、Z3、K2（见“指标”表）"),
    Column("earned_on", "日期", True, 14, "取得积分的日期（本年内），如 2026-03-15"),
    Column("times", "次数", False, 8, "同一天同一指标的次数，空白为 1"),
    Column("value", "分值或小时", False, 12, "有可选分值的指标填分值；按小时计的指标（如志愿服务）填小时；其余可空白"),
    Column("note", "备注", False, 30, "扣分项必须写明原因"),
)
FIELD_COLUMN = {"indicator": "指标代码", "value": "分值或小时", "earned_on": "日期", "note": "备注"}


@dataclass
class Line:
    """One line of the form or one row of the workbook."""

    number: int
    indicator: str = ""
    earned_on: date | None = None
    times: int = 1
    value: str = ""
    note: str = ""
    raw: dict = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def default_note() -> str:
    return _("Opening balance from the paper booklet")


def record_lines(member: Member, lines: list[Line], day: date) -> int:
    """Record every line (flushed, not committed); errors are put on the lines. Returns the entries written."""
    written = 0
    scheme = scheme_for_year(day.year)
    for line in lines:
        if line.errors:
            continue
        if line.earned_on is None or line.earned_on.year != day.year:
            line.errors["earned_on"] = _("A date of %(y)d: opening balances are this year's points.", y=day.year)
            continue
        ind = scheme.indicators.get(line.indicator)
        if ind is not None and ind.veto:
            line.errors["indicator"] = _("A veto is recorded on the roster, with its decision, not as a balance.")
            continue
        note = line.note or ("" if ind is not None and ind.needs_note else default_note())
        for _n in range(line.times):
            try:
                record_entry(member=member, indicator_code=line.indicator, value=line.value or None,
                             earned_on=line.earned_on, note=note, user=current_user, today=day,
                             source="opening_balance")
                written += 1
            except (EntryError, LedgerError) as err:
                where, message = error_field_and_text(err, _)
                line.errors[where or "indicator"] = message
                break
    return written


def _form_line(n: int, form) -> Line | None:
    """Line ``n`` of the form (None when it is empty), with its fields' refusals."""
    field = {k: form[f"{k}-{n}"] for k in OPENING_LINE_KEYS}
    raw = {k: str(f._value() or "").strip() for k, f in field.items()}  # as typed, to show again
    if not raw["indicator"] and not raw["value"] and not raw["note"]:
        return None
    line = Line(n, indicator=field["indicator"].data or "", value=field["value"].data or "",
                note=field["note"].data or "", earned_on=field["earned_on"].data, raw=raw)
    line.errors.update({k: str(f.errors[0]) for k, f in field.items() if f.errors})
    if not line.indicator and "indicator" not in line.errors:
        line.errors["indicator"] = _("Choose an indicator.")
    if line.earned_on is None and "earned_on" not in line.errors:
        line.errors["earned_on"] = _("Enter a date.")
    line.times = field["times"].data or 1
    return line


def _opening_entries(member: Member, day: date) -> list[PointEntry]:
    return list(db.session.scalars(select(PointEntry).where(
        PointEntry.member_id == member.id, PointEntry.source == "opening_balance", PointEntry.year == day.year,
        live_entry_clause()).order_by(PointEntry.earned_on, PointEntry.id)))


@bp.route("/members/<int:member_id>/opening", methods=["GET", "POST"])
@requires(MEMBER_ADMINS)
def opening_member(member_id: int):
    member = member_or_404(member_id)
    day = today()
    scheme = scheme_for_year(day.year)
    type_code = type_on(type_history(member.id), day)
    own = own_record(member.id)
    count = max(FORM_LINES, args_form(OpeningArgs).lines.in_range or 0)
    lines: list[Line] = []
    saved, status, empty_error = None, 200, None
    if request.method == "POST":
        if member.status != "active" or own:
            abort(403 if own else 409)
        count = max(count, OpeningCountForm().lines.in_range or 0)
        form = opening_lines_form(count)()
        form.validate_on_submit()
        lines = [ln for n in range(count) if (ln := _form_line(n, form)) is not None]
        written = record_lines(member, lines, day) if lines else 0
        if not lines or any(ln.errors for ln in lines):
            db.session.rollback()
            status = 422
            empty_error = None if lines else _("Fill in at least one line.")
        else:
            audit.record("opening_balances_recorded", member, member_id=member.id,
                         summary=f"{member.name}: {written} entries")
            db.session.commit()
            saved, lines = written, []
    entries = _opening_entries(member, day)
    context = dict(member=member, day=day, scheme=scheme, type_code=type_code, count=count,
                   indicators=[i for i in scheme.applicable(type_code) if not i.veto],
                   lines={ln.number: ln for ln in lines}, saved=saved, entries=entries, own=own,
                   empty_error=empty_error, total=sum((e.points for e in entries), start=Decimal(0)))
    return render_template("admin/opening_member.html", **context), status


def _summary(day: date) -> list:
    """Per branch in scope: opening-balance entries this year and the members they cover."""
    return db.session.execute(
        select(Branch, Community, func.count(PointEntry.id), func.count(PointEntry.member_id.distinct()))
        .join(Community, Community.id == Branch.community_id)
        .join(PointEntry, PointEntry.branch_id == Branch.id)
        .where(PointEntry.source == "opening_balance", PointEntry.year == day.year,
               Branch.id.in_([b.id for b, _c in scoped_branches(include_retired=True)]), live_entry_clause())
        .group_by(Branch.id, Community.id).order_by(Community.name, Branch.name)).all()


@bp.get("/opening-balances")
@requires(MEMBER_ADMINS)
def opening_balances():
    day = today()
    return render_template("admin/opening.html", form=OpeningImportForm(formdata=None), summary=_summary(day),
                           day=day)


def _points_cell(indicator) -> Decimal | str:
    """The points as a number, or the choices as text ("−3 / −10": a minus sign, not a hyphen, so the
    text never reads as a formula)."""
    if not indicator.points_options:
        return indicator.points
    return " / ".join(f"{p:f}".replace("-", "−") for p in indicator.points_options)


@bp.get("/opening-balances/template.xlsx")
@requires(MEMBER_ADMINS)
def opening_template():
    day = today()
    scheme = scheme_for_year(day.year)
    indicators = [["代码", "类别", "指标", "分值", "说明"]] + [
        [i.code, i.category, i.zh, _points_cell(i), i.notes_zh or i.notes]
        for i in scheme.indicators.values() if not i.retired and not i.veto]
    data = template_workbook(
        "期初积分", OPENING_COLUMNS, choices={"indicator": [i[0] for i in indicators[1:]]},
        notes=["每行是一名党员在某一天取得的一项积分，按纸质积分手册逐项填写。",
               "识别党员：填“编号”或“积分手册编号”，或者填“支部”和“姓名”（同名时再填“出生年份”）。",
               "所有行都正确时才会导入；有错误时系统逐行列出，一条也不导入。"],
        lists={"指标": indicators})
    return download(data, f"期初积分导入模板-{day.year}.xlsx", f"opening-balances-{day.year}.xlsx")


class MemberFinder:
    """Finds the member a workbook row names: by member number, booklet number, or branch and name."""

    def __init__(self):
        self.members = {m.id: m for m in db.session.scalars(scoped_members().where(Member.status == "active"))}
        self.by_booklet: dict[str, list[Member]] = {}
        self.by_name: dict[tuple[int, str], list[Member]] = {}
        for m in self.members.values():
            if m.booklet_no:
                self.by_booklet.setdefault(m.booklet_no, []).append(m)
            self.by_name.setdefault((m.branch_id, m.name), []).append(m)
        self.branches: dict[str, list[tuple[str, int]]] = {}
        for b, c in scoped_branches(include_retired=True):
            self.branches.setdefault(b.name, []).append((c.name, b.id))

    def find(self, raw: dict) -> tuple[Member | None, str, str]:
        """(member, column, problem)."""
        number = parse_int(raw.get("member_id"))
        if not blank(raw.get("member_id")):
            m = self.members.get(number) if number is not None else None
            return (m, "", "") if m else (None, "编号", _("No member on the roll with this number."))
        booklet = text(raw.get("booklet_no"))
        if booklet:
            found = self.by_booklet.get(booklet, [])
            if len(found) == 1:
                return found[0], "", ""
            return None, "积分手册编号", (_("Several members have this booklet number.") if found
                                        else _("No member on the roll with this booklet number."))
        name, branch, community = text(raw.get("name")), text(raw.get("branch")), text(raw.get("community"))
        if not name or not branch:
            return None, "姓名", _("Name the member: number, booklet number, or branch and name.")
        places = [bid for c, bid in self.branches.get(branch, []) if not community or c == community]
        if len(places) != 1:
            return None, "支部", (_("Several communities have a branch “%(v)s”: fill in the community.", v=branch)
                                if places else _("Unknown branch “%(v)s”.", v=branch))
        found = self.by_name.get((places[0], name), [])
        year = parse_int(raw.get("birth_year"))
        if len(found) > 1 and year is not None:
            found = [m for m in found if m.birth_year == year]
        if len(found) == 1:
            return found[0], "", ""
        return None, "姓名", (_("Several members of this name: fill in the year of birth.") if found
                            else _("No member of this name on the branch's roll."))


@bp.post("/opening-balances/import")
@requires(MEMBER_ADMINS)
def opening_import():
    form = OpeningImportForm()
    day = today()
    errors: list[RowError] = []
    written = rows = 0
    members: set[int] = set()
    valid = form.validate_on_submit()
    if valid:
        finder = MemberFinder()
        try:
            for number, raw in read_rows(form.file.data.read(), OPENING_COLUMNS):
                rows += 1
                member, column, problem = finder.find(raw)
                if member is None:
                    errors.append(RowError(number, column, problem))
                    continue
                if member.id == current_user.member_id:
                    errors.append(RowError(number, "编号", _("Your own member record: another administrator records it.")))
                    continue
                line = Line(number, indicator=text(raw.get("indicator")).upper(), value=text(raw.get("value")),
                            note=text(raw.get("note")), earned_on=parse_date(raw.get("earned_on")))
                for key in ("indicator", "value", "note"):  # the rule of every form's text (qscore.fields)
                    if has_control_characters(getattr(line, key)):
                        line.errors[key] = _("Contains invisible control characters: please type it again.")
                times = parse_int(raw.get("times")) if not blank(raw.get("times")) else 1
                if line.earned_on is None:
                    line.errors["earned_on"] = _("“%(v)s” is not a date: write it like 2020-03-05.",
                                                 v=text(raw.get("earned_on")))
                if times is None or not 1 <= times <= MAX_TIMES:
                    errors.append(RowError(number, "次数", _("A whole number from 1 to %(n)d.", n=MAX_TIMES)))
                    continue
                line.times = times
                written += record_lines(member, [line], day)
                members.add(member.id)
                errors += [RowError(number, FIELD_COLUMN.get(k, ""), v) for k, v in line.errors.items()]
        except WorkbookError as err:
            errors += err.errors
        if not errors and not rows:
            errors.append(RowError(0, "", _("The file has no rows under its headers.")))
    status = 422
    context = dict(form=form, errors=errors, rows=rows, filename=form.file.data.filename if form.file.data else "")
    if valid and not errors:
        audit.record("opening_balances_recorded", summary=f"{context['filename']}: {written} entries for "
                                                          f"{len(members)} members")
        db.session.commit()
        status = 200
        context.update(written=written, member_count=len(members))
    else:
        db.session.rollback()
    template = "admin/_opening_report.html" if is_htmx() else "admin/opening.html"
    context.update(summary=_summary(day), day=day)
    resp = make_response(render_template(template, **context), status)
    resp.vary.add("HX-Request")
    return resp
