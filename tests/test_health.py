from __future__ import annotations

from qscore import create_app


def test_healthz_ok(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "db": "ok"}


def test_healthz_reports_unreachable_database(test_config, tmp_path):
    broken = dict(test_config, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/missing-dir/x.sqlite3")
    app = create_app(broken)
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json() == {"status": "ok", "db": "error"}
