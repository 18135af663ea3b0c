"""Dynamic classification: a type change with its date, reason and the member's wish; the history;
the earliest date after the last published quarter; scores that follow; the review reminders."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from qscore.db import db
from qscore.ledger import record_entry
from qscore.models import AuditLog, Member, MemberType, PointEntry, Publication
from qscore.scheme_versions import scheme_for_year
from qscore.scoring import score_members

from .conftest import FIXED_TODAY, make_member

HX = {"HX-Request": "true"}


@pytest.fixture
def admin(client, auth, org):
    client.set_cookie("qscore_lang", "en")
    auth.login("admin")
    return client


@pytest.fixture
def zhang(app, org):
    with app.app_context():
        mid = make_member(org.branch_id, "张伟", "A", birth_year=1960).id
        db.session.commit()
    return mid


def publish(app, branch_id, year, quarter, retracted=False):
    with app.app_context():
        db.session.add(Publication(branch_id=branch_id, year=year, quarter=quarter, supervision_ends_on=date(2026, 5, 1),
                                   snapshot="[]", sha256="0" * 64,
                                   retracted_at=datetime(2026, 5, 2) if retracted else None))
        db.session.commit()


def change(admin, mid, **data):
    form = {"type_code": "D", "effective_from": "2026-04-01", "reason": "中风后行动不便",
            "own_wish": "本人同意", **data}
    return admin.post(f"/admin/members/{mid}/type", data=form, headers=HX)


def score(app, mid) -> str:
    with app.app_context():
        m = db.session.get(Member, mid)
        s = score_members(db.session, scheme_for_year(2026), 2026, FIXED_TODAY, [m])[mid]
        return f"{s.score}"


def types(app, mid):
    with app.app_context():
        return [(t.type_code, t.effective_from, t.reason, t.own_wish) for t in db.session.scalars(
            select(MemberType).where(MemberType.member_id == mid).order_by(MemberType.effective_from))]


def test_change_type_keeps_history_and_scores_follow(app, admin, org, zhang):
    assert score(app, zhang) == "50.0"
    resp = change(admin, zhang)
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert 'id="type"' in body and "中风后行动不便" in body and "本人同意" in body
    assert 'id="member-figures" aria-label' in body and 'hx-swap-oob="true"' in body  # figures update too
    assert types(app, zhang) == [("A", date(2020, 1, 1), "test", ""),
                                 ("D", date(2026, 4, 1), "中风后行动不便", "本人同意")]
    # Jan-Mar as type 1 (base 50), Apr-Dec as type 4 (base 65): (3 x 50 + 9 x 65) / 12 = 61.25
    assert score(app, zhang) == "61.3"
    (row,) = db_audits(app, "member_type_changed")
    assert row.member_id == zhang and row.before == {"type": "A"} and row.after["type"] == "D"
    admin.set_cookie("qscore_lang", "zh_CN")
    roster = admin.get(f"/branches/{org.branch_id}/roster").get_data(as_text=True)
    assert "第四类" in roster and "61.3" in roster


def db_audits(app, action):
    with app.app_context():
        return db.session.scalars(select(AuditLog).where(AuditLog.action == action)).all()


def test_recorded_points_keep_their_value(app, admin, org, zhang):
    with app.app_context(), app.test_request_context():
        record_entry(member=db.session.get(Member, zhang), indicator_code="K1", value=None,
                     earned_on=date(2026, 4, 10), note="无故缺席", user=None, today=FIXED_TODAY)
        db.session.commit()
    change(admin, zhang, type_code="B")  # K1 is -3 for type 1, -2 for type 2
    with app.app_context():
        assert db.session.scalar(select(PointEntry.points)) == -3


def test_the_earliest_date_follows_the_last_published_quarter(app, admin, org, zhang):
    publish(app, org.branch_id, 2026, 1)
    page = admin.get(f"/admin/members/{zhang}").get_data(as_text=True)
    assert 'min="2026-04-01"' in page
    resp = change(admin, zhang, effective_from="2026-03-31")
    assert resp.status_code == 422
    assert "2026-Q1 is published: a type change takes effect from 2026-04-01 at the earliest." in resp.get_data(
        as_text=True)
    assert len(types(app, zhang)) == 1 and not db_audits(app, "member_type_changed")
    assert change(admin, zhang, effective_from="2026-04-01").status_code == 200


def test_a_retracted_publication_does_not_hold_the_date_back(app, admin, org, zhang):
    publish(app, org.branch_id, 2026, 1, retracted=True)
    assert change(admin, zhang, effective_from="2026-02-01").status_code == 200


def test_a_publication_by_the_former_branch_counts(app, admin, org, zhang):
    publish(app, org.branch_id, 2026, 1)
    resp = admin.post(f"/admin/members/{zhang}/transfer", data={"branch_id": org.sibling_branch_id, "on": "2026-04-15"})
    assert resp.status_code == 302
    assert change(admin, zhang, effective_from="2026-03-01").status_code == 422
    # Another branch's publication, for quarters the member was not in it, does not.
    publish(app, org.other_branch_id, 2026, 1)
    assert change(admin, zhang, effective_from="2026-04-01").status_code == 200


def test_never_before_the_roll(app, admin, org):
    with app.app_context():
        mid = make_member(org.branch_id, "新人", "C", on_roll_since=date(2026, 3, 10)).id
        db.session.commit()
    resp = change(admin, mid, effective_from="2026-03-01")
    assert resp.status_code == 422
    assert "came onto the roll on 2026-03-10" in resp.get_data(as_text=True)


@pytest.mark.parametrize(("data", "message"), [
    ({"type_code": "A"}, "This is already the member&#39;s type on 2026-04-01."),
    ({"type_code": "E"}, "Not a valid choice."),
    ({"reason": ""}, "Fill this in."),
    ({"own_wish": ""}, "Fill this in."),
    ({"effective_from": ""}, "Enter a date."),
    ({"effective_from": "2027-01-01"}, "At most the end of this year (2026-12-31)."),
])
def test_bad_type_change_is_refused(app, admin, zhang, data, message):
    resp = change(admin, zhang, **data)
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    assert len(types(app, zhang)) == 1


def test_without_htmx_the_page_reloads(app, admin, zhang):
    form = {"type_code": "C", "effective_from": "2026-05-01", "reason": "下岗", "own_wish": "本人申请"}
    resp = admin.post(f"/admin/members/{zhang}/type", data=form)
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/admin/members/{zhang}#type")
    resp = admin.post(f"/admin/members/{zhang}/type", data={**form, "reason": ""})
    assert resp.status_code == 422 and "<html" in resp.get_data(as_text=True)


def test_a_member_who_left_cannot_change_type(app, admin, zhang):
    admin.post(f"/admin/members/{zhang}/status", data={"status": "transferred_out", "on": "2026-05-01"})
    assert change(admin, zhang).status_code == 409


def test_community_secretary_changes_types_in_their_community(app, client, auth, org, zhang):
    auth.login("cs")
    assert change(client, zhang, effective_from="2026-05-01").status_code == 200


def test_review_reminders(app, admin, org):
    with app.app_context(), app.test_request_context():
        old = make_member(org.branch_id, "老张", "B", birth_year=1950)       # 76, not type 4
        make_member(org.branch_id, "老李", "D", birth_year=1940)             # already type 4
        make_member(org.branch_id, "小王", "A", birth_year=1985)             # no attendance for 3 months
        active = make_member(org.branch_id, "小赵", "A", birth_year=1985)
        make_member(org.branch_id, "新人", "A", birth_year=1990, on_roll_since=date(2026, 4, 1))
        record_entry(member=active, indicator_code="J1", value=None, earned_on=date(2026, 4, 5), note="",
                     user=None, today=FIXED_TODAY)
        record_entry(member=old, indicator_code="J1", value=None, earned_on=date(2026, 5, 5), note="",
                     user=None, today=FIXED_TODAY)
        db.session.commit()
    page = admin.get("/admin/members/type-review").get_data(as_text=True)
    assert "老张" in page and "76 years old" in page
    assert "小王" in page and "no attendance for 3 months" in page
    assert "老李" not in page and "小赵" not in page and "新人" not in page
    only_age = admin.get("/admin/members/type-review?reason=age").get_data(as_text=True)
    assert "老张" in only_age and "小王" not in only_age
    only_silent = admin.get("/admin/members/type-review?reason=silent").get_data(as_text=True)
    assert "小王" in only_silent and "老张" not in only_silent
