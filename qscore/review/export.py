"""The confirmed grade table (等次评定表) as an Excel workbook."""
from __future__ import annotations

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from ..templating import GRADE_LABELS, TYPE_LABELS
from .data import ReviewData
from .workflow import user_label

THIN = Side(style="thin", color="999999")


def _text_cell(ws, row: int, col: int, value):
    """Text is always stored as text: a name or reason starting with '=' must never become a formula."""
    cell = ws.cell(row=row, column=col, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def grade_table_xlsx(data: ReviewData, gettext) -> Workbook:
    review = data.review
    wb = Workbook()
    ws = wb.active
    ws.title = str(data.year)
    headers = [gettext("No."), gettext("Name"), gettext("Type"), gettext("Basic (J)"), gettext("Role (Z)"),
               gettext("Deductions (K)"), gettext("Year score"), gettext("Suggested grade"),
               gettext("Grade decided"), gettext("Reason or note")]
    title = gettext("Party members' grades of %(year)d", year=data.year)
    _text_cell(ws, 1, 1, title).font = Font(bold=True, size=14)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
    _text_cell(ws, 2, 1, f"{data.community.name} · {data.branch.name}")
    meeting = gettext("Branch general meeting of %(d)s: %(p)s of %(t)s members present; chaired by %(c)s.",
                      d=review.meeting_on.isoformat() if review.meeting_on else "", p=review.members_present,
                      t=review.members_total, c=review.chair or "—")
    _text_cell(ws, 3, 1, meeting)
    confirmed = gettext("Confirmed by %(who)s on %(when)s.", who=user_label(data.users.get(review.confirmed_by_id)),
                        when=review.confirmed_at.date().isoformat() if review.confirmed_at else "")
    _text_cell(ws, 4, 1, confirmed)
    head_row = 6
    fill = PatternFill("solid", fgColor="F3F0EA")
    for col, text in enumerate(headers, start=1):
        cell = _text_cell(ws, head_row, col, text)
        cell.font, cell.fill = Font(bold=True), fill
        cell.border = Border(top=THIN, bottom=THIN, left=THIN, right=THIN)
    for i, r in enumerate(data.rows, start=1):
        d = r.decision
        values = [i, r.member.name, str(TYPE_LABELS.get(r.score.type_code, r.score.type_code)), float(r.score.j),
                  float(r.score.z), float(r.score.k), float(d.score) if d and d.score else float(r.score.score),
                  str(GRADE_LABELS.get(d.suggested if d else r.suggested, "")),
                  str(GRADE_LABELS.get(d.grade, "")) if d else "", (d.override_reason if d else "") or ""]
        for col, value in enumerate(values, start=1):
            cell = _text_cell(ws, head_row + i, col, value)
            cell.border = Border(top=THIN, bottom=THIN, left=THIN, right=THIN)
            if col in (4, 5, 6, 7):
                cell.number_format = "0.0"
            if col == 10:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    for col, width in enumerate((6, 12, 10, 10, 10, 12, 10, 12, 12, 40), start=1):
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.freeze_panes = ws.cell(row=head_row + 1, column=1)
    ws.print_title_rows = f"{head_row}:{head_row}"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    return wb
