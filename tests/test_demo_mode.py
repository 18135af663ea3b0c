"""Demo mode: chosen on the setup page, announced on every page, and closed once real data exists."""
from __future__ import annotations

from sqlalchemy import select

from qscore.db import db
from qscore.models import Street

BANNER = "演示数据"


def test_setup_page_offers_the_demo_and_loads_it(app, client):
    page = client.get("/setup").get_data(as_text=True)
    assert "使用演示街道体验" in page
    resp = client.post("/setup/demo")
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"
    login_page = client.get("/login").get_data(as_text=True)
    assert BANNER in login_page and "qscore-demo" in login_page
    resp = client.post("/login", data={"username": "street", "password": "qscore-demo"})
    assert resp.status_code == 302
    home = client.get("/").get_data(as_text=True)
    assert BANNER in home and "示范街道" in home and "前进社区" in home
    assert client.post("/setup/demo").status_code == 404  # once only


def test_demo_banner_on_every_page_including_errors(app, client):
    client.post("/setup/demo")
    client.post("/login", data={"username": "branch01", "password": "qscore-demo"})
    for url in ("/", "/roster", "/password", "/no-such-page"):
        resp = client.get(url, follow_redirects=True)
        assert BANNER in resp.get_data(as_text=True), url


def test_demo_password_refused_once_real_data_exists(app, client):
    client.post("/setup/demo")
    with app.app_context():
        db.session.add(Street(name="真实街道"))
        db.session.commit()
    resp = client.post("/login", data={"username": "street", "password": "qscore-demo"})
    assert resp.status_code == 422 and "演示密码已不可用" in resp.get_data(as_text=True)


def test_no_banner_without_demo_data(client, org):
    assert BANNER not in client.get("/login").get_data(as_text=True)


def test_demo_command_refuses_real_data(app, runner, org):
    result = runner.invoke(args=["qscore", "demo"])
    assert result.exit_code != 0 and "real data" in result.output
    with app.app_context():
        assert db.session.scalar(select(Street.id).where(Street.demo.is_(True))) is None
