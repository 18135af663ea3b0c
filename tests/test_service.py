"""Volunteer posts, contact households and teams: declaring, confirming, the monthly duty screen (Z1),
visits (Z2), the limit of posts, scope, and the privacy of household labels."""
from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from qscore.db import db
from qscore.models import (AuditLog, Household, HouseholdVisit, Member, MemberPost, PointEntry, PostKind, PostService,
                           TeamMembership, VolunteerTeam)

from .conftest import make_member

HTMX = {"HX-Request": "true"}
LABEL = "幸福小区3栋201室王阿姨"


@pytest.fixture
def svc(org, app):
    """Members of the first branch, a member account, and the community's list of posts."""
    with app.app_context():
        a = make_member(org.branch_id, "张伟", "A")
        b = make_member(org.branch_id, "李娜", "B")
        far = make_member(org.other_branch_id, "陈静", "B")
        kinds = [PostKind(community_id=org.community_id, name=n)
                 for n in ("楼栋长", "环境监督岗", "治安巡逻岗", "政策宣传岗", "关爱热线岗")]
        db.session.add_all(kinds)
        db.session.flush()
        org.user("zhangwei", "member", member_id=a.id)
        db.session.commit()
        org.a, org.b, org.far = a.id, b.id, far.id
        org.kinds = [k.id for k in kinds]
    return org


def count(model, **where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).filter_by(**where))


def entries(member_id: int, code: str) -> list[PointEntry]:
    return db.session.scalars(select(PointEntry).where(PointEntry.member_id == member_id,
                                                       PointEntry.indicator_code == code)).all()


def post(svc, member_id, kind_index, status="confirmed", declared_on=date(2026, 1, 5)) -> int:
    p = MemberPost(member_id=member_id, post_kind_id=svc.kinds[kind_index], declared_on=declared_on, status=status)
    db.session.add(p)
    db.session.commit()
    return p.id


# ---------------------------------------------------------------------------------------------
# The community's list of posts, and teams
# ---------------------------------------------------------------------------------------------

def test_community_secretary_keeps_the_post_list(client, auth, svc):
    auth.login("cs")
    r = client.post(f"/service/communities/{svc.community_id}/post-kinds", data={"name": "文明劝导岗"})
    assert r.status_code == 303
    r = client.post(f"/service/communities/{svc.community_id}/post-kinds", data={"name": "文明劝导岗"})
    assert r.status_code == 422
    r = client.post(f"/service/communities/{svc.community_id}/post-kinds", data={"name": " "})
    assert r.status_code == 422
    with client.application.app_context():
        assert count(PostKind, community_id=svc.community_id) == 6
    # Not another community's list.
    assert client.post(f"/service/communities/{svc.other_community_id}/post-kinds",
                       data={"name": "x"}).status_code == 404


def test_branch_secretary_reads_but_does_not_keep_the_list(client, auth, svc):
    auth.login("bs")
    assert client.get(f"/service/communities/{svc.community_id}").status_code == 200
    assert client.post(f"/service/communities/{svc.community_id}/post-kinds", data={"name": "x"}).status_code == 403
    assert client.post(f"/service/post-kinds/{svc.kinds[0]}/retire").status_code == 403


def test_teams_and_their_members(client, auth, svc):
    auth.login("cs")
    r = client.post(f"/service/communities/{svc.community_id}/teams",
                    data={"name": "平安巡逻队", "founded_on": "2025-03-01"})
    assert r.status_code == 303
    with client.application.app_context():
        team = db.session.scalars(select(VolunteerTeam)).one()
        team_id = team.id
    assert client.post(f"/service/teams/{team_id}/members",
                       data={"member_id": svc.a, "joined_on": "2025-04-01"}).status_code == 303
    assert client.post(f"/service/teams/{team_id}/members",
                       data={"member_id": svc.a, "joined_on": "2025-04-01"}).status_code == 422   # already in
    assert client.post(f"/service/teams/{team_id}/members",
                       data={"member_id": svc.far, "joined_on": "2025-04-01"}).status_code == 422  # other community
    assert client.post(f"/service/communities/{svc.community_id}/teams",
                       data={"name": "新队", "founded_on": "2027-01-01"}).status_code == 422        # future
    page = client.get(f"/service/teams/{team_id}").get_data(as_text=True)
    assert "张伟" in page
    with client.application.app_context():
        assert count(TeamMembership, team_id=team_id) == 1


# ---------------------------------------------------------------------------------------------
# Declaring from the booklet, recording by the branch, deciding
# ---------------------------------------------------------------------------------------------

def test_member_declares_from_the_booklet_pending_until_confirmed(client, auth, svc):
    auth.login("zhangwei")
    r = client.get(f"/service/members/{svc.a}/declare", headers=HTMX)
    assert r.status_code == 200 and "楼栋长" in r.get_data(as_text=True)
    r = client.post(f"/service/members/{svc.a}/posts", data={"post_kind_id": svc.kinds[0]}, headers=HTMX)
    assert r.status_code == 200
    r = client.post(f"/service/members/{svc.a}/households", data={"label": LABEL}, headers=HTMX)
    assert r.status_code == 200 and LABEL in r.get_data(as_text=True)      # the member sees their own
    with client.application.app_context():
        p = db.session.scalars(select(MemberPost)).one()
        h = db.session.scalars(select(Household)).one()
        assert (p.status, h.status) == ("pending", "pending")
        post_id, household_id = p.id, h.id
    # A member cannot decide, nor declare for someone else.
    assert client.post(f"/service/posts/{post_id}/confirm").status_code == 403
    assert client.post(f"/service/members/{svc.b}/posts", data={"post_kind_id": svc.kinds[0]}).status_code == 404
    auth.logout()
    auth.login("bs")
    page = client.get(f"/service/branches/{svc.branch_id}").get_data(as_text=True)
    assert "张伟" in page and LABEL in page                                  # the branch sees the label
    assert client.post(f"/service/posts/{post_id}/confirm").status_code == 303
    assert client.post(f"/service/households/{household_id}/confirm").status_code == 303
    assert client.post(f"/service/posts/{post_id}/confirm").status_code == 409    # decided already
    with client.application.app_context():
        assert db.session.get(MemberPost, post_id).status == "confirmed"
        assert db.session.get(Household, household_id).status == "confirmed"


def test_a_secretary_records_confirmed_posts_and_households(client, auth, svc):
    auth.login("bs")
    r = client.post(f"/service/branches/{svc.branch_id}/posts", data={"member_id": svc.b, "post_kind_id": svc.kinds[1]})
    assert r.status_code == 303
    r = client.post(f"/service/branches/{svc.branch_id}/households", data={"member_id": svc.b, "label": LABEL})
    assert r.status_code == 303
    with client.application.app_context():
        assert db.session.scalars(select(MemberPost.status)).all() == ["confirmed"]
        assert db.session.scalars(select(Household.status)).all() == ["confirmed"]
    # Not a member of another branch.
    r = client.post(f"/service/branches/{svc.branch_id}/posts", data={"member_id": svc.far, "post_kind_id": svc.kinds[1]})
    assert r.status_code == 422
    assert client.get(f"/service/branches/{svc.other_branch_id}").status_code == 404


def test_the_fifth_post_is_refused(client, auth, svc):
    with client.application.app_context():
        for i in range(3):
            post(svc, svc.a, i)
    auth.login("zhangwei")
    assert client.post(f"/service/members/{svc.a}/posts", data={"post_kind_id": svc.kinds[3]},
                       headers=HTMX).status_code == 200                         # the fourth, pending
    r = client.post(f"/service/members/{svc.a}/posts", data={"post_kind_id": svc.kinds[4]}, headers=HTMX)
    assert r.status_code == 422
    client.set_cookie("qscore_lang", "en")
    r = client.post(f"/service/members/{svc.a}/posts", data={"post_kind_id": svc.kinds[4]}, headers=HTMX)
    assert r.status_code == 422 and "At most 4 volunteer posts" in r.get_data(as_text=True)
    auth.logout()
    auth.login("bs")                                                             # the branch cannot exceed it either
    r = client.post(f"/service/branches/{svc.branch_id}/posts", data={"member_id": svc.a, "post_kind_id": svc.kinds[4]})
    assert r.status_code == 422
    with client.application.app_context():
        assert count(MemberPost, member_id=svc.a) == 4
    # An ended post frees a place.
    with client.application.app_context():
        first = db.session.scalars(select(MemberPost).where(MemberPost.member_id == svc.a,
                                                            MemberPost.status == "confirmed")).first().id
    assert client.post(f"/service/posts/{first}/end").status_code == 303
    r = client.post(f"/service/branches/{svc.branch_id}/posts", data={"member_id": svc.a, "post_kind_id": svc.kinds[4]})
    assert r.status_code == 303


def test_the_same_post_twice_is_refused(client, auth, svc):
    with client.application.app_context():
        post(svc, svc.a, 0, status="pending")
    auth.login("zhangwei")
    r = client.post(f"/service/members/{svc.a}/posts", data={"post_kind_id": svc.kinds[0]}, headers=HTMX)
    assert r.status_code == 422


def test_no_one_confirms_their_own_declaration(client, auth, svc):
    with client.application.app_context():
        bs = db.session.scalars(select(__import__("qscore.models", fromlist=["User"]).User)
                                .filter_by(username="bs")).one()
        bs.member_id = svc.b
        db.session.commit()
    auth.login("bs")
    # Declared by the secretary for their own record: pending, like any member's.
    client.post(f"/service/members/{svc.b}/posts", data={"post_kind_id": svc.kinds[0]}, headers=HTMX)
    with client.application.app_context():
        p = db.session.scalars(select(MemberPost)).one()
        assert p.status == "pending"
    assert client.post(f"/service/posts/{p.id}/confirm").status_code == 403


# ---------------------------------------------------------------------------------------------
# The monthly duty screen: Z1, once
# ---------------------------------------------------------------------------------------------

def test_duty_screen_writes_one_z1_per_member_and_month_once(client, auth, svc):
    with client.application.app_context():
        a1, a2 = post(svc, svc.a, 0), post(svc, svc.a, 1)
        b1 = post(svc, svc.b, 2)
        late = post(svc, svc.b, 3, declared_on=date(2026, 5, 10))     # not in force in April
    auth.login("bs")
    page = client.get(f"/service/branches/{svc.branch_id}/duty?month=2026-04").get_data(as_text=True)
    assert f'value="{a1}"' in page and f'value="{late}"' not in page
    r = client.post(f"/service/branches/{svc.branch_id}/duty", data={"month": "2026-04", "post_ids": [a1, a2, b1]})
    assert r.status_code == 303
    with client.application.app_context():
        za, zb = entries(svc.a, "Z1"), entries(svc.b, "Z1")
        assert len(za) == 1 and len(zb) == 1
        assert (za[0].earned_on, za[0].source, za[0].points) == (date(2026, 4, 30), "post", 2)
        assert count(PostService) == 3
        assert {s.entry_id for s in db.session.scalars(select(PostService))} == {za[0].id, zb[0].id}
    # Ticking again (a double submit, or the page reloaded) writes nothing twice.
    r = client.post(f"/service/branches/{svc.branch_id}/duty", data={"month": "2026-04", "post_ids": [a1, a2, b1]})
    assert r.status_code == 303
    with client.application.app_context():
        assert len(entries(svc.a, "Z1")) == 1 and count(PostService) == 3
    page = client.get(f"/service/branches/{svc.branch_id}/duty?month=2026-04").get_data(as_text=True)
    assert f'value="{a1}"' not in page                                   # shown as served, no box


def test_duty_of_the_current_month_is_dated_today_and_a_second_post_joins_the_month(client, auth, svc):
    with client.application.app_context():
        a1, a2 = post(svc, svc.a, 0), post(svc, svc.a, 1)
    auth.login("bs")
    client.post(f"/service/branches/{svc.branch_id}/duty", data={"month": "2026-05", "post_ids": [a1]})
    client.post(f"/service/branches/{svc.branch_id}/duty", data={"month": "2026-05", "post_ids": [a2]})
    with client.application.app_context():
        z = entries(svc.a, "Z1")
        assert len(z) == 1 and z[0].earned_on == date(2026, 5, 20)
        assert count(PostService) == 2
    assert client.get(f"/service/branches/{svc.branch_id}/duty?month=2026-06").status_code == 404


def test_a_corrected_duty_entry_can_be_recorded_again(client, auth, svc):
    with client.application.app_context():
        a1 = post(svc, svc.a, 0)
    auth.login("bs")
    client.post(f"/service/branches/{svc.branch_id}/duty", data={"month": "2026-04", "post_ids": [a1]})
    with client.application.app_context():
        entry_id = entries(svc.a, "Z1")[0].id
    assert client.post(f"/entries/{entry_id}/correct", data={"reason": "did not serve"},
                       headers=HTMX).status_code == 200
    client.post(f"/service/branches/{svc.branch_id}/duty", data={"month": "2026-04", "post_ids": [a1]})
    with client.application.app_context():
        live = [e for e in entries(svc.a, "Z1") if e.corrects_id is None and e.id != entry_id]
        assert len(live) == 1
        assert db.session.scalars(select(PostService)).one().entry_id == live[0].id


def test_duty_in_a_published_quarter_needs_a_reason(client, auth, svc):
    from qscore.models import Publication
    with client.application.app_context():
        a1 = post(svc, svc.a, 0)
        db.session.add(Publication(branch_id=svc.branch_id, year=2026, quarter=1, snapshot="[]", sha256="0" * 64,
                                   supervision_ends_on=date(2026, 4, 20)))
        db.session.commit()
    auth.login("bs")
    r = client.post(f"/service/branches/{svc.branch_id}/duty", data={"month": "2026-03", "post_ids": [a1]})
    assert r.status_code == 422
    with client.application.app_context():
        assert entries(svc.a, "Z1") == [] and count(PostService) == 0
    r = client.post(f"/service/branches/{svc.branch_id}/duty",
                    data={"month": "2026-03", "post_ids": [a1], "reason": "补记：三月巡逻"})
    assert r.status_code == 303
    with client.application.app_context():
        e = entries(svc.a, "Z1")[0]
        assert e.adjusts_publication_id is not None and "补记" in e.note


def test_duty_is_the_branchs_own(client, auth, svc):
    with client.application.app_context():
        far_post = MemberPost(member_id=svc.far, post_kind_id=svc.kinds[0], declared_on=date(2026, 1, 5),
                              status="confirmed")
        db.session.add(far_post)
        db.session.commit()
        far_id = far_post.id
    auth.login("bs")
    assert client.get(f"/service/branches/{svc.other_branch_id}/duty").status_code == 404
    # A post of another branch's member ticked on this branch's screen is ignored.
    client.post(f"/service/branches/{svc.branch_id}/duty", data={"month": "2026-04", "post_ids": [far_id]})
    with client.application.app_context():
        assert entries(svc.far, "Z1") == []


# ---------------------------------------------------------------------------------------------
# Visits: Z2
# ---------------------------------------------------------------------------------------------

def _household(svc, member_id, status="confirmed") -> int:
    h = Household(member_id=member_id, label=LABEL, declared_on=date(2026, 1, 5), status=status)
    db.session.add(h)
    db.session.commit()
    return h.id


def test_a_visit_writes_a_z2_entry(client, auth, svc):
    with client.application.app_context():
        hid = _household(svc, svc.b)
    auth.login("bs")
    r = client.get(f"/service/households/{hid}/visits", headers=HTMX)
    assert r.status_code == 200
    r = client.post(f"/service/households/{hid}/visits", data={"visited_on": "2026-05-08", "note": "送米送油"},
                    headers=HTMX)
    assert r.status_code == 200
    with client.application.app_context():
        z = entries(svc.b, "Z2")
        assert len(z) == 1 and (z[0].source, z[0].points, z[0].earned_on) == ("post", 1, date(2026, 5, 8))
        assert LABEL not in z[0].note                                       # the entry never names the household
        v = db.session.scalars(select(HouseholdVisit)).one()
        assert v.entry_id == z[0].id
    r = client.post(f"/service/households/{hid}/visits", data={"visited_on": "2026-05-09", "note": ""}, headers=HTMX)
    assert r.status_code == 422
    r = client.post(f"/service/households/{hid}/visits", data={"visited_on": "2026-06-01", "note": "x"}, headers=HTMX)
    assert r.status_code == 422                                              # in the future
    with client.application.app_context():
        assert len(entries(svc.b, "Z2")) == 1


def test_a_visit_form_submitted_twice_records_once(client, auth, svc):
    with client.application.app_context():
        hid = _household(svc, svc.b)
    auth.login("bs")
    data = {"visited_on": "2026-05-08", "note": "走访", "idempotency_key": "k-100001"}
    first = client.post(f"/service/households/{hid}/visits", data=data, headers=HTMX)
    again = client.post(f"/service/households/{hid}/visits", data=data, headers=HTMX)
    # The repeat answers as the first did (the visit recorded), and writes nothing more.
    assert first.status_code == again.status_code == 200
    assert 'role="status"' in again.get_data(as_text=True)
    with client.application.app_context():
        assert len(entries(svc.b, "Z2")) == 1 and count(HouseholdVisit) == 1


def test_visits_need_a_confirmed_household_in_scope(client, auth, svc):
    with client.application.app_context():
        pending = _household(svc, svc.b, "pending")
        far = _household(svc, svc.far)
    auth.login("bs")
    assert client.post(f"/service/households/{pending}/visits",
                       data={"visited_on": "2026-05-08", "note": "x"}).status_code == 409
    assert client.post(f"/service/households/{far}/visits",
                       data={"visited_on": "2026-05-08", "note": "x"}).status_code == 404


# ---------------------------------------------------------------------------------------------
# Privacy: a household's label stays on the service pages
# ---------------------------------------------------------------------------------------------

def test_household_labels_never_reach_the_board_figures_or_audit(client, auth, svc):
    with client.application.app_context():
        hid = _household(svc, svc.a)
    auth.login("bs")
    client.post(f"/service/households/{hid}/visits", data={"visited_on": "2026-05-08", "note": "谈心"})
    client.post(f"/service/branches/{svc.branch_id}/households", data={"member_id": svc.b, "label": LABEL + "2"})
    for url in ("/stats", "/stats?period=2026-Q2", "/stats/members?figure=households&period=2026",
                "/stats/members?figure=households&period=2026&show=all", "/stats/report?period=2026-Q1",
                f"/members/{svc.a}", "/"):
        r = client.get(url)
        assert LABEL not in r.get_data(as_text=True), url
    xlsx = client.get("/stats/export.xlsx?period=2026")
    wb = load_workbook(io.BytesIO(xlsx.data))
    cells = [str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert cells and not any(LABEL in c for c in cells)
    members_xlsx = client.get("/stats/members?figure=households&period=2026&format=xlsx")
    wb = load_workbook(io.BytesIO(members_xlsx.data))
    assert not any(LABEL in str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row)
    auth.logout()
    for url in ("/board", f"/board/{svc.community_id}", f"/board/{svc.community_id}/{svc.branch_id}"):
        r = client.get(url)
        assert LABEL not in r.get_data(as_text=True), url
    with client.application.app_context():
        summaries = db.session.scalars(select(AuditLog.summary)).all()
        assert summaries and not any(LABEL in s for s in summaries)


def test_households_count_in_the_figures(client, auth, svc):
    with client.application.app_context():
        _household(svc, svc.a)
        _household(svc, svc.a)
        _household(svc, svc.b, "pending")
    auth.login("bs")
    client.set_cookie("qscore_lang", "en")
    page = client.get("/stats?period=2026").get_data(as_text=True)
    assert "Contact households" in page
    assert "100.0% of the members" in page                                  # 2 households / 2 members


# ---------------------------------------------------------------------------------------------
# The monthly assessment (qscore/assessment.py)
# ---------------------------------------------------------------------------------------------

def _entry(member_id: int, code: str, on: date, points: str):
    m = db.session.get(Member, member_id)
    db.session.add(PointEntry(member_id=m.id, branch_id=m.branch_id, year=on.year, indicator_code=code,
                              category=code[0], points=points, earned_on=on, note="t"))


@pytest.fixture
def month(svc, app):
    with app.app_context():
        c = make_member(svc.branch_id, "王秀英", "D")
        _entry(svc.a, "J1", date(2026, 3, 5), "1")
        _entry(svc.a, "Z4", date(2026, 3, 6), "3")
        _entry(svc.a, "J3", date(2026, 2, 1), "1")           # dues of Q1 paid
        for m in (1, 2, 3):                                 # b: absent three months running
            _entry(svc.b, "K1", date(2026, m, 10), "-2")
        _entry(svc.b, "J3", date(2026, 1, 3), "1")
        db.session.commit()
        svc.c = c.id
    return svc


def test_branch_month_view_entries_points_and_flags(client, auth, month):
    auth.login("bs")
    client.set_cookie("qscore_lang", "en")
    r = client.get(f"/assessment/branches/{month.branch_id}?month=2026-03")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    from qscore.assessment import month_view
    with client.application.app_context():
        view = month_view([month.branch_id], date(2026, 3, 1), date(2026, 5, 20))
        rows = {r.member.name: r for r in view.rows}
    assert rows["张伟"].flags == [] and rows["张伟"].month.total == 4
    assert {c for c, _n, _p in rows["张伟"].codes["Z"]} == {"Z4"}
    assert rows["李娜"].flags == ["absent"] and rows["李娜"].month.total == -2
    assert rows["王秀英"].flags == ["silent", "dues"]       # nothing in March, no dues in Q1
    assert rows["李娜"].warnings and "3 consecutive months" in rows["李娜"].warnings[0].text()
    assert "Absent without excuse" in page and "No entry this month" in page and "Dues unpaid" in page
    assert "Early warning: unexcused absence in 3 consecutive months" in page
    # February is not a quarter's last month: no dues flag for a member who has not paid yet.
    with client.application.app_context():
        feb = {r.member.name: r for r in month_view([month.branch_id], date(2026, 2, 1), date(2026, 5, 20)).rows}
    assert feb["王秀英"].flags == ["silent"]


def test_community_early_warning_list(client, auth, month):
    auth.login("cs")
    client.set_cookie("qscore_lang", "en")
    r = client.get(f"/assessment/communities/{month.community_id}?month=2026-03")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "李娜" in page and "unexcused absence in 3 consecutive months" in page
    assert "陈静" not in page                                   # another community's member
    assert client.get("/assessment/").headers["Location"].endswith(f"/assessment/communities/{month.community_id}")


def test_assessment_scope(client, auth, month):
    auth.login("bs")
    assert client.get(f"/assessment/branches/{month.other_branch_id}").status_code == 404
    assert client.get(f"/assessment/communities/{month.community_id}").status_code == 404
    assert client.get("/assessment/branches/{}?month=2026-07".format(month.branch_id)).status_code == 404
    assert client.get("/assessment/branches/{}?month=junk".format(month.branch_id)).status_code == 404
    auth.logout()
    auth.login("zhangwei")
    assert client.get(f"/assessment/branches/{month.branch_id}").status_code == 404  # no branch is a member's to see
    assert client.get("/assessment/").status_code == 403


def test_assessment_workbook(client, auth, month):
    auth.login("bs")
    r = client.get(f"/assessment/branches/{month.branch_id}?month=2026-03&format=xlsx")
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.data)).active
    rows = {row[0]: row for row in ws.iter_rows(min_row=3, values_only=True)}
    assert rows["张伟"][5] == 4 and rows["李娜"][5] == -2
    assert rows["李娜"][4] == "K1×1"
