"""Members: add, edit, transfer, leave the roll; private fields logged; a community secretary's scope."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from qscore.db import db
from qscore.ledger import record_entry
from qscore.models import AuditLog, BranchSpell, Member, MemberType, PointEntry, User

from .conftest import FIXED_TODAY, make_member

HX = {"HX-Request": "true"}


@pytest.fixture
def admin(client, auth, org):
    client.set_cookie("qscore_lang", "en")
    auth.login("admin")
    return client


@pytest.fixture
def members(app, org):
    with app.app_context():
        ids = {
            "zhang": make_member(org.branch_id, "张伟", "A", birth_year=1960, phone="13800000001",
                                 address="幸福路1号").id,
            "far": make_member(org.other_branch_id, "陈静", "B", birth_year=1950).id,
        }
        db.session.commit()
    return ids


def audits(app, action=None, member_id=None):
    with app.app_context():
        stmt = select(AuditLog).order_by(AuditLog.id)
        if action:
            stmt = stmt.where(AuditLog.action == action)
        if member_id:
            stmt = stmt.where(AuditLog.member_id == member_id)
        return db.session.scalars(stmt).all()


def get_member(app, member_id) -> Member:
    with app.app_context():
        m = db.session.get(Member, member_id)
        db.session.expunge(m)
        return m


def member_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Member))


NEW = {"name": "李娜", "gender": "F", "birth_year": "1975", "joined_party_on": "2000-07-01",
       "on_roll_since": "2026-03-01", "type_code": "C", "probationary": "y", "booklet_no": "QJ-0012",
       "phone": "138 0000 0002", "address": "和平路2号"}


def test_add_member(app, admin, org):
    resp = admin.post("/admin/members/new", data={**NEW, "branch_id": org.branch_id})
    assert resp.status_code == 302
    with app.app_context():
        m = db.session.scalar(select(Member).where(Member.name == "李娜"))
        assert (m.branch_id, m.gender, m.birth_year, m.probationary, m.booklet_no, m.phone) == (
            org.branch_id, "F", 1975, True, "QJ-0012", "138 0000 0002")
        assert m.on_roll_since == date(2026, 3, 1) and m.street_id == org.street_id
        (t,) = db.session.scalars(select(MemberType).where(MemberType.member_id == m.id)).all()
        assert (t.type_code, t.effective_from, t.decided_by_id) == ("C", date(2026, 3, 1), org.admin_id)
        (s,) = db.session.scalars(select(BranchSpell).where(BranchSpell.member_id == m.id)).all()
        assert (s.branch_id, s.starts_on, s.ends_on) == (org.branch_id, date(2026, 3, 1), None)
        mid = m.id
    (row,) = audits(app, "member_added")
    assert row.member_id == mid and row.after["type"] == "C"
    assert row.after["phone"] == "•••" and "和平路" not in str(row.after)
    # On the branch roster at once, with the type badge.
    admin.set_cookie("qscore_lang", "zh_CN")
    roster = admin.get(f"/branches/{org.branch_id}/roster").get_data(as_text=True)
    assert "李娜" in roster and "第三类" in roster


@pytest.mark.parametrize(("changes", "message"), [
    ({"name": ""}, "Fill this in."),
    ({"birth_year": ""}, "Enter a year, e.g. 1958."),
    ({"birth_year": "1890"}, "A year between 1900 and 2010."),
    ({"on_roll_since": ""}, "Enter a date."),
    ({"on_roll_since": "2026-06-01"}, "The date cannot be after today."),
    ({"on_roll_since": "1999-01-01"}, "A member comes onto the roll on or after joining the party."),
    ({"joined_party_on": "1980-01-01"}, "Too early for the year of birth."),
    ({"phone": "call me"}, "Digits, spaces, +, - and brackets only."),
    ({"type_code": "E"}, "Not a valid choice."),
    ({"gender": "X"}, "Not a valid choice."),
])
def test_bad_member_is_refused(app, admin, org, changes, message):
    resp = admin.post("/admin/members/new", data={**NEW, "branch_id": org.branch_id, **changes})
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    assert member_count(app) == 0 and not audits(app, "member_added")


def test_same_name_and_year_in_the_branch_needs_confirmation(app, admin, org):
    with app.app_context():
        make_member(org.branch_id, "李娜", birth_year=1975)
        db.session.commit()
    resp = admin.post("/admin/members/new", data={**NEW, "branch_id": org.branch_id})
    assert resp.status_code == 422
    assert "already has a member of this name born in 1975" in resp.get_data(as_text=True)
    assert member_count(app) == 1
    resp = admin.post("/admin/members/new", data={**NEW, "branch_id": org.branch_id, "same_name_ok": "y"})
    assert resp.status_code == 302 and member_count(app) == 2


def test_community_secretary_adds_only_within_their_community(app, client, auth, org):
    client.set_cookie("qscore_lang", "en")
    auth.login("cs")
    resp = client.post("/admin/members/new", data={**NEW, "branch_id": org.other_branch_id})
    assert resp.status_code == 422 and "Not one of the list." in resp.get_data(as_text=True)
    assert member_count(app) == 0
    assert client.post("/admin/members/new", data={**NEW, "branch_id": org.sibling_branch_id}).status_code == 302


def test_community_secretary_cannot_see_or_touch_another_community(app, client, auth, org, members):
    auth.login("cs")
    far = members["far"]
    listing = client.get("/admin/members?status=all").get_data(as_text=True)
    assert "张伟" in listing and "陈静" not in listing
    for path in (f"/admin/members/{far}", f"/admin/members/{far}/edit",
                 f"/admin/members/{far}/transfer", f"/admin/members/{far}/status", f"/admin/members/{far}/opening"):
        assert client.get(path).status_code == 404, path
    for path, data in ((f"/admin/members/{far}/private", {}), (f"/admin/members/{far}/edit", {**NEW}),
                       (f"/admin/members/{far}/transfer", {"branch_id": org.branch_id, "on": "2026-05-01"}),
                       (f"/admin/members/{far}/status", {"status": "deceased", "on": "2026-05-01"}),
                       (f"/admin/members/{far}/type", {"type_code": "D", "effective_from": "2026-05-01",
                                                        "reason": "x", "own_wish": "y"}),
                       (f"/admin/members/{far}/opening", {"indicator-0": "J1", "earned_on-0": "2026-05-01"})):
        assert client.post(path, data=data).status_code == 404, path
    assert get_member(app, far).name == "陈静" and not audits(app, member_id=far)
    # The export of the roster is scoped too.
    assert "陈静".encode() not in client.post("/admin/members/export.xlsx?status=all").data


def test_private_fields_are_shown_on_request_and_every_view_is_logged(app, admin, members):
    mid = members["zhang"]
    page = admin.get(f"/admin/members/{mid}").get_data(as_text=True)
    assert "13800000001" not in page and "幸福路" not in page
    assert not audits(app, "private_viewed")
    resp = admin.post(f"/admin/members/{mid}/private", headers=HX)
    assert "13800000001" in resp.get_data(as_text=True) and "幸福路1号" in resp.get_data(as_text=True)
    (row,) = audits(app, "private_viewed")
    assert row.member_id == mid and row.username == "admin"
    admin.get(f"/admin/members/{mid}/edit")  # the edit form shows them too
    assert len(audits(app, "private_viewed")) == 2


def test_edit_member_logs_changes_without_private_values(app, admin, org, members):
    mid = members["zhang"]
    data = {"name": "张伟", "gender": "M", "birth_year": "1961", "joined_party_on": "", "on_roll_since": "2020-01-01",
            "probationary": "", "booklet_no": "B-7", "phone": "13900000000", "address": "幸福路1号"}
    assert admin.post(f"/admin/members/{mid}/edit", data=data).status_code == 302
    m = get_member(app, mid)
    assert (m.birth_year, m.booklet_no, m.phone, m.gender) == (1961, "B-7", "13900000000", "M")
    (row,) = audits(app, "member_updated")
    assert row.before["birth_year"] == 1960 and row.after["birth_year"] == 1961
    assert "phone" in row.after and "139" not in str(row.after) and "138" not in str(row.before)


def test_moving_the_roll_date_moves_the_first_type_and_spell_but_not_past_entries(app, admin, org, members):
    mid = members["zhang"]
    with app.app_context(), app.test_request_context():
        m = db.session.get(Member, mid)
        record_entry(member=m, indicator_code="J1", value=None, earned_on=date(2026, 2, 10), note="",
                     user=None, today=FIXED_TODAY)
        db.session.commit()
    data = {"name": "张伟", "gender": "", "birth_year": "1960", "joined_party_on": "", "probationary": "",
            "booklet_no": "", "phone": "13800000001", "address": "幸福路1号"}
    resp = admin.post(f"/admin/members/{mid}/edit", data={**data, "on_roll_since": "2026-03-01"})
    assert resp.status_code == 422 and "Points are recorded from 2026-02-10" in resp.get_data(as_text=True)
    assert admin.post(f"/admin/members/{mid}/edit", data={**data, "on_roll_since": "2026-01-15"}).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(MemberType.effective_from).where(MemberType.member_id == mid)) == date(2026, 1, 15)
        assert db.session.scalar(select(BranchSpell.starts_on).where(BranchSpell.member_id == mid)) == date(2026, 1, 15)


def test_list_search_and_filters(app, admin, org, members):
    with app.app_context():
        make_member(org.branch_id, "王秀英", "D", birth_year=1940, booklet_no="QJ-77")
        db.session.commit()
    page = admin.get("/admin/members").get_data(as_text=True)
    assert all(n in page for n in ("张伟", "陈静", "王秀英"))
    assert "王秀英" in admin.get("/admin/members?q=QJ-77").get_data(as_text=True)
    found = admin.get("/admin/members?q=张", headers=HX)
    assert found.headers["Vary"] and "HX-Request" in found.headers["Vary"]
    body = found.get_data(as_text=True)
    assert body.lstrip().startswith('<section class="card" id="members-table"')
    assert "张伟" in body and "陈静" not in body
    by_type = admin.get("/admin/members?type=D").get_data(as_text=True)
    assert "王秀英" in by_type and "张伟" not in by_type
    by_branch = admin.get(f"/admin/members?branch={org.other_branch_id}").get_data(as_text=True)
    assert "陈静" in by_branch and "张伟" not in by_branch


def test_transfer_closes_the_spell_and_keeps_the_entries(app, admin, org, members):
    mid = members["zhang"]
    with app.app_context(), app.test_request_context():
        record_entry(member=db.session.get(Member, mid), indicator_code="Z5", value=None,
                     earned_on=date(2026, 4, 2), note="", user=None, today=FIXED_TODAY)
        db.session.commit()
    resp = admin.post(f"/admin/members/{mid}/transfer", data={"branch_id": org.sibling_branch_id, "on": "2026-05-01",
                                                              "note": "搬家"}, follow_redirects=True)
    assert "Their entries stay with them." in resp.get_data(as_text=True)
    with app.app_context():
        m = db.session.get(Member, mid)
        assert m.branch_id == org.sibling_branch_id
        spells = db.session.scalars(select(BranchSpell).where(BranchSpell.member_id == mid)
                                    .order_by(BranchSpell.starts_on)).all()
        assert [(s.branch_id, s.starts_on, s.ends_on) for s in spells] == [
            (org.branch_id, date(2020, 1, 1), date(2026, 5, 1)), (org.sibling_branch_id, date(2026, 5, 1), None)]
        assert db.session.scalar(select(func.count()).select_from(PointEntry).where(PointEntry.member_id == mid)) == 1
    (row,) = audits(app, "member_transferred")
    assert row.after["branch_id"] == org.sibling_branch_id and row.after["note"] == "搬家"
    assert "张伟" in admin.get(f"/branches/{org.sibling_branch_id}/roster").get_data(as_text=True)
    assert "张伟" not in admin.get(f"/branches/{org.branch_id}/roster").get_data(as_text=True)


@pytest.mark.parametrize(("data", "message"), [
    ({"on": "2026-06-01"}, "The date cannot be after today."),
    ({"on": "2019-12-31"}, "The member is in this branch since 2020-01-01"),
    ({"on": ""}, "Enter a date."),
    ({"branch_id": "BRANCH"}, "Not one of the list."),  # its own branch
])
def test_bad_transfer_is_refused(app, admin, org, members, data, message):
    data = {"branch_id": org.sibling_branch_id, "on": "2026-05-01",
            **{k: (org.branch_id if v == "BRANCH" else v) for k, v in data.items()}}
    resp = admin.post(f"/admin/members/{members['zhang']}/transfer", data=data)
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    assert get_member(app, members["zhang"]).branch_id == org.branch_id and not audits(app, "member_transferred")


def test_deceased_leaves_the_roll_and_the_account_is_disabled(app, admin, org, members):
    mid = members["zhang"]
    with app.app_context():
        db.session.add(User(username="zw", password_hash="x", role="member", street_id=org.street_id,
                            branch_id=org.branch_id, member_id=mid))
        db.session.commit()
    resp = admin.post(f"/admin/members/{mid}/status", data={"status": "deceased", "on": "2026-04-30", "note": ""},
                      follow_redirects=True)
    assert "has left the roll on 2026-04-30" in resp.get_data(as_text=True)
    m = get_member(app, mid)
    assert (m.status, m.left_roll_on) == ("deceased", date(2026, 4, 30))
    with app.app_context():
        assert db.session.scalar(select(BranchSpell.ends_on).where(BranchSpell.member_id == mid)) == date(2026, 4, 30)
        assert not db.session.scalar(select(User).where(User.username == "zw")).active
    (row,) = audits(app, "member_status_changed")
    assert row.before["status"] == "active" and row.after["status"] == "deceased"
    # Gone from the roster, still in the list of those who left; no second status change.
    assert "张伟" not in admin.get(f"/branches/{org.branch_id}/roster").get_data(as_text=True)
    assert "张伟" in admin.get("/admin/members?status=left").get_data(as_text=True)
    assert admin.post(f"/admin/members/{mid}/status", data={"status": "transferred_out", "on": "2026-05-01"}).status_code == 409


@pytest.mark.parametrize(("data", "message"), [
    ({"status": "expelled"}, "Not a valid choice."),           # only through the review's approval
    ({"status": "persuaded_withdraw"}, "Not a valid choice."),
    ({"on": "2026-05-21"}, "The date cannot be after today."),
    ({"on": "2020-01-01"}, "The date must be after the member came onto the roll"),
])
def test_bad_status_change_is_refused(app, admin, members, data, message):
    resp = admin.post(f"/admin/members/{members['zhang']}/status",
                      data={"status": "transferred_out", "on": "2026-05-01", **data})
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    assert get_member(app, members["zhang"]).status == "active"
