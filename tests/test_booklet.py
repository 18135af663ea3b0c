"""The member's points booklet: who may read it, what it shows, self-records and their confirmation."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from qscore.db import db
from qscore.ledger import correct_entry, record_entry
from qscore.models import AuditLog, Member, PointEntry, Publication, SelfRecord, User
from qscore.scheme_versions import scheme_for_year
from qscore.scoring import score_members
from qscore.security import hash_password

from .conftest import FIXED_TODAY, SNAPSHOTS, TEST_PASSWORD, make_member

HX = {"HX-Request": "true"}


def add_account(org, username: str, member_id: int, role: str = "member", branch_id: int | None = None) -> User:
    u = User(username=username, display_name=username, password_hash=hash_password(TEST_PASSWORD), role=role,
             street_id=org.street_id, community_id=org.community_id, branch_id=branch_id or org.branch_id,
             member_id=member_id)
    db.session.add(u)
    db.session.flush()
    return u


@pytest.fixture
def bk(app, org):
    """张三 (m1) with three entries, one of them corrected; 李四 (m2) in the same branch; 王五 in another community."""
    return SNAPSHOTS.build(app, (__name__, "bk"), lambda: _build_bk(app, org))


def _build_bk(app, org):
    with app.app_context(), app.test_request_context():
        bs = db.session.get(User, org.branch_secretary_id)
        bs.display_name = "赵书记"
        m = make_member(org.branch_id, "张三", "B", phone="13800000000", address="幸福路 1 号", booklet_no="QJ-0001")
        m2 = make_member(org.branch_id, "李四", "B")
        far = make_member(org.other_branch_id, "王五", "A")
        add_account(org, "m1", m.id)
        add_account(org, "m2", m2.id)
        j1 = record_entry(member=m, indicator_code="J1", value=None, earned_on=date(2026, 3, 10), note="",
                          user=bs, today=FIXED_TODAY).entry
        z3 = record_entry(member=m, indicator_code="Z3", value="3", earned_on=date(2026, 4, 5), note="清扫楼道",
                          user=bs, today=FIXED_TODAY).entry
        wrong = record_entry(member=m, indicator_code="Z4", value="5", earned_on=date(2026, 5, 2), note="防汛值守",
                             user=bs, today=FIXED_TODAY).entry
        fix = correct_entry(entry=wrong, reason="重复录入，当天未值守", user=bs, today=FIXED_TODAY).entry
        db.session.commit()
        return SimpleNamespace(member=m.id, other=m2.id, far=far.id, j1=j1.id, z3=z3.id, wrong=wrong.id, fix=fix.id)


def add_self_record(member_id: int, code: str = "J5", earned_on: date = date(2026, 5, 8), quantity=None,
                    note: str = "整理了学习笔记") -> int:
    sr = SelfRecord(member_id=member_id, indicator_code=code, earned_on=earned_on, note=note,
                    quantity=Decimal(quantity) if quantity is not None else None)
    db.session.add(sr)
    db.session.commit()
    return sr.id


def year_score(app, member_id: int) -> Decimal:
    with app.app_context():
        m = db.session.get(Member, member_id)
        return score_members(db.session, scheme_for_year(2026), 2026, FIXED_TODAY, [m])[m.id].score


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


# ---------------------------------------------------------------------------------------------
# Reading the booklet
# ---------------------------------------------------------------------------------------------

def test_member_reads_own_booklet_with_recorders_and_corrections(client, auth, bk):
    client.set_cookie("qscore_lang", "en")
    auth.login("m1")
    resp = client.get(f"/members/{bk.member}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "张三" in html and "QJ-0001" in html
    assert "赵书记" in html                                    # who recorded the entries
    assert "Attend theme party day" in html                   # indicator names from the scheme
    assert "3 h" in html                                      # Z3 hours
    # the corrected entry is struck through, its correction right beside it with the reason
    row = html.index(f'id="entry-{bk.wrong}"')
    correction = html.index(f'id="entry-{bk.wrong}-correction"')
    assert row < correction < html.index("重复录入，当天未值守") < html.index('id="month-4"')
    assert 'class="is-corrected"' in html[row - 40:row + 60]
    assert "<del>+5</del>" in html
    # every month from January to the current one, the latest first
    assert [html.index(f'id="month-{m}"') for m in (5, 4, 3, 2, 1)] == sorted(
        html.index(f'id="month-{m}"') for m in (5, 4, 3, 2, 1))
    assert 'id="month-6"' not in html
    # private fields never appear in the booklet
    assert "13800000000" not in html and "幸福路" not in html


@pytest.mark.parametrize(("lang", "hours", "source"), [("zh_CN", "3 小时", "支部录入"), ("en", "3 h", "Entered by the branch")])
def test_each_entry_says_who_recorded_it_how_and_when_in_street_time(client, auth, bk, app, lang, hours, source):
    from zoneinfo import ZoneInfo

    with app.app_context():
        when = {e.id: e.recorded_at.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo("Asia/Shanghai"))
                .strftime("%Y-%m-%d %H:%M") for e in db.session.scalars(select(PointEntry))}
    client.set_cookie("qscore_lang", lang)
    auth.login("m1")
    html = client.get(f"/members/{bk.member}").get_data(as_text=True)
    z3 = html[html.index(f'id="entry-{bk.z3}"'):].split("</tr>", 1)[0]
    assert f'<td class="num">{hours}</td>' in z3 and '<span class="pos">+1.5</span>' in z3
    assert f'<td class="who">赵书记<span class="who-meta">{source} · {when[bk.z3]}</span></td>' in z3
    fix = html[html.index(f'id="entry-{bk.wrong}-correction"'):].split("</tr>", 1)[0]
    assert '<td class="num pts neg">-5</td>' in fix and "重复录入，当天未值守" in fix
    assert f'<td class="who">赵书记<span class="who-meta">{when[bk.fix]}</span></td>' in fix


def test_booklet_shows_capped_year_score(client, auth, bk, app):
    auth.login("m1")
    html = client.get(f"/members/{bk.member}").get_data(as_text=True)
    # type B: base 55; J1 +1, Z3 3 h = +1.5; the corrected Z4 counts nothing
    assert year_score(app, bk.member) == Decimal("57.5")
    assert '<div class="stat-value">57.5</div>' in html


def test_month_figures_show_their_sign_and_zero_in_the_month_head_and_the_summary(client, auth, bk, app):
    with app.app_context(), app.test_request_context():
        record_entry(member=db.session.get(Member, bk.member), indicator_code="K1", value=None,
                     earned_on=date(2026, 2, 12), note="无故缺席主题党日",
                     user=db.session.get(User, db.session.scalar(select(User.id).where(User.username == "bs"))),
                     today=FIXED_TODAY)
        db.session.commit()
    auth.login("m1")
    html = client.get(f"/members/{bk.member}").get_data(as_text=True)
    february = html[html.index('id="month-2"'):html.index('id="month-1"')]
    assert '<dd><span class="neg">-2</span></dd>' in february                      # K, and the month total
    assert '<div class="fig-total"><dt>当月合计</dt><dd><span class="neg">-2</span></dd></div>' in february
    assert '<dd><span class="zero">0</span></dd>' in february                      # no J or Z in February
    march = html[html.index('id="month-3"'):html.index('id="month-2"')]
    assert '<div class="fig-total"><dt>当月合计</dt><dd><span class="">+1</span></dd></div>' in march
    summary = html[html.index('class="table booklet-summary"'):html.index("</table>", html.index("booklet-summary"))]
    assert ('<td class="num"><span class="zero">0</span></td>\n            <td class="num"><span class="zero">0</span></td>\n'
            '            <td class="num"><span class="neg">-2</span></td>\n'
            '            <td class="num strong"><span class="neg">-2</span></td>') in summary       # February's row
    assert '<td class="num"><span class="neg">-2</span></td>\n            <td class="num muted small">' in summary  # the year's K


def test_mine_redirects_to_own_booklet(client, auth, bk):
    auth.login("m1")
    resp = client.get("/booklet")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/members/{bk.member}")


def test_mine_is_404_without_member_record(client, auth, bk):
    auth.login("admin")
    assert client.get("/booklet").status_code == 404


def test_booklet_needs_login(client, bk):
    resp = client.get(f"/members/{bk.member}")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


@pytest.mark.parametrize(("username", "target", "status"), [
    ("m2", "member", 404),      # another member
    ("m1", "other", 404),
    ("bs", "member", 200),      # branch secretary of the branch
    ("bs2", "member", 404),     # branch secretary of another community
    ("cs", "member", 200),      # community secretary of the community
    ("cs", "far", 404),         # ... but not of another community
    ("bs2", "far", 200),
    ("admin", "member", 200),
    ("admin", "far", 200),
])
def test_who_may_read_a_booklet(client, auth, bk, username, target, status):
    auth.login(username)
    member_id = getattr(bk, target)
    assert client.get(f"/members/{member_id}").status_code == status
    assert client.get(f"/members/{member_id}/print").status_code == status


def test_unknown_member_and_year(client, auth, bk):
    auth.login("admin")
    assert client.get("/members/99999").status_code == 404
    assert client.get(f"/members/{bk.member}?year=1999").status_code == 404
    assert client.get(f"/members/{bk.member}?year=abc").status_code == 404


def test_past_year_shows_all_twelve_months(client, auth, bk):
    auth.login("m1")
    html = client.get(f"/members/{bk.member}?year=2025").get_data(as_text=True)
    assert all(f'id="month-{m}"' in html for m in range(1, 13))
    assert "赵书记" not in html  # no 2025 entries


def test_htmx_gets_the_fragment(client, auth, bk):
    auth.login("m1")
    resp = client.get(f"/members/{bk.member}", headers=HX)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "<html" not in html and 'id="booklet"' in html
    assert "HX-Request" in resp.headers["Vary"]
    assert "HX-Request" in client.get(f"/members/{bk.member}").headers["Vary"]


def test_print_view_is_an_a4_booklet_page(client, auth, bk):
    client.set_cookie("qscore_lang", "en")  # the print view is Chinese whatever the UI language
    auth.login("m1")
    resp = client.get(f"/members/{bk.member}/print")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "党员积分手册" in html and 'lang="zh-CN"' in html
    assert "张三" in html and "第一党支部" in html and "离退休党员" in html
    assert "mainnav" not in html and "<script" not in html
    assert "13800000000" not in html
    assert "重复录入，当天未值守" in html and "<del>+5</del>" in html
    static = client.get("/static/booklet.css")
    css = static.get_data(as_text=True)
    static.close()
    assert "@page { size: A4; margin: 15mm; }" in css


def test_prior_period_adjustment_is_flagged(client, auth, bk, app, org):
    with app.app_context(), app.test_request_context():
        pub = Publication(branch_id=org.branch_id, year=2026, quarter=1, supervision_ends_on=date(2026, 4, 10),
                          snapshot="[]", sha256="0" * 64)
        db.session.add(pub)
        db.session.flush()
        m = db.session.get(Member, bk.member)
        record_entry(member=m, indicator_code="J2", value=None, earned_on=date(2026, 2, 3), note="补记：会议签到表遗漏",
                     user=db.session.get(User, org.branch_secretary_id), today=FIXED_TODAY)
        db.session.commit()
    client.set_cookie("qscore_lang", "en")
    auth.login("m1")
    html = client.get(f"/members/{bk.member}").get_data(as_text=True)
    assert "after publication of 2026-Q1" in html


# ---------------------------------------------------------------------------------------------
# Self-records
# ---------------------------------------------------------------------------------------------

GOOD = {"indicator": "J5", "earned_on": "2026-05-08", "hours": "", "note": "整理了本月学习笔记"}


def test_member_self_records_an_item(client, auth, bk, app):
    auth.login("m1")
    resp = client.post(f"/members/{bk.member}/self-records", data=GOOD, headers=HX)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "<html" not in html and 'id="self-records"' in html
    assert "整理了本月学习笔记" in html
    with app.app_context():
        sr = db.session.scalar(select(SelfRecord))
        m1 = db.session.scalar(select(User).where(User.username == "m1"))
        assert (sr.member_id, sr.indicator_code, sr.earned_on, sr.status, sr.origin, sr.created_by_id) == (
            bk.member, "J5", date(2026, 5, 8), "pending", "member", m1.id)
        assert db.session.scalar(select(AuditLog).where(AuditLog.action == "self_record_added")).member_id == bk.member
    # pending items do not count yet, and show in the booklet
    assert year_score(app, bk.member) == Decimal("57.5")
    page = client.get(f"/members/{bk.member}").get_data(as_text=True)
    assert f'id="self-record-{sr.id}"' in page


def test_volunteer_hours_are_kept(client, auth, bk, app):
    auth.login("m1")
    data = dict(GOOD, indicator="Z3", hours="2.5", note="社区义诊志愿服务")
    assert client.post(f"/members/{bk.member}/self-records", data=data, headers=HX).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(SelfRecord.quantity)) == Decimal("2.5")


def test_full_page_self_record_redirects(client, auth, bk):
    auth.login("m1")
    resp = client.post(f"/members/{bk.member}/self-records", data=GOOD)
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith(f"/members/{bk.member}")


@pytest.mark.parametrize(("changes", "field"), [
    ({"indicator": "K1"}, "indicator"),                   # deductions are not self-recorded
    ({"indicator": "V"}, "indicator"),                    # nor a veto
    ({"indicator": "NOPE"}, "indicator"),
    ({"earned_on": "2026-05-21"}, "earned_on"),           # in the future
    ({"earned_on": "2019-12-31"}, "earned_on"),           # before the roll / a closed year
    ({"earned_on": "not a date"}, "earned_on"),
    ({"note": "   "}, "note"),                            # a note is required
    ({"note": "长" * 501}, "note"),
    ({"indicator": "Z3", "hours": ""}, "hours"),          # hours are required for Z3
    ({"indicator": "Z3", "hours": "0"}, "hours"),
    ({"indicator": "Z3", "hours": "1.25"}, "hours"),
    ({"hours": "2"}, "hours"),                            # ... and only for hour indicators
])
def test_invalid_self_record_is_422_and_writes_nothing(client, auth, bk, app, changes, field):
    auth.login("m1")
    resp = client.post(f"/members/{bk.member}/self-records", data=dict(GOOD, **changes), headers=HX)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "<html" not in html
    assert f'id="{field}-errors"' in html
    assert count(app, SelfRecord) == 0
    assert count(app, AuditLog, AuditLog.action == "self_record_added") == 0


def test_invalid_full_page_self_record_renders_the_booklet(client, auth, bk, app):
    auth.login("m1")
    resp = client.post(f"/members/{bk.member}/self-records", data=dict(GOOD, note=""))
    assert resp.status_code == 422
    assert "<html" in resp.get_data(as_text=True)
    assert count(app, SelfRecord) == 0


def test_self_record_before_roll_is_refused(client, auth, app, org):
    with app.app_context(), app.test_request_context():
        m = make_member(org.branch_id, "新党员", "C", on_roll_since=date(2026, 4, 1))
        add_account(org, "newbie", m.id)
        db.session.commit()
        member_id = m.id
    auth.login("newbie")
    resp = client.post(f"/members/{member_id}/self-records", data=dict(GOOD, earned_on="2026-03-31"), headers=HX)
    assert resp.status_code == 422
    assert count(app, SelfRecord) == 0


def test_secretary_cannot_self_record_for_someone_else(client, auth, bk, app):
    auth.login("bs")
    assert client.post(f"/members/{bk.member}/self-records", data=GOOD, headers=HX).status_code == 403
    auth.logout()
    auth.login("m2")
    assert client.post(f"/members/{bk.member}/self-records", data=GOOD, headers=HX).status_code == 404
    assert count(app, SelfRecord) == 0


def test_secretary_sees_pending_with_controls_member_without(client, auth, bk, app):
    with app.app_context():
        sr = add_self_record(bk.member)
    auth.login("m1")
    own = client.get(f"/members/{bk.member}").get_data(as_text=True)
    assert f'id="self-record-{sr}"' in own and f"/self-records/{sr}/confirm" not in own
    auth.logout()
    auth.login("bs")
    html = client.get(f"/members/{bk.member}").get_data(as_text=True)
    assert f"/self-records/{sr}/confirm" in html and f"/self-records/{sr}/reject" in html
    assert 'id="self-records"' not in html  # no self-record form for someone else


# ---------------------------------------------------------------------------------------------
# Confirming and rejecting
# ---------------------------------------------------------------------------------------------

def test_secretary_confirms_a_self_record(client, auth, bk, app, org):
    with app.app_context():
        sr = add_self_record(bk.member)
    before = year_score(app, bk.member)
    auth.login("bs")
    resp = client.post(f"/self-records/{sr}/confirm", headers=HX)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "<html" not in html and html.lstrip().startswith("<li") and f'id="self-record-{sr}"' in html
    assert "HX-Request" in resp.headers["Vary"]
    with app.app_context():
        entry = db.session.scalar(select(PointEntry).where(PointEntry.self_record_id == sr))
        assert (entry.source, entry.member_id, entry.indicator_code, entry.earned_on, entry.recorded_by_id) == (
            "self_record", bk.member, "J5", date(2026, 5, 8), org.branch_secretary_id)
        assert entry.note == "整理了学习笔记"
        record = db.session.get(SelfRecord, sr)
        assert (record.status, record.decided_by_id) == ("confirmed", org.branch_secretary_id)
        assert record.decided_at is not None
        assert db.session.scalar(select(AuditLog).where(AuditLog.action == "self_record_confirmed"))
    assert year_score(app, bk.member) == before + 1


def test_confirm_from_the_booklet_updates_its_months(client, auth, bk, app):
    with app.app_context():
        sr = add_self_record(bk.member)
    auth.login("bs")
    headers = dict(HX, **{"HX-Current-URL": f"http://localhost/members/{bk.member}"})
    html = client.post(f"/self-records/{sr}/confirm", headers=headers).get_data(as_text=True)
    assert 'id="booklet-months" class="booklet-months" hx-swap-oob="true"' in html
    assert 'id="booklet-figures"' in html and "积分手册自记、学习笔记" in html
    # from elsewhere (the roster), only the item
    other = add_self_record_in(app, bk.member, date(2026, 5, 9))
    html = client.post(f"/self-records/{other}/confirm", headers=HX).get_data(as_text=True)
    assert "hx-swap-oob" not in html


def add_self_record_in(app, member_id, earned_on):
    with app.app_context():
        return add_self_record(member_id, "J6", earned_on, note="亮身份")


def test_full_page_confirm_redirects_to_the_booklet(client, auth, bk, app):
    with app.app_context():
        sr = add_self_record(bk.member)
    auth.login("cs")
    resp = client.post(f"/self-records/{sr}/confirm")
    assert resp.status_code == 303
    assert f"/members/{bk.member}" in resp.headers["Location"]


def test_confirm_with_points_option(client, auth, bk, app):
    with app.app_context():
        sr = add_self_record(bk.member, "Z7", note="获街道级好人好事表彰")
    auth.login("bs")
    assert client.post(f"/self-records/{sr}/confirm", data={"points": "3"}, headers=HX).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(PointEntry.points).where(PointEntry.self_record_id == sr)) == Decimal("3")


def test_confirm_in_a_published_quarter_needs_a_reason(client, auth, bk, app, org):
    with app.app_context():
        db.session.add(Publication(branch_id=org.branch_id, year=2026, quarter=1,
                                   supervision_ends_on=date(2026, 4, 10), snapshot="[]", sha256="0" * 64))
        db.session.commit()
        sr = add_self_record(bk.member, earned_on=date(2026, 3, 20))
    client.set_cookie("qscore_lang", "en")
    auth.login("bs")
    page = client.get(f"/members/{bk.member}").get_data(as_text=True)
    assert f'id="self-record-{sr}-reason"' in page  # the reason field is offered up front
    resp = client.post(f"/self-records/{sr}/confirm", headers=HX)
    assert resp.status_code == 422
    assert "2026-Q1 is already published" in resp.get_data(as_text=True)
    assert count(app, PointEntry, PointEntry.self_record_id == sr) == 0
    with app.app_context():
        assert db.session.get(SelfRecord, sr).status == "pending"
    resp = client.post(f"/self-records/{sr}/confirm", data={"reason": "季度核对时本人外出，补记"}, headers=HX)
    assert resp.status_code == 200
    with app.app_context():
        entry = db.session.scalar(select(PointEntry).where(PointEntry.self_record_id == sr))
        assert entry.adjusts_publication_id is not None
        assert "季度核对时本人外出，补记" in entry.note


def test_confirm_refused_by_the_ledger_writes_nothing(client, auth, bk, app):
    with app.app_context():
        sr = add_self_record(bk.member, earned_on=date(2026, 5, 30))  # stored earlier, now in the future
    auth.login("bs")
    resp = client.post(f"/self-records/{sr}/confirm", headers=HX)
    assert resp.status_code == 422
    assert 'role="alert"' in resp.get_data(as_text=True)
    assert count(app, PointEntry, PointEntry.self_record_id == sr) == 0
    with app.app_context():
        assert db.session.get(SelfRecord, sr).status == "pending"


def test_reject_needs_a_reason_and_the_member_sees_it(client, auth, bk, app, org):
    with app.app_context():
        sr = add_self_record(bk.member)
    auth.login("bs")
    resp = client.post(f"/self-records/{sr}/reject", data={"reason": "  "}, headers=HX)
    assert resp.status_code == 422
    assert f'id="self-record-{sr}-reject-errors"' in resp.get_data(as_text=True)
    resp = client.post(f"/self-records/{sr}/reject", data={"reason": "长" * 501}, headers=HX)
    assert resp.status_code == 422
    with app.app_context():
        assert db.session.get(SelfRecord, sr).status == "pending"
    resp = client.post(f"/self-records/{sr}/reject", data={"reason": "本季度学习笔记未交支部查看"}, headers=HX)
    assert resp.status_code == 200
    with app.app_context():
        record = db.session.get(SelfRecord, sr)
        assert (record.status, record.reject_reason, record.decided_by_id) == (
            "rejected", "本季度学习笔记未交支部查看", org.branch_secretary_id)
        assert db.session.scalar(select(AuditLog).where(AuditLog.action == "self_record_rejected"))
    assert count(app, PointEntry, PointEntry.self_record_id == sr) == 0
    auth.logout()
    auth.login("m1")
    html = client.get(f"/members/{bk.member}").get_data(as_text=True)
    assert "本季度学习笔记未交支部查看" in html and f'id="rejected-{sr}"' in html


@pytest.mark.parametrize(("first", "second"), [("confirm", "confirm"), ("confirm", "reject"),
                                               ("reject", "confirm"), ("reject", "reject")])
def test_a_decided_self_record_cannot_be_decided_again(client, auth, bk, app, first, second):
    with app.app_context():
        sr = add_self_record(bk.member)
    auth.login("bs")
    assert client.post(f"/self-records/{sr}/{first}", data={"reason": "不符"}, headers=HX).status_code == 200
    assert client.post(f"/self-records/{sr}/{second}", data={"reason": "不符"}, headers=HX).status_code == 409
    assert count(app, PointEntry, PointEntry.self_record_id == sr) == (1 if first == "confirm" else 0)


def test_secretary_cannot_confirm_own_self_record(client, auth, app, org):
    with app.app_context(), app.test_request_context():
        own = make_member(org.branch_id, "赵书记", "A")
        db.session.get(User, org.branch_secretary_id).member_id = own.id
        db.session.commit()
        own_id = own.id
        sr = add_self_record(own_id)
    auth.login("bs")
    for action in ("confirm", "reject"):
        assert client.post(f"/self-records/{sr}/{action}", data={"reason": "x"}, headers=HX).status_code == 403
    # ... but may self-record on their own booklet, which shows the form and no controls
    html = client.get(f"/members/{own_id}").get_data(as_text=True)
    assert 'id="self-records"' in html and f"/self-records/{sr}/confirm" not in html
    assert client.post(f"/members/{own_id}/self-records", data=GOOD, headers=HX).status_code == 200


def test_members_cannot_decide(client, auth, bk, app):
    with app.app_context():
        sr = add_self_record(bk.member)
    auth.login("m1")  # their own record: in scope, no right
    assert client.post(f"/self-records/{sr}/confirm", headers=HX).status_code == 403
    assert client.post(f"/self-records/{sr}/reject", data={"reason": "x"}, headers=HX).status_code == 403
    auth.logout()
    auth.login("m2")  # someone else's: out of scope
    assert client.post(f"/self-records/{sr}/confirm", headers=HX).status_code == 404
    auth.logout()
    auth.login("bs2")  # a secretary of another community
    assert client.post(f"/self-records/{sr}/confirm", headers=HX).status_code == 404
    assert client.post("/self-records/99999/confirm", headers=HX).status_code == 404
    with app.app_context():
        assert db.session.get(SelfRecord, sr).status == "pending"


def test_a_secretary_undoes_an_entry_from_the_booklet(app, client, auth, org, bk):
    auth.login("bs")
    page = client.get(f"/members/{bk.member}").get_data(as_text=True)
    row = page[page.index(f'id="entry-{bk.j1}"'):]
    row = row[:row.index("</tr>")]
    assert f"/entries/{bk.j1}/correct?on=booklet" in row  # a live entry has its undo button
    corrected = page[page.index(f'id="entry-{bk.wrong}"'):]
    assert "/correct?on=booklet" not in corrected[:corrected.index("</tr>")]  # a corrected one has none
    form = client.get(f"/entries/{bk.j1}/correct?on=booklet", headers=HX)
    assert form.status_code == 200 and f'<tr id="entry-{bk.j1}"' in form.get_data(as_text=True)
    key = "undo-00000001"
    # Without a reason: the form again, in the entry's row, and nothing written.
    resp = client.post(f"/entries/{bk.j1}/correct?on=booklet", data={"reason": "", "idempotency_key": key}, headers=HX)
    assert resp.status_code == 422 and resp.headers["HX-Retarget"] == f"#entry-{bk.j1}"
    resp = client.post(f"/entries/{bk.j1}/correct?on=booklet", data={"reason": "记错了日期", "idempotency_key": key},
                       headers=HX)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and body.lstrip().startswith('<div id="booklet-months"') and "记错了日期" in body
    assert 'id="booklet-figures"' in body or 'hx-swap-oob="true"' in body  # the figures follow
    with app.app_context():
        fix = db.session.scalar(select(PointEntry).where(PointEntry.corrects_id == bk.j1))
        assert fix is not None and fix.note == "记错了日期" and fix.recorded_by_id == org.branch_secretary_id
    # The same form again changes nothing and answers with the booklet as it is.
    again = client.post(f"/entries/{bk.j1}/correct?on=booklet", data={"reason": "记错了日期", "idempotency_key": key},
                        headers=HX)
    assert again.status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PointEntry).where(PointEntry.corrects_id == bk.j1)) == 1


def test_the_member_and_other_branches_see_no_undo_on_the_booklet(app, client, auth, org, bk):
    auth.login("m1")
    assert "/correct?on=booklet" not in client.get(f"/members/{bk.member}").get_data(as_text=True)
    assert client.post(f"/entries/{bk.j1}/correct?on=booklet", data={"reason": "x"}, headers=HX).status_code == 403
    auth.logout()
    auth.login("bs2")
    assert client.get(f"/entries/{bk.j1}/correct?on=booklet", headers=HX).status_code == 404


def test_every_undoable_entry_is_listed_on_the_roster_not_only_the_newest(app, client, auth, org):
    with app.app_context(), app.test_request_context():
        bs = db.session.get(User, org.branch_secretary_id)
        m = make_member(org.branch_id, "赵六", "B")
        ids = [record_entry(member=m, indicator_code="J5", value=None, earned_on=date(2026, 1 + i % 5, 1 + i),
                            note="学习", user=bs, today=FIXED_TODAY).entry.id for i in range(20)]
        db.session.commit()
        mid = m.id
    auth.login("bs")
    body = client.get(f"/branches/{org.branch_id}/members/{mid}/entries", headers=HX).get_data(as_text=True)
    assert all(f"/entries/{i}/correct" in body for i in ids)


# ---------------------------------------------------------------------------------------------
# Hostile input: each field of each form in turn, and the pages' query parameters
# ---------------------------------------------------------------------------------------------

CONTROL = "含有看不见的控制字符，请重新输入。"
TEXT_ATTACKS = [("名\x00字", CONTROL), ("名\x01\x1f字", CONTROL), ("名\u202e字\u2066", CONTROL), ("长" * 100_000, "最多 500")]
DATE_ATTACKS = [("99999-01-01", "请填写日期。"), ("2026-02-30", "请填写日期。"), ("1e309", "请填写日期。"),
                ("名\x00", "请填写日期。"), ("1999-12-31", "2100")]
POINTS_ATTACKS = [("9" * 40, "请输入数字"), ("1e309", "之间，最多一位小数"), ("NaN", "请输入数字"), ("-1e309", "之间"),
                  ("2.55", "最多一位小数"), ("名\x00", "请输入数字")]


def written(app) -> tuple[int, ...]:
    return tuple(count(app, m) for m in (SelfRecord, PointEntry, AuditLog))


def refused(app, resp, message: str, before: tuple[int, ...]) -> None:
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422, (resp.status_code, body[:300])
    assert message in body
    assert written(app) == before


@pytest.mark.parametrize(("field", "value", "message"), [
    *[("note", v, m) for v, m in TEXT_ATTACKS],
    *[("earned_on", v, m) for v, m in DATE_ATTACKS],
    *[("hours", v, m.replace("之间", "0.1 到 999.9 之间")) for v, m in POINTS_ATTACKS if "之间" in m],
    *[("hours", v, m) for v, m in POINTS_ATTACKS if "之间" not in m],
    *[("indicator", v, "请从列表中选择") for v in ("Z3\x00", "长" * 100_000, "9" * 40)],
])
@pytest.mark.parametrize("headers", [HX, {}])
def test_hostile_input_to_a_self_record_is_refused_in_chinese(client, auth, bk, app, field, value, message, headers):
    auth.login("m1")
    before = written(app)
    data = {"indicator": "Z3", "earned_on": "2026-05-08", "hours": "2", "note": "清扫楼道", field: value}
    refused(app, client.post(f"/members/{bk.member}/self-records", data=data, headers=headers), message, before)


def test_the_self_record_as_filled_in_above_is_recorded(client, auth, bk, app):
    auth.login("m1")
    data = {"indicator": "Z3", "earned_on": "2026-05-08", "hours": "2", "note": "清扫楼道"}
    assert client.post(f"/members/{bk.member}/self-records", data=data, headers=HX).status_code == 200
    assert count(app, SelfRecord) == 1


@pytest.mark.parametrize(("field", "value", "message"), [
    *[("reason", v, m) for v, m in TEXT_ATTACKS],
    *[("points", v, m) for v, m in POINTS_ATTACKS],
])
@pytest.mark.parametrize("headers", [HX, {}])
def test_hostile_input_to_a_confirmation_is_refused_in_chinese(client, auth, bk, app, field, value, message,
                                                               headers):
    with app.app_context():
        sr = add_self_record(bk.member, code="Z7", note="获区级表彰")  # an item the branch values: 1, 3, 5 or 8
    auth.login("bs")
    before = written(app)
    data = {"reason": "核实无误", "points": "3", field: value}
    refused(app, client.post(f"/self-records/{sr}/confirm", data=data, headers=headers), message, before)
    with app.app_context():
        assert db.session.get(SelfRecord, sr).status == "pending"
    assert client.post(f"/self-records/{sr}/confirm", data={"reason": "核实无误", "points": "3"},
                       headers=HX).status_code == 200


@pytest.mark.parametrize(("value", "message"), [*TEXT_ATTACKS, ("", "请向党员说明理由")])
def test_hostile_reason_for_a_rejection_is_refused_in_chinese(client, auth, bk, app, value, message):
    with app.app_context():
        sr = add_self_record(bk.member)
    auth.login("bs")
    before = written(app)
    refused(app, client.post(f"/self-records/{sr}/reject", data={"reason": value}, headers=HX), message, before)
    with app.app_context():
        assert db.session.get(SelfRecord, sr).status == "pending"


@pytest.mark.parametrize("value", ["名\x00", "长" * 5_000, "9" * 40, "9" * 5_000, "-1", "1e309", "NaN", "%00",
                                   "2026\x00"])
def test_hostile_year_of_a_booklet_is_404_never_500(client, auth, bk, app, value):
    from urllib.parse import quote

    auth.login("bs")
    for page in (f"/members/{bk.member}", f"/members/{bk.member}/print"):
        assert client.get(f"{page}?year={quote(value)}").status_code == 404
        assert client.get(f"{page}?page={quote(value)}").status_code == 200
    # A decision from the booklet swaps the booklet's figures of the year its address names.
    with app.app_context():
        sr = add_self_record(bk.member)
    resp = client.post(f"/self-records/{sr}/confirm", headers={
        **HX, "HX-Current-URL": f"http://localhost/members/{bk.member}?year={quote(value)}"})
    assert resp.status_code == 200
