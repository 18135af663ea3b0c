"""The audit log, read by the street admin: filter by person, member, action and date; export as
.xlsx or CSV, both in the user's language (audit_text). Rows are the street's: written by its accounts
or about its members.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, render_template
from sqlalchemy import or_, select

from ..access import requires, STREET_ADMIN
from ..db import db
from ..exports import Sheet, download, write_csv, write_xlsx
from ..fields import args_form
from ..models import AuditLog, Member, User
from . import bp
from .audit_text import OBJECT_LABELS, Names, action_label, changes, describe, label_for
from .forms import AuditFilters
from .scope import member_number, street_id

PAGE_SIZE = 50
EXPORT_LIMIT = 100000

def _utc(day: date) -> datetime:
    """The street's local midnight of ``day`` as a naive UTC timestamp (how AuditLog.at is stored)."""
    tz = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return datetime.combine(day, time(), tz).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def _filters() -> dict:
    a = args_form(AuditFilters)
    return {"person": (a.person.data or "").lower(), "member": a.member.data or "", "action": a.action.data or "",
            "from": a["from"].data, "to": a.to.data, "format": a.format.data, "page": a.page.data or 1}


def filtered(f: dict):
    sid = street_id()
    street_users = select(User.id).where(User.street_id == sid)
    street_members = select(Member.id).where(Member.street_id == sid)
    stmt = select(AuditLog).where(or_(AuditLog.user_id.in_(street_users), AuditLog.member_id.in_(street_members)))
    if f["person"]:
        stmt = stmt.where(AuditLog.username == f["person"])
    if f["member"]:
        ids = select(Member.id).where(Member.street_id == sid, or_(
            Member.name.contains(f["member"]), Member.id == (member_number(f["member"]) or -1)))
        stmt = stmt.where(AuditLog.member_id.in_(ids))
    if f["action"]:
        stmt = stmt.where(AuditLog.action == f["action"])
    if f["from"]:
        stmt = stmt.where(AuditLog.at >= _utc(f["from"]))
    if f["to"]:
        stmt = stmt.where(AuditLog.at < _utc(f["to"] + timedelta(days=1)))
    return stmt.order_by(AuditLog.at.desc(), AuditLog.id.desc())


@bp.get("/audit")
@requires(STREET_ADMIN)
def audit_log():
    f = _filters()
    page = db.paginate(filtered(f), page=f["page"], per_page=PAGE_SIZE, error_out=False)
    # Staff accounts are offered by name; a member's account is typed (a street has thousands).
    users = db.session.scalars(select(User).where(User.street_id == street_id(), User.role != "member")
                               .order_by(User.username)).all()
    actions = sorted(db.session.scalars(select(AuditLog.action).distinct()).all(), key=action_label)
    names = Names.read(page.items)
    rows = [(r, describe(r, names), changes(r, names)) for r in page.items]
    return render_template("admin/audit.html", pg=page, f=f, users=users, actions=actions, rows=rows,
                           names=names.members, action_label=action_label)


def _local(at: datetime) -> datetime:
    """A stored UTC timestamp as the street's wall time (a date cell: the export sorts and filters by it)."""
    tz = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return at.replace(tzinfo=ZoneInfo("UTC")).astimezone(tz).replace(tzinfo=None, second=0, microsecond=0)


def _cell(items: list[tuple[str, str, str]], which: int) -> str:
    return "；".join(f"{item[0]}：{item[which]}" for item in items if item[which] != "—")


@bp.get("/audit/export")
@requires(STREET_ADMIN)
def audit_export():
    f = _filters()
    rows = db.session.scalars(filtered(f).limit(EXPORT_LIMIT)).all()
    names = Names.read(rows, every_member=True)
    headers = ["时间", "账号", "操作", "对象", "对象编号", "党员编号", "党员", "摘要", "修改前", "修改后", "IP"]

    def lines():
        for r in rows:
            items = changes(r, names)
            yield [_local(r.at), r.username, action_label(r.action), label_for(OBJECT_LABELS, r.object_type),
                   r.object_id, r.member_id, names.members.get(r.member_id, ""), describe(r, names),
                   _cell(items, 1), _cell(items, 2), r.ip]

    stamp = datetime.now().strftime("%Y%m%d-%H%M")
    if f["format"] == "csv":
        return download(write_csv(headers, lines()), f"审计日志-{stamp}.csv", f"audit-{stamp}.csv")
    widths = [17, 12, 16, 10, 9, 9, 10, 50, 40, 40, 15]     # a date in a narrower column shows as ####
    sheet = Sheet("审计日志", headers, lines(), widths, header_style="plain")
    return download(write_xlsx(sheet), f"审计日志-{stamp}.xlsx", f"audit-{stamp}.xlsx")
