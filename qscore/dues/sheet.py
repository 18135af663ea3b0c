"""The register as a sheet: the grid downloaded (the one writer), the year's sheet a branch keeps as a template,
and its import, all or nothing."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _

from .. import audit
from ..branch_lock import lock_branches
from ..db import db
from ..exports import Sheet
from ..fields import AMOUNT_MAX, AMOUNT_MIN, amount_of, has_control_characters
from ..models import Branch, DuesLine, Member, User
from ..refusals import Refusal
from .register import (DuesError, MemberDues, branch_members, closes_of, live_lines, month_dues, month_last, rates_of)
from .writes import check_paid_on

def grid_sheet(branch: Branch, year: int, rows: list[MemberDues]) -> Sheet:
    """The grid as a worksheet: one row per member, one column per month (the amount paid, or what the
    month is), then the year's total paid; the one writer (qscore/exports.py) makes it a file."""
    words = {"unpaid": _("Unpaid"), "partial": _("Part paid"), "exempt": _("Exempt"), "no_rate": _("No amount set"),
             "future": "", "none": "", "paid": "", "nothing_due": _("Nothing due")}
    header = [_("Member"), _("Monthly due"), *(_("M%(n)d", n=mo) for mo in range(1, 13)), _("Paid this year")]
    body = []
    for r in rows:
        cells = [d.paid if d.paid and d.status in ("paid", "partial") else words[d.status] or None
                 for d in (r.months[mo] for mo in range(1, 13))]
        body.append([r.member.name, r.rate, *cells, r.paid_total])
    title = _("Dues register %(year)d", year=year)
    return Sheet(title=title, header=header, rows=body, heading=f"{branch.name} · {title}",
                 widths=[14, 10, *([9] * 12), 12], formats={i: "0.00" for i in range(1, 15)},
                 borders=True, printable=True)


# -- a year's sheet, as a branch keeps it: one row per member, one column per month ----------------------

PAID_WORDS = {"√", "✓", "✔", "已交", "交", "是", "v", "V"}
EXEMPT_WORDS = {"免", "减免", "免交"}


def sheet_columns() -> tuple:
    from ..admin.workbooks import Column

    return (Column("member_id", "编号", False, 8, "系统中的党员编号（已按本支部党员填好）"),
            Column("name", "姓名", True, 12, "本支部党员的姓名"),
            *(Column(f"m{mo}", f"{mo}月", False, 9,
                     "交纳日期（如 2026-03-05，按应交金额足额交纳）、金额（如 12.5）、√（当月足额交纳）或 免（经批准减免）")
              for mo in range(1, 13)))


def sheet_template(branch: Branch, year: int) -> bytes:
    from ..admin.workbooks import template_workbook

    rows = [[m.id, m.name] for m in branch_members(branch, year)]
    return template_workbook(
        f"{year}年党费", sheet_columns(), rows=rows,
        notes=["第一行是表头，请勿修改；每行一名党员，每列一个月。",
               "单元格可填：交纳日期（按应交金额足额交纳）、金额（当月共交的金额）、√（当月足额交纳）、免（经批准减免，需在导入页填写批准情况）；空白表示未交。",
               "只填金额或 √ 的，交纳日期记为该月最后一天（本月记为今天）。",
               "已足额交纳或减免的月份不会重复登记；同一张表再次导入只补记新增的部分。所有单元格都正确时才会导入；有错误时系统逐格列出，一行也不导入。"])


@dataclass
class Imported:
    lines: list[DuesLine]
    rows: int
    skipped: int   # cells of months settled already: nothing written


class SheetRefused(Refusal):
    """Nothing written: the sheet's errors, cell by cell (admin.workbooks.RowError)."""

    def __init__(self, errors: list):
        self.errors = errors
        super().__init__("sheet_refused", status=422)


def import_sheet(branch: Branch, year: int, data: bytes, *, approval: str, method: str, by: User,
                 today: date) -> Imported:
    """A year's dues sheet into the register, all or nothing: raises SheetRefused with every error found.
    A cell of a month already closed needs the day it was paid (an amount or √ alone would date it the
    month's last day: on time, whenever it was paid)."""
    from ..admin.workbooks import RowError, WorkbookError, blank, parse_date, parse_int, read_rows, text

    try:
        sheet = list(read_rows(data, sheet_columns()))  # read and checked whole before the branch is locked
    except WorkbookError as err:
        raise SheetRefused(err.errors) from None
    lock_branches([branch.id])
    closed = set(closes_of(branch, year))
    members = branch_members(branch, year)
    by_id = {m.id: m for m in members}
    by_name: dict[str, list[Member]] = defaultdict(list)
    for m in members:
        by_name[m.name].append(m)
    rates, lines = rates_of(by_id), live_lines(by_id, year)
    errors: list = []
    todo: list[DuesLine] = []
    skipped = rows = 0
    seen: set[int] = set()
    for number, raw in sheet:
        rows += 1
        name, mid = text(raw.get("name")), parse_int(raw.get("member_id"))
        found = by_id.get(mid) if mid is not None else None
        if mid is None and not blank(raw.get("member_id")):
            errors.append(RowError(number, "编号", _("Not a member number of this branch.")))
            continue
        if found is None and mid is not None:
            errors.append(RowError(number, "编号", _("Not a member number of this branch.")))
            continue
        if found is None:
            same = by_name.get(name, [])
            if len(same) != 1:
                errors.append(RowError(number, "姓名", _("No member of this branch is called “%(name)s”.", name=name)
                                       if not same else _("Two members of this branch are called “%(name)s”: "
                                                          "fill in the member number.", name=name)))
                continue
            found = same[0]
        elif name and name != found.name:
            errors.append(RowError(number, "姓名", _("Member number %(id)d is %(name)s, not “%(typed)s”.",
                                                     id=found.id, name=found.name, typed=name)))
            continue
        if found.id in seen:
            errors.append(RowError(number, "姓名", _("%(name)s has a row above already.", name=found.name)))
            continue
        seen.add(found.id)
        if by.member_id == found.id:  # the template lists the secretary too: an empty own row is no error
            if not all(blank(raw.get(f"m{mo}")) for mo in range(1, 13)):
                errors.append(RowError(number, "姓名", _("Your own dues are recorded by another secretary.")))
            continue
        for mo in range(1, 13):
            value = raw.get(f"m{mo}")
            if blank(value):
                continue
            column = f"{mo}月"
            cell = month_dues(found, rates[found.id], lines[found.id][mo], year, mo, today)
            last = month_last(year, mo)
            word = text(value)
            if isinstance(value, str) and has_control_characters(value):
                errors.append(RowError(number, column, _("Contains invisible control characters: please type it again.")))
                continue
            if cell.status == "none":
                errors.append(RowError(number, column, _("%(name)s was not on the roll in this month.", name=found.name)))
                continue
            if cell.status == "nothing_due":
                errors.append(RowError(number, column, _("%(name)s owes nothing for this month.", name=found.name)))
                continue
            if cell.settled:
                skipped += 1
                continue
            if word in EXEMPT_WORDS:
                if not approval.strip():
                    errors.append(RowError(number, column, _("An exemption needs its approval: fill it in on the page.")))
                    continue
                todo.append(DuesLine(member_id=found.id, branch_id=branch.id, year=year, month=mo, kind="exemption",
                                     amount=Decimal(0), paid_on=min(last, today), method="", note=approval.strip(),
                                     recorded_by_id=by.id))
                continue
            if cell.status == "no_rate":
                errors.append(RowError(number, column, _("No monthly amount is set for %(name)s: set it first.",
                                                         name=found.name)))
                continue
            on = parse_date(value) if not isinstance(value, (int, float)) or isinstance(value, bool) else None
            amount = None
            if on is None and word not in PAID_WORDS:
                amount = amount_of(word)
                if amount is None or not AMOUNT_MIN <= amount <= AMOUNT_MAX:
                    errors.append(RowError(number, column, _("“%(v)s” is not a date, an amount, √ or 免.", v=word[:40])))
                    continue
            if on is None:
                if mo in closed:
                    errors.append(RowError(number, column, _("This month is closed: write the day it was paid.")))
                    continue
                if date(year, mo, 1) > today:
                    errors.append(RowError(number, column, _("A month still to come: write the day it was paid.")))
                    continue
                on = min(last, today)
            else:
                try:
                    check_paid_on(on, year, today)
                except DuesError as err:
                    errors.append(RowError(number, column, err.text(_)))
                    continue
            if amount is not None:  # the month's total paid, as the sheet says: only what it adds is new
                amount -= cell.paid
                if amount <= 0:
                    skipped += 1
                    continue
            todo.append(DuesLine(member_id=found.id, branch_id=branch.id, year=year, month=mo, kind="payment",
                                 amount=amount if amount is not None else cell.owed, paid_on=on, method=method,
                                 note="", recorded_by_id=by.id))
    if not errors and not rows:
        errors.append(RowError(0, "", _("The file has no rows under its headers.")))
    if errors:
        raise SheetRefused(errors)
    db.session.add_all(todo)
    db.session.flush()
    audit.record("dues_imported", branch, user=by,
                 summary=f"{branch.name} {year}: {len(todo)} lines from {rows} rows, {skipped} settled months skipped")
    return Imported(todo, rows, skipped)


