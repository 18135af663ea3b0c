"""Reconciliation and publication: conditions, the immutable snapshot, adjustments, retraction."""
from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import func, select

from qscore.audit import AppendOnlyError
from qscore.db import db
from qscore.models import AuditLog, Publication, Reconciliation, SelfRecord
from qscore.publication import canonical_json, sha256_of

from .conftest import make_member

HX = {"HX-Request": "true"}
Q1 = "/branches/{b}/quarters/2026/1"


@pytest.fixture
def members(app, org):
    with app.app_context():
        ids = [make_member(org.branch_id, n, t, phone="13900001111").id
               for n, t in (("张伟", "A"), ("李娜", "B"), ("王秀英", "D"))]
        make_member(org.branch_id, "新来的", "A", on_roll_since=date(2026, 4, 1))  # not on the roll at Q1's end
        db.session.commit()
    return ids


def add(client, org, mid, earned_on, **data):
    return client.post(f"/branches/{org.branch_id}/members/{mid}/entries", headers=HX,
                       data={"indicator": "J1", "earned_on": earned_on, "note": "", "value": "", **data})


def reconcile_all(client, org, members, quarter=1):
    for mid in members:
        resp = client.post(f"/branches/{org.branch_id}/quarters/2026/{quarter}/members/{mid}/reconcile",
                           data={"status": "agrees"}, headers=HX)
        assert resp.status_code == 200


def publish(client, org, quarter=1, **data):
    form = {"meeting_on": "2026-04-10" if quarter == 1 else "2026-07-05", "present": "3", "total": "3",
            "chair": "张书记", **data}
    return client.post(f"/branches/{org.branch_id}/quarters/2026/{quarter}/publish", data=form)


def publications(app) -> list[Publication]:
    with app.app_context():
        rows = db.session.scalars(select(Publication).order_by(Publication.id)).all()
        db.session.expunge_all()
        return rows


def test_reconciliation_page_lists_members_on_the_roll_at_quarter_end(client, auth, org, members):
    auth.login("bs")
    add(client, org, members[0], "2026-02-12")
    page = client.get(Q1.format(b=org.branch_id)).get_data(as_text=True)
    assert "张伟" in page and "王秀英" in page and "新来的" not in page
    assert f'id="recon-{members[0]}-row"' in page


def test_publishing_needs_every_condition(app, client, auth, org, members):
    client.set_cookie("qscore_lang", "en")
    auth.login("bs")
    resp = publish(client, org)
    assert resp.status_code == 422 and "3 members are not yet reconciled" in resp.get_data(as_text=True)
    reconcile_all(client, org, members[:2])
    client.post(f"/branches/{org.branch_id}/quarters/2026/1/members/{members[2]}/reconcile",
                data={"status": "deferred"}, headers=HX)
    with app.app_context():
        db.session.add(SelfRecord(member_id=members[0], indicator_code="J5", earned_on=date(2026, 3, 1), note="笔记"))
        db.session.commit()
    resp = publish(client, org)
    assert resp.status_code == 422 and "1 self-recorded items are still pending" in resp.get_data(as_text=True)
    with app.app_context():
        db.session.scalar(select(SelfRecord)).status = "rejected"
        db.session.commit()
    assert publish(client, org, meeting_on="").status_code == 422
    assert publish(client, org, present="5", total="3").status_code == 422
    assert publish(client, org, meeting_on="2026-03-30").status_code == 422  # before the quarter ended
    assert publications(app) == []
    assert publish(client, org).status_code == 302
    [pub] = publications(app)
    assert (pub.year, pub.quarter, pub.members_present, pub.chair) == (2026, 1, 3, "张书记")
    assert pub.supervision_ends_on == date(2026, 5, 25)  # published 2026-05-20 + 5 days


def test_quarter_not_ended_cannot_be_published(app, client, auth, org, members):
    client.set_cookie("qscore_lang", "en")
    auth.login("bs")
    reconcile_all(client, org, members, quarter=2)
    resp = publish(client, org, quarter=2, meeting_on="2026-05-19")
    assert resp.status_code == 422 and "has not ended yet" in resp.get_data(as_text=True)


def test_snapshot_is_the_canonical_json_and_its_hash_reproducible(app, client, auth, org, members):
    auth.login("bs")
    add(client, org, members[0], "2026-02-12")
    add(client, org, members[0], "2026-03-12", indicator="Z4", value="5", note="防汛")
    add(client, org, members[1], "2026-03-02", indicator="K1", note="缺席")
    reconcile_all(client, org, members)
    assert publish(client, org).status_code == 302
    [pub] = publications(app)
    rows = json.loads(pub.snapshot)
    assert [r["member_id"] for r in rows] == sorted(members)
    zhang = rows[0]
    assert zhang == {"member_id": members[0], "name": "张伟", "type": "A", "J": "1.0", "Z": "5.0", "K": "0.0",
                     "quarter_total": "6.0", "year_to_date": "56.0"}
    assert rows[1]["K"] == "-2.0" and rows[1]["year_to_date"] == "53.0"
    assert canonical_json(rows) == pub.snapshot
    assert sha256_of(pub.snapshot) == pub.sha256
    assert pub.snapshot == json.dumps(rows, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert "13900001111" not in pub.snapshot


def test_snapshot_never_changes(app, client, auth, org, members):
    auth.login("bs")
    reconcile_all(client, org, members)
    publish(client, org)
    [before] = publications(app)
    assert add(client, org, members[0], "2026-03-20", note="补录：当日签到表遗漏").status_code == 200
    [after] = publications(app)
    assert (after.snapshot, after.sha256) == (before.snapshot, before.sha256)
    with app.app_context():
        pub = db.session.get(Publication, before.id)
        pub.snapshot = "[]"
        with pytest.raises(AppendOnlyError):
            db.session.commit()
        db.session.rollback()
        db.session.delete(db.session.get(Publication, before.id))
        with pytest.raises(AppendOnlyError):
            db.session.commit()
        db.session.rollback()


def test_late_entry_is_an_adjustment_listed_in_the_next_publication(app, client, auth, org, members):
    client.set_cookie("qscore_lang", "en")
    auth.login("bs")
    reconcile_all(client, org, members)
    publish(client, org)
    assert add(client, org, members[0], "2026-03-20").status_code == 422  # no reason
    assert add(client, org, members[0], "2026-03-20", note="会后核对补录").status_code == 200
    # Shown with the publication it comes after, at once.
    page = client.get(Q1.format(b=org.branch_id)).get_data(as_text=True)
    later = page[page.index("Recorded after this publication"):]
    assert "会后核对补录" in later and "张伟" in later and "+1" in later
    app.config["FIXED_TODAY"] = date(2026, 7, 10)
    reconcile_all(client, org, [*members, members[-1] + 1], quarter=2)
    resp = publish(client, org, quarter=2, total="4", present="4")
    assert resp.status_code == 302
    q1, q2 = publications(app)
    [adj] = json.loads(q2.adjustments)
    assert (adj["period"], adj["member_id"], adj["points"], adj["indicator"]) == ("2026-Q1", members[0], "1.0", "J1")
    assert json.loads(q1.adjustments) == []
    page = client.get(f"/branches/{org.branch_id}/quarters/2026/2").get_data(as_text=True)
    assert "Adjustments to earlier published quarters" in page and "2026-Q1" in page


def test_an_adjustment_is_listed_once_and_again_after_its_listing_is_retracted(app, client, auth, org, members):
    auth.login("admin")
    reconcile_all(client, org, members)
    publish(client, org)
    assert add(client, org, members[1], "2026-03-02", note="补记").status_code == 200
    app.config["FIXED_TODAY"] = date(2026, 7, 10)
    reconcile_all(client, org, [*members, members[-1] + 1], quarter=2)
    assert publish(client, org, quarter=2, total="4", present="4").status_code == 302
    q1, q2 = publications(app)
    assert [a["member_id"] for a in json.loads(q2.adjustments)] == [members[1]]
    # Retracted and made again: the adjustment is listed by the new publication, once.
    assert client.post(f"/publications/{q2.id}/retract", data={"reason": "会议人数有误"}).status_code == 302
    assert publish(client, org, quarter=2, total="4", present="4").status_code == 302
    _q1, _old, again = publications(app)
    assert [a["member_id"] for a in json.loads(again.adjustments)] == [members[1]]
    # Nothing new since: a later publication lists nothing again.
    app.config["FIXED_TODAY"] = date(2026, 10, 12)
    reconcile_all(client, org, [*members, members[-1] + 1], quarter=3)
    assert publish(client, org, quarter=3, total="4", present="4", meeting_on="2026-10-08").status_code == 302
    assert json.loads(publications(app)[-1].adjustments) == []


def test_a_second_publish_of_a_quarter_says_who_published_it_and_when(app, client, auth, org, members):
    auth.login("bs")
    reconcile_all(client, org, members)
    assert publish(client, org).status_code == 302
    auth.logout()
    auth.login("cs")
    resp = publish(client, org)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 409 and "已由 bs 于" in body and "公示，未重复公示" in body
    assert len(publications(app)) == 1


def test_publishing_is_one_transaction_attributed_to_the_publisher(app, client, auth, org, members):
    """The checks, the snapshot and its audit row are one transaction; the page after it is only a redirect, so
    nothing is read again once it is committed (on SQLite that would take the write lock a second time)."""
    from .test_ledger_batch import sql_of

    auth.login("bs")
    add(client, org, members[0], "2026-02-12")
    reconcile_all(client, org, members)
    seen, resp = sql_of(app, lambda: publish(client, org))
    assert resp.status_code == 302
    assert seen.count("COMMIT") == 1 and seen[-1] == "COMMIT"
    if seen[0] == "BEGIN IMMEDIATE":  # SQLite
        assert seen.count("BEGIN IMMEDIATE") == 1
    [pub] = publications(app)
    with app.app_context():
        [row] = db.session.scalars(select(AuditLog).where(AuditLog.action == "quarter_published")).all()
        assert (row.user_id, row.username, row.object_type, row.object_id) == (
            org.branch_secretary_id, "bs", "publication", pub.id)
        assert row.summary == f"第一党支部 2026-Q1: 3 members, sha256 {pub.sha256}"
    # The message was said before the commit, in the publisher's language, with the publication's end date.
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "2026-Q1 已公示，公示栏即时显示；公示期至 2026-05-25。" in page


def test_the_database_refuses_a_second_live_publication_of_a_quarter(app, org, members):
    from sqlalchemy.exc import IntegrityError
    from qscore.models import Branch
    from qscore.publication import store_publication

    with app.app_context(), app.test_request_context():
        branch = db.session.get(Branch, org.branch_id)
        first = store_publication(branch, 2026, 1, supervision_ends_on=date(2026, 4, 20))
        db.session.commit()
        with pytest.raises(IntegrityError):
            store_publication(branch, 2026, 1, supervision_ends_on=date(2026, 4, 20))
        db.session.rollback()
        # A retracted one does not count: the quarter can be published again.
        db.session.get(Publication, first.id).retracted_at = date(2026, 4, 21)
        db.session.commit()
        store_publication(branch, 2026, 1, supervision_ends_on=date(2026, 4, 25))
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Publication)) == 2


def test_retraction_is_the_street_admins_with_a_reason(app, client, auth, org, members):
    auth.login("bs")
    reconcile_all(client, org, members)
    publish(client, org)
    [pub] = publications(app)
    assert client.post(f"/publications/{pub.id}/retract", data={"reason": "数据有误"}).status_code == 403
    auth.logout()
    auth.login("admin")
    assert client.post(f"/publications/{pub.id}/retract", data={"reason": " "}).status_code == 422
    assert client.post(f"/publications/{pub.id}/retract", data={"reason": "漏记一名党员"}).status_code == 302
    [pub] = publications(app)
    assert pub.retracted_at is not None and pub.retract_reason == "漏记一名党员"
    assert client.post(f"/publications/{pub.id}/retract", data={"reason": "again"}).status_code == 409
    page = client.get(Q1.format(b=org.branch_id)).get_data(as_text=True)
    assert "漏记一名党员" in page  # the retracted snapshot stays visible as retracted
    assert publish(client, org).status_code == 302  # the quarter can be published again
    assert len(publications(app)) == 2
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "publication_retracted")) == 1


def test_booklet_item_becomes_a_pending_self_record(app, client, auth, org, members):
    client.set_cookie("qscore_lang", "en")
    auth.login("bs")
    url = f"/branches/{org.branch_id}/quarters/2026/1/members/{members[0]}/booklet-item"
    resp = client.post(url, headers=HX, data={"indicator": "J5", "earned_on": "2026-05-01", "note": "学习笔记"})
    assert resp.status_code == 422 and "must fall in 2026-Q1" in resp.get_data(as_text=True)
    resp = client.post(url, headers=HX, data={"indicator": "J5", "earned_on": "2026-02-01", "note": "学习笔记"})
    assert resp.status_code == 200 and "1 pending" in resp.get_data(as_text=True)
    with app.app_context():
        sr = db.session.scalar(select(SelfRecord))
        assert (sr.origin, sr.status, sr.created_by_id) == ("reconciliation", "pending", org.branch_secretary_id)


def test_a_booklet_items_quarter_rules_are_said_in_chinese_beside_the_forms_own(app, client, auth, org, members):
    with app.app_context():
        came_in_february = make_member(org.branch_id, "二月来的", "A", on_roll_since=date(2026, 2, 1)).id
        db.session.commit()
    auth.login("bs")
    url = f"/branches/{org.branch_id}/quarters/2026/1/members/{{m}}/booklet-item"
    before = written(app)
    refused(app, client.post(url.format(m=members[0]), headers=HX,
                             data={"indicator": "J5", "earned_on": "2026-05-01", "note": "学习笔记"}),
            "日期应在 2026-Q1 之内。", before)
    refused(app, client.post(url.format(m=came_in_february), headers=HX,
                             data={"indicator": "J5", "earned_on": "2026-01-20", "note": "学习笔记"}),
            "该党员于 2026-02-01 登记在册。", before)
    # The note the form refuses, and an indicator and a date the quarter refuses: every message at once.
    resp = client.post(url.format(m=members[0]), headers=HX, data={"indicator": "K1", "earned_on": "2026-05-01"})
    refused(app, resp, "请写明积分手册上的记录", before)
    assert "请选择积分指标" in resp.get_data(as_text=True) and "日期应在 2026-Q1 之内。" in resp.get_data(as_text=True)


def test_a_published_quarter_refuses_reconciliation_changes_with_409(app, client, auth, org, members):
    auth.login("bs")
    reconcile_all(client, org, members)
    assert publish(client, org).status_code == 302
    before = written(app)
    base = f"/branches/{org.branch_id}/quarters/2026/1"
    item = f"{base}/members/{members[0]}/booklet-item"
    for status in ("clear", "bogus"):  # published comes first, whatever the request says
        assert client.post(f"{base}/members/{members[0]}/reconcile", data={"status": status},
                           headers=HX).status_code == 409
    assert client.post(f"{base}/reconcile-all", headers=HX).status_code == 409
    assert client.get(item, headers=HX).status_code == 409
    assert client.post(item, headers=HX, data={"indicator": "J5", "earned_on": "2026-02-01"}).status_code == 409
    assert written(app) == before


def test_scope(app, client, auth, org, members):
    auth.login("bs2")
    assert client.get(Q1.format(b=org.branch_id)).status_code == 404
    assert client.post(f"/branches/{org.branch_id}/quarters/2026/1/members/{members[0]}/reconcile",
                       data={"status": "agrees"}).status_code == 404
    assert publish(client, org).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Reconciliation)) == 0
    auth.logout()
    auth.login("cs")
    assert client.get(Q1.format(b=org.branch_id)).status_code == 200
    assert client.get("/branches/1/quarters/2026/5").status_code == 404


def test_sheet_and_notice_print_views(app, client, auth, org, members):
    auth.login("bs")
    sheet = client.get(f"/branches/{org.branch_id}/quarters/2026/1/sheet").get_data(as_text=True)
    assert "张伟" in sheet and "签名" in sheet
    reconcile_all(client, org, members)
    publish(client, org)
    [pub] = publications(app)
    notice = client.get(f"/publications/{pub.id}/notice").get_data(as_text=True)
    assert "张伟" in notice and "2026-05-25" in notice and "13900001111" not in notice


def test_all_booklets_agree_in_one_click_leaving_the_differences(app, client, auth, org, members):
    auth.login("bs")
    # One member is absent (deferred), one has a pending item: only the others are marked by the one click.
    client.post(f"/branches/{org.branch_id}/quarters/2026/1/members/{members[2]}/reconcile",
                data={"status": "deferred"}, headers=HX)
    with app.app_context():
        db.session.add(SelfRecord(member_id=members[1], indicator_code="J5", earned_on=date(2026, 3, 1), note="笔记"))
        db.session.commit()
    page = client.get(Q1.format(b=org.branch_id)).get_data(as_text=True)
    assert "全部一致（1 人）" in page
    resp = client.post(f"/branches/{org.branch_id}/quarters/2026/1/reconcile-all", headers=HX)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and body.lstrip().startswith('<tbody id="recon-rows"') and 'id="readiness"' in body
    with app.app_context():
        rows = {r.member_id: r.status for r in db.session.scalars(select(Reconciliation))}
    assert rows == {members[0]: "agrees", members[2]: "deferred"}
    # Again: nothing more to mark, nothing changes.
    assert client.post(f"/branches/{org.branch_id}/quarters/2026/1/reconcile-all", headers=HX).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Reconciliation)) == 2


def test_reconciliation_lists_members_in_pinyin_order(app, client, auth, org):
    with app.app_context():
        for name in ("张伟", "王秀英", "李娜", "欧阳明华", "曾子"):
            make_member(org.branch_id, name, "A")
        db.session.commit()
    auth.login("bs")
    page = client.get(Q1.format(b=org.branch_id)).get_data(as_text=True)
    order = sorted(("张伟", "王秀英", "李娜", "欧阳明华", "曾子"), key=page.index)
    assert order == ["李娜", "欧阳明华", "王秀英", "曾子", "张伟"]  # li, ou, wang, zeng (a surname), zhang


# --- hostile input: each field of each form in turn, and the pages' query parameters -------------

CONTROL = "含有看不见的控制字符，请重新输入。"
TEXT_ATTACKS = [("名\x00字", CONTROL), ("名\x01\x1f字", CONTROL), ("名\u202e字\u2066", CONTROL), ("长" * 100_000, "最多 ")]
DATE_ATTACKS = [("99999-01-01", "请填写日期。"), ("2026-02-30", "请填写日期。"), ("1e309", "请填写日期。"),
                ("名\x00", "请填写日期。"), ("1999-12-31", "2100")]
COUNT_ATTACKS = [("9" * 40, "应在 0 到 100000 之间"), ("-1", "应在 0 到 100000 之间"), ("1e309", "请输入整数"),
                 ("NaN", "请输入整数"), ("3.5", "请输入整数"), ("名\x00", "请输入整数")]
HOURS_ATTACKS = [("9" * 40, "请输入数字"), ("1e309", "应在 0.1 到 999.9 之间"), ("NaN", "请输入数字"),
                 ("-2", "应在 0.1 到 999.9 之间"), ("2.55", "最多一位小数"), ("名\x00", "请输入数字")]


def written(app) -> tuple[int, ...]:
    with app.app_context():
        return tuple(db.session.scalar(select(func.count()).select_from(m))
                     for m in (Publication, Reconciliation, SelfRecord, AuditLog))


def refused(app, resp, message: str, before: tuple[int, ...]) -> None:
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422, (resp.status_code, body[:300])
    assert message in body
    assert written(app) == before


@pytest.mark.parametrize(("field", "value", "message"), [
    *[("chair", v, m) for v, m in TEXT_ATTACKS],
    *[("meeting_on", v, m) for v, m in DATE_ATTACKS],
    *[("present", v, m) for v, m in COUNT_ATTACKS], *[("total", v, m) for v, m in COUNT_ATTACKS],
])
def test_hostile_input_to_the_publish_form_is_refused_in_chinese(app, client, auth, org, members, field, value,
                                                                 message):
    auth.login("bs")
    reconcile_all(client, org, members)
    before = written(app)
    refused(app, publish(client, org, **{field: value}), message, before)


def test_the_publish_form_as_filled_in_above_publishes(app, client, auth, org, members):
    auth.login("bs")
    reconcile_all(client, org, members)
    assert publish(client, org).status_code == 302 and len(publications(app)) == 1


@pytest.mark.parametrize(("field", "value", "message"), [
    *[("note", v, m) for v, m in TEXT_ATTACKS], ("note", " ", "请写明积分手册上的记录"),
    *[("earned_on", v, m) for v, m in DATE_ATTACKS],
    *[("hours", v, m) for v, m in HOURS_ATTACKS],
    *[("indicator", v, "请选择积分指标") for v in ("Z3\x00", "长" * 100_000, "9" * 40, "")],
])
def test_hostile_input_to_a_booklet_item_is_refused_in_chinese(app, client, auth, org, members, field, value, message):
    auth.login("bs")
    url = f"/branches/{org.branch_id}/quarters/2026/1/members/{members[0]}/booklet-item"
    before = written(app)
    data = {"indicator": "Z3", "earned_on": "2026-02-01", "hours": "2", "note": "社区清扫", field: value}
    refused(app, client.post(url, headers=HX, data=data), message, before)
    data[field] = {"note": "社区清扫", "earned_on": "2026-02-01", "hours": "2", "indicator": "Z3"}[field]
    assert client.post(url, headers=HX, data=data).status_code == 200 and written(app)[2] == before[2] + 1


@pytest.mark.parametrize("value", ["名\x00", "长" * 100_000, "9" * 40, "", "AGREES"])
def test_a_reconciliation_status_not_on_the_buttons_is_a_bad_request(app, client, auth, org, members, value):
    auth.login("bs")
    before = written(app)
    url = f"/branches/{org.branch_id}/quarters/2026/1/members/{members[0]}/reconcile"
    assert client.post(url, data={"status": value}, headers=HX).status_code == 400
    assert written(app) == before


@pytest.mark.parametrize(("value", "message"), [*TEXT_ATTACKS[:3], ("长" * 100_000, "最多 1000 个字符")])
def test_hostile_reason_for_a_retraction_is_refused_in_chinese(app, client, auth, org, members, value, message):
    auth.login("admin")
    reconcile_all(client, org, members)
    assert publish(client, org).status_code == 302
    [pub] = publications(app)
    before = written(app)
    refused(app, client.post(f"/publications/{pub.id}/retract", data={"reason": value}), message, before)
    assert publications(app)[0].retracted_at is None


@pytest.mark.parametrize("value", ["名\x00", "长" * 5_000, "9" * 40, "-1", "1e309", "NaN", "99999-01-01", "%00"])
def test_hostile_query_parameters_of_the_publication_pages_never_answer_500(app, client, auth, org, members, value):
    from urllib.parse import quote

    auth.login("bs")
    for page in ("/publish", Q1.format(b=org.branch_id), Q1.format(b=org.branch_id) + "/sheet"):
        resp = client.get(f"{page}?year={quote(value)}&quarter={quote(value)}&page={quote(value)}")
        assert resp.status_code == 200, (page, resp.status_code)
    assert client.get("/publish?year=2027").status_code == 404  # a year not yet begun, as before


def test_the_board_shows_dues_paid_as_the_publication_froze_it_when_the_street_turns_it_on(app, client, auth, org,
                                                                                           members):
    """"党费已交" comes from the register when the quarter is published, is frozen in the snapshot (never live,
    never an amount), and shows on the board only while the street has it on."""
    from decimal import Decimal

    from qscore.models import DuesLine, DuesRate
    from qscore.street_settings import set_setting

    zhang, li, wang = members
    with app.app_context():
        for mid in members:  # 王秀英's amount starts in April: nothing was due from her in Q1
            db.session.add(DuesRate(member_id=mid, monthly=Decimal("12.34"),
                                    effective_from=date(2026, 4 if mid == wang else 1, 1)))
        for mid, months in ((zhang, (1, 2, 3)), (li, (1, 2))):  # 李娜 owes March
            db.session.add_all([DuesLine(member_id=mid, branch_id=org.branch_id, year=2026, month=mo,
                                         kind="payment", amount=Decimal("12.34"), paid_on=date(2026, mo, 5),
                                         method="cash", note="") for mo in months])
        set_setting(org.street_id, "board_dues_paid", True)
        db.session.commit()
    auth.login("bs")
    reconcile_all(client, org, members)
    assert publish(client, org).status_code == 302
    (pub,) = publications(app)
    rows = {r["member_id"]: r for r in json.loads(pub.snapshot)}
    assert [rows[m].get("dues_paid") for m in members] == [True, False, None]  # nothing due: nothing said
    assert sha256_of(pub.snapshot) == pub.sha256
    board = client.get(f"/board?branch={org.branch_id}").get_data(as_text=True)
    assert '<th scope="col" class="board-dues-head">党费</th>' in board
    assert board.count('<td class="board-dues">已交</td>') == 1
    # Paying March now changes nothing published; turning the setting off hides the column.
    with app.app_context():
        db.session.add(DuesLine(member_id=li, branch_id=org.branch_id, year=2026, month=3, kind="payment",
                                amount=Decimal("12.34"), paid_on=date(2026, 5, 19), method="cash", note=""))
        db.session.commit()
    assert client.get(f"/board?branch={org.branch_id}").get_data(as_text=True).count(
        '<td class="board-dues">已交</td>') == 1
    with app.app_context():
        set_setting(org.street_id, "board_dues_paid", False)
        db.session.commit()
    assert "board-dues" not in client.get(f"/board?branch={org.branch_id}").get_data(as_text=True)
