"""The street admin imports a scheme file with mistakes: every mistake is listed with its place in the file, in
Chinese, nothing changes; the corrected file then imports. The editor marks a value the import would refuse."""
from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from qscore.scheme import default_scheme_data

from .conftest import screenshot

pytestmark = pytest.mark.e2e


def test_a_scheme_file_with_mistakes_is_refused_with_each_place_named(page, street, login, a11y, tmp_path):
    good = default_scheme_data()
    bad = default_scheme_data()
    bad["types"][1]["base"] = "55"  # typed with quotes
    bad["indicators"][2]["year_caps"] = 4  # misspelt: would silently do nothing
    bad["indicators"].append({**bad["indicators"][11], "code": None, "zh": "垃圾分类督导"})
    bad["grade_thresholds"]["rectify_streak_months"] = 13
    (tmp_path / "bad.json").write_text(json.dumps(bad, ensure_ascii=False, indent=2), encoding="utf-8")
    good["types"][1]["base"] = 56
    (tmp_path / "good.json").write_text(json.dumps(good, ensure_ascii=False, indent=2), encoding="utf-8")

    login("admin")
    page.goto("/admin/scheme/2026")
    page.get_by_label("积分方案文件（.json）").set_input_files(tmp_path / "bad.json")
    page.get_by_role("button", name="导入", exact=True).click()
    problems = page.locator("#import .problems li")
    expect(problems).to_have_count(4)
    expect(problems.nth(0)).to_have_text("types[1].base（B）：必须是数字")
    expect(problems.nth(1)).to_contain_text("indicators[2].year_caps（J3）：不是积分方案文件中的项")
    expect(problems.nth(2)).to_have_text("indicators[19].code：必须是文本")
    expect(problems.nth(3)).to_have_text("grade_thresholds.rectify_streak_months：必须是 1 到 12 之间的整数")
    a11y.check(page)
    page.screenshot(path="/tmp/scheme-import-top.png")
    screenshot(page, "admin-scheme-import-problems")
    page.locator("#import").screenshot(path="/tmp/scheme-import-problems.png")
    page.goto("/admin/scheme/2026")
    expect(page.get_by_role("row", name="第二类 离退休党员")).to_contain_text("55")  # unchanged

    page.get_by_label("积分方案文件（.json）").set_input_files(tmp_path / "good.json")
    page.get_by_role("button", name="导入", exact=True).click()
    expect(page.get_by_role("row", name="第二类 离退休党员")).to_contain_text("56")


def test_the_editor_marks_a_value_the_import_would_refuse(page, street, login, a11y):
    login("admin")
    page.goto("/admin/scheme/2026/edit")
    page.get_by_label("第一类基分").fill("5000")
    page.get_by_role("button", name="保存方案").click()
    field = page.get_by_label("第一类基分")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#t-A-base-error")).to_have_text("必须是 0 到 1000 之间的数")
    a11y.check(page)
    page.locator(".types-table").screenshot(path="/tmp/scheme-edit-field-error.png")
