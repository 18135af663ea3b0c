"""Scheme JSON import (issue 15): every malformed file answers 422 (413 when too large) with each problem named
by its path in the file, in Chinese, and the stored scheme stays exactly as it was; good files round-trip."""
from __future__ import annotations

import html
import json
from decimal import Decimal
from typing import Any, Callable

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import select

from qscore import create_app
from qscore.db import db
from qscore.models import SchemeVersion
from qscore.scheme import Scheme, SchemeError, default_scheme_data
from qscore.scheme_schema import SCHEMA
from qscore.scheme_versions import ensure_year

from .conftest import Auth, Org, dispose, truncate_all

YEAR = 2026
URL = f"/admin/scheme/{YEAR}/import"
NOTHING_SAVED = "未保存任何内容"
INDEX = {i["code"]: n for n, i in enumerate(default_scheme_data()["indicators"])}


def store_the_year(app) -> None:
    """The year's version 1 is stored, so that "nothing changed" compares a real scheme."""
    with app.app_context(), app.test_request_context():
        ensure_year(YEAR)
        db.session.commit()


@pytest.fixture
def admin(app, client, auth, org):
    store_the_year(app)
    auth.login("admin")  # the default locale: Chinese
    return client


@pytest.fixture(scope="module")
def refusals(test_config, _schema):
    """One street and one signed-in admin for all the refused files: a refusal writes nothing, which each case
    checks, so they can share it (a fresh database per case would cost a second each)."""
    app = create_app(test_config)
    with app.app_context():
        truncate_all()
    with app.app_context(), app.test_request_context():
        org = Org()
        org.user("admin", "street_admin")
        db.session.commit()
    store_the_year(app)
    client = app.test_client()
    Auth(client).login("admin")
    yield app, client
    dispose(app)


def stored(app) -> list[tuple]:
    with app.app_context():
        rows = db.session.scalars(select(SchemeVersion).order_by(SchemeVersion.year, SchemeVersion.version)).all()
        return [(v.year, v.version, json.dumps(v.data, sort_keys=True, ensure_ascii=False), v.reason) for v in rows]


def upload(client, content: bytes, name: str = "scheme.json", reason: str = "", year: int = YEAR):
    """The browser's multipart body, built here (the test client spools a large one to a file it never closes)."""
    b = "qscore-test-boundary"
    body = (f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: application/json\r\n\r\n").encode() + content + (
            f'\r\n--{b}\r\nContent-Disposition: form-data; name="reason"\r\n\r\n{reason}\r\n--{b}--\r\n').encode()
    return client.post(f"/admin/scheme/{year}/import", data=body, content_type=f"multipart/form-data; boundary={b}")


def page_text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def dump(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")


DEFAULT_TEXT = dump(default_scheme_data()).decode("utf-8")


def edited(*changes: Callable[[dict], None]) -> bytes:
    data = default_scheme_data()
    for change in changes:
        change(data)
    return dump(data)


def at(data: dict, path: tuple) -> Any:
    for k in path:
        data = data[k]
    return data


def put(*path_and_value) -> Callable[[dict], None]:
    *path, value = path_and_value
    return lambda d: at(d, path[:-1]).__setitem__(path[-1], value)


def drop(*path) -> Callable[[dict], None]:
    return lambda d: at(d, path[:-1]).pop(path[-1])


def ind(code: str, key: str, value: Any) -> Callable[[dict], None]:
    return put("indicators", INDEX[code], key, value)


def text_replace(old: str, new: str) -> bytes:
    assert old in DEFAULT_TEXT, old
    return DEFAULT_TEXT.replace(old, new, 1).encode("utf-8")


NEST = 10_000
BIG = "字x" * 50_000  # 100,000 characters, 200 KB in UTF-8: under the size limit

# (content, what the page must say). Paths are the file's own ("indicators[3].code"); the code in brackets names
# the indicator or type where the file gives a valid one.
CASES = {
    # -- not a JSON document at all
    "not-json": (b"{not json", "文件不是有效的 JSON：第 1 行第 2 列"),
    "empty": (b"", "文件是空的"),
    "blank": (b" \r\n\t ", "文件是空的"),
    "truncated": (DEFAULT_TEXT[:-40].encode(), "文件不是有效的 JSON"),
    "trailing-garbage": (DEFAULT_TEXT.encode() + b"\nxyz", "多余的内容"),
    "two-documents": (b"{} {}", "多余的内容"),
    "single-quotes": (b"{'types': []}", "文件不是有效的 JSON"),
    "trailing-comma": (b'{"types": [],}', "文件不是有效的 JSON"),
    "raw-control-character": (b'{"_about": "a\x01b"}', "文件不是有效的 JSON"),
    "utf-16": (DEFAULT_TEXT.encode("utf-16"), "UTF-8"),
    "utf-16-le-no-bom": (DEFAULT_TEXT.encode("utf-16-le"), "UTF-8"),
    "gbk": (DEFAULT_TEXT.encode("gbk"), "UTF-8"),
    "invalid-utf-8": (b'{"_about": "\xff\xfe"}', "UTF-8"),
    "nan": (text_replace('"base": 50', '"base": NaN'), "NaN"),
    "infinity": (text_replace('"base": 50', '"base": Infinity'), "Infinity"),
    "minus-infinity": (text_replace('"points": -2', '"points": -Infinity'), "-Infinity"),
    "1e309": (text_replace('"base": 50', '"base": 1e309'), "数字 1e309 超出范围"),
    "5000-digit-integer": (text_replace('"base": 50', '"base": ' + "9" * 5000), "超出范围"),
    "nested-arrays": (b"[" * NEST + b"]" * NEST, "嵌套层级过深"),
    "nested-in-a-key": (b'{"_about": ' + b"[" * NEST + b"]" * NEST + b"}", "嵌套层级过深"),
    "nested-objects": (b'{"a":' * NEST + b"1" + b"}" * NEST, "嵌套层级过深"),
    "duplicate-key": (text_replace('"base": 50', '"base": 50, "base": 70'), "“base”在同一个对象中出现了两次"),
    # -- JSON, but not an object
    "array": (b"[]", "（整个文件）：必须是对象"),
    "array-of-the-scheme": (b"[" + DEFAULT_TEXT.encode() + b"]", "（整个文件）：必须是对象"),
    "string": (b'"scheme"', "（整个文件）：必须是对象"),
    "number": (b"42", "（整个文件）：必须是对象"),
    "null": (b"null", "（整个文件）：必须是对象"),
    "true": (b"true", "（整个文件）：必须是对象"),
    "empty-object": (b"{}", "types：缺少此项"),
    # -- the top level
    "no-types": (edited(drop("types")), "types：缺少此项"),
    "no-indicators": (edited(drop("indicators")), "indicators：缺少此项"),
    "no-thresholds": (edited(drop("grade_thresholds")), "grade_thresholds：缺少此项"),
    "types-an-object": (edited(put("types", {"A": {"base": 50}})), "types：必须是列表"),
    "types-a-string": (edited(put("types", "ABCD")), "types：必须是列表"),
    "indicators-an-object": (edited(put("indicators", {})), "indicators：必须是列表"),
    "indicators-empty": (edited(put("indicators", [])), "indicators：不能为空"),
    "indicator-a-number": (edited(put("indicators", [1])), "indicators[0]：必须是对象"),
    "indicator-null": (edited(put("indicators", 0, None)), "indicators[0]：必须是对象"),
    "unknown-top-level-key": (edited(put("indicator", [])), "indicator：不是积分方案文件中的项"),
    "rules-numbers": (edited(put("rules", [1, 2])), "rules[0]：必须是文本"),
    "about-100k": (edited(put("_about", BIG)), "_about：最多 5000 个字符"),
    # -- types
    "base-a-string": (edited(put("types", 0, "base", "50")), "types[0].base（A）：必须是数字"),
    "base-a-boolean": (edited(put("types", 0, "base", True)), "types[0].base（A）：必须是数字"),
    "base-negative": (edited(put("types", 0, "base", -5)), "types[0].base（A）：必须是 0 到 1000 之间的数"),
    "base-huge": (edited(put("types", 0, "base", 10 ** 6)), "types[0].base（A）：必须是 0 到 1000 之间的数"),
    "basic-cap-zero": (edited(put("types", 0, "basic_cap", 0)), "types[0].basic_cap（A）：必须大于 0 且不超过 1000"),
    "type-code-unknown": (edited(put("types", 0, "code", "E")), "types[0].code：必须是以下之一：A, B, C, D"),
    "type-name-null": (edited(put("types", 0, "zh", None)), "types[0].zh（A）：必须是文本"),
    "type-unknown-key": (edited(put("types", 0, "bonus", 5)), "types[0].bonus（A）：不是积分方案文件中的项"),
    "three-types": (edited(lambda d: d["types"].pop()), "types：必须正好 4 项"),
    "type-twice": (edited(put("types", 1, "code", "A")), "types：必须定义 A、B、C、D 四个类别，每类一个"),
    # -- categories
    "category-code-unknown": (edited(put("categories", 0, "code", "X")), "categories[0].code：必须是以下之一：J, Z, K"),
    "two-categories": (edited(lambda d: d["categories"].pop()), "categories：必须正好 3 项"),
    "category-twice": (edited(put("categories", 2, "code", "J")), "categories：必须包含 J、Z、K 三个积分类别"),
    # -- indicator codes (the issue: null was stored as "None", [] as "[]")
    "code-null": (edited(ind("J1", "code", None)), "indicators[0].code：必须是文本"),
    "code-list": (edited(ind("J1", "code", [])), "indicators[0].code：必须是文本"),
    "code-object": (edited(ind("J1", "code", {})), "indicators[0].code：必须是文本"),
    "code-number": (edited(ind("J1", "code", 12)), "indicators[0].code：必须是文本"),
    "code-boolean": (edited(ind("J1", "code", True)), "indicators[0].code：必须是文本"),
    "code-empty": (edited(ind("J1", "code", "")), "indicators[0].code：必须以大写字母开头"),
    "code-lowercase": (edited(ind("J1", "code", "j1")), "indicators[0].code：必须以大写字母开头"),
    "code-with-space": (edited(ind("J1", "code", "J 1")), "indicators[0].code：必须以大写字母开头"),
    "code-too-long": (edited(ind("J1", "code", "ABCDEFGHI")), "indicators[0].code：必须以大写字母开头"),
    "code-twice": (edited(ind("J2", "code", "J1")), "indicators[1].code（J1）：代码 J1 已被另一个指标使用"),
    # -- indicator fields
    "category-unknown": (edited(ind("J1", "category", "X")), "indicators[0].category（J1）：必须是以下之一：J, Z, K"),
    "category-null": (edited(ind("J1", "category", None)), "indicators[0].category（J1）：必须是以下之一：J, Z, K"),
    "points-a-string": (edited(ind("J1", "points", "1")), "indicators[0].points（J1）：必须是数字"),
    "points-a-boolean": (edited(ind("J1", "points", True)), "indicators[0].points（J1）：必须是数字"),
    "points-null": (edited(ind("J1", "points", None)), "indicators[0].points（J1）：必须是数字"),
    "points-three-decimals": (edited(ind("J1", "points", 0.333)), "indicators[0].points（J1）：最多 2 位小数"),
    "points-huge": (edited(ind("J1", "points", 1e6)), "indicators[0].points（J1）：必须是 -1000 到 1000 之间的数"),
    "points-missing": (edited(drop("indicators", 0, "points")), "indicators[0].points（J1）：缺少此项"),
    "basic-points-negative": (edited(ind("J1", "points", -1)), "indicators[0].points（J1）：必须为正数"),
    "deduction-positive": (edited(ind("K1", "points", 2)), "indicators[14].points（K1）：扣分项的分值必须为负数"),
    "veto-with-points": (edited(ind("V", "points", -1)), "indicators[18].points（V）：一票否决的分值必须为 0"),
    "month-cap-negative": (edited(ind("J1", "month_cap", -1)), "indicators[0].month_cap（J1）：必须大于 0 且不超过 1000"),
    "month-cap-zero": (edited(ind("J1", "month_cap", 0)), "indicators[0].month_cap（J1）：必须大于 0 且不超过 1000"),
    "month-cap-null": (edited(ind("J1", "month_cap", None)), "indicators[0].month_cap（J1）：必须是数字"),
    # -- what the schema lets through but the ledger cannot record (Scheme.from_dict's rule)
    "points-two-decimals": (edited(ind("J1", "points", 1.25)),
                            "indicators[0].points（J1）：最多 1 位小数（积分台账记到 0.1 分）"),
    "option-two-decimals": (edited(ind("Z4", "points_options", [3, 5.25])),
                            "indicators[10].points_options[1]（Z4）：最多 1 位小数（积分台账记到 0.1 分）"),
    "points-by-type-two-decimals": (edited(ind("K1", "points_by_type", {"A": -2.25})),
                                    "indicators[14].points_by_type.A（K1）：最多 1 位小数（积分台账记到 0.1 分）"),
    "points-by-type-unknown-type": (edited(ind("K1", "points_by_type", {"E": -2})),
                                    "indicators[14].points_by_type.E（K1）：不是积分方案文件中的项"),
    "points-by-type-a-string": (edited(ind("K1", "points_by_type", {"A": "x"})),
                                "indicators[14].points_by_type.A（K1）：必须是数字"),
    "year-cap-by-type-a-list": (edited(ind("Z1", "year_cap_by_type", [])),
                                "indicators[7].year_cap_by_type（Z1）：必须是对象"),
    "applies-to-a-string": (edited(ind("J1", "applies_to", "ABCD")), "indicators[0].applies_to（J1）：必须是列表"),
    "applies-to-unknown-type": (edited(ind("J1", "applies_to", ["E"])),
                                "indicators[0].applies_to[0]（J1）：必须是以下之一：A, B, C, D"),
    "applies-to-none": (edited(ind("J1", "applies_to", [])), "indicators[0].applies_to（J1）：不能为空"),
    "applies-to-18000-objects": (  # compact, to stay under the size limit; never compared pairwise
        json.dumps(json.loads(edited(ind("J1", "applies_to", [{"a": n} for n in range(18_000)])))).encode(),
        "indicators[0].applies_to（J1）：最多 4 项"),
    "applies-to-twice": (edited(ind("J1", "applies_to", ["A", "A"])), "indicators[0].applies_to（J1）：不能有重复的值"),
    "role-unknown": (edited(ind("J1", "role", "chair")), "indicators[0].role（J1）：必须是以下之一：attendance"),
    "role-null": (edited(ind("J1", "role", None)), "indicators[0].role（J1）：必须是以下之一：attendance"),
    "unit-unknown": (edited(ind("J1", "unit", "furlong")), "indicators[0].unit（J1）：必须是以下之一："),
    "flag-a-string": (edited(ind("K4", "heavier", "yes")), "indicators[17].heavier（K4）：必须是 true 或 false"),
    "flag-a-number": (edited(ind("V", "veto", 1)), "indicators[18].veto（V）：必须是 true 或 false"),
    "name-100k": (edited(ind("J1", "zh", BIG)), "indicators[0].zh（J1）：最多 200 个字符"),
    "notes-100k": (edited(ind("J1", "notes", BIG)), "indicators[0].notes（J1）：最多 2000 个字符"),
    "name-nul": (edited(ind("J1", "zh", "出\u0000席")), "indicators[0].zh（J1）：不能包含换行、控制字符或无效字符"),
    "name-line-break": (edited(ind("J1", "zh", "出\n席")), "indicators[0].zh（J1）：不能包含换行、控制字符或无效字符"),
    "name-lone-surrogate": (text_replace('"zh": "参加主题党日、支部党员大会"', '"zh": "\\ud800"'),
                            "indicators[0].zh（J1）：不能包含换行、控制字符或无效字符"),
    "notes-escape-character": (edited(ind("J1", "notes", "a\u001bb")), "indicators[0].notes（J1）：不能包含控制字符或无效字符"),
    "name-empty": (edited(ind("J1", "zh", "")), "indicators[0].zh（J1）：不能为空"),
    "button-label-too-long": (edited(ind("J1", "short_zh", "参加主题党日和支部大会")),
                              "indicators[0].short_zh（J1）：最多 8 个字符"),
    "indicator-unknown-key": (edited(ind("J1", "year_caps", 5)), "indicators[0].year_caps（J1）：不是积分方案文件中的项"),
    "options-a-string": (edited(ind("Z4", "points_options", "3,5")), "indicators[10].points_options（Z4）：必须是列表"),
    "options-twice": (edited(ind("Z4", "points_options", [3, 3])), "indicators[10].points_options（Z4）：不能有重复的值"),
    "points-not-an-option": (edited(ind("Z4", "points", 4)), "indicators[10].points（Z4）：必须是可选分值之一"),
    "hours-with-options": (edited(ind("Z3", "points_options", [0.5, 1])),
                           "indicators[9].points_options（Z3）：按小时计分的指标不能设可选分值"),
    "too-many-indicators": (edited(lambda d: d["indicators"].extend(
        dict(d["indicators"][0], code=f"X{n}") for n in range(100))), "indicators：最多 100 项"),
    # -- grade thresholds, branch index, rectification
    "threshold-missing": (edited(drop("grade_thresholds", "qualified_min")), "grade_thresholds.qualified_min：缺少此项"),
    "threshold-a-string": (edited(put("grade_thresholds", "advanced_min", "90")),
                           "grade_thresholds.advanced_min：必须是数字"),
    "threshold-not-whole": (edited(put("grade_thresholds", "rectify_streak_months", 2.5)),
                            "grade_thresholds.rectify_streak_months：必须是整数"),
    "threshold-out-of-range": (edited(put("grade_thresholds", "rectify_streak_months", 13)),
                               "grade_thresholds.rectify_streak_months：必须是 1 到 12 之间的整数"),
    "qualified-above-advanced": (edited(put("grade_thresholds", "qualified_min", 95)),
                                 "grade_thresholds.qualified_min：必须低于 advanced_min（90）"),
    "thresholds-a-list": (edited(put("grade_thresholds", [])), "grade_thresholds：必须是对象"),
    "threshold-unknown": (edited(put("grade_thresholds", "excellent_min", 95)),
                          "grade_thresholds.excellent_min：不是积分方案文件中的项"),
    "weights-not-one": (edited(put("branch_index", "weights", "attendance_rate", 0.3)),
                        "branch_index.weights：各项权重之和必须为 1"),
    "weight-unknown": (edited(put("branch_index", "weights", "happiness", 0)),
                       "branch_index.weights.happiness：不是积分方案文件中的项"),
    "weight-negative": (edited(put("branch_index", "weights", "attendance_rate", -0.1)),
                        "branch_index.weights.attendance_rate：必须是 0 到 1 之间的数"),
    "period-a-string": (edited(put("rectification", "period_months", "6")), "rectification.period_months：必须是整数"),
    "period-zero": (edited(put("rectification", "period_months", 0)),
                    "rectification.period_months：必须是 1 到 24 之间的整数"),
}
TOO_LARGE = {
    "5-mb": DEFAULT_TEXT.encode()[:-2] + b', "_pad": "' + b"x" * (5 * 1024 * 1024) + b'"}',
    "just-over-256-kb": b" " * (256 * 1024 - len(DEFAULT_TEXT.encode())) + DEFAULT_TEXT.encode() + b" ",
}


def test_at_least_fifty_malformed_files():
    assert len(CASES) + len(TOO_LARGE) >= 50


@pytest.mark.parametrize(("content", "message"), list(CASES.values()), ids=list(CASES))
def test_a_malformed_file_is_refused_with_its_path_and_nothing_is_written(refusals, content, message):
    app, admin = refusals
    before = stored(app)
    assert len(before) == 1
    resp = upload(admin, content)
    assert resp.status_code == 422, resp.status_code
    body = page_text(resp)
    assert NOTHING_SAVED in body and message in body, body[body.find(NOTHING_SAVED) - 200:][:3000]
    assert "不符合积分方案文件的格式" not in body  # every validator keyword has its own words
    assert stored(app) == before


@pytest.mark.parametrize("content", list(TOO_LARGE.values()), ids=list(TOO_LARGE))
def test_a_file_over_256_kb_is_refused_before_it_is_read(refusals, content):
    app, admin = refusals
    before = stored(app)
    resp = upload(admin, content)
    assert resp.status_code == 413
    body = page_text(resp)
    assert NOTHING_SAVED in body and "文件超过 256 KB" in body
    assert stored(app) == before


def test_a_refused_import_into_a_year_not_yet_stored_stores_nothing(app, client, auth, org):
    auth.login("admin")
    assert stored(app) == []
    assert upload(client, edited(ind("J1", "code", None))).status_code == 422
    assert upload(client, TOO_LARGE["5-mb"]).status_code == 413
    assert stored(app) == []


def test_every_problem_is_listed_in_the_files_order(app, admin):
    content = edited(put("types", 2, "base", "60"), ind("J1", "code", None), ind("K1", "points_by_type", {"E": 1}),
                     put("grade_thresholds", "warning_streak_months", 0))
    body = page_text(upload(admin, content))
    lines = ["types[2].base（C）：必须是数字", "indicators[0].code：必须是文本",
             "indicators[14].points_by_type.E（K1）：不是积分方案文件中的项",
             "grade_thresholds.warning_streak_months：必须是 1 到 12 之间的整数"]
    positions = [body.find(line) for line in lines]
    assert -1 not in positions and positions == sorted(positions), positions


def test_the_schema_runs_before_the_rules(app, admin):
    """A file the schema refuses never reaches the rules: no rule message beside a shape problem."""
    body = page_text(upload(admin, edited(ind("K1", "points", 2), ind("J1", "code", None))))
    assert "indicators[0].code：必须是文本" in body and "扣分项的分值必须为负数" not in body


def test_a_long_list_of_problems_is_cut_at_fifty(app, admin):
    content = edited(lambda d: [i.__setitem__("code", None) for i in d["indicators"]],
                     lambda d: [t.__setitem__("base", "x") for t in d["types"]],
                     lambda d: [i.__setitem__("points", "x") for i in d["indicators"]],
                     lambda d: [i.__setitem__("unit", 1) for i in d["indicators"]])
    body = page_text(upload(admin, content))
    assert body.count("必须是") >= 50 and "仅列出前 50 个问题" in body


def test_problems_in_english_for_an_english_user(app, admin):
    admin.set_cookie("qscore_lang", "en")
    body = page_text(upload(admin, edited(ind("J1", "code", None), put("types", 0, "base", -5))))
    assert "Nothing was saved" in body
    assert "indicators[0].code: must be text" in body and "types[0].base (A): must be a number from 0 to 1000" in body


def test_a_branch_secretary_cannot_import(app, client, auth, org):
    auth.login("bs")
    before = stored(app)
    assert upload(client, edited(ind("J1", "code", None))).status_code in (403, 404)
    assert stored(app) == before


def test_no_file_chosen_is_said_at_the_top_and_at_the_form(app, admin):
    resp = admin.post(URL, data={"reason": ""}, content_type="multipart/form-data")
    assert resp.status_code == 422
    body = page_text(resp)
    assert "文件未导入，未保存任何内容。" in body and "请选择文件。" in body


def test_after_a_publication_an_import_needs_a_one_line_reason(app, admin, org):
    from datetime import date

    from qscore.models import Publication

    with app.app_context():
        db.session.add(Publication(branch_id=org.branch_id, year=YEAR, quarter=1, supervision_ends_on=date(2026, 4, 9),
                                   snapshot="[]", sha256="0" * 64))
        db.session.commit()
    before = stored(app)
    content = edited(put("types", 0, "base", 48))
    assert "本年度已有季度公示：请说明" in page_text(upload(admin, content))
    assert "含有看不见的控制字符" in page_text(upload(admin, content, reason="街道决定\u0000"))
    assert stored(app) == before
    assert upload(admin, content, reason="街道党工委会议决定").status_code == 303
    (_v1, (year, version, data, reason)) = stored(app)
    assert (version, reason, json.loads(data)["types"][0]["base"]) == (2, "街道党工委会议决定", 48)


# -- good files ---------------------------------------------------------------------------------------------------

def test_the_shipped_default_imports_with_or_without_a_bom(app, admin):
    assert upload(admin, edited(put("types", 0, "base", 48))).status_code == 303
    resp = upload(admin, b"\xef\xbb\xbf" + DEFAULT_TEXT.replace("\n", "\r\n").encode(), reason="")
    assert resp.status_code == 303
    ((year, version, data, _reason),) = stored(app)
    assert json.loads(data) == default_scheme_data()


def test_an_export_of_an_edited_scheme_imports_back(app, admin):
    from .test_admin_scheme import edit_form

    fields = edit_form(admin)
    fields.update({"new-code": "Z8", "new-category": "Z", "new-zh": "垃圾分类督导", "new-en": "Waste sorting duty",
                   "new-points": "1.5", "new-unit": "month on duty", "new-year_cap": "6.25",
                   f"i{INDEX['J2']}-retired": "y", f"i{INDEX['J1']}-short_zh": "参会",
                   f"i{INDEX['Z3']}-notes_zh": "按小时计分，\n四舍五入", "t-A-base": "50.5"})
    assert admin.post(f"/admin/scheme/{YEAR}/edit", data=fields).status_code == 303
    exported = admin.get(f"/admin/scheme/{YEAR}/export.json").data
    edited_data = json.loads(exported)
    assert edited_data["indicators"][-1]["code"] == "Z8"
    assert upload(admin, DEFAULT_TEXT.encode()).status_code == 303  # back to the default
    assert json.loads(stored(app)[0][2]) == default_scheme_data()
    assert upload(admin, exported, name="积分方案-2026-v1.json").status_code == 303
    assert json.loads(stored(app)[0][2]) == edited_data


def test_a_file_with_only_the_required_keys_imports(app, admin):
    data = default_scheme_data()
    minimal = {k: data[k] for k in ("types", "categories", "indicators", "grade_thresholds")}
    for i in minimal["indicators"]:
        for k in ("en", "notes", "notes_zh", "short_zh", "short_en", "unit", "applies_to"):
            i.pop(k, None)
    assert upload(admin, dump(minimal)).status_code == 303
    assert json.loads(stored(app)[0][2]) == minimal


# -- the one door ---------------------------------------------------------------------------------------------------

def test_save_scheme_refuses_what_an_import_refuses(app, org):
    from qscore.scheme_versions import save_scheme

    data = default_scheme_data()
    data["indicators"][0]["code"] = None
    with app.app_context(), app.test_request_context():
        with pytest.raises(SchemeError) as err:
            save_scheme(YEAR, data, "", None)
        assert [p.path for p in err.value.problems] == [("indicators", 0, "code")]


def _figure(path: tuple, value: Any) -> Callable[[dict], None]:
    return put(*path, value)


@pytest.mark.parametrize(("path", "value", "message"), [
    (("types", 0, "base"), "50.125", "at most 2 decimal places (scores are computed in hundredths of a point)"),
    (("types", 1, "basic_cap"), "12.001", "at most 2 decimal places (scores are computed in hundredths of a point)"),
    (("types", 1, "basic_cap"), "1000.5", "must be more than 0 and at most 1000"),
    (("types", 2, "contribution_cap"), "1001", "must be more than 0 and at most 1000"),
    (("indicators", INDEX["J1"], "month_cap"), "2.125", "at most 2 decimal places (scores are computed in hundredths "
                                                       "of a point)"),
    (("indicators", INDEX["J3"], "quarter_cap"), "1E+4", "must be more than 0 and at most 1000"),
    (("indicators", INDEX["Z1"], "year_cap"), "1200", "must be more than 0 and at most 1000"),
    (("indicators", INDEX["Z1"], "year_cap_by_type", "C"), "0.005", "at most 2 decimal places (scores are "
                                                                    "computed in hundredths of a point)"),
    (("indicators", INDEX["J1"], "points"), "0.25", "at most 1 decimal place (the ledger records tenths of a point)"),
    (("indicators", INDEX["K1"], "points_by_type", "A"), "-2.25", "at most 1 decimal place (the ledger records "
                                                                  "tenths of a point)"),
    (("indicators", INDEX["Z4"], "points_options", 1), "5.05", "at most 1 decimal place (the ledger records tenths "
                                                               "of a point)"),
    (("indicators", INDEX["Z3"], "points"), "0.125", "at most 2 decimal places (scores are computed in hundredths "
                                                     "of a point)"),
])
def test_from_dict_refuses_what_the_scoring_integers_cannot_hold(path, value, message):
    """Every way a scheme is read (import, editor, a stored version, the planned copy) goes through from_dict, so the
    rule lives there and not only in the JSON Schema. Written as a string it keeps its exact decimals."""
    data = default_scheme_data()
    _figure(path, value)(data)
    with pytest.raises(SchemeError) as err:
        Scheme.from_dict(data)
    assert [(p.path, p.text()) for p in err.value.problems] == [(path, message)]


def test_from_dict_takes_what_the_scoring_integers_hold():
    """Two decimals on figures, one on points, 2 on an hours indicator's rate per hour, caps up to 1000 inclusive."""
    data = default_scheme_data()
    for change in (put("types", 0, "base", "50.25"), put("types", 1, "basic_cap", 1000),
                   put("indicators", INDEX["J1"], "month_cap", "2.50"), put("indicators", INDEX["J1"], "points", "1.50"),
                   put("indicators", INDEX["Z1"], "year_cap_by_type", "C", 8.05),
                   put("indicators", INDEX["Z3"], "points", 0.25), put("indicators", INDEX["Z4"], "points_options", [3, 5.5])):
        change(data)
    scheme = Scheme.from_dict(data)
    assert scheme.indicators["Z3"].points == Decimal("0.25") and scheme.types["B"].basic_cap == 1000


def test_the_schema_is_a_valid_draft_2020_12_schema_and_accepts_the_default():
    Draft202012Validator.check_schema(SCHEMA)
    assert list(Draft202012Validator(SCHEMA).iter_errors(default_scheme_data())) == []
