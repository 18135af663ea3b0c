"""The roster workbook: the template, an all-or-nothing import with a row-by-row report, 2,000 rows
in a few seconds, and the export."""
from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from qscore.db import db
from qscore.models import AuditLog, BranchSpell, Member, MemberType

from .conftest import make_member

HX = {"HX-Request": "true"}
HEADERS = ["姓名", "性别", "出生年份", "入党日期", "列入街道名册日期", "类别", "预备党员", "社区", "支部", "联系电话",
           "住址", "积分手册编号"]


@pytest.fixture
def admin(client, auth, org):
    client.set_cookie("qscore_lang", "en")
    auth.login("admin")
    return client


def workbook(rows, headers=HEADERS) -> io.BytesIO:
    wb = Workbook()
    ws = wb.active
    ws.append(headers)
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    return out


def row(name="李娜", birth=1975, branch="第一党支部", community="前进社区", type_code="B", since="2021-03-01",
        joined=datetime(1998, 7, 1), gender="女", probationary="否", phone="13800000000", address="和平路2号",
        booklet=""):
    return [name, gender, birth, joined, since, type_code, probationary, community, branch, phone, address, booklet]


def upload(client, rows, headers=HEADERS, skip=False, hx=True, filename="roster.xlsx"):
    data = {"file": (workbook(rows, headers), filename)}
    if skip:
        data["skip_existing"] = "y"
    return client.post("/admin/members/import", data=data, content_type="multipart/form-data",
                       headers=HX if hx else {})




def members(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Member))


def report(resp) -> str:
    return " ".join(resp.get_data(as_text=True).split())


def test_template_has_chinese_headers_and_the_branches(admin, org):
    resp = admin.get("/admin/members/import/template.xlsx")
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    assert "filename*=UTF-8''" in resp.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(resp.data))
    assert [c.value for c in wb.worksheets[0][1]] == HEADERS
    branches = [tuple(r) for r in wb["支部"].iter_rows(min_row=2, values_only=True)]
    assert ("前进社区", "第一党支部") in branches and ("和平社区", "和平第一支部") in branches
    assert "说明" in wb.sheetnames


def test_a_good_workbook_imports_every_row(app, admin, org):
    rows = [row(), row(name="王强", gender="男", birth=1948, type_code="第四类", branch="再就业党支部", community="",
                   joined="1970/5/4", since="2010年3月1日", probationary="是", phone="", address=""),
            row(name="赵敏", type_code="1", birth="1980", since=date(2026, 1, 5), joined=None)]
    resp = upload(admin, rows)
    assert resp.status_code == 200, report(resp)
    assert "3 members are on the roll now" in report(resp)
    with app.app_context():
        got = {m.name: m for m in db.session.scalars(select(Member))}
        assert set(got) == {"李娜", "王强", "赵敏"}
        wang = got["王强"]
        assert (wang.branch_id, wang.gender, wang.birth_year, wang.joined_party_on, wang.on_roll_since,
                wang.probationary) == (org.sibling_branch_id, "M", 1948, date(1970, 5, 4), date(2010, 3, 1), True)
        types = dict(db.session.execute(select(MemberType.member_id, MemberType.type_code)).all())
        assert [types[got[n].id] for n in ("李娜", "王强", "赵敏")] == ["B", "D", "A"]
        spells = db.session.scalars(select(BranchSpell).where(BranchSpell.member_id == got["赵敏"].id)).all()
        assert [(s.branch_id, s.starts_on) for s in spells] == [(org.branch_id, date(2026, 1, 5))]
        assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "member_imported")) == 3
        summary = db.session.scalar(select(AuditLog).where(AuditLog.action == "members_imported"))
        assert summary.after == {"imported": 3, "skipped": 0, "rows": 3}


def test_every_kind_of_bad_row_is_reported_and_nothing_is_imported(app, admin, org):
    with app.app_context():
        make_member(org.branch_id, "张伟", birth_year=1960)
        db.session.commit()
    rows = [
        row(name="好人甲"),                                      # row 2: good
        row(name=""),                                            # row 3: missing name
        row(name="日期错", since="2021-13-45"),                  # row 4: bad date
        row(name="支部错", branch="不存在支部"),                  # row 5: unknown branch
        row(name="张伟", birth=1960),                            # row 6: already on the roll
        row(name="类别错", type_code="E"),                        # row 7: wrong type code
        row(name="好人甲"),                                      # row 8: twice in the file
        row(name="好人乙", birth="一九五零"),                     # row 9: bad year of birth
        row(name="未来", since="2030-01-01"),                    # row 10: after today
        row(name="社区错", community="火星社区"),                  # row 11: unknown community
    ]
    resp = upload(admin, rows)
    assert resp.status_code == 422
    text = report(resp)
    assert "Nothing was imported" in text
    expected = [
        (3, "姓名", "The name is missing."),
        (4, "列入街道名册日期", "“2021-13-45” is not a date: write it like 2020-03-05."),
        (5, "支部", "Unknown branch “不存在支部” in 前进社区."),
        (6, "姓名", "Already on the roll of this branch (same name and year of birth)."),
        (7, "类别", "Unknown type code “E”: use A, B, C or D."),
        (8, "姓名", "Same name, year of birth and branch as row 2."),
        (9, "出生年份", "Not a year of birth between 1900 and 2010."),
        (10, "列入街道名册日期", "The date is after today."),
        (11, "社区", "Unknown community “火星社区”."),
    ]
    for number, column, message in expected:
        assert f'<td class="num">{number}</td><td>{column}</td><td>{message}' in text.replace("> <", "><"), (
            number, message)
    assert "<td class=\"num\">2</td>" not in text
    assert members(app) == 1
    with app.app_context():
        assert not db.session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action.in_(("member_imported", "members_imported"))))


def test_skip_members_who_already_exist(app, admin, org):
    with app.app_context():
        make_member(org.branch_id, "张伟", birth_year=1960)
        db.session.commit()
    resp = upload(admin, [row(name="张伟", birth=1960), row(name="新人"), row(name="新人")], skip=True)
    assert resp.status_code == 200
    text = report(resp)
    assert "1 members are on the roll now" in text and "2 rows skipped" in text
    assert members(app) == 2


@pytest.mark.parametrize(("content", "message"), [
    (b"name,birth\n", "The file is not an Excel workbook (.xlsx)."),
])
def test_not_a_workbook(app, admin, content, message):
    resp = admin.post("/admin/members/import", data={"file": (io.BytesIO(content), "roster.csv")},
                      content_type="multipart/form-data", headers=HX)
    assert resp.status_code == 422 and message in report(resp)


def test_missing_columns_and_empty_files(app, admin, org):
    resp = upload(admin, [["李娜", 1975]], headers=["姓名", "出生年份"])
    assert resp.status_code == 422
    text = report(resp)
    assert "列入街道名册日期" in text and "This column is missing from the first row." in text
    resp = upload(admin, [])
    assert resp.status_code == 422 and "The file has no rows under its headers." in report(resp)
    resp = admin.post("/admin/members/import", data={}, content_type="multipart/form-data")
    assert resp.status_code == 422 and "Choose a file." in report(resp)
    assert members(app) == 0


def test_a_community_secretary_imports_only_into_their_community(app, client, auth, org):
    client.set_cookie("qscore_lang", "en")
    auth.login("cs")
    resp = upload(client, [row(), row(name="外人", community="和平社区", branch="和平第一支部")])
    assert resp.status_code == 422 and "Unknown community “和平社区”." in report(resp)
    assert members(app) == 0


def test_without_htmx_the_report_is_on_the_page(app, admin, org):
    resp = upload(admin, [row(name="")], hx=False)
    assert resp.status_code == 422
    text = report(resp)
    assert "<html" in text and "The name is missing." in text


def test_two_thousand_rows_import_at_once(app, admin, org):
    rows = [row(name=f"党员{i:04d}", birth=1940 + i % 40, branch=("第一党支部", "再就业党支部")[i % 2],
                type_code="ABCD"[i % 4], since=date(2015, 1 + i % 12, 1 + i % 28), booklet=f"QJ-{i:05d}")
            for i in range(2000)]
    resp = upload(admin, rows)  # its speed is measured by the benchmark, not here
    assert resp.status_code == 200, report(resp)[:2000]
    assert "2000 members are on the roll now" in report(resp)
    assert members(app) == 2000
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(MemberType)) == 2000
        assert db.session.scalar(select(func.count()).select_from(BranchSpell)) == 2000


def test_export_is_the_template_and_private_fields_only_on_request(app, admin, org):
    with app.app_context():
        make_member(org.branch_id, "张伟", "B", birth_year=1960, phone="13800000001", address="幸福路1号",
                    booklet_no="QJ-1")
        db.session.commit()
    resp = admin.post("/admin/members/export.xlsx")
    assert resp.status_code == 200
    ws = load_workbook(io.BytesIO(resp.data)).worksheets[0]
    header = [c.value for c in ws[1]]
    assert header[:2] == ["编号", "姓名"] and "联系电话" not in header
    values = [c.value for c in ws[2]]
    assert values[1:3] == ["张伟", None] and "B" in values and "QJ-1" in values and 55 in values  # type 2's base
    with app.app_context():
        assert not db.session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "private_viewed"))
    resp = admin.post("/admin/members/export.xlsx", data={"private": "1"})
    ws = load_workbook(io.BytesIO(resp.data)).worksheets[0]
    assert "联系电话" in [c.value for c in ws[1]] and "13800000001" in [c.value for c in ws[2]]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "private_viewed")) == 1
    # An exported roster imports again (into another street, or after the members left).
    resp = admin.post("/admin/members/import", data={"file": (io.BytesIO(resp.data), "export.xlsx")},
                      content_type="multipart/form-data", headers=HX)
    assert resp.status_code == 422 and "Already on the roll of this branch" in report(resp)


def minimal_xlsx(sheet_rows: str, styles: str = "", date1904: bool = False) -> bytes:
    """A workbook as other programs write it: inline strings, a custom date format, no shared strings."""
    import zipfile

    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
    pr = ' date1904="1"' if date1904 else ""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", '<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                                          'content-types"><Override PartName="/xl/workbook.xml" ContentType="'
                                          'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"'
                                          '/></Types>')
        z.writestr("xl/workbook.xml", f'<workbook {ns} {rel}><workbookPr{pr}/>'
                                      '<sheets><sheet name="名册" sheetId="1" r:id="rId7"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                                                 'relationships"><Relationship Id="rId7" Target="worksheets/s.xml" '
                                                 'Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                                                 'relationships/worksheet"/></Relationships>')
        z.writestr("xl/styles.xml", f'<styleSheet {ns}><numFmts><numFmt numFmtId="176" formatCode="yyyy&quot;年&quot;m'
                                    '&quot;月&quot;d&quot;日&quot;"/></numFmts><cellXfs><xf numFmtId="0"/>'
                                    '<xf numFmtId="176"/></cellXfs></styleSheet>' if not styles else styles)
        z.writestr("xl/worksheets/s.xml", f"<worksheet {ns}><sheetData>{sheet_rows}</sheetData></worksheet>")
    return out.getvalue()


@pytest.mark.filterwarnings("ignore:Workbook contains no default style")  # openpyxl's note: harmless
def test_reader_handles_inline_strings_and_custom_date_formats():
    from qscore.admin.imports import ROSTER_COLUMNS
    from qscore.admin.workbooks import read_rows

    def cell(ref, value):
        if isinstance(value, str):
            return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'
        return f'<c r="{ref}" s="1"><v>{value}</v></c>' if ref[0] in "DE" else f'<c r="{ref}"><v>{value}</v></c>'

    header = "".join(cell(f"{chr(65 + i)}1", h) for i, h in enumerate(HEADERS))
    # Row 3 skips columns (no B, no D): values land under their own headers.
    body = (f'<row r="3">{cell("A3", "李娜")}{cell("C3", 1975)}{cell("E3", 44197)}{cell("F3", "B")}'
            f'{cell("I3", "第一党支部")}</row>')
    rows = list(read_rows(minimal_xlsx(f'<row r="1">{header}</row>{body}'), ROSTER_COLUMNS))
    assert rows == [(3, {"name": "李娜", "gender": None, "birth_year": 1975, "joined_party_on": None,
                         "on_roll_since": datetime(2021, 1, 1), "type_code": "B", "probationary": None,
                         "community": None, "branch": "第一党支部", "phone": None, "address": None,
                         "booklet_no": None})]
    rows = list(read_rows(minimal_xlsx(f'<row r="1">{header}</row>{body}', date1904=True), ROSTER_COLUMNS))
    assert rows[0][1]["on_roll_since"] == datetime(2025, 1, 2)


def test_a_damaged_workbook_is_reported(app, admin, org):
    data = minimal_xlsx("<row><c r='A1'>")  # truncated XML
    resp = admin.post("/admin/members/import", data={"file": (io.BytesIO(data), "broken.xlsx")},
                      content_type="multipart/form-data", headers=HX)
    assert resp.status_code == 422
    assert "The file is not an Excel workbook (.xlsx)." in report(resp) or "The file is damaged" in report(resp)
