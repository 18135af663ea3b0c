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
from qscore.scheme_versions import ensure_year, scheme_for_year
from qscore.scoring import score_members

from .conftest import FIXED_TODAY, make_member


@pytest.fixture
def admin(app, client, auth, org):
    with app.app_context(), app.test_request_context():  # the year's version 1 is stored: what a save replaces
        ensure_year(2026)
        db.session.commit()
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


def field_names(changes: dict) -> dict:
    """{"I-K2-points": v} names the field of indicator K2 by its code."""
    out = {}
    for k, v in changes.items():
        if k.startswith("I-"):
            _i, code, key = k.split("-", 2)
            k = f"i{index_of(code)}-{key}"
        out[k] = v
    return out


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"I-K2-points": "2"}, "I-K2-points", "deductions must be negative"),
    ({"I-V-points": "-1"}, "I-V-points", "the veto&#39;s points must be 0"),
    ({"I-J3-points": "-1"}, "I-J3-points", "must be positive"),
    ({"I-Z4-points": "4"}, "I-Z4-points", "must be one of the allowed values (points_options)"),
    ({"I-Z3-points_options": "0.5, 1"}, "I-Z3-points_options", "an hours indicator cannot have point options"),
    ({"th-qualified_min": "95"}, "th-qualified_min", "must be below advanced_min (90)"),
    ({"w-attendance_rate": "0.3"}, None, "branch_index.weights: the weights must add up to 1"),
])
def test_scheme_rules_are_checked_and_every_problem_listed(app, admin, org, changes, field, message):
    fields = edit_form(admin)
    fields.update(field_names(changes))
    fields[f"i{index_of('K1')}-points"] = "1"  # a second problem: both are shown
    resp = admin.post("/admin/scheme/2026/edit", data=fields)
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert message in body and "Nothing was saved." in body
    if field:  # at its field, and the indicator it belongs to is open
        (name,) = field_names({field: ""})
        assert f'id="{name}-error">{message}<' in body
    assert f'id="i{index_of("K1")}-points-error">deductions must be negative<' in body
    assert 'id="indicator-K1" open' in body
    (v,) = versions(app)
    assert v.data == default_scheme_data()


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"i0-month_cap": "-1"}, "i0-month_cap", "must be more than 0 and at most 1000"),
    ({"i0-year_cap": "0"}, "i0-year_cap", "must be more than 0 and at most 1000"),
    ({"t-B-basic_cap": "0"}, "t-B-basic_cap", "must be more than 0 and at most 1000"),
    ({"t-A-base": "-5"}, "t-A-base", "must be a number from 0 to 1000"),
    ({"t-A-base": "5000"}, "t-A-base", "must be a number from 0 to 1000"),
    ({"I-J1-points": "1000.5"}, "I-J1-points", "must be a number from -1000 to 1000"),
    ({"th-rectify_streak_months": "13"}, "th-rectify_streak_months", "must be a whole number from 1 to 12"),
    ({"w-attendance_rate": "1.2"}, "w-attendance_rate", "must be a number from 0 to 1"),
    ({"I-J1-zh": "", "I-J1-en": "Attended"}, "I-J1-zh", "must not be empty"),
    ({"c-J-zh": ""}, "c-J-zh", "must not be empty"),
    ({"I-J1-unit": "furlong"}, "I-J1-unit", "must be one of: attendance, absence, hour"),
    ({"new-code": "Z8", "new-category": "Z", "new-zh": "新指标", "new-points": "1", "new-unit": "furlong"},
     "new-unit", "must be one of: attendance"),
    # An option of 0.25 would be recorded as 0.3 (the ledger keeps tenths).
    ({"I-J1-points": "1.25"}, "I-J1-points", "at most 1 decimal place (the ledger records tenths of a point)"),
    ({"I-Z4-points_options": "3, 5.05"}, "I-Z4-points_options",
     "at most 1 decimal place (the ledger records tenths of a point)"),
    ({"I-K1-points_by_type-A": "-3.25"}, "I-K1-points_by_type-A",
     "at most 1 decimal place (the ledger records tenths of a point)"),
])
def test_the_editor_refuses_what_an_import_refuses(app, admin, org, changes, field, message):
    """The editor's save goes through the import's schema: the problem is shown at the field typed in."""
    fields = edit_form(admin)
    fields.update(field_names(changes))
    resp = admin.post("/admin/scheme/2026/edit", data=fields)
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    (name,) = field_names({field: ""})
    assert f'id="{name}-error">{message}' in body and "Nothing was saved." in body
    assert versions(app)[0].data == default_scheme_data()


def test_a_value_the_form_does_not_show_is_listed_with_its_path(app, admin, org):
    """A scheme stored before the import was checked (code null stored as "None") cannot be saved as it is."""
    data = default_scheme_data()
    data["indicators"].append({**data["indicators"][index_of("Z5")], "code": "None"})
    with app.app_context():
        db.session.scalar(select(SchemeVersion).where(SchemeVersion.year == 2026)).data = data
        db.session.commit()
    fields = edit_form(admin)
    resp = admin.post("/admin/scheme/2026/edit", data=fields)
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert "indicators[19].code: a capital letter, then up to 7 capital letters or digits (e.g. Z8)" in body
    assert 'id="indicator-None" open' in body
    assert versions(app)[0].data == data


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
    (b"{not json", "The file is not valid JSON: line 1, column 2: a key in double quotes was expected here"),
    (json.dumps({"types": []}).encode(), "types: must hold exactly 4 items"),
])
def test_a_bad_import_writes_nothing(app, admin, org, content, message):
    upload = {"file": (io.BytesIO(content), "bad.json"), "reason": ""}
    resp = admin.post("/admin/scheme/2026/import", data=upload, content_type="multipart/form-data")
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    assert versions(app)[0].data == default_scheme_data()


def test_a_bad_import_lists_every_problem(app, admin, org):
    data = default_scheme_data()
    data["indicators"][index_of("J3")]["points"] = -1
    data["indicators"][index_of("K1")]["points"] = 3
    data["grade_thresholds"]["qualified_min"] = 95
    data["branch_index"]["weights"]["attendance_rate"] = 0.5
    upload = {"file": (io.BytesIO(json.dumps(data).encode()), "bad.json"), "reason": ""}
    body = admin.post("/admin/scheme/2026/import", data=upload, content_type="multipart/form-data").get_data(
        as_text=True)
    for problem in ("indicators[2].points (J3): must be positive",
                    "indicators[14].points (K1): deductions must be negative",
                    "grade_thresholds.qualified_min: must be below advanced_min (90)",
                    "branch_index.weights: the weights must add up to 1"):
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
    assert resp.status_code == 422
    assert "indicators[0].short_en (J1): at most 24 characters" in resp.get_data(as_text=True)


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
