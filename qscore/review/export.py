"""The confirmed grade table (等次评定表) as an Excel workbook."""
from __future__ import annotations

from ..exports import Sheet
from ..models import User
from ..templating import GRADE_LABELS, TYPE_LABELS
from .data import ReviewData


def user_label(u: User | None) -> str:
    return (u.display_name or u.username) if u is not None else ""


def grade_table(data: ReviewData, gettext) -> Sheet:
    """The table on A4 with a line per member: scores as numbers with one decimal, the grade and its reason."""
    review = data.review
    headers = [gettext("No."), gettext("Name"), gettext("Type"), gettext("Basic (J)"), gettext("Role (Z)"),
               gettext("Deductions (K)"), gettext("Year score"), gettext("Suggested grade"),
               gettext("Grade decided"), gettext("Reason or note")]
    meeting = gettext("Branch general meeting of %(d)s: %(p)s of %(t)s members present; chaired by %(c)s.",
                      d=review.meeting_on.isoformat() if review.meeting_on else "", p=review.members_present,
                      t=review.members_total, c=review.chair or "—")
    confirmed = gettext("Confirmed by %(who)s on %(when)s.", who=user_label(data.users.get(review.confirmed_by_id)),
                        when=review.confirmed_at.date().isoformat() if review.confirmed_at else "")
    rows = []
    for i, r in enumerate(data.rows, start=1):
        d = r.decision
        rows.append([i, r.member.name, str(TYPE_LABELS.get(r.score.type_code, r.score.type_code)), r.score.j,
                     r.score.z, r.score.k, float(d.score) if d and d.score else r.score.score,
                     str(GRADE_LABELS.get(d.suggested if d else r.suggested, "")),
                     str(GRADE_LABELS.get(d.grade, "")) if d else "", (d.override_reason if d else "") or ""])
    return Sheet(str(data.year), headers, rows, [6, 12, 10, 10, 10, 12, 10, 12, 12, 40],
                 heading=gettext("Party members' grades of %(year)d", year=data.year), heading_size=14,
                 notes=[f"{data.community.name} · {data.branch.name}", meeting, confirmed, ""],
                 header_fill="F3F0EA", formats={3: "0.0", 4: "0.0", 5: "0.0", 6: "0.0"}, wrap={9}, borders=True,
                 printable=True)
