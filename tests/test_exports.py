"""Every download over hostile text: one writer, typed cells, no formula, no control character, no-store."""
from __future__ import annotations

import csv
import dis
import inspect
import io
import json
import re
import types
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from openpyxl import load_workbook

from qscore.db import db
from qscore.models import (AuditLog, Community, DuesLine, DuesRate, Meeting, PointEntry, Publication, ResidentQuery, ReviewGrade,
                           SchemeVersion, Street, User, VolunteerTeam, YearReview)
from qscore.scheme import default_scheme_data

from .conftest import make_member

LONG = "长" * 4994 + "=1+1末尾"    # 5,000 characters
HOSTILE = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\t=1", "\r=1", '=HYPERLINK("http://x")', "＝1+1", "\x01\x1f=1"]
STARTERS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def nul(text: str) -> str:
    """NUL inside a string: SQLite stores it, PostgreSQL refuses it (so there it cannot reach an export)."""
    return text if db.engine.dialect.name != "sqlite" else text[:1] + "\x00" + text[1:]


@pytest.fixture
def hostile(org, app):
    """The org of conftest with hostile text in every field that reaches an export, written with the models."""
    with app.app_context():
        db.session.get(Street, org.street_id).name = '=HYPERLINK("http://x")'
        db.session.get(Community, org.community_id).name = "+SUM(A1)"
        branch = db.session.get(type(org.branch), org.branch_id)
        branch.name = "-2+3"
        db.session.get(type(org.branch), org.sibling_branch_id).name = nul("@cmd")
        bs = db.session.get(User, org.branch_secretary_id)
        bs.display_name = "=1+1"
        data = default_scheme_data()
        for ind in data["indicators"]:
            if ind["code"] == "J1":
                ind["zh"], ind["notes_zh"] = "=1+1", LONG
            if ind["code"] == "Z4":
                ind["notes_zh"] = nul("@cmd")
        for year in (2025, 2026):
            db.session.add(SchemeVersion(year=year, version=1, data=data, reason=LONG))
        meeting = Meeting(branch_id=org.branch_id, held_on=date(2026, 3, 5), kind="org_life", indicator_code="J1",
                          topic="=1+1", expected_count=len(HOSTILE) + 1)
        db.session.add(meeting)
        db.session.flush()
        members = []
        for i, text in enumerate(HOSTILE + [nul("+86 138")]):
            m = make_member(org.branch_id, text, "AB"[i % 2], birth_year=1960, joined_party_on=date(1990, 7, 1),
                            booklet_no=text, phone=text, address=text)
            members.append(m)
            entry = PointEntry(member_id=m.id, branch_id=m.branch_id, year=2026, indicator_code="J1", category="J",
                               points=Decimal(1), earned_on=date(2026, 3, 5), note=text, meeting_id=meeting.id)
            deduction = PointEntry(member_id=m.id, branch_id=m.branch_id, year=2026, indicator_code="K1",
                                   category="K", points=Decimal(-2), earned_on=date(2026, 3, 9), note=LONG)
            old = PointEntry(member_id=m.id, branch_id=m.branch_id, year=2025, indicator_code="Z4", category="Z",
                             points=Decimal(3), earned_on=date(2025, 6, 1), note=text)
            db.session.add_all([entry, deduction, old])
        for m in members:
            db.session.add(DuesRate(member_id=m.id, monthly=Decimal("2.5"), effective_from=date(2026, 1, 1)))
            db.session.add(DuesLine(member_id=m.id, branch_id=m.branch_id, year=2026, month=2, kind="payment",
                                    amount=Decimal("2.5"), paid_on=date(2026, 2, 3), method="cash", note=m.name))
        make_member(org.sibling_branch_id, "-1", "C", booklet_no="=A1")
        db.session.add(VolunteerTeam(community_id=org.community_id, name="=1+1", founded_on=date(2024, 3, 1)))
        review = YearReview(branch_id=org.branch_id, year=2025, status="confirmed", meeting_on=date(2026, 1, 15),
                            members_present=7, members_total=8, chair="@cmd", minutes=LONG,
                            confirmed_by_id=org.branch_secretary_id, confirmed_at=datetime(2026, 1, 15, 2, 0))
        db.session.add(review)
        db.session.flush()
        for i, m in enumerate(members):
            db.session.add(ReviewGrade(review_id=review.id, member_id=m.id, score="53.0", suggested="qualified",
                                       grade="qualified", override_reason=LONG if i == 0 else m.name,
                                       decided_by_id=org.branch_secretary_id))
        pub = Publication(branch_id=org.branch_id, year=2026, quarter=1, chair="+SUM(A1)",
                          supervision_ends_on=date(2026, 4, 30), snapshot="[]", sha256="0" * 64)
        db.session.add(pub)
        db.session.flush()
        db.session.add(ResidentQuery(publication_id=pub.id, branch_id=org.branch_id, member_label="=1+1",
                                     question=LONG, asker_name="@cmd", asker_contact="-1"))
        for i, text in enumerate(HOSTILE + [LONG]):
            db.session.add(AuditLog(at=datetime(2026, 5, 9, 15, 30), user_id=org.admin_id, username=text[:64],
                                    action="member_updated" if i % 2 else text[:64], object_type="member",
                                    object_id=members[0].id, member_id=members[i % len(members)].id, summary=text,
                                    before={"name": text, "phone": text}, after={"name": "-" + text}, ip=text[:64]))
        db.session.commit()
    return org


# ---------------------------------------------------------------------------------------------
# The exports: every endpoint that answers with a file, and who may ask for it
# ---------------------------------------------------------------------------------------------

ADMIN, COMMUNITY, BRANCH = "admin", "cs", "bs"
FIGURES = ("types", "participation", "charity", "hours", "posts", "households", "teams", "attendance", "dues",
           "scores", "grades")

EXPORTS = {
    # endpoint: (urls, roles)
    "admin.export_roster": (lambda o: ["/admin/members/export.xlsx?status=all",
                                       "/admin/members/export.xlsx?status=all&private=1"], (ADMIN, COMMUNITY)),
    "admin.roster_template": (lambda o: ["/admin/members/import/template.xlsx"], (ADMIN, COMMUNITY)),
    "admin.opening_template": (lambda o: ["/admin/opening-balances/template.xlsx"], (ADMIN, COMMUNITY)),
    "admin.audit_export": (lambda o: ["/admin/audit/export?format=xlsx", "/admin/audit/export?format=csv"], (ADMIN,)),
    "admin.scheme_export": (lambda o: ["/admin/scheme/2026/export.json"], (ADMIN,)),
    "stats.export": (lambda o: ["/stats/export.xlsx?period=2026", "/stats/export.xlsx?period=2025%2B2026"],
                     (ADMIN, COMMUNITY, BRANCH)),
    "stats.members": (lambda o: [f"/stats/members?figure={f}&period=2026&show=all&format=xlsx" for f in FIGURES],
                      (ADMIN, COMMUNITY, BRANCH)),
    "review.export": (lambda o: [f"/branches/{o.branch_id}/review/2025/export.xlsx"], (ADMIN, COMMUNITY, BRANCH)),
    "assessment.branch": (lambda o: [f"/assessment/branches/{o.branch_id}?month=2026-03&format=xlsx"],
                          (ADMIN, COMMUNITY, BRANCH)),
    "dues.export": (lambda o: [f"/branches/{o.branch_id}/dues/export.xlsx?year=2026"], (ADMIN, COMMUNITY, BRANCH)),
    "dues.template": (lambda o: [f"/branches/{o.branch_id}/dues/template.xlsx?year=2026"], (ADMIN, COMMUNITY, BRANCH)),
}
CASES = [(endpoint, role) for endpoint, (_urls, roles) in EXPORTS.items() for role in roles]


def hostile_cells(values) -> list:
    """Values a spreadsheet would run as a formula, or that hold characters a workbook cannot."""
    return [v for v in values if isinstance(v, str) and (v.startswith(STARTERS) or ILLEGAL.search(v))]


def workbook_values(data: bytes) -> tuple[list, list]:
    """(every value, the cells stored as formulas) of every sheet."""
    wb = load_workbook(io.BytesIO(data))
    values, formulas = [], []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                values.append(c.value)
                if c.data_type == "f":
                    formulas.append(f"{ws.title}!{c.coordinate}")
    return values, formulas


# Exports recorded in the audit log are POSTs (a GET never writes); the rest are GETs.
POSTED = ("/admin/members/export.xlsx",)


def fetch(client, url: str):
    path, _, query = url.partition("?")
    if path in POSTED:
        private = "private=1" in query.split("&")
        query = "&".join(p for p in query.split("&") if p and p != "private=1")
        resp = client.post(f"{path}?{query}" if query else path, data={"private": "1"} if private else {})
    else:
        resp = client.get(url)
    assert resp.status_code == 200, (url, resp.status_code)
    assert resp.headers["Cache-Control"] == "no-store", url
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Disposition"].startswith("attachment; ")
    return resp


def number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def rows_of(data: bytes) -> list[list]:
    return [list(r) for r in load_workbook(io.BytesIO(data)).worksheets[0].iter_rows(values_only=True)]


@pytest.mark.parametrize("endpoint, role", CASES)
def test_every_export_over_hostile_text(client, auth, hostile, endpoint, role):
    auth.login(role)
    for url in EXPORTS[endpoint][0](hostile):
        resp = fetch(client, url)
        if url.endswith(".json"):
            data = json.loads(resp.data)   # data for the scheme import, not a spreadsheet: kept verbatim
            assert next(i for i in data["indicators"] if i["code"] == "J1")["zh"] == "=1+1"
            assert resp.mimetype == "application/json"
            continue
        if "format=csv" in url:
            assert resp.mimetype == "text/csv" and resp.data.startswith("\ufeff".encode())
            values = [v for row in csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))) for v in row]
            formulas = []
        else:
            assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            values, formulas = workbook_values(resp.data)
        assert formulas == [], url
        assert hostile_cells(values) == [], url
        # The hostile text is there, made inert: the test would see it if it were not.
        assert any(isinstance(v, str) and v.startswith("'") and v[1:].startswith(STARTERS) for v in values), url


# ---------------------------------------------------------------------------------------------
# Typed cells: numbers are numbers, dates are dates
# ---------------------------------------------------------------------------------------------

def test_roster_export_cells_are_typed(client, auth, hostile):
    auth.login(ADMIN)
    rows = rows_of(fetch(client, "/admin/members/export.xlsx?private=1").data)
    header, body = rows[0], rows[1:]
    first = next(r for r in body if r[1] == "'=1+1")
    col = {h: i for i, h in enumerate(header)}
    assert isinstance(first[col["编号"]], int) and first[col["出生年份"]] == 1960
    assert first[col["入党日期"]] == datetime(1990, 7, 1)
    assert first[col["积分手册编号"]] == "'=1+1" and first[col["联系电话"]] == "'=1+1"
    assert number(first[-1]) and first[-1] == 49   # base 50 + J1 1 - K1 2
    plus = next(r for r in body if str(r[1]).endswith("86 138"))
    assert plus[1] == "'+86 138"   # NUL removed, then the + made inert


def test_opening_template_points_are_numbers(client, auth, hostile):
    auth.login(COMMUNITY)
    wb = load_workbook(io.BytesIO(fetch(client, "/admin/opening-balances/template.xlsx").data))
    indicators = {r[0]: r for r in wb["指标"].iter_rows(min_row=2, values_only=True)}
    assert indicators["K1"][3] == -2 and indicators["J1"][3] == 1 and indicators["Z3"][3] == 0.5
    assert indicators["J1"][2] == "'=1+1" and indicators["Z4"][4] == "'@cmd"
    assert indicators["K3"][3] == "−3 / −10"     # a choice: text, with the minus sign rather than a hyphen
    assert indicators["J1"][4] == LONG


def test_audit_export_time_is_a_date_and_text_is_inert(client, auth, hostile):
    auth.login(ADMIN)
    rows = rows_of(fetch(client, "/admin/audit/export?format=xlsx").data)
    assert rows[0][:3] == ["时间", "账号", "操作"]
    assert all(isinstance(r[0], datetime) for r in rows[1:])
    assert [r[0] for r in rows].count(datetime(2026, 5, 9, 23, 30)) == len(HOSTILE) + 1   # 15:30 UTC in Shanghai
    assert all(isinstance(r[4], int) for r in rows[1:])
    assert "'=1+1" in [r[7] for r in rows[1:]] and "'=1+1" in [r[1] for r in rows[1:]]
    lines = list(csv.reader(io.StringIO(fetch(client, "/admin/audit/export?format=csv").data.decode("utf-8-sig"))))
    assert lines[2][0] == "2026-05-09 23:30" and lines[2][4].isdigit()
    assert "'=1+1" in [line[7] for line in lines] and "'\t=1" in [line[1] for line in lines]


def test_review_and_assessment_scores_are_numbers(client, auth, hostile):
    auth.login(BRANCH)
    rows = rows_of(fetch(client, f"/branches/{hostile.branch_id}/review/2025/export.xlsx").data)
    assert rows[1][0] == "'+SUM(A1) · -2+3"
    assert rows[3][0] == "'=1+1 于 2026-01-15 确认。"     # who confirmed it leads the line in Chinese
    body = [r for r in rows[6:] if r[0] is not None]
    assert len(body) == len(HOSTILE) + 1
    assert all(isinstance(r[0], int) and number(r[6]) for r in body)
    assert "'=1+1" in [r[1] for r in body] and "'-2+3" in [r[9] for r in body]
    rows = rows_of(fetch(client, f"/assessment/branches/{hostile.branch_id}?month=2026-03&format=xlsx").data)
    person = next(r for r in rows if r[0] == "'@cmd")
    assert person[5] == -1 and number(person[5]) and number(person[6])


def test_figures_workbook_cells_are_typed(client, auth, hostile):
    auth.login(ADMIN)
    client.set_cookie("qscore_lang", "en")
    wb = load_workbook(io.BytesIO(fetch(client, "/stats/export.xlsx?period=2026").data))
    assert wb["Summary"]["A1"].value.startswith("'=HYPERLINK")
    teams = list(wb["Teams"].iter_rows(min_row=2, values_only=True))
    assert teams == [("'+SUM(A1)", "'=1+1", datetime(2024, 3, 1), 0, 0)]
    branches = {r[1]: r for r in wb["Branches"].iter_rows(min_row=2, values_only=True)}
    assert branches["'-2+3"][2] == len(HOSTILE) + 1 and branches["'-2+3"][0] == "'+SUM(A1)"
    ws = load_workbook(io.BytesIO(fetch(client, "/stats/members?figure=hours&period=2026&show=all&format=xlsx")
                                  .data)).active
    assert all(number(r[3]) for r in ws.iter_rows(min_row=3, values_only=True))


# ---------------------------------------------------------------------------------------------
# No export can escape: the list above is every endpoint that reaches the one download
# ---------------------------------------------------------------------------------------------

def _globals_used(code) -> tuple[set[str], set[str]]:
    """(global names, attribute names) a function's code loads, nested functions and comprehensions included."""
    names, attributes = set(), set()
    for ins in dis.get_instructions(code):
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            names.add(ins.argval)
        elif ins.opname in ("LOAD_ATTR", "LOAD_METHOD"):
            attributes.add(ins.argval)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            more = _globals_used(const)
            names |= more[0]
            attributes |= more[1]
    return names, attributes


def _reaches(fn, target, seen: set) -> bool:
    """Whether a view calls ``target``, itself or through the app's functions it calls."""
    fn = inspect.unwrap(fn)
    code = getattr(fn, "__code__", None)
    if code is None or code in seen:
        return False
    seen.add(code)
    names, attributes = _globals_used(code)
    for name in names:
        obj = fn.__globals__.get(name)
        if isinstance(obj, types.ModuleType) and obj.__name__.startswith("qscore"):
            found = [getattr(obj, a) for a in attributes if hasattr(obj, a)]   # module.function
        else:
            found = [obj]
        for o in found:
            if o is target:
                return True
            if isinstance(o, types.FunctionType) and o.__module__.startswith("qscore") and _reaches(o, target, seen):
                return True
    return False


def test_the_list_is_every_download(app):
    from qscore.exports import download

    downloads = {ep for ep, view in app.view_functions.items() if _reaches(view, download, set())}
    assert downloads == set(EXPORTS)


def test_one_writer():
    """Only qscore/exports.py builds a workbook or a CSV or sets Content-Disposition."""
    root = Path(__file__).resolve().parents[1] / "qscore"
    markers = re.compile(r"\bWorkbook\(|csv\.writer|DictWriter|send_file\(|Content-Disposition")
    writers = sorted(str(p.relative_to(root.parent)) for p in root.rglob("*.py") if markers.search(p.read_text()))
    assert writers == ["qscore/exports.py"]


# ---------------------------------------------------------------------------------------------
# The one cell
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("=1+1", "'=1+1"), ("+SUM(A1)", "'+SUM(A1)"), ("-2+3", "'-2+3"), ("@cmd", "'@cmd"), ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"), ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'), ("＝1+1", "'＝1+1"),
    ("＋1", "'＋1"), ("a\x00b", "ab"), ("\x01\x1f=1", "'=1"), ("\ufffe张\ud800伟", "张伟"),
    ("张伟", "张伟"), ("'=1", "'=1"), ("a=1", "a=1"), (" =1", " =1"), ("line\nbreak", "line\nbreak"),
    ("", ""), (None, None), (3, 3), (-2, -2), (0.5, 0.5), (Decimal("-2.5"), -2.5), (Fraction(1, 4), 0.25),
    (True, True), (date(2026, 5, 1), date(2026, 5, 1)), (datetime(2026, 5, 1, 8, 30), datetime(2026, 5, 1, 8, 30)),
    (float("nan"), None),
])
def test_cell_value(value, expected):
    from qscore.exports import cell_value

    got = cell_value(value)
    assert got == expected and type(got) is type(expected)


def test_cell_value_of_long_text_and_other_objects():
    from qscore.exports import MAX_CELL, cell_value

    assert cell_value("=" + "x" * 40000) == "'=" + "x" * (MAX_CELL - 3) + "…"
    assert len(cell_value("x" * 40000)) == MAX_CELL
    assert cell_value(Path("a")) == "a"


def test_csv_and_xlsx_writers_keep_types_and_neutralise():
    from qscore.exports import Sheet, write_csv, write_xlsx

    rows = [["=1+1", -2, Decimal("3.5"), date(2026, 5, 1), datetime(2026, 5, 1, 8, 30), None, "#REF!"]]
    data = write_xlsx(Sheet("=Sheet[1]", header=["a", "b", "c", "d", "e", "f", "g"], rows=rows, widths=[10]))
    wb = load_workbook(io.BytesIO(data))
    ws = wb.worksheets[0]
    assert ws.title == "=Sheet1"
    cells = list(ws.iter_rows(min_row=2))[0]
    assert [c.value for c in cells] == ["'=1+1", -2, 3.5, datetime(2026, 5, 1), datetime(2026, 5, 1, 8, 30), None,
                                        "#REF!"]
    assert cells[0].data_type == "s" and cells[6].data_type == "s"   # an error code stays text
    assert cells[3].number_format == "yyyy-mm-dd" and cells[4].number_format == "yyyy-mm-dd hh:mm"
    text = write_csv(["a", "b"], [["=1+1", -2], [date(2026, 5, 1), datetime(2026, 5, 1, 8, 30)], [None, 1.5]])
    assert text.startswith("\ufeff".encode())
    assert list(csv.reader(io.StringIO(text.decode("utf-8-sig")))) == [
        ["a", "b"], ["'=1+1", "-2"], ["2026-05-01", "2026-05-01 08:30"], ["", "1.5"]]


def test_download_headers(app):
    from qscore.exports import download

    with app.test_request_context():
        resp = download(b"x", '党员名册/"\r\n.xlsx', 'roster"\r\n.xlsx')
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="roster___.xlsx"; filename*=UTF-8\'\'')
    assert "\r" not in disposition and "\n" not in disposition and "%2F" not in disposition
    assert resp.mimetype.endswith("spreadsheetml.sheet")
    assert resp.headers["Cache-Control"] == "no-store" and resp.headers["X-Content-Type-Options"] == "nosniff"
