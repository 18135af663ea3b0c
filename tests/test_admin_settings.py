"""The street's settings: defaults with explanations, validation, and an audited save."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from qscore.db import db
from qscore.models import AuditLog
from qscore.street_settings import DEFAULTS, all_settings


@pytest.fixture
def admin(client, auth, org):
    client.set_cookie("qscore_lang", "en")
    auth.login("admin")
    return client


GOOD = {"office_phone": "0571-8888 6666", "opinion_box": "社区服务中心一楼", "query_public_url": "",
        "board_rotation_seconds": "30", "supervision_days": "7", "mask_names": "y",
        "flexible_branch_kinds": ["reemployment", "mobile"], "timezone": "Asia/Shanghai",
        "deduction_confirm_points": "5"}


def settings(app, org):
    with app.app_context():
        return all_settings(org.street_id)


def test_page_shows_each_setting_with_its_default_and_explanation(admin):
    page = admin.get("/admin/settings").get_data(as_text=True)
    for text in ("Office phone", "Where the opinion box is", "Public address of the query page",
                 "Noticeboard rotation (seconds)", "Supervision period (days)", "Mask names",
                 "Branch kinds whose members may attend any branch", "Time zone",
                 "Default: 5.", "Default: 20.", "Default: Asia/Shanghai.", "Default: Re-employment branch.",
                 "at least 3 days"):
        assert text in page, text
    assert 'value="reemployment" checked' in page and 'id="mask_names" name="mask_names" value="y" checked' in page


def test_save_settings(app, admin, org):
    resp = admin.post("/admin/settings", data=GOOD)
    assert resp.status_code == 303
    s = settings(app, org)
    assert s["office_phone"] == "0571-8888 6666" and s["supervision_days"] == 7
    assert s["board_rotation_seconds"] == 30 and s["flexible_branch_kinds"] == ["reemployment", "mobile"]
    assert s["mask_names"] is True and s["timezone"] == "Asia/Shanghai"
    with app.app_context():
        row = db.session.scalar(select(AuditLog).where(AuditLog.action == "settings_changed"))
        assert row.before == {"board_rotation_seconds": 20, "flexible_branch_kinds": ["reemployment"],
                              "office_phone": "", "opinion_box": "", "supervision_days": 5}
        assert row.after["supervision_days"] == 7
    # Unticking is saved too.
    admin.post("/admin/settings", data={**GOOD, "mask_names": "", "flexible_branch_kinds": []})
    s = settings(app, org)
    assert s["mask_names"] is False and s["flexible_branch_kinds"] == []


@pytest.mark.parametrize(("changes", "message"), [
    ({"supervision_days": "2"}, "At least 3 days (the openness rules), at most 60."),
    ({"supervision_days": "five"}, "Enter a whole number."),
    ({"board_rotation_seconds": "1"}, "Between 5 and 600 seconds."),
    ({"query_public_url": "javascript:alert(1)"}, "An address starting with http:// or https://"),
    ({"timezone": "Mars/Olympus"}, "Not a time zone name, e.g. Asia/Shanghai."),
    ({"office_phone": "call the office"}, "Digits, spaces, +, - and brackets only."),
    ({"flexible_branch_kinds": ["nonsense"]}, "Not a valid choice"),
    ({"deduction_confirm_points": "0"}, "Between 1 and 100 points."),
    ({"deduction_confirm_points": ""}, "Enter a number."),
])
def test_bad_settings_are_refused(app, admin, org, changes, message):
    resp = admin.post("/admin/settings", data={**GOOD, **changes})
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    assert settings(app, org) == DEFAULTS
    with app.app_context():
        assert db.session.scalar(select(AuditLog).where(AuditLog.action == "settings_changed")) is None


def test_a_public_address_is_accepted(app, admin, org):
    assert admin.post("/admin/settings", data={**GOOD, "query_public_url": "https://qs.example.cn/q"}).status_code == 303
    assert settings(app, org)["query_public_url"] == "https://qs.example.cn/q"
