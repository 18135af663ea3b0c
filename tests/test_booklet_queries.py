"""The booklet's figures come from the entries it lists (read once), and the parsed scheme is
memoised per version only while the version's stored data is unchanged."""
from __future__ import annotations

import calendar
import re
from datetime import date
from decimal import Decimal

from sqlalchemy import event, select, update

from qscore.db import db
from qscore.ledger import correct_entry, record_entry
from qscore.models import Member, SchemeVersion, User
from qscore.scheme import default_scheme_data
from qscore.scheme_versions import ensure_year, save_scheme, scheme_for_year
from qscore.scoring import score_members

from .conftest import FIXED_TODAY, make_member


def _year_cells(html: str) -> list[str]:
    """The month-end year scores of the summary table, in month order."""
    return re.findall(r'<td class="num year-cell">([^<]*)</td>', html)


def _expected(app, member_id: int, year: int, months: list[int], as_of: date) -> list[str]:
    from qscore.templating import points

    with app.app_context():
        scheme = scheme_for_year(year)
        m = db.session.get(Member, member_id)
        out = []
        for mo in months:
            end = min(date(year, mo, calendar.monthrange(year, mo)[1]), as_of)
            out.append(points(score_members(db.session, scheme, year, end, [m])[m.id].score))
        return out


def test_booklet_month_end_scores_match_the_ledger_queries(client, auth, app, org):
    """Entries, a corrected entry and its correction, and last year's entries: every month-end score
    the booklet shows is the one score_members (the grouped SQL ledger) gives as of that day."""
    with app.app_context(), app.test_request_context():
        bs = db.session.get(User, org.branch_secretary_id)
        m = make_member(org.branch_id, "钱七", "B", on_roll_since=date(2024, 6, 1))
        for code, value, on in (("J1", None, date(2025, 3, 4)), ("Z3", "2", date(2025, 11, 8)),
                                ("J1", None, date(2026, 1, 12)), ("Z3", "3", date(2026, 2, 5)),
                                ("J2", None, date(2026, 4, 9)), ("K1", None, date(2026, 5, 3))):
            record_entry(member=m, indicator_code=code, value=value, earned_on=on,
                         note="无故缺席" if code == "K1" else "", user=bs, today=FIXED_TODAY)
        wrong = record_entry(member=m, indicator_code="Z4", value="5", earned_on=date(2026, 3, 2), note="",
                             user=bs, today=FIXED_TODAY).entry
        correct_entry(entry=wrong, reason="重复录入", user=bs, today=FIXED_TODAY)
        db.session.commit()
        mid = m.id
    auth.login("admin")
    this_year = client.get(f"/members/{mid}").get_data(as_text=True)
    assert _year_cells(this_year) == _expected(app, mid, 2026, list(range(1, 6)), FIXED_TODAY)
    assert 'class="is-corrected"' in this_year
    last_year = client.get(f"/members/{mid}?year=2025").get_data(as_text=True)
    assert _year_cells(last_year) == _expected(app, mid, 2025, list(range(1, 13)), date(2025, 12, 31))


def test_scheme_memo_follows_in_place_edits(app, org):
    with app.app_context():
        ensure_year(2026)  # the year's version, as the first write of the year stores it
        first = scheme_for_year(2026)
        assert scheme_for_year(2026) is first  # parsed once while the stored data is unchanged
        version_id = db.session.scalar(select(SchemeVersion.id).where(SchemeVersion.year == 2026))
        data = default_scheme_data()
        data["types"][0]["base"] = 52
        save_scheme(2026, data, "", None)  # no publication yet: the same version, edited in place
        db.session.commit()
        assert db.session.scalar(select(SchemeVersion.id).where(SchemeVersion.year == 2026)) == version_id
        edited = scheme_for_year(2026)
        assert edited is not first and edited.types["A"].base == Decimal(52)

        # Another process's edit (or a restore) changes the stored text under the same id: seen too.
        data["types"][0]["base"] = 53
        db.session.execute(update(SchemeVersion).where(SchemeVersion.id == version_id).values(data=data))
        db.session.commit()
        assert scheme_for_year(2026).types["A"].base == Decimal(53)


def test_a_request_reads_the_years_scheme_once_and_sees_its_own_edit(app, org):
    with app.app_context():
        ensure_year(2026)
        db.session.commit()
    reads: list[str] = []

    def count(conn, cursor, statement, *args):
        if "scheme_version" in statement:
            reads.append(statement)

    with app.test_request_context("/"):
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            first = scheme_for_year(2026)
            assert scheme_for_year(2026) is first and scheme_for_year(2026) is first
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert len(reads) == 1
        data = default_scheme_data()
        data["types"][0]["base"] = 54
        save_scheme(2026, data, "", None)  # this request edits the scheme: its next read sees the edit
        assert scheme_for_year(2026).types["A"].base == Decimal(54)
        db.session.rollback()  # the edit is undone: so is what the request remembered of it
        assert scheme_for_year(2026).types["A"].base == first.types["A"].base
    with app.test_request_context("/"):
        assert scheme_for_year(2031) is not scheme_for_year(2031)  # a planned scheme (no version yet) is not kept


def test_an_entry_names_the_version_its_points_came_from_when_a_newer_one_lands_meanwhile(app, org):
    with app.app_context():
        first_id = ensure_year(2026).id
        member_id = make_member(org.branch_id, "孙八", "A", on_roll_since=date(2024, 6, 1)).id
        db.session.commit()
    with app.test_request_context("/", method="POST"):  # a secretary's add
        bs = db.session.get(User, org.branch_secretary_id)
        m = db.session.get(Member, member_id)
        scheme = scheme_for_year(2026)  # the request reads the scheme (the add's form does)...
        if db.engine.dialect.name == "sqlite":
            # Not on SQLite: a writing request holds the write lock from its first statement (qscore/db.py).
            assert db.session.connection().info.get("qscore_writer")
        else:
            with db.engine.connect() as other:  # ...another request commits a new version of the year meanwhile...
                other.execute(SchemeVersion.__table__.insert().values(
                    year=2026, version=2, data=default_scheme_data(), reason="edited elsewhere"))
                other.commit()
        recorded = record_entry(member=m, indicator_code="J1", value=None, earned_on=date(2026, 5, 4), note="",
                                user=bs, today=FIXED_TODAY)  # ...and this one writes with the points it read
        assert scheme is scheme_for_year(2026)
        assert recorded.entry.scheme_version_id == first_id
        db.session.rollback()


def test_reading_a_new_years_scheme_stores_nothing_and_the_first_write_stores_it_once(app, org):
    with app.app_context():
        assert db.session.scalar(select(SchemeVersion.id).where(SchemeVersion.year == 2031)) is None
        planned = scheme_for_year(2031)  # read: the scheme it will be, a copy of the latest earlier one
        assert db.session.scalar(select(SchemeVersion.id).where(SchemeVersion.year == 2031)) is None
        first, again = ensure_year(2031), ensure_year(2031)
        assert first.id == again.id and scheme_for_year(2031).types.keys() == planned.types.keys()
        assert len(db.session.scalars(select(SchemeVersion).where(SchemeVersion.year == 2031)).all()) == 1
