"""The scheme of the year: shown as the secretaries see it, edited in place before the first
publication and as new versions after, validated as a whole, copied to next year, shared as JSON."""
from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from qscore.db import db
from qscore.ledger import record_entry
from qscore.models import AuditLog, Member, PointEntry, Publication, SchemeVersion
from qscore.scheme import default_scheme_data
from qscore.scheme_versions import scheme_for_year
from qscore.scoring import score_members

from .conftest import FIXED_TODAY, make_member


@pytest.fixture
def admin(client, auth, org):
    client.set_cookie("qscore_lang", "en")
    auth.login("admin")
    return client


def versions(app, year=2026):
    with app.app_context():
        rows = db.session.scalars(select(SchemeVersion).where(SchemeVersion.year == year)
                                  .order_by(SchemeVersion.version)).all()
        db.session.expunge_all()
        return rows


def edit_form(admin, year=2026) -> dict:
    """The edit form's fields as the browser would send them."""
    from html.parser import HTMLParser

    html = admin.get(f"/admin/scheme/{year}/edit").get_data(as_text=True)
    fields: dict = {}

    class P(HTMLParser):
        select = None

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "input" and a.get("name"):
                if a.get("type") == "checkbox":
                    if "checked" in a:
                        fields[a["name"]] = a.get("value", "y")
                else:
                    fields[a["name"]] = a.get("value", "")
            elif tag == "select":
                self.select = a.get("name")
                fields.setdefault(self.select, "")
            elif tag == "option" and self.select and "selected" in a:
                fields[self.select] = a.get("value", "")
            elif tag == "textarea":
                self.select = None
                self.textarea = a.get("name")

        def handle_endtag(self, tag):
            if tag == "select":
                self.select = None
            if tag == "textarea":
                self.textarea = None

        def handle_data(self, data):
            if getattr(self, "textarea", None):
                fields[self.textarea] = fields.get(self.textarea, "") + data

    P().feed(html)
    return fields


def index_of(code: str) -> int:
    return [i["code"] for i in default_scheme_data()["indicators"]].index(code)


def test_view_shows_the_scheme_as_secretaries_see_it(admin, org):
    page = admin.get("/admin/scheme/2026").get_data(as_text=True)
    for text in ("Types, bases and caps", "Community-worker members", "Attend theme party day", "Grade rules", "Branch index",
                 "month 2", "year 14", "-3", "heavier deduction", "Version 1", "shipped default"):
        assert text in page, text
    assert admin.get("/admin/scheme").headers["Location"].endswith("/admin/scheme/2026")


def test_edit_in_place_before_the_first_publication(app, admin, org):
    fields = edit_form(admin)
    assert fields["t-A-base"] == "50" and fields["i0-month_cap"] == "2" and fields["th-advanced_min"] == "90"
    fields["t-A-base"] = "52"
    fields[f"i{index_of('Z3')}-notes"] = "按小时计"
    resp = admin.post("/admin/scheme/2026/edit", data=fields)
    assert resp.status_code == 303, resp.get_data(as_text=True)[-3000:]
    (v,) = versions(app)
    assert v.version == 1 and v.data["types"][0]["base"] == 52
    assert v.data["indicators"][index_of("Z3")]["notes"] == "按小时计"
    # Unedited values survive the round trip exactly.
    original = default_scheme_data()
    assert v.data["indicators"][index_of("J1")] == original["indicators"][index_of("J1")]
    assert v.data["branch_index"] == original["branch_index"]
    with app.app_context():
        row = db.session.scalar(select(AuditLog).where(AuditLog.action == "scheme_saved"))
        assert row.before["types"][0]["base"] == 50 and row.after["types"][0]["base"] == 52


def test_after_publication_a_change_is_a_new_version_with_a_reason(app, admin, org):
    with app.app_context(), app.test_request_context():
        m = make_member(org.branch_id, "张伟", "A")
        record_entry(member=m, indicator_code="J2", value=None, earned_on=date(2026, 2, 3), note="", user=None,
                     today=FIXED_TODAY)
        db.session.add(Publication(branch_id=org.branch_id, year=2026, quarter=1, supervision_ends_on=date(2026, 4, 9),
                                   snapshot="[]", sha256="0" * 64))
        db.session.commit()
        mid = m.id
    fields = edit_form(admin)
    fields[f"i{index_of('J2')}-points"] = "2"
    fields["t-A-base"] = "55"
    resp = admin.post("/admin/scheme/2026/edit", data=fields)
    assert resp.status_code == 422
    assert "The year has published quarters: say why" in resp.get_data(as_text=True)
    assert len(versions(app)) == 1
    fields["reason"] = "街道党工委会议决定提高基分"
    assert admin.post("/admin/scheme/2026/edit", data=fields).status_code == 303
    v1, v2 = versions(app)
    assert (v1.data["types"][0]["base"], v2.data["types"][0]["base"]) == (50, 55)  # the old version is kept
    assert v2.version == 2 and v2.reason == "街道党工委会议决定提高基分"
    with app.app_context():
        assert db.session.scalar(select(PointEntry.points)) == Decimal("1.0")  # recorded points stay
        s = score_members(db.session, scheme_for_year(2026), 2026, FIXED_TODAY, [db.session.get(Member, mid)])[mid]
        assert s.base == Decimal("55")  # bases follow the latest version
    page = admin.get("/admin/scheme/2026").get_data(as_text=True)
    assert "Version 2" in page and "街道党工委会议决定提高基分" in page
    assert "50" in admin.get("/admin/scheme/2026?version=1").get_data(as_text=True)


@pytest.mark.parametrize(("changes", "message"), [
    ({"i0-month_cap": "-1"}, "indicator J1: month_cap must be positive"),
    ({"i0-year_cap": "0"}, "indicator J1: year_cap must be positive"),
    ({"t-B-basic_cap": "0"}, "type B: caps must be positive"),
    ({"I-K2-points": "2"}, "indicator K2: deductions must be negative"),
    ({"I-V-points": "-1"}, "indicator V: the veto&#39;s points must be 0"),
    ({"I-J3-points": "-1"}, "indicator J3: points must be positive"),
    ({"th-qualified_min": "95"}, "thresholds: qualified_min must be below advanced_min"),
    ({"w-attendance_rate": "0.3"}, "branch index weights must add up to 1"),
    ({"th-rectify_streak_months": "13"}, "thresholds: rectify_streak_months must be 1 to 12"),
])
def test_scheme_rules_are_checked_and_every_problem_listed(app, admin, org, changes, message):
    fields = edit_form(admin)
    for k, v in changes.items():
        if k.startswith("I-"):
            _i, code, key = k.split("-")
            k = f"i{index_of(code)}-{key}"
        fields[k] = v
    fields["t-A-base"] = "-5"  # a second problem: both are listed
    resp = admin.post("/admin/scheme/2026/edit", data=fields)
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert message in body and "type A: the base must not be negative" in body and "Nothing was saved." in body
    (v,) = versions(app)
    assert v.data == default_scheme_data()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("t-A-base", "fifty", "“fifty” is not a number."),
    ("t-A-base", "", "Enter a number."),
    ("i0-points_options", "1, x", "Numbers separated by commas"),
    ("th-warning_streak_months", "2.5", "A whole number."),
    ("rect-period", "0", "Whole months from 1 to 24."),
])
def test_bad_numbers_are_marked_at_their_field(app, admin, org, field, value, message):
    fields = edit_form(admin)
    fields[field] = value
    resp = admin.post("/admin/scheme/2026/edit", data=fields)
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert message in body and f'id="{field}-error"' in body and f'value="{value}"' in body
    assert versions(app)[0].data == default_scheme_data()


def test_an_indicator_must_apply_to_some_type(app, admin, org):
    fields = edit_form(admin)
    for t in "ABCD":
        fields.pop(f"i0-applies-{t}", None)
    resp = admin.post("/admin/scheme/2026/edit", data=fields)
    assert resp.status_code == 422 and "Tick at least one type." in resp.get_data(as_text=True)


def test_add_and_retire_indicators(app, admin, org):
    fields = edit_form(admin)
    fields.update({"new-code": "z8", "new-category": "Z", "new-zh": "垃圾分类督导", "new-en": "Waste sorting duty",
                   "new-points": "1", "new-unit": "month on duty", "new-month_cap": "1", "new-year_cap": "6",
                   "new-points_by_type-D": "2"})
    fields[f"i{index_of('J2')}-retired"] = "y"
    assert admin.post("/admin/scheme/2026/edit", data=fields).status_code == 303
    data = versions(app)[0].data
    new = data["indicators"][-1]
    assert new == {"code": "Z8", "category": "Z", "zh": "垃圾分类督导", "en": "Waste sorting duty",
                   "unit": "month on duty", "points": 1, "month_cap": 1, "year_cap": 6,
                   "points_by_type": {"D": 2}, "applies_to": ["A", "B", "C", "D"]}
    assert data["indicators"][index_of("J2")]["retired"] is True
    assert len(data["indicators"]) == 20 and [c["code"] for c in data["categories"]] == ["J", "Z", "K"]
    with app.app_context():
        scheme = scheme_for_year(2026)
        assert scheme.indicators["J2"].retired and scheme.indicators["Z8"].points_for("D") == 2
    page = admin.get("/admin/scheme/2026").get_data(as_text=True)
    assert "Waste sorting duty" in page and "retired" in page
    # The same code twice is refused.
    fields = edit_form(admin)
    fields.update({"new-code": "Z8", "new-category": "Z", "new-zh": "重复", "new-points": "1"})
    resp = admin.post("/admin/scheme/2026/edit", data=fields)
    assert resp.status_code == 422 and "The scheme already has an indicator Z8." in resp.get_data(as_text=True)


def test_nothing_changed_writes_nothing(app, admin, org):
    resp = admin.post("/admin/scheme/2026/edit", data=edit_form(admin), follow_redirects=True)
    assert "Nothing changed." in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(AuditLog).where(AuditLog.action == "scheme_saved")) is None


def test_start_next_years_scheme_as_a_copy(app, admin, org):
    fields = edit_form(admin)
    fields["t-D-base"] = "66"
    admin.post("/admin/scheme/2026/edit", data=fields)
    page = admin.get("/admin/scheme/2026").get_data(as_text=True)
    assert "Start 2027" in page
    assert admin.get("/admin/scheme/2027").status_code == 404  # not until started
    resp = admin.post("/admin/scheme/2027/start")
    assert resp.status_code == 303
    (v,) = versions(app, 2027)
    assert v.data["types"][3]["base"] == 66 and v.reason == "copied from 2026"
    assert admin.get("/admin/scheme/2027").status_code == 200
    assert admin.post("/admin/scheme/2030/start").status_code == 404


def test_export_and_import_json(app, admin, org):
    resp = admin.get("/admin/scheme/2026/export.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    data = json.loads(resp.data)
    assert data == default_scheme_data()
    assert "grade_thresholds" in data and "weights" in data["branch_index"]
    data["types"][0]["base"] = 48
    data["grade_thresholds"]["advanced_min"] = 88
    upload = {"file": (io.BytesIO(json.dumps(data, ensure_ascii=False).encode()), "other-street.json"), "reason": ""}
    resp = admin.post("/admin/scheme/2026/import", data=upload, content_type="multipart/form-data")
    assert resp.status_code == 303
    (v,) = versions(app)
    assert v.data["types"][0]["base"] == 48 and v.data["grade_thresholds"]["advanced_min"] == 88


@pytest.mark.parametrize(("content", "message"), [
    (b"{not json", "The file is not JSON"),
    (json.dumps({"types": []}).encode(), "the scheme must define the four types A, B, C and D"),
])
def test_a_bad_import_writes_nothing(app, admin, org, content, message):
    upload = {"file": (io.BytesIO(content), "bad.json"), "reason": ""}
    resp = admin.post("/admin/scheme/2026/import", data=upload, content_type="multipart/form-data")
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    assert versions(app)[0].data == default_scheme_data()


def test_a_bad_import_lists_every_problem(app, admin, org):
    data = default_scheme_data()
    data["types"][1]["contribution_cap"] = -1
    data["indicators"][index_of("K1")]["points"] = 3
    data["branch_index"]["weights"]["attendance_rate"] = 0.5
    upload = {"file": (io.BytesIO(json.dumps(data).encode()), "bad.json"), "reason": ""}
    body = admin.post("/admin/scheme/2026/import", data=upload, content_type="multipart/form-data").get_data(
        as_text=True)
    for problem in ("type B: caps must be positive", "indicator K1: deductions must be negative",
                    "branch index weights must add up to 1"):
        assert problem in body


def test_years_outside_the_window_are_read_only_or_missing(admin, org):
    assert admin.get("/admin/scheme/2019").status_code == 404
    assert admin.get("/admin/scheme/2019/edit").status_code == 404


def test_button_labels_and_chinese_notes_survive_edit_export_and_import(app, admin, org):
    j1, z3 = index_of("J1"), index_of("Z3")
    fields = edit_form(admin)
    assert fields[f"i{j1}-short_zh"] == "出席" and fields[f"i{j1}-short_en"] == "Attended"
    assert fields[f"i{z3}-notes_zh"].startswith("每条记录以服务时长为数量")
    fields[f"i{j1}-short_zh"], fields[f"i{j1}-short_en"] = "参会", "Came"
    fields[f"i{z3}-notes_zh"] = "按小时计分"
    assert admin.post("/admin/scheme/2026/edit", data=fields).status_code == 303
    data = json.loads(admin.get("/admin/scheme/2026/export.json").data)
    assert data["indicators"][j1]["short_zh"] == "参会" and data["indicators"][j1]["short_en"] == "Came"
    assert data["indicators"][z3]["notes_zh"] == "按小时计分"
    data["indicators"][j1]["short_zh"] = "出席会议"
    upload = {"file": (io.BytesIO(json.dumps(data, ensure_ascii=False).encode()), "s.json"), "reason": ""}
    assert admin.post("/admin/scheme/2026/import", data=upload, content_type="multipart/form-data").status_code == 303
    with app.app_context():
        j1_now = scheme_for_year(2026).indicators["J1"]
        assert (j1_now.short_zh, j1_now.short_en) == ("出席会议", "Came")
        assert scheme_for_year(2026).indicators["Z3"].notes_zh == "按小时计分"


def test_a_button_label_that_does_not_fit_is_refused(app, admin, org):
    fields = edit_form(admin)
    fields[f"i{index_of('J1')}-short_zh"] = "参加主题党日和支部大会"
    resp = admin.post("/admin/scheme/2026/edit", data=fields)
    assert resp.status_code == 422 and "At most 8 characters." in resp.get_data(as_text=True)
    data = default_scheme_data()
    data["indicators"][0]["short_en"] = "Attended the theme party day"
    upload = {"file": (io.BytesIO(json.dumps(data).encode()), "s.json"), "reason": ""}
    resp = admin.post("/admin/scheme/2026/import", data=upload, content_type="multipart/form-data")
    assert resp.status_code == 422 and "indicator J1: a button label" in resp.get_data(as_text=True)


def test_the_chinese_scheme_page_is_chinese(app, client, auth, org):
    """Notes, units and the version's reason in Chinese, for a year stored before the scheme had notes_zh."""
    old = default_scheme_data()
    for ind in old["indicators"]:
        for k in ("notes_zh", "short_zh", "short_en"):
            ind.pop(k, None)
    old["indicators"][index_of("K2")]["notes"] = "Our own note."
    with app.app_context():
        db.session.add(SchemeVersion(year=2025, version=1, data=old, reason="shipped default"))
        db.session.add(SchemeVersion(year=2026, version=1, data=old, reason="copied from 2025"))
        db.session.commit()
        j1 = scheme_for_year(2026).indicators["J1"]
        assert (j1.short_zh, j1.short_en) == ("出席", "Attended")  # the shipped default's, the name being its own
        assert scheme_for_year(2026).indicators["K2"].notes_zh == ""  # edited notes borrow nothing
    auth.login("admin")
    page = client.get("/admin/scheme/2026").get_data(as_text=True)
    for text in ("复制自 2025 年度方案", "按出席次数计", "按服务小时计", "第三类：在现居住地所在党组织参加",
                 "Our own note."):
        assert text in page, text
    for text in ("copied from", "attendance<", "C: attendance at the host organisation"):
        assert text not in page, text
    assert "复制自系统默认方案" in client.get("/admin/scheme/2025").get_data(as_text=True)
