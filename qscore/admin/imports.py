"""The roster workbook: a template with Chinese headers, an all-or-nothing import with a row-by-row
error report, and an export. Thousands of rows are validated in memory and written with bulk
inserts, so a 2,000-row file imports in about a second; the page shows the upload's progress."""
from __future__ import annotations

from collections import defaultdict
from datetime import date

from flask import make_response, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import insert

from ..access import requires, MEMBER_ADMINS
from .. import audit
from ..clock import today
from ..db import db
from ..fields import has_control_characters
from ..names import sort_key
from ..htmx import is_htmx
from ..models import AuditLog, BranchSpell, Member, MemberType
from ..scheme_versions import scheme_for_year
from ..scoring import score_members
from ..security import client_ip
from . import bp
from .forms import PHONE_RE, RosterExportForm, RosterImportForm
from .members import _filters, filtered_members, log_private_view
from .scope import current_types, scoped_branches, scoped_members
from ..exports import Sheet, download, write_xlsx
from .workbooks import (Column, RowError, WorkbookError, blank, parse_date, parse_int, read_rows,
                        template_workbook, text)

TYPE_HINT = "A/B/C/D，或 1–4、第一类–第四类。A 社区工作者党员；B 离退休党员；C 失业、再就业及流动党员；D 老弱病残行动不便党员"
ROSTER_COLUMNS = (
    Column("name", "姓名", True, 12, "党员姓名"),
    Column("gender", "性别", False, 8, "男 或 女"),
    Column("birth_year", "出生年份", True, 10, "四位数年份，如 1958"),
    Column("joined_party_on", "入党日期", False, 14, "日期，如 1985-07-01"),
    Column("on_roll_since", "列入街道名册日期", True, 18, "转入或入党后列入本街道党员名册的日期，积分从这一天起计"),
    Column("type_code", "类别", True, 10, TYPE_HINT),
    Column("probationary", "预备党员", False, 10, "是 或 否（空白为否）"),
    Column("community", "社区", False, 14, "支部所在社区；支部名称在街道内唯一时可不填"),
    Column("branch", "支部", True, 18, "支部名称，须与系统中的支部一致（见“支部”表）"),
    Column("phone", "联系电话", False, 15, "不公开，仅管理人员可见"),
    Column("address", "住址", False, 26, "不公开，仅管理人员可见"),
    Column("booklet_no", "积分手册编号", False, 14, ""),
)
HEADER = {c.key: c.header for c in ROSTER_COLUMNS}
TYPE_WORDS = {"A": "A", "B": "B", "C": "C", "D": "D", "1": "A", "2": "B", "3": "C", "4": "D",
              "第一类": "A", "第二类": "B", "第三类": "C", "第四类": "D", "一类": "A", "二类": "B", "三类": "C", "四类": "D",
              "一": "A", "二": "B", "三": "C", "四": "D"}
GENDER_WORDS = {"男": "M", "M": "M", "MALE": "M", "女": "F", "F": "F", "FEMALE": "F"}
YES_WORDS = {"是", "Y", "YES", "1", "TRUE", "√", "预备"}
NO_WORDS = {"否", "N", "NO", "0", "FALSE", "正式", ""}
LIMITS = {"name": 100, "booklet_no": 32, "phone": 32, "address": 200}


class RosterCheck:
    """Validates roster rows against the branches in scope and the members already on the roll."""

    def __init__(self, day: date, skip_existing: bool):
        self.day = day
        self.skip_existing = skip_existing
        self.branches: dict[tuple[str, str], int] = {}
        self.by_branch_name: dict[str, list[int]] = defaultdict(list)
        self.retired: set[tuple[str, str]] = set()
        for b, c in scoped_branches(include_retired=True):
            if b.retired or c.retired:
                self.retired.add((c.name, b.name))
                continue
            self.branches[(c.name, b.name)] = b.id
            self.by_branch_name[b.name].append(b.id)
        self.communities = {c for c, _b in self.branches} | {c for c, _b in self.retired}
        self.existing = {tuple(r) for r in db.session.execute(
            scoped_members().where(Member.status == "active")
            .with_only_columns(Member.branch_id, Member.name, Member.birth_year))}
        self.seen: dict[tuple[int, str, int], int] = {}
        self.errors: list[RowError] = []
        self.valid: list[dict] = []
        self.skipped: list[tuple[int, str, str]] = []

    def error(self, row: int, key: str, message: str) -> None:
        self.errors.append(RowError(row, HEADER.get(key, ""), message))

    def check(self, number: int, raw: dict) -> None:
        before = len(self.errors)
        out: dict = {}
        for key, limit in LIMITS.items():
            value = text(raw.get(key))
            if len(value) > limit:
                self.error(number, key, _("At most %(n)d characters.", n=limit))
            elif has_control_characters(value):  # the rule of every form's text (qscore.fields)
                self.error(number, key, _("Contains invisible control characters: please type it again."))
            out[key] = value
        if not out["name"]:
            self.error(number, "name", _("The name is missing."))
        if out["phone"] and not PHONE_RE.match(out["phone"]):
            self.error(number, "phone", _("Digits, spaces, +, - and brackets only."))
        gender = text(raw.get("gender")).upper()
        out["gender"] = GENDER_WORDS.get(gender, "")
        if gender and gender not in GENDER_WORDS:
            self.error(number, "gender", _("Write 男 or 女 (or leave it empty)."))
        self._check_years(number, raw, out)
        code = text(raw.get("type_code")).upper()
        out["type_code"] = TYPE_WORDS.get(code)
        if out["type_code"] is None:
            self.error(number, "type_code", _("Unknown type code “%(v)s”: use A, B, C or D.", v=text(raw.get("type_code")))
                       if code else _("The type is missing: use A, B, C or D."))
        probationary = text(raw.get("probationary")).upper()
        out["probationary"] = probationary in YES_WORDS
        if probationary not in YES_WORDS | NO_WORDS:
            self.error(number, "probationary", _("Write 是 or 否 (or leave it empty)."))
        out["branch_id"] = self._branch(number, text(raw.get("community")), text(raw.get("branch")))
        if len(self.errors) > before:
            return
        key = (out["branch_id"], out["name"], out["birth_year"])
        if key in self.existing or key in self.seen:
            if self.skip_existing:
                why = (_("already on the roll") if key in self.existing
                       else _("same as row %(n)d", n=self.seen[key]))
                self.skipped.append((number, out["name"], why))
                return
            if key in self.existing:
                self.error(number, "name", _("Already on the roll of this branch (same name and year of birth). Tick "
                                             "“skip members who already exist” to leave such rows out."))
            else:
                self.error(number, "name", _("Same name, year of birth and branch as row %(n)d.", n=self.seen[key]))
            return
        self.seen[key] = number
        self.valid.append(out)

    def _check_years(self, number: int, raw: dict, out: dict) -> None:
        top = self.day.year - 16
        year = parse_int(raw.get("birth_year"))
        if blank(raw.get("birth_year")):
            self.error(number, "birth_year", _("The year of birth is missing."))
        elif year is None or not (1900 <= year <= top):
            self.error(number, "birth_year", _("Not a year of birth between 1900 and %(top)d.", top=top))
            year = None
        out["birth_year"] = year
        for key in ("joined_party_on", "on_roll_since"):
            value = raw.get(key)
            d = parse_date(value)
            if blank(value):
                if key == "on_roll_since":
                    self.error(number, key, _("The date is missing."))
            elif d is None:
                self.error(number, key, _("“%(v)s” is not a date: write it like 2020-03-05.", v=text(value)))
            elif d > self.day:
                self.error(number, key, _("The date is after today."))
                d = None
            out[key] = d
        joined, since = out["joined_party_on"], out["on_roll_since"]
        if joined and since and since < joined:
            self.error(number, "on_roll_since", _("Before the date joined the party."))
        if joined and year and joined.year < year + 16:
            self.error(number, "joined_party_on", _("Too early for the year of birth."))

    def _branch(self, number: int, community: str, branch: str) -> int | None:
        if not branch:
            self.error(number, "branch", _("The branch is missing."))
            return None
        if community:
            if community not in self.communities:
                self.error(number, "community", _("Unknown community “%(v)s”.", v=community))
                return None
            if (community, branch) in self.retired:
                self.error(number, "branch", _("The branch “%(v)s” is retired.", v=branch))
                return None
            if (community, branch) not in self.branches:
                self.error(number, "branch", _("Unknown branch “%(v)s” in %(c)s.", v=branch, c=community))
                return None
            return self.branches[(community, branch)]
        ids = self.by_branch_name.get(branch, [])
        if len(ids) == 1:
            return ids[0]
        if ids:
            self.error(number, "community", _("Several communities have a branch “%(v)s”: fill in the community.",
                                              v=branch))
        else:
            self.error(number, "branch", _("Unknown branch “%(v)s”.", v=branch))
        return None


def import_members(rows: list[dict], day: date) -> list[int]:
    """Bulk insert members with their first type record, branch spell and audit rows."""
    uid = current_user.id
    street = current_user.street_id
    # Core inserts on the tables: executemany in batches, without building ORM objects.
    member = Member.__table__
    ids = list(db.session.scalars(insert(member).returning(member.c.id, sort_by_parameter_order=True), [
        {"street_id": street, "branch_id": r["branch_id"], "name": r["name"], "name_key": sort_key(r["name"]),
         "gender": r["gender"],
         "birth_year": r["birth_year"], "joined_party_on": r["joined_party_on"], "on_roll_since": r["on_roll_since"],
         "probationary": r["probationary"], "booklet_no": r["booklet_no"], "phone": r["phone"],
         "address": r["address"], "status": "active"} for r in rows]))
    reason = _("Type on coming onto the roll (imported)")
    db.session.execute(insert(MemberType.__table__), [
        {"member_id": i, "type_code": r["type_code"], "effective_from": r["on_roll_since"], "reason": reason,
         "own_wish": "", "decided_by_id": uid} for i, r in zip(ids, rows)])
    db.session.execute(insert(BranchSpell.__table__), [
        {"member_id": i, "branch_id": r["branch_id"], "starts_on": r["on_roll_since"], "recorded_by_id": uid}
        for i, r in zip(ids, rows)])
    ip = client_ip()
    db.session.execute(insert(AuditLog.__table__), [
        {"user_id": uid, "username": current_user.username, "action": "member_imported", "object_type": "member",
         "object_id": i, "member_id": i, "summary": r["name"], "ip": ip,
         "after": {"branch_id": r["branch_id"], "type": r["type_code"], "on_roll_since": r["on_roll_since"].isoformat()}}
        for i, r in zip(ids, rows)])
    return ids


@bp.route("/members/import", methods=["GET", "POST"])
@requires(MEMBER_ADMINS)
def import_roster():
    form = RosterImportForm()
    if request.method == "GET":
        return render_template("admin/import.html", form=form)
    context: dict = {"form": form}
    status = 422
    if form.validate_on_submit():
        day = today()
        check = RosterCheck(day, bool(form.skip_existing.data))
        rows = 0
        try:
            for number, raw in read_rows(form.file.data.read(), ROSTER_COLUMNS):
                rows += 1
                check.check(number, raw)
        except WorkbookError as err:
            check.errors.extend(err.errors)
        context.update(rows=rows, errors=check.errors, skipped=check.skipped, filename=form.file.data.filename)
        if not check.errors and not rows:
            check.errors.append(RowError(0, "", _("The file has no rows under its headers.")))
        if not check.errors:
            ids = import_members(check.valid, day) if check.valid else []
            audit.record("members_imported", summary=f"{form.file.data.filename}: {len(ids)} imported, "
                                                     f"{len(check.skipped)} skipped of {rows} rows",
                         after={"imported": len(ids), "skipped": len(check.skipped), "rows": rows})
            db.session.commit()
            context["imported"] = len(ids)
            status = 200
        else:
            db.session.rollback()
    template = "admin/_import_report.html" if is_htmx() else "admin/import.html"
    resp = make_response(render_template(template, **context), status)
    resp.vary.add("HX-Request")
    return resp


@bp.get("/members/import/template.xlsx")
@requires(MEMBER_ADMINS)
def roster_template():
    branches = scoped_branches()
    data = template_workbook(
        "党员名册", ROSTER_COLUMNS, choices={"gender": ["男", "女"], "type_code": ["A", "B", "C", "D"],
                                            "probationary": ["是", "否"]},
        notes=["第一行是表头，请勿修改；从第二行起每行一名党员。", "所有行都正确时才会导入；有错误时系统逐行列出，一条也不导入。",
               "同一支部中姓名和出生年份都相同的党员视为重复。"],
        lists={"支部": [["社区", "支部"]] + [[c.name, b.name] for b, c in branches]})
    return download(data, "党员名册导入模板.xlsx", "roster-template.xlsx")


@bp.post("/members/export.xlsx")
@requires(MEMBER_ADMINS)
def export_roster():
    """The members of the list's filter, in the template's columns (phone and address only on request).
    A POST: the export is recorded in the audit log, and a GET never writes."""
    day = today()
    private = bool(RosterExportForm().private.data)
    members = list(db.session.scalars(filtered_members(_filters(), day).order_by(Member.branch_id, Member.name_key, Member.name, Member.id)))
    places = {b.id: (c.name, b.name) for b, c in scoped_branches(include_retired=True)}
    types = current_types(members, day)
    scheme = scheme_for_year(day.year)
    scores = score_members(db.session, scheme, day.year, day, [m for m in members if m.id in types])
    if private:
        log_private_view(members, "roster export")
    audit.record("roster_exported", summary=f"{len(members)} members" + (" with phone and address" if private else ""))
    db.session.commit()
    columns = [c for c in ROSTER_COLUMNS if private or c.key not in ("phone", "address")]
    headers = ["编号"] + [c.header for c in columns] + ["状态", "离开名册日期", f"{day.year}年积分（截至{day.isoformat()}）"]
    widths = [8] + [c.width for c in columns] + [8, 14, 24]   # a date in a narrower column shows as ####
    status_zh = {"active": "在册", "transferred_out": "转出", "deceased": "去世", "persuaded_withdraw": "劝退",
                 "expelled": "除名", "probation_cancelled": "取消预备党员资格"}

    def rows():
        for m in members:
            community, branch = places.get(m.branch_id, ("", ""))
            row = [m.id, m.name, {"M": "男", "F": "女"}.get(m.gender, ""), m.birth_year, m.joined_party_on,
                   m.on_roll_since, types.get(m.id, ""), "是" if m.probationary else "否", community, branch]
            if private:
                row += [m.phone, m.address]
            s = scores.get(m.id)
            yield row + [m.booklet_no, status_zh.get(m.status, m.status), m.left_roll_on,
                         float(s.score) if s is not None else None]

    return download(write_xlsx(Sheet("党员名册", headers, rows(), widths, header_style="plain")),
                    f"党员名册-{day.isoformat()}.xlsx", f"roster-{day.isoformat()}.xlsx")
