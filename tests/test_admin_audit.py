"""The audit log: filters by person, member, action and date; export as Excel or CSV; the street's own rows."""
from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest
from openpyxl import load_workbook

from qscore.db import db
from qscore.models import AuditLog, Street, User

from .conftest import make_member


@pytest.fixture
def admin(client, auth, org):
    client.set_cookie("qscore_lang", "en")
    auth.login("admin")
    return client


@pytest.fixture
def log(app, org):
    """A few rows at known times (UTC; the street is UTC+8)."""
    with app.app_context():
        zhang = make_member(org.branch_id, "张伟").id
        li = make_member(org.branch_id, "李娜").id
        other = Street(name="别的街道")
        db.session.add(other)
        db.session.flush()
        stranger = User(username="stranger", password_hash="x", role="street_admin", street_id=other.id)
        db.session.add(stranger)
        db.session.flush()
        rows = [
            AuditLog(at=datetime(2026, 5, 1, 2, 0), user_id=org.admin_id, username="admin", action="member_added",
                     object_type="member", object_id=zhang, member_id=zhang, summary="张伟",
                     after={"name": "张伟"}),
            AuditLog(at=datetime(2026, 5, 9, 15, 30), user_id=org.community_secretary_id, username="cs",
                     action="private_viewed", object_type="member", object_id=li, member_id=li,
                     summary="李娜: member page"),  # 2026-05-09 23:30 in the street
            AuditLog(at=datetime(2026, 5, 9, 16, 30), user_id=org.branch_secretary_id, username="bs",
                     action="entry_added", member_id=zhang, summary="张伟 J1 1 on 2026-05-10"),  # 05-10 00:30 local
            AuditLog(at=datetime(2026, 5, 2), user_id=stranger.id, username="stranger", action="login",
                     summary="another street"),
        ]
        db.session.add_all(rows)
        db.session.commit()
        return {"zhang": zhang, "li": li}


def shown(admin, query="") -> str:
    return admin.get(f"/admin/audit{query}").get_data(as_text=True)


def test_the_streets_rows_only(admin, log):
    page = shown(admin)
    assert "张伟 J1 1 on 2026-05-10" in page and "李娜: member page" in page
    assert "another street" not in page


def test_filters(admin, org, log):
    assert "李娜: member page" not in shown(admin, "?person=bs")
    assert "张伟 J1 1" in shown(admin, "?person=BS")
    by_member = shown(admin, "?member=李娜")
    assert "李娜: member page" in by_member and "张伟 J1" not in by_member
    assert "李娜: member page" in shown(admin, f"?member={log['li']}")
    by_action = shown(admin, "?action=private_viewed")
    assert "李娜: member page" in by_action and "张伟 J1" not in by_action
    # Dates are the street's: 15:30 UTC on May 9 is 23:30 on May 9; 16:30 UTC is May 10.
    may9 = shown(admin, "?from=2026-05-09&to=2026-05-09")
    assert "李娜: member page" in may9 and "张伟 J1" not in may9 and ">张伟<" not in may9
    may10 = shown(admin, "?from=2026-05-10")
    assert "张伟 J1" in may10 and "李娜: member page" not in may10


def test_export_excel_and_csv(admin, log):
    resp = admin.get("/admin/audit/export?format=xlsx&action=private_viewed")
    ws = load_workbook(io.BytesIO(resp.data)).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:3] == ("时间", "账号", "操作") and len(rows) == 2
    assert rows[1][1] == "cs" and rows[1][2] == "private_viewed" and rows[1][6] == "李娜"
    assert rows[1][0] == "2026-05-09 23:30"
    resp = admin.get("/admin/audit/export?format=csv")
    assert resp.mimetype == "text/csv" and resp.data.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert len(lines) == 5 and lines[0][0] == "时间"  # the three rows above and the admin's login
    assert any("张伟 J1 1 on 2026-05-10" in line for line in lines)
    assert not any("another street" in line for line in lines)


def test_views_of_private_fields_appear_in_the_log(app, admin, log):
    admin.get(f"/admin/members/{log['zhang']}/private", headers={"HX-Request": "true"})
    page = shown(admin, f"?member={log['zhang']}&action=private_viewed")
    assert "张伟: member page" in page


def test_only_the_street_admin_reads_the_log(client, auth, org):
    auth.login("cs")
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/audit/export").status_code == 403
