"""The audit log: filters by person, member, action and date; export as Excel or CSV; the street's own rows."""
from __future__ import annotations

import csv
import io
import re
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
    assert rows[1][1] == "cs" and rows[1][2] == "Private fields viewed" and rows[1][6] == "李娜"
    assert rows[1][0] == datetime(2026, 5, 9, 23, 30)   # a date cell, in the street's time
    resp = admin.get("/admin/audit/export?format=csv")
    assert resp.mimetype == "text/csv" and resp.data.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert len(lines) == 5 and lines[0][0] == "时间"  # the three rows above and the admin's login
    assert any("张伟 J1 1 on 2026-05-10" in line for line in lines)
    assert not any("another street" in line for line in lines)


def test_views_of_private_fields_appear_in_the_log(app, admin, log):
    admin.post(f"/admin/members/{log['zhang']}/private", headers={"HX-Request": "true"})
    page = shown(admin, f"?member={log['zhang']}&action=private_viewed")
    assert "张伟: member page" in page


def test_only_the_street_admin_reads_the_log(client, auth, org):
    auth.login("cs")
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/audit/export").status_code == 403


def test_every_recorded_action_has_a_label_and_its_english_summary_a_format():
    """Each action a call of audit.record / record_many names (literally or in a conditional) is labelled,
    and a summary written with English words in it has its format in audit.SUMMARY_FORMATS, so that the
    Chinese log can translate it."""
    import ast
    from pathlib import Path

    import qscore
    from qscore.audit import ACTION_LABELS, SUMMARY_FORMATS

    def actions(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value
        elif isinstance(node, ast.IfExp):
            yield from actions(node.body)
            yield from actions(node.orelse)

    def literal_text(node):
        """The summary's own words: its literal parts (names and typed text come from expressions)."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value
        elif isinstance(node, ast.JoinedStr):
            for part in node.values:
                yield from literal_text(part)
        elif isinstance(node, ast.BinOp):
            yield from literal_text(node.left)
            yield from literal_text(node.right)
        elif isinstance(node, ast.IfExp):
            yield from literal_text(node.body)
            yield from literal_text(node.orelse)

    def english(node) -> bool:
        return any(re.search(r"[A-Za-z]{3,}", text) for text in literal_text(node))

    found, untranslated = set(), set()
    for path in Path(qscore.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "attr", None) in ("record", "record_many")
                    and getattr(node.func.value, "id", None) == "audit" and node.args):
                named = set(actions(node.args[0]))
                found |= named
                summary = next((k.value for k in node.keywords if k.arg == "summary"), None)
                if summary is not None and english(summary):
                    untranslated |= named - set(SUMMARY_FORMATS)
    # Written as f"post_{action}ed" and f"household_{action}ed" (qscore/service/branch.py).
    found |= {f"{what}_{action}ed" for what in ("post", "household") for action in ("confirm", "reject", "end")}
    assert len(found) > 60 and found - set(ACTION_LABELS) == set()
    assert untranslated == set()


def test_summary_formats_keep_their_placeholders_in_chinese():
    from babel.messages.pofile import read_po

    from qscore.audit import SUMMARY_FORMATS

    from .test_i18n import PO

    with PO.open("rb") as fh:
        catalog = read_po(fh)
    placeholders = re.compile(r"%\((\w+)\)s")
    for formats in SUMMARY_FORMATS.values():
        for fmt in formats:
            if fmt.startswith("%(") and fmt.endswith(")s") and fmt.count("%(") == 1:
                continue  # the whole summary is one value, translated as such (no message)
            zh = catalog.get(fmt).string
            assert zh and sorted(placeholders.findall(zh)) == sorted(placeholders.findall(fmt)), fmt


# A summary of each kind, as the code writes it (see the audit.record calls).
SUMMARIES = {
    "setup": "street 幸福街道; admin admin",
    "account_created": "bs (branch_secretary)",
    "account_disabled": "bs: member left the roll",
    "accounts_bulk_created": "第一党支部: 12 member accounts",
    "private_viewed": "张伟: roster export",
    "member_updated": "张伟: address, booklet_no, phone",
    "member_transferred": "张伟: branch {branch} → {other} on 2026-05-01 (随子女迁居)",
    "member_status_changed": "张伟: deceased on 2026-04-30",
    "member_type_changed": "张伟: B → D from 2026-05-01",
    "opening_balances_recorded": "期初积分.xlsx: 40 entries for 12 members",
    "settings_changed": "mask_names, supervision_days",
    "members_imported": "花名册.xlsx: 30 imported, 2 skipped of 32 rows",
    "roster_exported": "300 members with phone and address",
    "entry_added": "张伟 Z3 1.5 on 2026-03-13 (adjusts 2026-Q1)",
    "entry_corrected": "corrects entry 12: 录入错误",
    "meeting_recorded": "第一党支部 2026-05-08 org_life 五月主题党日: 30 entries, own line waits for confirmation",
    "leave_added": "张伟 health_exemption 2026-01-01..2026-12-31",
    "self_record_added": "张伟 Z2 on 2026-05-03",
    "self_record_confirmed": "张伟 Z2 on 2026-05-03: entry 77",
    "reconciled": "第一党支部 2026-Q1: 张伟 deferred",
    "reconciled_all": "第一党支部 2026-Q1: 28 booklets agree",
    "quarter_published": "第一党支部 2026-Q1: 30 members, sha256 " + "ab12" * 16,
    "query_received": "第一党支部 2026-Q1: whole list",
    "review_started": "branch {branch} 2025",
    "review_meeting_recorded": "2025 meeting 2026-01-19: 31/34",
    "grade_overridden": "2025 张伟: qualified (suggested rectify): 因病住院",
    "grades_confirmed": "2025: 33 suggestion(s) confirmed",
    "grade_dropped": "2025: no longer on the branch's roll at year end",
    "review_confirmed": "branch {branch} 2025: advanced 8, qualified 25, rectify 1",
    "red_flag_chosen": "2025: branches [{branch}, {other}]",
    "case_opened": "2025 rectification, deadline 2026-07-19",
    "case_closed": "the reopened 2025 review graded the member qualified",
    "case_plan_written": "plan, deadline 2026-07-19",
    "case_extended": "deadline 2026-04-19 -> 2026-07-19: 继续观察",
    "proposal_made": "persuade_withdraw: 14 for, 0 against, 1 abstaining",
    "post_declared": "张伟: 楼道长 (pending)",
    "post_duty_confirmed": "第一党支部 2026-04: 12 posts, 12 entries",
    "household_visited": "张伟: household 3 on 2026-05-02, entry 90",
    "team_member_left": "红马甲服务队: left 2026-03-01",
    "scheme_created": "copied from 2025",
    "scheme_saved": "2026 v2: 调整志愿服务分值",
    "demo_loaded": "demo street 示范街道: 10 branches, 300 members, 13959 entries, 50 published quarters, "
                   "10 confirmed reviews (seed 2026, today 2026-05-20)",
}


def test_the_chinese_log_reads_chinese(app, client, auth, org):
    """Every kind of summary, stored in English, reads as Chinese: words, names for ids, labels for codes;
    before and after as labelled values, never JSON."""
    from .test_zh_crawl import ALLOWED, _Page, english_words

    with app.app_context():
        zhang = make_member(org.branch_id, "张伟").id
        db.session.add_all([AuditLog(user_id=org.admin_id, username="admin", action=action, member_id=zhang,
                                     summary=text.format(branch=org.branch_id, other=org.other_branch_id))
                            for action, text in SUMMARIES.items()])
        db.session.add(AuditLog(user_id=org.admin_id, username="admin", action="member_updated", member_id=zhang,
                                before={"phone": "", "branch_id": org.branch_id, "probationary": True},
                                after={"phone": "•••", "branch_id": org.other_branch_id, "probationary": False}))
        db.session.commit()
    auth.login("admin")
    html = client.get("/admin/audit").get_data(as_text=True)
    page = _Page()
    page.feed(html)
    assert english_words(page.text, ALLOWED | {"admin", "bs"}) == set()
    text = " ".join(" ".join(page.text).split())
    for shown in ("张伟：2026-05-01 由 第一党支部 转至 和平第一支部（随子女迁居）", "张伟：自 2026-05-01 起由第二类改为第四类",
                  "第一党支部 2025 年度：先进 8，合格 25，限期整改 1", "2025 年度：第一党支部、和平第一支部",
                  "第一党支部 2026年第1季度：张伟 本人缺席，稍后核对", "复制自 2025 年度方案", "张伟：导出花名册",
                  "张伟：住址、积分手册编号、电话", "查看不公开信息",
                  "党支部 第一党支部 和平第一支部", "预备党员 是 否", "电话 — •••"):
        assert shown in text, shown
    assert "\\u" not in text and "member_updated" not in text and "private_viewed" not in text
    export = client.get("/admin/audit/export?format=csv").data.decode("utf-8-sig")
    assert "修改党员信息" in export and "member_updated" not in export
    assert "先进 8，合格 25，限期整改 1" in export and "电话：•••" in export and "党支部：第一党支部" in export
