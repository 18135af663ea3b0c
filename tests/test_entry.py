"""The roster and inline entry: what a secretary sees and what the ledger gets (or does not)."""
from __future__ import annotations

import re

from datetime import date, datetime
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from qscore.db import db
from qscore.models import AuditLog, Leave, Meeting, PointEntry, Publication, User, YearReview
from qscore.scheme_versions import scheme_for_year
from qscore.scoring import score_members

from .conftest import SNAPSHOTS, make_member

HX = {"HX-Request": "true"}


@pytest.fixture
def roster(app, org):
    """Three members in the branch, one in a re-employment branch, one in another community."""
    return SNAPSHOTS.build(app, (__name__, "roster"), lambda: _build_roster(app, org))


def _build_roster(app, org):
    with app.app_context():
        ids = {
            "a": make_member(org.branch_id, "张伟", "A").id,
            "c": make_member(org.branch_id, "李娜", "C").id,
            "d": make_member(org.branch_id, "王秀英", "D").id,
            "guest": make_member(org.sibling_branch_id, "赵强", "C").id,
            "far": make_member(org.other_branch_id, "陈静", "B").id,
        }
        db.session.commit()
    return ids


def entries(app, **filters) -> list[PointEntry]:
    with app.app_context():
        stmt = select(PointEntry).order_by(PointEntry.id)
        for k, v in filters.items():
            stmt = stmt.where(getattr(PointEntry, k) == v)
        rows = db.session.scalars(stmt).all()
        db.session.expunge_all()
        return rows


def add(client, org, member_id, **data):
    form = {"indicator": "J1", "earned_on": "2026-05-18", "note": "", "value": "", **data}
    return client.post(f"/branches/{org.branch_id}/members/{member_id}/entries", data=form, headers=HX)


def year_score(app, member_id) -> str:
    with app.app_context():
        from qscore.models import Member
        m = db.session.get(Member, member_id)
        s = score_members(db.session, scheme_for_year(2026), 2026, date(2026, 5, 20), [m])[m.id]
        return f"{s.score}".removesuffix(".0")


# --- the roster --------------------------------------------------------------------------------

@pytest.mark.parametrize(("username", "branch", "status"), [
    ("bs", "branch_id", 200), ("bs", "sibling_branch_id", 404), ("bs", "other_branch_id", 404),
    ("cs", "branch_id", 200), ("cs", "sibling_branch_id", 200), ("cs", "other_branch_id", 404),
    ("admin", "other_branch_id", 200), ("bs2", "branch_id", 404),
])
def test_roster_scope(client, auth, org, roster, username, branch, status):
    auth.login(username)
    assert client.get(f"/branches/{getattr(org, branch)}/roster").status_code == status


def test_member_account_cannot_open_a_roster(app, client, auth, org, roster):
    with app.app_context():
        admin = db.session.get(User, org.admin_id)
        db.session.add(User(username="m", password_hash=admin.password_hash, role="member", street_id=org.street_id,
                            community_id=org.community_id, branch_id=org.branch_id, member_id=roster["a"]))
        db.session.commit()
    auth.login("m")
    # A branch is no member's to see (404: not even whether it exists); the roster page is no member's (403).
    assert client.get(f"/branches/{org.branch_id}/roster").status_code == 404
    assert client.get("/roster").status_code == 403


def test_roster_lists_active_members_with_scores(client, auth, org, roster, app):
    auth.login("bs")
    add(client, org, roster["a"])
    page = client.get(f"/branches/{org.branch_id}/roster").get_data(as_text=True)
    assert "张伟" in page and "李娜" in page and "赵强" not in page
    assert "第一类" in page and "第三类" in page and "第四类" in page
    assert f'id="member-{roster["a"]}-row"' in page
    assert year_score(app, roster["a"]) == "51"  # base 50 + J1 1


def test_roster_fragment_for_htmx(client, auth, org, roster):
    auth.login("bs")
    resp = client.get(f"/branches/{org.branch_id}/roster", headers=HX)
    assert "<html" not in resp.get_data(as_text=True) and "HX-Request" in resp.headers["Vary"]


# --- inline add -------------------------------------------------------------------------------

def test_add_form_offers_applicable_indicators_with_type_points(client, auth, org, roster):
    auth.login("bs")
    body = client.get(f"/branches/{org.branch_id}/members/{roster['a']}/add?indicator=K1", headers=HX).get_data(as_text=True)
    assert '<optgroup label="基本要求类">' in body and "J1 参加主题党日" in body
    assert "-3" in body  # K1 for type A is -3 (points_by_type)
    body = client.get(f"/branches/{org.branch_id}/members/{roster['a']}/add?indicator=K4", headers=HX).get_data(as_text=True)
    assert 'value="-10"' in body and 'value="-20"' in body


def test_inline_add_returns_row_and_out_of_band_totals(app, client, auth, org, roster):
    auth.login("bs")
    resp = add(client, org, roster["a"], indicator="Z4", value="5", note="防汛值守")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert body.startswith("\n<tr id=\"member-") or f'id="member-{roster["a"]}-row"' in body.split("</tr>")[0]
    assert 'id="branch-totals"' in body and 'hx-swap-oob="true"' in body
    assert "55" in body  # 50 + Z4 5
    [e] = entries(app)
    assert (e.indicator_code, str(e.points), e.earned_on, e.note) == ("Z4", "5.0", date(2026, 5, 18), "防汛值守")
    with app.app_context():
        assert e.recorded_by_id == org.branch_secretary_id and e.branch_id == org.branch_id
        log = db.session.scalar(select(AuditLog).where(AuditLog.action == "entry_added"))
        assert log.user_id == org.branch_secretary_id and log.member_id == roster["a"]


def _totals(body: str) -> str:
    section = re.search(r'<section id="branch-totals".*?</section>', body, re.S).group(0)
    return re.sub(r"\s+", " ", section.replace('hx-swap-oob="true"', "")).replace(" >", ">")


def test_the_totals_after_an_add_are_the_roster_pages_own(app, client, auth, org, roster):
    # The answer to an add scores the whole branch for its totals but works out only the written row.
    auth.login("bs")
    add(client, org, roster["c"], indicator="Z4", value="5", note="防汛值守")
    body = add(client, org, roster["a"], indicator="J1").get_data(as_text=True)
    page = client.get(f"/branches/{org.branch_id}/roster").get_data(as_text=True)
    assert _totals(body) == _totals(page)
    assert 'stat-value">3</div>' in _totals(page) and 'branch-average">60.3<' in _totals(page)


def test_hours_indicator_records_hours_and_points(app, client, auth, org, roster):
    auth.login("bs")
    assert add(client, org, roster["a"], indicator="Z3", value="2.5").status_code == 200
    [e] = entries(app)
    assert (str(e.quantity), str(e.points)) == ("2.5", "1.3")  # 2.5 h x 0.5 = 1.25 -> 1.3 half up


@pytest.mark.parametrize(("data", "message"), [
    ({"indicator": "X9"}, "Not a valid choice"),
    ({"indicator": "K4", "value": "-7", "note": "赌博"}, "-7 is not a value of K4"),
    ({"indicator": "K1", "note": ""}, "A deduction or veto needs a reason"),
    ({"earned_on": "2026-05-21"}, "cannot be after today"),
    ({"earned_on": "2024-12-31"}, "Entries dated before 2025"),
    ({"earned_on": "not-a-date"}, "Enter a date."),
    ({"note": "很" * 501}, "At most 500 characters."),
    ({"indicator": "Z3", "value": ""}, "Enter the hours"),
    ({"indicator": "Z3", "value": "-2"}, "Hours must be more than 0"),
])
def test_bad_input_gets_422_and_writes_nothing(app, client, auth, org, roster, data, message):
    client.set_cookie("qscore_lang", "en")
    auth.login("bs")
    resp = add(client, org, roster["a"], **data)
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    assert entries(app) == []


def _z1_only_for_types_1_and_2(app, org) -> None:
    """The year's scheme edited so that Z1 applies to types A and B only."""
    from qscore.scheme_versions import save_scheme

    with app.app_context():
        data = scheme_for_year(2026).data
        for ind in data["indicators"]:
            if ind["code"] == "Z1":
                ind["applies_to"] = ["A", "B"]
        save_scheme(2026, data, "Z1 not for C and D", db.session.get(User, org.admin_id))
        db.session.commit()


def test_indicator_not_applying_to_the_type_is_refused(app, client, auth, org, roster):
    _z1_only_for_types_1_and_2(app, org)
    client.set_cookie("qscore_lang", "en")
    auth.login("bs")
    form = client.get(f"/branches/{org.branch_id}/members/{roster['c']}/add", headers=HX).get_data(as_text=True)
    assert 'value="Z1"' not in form
    resp = add(client, org, roster["c"], indicator="Z1")
    assert resp.status_code == 422 and entries(app) == []


def test_date_before_the_member_joined_is_refused(app, client, auth, org):
    with app.app_context():
        mid = make_member(org.branch_id, "新党员", "A", on_roll_since=date(2026, 4, 1)).id
        db.session.commit()
    client.set_cookie("qscore_lang", "en")
    auth.login("bs")
    resp = add(client, org, mid, earned_on="2026-03-15")
    assert resp.status_code == 422 and "came onto the roll on 2026-04-01" in resp.get_data(as_text=True)


def test_previous_year_closed_once_its_review_is_confirmed(app, client, auth, org, roster):
    auth.login("bs")
    assert add(client, org, roster["a"], earned_on="2025-12-20").status_code == 200
    with app.app_context():
        db.session.add(YearReview(branch_id=org.branch_id, year=2025, status="confirmed"))
        db.session.commit()
    resp = add(client, org, roster["a"], earned_on="2025-12-21")
    assert resp.status_code == 422 and len(entries(app)) == 1


def test_double_submit_writes_once(app, client, auth, org, roster):
    client.set_cookie("qscore_lang", "en")
    auth.login("bs")
    assert add(client, org, roster["a"], idempotency_key="k-123456").status_code == 200
    resp = add(client, org, roster["a"], idempotency_key="k-123456")
    # The repeat answers like the first (the row), says so, and records nothing more.
    assert resp.status_code == 200 and "Already recorded" in resp.get_data(as_text=True)
    assert f'id="member-{roster["a"]}-row"' in resp.get_data(as_text=True)
    assert len(entries(app)) == 1


@pytest.mark.parametrize("key", ["x" * 41, "k" * 60_000, "short", "has space 12345", "ключ-12345678", "a:b:c:d:e:f"])
def test_a_malformed_or_overlong_key_is_a_bad_request(app, client, auth, org, roster, key):
    auth.login("bs")
    assert add(client, org, roster["a"], idempotency_key=key).status_code == 400
    url = f"/branches/{org.branch_id}/members/{roster['a']}/quick/J1"
    assert client.post(url, data={"idempotency_key": key}, headers={"HX-Request": "true"}).status_code == 400
    assert len(entries(app)) == 0


def test_no_entries_for_ones_own_member_record(app, client, auth, org, roster):
    with app.app_context():
        db.session.get(User, org.branch_secretary_id).member_id = roster["a"]
        db.session.commit()
    auth.login("bs")
    assert add(client, org, roster["a"]).status_code == 403
    assert client.get(f"/branches/{org.branch_id}/members/{roster['a']}/add", headers=HX).status_code == 403
    assert entries(app) == []


@pytest.mark.parametrize(("username", "member", "status"), [
    ("bs", "far", 404), ("bs", "guest", 404), ("cs", "far", 404), ("bs2", "a", 404),
])
def test_members_outside_scope_are_not_found(app, client, auth, org, roster, username, member, status):
    auth.login(username)
    assert add(client, org, roster[member]).status_code == status
    assert entries(app) == []


def test_quick_button_adds_todays_default_entry(app, client, auth, org, roster):
    auth.login("bs")
    resp = client.post(f"/branches/{org.branch_id}/members/{roster['a']}/quick/J1", headers=HX,
                       data={"idempotency_key": "q1-00001"})
    assert resp.status_code == 200 and 'hx-swap-oob="true"' in resp.get_data(as_text=True)
    [e] = entries(app)
    assert (e.indicator_code, e.earned_on, str(e.points)) == ("J1", date(2026, 5, 20), "1.0")


def test_cap_reached_is_shown_and_the_act_still_recorded(app, client, auth, org, roster):
    client.set_cookie("qscore_lang", "en")
    auth.login("bs")
    add(client, org, roster["a"], earned_on="2026-05-02")
    add(client, org, roster["a"], earned_on="2026-05-09")
    resp = add(client, org, roster["a"], earned_on="2026-05-16")  # J1 month cap is 2
    body = resp.get_data(as_text=True)
    assert "This month&#39;s cap for J1 is reached" in body and "Counts 0" in body
    assert len(entries(app)) == 3 and year_score(app, roster["a"]) == "52"


def row_of(page: str, member_id: int) -> str:
    """One member's roster row, as the page writes it."""
    return page.split(f'id="member-{member_id}-row"', 1)[1].split("</tr>", 1)[0]


def test_a_capped_figure_is_marked_with_the_cap_that_limits_it_in_either_language(app, client, auth, org, roster):
    auth.login("bs")
    for day in ("2026-05-02", "2026-05-09", "2026-05-16"):  # the J1 month cap is 2
        add(client, org, roster["a"], earned_on=day)
    page = client.get(f"/branches/{org.branch_id}/roster").get_data(as_text=True)
    capped = row_of(page, roster["a"])
    assert ('data-label="本月">2<span class="cap-mark" title="J1 已达月度上限" aria-label="J1 已达月度上限">▲</span>'
            in capped)
    assert "cap-mark" not in row_of(page, roster["c"])
    client.set_cookie("qscore_lang", "en")
    capped = row_of(client.get(f"/branches/{org.branch_id}/roster").get_data(as_text=True), roster["a"])
    assert 'data-label="This month">2<span class="cap-mark" title="month cap of J1 reached"' in capped
    assert 'data-label="Year score to date">52<' in capped


def test_each_rows_quick_buttons_follow_the_members_type(app, client, auth, org, roster):
    _z1_only_for_types_1_and_2(app, org)
    auth.login("bs")
    assert client.post(f"/branches/{org.branch_id}/quick", data={"codes": ["J1", "Z3", "Z1", "K1"]},
                       headers=HX).status_code == 200
    page = client.get(f"/branches/{org.branch_id}/roster").get_data(as_text=True)
    a, c = row_of(page, roster["a"]), row_of(page, roster["c"])
    assert '>出席 +1</button>' in a and '>出席 +1</button>' in c
    assert f'hx-get="/branches/{org.branch_id}/members/{roster["a"]}/add?indicator=Z3"' in a and '>志愿服务 …<' in c
    assert 'title="Z1 奉献岗履职 +2">奉献岗履职 +2</button>' in a and "Z1" not in c  # Z1 is for types A and B only
    assert '>无故缺席 -3</button>' in a and '>无故缺席 -2</button>' in c  # K1 is -3 for type A
    client.set_cookie("qscore_lang", "en")
    c = row_of(client.get(f"/branches/{org.branch_id}/roster").get_data(as_text=True), roster["c"])
    assert '>Attended +1</button>' in c and '>Volunteer service …</button>' in c and '>Absent -2</button>' in c


def test_prior_period_adjustment_needs_a_reason_and_is_flagged(app, client, auth, org, roster):
    with app.app_context():
        pub = Publication(branch_id=org.branch_id, year=2026, quarter=1, supervision_ends_on=date(2026, 4, 20),
                          snapshot="[]", sha256="0" * 64, published_at=datetime(2026, 4, 10))
        db.session.add(pub)
        db.session.commit()
        pub_id = pub.id
    client.set_cookie("qscore_lang", "en")
    auth.login("bs")
    resp = add(client, org, roster["a"], earned_on="2026-02-10")
    assert resp.status_code == 422 and "2026-Q1 is already published" in resp.get_data(as_text=True)
    resp = add(client, org, roster["a"], earned_on="2026-02-10", note="会议当天缺勤登记遗漏，经核对补录")
    assert resp.status_code == 200 and "after publication of 2026-Q1" in resp.get_data(as_text=True)
    [e] = entries(app)
    assert e.adjusts_publication_id == pub_id
    assert add(client, org, roster["a"], earned_on="2026-04-10").status_code == 200  # Q2: no adjustment
    assert entries(app)[-1].adjusts_publication_id is None


# --- corrections ------------------------------------------------------------------------------

def test_undo_writes_a_correction_that_restores_the_score(app, client, auth, org, roster):
    auth.login("bs")
    add(client, org, roster["a"], indicator="Z4", value="5", note="防汛")
    [original] = entries(app)
    assert year_score(app, roster["a"]) == "55"
    resp = client.post(f"/entries/{original.id}/correct", data={"reason": "录错了人"}, headers=HX)
    assert resp.status_code == 200 and 'hx-swap-oob="true"' in resp.get_data(as_text=True)
    original_again, correction = entries(app)
    assert correction.corrects_id == original.id and str(correction.points) == "-5.0"
    assert correction.note == "录错了人" and correction.source == "correction"
    assert (original_again.points, original_again.note) == (original.points, original.note)  # never edited
    assert year_score(app, roster["a"]) == "50"


def test_an_entry_is_corrected_at_most_once(app, client, auth, org, roster):
    auth.login("bs")
    add(client, org, roster["a"])
    [original] = entries(app)
    assert client.post(f"/entries/{original.id}/correct", data={"reason": "错"}, headers=HX).status_code == 200
    assert client.post(f"/entries/{original.id}/correct", data={"reason": "再错"}, headers=HX).status_code == 409
    correction = entries(app)[1]
    assert client.post(f"/entries/{correction.id}/correct", data={"reason": "x"}, headers=HX).status_code == 409
    assert len(entries(app)) == 2


def test_correction_needs_a_reason(app, client, auth, org, roster):
    auth.login("bs")
    add(client, org, roster["a"])
    [original] = entries(app)
    assert client.post(f"/entries/{original.id}/correct", data={"reason": " "}, headers=HX).status_code == 422
    assert len(entries(app)) == 1


def test_correcting_outside_scope_or_own_record(app, client, auth, org, roster):
    auth.login("bs")
    add(client, org, roster["a"])
    [original] = entries(app)
    auth.logout()
    auth.login("bs2")
    assert client.post(f"/entries/{original.id}/correct", data={"reason": "x"}, headers=HX).status_code == 404
    with app.app_context():
        db.session.get(User, org.branch_secretary_id).member_id = roster["a"]
        db.session.commit()
    auth.logout()
    auth.login("bs")
    assert client.post(f"/entries/{original.id}/correct", data={"reason": "x"}, headers=HX).status_code == 403
    assert len(entries(app)) == 1


def test_expired_session_on_inline_add_gets_401(client, org, roster):
    resp = add(client, org, roster["a"])
    assert resp.status_code == 401 and "HX-Redirect" in resp.headers


# --- meetings ---------------------------------------------------------------------------------

def meeting(client, org, statuses: dict, **extra):
    data = {"held_on": "2026-05-15", "kind": "org_life", "indicator": "J1", "topic": "五月主题党日",
            "idempotency_key": "m-100001", **extra}
    for mid, status in statuses.items():
        data[f"status-{mid}"] = status
    return client.post(f"/branches/{org.branch_id}/meetings/new", data=data)


def test_meeting_entered_once_for_the_branch(app, client, auth, org, roster):
    auth.login("bs")
    resp = meeting(client, org, {roster["a"]: "absent", roster["c"]: "attended", roster["d"]: "excused"},
                   **{f"leave-{roster['d']}": "住院"}, guest_ids=[str(roster["guest"])])
    assert resp.status_code == 302
    rows = entries(app)
    by_member = {e.member_id: e for e in rows}
    assert by_member[roster["c"]].indicator_code == "J1" and by_member[roster["c"]].meeting_id is not None
    assert (by_member[roster["a"]].indicator_code, str(by_member[roster["a"]].points)) == ("K1", "-3.0")
    assert roster["d"] not in by_member
    guest = by_member[roster["guest"]]
    assert guest.host_branch_id == org.branch_id and guest.branch_id == org.sibling_branch_id
    with app.app_context():
        assert db.session.scalar(select(Leave.reason).where(Leave.member_id == roster["d"])) == "住院"
        m = db.session.scalar(select(Meeting))
        assert (m.topic, m.expected_count) == ("五月主题党日", 2)


def test_the_secretary_present_at_their_own_meeting_is_recorded_in_the_one_save(app, client, auth, org, roster):
    """The meeting witnessed the secretary's attendance: one save records every line, and the
    secretary's own waits for another person to confirm it (four eyes), in the pending queue."""
    from qscore.models import SelfRecord

    with app.app_context():
        db.session.get(User, org.branch_secretary_id).member_id = roster["a"]
        db.session.commit()
    auth.login("bs")
    page = client.get(f"/branches/{org.branch_id}/meetings/new").get_data(as_text=True)
    assert "另一位" in page or "其他支委" in page  # the page says how the own line is handled
    resp = meeting(client, org, {m: "attended" for m in (roster["a"], roster["c"], roster["d"])})
    assert resp.status_code == 302
    assert {e.member_id for e in entries(app)} == {roster["c"], roster["d"]}
    flash = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "确认" in flash
    with app.app_context():
        [own] = db.session.scalars(select(SelfRecord)).all()
        m = db.session.scalar(select(Meeting))
        assert (own.member_id, own.status, own.origin, own.meeting_id) == (roster["a"], "pending", "meeting", m.id)
        assert m.expected_count == 3
    # The secretary cannot confirm it; the community secretary can, and it counts for the meeting.
    assert client.post(f"/self-records/{own.id}/confirm", headers=HX).status_code == 403
    auth.logout()
    auth.login("cs")
    assert client.post(f"/self-records/{own.id}/confirm", headers=HX).status_code == 200
    mine = entries(app, member_id=roster["a"])
    assert [(e.indicator_code, e.meeting_id, e.host_branch_id) for e in mine] == [("J1", m.id, org.branch_id)]
    assert mine[0].recorded_by_id == org.community_secretary_id


def test_meeting_with_a_member_undecided_writes_nothing(app, client, auth, org, roster):
    auth.login("bs")
    resp = meeting(client, org, {roster["a"]: "attended", roster["c"]: "attended"})
    assert resp.status_code == 422
    assert entries(app) == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Meeting)) == 0


def test_excused_without_leave_or_reason_is_refused(app, client, auth, org, roster):
    auth.login("bs")
    resp = meeting(client, org, {roster["a"]: "excused", roster["c"]: "attended", roster["d"]: "attended"})
    assert resp.status_code == 422 and entries(app) == []


def test_a_type_3_member_excused_gives_the_reason_in_the_lines_one_box(app, client, auth, org, roster):
    """The page names a type 3 member's box proof-<id> (it also takes the proof of attending where they live)."""
    auth.login("bs")
    resp = meeting(client, org, {roster["a"]: "attended", roster["c"]: "excused", roster["d"]: "attended"},
                   **{f"proof-{roster['c']}": "住院"})
    assert resp.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Leave.reason).where(Leave.member_id == roster["c"])) == "住院"


def test_attended_where_they_live_is_j1_with_proof_for_type_c_only(app, client, auth, org, roster):
    auth.login("bs")
    resp = meeting(client, org, {roster["a"]: "attended", roster["c"]: "home", roster["d"]: "attended"},
                   **{f"proof-{roster['c']}": "居住地社区开具证明"})
    assert resp.status_code == 302
    e = entries(app, member_id=roster["c"])[0]
    assert e.indicator_code == "J1" and "居住地社区开具证明" in e.note


def test_absence_on_a_registered_leave_is_not_deducted(app, client, auth, org, roster):
    with app.app_context():
        db.session.add(Leave(member_id=roster["d"], kind="health_exemption", starts_on=date(2026, 1, 1),
                             ends_on=date(2026, 12, 31), reason="卧床"))
        db.session.commit()
    client.set_cookie("qscore_lang", "en")
    auth.login("bs")
    resp = add(client, org, roster["d"], indicator="K1", note="缺席")
    assert resp.status_code == 422 and "registered leave" in resp.get_data(as_text=True)


def test_guest_search_shows_only_name_and_home_branch_of_flexible_branches(app, client, auth, org, roster):
    with app.app_context():
        from qscore.models import Member
        db.session.get(Member, roster["guest"]).phone = "13912345678"
        db.session.commit()
    auth.login("bs")
    body = client.get(f"/branches/{org.branch_id}/meetings/guests?q=赵", headers=HX).get_data(as_text=True)
    assert "赵强" in body and "再就业党支部" in body and "13912345678" not in body
    body = client.get(f"/branches/{org.branch_id}/meetings/guests?q=陈", headers=HX).get_data(as_text=True)
    assert "陈静" not in body  # an ordinary branch in another community


def test_attended_elsewhere_flags_the_home_k1_with_a_one_click_correction(app, client, auth, org, roster):
    auth.login("bs")
    meeting(client, org, {roster["a"]: "attended", roster["c"]: "attended", roster["d"]: "attended"},
            guest_ids=[str(roster["guest"])])
    auth.logout()
    with app.app_context():
        db.session.add(User(username="bs3", password_hash=db.session.get(User, org.admin_id).password_hash,
                            role="branch_secretary", street_id=org.street_id, community_id=org.community_id,
                            branch_id=org.sibling_branch_id))
        db.session.commit()
    client.set_cookie("qscore_lang", "en")
    auth.login("bs3")
    client.post(f"/branches/{org.sibling_branch_id}/members/{roster['guest']}/entries", headers=HX,
                data={"indicator": "K1", "earned_on": "2026-05-16", "note": "缺席"})
    page = client.get(f"/branches/{org.sibling_branch_id}/roster").get_data(as_text=True)
    assert "attended elsewhere" in page and "Correct the K1" in page
    k1 = entries(app, indicator_code="K1")[0]
    resp = client.post(f"/entries/{k1.id}/correct", headers=HX,
                       data={"reason": "Attended organisational life at another branch this month"})
    assert resp.status_code == 200 and "Correct the K1" not in resp.get_data(as_text=True)


def test_leave_registration(app, client, auth, org, roster):
    auth.login("bs")
    resp = client.post(f"/branches/{org.branch_id}/leaves", data={
        "member_id": roster["d"], "kind": "health_exemption", "starts_on": "2026-05-01", "ends_on": "2026-04-01",
        "reason": "术后休养"})
    assert resp.status_code == 422
    resp = client.post(f"/branches/{org.branch_id}/leaves", data={
        "member_id": roster["d"], "kind": "health_exemption", "starts_on": "2026-05-01", "ends_on": "2026-08-01",
        "reason": "术后休养"})
    assert resp.status_code == 302
    assert "术后休养" in client.get(f"/branches/{org.branch_id}/leaves").get_data(as_text=True)
    resp = client.post(f"/branches/{org.branch_id}/leaves", data={
        "member_id": roster["far"], "kind": "leave", "starts_on": "2026-05-01", "ends_on": "2026-05-02", "reason": "x"})
    assert resp.status_code == 422  # not a member of this branch


# --- likely mistakes ask first ---------------------------------------------------------------

def test_a_second_j1_the_same_day_asks_first_and_records_only_on_yes(app, client, auth, org, roster):
    auth.login("bs")
    assert add(client, org, roster["a"], idempotency_key="first-000001").status_code == 200
    resp = add(client, org, roster["a"], idempotency_key="second-00001")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "确定吗" in body and "已经有一条 J1 +1" in body
    assert len(entries(app)) == 1  # nothing yet
    resp = add(client, org, roster["a"], idempotency_key="second-00001", confirmed="y")
    assert resp.status_code == 200 and "已记录" in resp.get_data(as_text=True)
    assert len(entries(app)) == 2


def test_present_and_absent_the_same_day_asks_first(app, client, auth, org, roster):
    auth.login("bs")
    add(client, org, roster["a"], idempotency_key="first-000001", earned_on="2026-05-20")  # today
    resp = add(client, org, roster["a"], indicator="K1", note="未请假", idempotency_key="second-00001",
               earned_on="2026-05-20")
    assert "同一天既出席又缺席" in resp.get_data(as_text=True) and len(entries(app)) == 1
    # A quick button asks the same way, and its "yes" records it.
    url = f"/branches/{org.branch_id}/members/{roster['a']}/quick/J1"
    resp = client.post(url, data={"idempotency_key": "quick-000001"}, headers=HX)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "确定吗" in body and '"confirmed": "y"' in body and len(entries(app)) == 1
    assert client.post(url, data={"idempotency_key": "quick-000001", "confirmed": "y"}, headers=HX).status_code == 200
    assert len(entries(app)) == 2


def test_a_large_deduction_asks_first_at_the_streets_threshold(app, client, auth, org, roster):
    from qscore.street_settings import set_setting

    auth.login("bs")
    resp = add(client, org, roster["a"], indicator="K4", value="-5", note="参与赌博", idempotency_key="k4-00000001")
    assert "这将扣除" in resp.get_data(as_text=True) and entries(app) == []
    assert add(client, org, roster["a"], indicator="K3", value="-3", note="未完成任务",
               idempotency_key="k3-00000001").status_code == 200  # under the threshold: no question
    with app.app_context():
        set_setting(org.street_id, "deduction_confirm_points", 10)
        db.session.commit()
    resp = add(client, org, roster["c"], indicator="K4", value="-5", note="参与赌博", idempotency_key="k4-00000002")
    assert "这将扣除" not in resp.get_data(as_text=True) and len(entries(app)) == 2


# --- the veto is its own action ----------------------------------------------------------------

def test_the_veto_is_not_in_the_entry_list_but_its_own_confirmed_action(app, client, auth, org, roster):
    auth.login("bs")
    form = client.get(f"/branches/{org.branch_id}/members/{roster['a']}/add", headers=HX).get_data(as_text=True)
    assert 'value="V"' not in form and f"/members/{roster['a']}/veto" in form
    assert add(client, org, roster["a"], indicator="V", note="处分决定").status_code == 422  # not a choice here
    url = f"/branches/{org.branch_id}/members/{roster['a']}/veto"
    page = client.get(url, headers=HX).get_data(as_text=True)
    assert "计为 0 分" in page and "限期整改" in page
    data = {"earned_on": "2026-05-18", "note": "街道纪工委处分决定〔2026〕3号", "idempotency_key": "veto-0000001"}
    resp = client.post(url, data=data, headers=HX)
    assert resp.status_code == 422 and "请勾选确认" in resp.get_data(as_text=True) and entries(app) == []
    resp = client.post(url, data={**data, "note": "", "confirm": "y"}, headers=HX)
    assert resp.status_code == 422 and entries(app) == []
    resp = client.post(url, data={**data, "confirm": "y"}, headers=HX)
    assert resp.status_code == 200
    [veto] = entries(app)
    assert veto.indicator_code == "V" and veto.note == data["note"]
    assert year_score(app, roster["a"]) == "0"


# --- hostile input: each field of each entry form in turn, and the pages' query parameters -------

CONTROL = "含有看不见的控制字符，请重新输入。"
TEXT_ATTACKS = [("名\x00字", CONTROL), ("名\x01\x1f字", CONTROL), ("名\u202e字\u2066", CONTROL), ("\ufeff名", CONTROL),
                ("长" * 100_000, "最多 ")]
DATE_ATTACKS = [("99999-01-01", "请填写日期。"), ("2026-02-30", "请填写日期。"), ("1e309", "请填写日期。"),
                ("名\x00", "请填写日期。"), ("9" * 40, "请填写日期。"), ("1999-12-31", "2100")]
POINTS_ATTACKS = [("9" * 40, "请输入数字"), ("1e309", "之间，最多一位小数"), ("NaN", "请输入数字"), ("Infinity", "请输入数字"),
                  ("-1e309", "之间，最多一位小数"), ("2.55", "最多一位小数"), ("名\x00", "请输入数字")]
CHOICE_ATTACKS = [("J1\x00", "不是有效的选择"), ("长" * 100_000, "不是有效的选择"), ("9" * 40, "不是有效的选择")]


def written(app) -> tuple[int, ...]:
    """What any entry-area form writes: entries, meetings, leaves, self-records, audit rows."""
    from qscore.models import SelfRecord

    with app.app_context():
        return tuple(db.session.scalar(select(func.count()).select_from(m))
                     for m in (PointEntry, Meeting, Leave, SelfRecord, AuditLog))


def refused(app, resp, message: str, before: tuple[int, ...]) -> None:
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422, (resp.status_code, body[:300])
    assert message in body
    assert written(app) == before


@pytest.mark.parametrize(("field", "value", "message"), [
    *[("note", v, m) for v, m in TEXT_ATTACKS],
    *[("earned_on", v, m) for v, m in DATE_ATTACKS], ("earned_on", "", "请填写日期。"),
    *[("value", v, m) for v, m in POINTS_ATTACKS],
    *[("indicator", v, m) for v, m in CHOICE_ATTACKS],
])
def test_hostile_input_to_the_inline_entry_is_refused_in_chinese(app, client, auth, org, roster, field, value, message):
    auth.login("bs")
    before = written(app)
    data = {"indicator": "Z3", "value": "2", "earned_on": "2026-05-18", "note": "社区清扫", field: value}
    refused(app, client.post(f"/branches/{org.branch_id}/members/{roster['a']}/entries", data=data, headers=HX),
            message, before)


def test_a_field_given_twice_counts_once_the_first_time(app, client, auth, org, roster):
    auth.login("bs")
    url = f"/branches/{org.branch_id}/members/{roster['a']}/entries"
    before = written(app)
    data = {"indicator": "J1", "earned_on": "2026-05-18", "note": ["名\x00", "会议"]}
    refused(app, client.post(url, data=data, headers=HX), CONTROL, before)
    assert client.post(url, data={**data, "note": ["会议", "名\x00"]}, headers=HX).status_code == 200
    [e] = entries(app)
    assert e.note == "会议"


@pytest.mark.parametrize(("field", "value", "message"), [
    *[("note", v, m) for v, m in TEXT_ATTACKS], ("note", "  ", "请写明依据的决定"),
    *[("earned_on", v, m) for v, m in DATE_ATTACKS],
])
def test_hostile_input_to_the_veto_is_refused_in_chinese(app, client, auth, org, roster, field, value, message):
    auth.login("bs")
    before = written(app)
    data = {"earned_on": "2026-05-18", "note": "处分决定〔2026〕3号", "confirm": "y", field: value}
    refused(app, client.post(f"/branches/{org.branch_id}/members/{roster['a']}/veto", data=data, headers=HX),
            message, before)


@pytest.mark.parametrize(("value", "message"), [*TEXT_ATTACKS, ("", "请填写此项。")])
@pytest.mark.parametrize("on", ["", "?on=booklet"])
def test_hostile_reason_for_an_undo_is_refused_in_chinese(app, client, auth, org, roster, value, message, on):
    auth.login("bs")
    assert add(client, org, roster["a"]).status_code == 200
    [entry] = entries(app)
    before = written(app)
    refused(app, client.post(f"/entries/{entry.id}/correct{on}", data={"reason": value}, headers=HX), message, before)


@pytest.mark.parametrize("codes", [["J1\x00"], ["长" * 100_000], ["J1", "NOPE"], ["9" * 40]])
def test_quick_buttons_refuse_codes_the_page_did_not_offer(app, client, auth, org, roster, codes):
    from qscore.models import Branch

    auth.login("bs")
    before = written(app)
    resp = client.post(f"/branches/{org.branch_id}/quick", data={"codes": codes}, headers=HX)
    assert resp.status_code == 422 and "不是有效的选择" in resp.get_data(as_text=True)
    assert written(app) == before
    with app.app_context():
        assert db.session.get(Branch, org.branch_id).quick_indicators == "J1,Z3"


def meeting_data(roster, **changes) -> dict:
    data = {"held_on": "2026-05-15", "kind": "org_life", "indicator": "J1", "topic": "五月主题党日", "hours": "",
            f"status-{roster['a']}": "attended", f"status-{roster['c']}": "home", f"proof-{roster['c']}": "居住地社区证明",
            f"status-{roster['d']}": "excused", f"leave-{roster['d']}": "住院", "guest_ids": str(roster["guest"])}
    return {**data, **changes}


@pytest.mark.parametrize(("field", "value", "message"), [
    *[("topic", v, m) for v, m in TEXT_ATTACKS], ("topic", " ", "请填写此项。"),
    *[("held_on", v, m) for v, m in DATE_ATTACKS], ("held_on", "", "请填写日期。"),
    *[("hours", v, m) for v, m in POINTS_ATTACKS], ("hours", "0", "应在 0.1 到 999.9 之间"),
    *[("indicator", v, m) for v, m in CHOICE_ATTACKS], *[("kind", v, m) for v, m in CHOICE_ATTACKS],
    *[("guest_ids", v, "不是列表中的选项") for v in ("9" * 40, "-5", "1e309", "名\x00", str(2**31))],
    *[("leave-d", v, m) for v, m in TEXT_ATTACKS], *[("proof-c", v, m) for v, m in TEXT_ATTACKS],
    *[("status-a", v, m) for v, m in CHOICE_ATTACKS],
])
def test_hostile_input_to_the_meeting_form_is_refused_in_chinese(app, client, auth, org, roster, field, value,
                                                                 message):
    auth.login("bs")
    if field[-2:] in ("-a", "-c", "-d"):
        field = f"{field[:-2]}-{roster[field[-1]]}"
    before = written(app)
    resp = client.post(f"/branches/{org.branch_id}/meetings/new", data=meeting_data(roster, **{field: value}))
    refused(app, resp, message, before)


def test_the_meeting_form_as_filled_in_above_is_recorded(app, client, auth, org, roster):
    """The hostile cases change one field of this form, which the branch can record."""
    auth.login("bs")
    resp = client.post(f"/branches/{org.branch_id}/meetings/new", data=meeting_data(roster))
    assert resp.status_code == 302 and len(entries(app)) == 3


@pytest.mark.parametrize(("field", "value", "message"), [
    *[("reason", v, m) for v, m in TEXT_ATTACKS], ("reason", "", "请填写此项。"),
    *[("starts_on", v, m) for v, m in DATE_ATTACKS], *[("ends_on", v, m) for v, m in DATE_ATTACKS],
    *[("member_id", v, "不是列表中的选项") for v in ("9" * 40, "-5", "1e309", "名\x00", str(2**31), "99999")],
    *[("kind", v, m) for v, m in CHOICE_ATTACKS],
])
def test_hostile_input_to_the_leave_form_is_refused_in_chinese(app, client, auth, org, roster, field, value, message):
    auth.login("bs")
    before = written(app)
    refused(app, client.post(f"/branches/{org.branch_id}/leaves", data=leave_data(roster, **{field: value})),
            message, before)


def leave_data(roster, **changes) -> dict:
    return {"member_id": roster["d"], "kind": "leave", "starts_on": "2026-05-01", "ends_on": "2026-05-02",
            "reason": "探亲", **changes}


def test_the_leave_form_as_filled_in_above_is_recorded(app, client, auth, org, roster):
    auth.login("bs")
    assert client.post(f"/branches/{org.branch_id}/leaves", data=leave_data(roster)).status_code == 302
    assert written(app)[2] == 1


QUERY_ATTACKS = ["名\x00", "长" * 5_000, "9" * 40, "-1", "1e309", "NaN", "99999-01-01", "%00", "\u202e"]


@pytest.mark.parametrize("value", QUERY_ATTACKS)
def test_hostile_query_parameters_of_the_entry_pages_never_answer_500(app, client, auth, org, roster, value):
    auth.login("bs")
    assert add(client, org, roster["a"]).status_code == 200
    [entry] = entries(app)
    b, a = org.branch_id, roster["a"]
    pages = [f"/branches/{b}/members/{a}/add?indicator={{v}}&keep=1&value={{v}}&earned_on={{v}}&note={{v}}",
             f"/branches/{b}/members/{a}/add?indicator=Z3&keep={{v}}&value={{v}}",
             f"/branches/{b}/meetings/new?kind={{v}}", f"/branches/{b}/meetings/guests?q={{v}}",
             f"/entries/{entry.id}/correct?on={{v}}", f"/branches/{b}/roster?page={{v}}", f"/branches/{b}/leaves?x={{v}}"]
    for page in pages:
        resp = client.get(page.format(v=quote(value)), headers=HX)
        assert resp.status_code == 200, (page, resp.status_code)


def test_the_entry_form_drawn_again_keeps_only_what_passes_its_field(app, client, auth, org, roster):
    auth.login("bs")
    url = f"/branches/{org.branch_id}/members/{roster['a']}/add"
    body = client.get(f"{url}?indicator=Z3&keep=1&value=2.5&earned_on=2026-05-02&note=%E5%B7%A1%E9%80%BB",
                      headers=HX).get_data(as_text=True)
    assert 'value="2.5"' in body and 'value="2026-05-02"' in body and 'value="巡逻"' in body
    body = client.get(f"{url}?indicator=Z3&keep=1&value=1e309&earned_on=99999-01-01&note=%00",
                      headers=HX).get_data(as_text=True)
    assert "1e309" not in body and "99999" not in body and "\x00" not in body
    assert 'value="2026-05-20"' in body  # today, as a new form has it


def test_an_inline_add_holds_the_write_lock_only_while_it_writes(app, client, auth, org, roster):
    """SQLite: the add's checks and write are one BEGIN IMMEDIATE transaction; scoring the branch and rendering
    the row afterwards read without the write lock, so another secretary's add does not wait for them."""
    from sqlalchemy import event

    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def seen(conn, cursor, statement, *args):
        statements.append(statement.strip().split()[0].upper() + (" IMMEDIATE" if "IMMEDIATE" in statement else ""))

    auth.login("bs")
    event.listen(engine, "before_cursor_execute", seen)
    try:
        resp = add(client, org, roster["a"])
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert resp.status_code == 200 and "score-cell" in resp.get_data(as_text=True)
    if engine.dialect.name != "sqlite":
        return  # PostgreSQL locks the branch row instead (qscore/branch_lock.py)
    immediate = [i for i, s in enumerate(statements) if s == "BEGIN IMMEDIATE"]
    writes = [i for i, s in enumerate(statements) if s in ("INSERT", "UPDATE", "DELETE")]
    assert len(immediate) == 1 and writes and immediate[0] < writes[0]
    assert any(s == "SELECT" for s in statements[writes[-1]:])  # the branch is scored after the write
