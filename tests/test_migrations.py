"""The migrations build exactly the schema the models describe, on SQLite and on PostgreSQL."""
from __future__ import annotations

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import upgrade
from sqlalchemy import text

from qscore.db import db
from qscore.scoring import year_sums

from .conftest import scratch_database


@pytest.fixture
def empty_database_url(tmp_path):
    url = os.environ.get("DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
        return
    with scratch_database(url, "migrations") as migrations_url:  # one per xdist worker
        yield migrations_url


def test_migrations_match_the_models(make_app, empty_database_url):
    app = make_app(SQLALCHEMY_DATABASE_URI=empty_database_url)
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
        db.session.remove()
        db.engine.dispose()
    assert diff == []


def test_duplicate_live_publications_are_resolved_by_the_upgrade(make_app, empty_database_url):
    """Databases written before the unique index may hold several live publications of a quarter
    (concurrent publishes): the upgrade keeps the newest, retracts the others with a reason, and
    turns each publication's listed adjustments into rows."""
    app = make_app(SQLALCHEMY_DATABASE_URI=empty_database_url)
    with app.app_context():
        upgrade(revision="adc5a67f3fbc")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO street (id, name, demo, created_at) VALUES (1, '幸福街道', false, '2026-01-01')"))
            conn.execute(text("INSERT INTO community (id, street_id, name, retired, created_at) "
                              "VALUES (1, 1, '前进社区', false, '2026-01-01')"))
            conn.execute(text("INSERT INTO branch (id, community_id, name, kind, retired, quick_indicators, created_at) "
                              "VALUES (1, 1, '第一党支部', 'ordinary', false, '', '2026-01-01')"))
            conn.execute(text(
                "INSERT INTO member (id, street_id, branch_id, name, gender, on_roll_since, probationary, booklet_no, "
                "phone, address, status, created_at) VALUES "
                "(1, 1, 1, '张伟', 'M', '2020-01-01', false, '', '', '', 'active', '2026-01-01')"))
            conn.execute(text(
                "INSERT INTO point_entry (id, member_id, branch_id, year, indicator_code, category, points, earned_on, "
                "note, source, recorded_at) VALUES (7, 1, 1, 2026, 'J1', 'J', 1, '2026-03-02', '补记', 'inline', "
                "'2026-04-11')"))
            for pub_id, at, adjustments in ((1, "2026-04-10 09:00:00", "[]"), (2, "2026-04-10 09:00:01", "[]"),
                                            (3, "2026-04-10 09:00:02", '[{"entry_id": 7}]')):
                conn.execute(text(
                    "INSERT INTO publication (id, branch_id, year, quarter, published_at, supervision_ends_on, "
                    "snapshot, adjustments, sha256, chair, retract_reason) VALUES "
                    "(:id, 1, 2026, 1, :at, '2026-04-20', '[]', :adj, 'x', '', '')"),
                    {"id": pub_id, "at": at, "adj": adjustments})
        upgrade()
        with db.engine.connect() as conn:
            live = conn.execute(text("SELECT id FROM publication WHERE retracted_at IS NULL")).scalars().all()
            reasons = conn.execute(text("SELECT retract_reason FROM publication WHERE retracted_at IS NOT NULL")).scalars().all()
            listed = conn.execute(text("SELECT publication_id, entry_id FROM publication_adjustment")).all()
            sums = conn.execute(text("SELECT member_id, year, sums FROM ledger_year_sums")).all()
        db.session.remove()
        db.engine.dispose()
    assert live == [3] and len(reasons) == 2 and all("重复公示" in r for r in reasons)
    assert [tuple(r) for r in listed] == [(3, 7)]
    # the scoring's stored sums are filled from the ledger that was there: 张伟's one point of J1 in March
    assert [(m, y) for m, y, _s in sums] == [(1, 2026)]
    assert year_sums.decode(sums[0][2]).tenths == {("J1", "J", 3): 10}


def test_the_upgrade_stops_on_a_stored_scheme_the_scoring_cannot_hold(make_app, empty_database_url):
    """Scheme.from_dict refuses points in hundredths and caps over 1000, so a version stored before would break
    every page of its year: the upgrade lists each such figure and stops, changing nothing; once corrected it runs."""
    from datetime import datetime

    from alembic import command
    from sqlalchemy import insert, update

    from qscore.models import SchemeVersion
    from qscore.scheme import default_scheme_data

    good = default_scheme_data()
    bad = default_scheme_data()
    z4 = next(n for n, i in enumerate(bad["indicators"]) if i["code"] == "Z4")
    bad["indicators"][z4]["points_options"] = [3, 5.25]
    bad["types"][1]["basic_cap"] = 1200
    table = SchemeVersion.__table__
    app = make_app(SQLALCHEMY_DATABASE_URI=empty_database_url)
    with app.app_context():
        upgrade(revision="a19b00000003")
        with db.engine.begin() as conn:
            conn.execute(insert(table), [
                {"year": 2025, "version": 1, "data": good, "reason": "", "created_at": datetime(2025, 1, 1)},
                {"year": 2026, "version": 1, "data": bad, "reason": "", "created_at": datetime(2026, 1, 1)}])
        with pytest.raises(RuntimeError) as err:  # alembic's own call: `flask db upgrade` prints it and exits 1
            command.upgrade(app.extensions["migrate"].migrate.get_config(), "head")
        message = str(err.value)
        assert "升级已停止" in message and "Upgrade stopped" in message
        assert "2026 v1: types[1].basic_cap = 1200: a cap must be more than 0 and at most 1000" in message
        assert f"2026 v1: indicators[{z4}].points_options[1] = 5.25: more than 1 decimal place" in message
        assert "2025" not in message.split("\n", 2)[-1]
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "a19b00000003"
        with db.engine.begin() as conn:
            conn.execute(update(table).where(table.c.year == 2026).values(data=good))
        upgrade()
        with db.engine.connect() as conn:
            head = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config()).get_current_head()
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
        db.session.remove()
        db.engine.dispose()
