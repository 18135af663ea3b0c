"""Opening balances: a street starting mid-year records the points already earned, by indicator and
date, as ledger entries with the source "opening_balance" — by form or workbook, all or nothing."""
from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from qscore.db import db
from qscore.models import AuditLog, Member, PointEntry, User
from qscore.scheme_versions import scheme_for_year
from qscore.scoring import score_members

from .conftest import FIXED_TODAY, make_member

HX = {"HX-Request": "true"}
HEADERS = ["编号", "积分手册编号", "社区", "支部", "姓名", "出生年份", "指标代码", "日期", "次数", "分值或小时", "备注"]


@pytest.fixture
def admin(client, auth, org):
    client.set_cookie("qscore_lang", "en")
    auth.login("admin")
    return client


@pytest.fixture
def people(app, org):
    with app.app_context():
        ids = {"zhang": make_member(org.branch_id, "张伟", "A", birth_year=1960, booklet_no="QJ-1").id,
               "li": make_member(org.branch_id, "李娜", "C", birth_year=1975).id,
               "late": make_member(org.branch_id, "新人", "B", on_roll_since=date(2026, 3, 1)).id}
        db.session.commit()
    return ids


def entries(app, **where):
    with app.app_context():
        stmt = select(PointEntry).order_by(PointEntry.id)
        for k, v in where.items():
            stmt = stmt.where(getattr(PointEntry, k) == v)
        rows = db.session.scalars(stmt).all()
        db.session.expunge_all()
        return rows


def lines(*items):
    data = {"lines": "8"}
    for n, item in enumerate(items):
        for k, v in item.items():
            data[f"{k}-{n}"] = v
    return data


def test_record_by_form(app, admin, org, people):
    mid = people["zhang"]
    resp = admin.post(f"/admin/members/{mid}/opening", data=lines(
        {"indicator": "J1", "earned_on": "2026-01-10", "times": "2"},
        {"indicator": "Z3", "earned_on": "2026-02-03", "value": "4"},
        {"indicator": "K2", "earned_on": "2026-03-01", "note": "欠缴党费两个月"},
        {"indicator": "Z4", "earned_on": "2026-04-08", "value": "5", "note": "防汛"},
    ))
    assert resp.status_code == 200
    assert "5 entries recorded." in resp.get_data(as_text=True)
    got = entries(app, member_id=mid)
    assert [(e.indicator_code, e.earned_on, e.points, e.source) for e in got] == [
        ("J1", date(2026, 1, 10), Decimal("1.0"), "opening_balance"),
        ("J1", date(2026, 1, 10), Decimal("1.0"), "opening_balance"),
        ("Z3", date(2026, 2, 3), Decimal("2.0"), "opening_balance"),
        ("K2", date(2026, 3, 1), Decimal("-2.0"), "opening_balance"),
        ("Z4", date(2026, 4, 8), Decimal("5.0"), "opening_balance")]
    assert got[0].note == "Opening balance from the paper booklet" and got[3].note == "欠缴党费两个月"
    assert got[2].quantity == Decimal("4.0")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "entry_added", AuditLog.member_id == mid)) == 5
        assert db.session.scalar(select(AuditLog.summary).where(AuditLog.action == "opening_balances_recorded"))
        m = db.session.get(Member, mid)
        s = score_members(db.session, scheme_for_year(2026), 2026, FIXED_TODAY, [m])[mid]
        assert s.score == Decimal("57.0")  # 50 + J1 2 + Z3 2 + Z4 5 - K2 2
    # The page lists what is recorded.
    page = admin.get(f"/admin/members/{mid}/opening").get_data(as_text=True)
    assert "欠缴党费两个月" in page and "+7" in page


@pytest.mark.parametrize(("line", "message"), [
    ({"indicator": "X9", "earned_on": "2026-01-10"}, "Unknown indicator X9."),
    ({"indicator": "", "earned_on": "2026-01-10", "note": "x"}, "Choose an indicator."),
    ({"indicator": "J1", "earned_on": ""}, "Enter a date."),
    ({"indicator": "J1", "earned_on": "2025-12-31"}, "A date of 2026: opening balances are this year&#39;s points."),
    ({"indicator": "J1", "earned_on": "2026-06-01"}, "The date earned cannot be after today."),
    ({"indicator": "Z3", "earned_on": "2026-01-10"}, "Enter the hours served."),
    ({"indicator": "Z4", "earned_on": "2026-01-10", "value": "4"}, "4 is not a value of Z4"),
    ({"indicator": "K2", "earned_on": "2026-01-10"}, "A deduction or veto needs a reason in the note."),
    ({"indicator": "J1", "earned_on": "2026-01-10", "times": "0"}, "A whole number from 1 to 50."),
    ({"indicator": "V", "earned_on": "2026-01-10", "note": "处分"}, "A veto is recorded on the roster"),
])
def test_a_bad_line_refuses_the_whole_form(app, admin, people, line, message):
    good = {"indicator": "J1", "earned_on": "2026-01-10"}
    resp = admin.post(f"/admin/members/{people['zhang']}/opening", data=lines(good, line))
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert message in body and "Nothing was recorded" in body
    assert not entries(app)
    # What was typed is kept.
    assert 'value="2026-01-10"' in body


def test_not_before_the_roll(app, admin, people):
    resp = admin.post(f"/admin/members/{people['late']}/opening", data=lines(
        {"indicator": "J1", "earned_on": "2026-02-10"}))
    assert resp.status_code == 422
    assert "came onto the roll on 2026-03-01" in resp.get_data(as_text=True)


def test_an_empty_form_is_refused(app, admin, people):
    resp = admin.post(f"/admin/members/{people['zhang']}/opening", data=lines())
    assert resp.status_code == 422 and "Fill in at least one line." in resp.get_data(as_text=True)


def test_no_one_records_their_own_opening_balance(app, client, auth, org, people):
    with app.app_context():
        db.session.get(User, org.community_secretary_id).member_id = people["li"]
        db.session.commit()
    auth.login("cs")
    resp = client.post(f"/admin/members/{people['li']}/opening", data=lines({"indicator": "J1",
                                                                               "earned_on": "2026-02-10"}))
    assert resp.status_code == 403 and not entries(app)
    assert client.post(f"/admin/members/{people['zhang']}/opening", data=lines(
        {"indicator": "J1", "earned_on": "2026-02-10"})).status_code == 200


def book(rows) -> io.BytesIO:
    wb = Workbook()
    wb.active.append(HEADERS)
    for r in rows:
        wb.active.append(r)
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    return out


def upload(client, rows):
    return client.post("/admin/opening-balances/import", data={"file": (book(rows), "opening.xlsx")},
                       content_type="multipart/form-data", headers=HX)


def test_template(admin, people):
    resp = admin.get("/admin/opening-balances/template.xlsx")
    wb = load_workbook(io.BytesIO(resp.data))
    assert [c.value for c in wb.worksheets[0][1]] == HEADERS
    codes = [r[0] for r in wb["指标"].iter_rows(min_row=2, values_only=True)]
    assert "J1" in codes and "Z3" in codes and "V" not in codes


def test_import_by_workbook(app, admin, org, people):
    rows = [
        [people["zhang"], None, None, None, None, None, "J1", datetime(2026, 1, 10), 2, None, None],
        [None, "QJ-1", None, None, None, None, "Z3", "2026-02-03", None, 3, None],
        [None, None, "前进社区", "第一党支部", "李娜", None, "z5", "2026/4/1", None, None, "调解邻里纠纷"],
    ]
    resp = upload(admin, rows)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert "4 entries recorded for 2 members" in resp.get_data(as_text=True)
    got = entries(app, source="opening_balance")
    assert [(e.member_id, e.indicator_code, e.points) for e in got] == [
        (people["zhang"], "J1", Decimal("1.0")), (people["zhang"], "J1", Decimal("1.0")),
        (people["zhang"], "Z3", Decimal("1.5")), (people["li"], "Z5", Decimal("2.0"))]


def test_a_bad_workbook_records_nothing_and_reports_each_row(app, admin, org, people):
    rows = [
        [people["zhang"], None, None, None, None, None, "J1", "2026-01-10", None, None, None],   # 2: good
        [9999, None, None, None, None, None, "J1", "2026-01-10", None, None, None],             # 3: no such member
        [None, None, None, "第一党支部", "无名氏", None, "J1", "2026-01-10", None, None, None],   # 4: no such name
        [people["zhang"], None, None, None, None, None, "Q1", "2026-01-10", None, None, None],   # 5: bad indicator
        [people["zhang"], None, None, None, None, None, "J1", "某天", None, None, None],          # 6: bad date
        [people["zhang"], None, None, None, None, None, "Z7", "2026-01-10", None, 2, None],      # 7: not a value
        [people["zhang"], None, None, None, None, None, "J1", "2026-01-10", "many", None, None],  # 8: bad times
        [people["late"], None, None, None, None, None, "J1", "2026-01-10", None, None, None],    # 9: before the roll
    ]
    resp = upload(admin, rows)
    assert resp.status_code == 422
    text = " ".join(resp.get_data(as_text=True).split()).replace("> <", "><")
    for number, column, message in [
        (3, "编号", "No member on the roll with this number."),
        (4, "姓名", "No member of this name on the branch&#39;s roll."),
        (5, "指标代码", "Unknown indicator Q1."),
        (6, "日期", "“某天” is not a date"),
        (7, "分值或小时", "2 is not a value of Z7"),
        (8, "次数", "A whole number from 1 to 50."),
        (9, "日期", "The member came onto the roll on 2026-03-01"),
    ]:
        assert f'<td class="num">{number}</td><td>{column}</td><td>{message}' in text, (number, message)
    assert not entries(app)


@pytest.mark.parametrize("count", [str(10**40), "41", "-5"])
def test_a_line_count_out_of_range_builds_no_bigger_form(app, admin, org, people, count):
    """The page's line count comes back with the form: 10^40 once built a form of that many fields and hung
    the server. Out of range it is ignored: the usual form, nothing recorded."""
    page = admin.get(f"/admin/members/{people['zhang']}/opening?lines={count}")
    assert page.status_code == 200 and 'name="note-40"' not in page.get_data(as_text=True)
    resp = admin.post(f"/admin/members/{people['zhang']}/opening", data={"lines": count})
    assert resp.status_code == 422 and 'name="note-40"' not in resp.get_data(as_text=True)
    assert entries(app, member_id=people["zhang"]) == []
