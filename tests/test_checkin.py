"""Sign-in at the door: a secretary opens a meeting, members sign in on phones (logged in, or with the screen's
code and their name) or on the tablet, and the close hands the sign-ins to the meeting form, one save."""
from __future__ import annotations

import re
import time
from datetime import datetime

import pytest
from sqlalchemy import func, select

from qscore import checkin as service
from qscore.db import db
from qscore.models import AuditLog, Checkin, CheckinMeeting, LoginAttempt, Meeting, PointEntry
from qscore.street_settings import set_setting

from .conftest import SNAPSHOTS, make_member

# Tests run on 2026-05-20 (conftest.FIXED_TODAY); the clock of the day is pinned per test with FIXED_NOW.
MORNING = datetime(2026, 5, 20, 9, 30)


@pytest.fixture
def people(app, org):
    """Three members of the branch, one of the re-employment branch (may attend any branch), one far away."""
    return SNAPSHOTS.build(app, (__name__, "people"), lambda: _build(app, org))


def _build(app, org):
    with app.app_context():
        ids = {k: make_member(org.branch_id, name, t).id
               for k, name, t in (("a", "张伟", "A"), ("b", "李娜", "B"), ("c", "王秀英", "C"))}
        ids["guest"] = make_member(org.sibling_branch_id, "赵敏", "C").id
        ids["far"] = make_member(org.other_branch_id, "陈静", "B").id
        db.session.commit()
    return ids


def open_meeting(client, org, **fields):
    data = {"held_on": "2026-05-20", "kind": "org_life", "indicator": "J1", "topic": "五月主题党日",
            "opens": "09:00", "closes": "11:30", **fields}
    return client.post(f"/branches/{org.branch_id}/checkin", data=data)


@pytest.fixture
def opened(app, client, auth, org, people):
    app.config["FIXED_NOW"] = MORNING
    auth.login("bs")
    resp = open_meeting(client, org)
    assert resp.status_code == 303
    with app.app_context():
        cm = db.session.scalars(select(CheckinMeeting)).one()
        db.session.expunge(cm)
    auth.logout()
    return cm


def code_of(app, cm) -> str:
    with app.app_context():
        return service.code_now(db.session.get(CheckinMeeting, cm.id))[0]


def wrong_code(app, cm) -> str:
    """A code that is neither the screen's now nor the one before it."""
    with app.app_context():
        m = db.session.get(CheckinMeeting, cm.id)
        taken = {service.code_now(m)[0], service.code_now(m, time.time() - service.CODE_SECONDS)[0]}
    return next(f"{i:04d}" for i in range(10000) if f"{i:04d}" not in taken)


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_secretary_opens_a_meeting_and_the_screen_shows_its_qr_code_and_code(app, client, auth, org, opened):
    auth.login("bs")
    page = client.get(f"/branches/{org.branch_id}/checkin/{opened.id}/screen").get_data(as_text=True)
    assert "五月主题党日" in page and "扫码签到" in page
    assert 'class="checkin-qr-code"' in page and f"/checkin/{opened.token}" in page
    code = code_of(app, opened)
    assert re.search(rf'<p class="checkin-code"[^>]*>{code}</p>', page)
    assert re.search(r'<span class="checkin-count-n">0</span> / 3', page)
    manage = client.get(f"/branches/{org.branch_id}/checkin/{opened.id}").get_data(as_text=True)
    assert "结束签到并记录会议" in manage and "还没有人签到" in manage
    # Another branch's secretary sees nothing of it.
    auth.logout()
    auth.login("bs2")
    for path in ("", "/screen"):
        assert client.get(f"/branches/{org.branch_id}/checkin/{opened.id}{path}").status_code == 404
        assert client.get(f"/branches/{org.other_branch_id}/checkin/{opened.id}{path}").status_code == 404


def test_a_member_signs_in_with_the_code_and_their_name_and_twice_is_harmless(app, client, org, opened, people):
    url = f"/checkin/{opened.token}"
    page = client.get(url).get_data(as_text=True)
    assert "五月主题党日" in page and "屏幕上的签到码" in page
    code = code_of(app, opened)
    # Full-width digits of a Chinese keyboard, and a space in the name, as phones type them.
    typed = code.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    resp = client.post(url, data={"code": typed, "name": "张 伟"})
    assert resp.status_code == 200 and "已签到：张伟" in resp.get_data(as_text=True)
    again = client.post(url, data={"code": code, "name": "张伟"})
    assert again.status_code == 200 and "张伟已经签过到" in again.get_data(as_text=True)
    assert count(app, Checkin) == 1
    assert count(app, AuditLog, AuditLog.action == "checkin_signed") == 1


def test_wrong_codes_and_unknown_names_are_refused_and_write_nothing(app, client, org, opened, people):
    url = f"/checkin/{opened.token}"
    code = code_of(app, opened)
    resp = client.post(url, data={"code": wrong_code(app, opened), "name": "张伟"})
    assert resp.status_code == 422 and "不是屏幕上的签到码" in resp.get_data(as_text=True)
    for name, said in (("张三", "没有可参加本次会议的党员叫这个名字"), ("陈静", "没有可参加本次会议的党员叫这个名字"),
                       ("", "请输入您的姓名")):
        resp = client.post(url, data={"code": code, "name": name})
        assert resp.status_code == 422 and said in resp.get_data(as_text=True), name
    for hostile in ("张\x00伟", "张伟\u202e", "=HYPERLINK(1)", "x" * 500):
        assert client.post(url, data={"code": code, "name": hostile}).status_code == 422
    for hostile in ("", "12345", "1e3", "١٢٣٤", "\x07\x07\x07\x07", "9" * 100):
        assert client.post(url, data={"code": hostile, "name": "张伟"}).status_code in (422, 429)
    assert count(app, Checkin) == 0
    # The wrong codes were counted against the address, like failed passwords.
    assert count(app, LoginAttempt, LoginAttempt.kind == "checkin", LoginAttempt.success.is_(False)) >= 1


def test_two_members_of_one_name_are_sent_to_the_tablet(app, client, org, opened, people):
    with app.app_context():
        make_member(org.branch_id, "张伟", "B")
        db.session.commit()
    resp = client.post(f"/checkin/{opened.token}", data={"code": code_of(app, opened), "name": "张伟"})
    assert resp.status_code == 422 and "有几位党员同名" in resp.get_data(as_text=True)
    assert count(app, Checkin) == 0


def test_a_member_of_a_flexible_branch_signs_in_as_a_guest(app, client, org, opened, people):
    resp = client.post(f"/checkin/{opened.token}", data={"code": code_of(app, opened), "name": "赵敏"})
    assert resp.status_code == 200 and "已签到：赵敏" in resp.get_data(as_text=True)


def test_guessing_the_code_is_slowed_down(app, client, org, opened, people):
    url = f"/checkin/{opened.token}"
    code = code_of(app, opened)
    wrong = [f"{(int(code) + i) % 10000:04d}" for i in range(1, 30)]
    statuses = [client.post(url, data={"code": w, "name": "张伟"}).status_code for w in wrong[:12]]
    assert statuses[0] == 422 and statuses[-1] == 429
    resp = client.post(url, data={"code": code, "name": "张伟"})  # even the right code waits its turn
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    assert count(app, Checkin) == 0


def test_a_logged_in_member_signs_in_with_one_tap(app, client, auth, org, opened, people):
    with app.app_context():
        org.user("zhangwei", "member", member_id=people["a"])
        db.session.commit()
    auth.login("zhangwei")
    page = client.get(f"/checkin/{opened.token}").get_data(as_text=True)
    assert "以张伟的身份签到" in page
    resp = client.post(f"/checkin/{opened.token}", data={"way": "account"})
    assert resp.status_code == 200 and "已签到：张伟" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(Checkin.way)).all() == ["account"]
    assert "张伟已经签过到" in client.get(f"/checkin/{opened.token}").get_data(as_text=True)


def test_sign_in_only_while_the_meeting_is_open(app, client, auth, org, opened, people):
    url = f"/checkin/{opened.token}"
    code = code_of(app, opened)
    app.config["FIXED_NOW"] = datetime(2026, 5, 20, 8, 59)
    resp = client.post(url, data={"code": code, "name": "张伟"})
    assert resp.status_code == 409 and "09:00 开始签到" in resp.get_data(as_text=True)
    app.config["FIXED_NOW"] = datetime(2026, 5, 20, 11, 30)
    assert "签到已结束" in client.post(url, data={"code": code, "name": "张伟"}).get_data(as_text=True)
    app.config["FIXED_NOW"] = MORNING
    auth.login("bs")
    assert client.post(f"/branches/{org.branch_id}/checkin/{opened.id}/close").status_code == 303
    auth.logout()
    assert "签到已结束" in client.post(url, data={"code": code, "name": "张伟"}).get_data(as_text=True)
    assert count(app, Checkin) == 0


def test_the_streets_networks_keep_out_phones_from_elsewhere(app, client, org, opened, people):
    with app.app_context():
        set_setting(org.street_id, "checkin_networks", ["10.20.0.0/16"])
        db.session.commit()
    url = f"/checkin/{opened.token}"
    data = {"code": code_of(app, opened), "name": "张伟"}
    resp = client.post(url, data=data)  # the test client comes from 127.0.0.1
    assert resp.status_code == 403 and "只能在街道自己的网络" in resp.get_data(as_text=True)
    assert count(app, AuditLog, AuditLog.action == "checkin_refused") == 1
    resp = client.post(url, data=data, environ_base={"REMOTE_ADDR": "10.20.3.4"})
    assert resp.status_code == 200
    assert count(app, Checkin) == 1


def test_the_administrator_sets_the_networks_and_nonsense_is_refused(app, client, auth, org):
    from qscore.street_settings import all_settings

    auth.login("admin")
    form = client.get("/admin/settings").get_data(as_text=True)
    assert "可用手机签到的网络" in form
    base = {"board_rotation_seconds": "20", "supervision_days": "5", "timezone": "Asia/Shanghai",
            "deduction_confirm_points": "5", "flexible_branch_kinds": "reemployment", "mask_names": "y"}
    bad = client.post("/admin/settings", data={**base, "checkin_networks": "10.0.0.300/8"})
    assert bad.status_code == 422 and "10.0.0.300/8" in bad.get_data(as_text=True)
    ok = client.post("/admin/settings", data={**base, "checkin_networks": "192.168.10.0/24，10.20.1.7"})
    assert ok.status_code == 303
    with app.app_context():
        assert all_settings(org.street_id)["checkin_networks"] == ["192.168.10.0/24", "10.20.1.7/32"]


def test_the_tablet_lists_the_branch_by_pinyin_and_a_tap_signs_in(app, client, auth, org, opened, people):
    """The tablet at the door needs no login: its own address shows the names and takes taps, nothing else."""
    page = client.get(f"/checkin/tablet/{opened.tablet_token}").get_data(as_text=True)
    letters = re.findall(r'<h2 class="checkin-letter"[^>]*>(\w)</h2>', page)
    assert letters == ["L", "W", "Z"]  # 李娜, 王秀英, 张伟
    assert "赵敏" not in page and "陈静" not in page and 'class="mainnav"' not in page
    tap = f"/checkin/tablet/{opened.tablet_token}/{people['b']}"
    resp = client.post(tap, headers={"HX-Request": "true"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "已签到" in body and "<html" not in body
    assert client.post(tap, headers={"HX-Request": "true"}).status_code == 200
    assert count(app, Checkin) == 1
    # The phone's address is not the tablet's; only members of this branch, and ids that exist.
    assert client.get(f"/checkin/tablet/{opened.token}").status_code == 404
    assert client.post(f"/checkin/tablet/{opened.token}/{people['a']}").status_code == 404
    for mid in (people["far"], people["guest"], 2 ** 63, 999999):
        assert client.post(f"/checkin/tablet/{opened.tablet_token}/{mid}").status_code == 404
    with app.app_context():
        assert db.session.scalars(select(Checkin.way)).all() == ["tablet"]
    # A member who left the roll is told so; after the close a tap is refused on the button itself.
    with app.app_context():
        from qscore.models import Member
        db.session.get(Member, people["c"]).status = "transferred_out"
        db.session.commit()
    left = client.post(f"/checkin/tablet/{opened.tablet_token}/{people['c']}", headers={"HX-Request": "true"})
    assert left.status_code == 422 and "王秀英 已不在党员名册中" in left.get_data(as_text=True)
    auth.login("bs")
    client.post(f"/branches/{org.branch_id}/checkin/{opened.id}/close")
    late = client.post(f"/checkin/tablet/{opened.tablet_token}/{people['a']}", headers={"HX-Request": "true"})
    assert late.status_code == 422 and "本次会议签到已结束" in late.get_data(as_text=True)
    assert 'disabled' in client.get(f"/checkin/tablet/{opened.tablet_token}").get_data(as_text=True)
    assert count(app, Checkin) == 1


def test_closing_hands_the_sign_ins_to_the_meeting_form_and_one_save_writes_the_entries(app, client, auth, org,
                                                                                         opened, people):
    url = f"/checkin/{opened.token}"
    for name in ("张伟", "李娜", "赵敏"):
        assert client.post(url, data={"code": code_of(app, opened), "name": name}).status_code == 200
    auth.login("bs")
    resp = client.post(f"/branches/{org.branch_id}/checkin/{opened.id}/close")
    assert resp.status_code == 303 and f"checkin={opened.id}" in resp.headers["Location"]
    form = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "来自会议签到：已签到 3 人" in form  # two of the branch, one guest
    for mid in (people["a"], people["b"]):
        assert re.search(rf'name="status-{mid}" value="attended" checked', form)
    assert not re.search(rf'name="status-{people["c"]}" value="attended" checked', form)
    assert "赵敏" in form  # the guest's chip
    key = re.search(r'name="idempotency_key"[^>]*value="([^"]+)"', form).group(1)
    # A form changed by hand to another day and kind still records what the members signed in to.
    assert 'type="hidden" name="held_on" value="2026-05-20"' in form
    data = {"held_on": "2026-05-10", "kind": "study", "indicator": "J2", "topic": "五月主题党日",
            "idempotency_key": key, "checkin": str(opened.id), "guest_ids": [str(people["guest"])],
            f"status-{people['a']}": "attended", f"status-{people['b']}": "attended",
            f"status-{people['c']}": "absent"}
    saved = client.post(f"/branches/{org.branch_id}/meetings/new", data=data)
    assert saved.status_code == 302
    with app.app_context():
        cm = db.session.get(CheckinMeeting, opened.id)
        assert cm.meeting_id is not None and cm.closed_at is not None
        meeting = db.session.get(Meeting, cm.meeting_id)
        assert (meeting.held_on.isoformat(), meeting.kind, meeting.indicator_code) == ("2026-05-20", "org_life", "J1")
        entries = db.session.scalars(select(PointEntry).where(PointEntry.meeting_id == cm.meeting_id)).all()
        assert sorted((e.member_id, e.indicator_code) for e in entries) == sorted(
            [(people["a"], "J1"), (people["b"], "J1"), (people["guest"], "J1"), (people["c"], "K1")])
    # The same form again writes nothing; the form from the sign-in no longer opens.
    again = client.post(f"/branches/{org.branch_id}/meetings/new", data=data)
    assert again.status_code == 302 and count(app, Meeting) == 1
    assert count(app, PointEntry) == 4
    reopen = client.get(f"/branches/{org.branch_id}/meetings/new?checkin={opened.id}")
    assert reopen.status_code == 303
    assert "会议已经记录" in client.get(reopen.headers["Location"]).get_data(as_text=True)


def test_hostile_values_on_every_sign_in_form(app, client, auth, org, people):
    app.config["FIXED_NOW"] = MORNING
    auth.login("bs")
    for fields, said in (({"opens": "25:99"}, "请输入时间"), ({"closes": "08:00"}, "结束时间必须晚于开始时间"),
                         ({"held_on": "2026-05-19"}, "请选择今天或以后的日期"), ({"topic": "主题\x1b[31m"}, None),
                         ({"topic": ""}, None), ({"indicator": "K1"}, None), ({"kind": "party"}, None),
                         ({"held_on": "2026-13-40"}, None), ({"opens": "9:00:00\x00"}, None),
                         ({"held_on": "2027-12-31"}, None)):
        resp = open_meeting(client, org, **fields)
        assert resp.status_code == 422, fields
        if said:
            assert said in resp.get_data(as_text=True), fields
    assert count(app, CheckinMeeting) == 0
    for path in (f"/branches/{org.branch_id}/checkin/{2 ** 63}", f"/branches/{org.branch_id}/checkin/{2 ** 31}/screen",
                 "/checkin/" + "A" * 40, "/checkin/%00", "/checkin/..%2f", f"/branches/{org.branch_id}/meetings/new"
                 f"?checkin={2 ** 63}"):
        assert client.get(path).status_code in (200, 404), path  # a bad ?checkin= is a plain new form


def test_the_screens_code_changes_and_the_one_before_still_works(app, org, opened):
    with app.app_context():
        cm = db.session.get(CheckinMeeting, opened.id)
        now = time.time()
        step = service.CODE_SECONDS
        code, left = service.code_now(cm, now)
        assert len(code) == 4 and code.isdigit() and 0 < left <= step
        later, _ = service.code_now(cm, now + step)
        assert service.code_fits(cm, code, now) and service.code_fits(cm, code, now + step)
        assert not service.code_fits(cm, code, now + 2 * step) or code == service.code_now(cm, now + 2 * step)[0]
        assert service.code_fits(cm, later, now + step)


def test_names_on_the_roll_with_spaces_or_dots_sign_in_as_typed_on_a_phone(app, client, org, opened):
    with app.app_context():
        make_member(org.branch_id, "阿依古丽 买买提", "A")
        make_member(org.branch_id, "热依拉·艾力", "B")
        db.session.commit()
    url = f"/checkin/{opened.token}"
    for typed, name in (("阿依古丽买买提", "阿依古丽 买买提"), ("热依拉•艾力", "热依拉·艾力")):
        resp = client.post(url, data={"code": code_of(app, opened), "name": typed})
        assert resp.status_code == 200 and f"已签到：{name}" in resp.get_data(as_text=True), typed
    assert count(app, Checkin) == 2


def test_opening_refuses_hours_over_and_a_double_click_opens_one(app, client, auth, org, people):
    app.config["FIXED_NOW"] = MORNING  # 09:30
    auth.login("bs")
    resp = open_meeting(client, org, opens="06:00", closes="07:00")
    assert resp.status_code == 422 and "现在已经是 09:30" in resp.get_data(as_text=True)
    assert open_meeting(client, org).status_code == 303 and open_meeting(client, org).status_code == 303
    assert count(app, CheckinMeeting) == 1
    # Tomorrow's meeting says the day it opens.
    assert open_meeting(client, org, held_on="2026-05-21", topic="明天的会").status_code == 303
    with app.app_context():
        token = db.session.scalar(select(CheckinMeeting.token).where(CheckinMeeting.topic == "明天的会"))
    auth.logout()
    assert "2026-05-21 09:00 开始签到" in client.get(f"/checkin/{token}").get_data(as_text=True)


def test_the_form_waits_for_the_sign_in_to_end(app, client, auth, org, opened):
    auth.login("bs")
    resp = client.get(f"/branches/{org.branch_id}/meetings/new?checkin={opened.id}")
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/checkin/{opened.id}")
    assert "请先结束签到" in client.get(resp.headers["Location"]).get_data(as_text=True)


def test_an_ipv4_phone_on_a_dual_stack_server_is_on_the_streets_network(app, client, org, opened, people):
    with app.app_context():
        set_setting(org.street_id, "checkin_networks", ["10.20.0.0/16"])
        db.session.commit()
    resp = client.post(f"/checkin/{opened.token}", data={"code": code_of(app, opened), "name": "张伟"},
                       environ_base={"REMOTE_ADDR": "::ffff:10.20.3.4"})
    assert resp.status_code == 200
