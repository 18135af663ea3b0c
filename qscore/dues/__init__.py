"""The dues register (党费收缴) and the points that follow from it.

A member owes ``DuesRate.monthly`` for each month on the roll from the rate's month on. The register's
lines say what was paid, when and how (cash, transfer, by proxy 委托代缴, online), or that a reduction or
exemption was approved (减免: counts as paid, as J3's note says). Lines are never changed: a mistake is
voided by a new line naming it.

Points follow from the register when a secretary **closes a month** (结算), not from typing:

* closing the last month of a quarter writes J3 (dues paid on time and in full) for each member whose
  every month of the quarter on the roll is exempt or paid in full by the month's last day;
* closing a month writes K2 (dues in arrears after reminder) for each member whose previous month is
  still unpaid or partly paid although that month was closed too: the first close is the reminder
  (催缴), the next one finds it still owed, one K2 per month overdue.

Modules: register.py (what the register says), writes.py (lines, amounts, "paid this month", voids),
sheet.py (the grid as a workbook, the year's sheet and its import), closing.py (closing a month into
points, and what the register says against a J3/K2 typed by hand).

Each entry names the register lines it follows from (``DuesPoint.lines``, and its note), is recorded by
the person who closed, and is written once: ``DuesPoint`` is unique per member, indicator and period,
so a close run again adds only what is missing, and an entry corrected on the roster is not written
again. The closing secretary's own lines are left to another secretary (four eyes), as everywhere.
"""
from .closing import Closed, close_month, register_doubts
from .register import (DuesError, MemberDues, MonthDues, Totals, closes_of, collection, label, last_ended, member_year,
                       month_last, month_totals, owed_months, owed_run, previous_month, quarter_settled, quarter_totals,
                       register)
from .sheet import Imported, SheetRefused, grid_sheet, import_sheet, sheet_template
from .writes import MarkedPaid, MemberErrors, add_line, mark_paid, points_citing, set_rate, void_line

__all__ = ["Closed", "close_month", "register_doubts", "DuesError", "MemberDues", "MonthDues", "Totals",
           "closes_of", "collection", "label", "last_ended", "member_year", "month_last", "month_totals", "owed_months", "owed_run", "previous_month",
           "quarter_settled", "quarter_totals", "register", "Imported", "SheetRefused", "grid_sheet", "import_sheet", "sheet_template",
           "MarkedPaid", "MemberErrors", "add_line", "mark_paid", "points_citing", "set_rate", "void_line"]
