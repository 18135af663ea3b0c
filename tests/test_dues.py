"""The dues register: a branch's grid, "paid this month" in one save, closing a month into J3/K2 once."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from qscore.db import db
from qscore.models import AuditLog, DuesClose, DuesLine, DuesPoint, DuesRate, Member, PointEntry

from .conftest import SNAPSHOTS, make_member

# Tests run on 2026-05-20 (conftest.FIXED_TODAY): January to April can be closed, Q1 ends in March.


@pytest.fixture
def reg(app, org):
    """Four members of the branch with 2 yuan a month due from January, one in another branch."""
    return SNAPSHOTS.build(app, (__name__, "reg"), lambda: _build(app, org))


def _build(app, org):
    with app.app_context():
        ids = {k: make_member(org.branch_id, name, t).id
               for k, name, t in (("a", "张伟", "A"), ("b", "李娜", "B"), ("c", "王秀英", "C"), ("d", "刘洋", "D"))}
        ids["far"] = make_member(org.other_branch_id, "陈静", "B").id
        for mid in ids.values():
            db.session.add(DuesRate(member_id=mid, monthly=Decimal("2.00"), effective_from=date(2026, 1, 1)))
        db.session.commit()
    return ids


def paid(client, org, month, ids, paid_on="2026-05-10", method="cash"):
    return client.post(f"/branches/{org.branch_id}/dues/paid",
                       data={"month": month, "paid_on": paid_on, "method": method, "member_ids": [str(i) for i in ids]})


def close(client, org, month):
    return client.post(f"/branches/{org.branch_id}/dues/close", data={"month": month})


def lines(app, **where) -> list[DuesLine]:
    with app.app_context():
        stmt = select(DuesLine).order_by(DuesLine.id)
        for k, v in where.items():
            stmt = stmt.where(getattr(DuesLine, k) == v)
        out = db.session.scalars(stmt).all()
        db.session.expunge_all()
        return out


def dues_entries(app, code=None) -> list[PointEntry]:
    with app.app_context():
        stmt = select(PointEntry).where(PointEntry.source == "dues").order_by(PointEntry.id)
        if code:
            stmt = stmt.where(PointEntry.indicator_code == code)
        out = db.session.scalars(stmt).all()
        db.session.expunge_all()
        return out


def test_the_grid_shows_the_branch_in_chinese_and_no_other_branch(client, auth, reg, org):
    auth.login("bs")
    page = client.get(f"/branches/{org.branch_id}/dues").get_data(as_text=True)
    assert "党费" in page and "张伟" in page and "刘洋" in page and "陈静" not in page
    assert "保存：本月已交" in page
    # One page: a plain title, one import form, each id once.
    import re
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    assert "<" not in title and "党费收缴" in title
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert page.count('id="import"') == 1 and len(ids) == len(set(ids))
    assert client.get(f"/branches/{org.other_branch_id}/dues").status_code == 404
    assert client.get(f"/branches/{org.branch_id}/dues?year=2027").status_code == 404
    assert client.get(f"/branches/{org.branch_id}/dues?year=abc").status_code == 200  # this year


def test_paid_this_month_for_ticked_members_in_one_save(client, auth, reg, org, app):
    auth.login("bs")
    resp = paid(client, org, "2026-05", [reg["a"], reg["b"], reg["c"]])
    assert resp.status_code == 303
    got = lines(app, month=5)
    assert sorted(x.member_id for x in got) == sorted([reg["a"], reg["b"], reg["c"]])
    assert {(x.kind, x.amount, x.paid_on, x.method) for x in got} == {("payment", Decimal("2.00"), date(2026, 5, 10), "cash")}
    page = client.get(resp.location).get_data(as_text=True)
    assert "3" in page and "已交" in page
    # The same save again writes nothing and says so.
    resp = paid(client, org, "2026-05", [reg["a"]])
    assert resp.status_code == 303 and len(lines(app, month=5)) == 3
    assert "张伟" in client.get(resp.location).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "dues_month_paid")) == 1


def test_a_part_payment_is_completed_by_what_is_still_owed(client, auth, reg, org, app):
    auth.login("bs")
    client.post(f"/branches/{org.branch_id}/dues/members/{reg['a']}/lines",
                data={"month": "2026-04", "kind": "payment", "amount": "0.50", "paid_on": "2026-04-10", "method": "cash"})
    paid(client, org, "2026-04", [reg["a"]], paid_on="2026-04-28", method="transfer")
    assert [x.amount for x in lines(app, member_id=reg["a"], month=4)] == [Decimal("0.50"), Decimal("1.50")]


def test_nothing_is_written_when_one_ticked_member_has_no_amount_set(client, auth, org, app):
    with app.app_context():
        a = make_member(org.branch_id, "张伟", "A")
        b = make_member(org.branch_id, "李娜", "B")
        db.session.add(DuesRate(member_id=a.id, monthly=Decimal(3), effective_from=date(2026, 1, 1)))
        db.session.commit()
        ids = a.id, b.id
    auth.login("bs")
    resp = paid(client, org, "2026-05", ids)
    assert resp.status_code == 422
    assert "尚未设置李娜每月应交的党费" in resp.get_data(as_text=True)
    assert lines(app) == []


@pytest.mark.parametrize("field,value", [
    ("month", "2026-13"), ("month", "2027-01"), ("month", "<script>"), ("paid_on", "2026-05-21"),
    ("paid_on", "20260510"), ("method", "bitcoin"), ("member_ids", str(2**63)), ("member_ids", "-1"),
    ("member_ids", "1e3"), ("paid_on", "2026-05-10\x00"),
])
def test_hostile_values_are_refused_and_write_nothing(client, auth, reg, org, app, field, value):
    auth.login("bs")
    data = {"month": "2026-05", "paid_on": "2026-05-10", "method": "cash", "member_ids": [str(reg["a"])], field: value}
    resp = client.post(f"/branches/{org.branch_id}/dues/paid", data=data)
    assert resp.status_code == 422, resp.get_data(as_text=True)[:300]
    assert lines(app) == []


def test_a_member_of_another_branch_ticked_by_hand_is_ignored(client, auth, reg, org, app):
    auth.login("bs")
    resp = paid(client, org, "2026-05", [reg["far"]])
    assert resp.status_code == 303 and lines(app) == []


@pytest.mark.parametrize("amount", ["1e309", "NaN", "-5", "12.345", "100000", "abc", "Infinity"])
def test_hostile_amounts_are_refused(client, auth, reg, org, app, amount):
    auth.login("bs")
    resp = client.post(f"/branches/{org.branch_id}/dues/members/{reg['a']}/lines",
                       data={"month": "2026-04", "kind": "payment", "amount": amount, "paid_on": "2026-04-10",
                             "method": "cash"})
    assert resp.status_code == 422 and lines(app) == []
    resp = client.post(f"/branches/{org.branch_id}/dues/members/{reg['a']}/rate",
                       data={"monthly": amount, "effective_from": "2026-01"})
    assert resp.status_code == 422


def test_closing_q1_writes_j3_for_a_quarter_paid_on_time_and_k2_after_the_reminder_once(client, auth, reg, org, app):
    """The quarter as it happens: each month paid in it and closed on its last day."""
    auth.login("bs")
    a, b, c, d = reg["a"], reg["b"], reg["c"], reg["d"]

    def on(day: date):
        app.config["FIXED_TODAY"] = day

    on(date(2026, 1, 31))
    paid(client, org, "2026-01", [a, b], paid_on="2026-01-15")
    paid(client, org, "2026-01", [c], paid_on="2026-01-05")
    assert close(client, org, "2026-01").status_code == 303  # the reminder for January: d owes it
    assert dues_entries(app) == []
    on(date(2026, 2, 28))
    paid(client, org, "2026-02", [a, b], paid_on="2026-02-10")
    # c: an approved exemption in February counts as paid; d pays nothing.
    client.post(f"/branches/{org.branch_id}/dues/members/{c}/lines",
                data={"month": "2026-02", "kind": "exemption", "note": "支委会 2026-02-03 批准免交"})
    assert close(client, org, "2026-02").status_code == 303  # d still owes January: one K2
    k2 = dues_entries(app, "K2")
    assert [(e.member_id, e.points, e.earned_on) for e in k2] == [(d, Decimal("-2.0"), date(2026, 2, 28))]
    on(date(2026, 3, 31))
    paid(client, org, "2026-03", [a, b], paid_on="2026-03-20")
    paid(client, org, "2026-03", [c], paid_on="2026-03-31")
    # b's March payment turns out to be a mistake: voided; b pays in April, late.
    march_b = next(x for x in lines(app, member_id=b, month=3))
    assert client.post(f"/branches/{org.branch_id}/dues/lines/{march_b.id}/void",
                       data={"reason": "记错人"}).status_code == 303
    assert close(client, org, "2026-03").status_code == 303  # J3 for a and c; K2 for d's February
    on(date(2026, 4, 2))
    paid(client, org, "2026-03", [b], paid_on="2026-04-02")
    j3 = dues_entries(app, "J3")
    assert sorted(e.member_id for e in j3) == sorted([a, c])
    assert {e.earned_on for e in j3} == {date(2026, 3, 31)}
    assert sorted((e.member_id, e.earned_on) for e in dues_entries(app, "K2")) == [
        (d, date(2026, 2, 28)), (d, date(2026, 3, 31))]
    # Every generated entry is the closer's, names its register lines (in Chinese), and is listed in dues_point.
    with app.app_context():
        points = {p.entry_id: p for p in db.session.scalars(select(DuesPoint))}
        bs_id = org.branch_secretary_id
    for e in dues_entries(app):
        assert e.recorded_by_id == bs_id and e.source == "dues" and e.note.startswith("党费登记")
        assert e.id in points
    a_j3 = next(e for e in j3 if e.member_id == a)
    a_lines = [str(x.id) for x in lines(app, member_id=a)]
    assert points[a_j3.id].lines == ",".join(a_lines) and all(i in a_j3.note for i in a_lines)
    # Closing every month again writes nothing twice (b's late March changes nothing: not on time).
    on(date(2026, 5, 20))
    before = len(dues_entries(app))
    for month in ("2026-01", "2026-02", "2026-03"):
        assert close(client, org, month).status_code == 303
    assert len(dues_entries(app)) == before
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(DuesClose)) == 3


def test_a_month_closed_late_reminded_nobody_in_time(client, auth, reg, org, app):
    """Catching up in May on January and February: January's close came after February ended, so no K2."""
    auth.login("bs")
    assert close(client, org, "2026-01").status_code == 303
    resp = close(client, org, "2026-02")
    assert dues_entries(app, "K2") == []
    assert "2026-01 在 2026-02 结束后才结算" in client.get(resp.location).get_data(as_text=True)


def test_no_j3_for_a_quarter_with_a_k2(client, auth, reg, org, app):
    """March owed at the April close (K2), then paid back-dated to March 31: closing March again gives no J3."""
    auth.login("bs")
    a = reg["a"]
    app.config["FIXED_TODAY"] = date(2026, 3, 31)
    paid(client, org, "2026-01", [a], paid_on="2026-01-05")
    paid(client, org, "2026-02", [a], paid_on="2026-02-05")
    close(client, org, "2026-03")
    app.config["FIXED_TODAY"] = date(2026, 4, 30)
    close(client, org, "2026-04")
    assert a in {e.member_id for e in dues_entries(app, "K2")}  # March still owed after its close
    paid(client, org, "2026-03", [a], paid_on="2026-03-31")
    resp = close(client, org, "2026-03")
    assert [e.member_id for e in dues_entries(app, "J3")] == []
    assert "本季度有欠缴党费扣分，不记 J3" in client.get(resp.location).get_data(as_text=True)


def test_a_generated_entry_undone_on_the_roster_is_not_written_again(client, auth, reg, org, app):
    auth.login("bs")
    for month, day in (("2026-01", "2026-01-15"), ("2026-02", "2026-02-10"), ("2026-03", "2026-03-20")):
        paid(client, org, month, [reg["a"]], paid_on=day)
    close(client, org, "2026-03")
    (j3,) = dues_entries(app, "J3")
    resp = client.post(f"/entries/{j3.id}/correct", data={"reason": "支部大会核对后撤销"}, headers={"HX-Request": "true"})
    assert resp.status_code == 200
    close(client, org, "2026-03")
    assert len(dues_entries(app, "J3")) == 1


def test_a_month_not_ended_cannot_be_closed(client, auth, reg, org, app):
    auth.login("bs")
    resp = close(client, org, "2026-05")
    assert resp.status_code == 422 and "2026-05 尚未结束" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(DuesClose)) == 0


def test_an_exemption_needs_its_approval_and_a_void_needs_a_reason_once(client, auth, reg, org, app):
    auth.login("bs")
    url = f"/branches/{org.branch_id}/dues/members/{reg['a']}/lines"
    assert client.post(url, data={"month": "2026-02", "kind": "exemption", "note": ""}).status_code == 422
    assert client.post(url, data={"month": "2026-02", "kind": "payment", "amount": "2", "paid_on": "2026-02-01",
                                  "method": "online"}).status_code == 303
    (line,) = lines(app)
    void = f"/branches/{org.branch_id}/dues/lines/{line.id}/void"
    assert client.post(void, data={"reason": ""}).status_code == 422
    assert client.post(void, data={"reason": "重复登记"}).status_code == 303
    assert client.post(void, data={"reason": "again"}).status_code == 422
    voids = [x for x in lines(app) if x.kind == "void"]
    assert len(voids) == 1 and voids[0].corrects_id == line.id
    page = client.get(f"/branches/{org.branch_id}/dues/members/{reg['a']}").get_data(as_text=True)
    assert "重复登记" in page and "is-voided" in page


def test_nobody_records_their_own_dues(client, auth, org, app):
    with app.app_context():
        own = make_member(org.branch_id, "书记本人", "A")
        other = make_member(org.branch_id, "李娜", "B")
        for m in (own, other):
            db.session.add(DuesRate(member_id=m.id, monthly=Decimal(2), effective_from=date(2026, 1, 1)))
        from qscore.models import User
        db.session.get(User, org.branch_secretary_id).member_id = own.id
        db.session.commit()
        own_id, other_id = own.id, other.id
    auth.login("bs")
    assert paid(client, org, "2026-05", [own_id, other_id]).status_code == 422
    assert lines(app) == []
    assert client.post(f"/branches/{org.branch_id}/dues/members/{own_id}/lines",
                       data={"month": "2026-02", "kind": "payment", "amount": "2", "paid_on": "2026-02-01",
                             "method": "cash"}).status_code == 403
    assert client.post(f"/branches/{org.branch_id}/dues/members/{own_id}/rate",
                       data={"monthly": "5", "effective_from": "2026-01"}).status_code == 403


def test_a_rate_change_takes_effect_from_its_month(client, auth, reg, org, app):
    auth.login("bs")
    assert client.post(f"/branches/{org.branch_id}/dues/members/{reg['a']}/rate",
                       data={"monthly": "5.5", "effective_from": "2026-04", "note": "退休金调整"}).status_code == 303
    paid(client, org, "2026-03", [reg["a"]])
    paid(client, org, "2026-04", [reg["a"]])
    assert [x.amount for x in lines(app, member_id=reg["a"])] == [Decimal("2.00"), Decimal("5.50")]


def test_another_branchs_secretary_sees_and_writes_nothing(client, auth, reg, org, app):
    auth.login("bs2")
    assert client.get(f"/branches/{org.branch_id}/dues").status_code == 404
    assert paid(client, org, "2026-05", [reg["a"]]).status_code == 404
    assert lines(app) == []


def test_a_j3_entered_by_hand_for_the_quarter_is_not_doubled_by_the_close(client, auth, reg, org, app):
    auth.login("bs")
    for month, day in (("2026-01", "2026-01-15"), ("2026-02", "2026-02-10"), ("2026-03", "2026-03-20")):
        paid(client, org, month, [reg["a"], reg["b"]], paid_on=day)
    resp = client.post(f"/branches/{org.branch_id}/members/{reg['a']}/entries",
                       data={"indicator": "J3", "earned_on": "2026-03-05", "note": "一季度党费", "value": ""},
                       headers={"HX-Request": "true"})
    assert resp.status_code == 200
    page = client.get(close(client, org, "2026-03").location).get_data(as_text=True)
    assert [e.member_id for e in dues_entries(app, "J3")] == [reg["b"]]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PointEntry).where(
            PointEntry.member_id == reg["a"], PointEntry.indicator_code == "J3")) == 1
    assert "已有手工录入" in page and "张伟 J3" in page
    # February was not closed: the page says why no K2 could follow.
    assert "2026-02 尚未结算" in page


def test_a_j3_or_k2_typed_by_hand_against_the_register_is_asked_about_first(client, auth, reg, org, app):
    auth.login("bs")
    paid(client, org, "2026-01", [reg["a"]], paid_on="2026-01-05")
    paid(client, org, "2026-02", [reg["a"]], paid_on="2026-02-05")
    hx = {"HX-Request": "true"}
    url = f"/branches/{org.branch_id}/members/{reg['a']}/entries"
    # J3 for Q1 while March is not paid: the register disagrees; the secretary is asked, nothing is written.
    page = client.post(url, data={"indicator": "J3", "earned_on": "2026-03-20", "note": "", "value": ""},
                       headers=hx).get_data(as_text=True)
    assert "党费登记未显示张伟 2026-03 的党费按时足额交纳" in page
    assert dues_entries(app) == [] and not _entries_of(app, reg["a"], "J3")
    # K2 for February, which the register shows paid (and January too).
    page = client.post(url, data={"indicator": "K2", "earned_on": "2026-02-25", "note": "欠缴", "value": ""},
                       headers=hx).get_data(as_text=True)
    assert "党费登记显示张伟 2026-01、2026-02 的党费已交" in page
    assert not _entries_of(app, reg["a"], "K2")
    # Confirmed, it is recorded as typed (the register only asks).
    client.post(url, data={"indicator": "K2", "earned_on": "2026-02-25", "note": "欠缴", "value": "",
                           "confirmed": "y"}, headers=hx)
    assert len(_entries_of(app, reg["a"], "K2")) == 1
    # A member whose dues the register does not keep (no amount set) is not asked about.
    with app.app_context():
        other = make_member(org.branch_id, "赵强", "A").id
        db.session.commit()
    page = client.post(f"/branches/{org.branch_id}/members/{other}/entries",
                       data={"indicator": "J3", "earned_on": "2026-03-20", "note": "", "value": ""},
                       headers=hx).get_data(as_text=True)
    assert "党费登记" not in page and len(_entries_of(app, other, "J3")) == 1


def test_the_grid_warns_of_three_months_in_a_row_and_flags_six_across_the_year(client, auth, org, app):
    with app.app_context():
        a = make_member(org.branch_id, "张伟", "A")
        b = make_member(org.branch_id, "李娜", "A")
        for m in (a, b):
            db.session.add(DuesRate(member_id=m.id, monthly=Decimal(2), effective_from=date(2025, 1, 1)))
        # 李娜 paid everything to September 2025, then nothing: October 2025 to April 2026 owed (7 months).
        for mo in range(1, 10):
            db.session.add(DuesLine(member_id=b.id, branch_id=org.branch_id, year=2025, month=mo, kind="payment",
                                    amount=Decimal(2), paid_on=date(2025, mo, 5), method="cash"))
        # 张伟 paid all of 2025 and January 2026: February to April owed (3 months; May has not ended).
        for y, mo in [(2025, m) for m in range(1, 13)] + [(2026, 1)]:
            db.session.add(DuesLine(member_id=a.id, branch_id=org.branch_id, year=y, month=mo, kind="payment",
                                    amount=Decimal(2), paid_on=date(y, mo, 5), method="cash"))
        db.session.commit()
    auth.login("bs")
    page = client.get(f"/branches/{org.branch_id}/dues").get_data(as_text=True)
    assert "连续 3 个月未交" in page and "连续 7 个月未交，需跟进处置" in page


def _entries_of(app, member_id, code):
    with app.app_context():
        return db.session.scalars(select(PointEntry).where(PointEntry.member_id == member_id,
                                                           PointEntry.indicator_code == code)).all()


def _sheet(rows, header=("编号", "姓名", *(f"{m}月" for m in range(1, 13)))) -> bytes:
    import io

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(list(header))
    for r in rows:
        ws.append(list(r))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _upload(client, org, data: bytes, approval="", year="2026"):
    import io

    return client.post(f"/branches/{org.branch_id}/dues/import",
                       data={"file": (io.BytesIO(data), "党费.xlsx"), "year": year, "approval": approval},
                       content_type="multipart/form-data")


def test_a_years_sheet_imports_all_its_cells_or_none(client, auth, reg, org, app):
    auth.login("bs")
    # The template holds the branch's members, in the grid's order, with their numbers.
    import io

    from openpyxl import load_workbook
    resp = client.get(f"/branches/{org.branch_id}/dues/template.xlsx?year=2026")
    ws = load_workbook(io.BytesIO(resp.data)).worksheets[0]
    names = [r[1] for r in ws.iter_rows(min_row=2, values_only=True) if r[1]]
    assert names == ["李娜", "刘洋", "王秀英", "张伟"]
    good = _sheet([
        (reg["a"], "张伟", date(2026, 1, 5), 2, "√", "1.5"),
        (None, "李娜", "免", "免", None, "2026-04-02"),
    ])
    # One wrong cell anywhere: nothing imported, every wrong cell named.
    bad = _sheet([
        (reg["a"], "张伟", date(2026, 1, 5), "abc", "√"),
        (None, "李娜", "免"),                         # no approval given
        (None, "赵六", "√"),                          # not in the branch
        (reg["far"], "陈静", "√"),                    # another branch's member
        (reg["b"], "王秀英", "√"),                    # number and name disagree
        (reg["c"], "王秀英", None, None, None, None, None, "√"),  # June not ended yet? (May 20): 6月 still to come
        (reg["d"], "刘洋", "交了一半", "2026-06-01"),   # words it cannot read; a day after today
    ])
    resp = _upload(client, org, bad)
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    for text in ("“abc”不是日期、金额、√ 或“免”", "减免需写明批准情况", "本支部没有名为“赵六”的党员", "不是本支部党员的编号",
                 "不是“王秀英”", "这个月还没到", "“交了一半”不是日期", "交纳日期不能晚于今天"):
        assert text in page, text
    assert lines(app) == []
    resp = _upload(client, org, good, approval="支委会 2026-01-03 批准")
    assert resp.status_code == 303
    got = {(x.member_id, x.month): (x.kind, x.amount, x.paid_on) for x in lines(app)}
    assert got == {
        (reg["a"], 1): ("payment", Decimal("2.00"), date(2026, 1, 5)),
        (reg["a"], 2): ("payment", Decimal("2.00"), date(2026, 2, 28)),
        (reg["a"], 3): ("payment", Decimal("2.00"), date(2026, 3, 31)),
        (reg["a"], 4): ("payment", Decimal("1.50"), date(2026, 4, 30)),
        (reg["b"], 1): ("exemption", Decimal("0.00"), date(2026, 1, 31)),
        (reg["b"], 2): ("exemption", Decimal("0.00"), date(2026, 2, 28)),
        (reg["b"], 4): ("payment", Decimal("2.00"), date(2026, 4, 2)),
    }
    # The same sheet again writes nothing: settled months are left alone, and April's 1.5 is the month's total.
    resp = _upload(client, org, good, approval="支委会 2026-01-03 批准")
    assert resp.status_code == 303 and len(lines(app)) == 7
    # A later sheet saying April's total is now 2: only the 0.50 it adds is written.
    _upload(client, org, _sheet([(reg["a"], "张伟", None, None, None, "2")]))
    assert [x.amount for x in lines(app, member_id=reg["a"], month=4)] == [Decimal("1.50"), Decimal("0.50")]


@pytest.mark.parametrize("data", [b"", b"not a workbook", b"PK\x03\x04broken"])
def test_a_file_that_is_not_a_sheet_is_refused_in_chinese(client, auth, reg, org, app, data):
    auth.login("bs")
    resp = _upload(client, org, data)
    assert resp.status_code == 422 and lines(app) == []


def test_a_member_sees_their_own_dues_and_nobody_elses(client, auth, reg, org, app):
    from qscore.models import User
    from qscore.security import hash_password

    from .conftest import TEST_PASSWORD

    with app.app_context():
        db.session.add(User(username="m1", display_name="张伟", password_hash=hash_password(TEST_PASSWORD),
                            role="member", street_id=org.street_id, community_id=org.community_id,
                            branch_id=org.branch_id, member_id=reg["a"]))
        db.session.commit()
    auth.login("bs")
    paid(client, org, "2026-02", [reg["a"]], paid_on="2026-02-03", method="online")
    auth.logout()
    auth.login("m1")
    page = client.get(f"/members/{reg['a']}/dues").get_data(as_text=True)
    assert "2026年党费" in page and "线上交纳" in page and "2026-02-03" in page and "2.00" in page
    assert client.get(f"/members/{reg['b']}/dues").status_code == 404
    assert f'/members/{reg["a"]}/dues' in client.get(f"/members/{reg['a']}").get_data(as_text=True)
    # A member has no register pages of a branch (not in their scope: as if it were not there).
    assert client.get(f"/branches/{org.branch_id}/dues").status_code == 404


def test_a_j3_typed_by_hand_after_the_register_wrote_one_is_asked_about(client, auth, reg, org, app):
    auth.login("bs")
    for month, day in (("2026-01", "2026-01-15"), ("2026-02", "2026-02-10"), ("2026-03", "2026-03-20")):
        paid(client, org, month, [reg["a"]], paid_on=day)
    close(client, org, "2026-03")
    page = client.post(f"/branches/{org.branch_id}/members/{reg['a']}/entries",
                       data={"indicator": "J3", "earned_on": "2026-03-25", "note": "", "value": ""},
                       headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "党费登记结算时已为张伟记过（2026 Q1）" in page
    assert len(_entries_of(app, reg["a"], "J3")) == 1


def test_a_payment_form_sent_twice_records_once(client, auth, reg, org, app):
    auth.login("bs")
    data = {"month": "2026-04", "kind": "payment", "amount": "0.50", "paid_on": "2026-04-10", "method": "cash",
            "idempotency_key": "dues-key-0001"}
    url = f"/branches/{org.branch_id}/dues/members/{reg['a']}/lines"
    assert client.post(url, data=data).status_code == 303
    assert client.post(url, data=data).status_code == 303
    assert len(lines(app)) == 1
    assert client.post(url, data={**data, "idempotency_key": "not a key!"}).status_code == 400


def test_a_quarter_paid_at_once_in_one_save(client, auth, reg, org, app):
    auth.login("bs")
    resp = client.post(f"/branches/{org.branch_id}/dues/paid",
                       data={"month": "2026-04", "through": "2026-06", "paid_on": "2026-04-03", "method": "transfer",
                             "member_ids": [str(reg["a"]), str(reg["b"])]})
    assert resp.status_code == 303
    assert "已登记 2 名党员 2026-04 至 2026-06 的党费" in client.get(resp.location).get_data(as_text=True)
    got = sorted((x.member_id, x.month, x.paid_on) for x in lines(app))
    assert got == sorted((m, mo, date(2026, 4, 3)) for m in (reg["a"], reg["b"]) for mo in (4, 5, 6))
    # Only what is still owed: May already paid for c, so April and June are written for c.
    paid(client, org, "2026-05", [reg["c"]])
    client.post(f"/branches/{org.branch_id}/dues/paid",
                data={"month": "2026-04", "through": "2026-06", "paid_on": "2026-05-10", "method": "cash",
                      "member_ids": [str(reg["c"])]})
    assert sorted(x.month for x in lines(app, member_id=reg["c"])) == [4, 5, 6]
    # A "through" before the month, or in another year, is refused and writes nothing.
    for bad in ("2026-03", "2027-01", "2026-13"):
        resp = client.post(f"/branches/{org.branch_id}/dues/paid",
                           data={"month": "2026-04", "through": bad, "paid_on": "2026-04-03", "method": "cash",
                                 "member_ids": [str(reg["d"])]})
        assert resp.status_code == 422, bad
    assert lines(app, member_id=reg["d"]) == []


def test_early_warnings_and_the_months_flag_read_the_register(client, auth, reg, org, app):
    """Three months ended unpaid on the register warn on the roster, the monthly assessment and the review with
    no K2 in the ledger; a month looked back at counts only what was paid by its end; paying late ends the
    warning from then on."""
    auth.login("bs")
    # January paid by all within the month; 刘洋 (d) pays nothing after; the others pay February to April in time.
    for month in ("2026-01", "2026-02", "2026-03", "2026-04"):
        who = "abcd" if month == "2026-01" else "abc"
        assert paid(client, org, month, [reg[k] for k in who], paid_on=f"{month}-10").status_code == 303
    warning = "预警：连续 3 个月欠缴党费（2026-02 至 2026-04）"
    roster = client.get(f"/branches/{org.branch_id}/roster").get_data(as_text=True)
    assert roster.count(warning) == 1 and not dues_entries(app)
    month = client.get(f"/assessment/branches/{org.branch_id}?month=2026-04").get_data(as_text=True)
    assert warning in month
    row = re.search(r'<tr[^>]*>(?:(?!</tr>).)*刘洋(?:(?!</tr>).)*</tr>', month, re.S).group(0)
    assert "未交党费" in row
    other = re.search(r'<tr[^>]*>(?:(?!</tr>).)*张伟(?:(?!</tr>).)*</tr>', month, re.S).group(0)
    assert "未交党费" not in other  # paid April on the register, though no J3 yet in the quarter
    review = client.get(f"/branches/{org.branch_id}/review/2026").get_data(as_text=True)
    assert "连续 3 个月未交党费（2026-02 至 2026-04）" in review
    # March paid late, on 19 May: the run is broken today, but April's assessment still shows April as it stood.
    assert client.post(f"/branches/{org.branch_id}/dues/members/{reg['d']}/lines", data={
        "month": "2026-03", "kind": "payment", "amount": "2.00", "paid_on": "2026-05-19", "method": "cash",
        "note": "", "idempotency_key": "late-march"}).status_code == 303
    assert warning not in client.get(f"/branches/{org.branch_id}/roster").get_data(as_text=True)
    assert warning in client.get(f"/assessment/branches/{org.branch_id}?month=2026-04").get_data(as_text=True)


def test_before_its_first_amount_the_ledger_still_tells_the_arrears(client, auth, org, app):
    """A member with no monthly amount warns from K2 entries; one whose amount starts in May keeps the K2 of
    February to April (the register says nothing of those months)."""
    from qscore.ledger import record_entry
    from qscore.models import User

    with app.app_context(), app.test_request_context():
        bs = db.session.get(User, org.branch_secretary_id)
        ids = [make_member(org.branch_id, name, "A").id for name in ("周敏", "吴刚")]
        for mid in ids:
            for mo in (2, 3, 4):
                record_entry(member=db.session.get(Member, mid), indicator_code="K2", value=None,
                             earned_on=date(2026, mo, 15), note="欠缴党费", user=bs, today=date(2026, 5, 20))
        db.session.add(DuesRate(member_id=ids[1], monthly=Decimal("3.00"), effective_from=date(2026, 5, 1)))
        db.session.commit()
    auth.login("bs")
    roster = client.get(f"/branches/{org.branch_id}/roster").get_data(as_text=True)
    assert roster.count("预警：连续 3 个月欠缴党费（2026-02 至 2026-04）") == 2
    month = client.get(f"/assessment/branches/{org.branch_id}?month=2026-03").get_data(as_text=True)
    for name in ("周敏", "吴刚"):
        row = re.search(rf'<tr[^>]*>(?:(?!</tr>).)*{name}(?:(?!</tr>).)*</tr>', month, re.S).group(0)
        assert "未交党费" in row, name


def test_the_figures_page_shows_the_registers_collection_rate_with_a_chart(client, auth, reg, org, app):
    auth.login("bs")
    assert paid(client, org, "2026-01", [reg[k] for k in "abcd"]).status_code == 303
    assert paid(client, org, "2026-02", [reg[k] for k in "ab"]).status_code == 303
    auth.logout()
    auth.login("cs")
    page = client.get("/stats?period=2026").get_data(as_text=True)
    section = page[page.index("党费收缴（党费登记）"):]
    section = section[:section.index("</section>")]
    assert "chart-dues" in section
    # January 4 of 4, February 2 of 4, March and April none of 4 (May has not ended: due, unpaid so far).
    q1 = re.search(r"第1季度</th><td class=\"num\">([^<]*)</td><td class=\"num\">(\d+)</td>", section)
    assert q1 and q1.groups() == ("50.0%", "6")
    assert "第3季度" not in section  # not begun


def test_the_grid_and_its_excel_with_a_member_who_owes_nothing(client, auth, reg, org, app):
    """An amount of 0 (a member excused from dues) is a month with nothing due, in the grid and its download."""
    with app.app_context():
        db.session.add(DuesRate(member_id=reg["d"], monthly=Decimal("0.00"), effective_from=date(2026, 3, 1)))
        db.session.commit()
    auth.login("bs")
    assert client.get(f"/branches/{org.branch_id}/dues").status_code == 200
    resp = client.get(f"/branches/{org.branch_id}/dues/export.xlsx")
    assert resp.status_code == 200 and resp.data[:2] == b"PK"
    import io

    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(resp.data)).active
    row = next(r for r in sheet.iter_rows(values_only=True) if r and r[0] == "刘洋")
    assert row[4] == "无需交纳"  # March
