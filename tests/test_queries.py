"""Residents' queries: asking (masked names, validation, throttling, CSRF) and answering (scope, corrections, 409)."""
from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from qscore.db import db
from qscore.ledger import correct_entry, record_entry
from qscore.models import AuditLog, Member, PointEntry, Publication, ResidentQuery, Setting, User
from qscore.board_version import KEY as BOARD_VERSION_KEY
from qscore.publication import retract

from .conftest import FIXED_TODAY, SNAPSHOTS, make_member
from .test_board import page, poll_url, publish_quarter

HX = {"HX-Request": "true"}


@pytest.fixture
def pub(app, org):
    """第一党支部 (王秀英, 王桂英, 张三) with 2026-Q1 published; 和平第一支部 (赵六) published too."""
    return SNAPSHOTS.build(app, (__name__, "pub"), lambda: _build_pub(app, org))


def _build_pub(app, org):
    with app.app_context(), app.test_request_context():
        bs = db.session.get(User, org.branch_secretary_id)
        wang1 = make_member(org.branch_id, "王秀英", "B", booklet_no="QJ-0107", phone="13900001111")
        wang2 = make_member(org.branch_id, "王桂英", "B", booklet_no="QJ-0212")
        zhang = make_member(org.branch_id, "张三", "A", booklet_no="QJ-0003")
        far = make_member(org.other_branch_id, "赵六", "A")
        for m in (wang1, wang2, zhang, far):
            record_entry(member=m, indicator_code="J1", value=None, earned_on=date(2026, 2, 12), note="", user=bs,
                         today=FIXED_TODAY)
        pub_id = publish_quarter(org.branch_id)
        other_id = publish_quarter(org.other_branch_id)
        db.session.commit()
        org.pub_id, org.other_pub_id = pub_id, other_id
        org.wang1, org.wang2, org.zhang, org.far = wang1.id, wang2.id, zhang.id, far.id
    return org


def ask(client, pub_id, **data):
    form = {"member": "王*英(07)", "question": "王*英第一季度的志愿服务是不是少记了？", "asker_name": "",
            "asker_contact": "", **data}
    return client.post(f"/queries/new?pub={pub_id}", data=form)


def count(app, model=ResidentQuery, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def version(app, street_id) -> str:
    with app.app_context():
        return db.session.scalar(select(Setting.value).where(Setting.street_id == street_id,
                                                             Setting.key == BOARD_VERSION_KEY))


def add_query(app, org, pub_id=None, branch_id=None, label="王*英(07)", question="为什么扣分？") -> int:
    with app.app_context():
        q = ResidentQuery(publication_id=pub_id or org.pub_id, branch_id=branch_id or org.branch_id,
                          member_label=label, question=question, ip="10.1.1.1")
        db.session.add(q)
        db.session.commit()
        return q.id


# ---------------------------------------------------------------------------------------------
# Asking
# ---------------------------------------------------------------------------------------------

def test_the_form_offers_only_masked_names_of_the_publication(client, pub):
    client.set_cookie("qscore_lang", "en")
    resp = client.get(f"/queries/new?pub={pub.pub_id}")
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    options = re.findall(r'<option[^>]*value="([^"]*)"', body)
    assert {"王*英(07)", "王*英(12)", "张*"} <= set(options)
    for name in ("王秀英", "王桂英", "张三", "赵六", "13900001111"):
        assert name not in body
    assert "First quarter 2026" in body and "第一党支部" in body


def test_submitting_stores_the_query_and_updates_the_board(app, client, pub):
    url = poll_url(page(client))
    before = version(app, pub.street_id)
    resp = ask(client, pub.pub_id, question="<script>alert(1)</script> 分数不对？", asker_name="李阿姨",
               asker_contact="楼下小卖部")
    assert resp.status_code == 302 and f"/queries/thanks?pub={pub.pub_id}" in resp.headers["Location"]
    with app.app_context():
        q = db.session.scalar(select(ResidentQuery))
        assert (q.member_label, q.branch_id, q.publication_id) == ("王*英(07)", pub.branch_id, pub.pub_id)
        assert q.question == "<script>alert(1)</script> 分数不对？"  # stored as given
        assert (q.asker_name, q.asker_contact, q.ip) == ("李阿姨", "楼下小卖部", "127.0.0.1")
        assert db.session.scalar(select(AuditLog.summary).where(AuditLog.object_type == "residentquery",
                                                                AuditLog.action == "query_received"))
    assert version(app, pub.street_id) != before
    thanks = client.get(resp.headers["Location"])
    assert thanks.status_code == 200
    # the screen learns of it at its next poll
    fragment = client.get(url, headers=HX)
    assert fragment.status_code == 200
    assert 'data-count="received">1<' in fragment.get_data(as_text=True)


def test_a_question_about_the_whole_list(app, client, pub):
    assert ask(client, pub.pub_id, member="-").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(ResidentQuery.member_label)) == ""


@pytest.mark.parametrize(("data", "field"), [
    ({"question": ""}, "question"),
    ({"question": "   "}, "question"),
    ({"question": "问" * 1001}, "question"),
    ({"member": ""}, "member"),
    ({"member": "王秀英"}, "member"),          # a full name is not a choice
    ({"member": "赵*"}, "member"),            # a member of another publication
    ({"asker_name": "名" * 101}, "asker_name"),
    ({"asker_contact": "1" * 101}, "asker_contact"),
])
def test_invalid_queries_are_refused_and_nothing_is_written(app, client, pub, data, field):
    before = version(app, pub.street_id)
    resp = ask(client, pub.pub_id, **data)
    assert resp.status_code == 422
    assert f'id="{field}-errors"' in resp.get_data(as_text=True)
    assert count(app) == 0
    assert version(app, pub.street_id) == before


def test_a_question_of_1000_characters_is_accepted(client, pub):
    assert ask(client, pub.pub_id, question="问" * 1000, asker_name="名" * 100).status_code == 302


def test_unknown_or_retracted_publications_are_404(app, client, pub):
    assert client.get("/queries/new").status_code == 404
    assert client.get("/queries/new?pub=9999").status_code == 404
    assert client.get("/queries/new?pub=abc").status_code == 404
    with app.app_context(), app.test_request_context():
        retract(publication=db.session.get(Publication, pub.pub_id), reason="重新核对",
                user=db.session.get(User, pub.admin_id))
        db.session.commit()
    assert client.get(f"/queries/new?pub={pub.pub_id}").status_code == 404
    assert ask(client, pub.pub_id).status_code == 404
    assert client.get(f"/queries/thanks?pub={pub.pub_id}").status_code == 404
    assert count(app) == 0


def test_throttled_per_address(app, client, pub):
    client.set_cookie("qscore_lang", "en")
    for _ in range(5):
        assert ask(client, pub.pub_id).status_code == 302
    resp = ask(client, pub.pub_id)
    assert resp.status_code == 429
    assert "Too many questions were sent from this address" in resp.get_data(as_text=True)
    assert count(app) == 5
    # another address is not affected
    other = app.test_client()
    assert other.post(f"/queries/new?pub={pub.pub_id}", environ_base={"REMOTE_ADDR": "10.9.9.9"},
                      data={"member": "张*", "question": "请问？"}).status_code == 302


def test_throttle_holds_across_two_app_instances(app, make_app, client, pub):
    second = make_app().test_client()
    for i in range(5):
        assert ask(client if i % 2 else second, pub.pub_id).status_code == 302
    assert ask(second, pub.pub_id).status_code == 429
    assert ask(client, pub.pub_id).status_code == 429
    assert count(app) == 5


def test_the_throttle_limit_is_configurable(make_app, pub):
    c = make_app(QUERIES_PER_HOUR=1).test_client()
    assert ask(c, pub.pub_id).status_code == 302
    assert ask(c, pub.pub_id).status_code == 429


def test_csrf_is_required(make_app, pub):
    app = make_app(WTF_CSRF_ENABLED=True)
    c = app.test_client()
    assert ask(c, pub.pub_id).status_code == 400
    assert count(app) == 0
    form = c.get(f"/queries/new?pub={pub.pub_id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    assert ask(c, pub.pub_id, csrf_token=token).status_code == 302


# ---------------------------------------------------------------------------------------------
# Answering
# ---------------------------------------------------------------------------------------------

def test_secretaries_see_the_queries_of_their_scope(app, client, auth, pub):
    mine = add_query(app, pub, question="本支部的问题")
    theirs = add_query(app, pub, pub.other_pub_id, pub.other_branch_id, "赵*", "和平社区的问题")
    auth.login("bs")
    body = client.get("/queries").get_data(as_text=True)
    assert "本支部的问题" in body and "和平社区的问题" not in body
    assert f'id="query-{mine}"' in body
    assert "王秀英" in body  # the secretary sees who the masked label is
    auth.logout()
    auth.login("cs")
    body = client.get("/queries").get_data(as_text=True)
    assert "本支部的问题" in body and "和平社区的问题" not in body
    auth.logout()
    auth.login("admin")
    body = client.get("/queries").get_data(as_text=True)
    assert "本支部的问题" in body and "和平社区的问题" in body
    auth.logout()
    auth.login("bs2")
    body = client.get("/queries").get_data(as_text=True)
    assert "和平社区的问题" in body and "本支部的问题" not in body
    resp = client.post(f"/queries/{mine}/answer", data={f"q{mine}-answer": "越权"})
    assert resp.status_code == 404
    assert client.post(f"/queries/{theirs}/answer", data={f"q{theirs}-answer": "已核实"}).status_code == 302


def test_queries_list_needs_a_secretary(app, client, auth, pub):
    qid = add_query(app, pub)
    resp = client.get("/queries")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    resp = client.post(f"/queries/{qid}/answer", headers=HX, data={f"q{qid}-answer": "x"})
    assert resp.status_code == 401 and "HX-Redirect" in resp.headers
    with app.app_context(), app.test_request_context():
        pub.user("m1", "member", member_id=pub.wang1)
        db.session.commit()
    auth.login("m1")
    assert client.get("/queries").status_code == 403
    # A member sees no branch's queries: the query is not theirs to see, let alone answer.
    assert client.post(f"/queries/{qid}/answer", data={f"q{qid}-answer": "x"}).status_code == 404


def test_answering_links_a_correction_and_updates_the_board(app, client, auth, pub):
    qid = add_query(app, pub)
    with app.app_context(), app.test_request_context():
        bs = db.session.get(User, pub.branch_secretary_id)
        wang1 = db.session.get(Member, pub.wang1)
        wrong = db.session.scalar(select(PointEntry).where(PointEntry.member_id == wang1.id))
        fix = correct_entry(entry=wrong, reason="群众质询：当天未参加", user=bs, today=FIXED_TODAY).entry
        db.session.commit()
        fix_id = fix.id
    url = poll_url(page(client))
    auth.login("bs")
    listing = client.get("/queries").get_data(as_text=True)
    assert f'<option value="{fix_id}">' in listing
    resp = client.post(f"/queries/{qid}/answer", headers=HX,
                       data={f"q{qid}-answer": "经核实，已更正。", f"q{qid}-correction": str(fix_id)})
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert f'id="query-{qid}"' in body and "经核实，已更正。" in body
    assert 'hx-swap-oob="true"' in body and "群众质询：当天未参加" in body
    with app.app_context():
        q = db.session.get(ResidentQuery, qid)
        assert q.answer == "经核实，已更正。" and q.correction_entry_id == fix_id
        assert q.answered_by_id == pub.branch_secretary_id and q.answered_at is not None
        assert db.session.scalar(select(AuditLog.action).where(AuditLog.object_id == qid,
                                                               AuditLog.action == "query_answered"))
    fragment = client.get(url, headers=HX).get_data(as_text=True)
    assert 'data-count="answered">1<' in fragment


def test_a_plain_entry_or_another_branchs_correction_cannot_be_linked(app, client, auth, pub):
    qid = add_query(app, pub)
    with app.app_context(), app.test_request_context():
        bs2 = db.session.get(User, pub.other_secretary_id)
        bs = db.session.get(User, pub.branch_secretary_id)
        plain = record_entry(member=db.session.get(Member, pub.zhang), indicator_code="Z3", value="2",
                             earned_on=date(2026, 5, 3), note="义务巡逻", user=bs, today=FIXED_TODAY).entry
        far_entry = db.session.scalar(select(PointEntry).where(PointEntry.member_id == pub.far))
        far_fix = correct_entry(entry=far_entry, reason="误录", user=bs2, today=FIXED_TODAY).entry
        db.session.commit()
        ids = (plain.id, far_fix.id, 9999)
    auth.login("admin")
    for entry_id in ids:
        resp = client.post(f"/queries/{qid}/answer", headers=HX,
                           data={f"q{qid}-answer": "已核实", f"q{qid}-correction": str(entry_id)})
        assert resp.status_code == 422
        assert f'id="q{qid}-correction-errors"' in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(ResidentQuery, qid).answered_at is None


def test_an_adjustment_may_be_linked(app, client, auth, pub):
    with app.app_context(), app.test_request_context():
        bs = db.session.get(User, pub.branch_secretary_id)
        adj = record_entry(member=db.session.get(Member, pub.zhang), indicator_code="Z4", value=None,
                           earned_on=date(2026, 3, 20), note="补记：防汛值守", user=bs, today=FIXED_TODAY).entry
        db.session.commit()
        adj_id = adj.id
    qid = add_query(app, pub, label="张*")
    auth.login("bs")
    resp = client.post(f"/queries/{qid}/answer", data={f"q{qid}-answer": "已补记。", f"q{qid}-correction": str(adj_id)})
    assert resp.status_code == 302
    with app.app_context():
        assert db.session.get(ResidentQuery, qid).correction_entry_id == adj_id


def test_answer_validation_is_422_next_to_the_field(app, client, auth, pub):
    qid = add_query(app, pub)
    auth.login("bs")
    for text in ("", "答" * 2001):
        resp = client.post(f"/queries/{qid}/answer", headers=HX, data={f"q{qid}-answer": text})
        assert resp.status_code == 422
        assert f'id="q{qid}-answer-errors"' in resp.get_data(as_text=True)
    resp = client.post(f"/queries/{qid}/answer", data={f"q{qid}-answer": ""})
    assert resp.status_code == 422 and "<html" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(ResidentQuery, qid).answered_at is None


def test_answering_twice_is_409(app, client, auth, pub):
    qid = add_query(app, pub)
    auth.login("bs")
    assert client.post(f"/queries/{qid}/answer", data={f"q{qid}-answer": "第一次"}).status_code == 302
    assert client.post(f"/queries/{qid}/answer", data={f"q{qid}-answer": "第二次"}).status_code == 409
    resp = client.post(f"/queries/{qid}/answer", headers=HX, data={f"q{qid}-answer": "第三次"})
    assert resp.status_code == 409 and resp.headers["HX-Refresh"] == "true"
    with app.app_context():
        assert db.session.get(ResidentQuery, qid).answer == "第一次"
    body = client.get("/queries").get_data(as_text=True)
    assert "第一次" in body and "第二次" not in body


# ---------------------------------------------------------------------------------------------
# Hostile input: each field of each form in turn, and the pages' query parameters
# ---------------------------------------------------------------------------------------------

CONTROL = "含有看不见的控制字符，请重新输入。"
TEXT_ATTACKS = [("名\x00字", CONTROL), ("名\x01\x1f字", CONTROL), ("名\u202e字\u2066", CONTROL), ("\ufeff名", CONTROL),
                ("长" * 100_000, "最多 ")]


def written(app) -> tuple:
    with app.app_context():
        answered = tuple(db.session.execute(select(ResidentQuery.id, ResidentQuery.answer,
                                                   ResidentQuery.correction_entry_id)).all())
        return (answered, *(db.session.scalar(select(func.count()).select_from(m)) for m in (ResidentQuery, AuditLog)))


@pytest.mark.parametrize(("field", "value", "message"), [
    *[(f, v, m) for f in ("question", "asker_name", "asker_contact") for v, m in TEXT_ATTACKS],
    ("question", " \n ", "请填写您的问题"),
    *[("member", v, "不是有效的选择") for v in ("王*英(07)\x00", "长" * 100_000, "王秀英")],
])
def test_hostile_input_to_a_residents_query_is_refused_in_chinese(app, client, pub, field, value, message):
    before = written(app)
    resp = ask(client, pub.pub_id, **{field: value})
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    assert written(app) == before
    assert ask(client, pub.pub_id, asker_name="王先生", asker_contact="13800001111").status_code == 302


@pytest.mark.parametrize(("field", "value", "message"), [
    *[("answer", v, m) for v, m in TEXT_ATTACKS], ("answer", "\n", "请填写答复"),
    *[("correction", v, "不是列表中的选项") for v in ("9" * 40, "9" * 5_000, "-5", "1e309", "名\x00", str(2**31))],
])
@pytest.mark.parametrize("headers", [HX, {}])
def test_hostile_input_to_an_answer_is_refused_in_chinese(app, client, auth, pub, field, value, message, headers):
    qid = add_query(app, pub)
    auth.login("bs")
    before = written(app)
    data = {f"q{qid}-answer": "经核实无误。", f"q{qid}-correction": "", f"q{qid}-{field}": value}
    resp = client.post(f"/queries/{qid}/answer", headers=headers, data=data)
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    assert written(app) == before


@pytest.mark.parametrize("value", ["名\x00", "长" * 5_000, "9" * 40, "-1", "0", "1e309", "NaN", "%00", str(2**31)])
def test_hostile_publication_of_the_query_page_is_404_never_500(app, client, auth, pub, value):
    from urllib.parse import quote

    for page in ("/queries/new", "/queries/thanks"):
        assert client.get(f"{page}?pub={quote(value)}").status_code == 404
        assert client.post(f"{page}?pub={quote(value)}", data={"question": "?"}).status_code in (404, 405)
    auth.login("bs")
    assert client.get(f"/queries?page={quote(value)}&pub={quote(value)}").status_code == 200


# ---------------------------------------------------------------------------------------------
# Keep little, say what is kept: the sender's address (docs/privacy.md, "Residents' questions")
# ---------------------------------------------------------------------------------------------

def _text(html: str) -> str:
    return re.sub(r"\s+", "", re.sub(r"<[^>]+>", " ", html))


def test_the_form_says_it_keeps_the_senders_address_why_and_how_long(make_app, client, pub):
    page = _text(client.get(f"/queries/new?pub={pub.pub_id}").get_data(as_text=True))
    assert "提交时会记录您的网络地址（IP地址），仅用于防止大量重复提交，30天后自动删除。" in page
    assert page.index("30天后自动删除") < page.index("提交质询")  # beside the button, before it
    week = make_app(QUERY_ADDRESS_DAYS=7).test_client()
    assert "7天后自动删除" in _text(week.get(f"/queries/new?pub={pub.pub_id}").get_data(as_text=True))


def _aged_query(app, pub, days: int, ip: str) -> int:
    from datetime import timedelta

    from qscore.models._common import utcnow

    with app.app_context():
        q = ResidentQuery(publication_id=pub.pub_id, branch_id=pub.branch_id, member_label="张*", question="？",
                          ip=ip, created_at=utcnow() - timedelta(days=days))
        db.session.add(q)
        db.session.commit()
        return q.id


def _ip(app, qid: int) -> str:
    with app.app_context():
        return db.session.get(ResidentQuery, qid).ip


def test_addresses_older_than_the_setting_are_blanked_when_a_question_arrives(app, client, pub):
    old = _aged_query(app, pub, 31, "10.0.0.1")
    recent = _aged_query(app, pub, 29, "10.0.0.2")
    assert ask(client, pub.pub_id).status_code == 302
    assert (_ip(app, old), _ip(app, recent)) == ("", "10.0.0.2")
    with app.app_context():
        new = db.session.scalar(select(ResidentQuery).order_by(ResidentQuery.id.desc()))
        assert new.ip == "127.0.0.1" and new.question  # the question, name and contact stay
        # The append-only audit log never holds the sender's address: it could not be blanked there.
        assert db.session.scalar(select(AuditLog.ip).where(AuditLog.action == "query_received")) == ""


def test_answering_blanks_old_addresses_too(app, client, auth, pub):
    old = _aged_query(app, pub, 40, "10.0.0.3")
    auth.login("bs")
    resp = client.post(f"/queries/{old}/answer", data={f"q{old}-answer": "已核实。", f"q{old}-correction": ""})
    assert resp.status_code == 302
    assert _ip(app, old) == ""


def test_the_hourly_limit_still_works_with_the_shortest_setting(make_app, pub):
    client = make_app(QUERY_ADDRESS_DAYS=0, QUERIES_PER_HOUR=1).test_client()  # 0 is taken as 1 day
    assert ask(client, pub.pub_id).status_code == 302
    assert ask(client, pub.pub_id).status_code == 429
