"""Demo mode: chosen on the setup page, announced on every page, and closed once real data exists."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from qscore.db import db
from qscore.models import AuditLog, Street, User

from .conftest import load_demo_street

BANNER = "演示数据"


def test_setup_page_offers_the_demo_and_loads_it(app, client, setup_token):
    page = client.get("/setup").get_data(as_text=True)
    assert "使用演示街道体验" in page
    resp = client.post("/setup/demo", data={"token": setup_token})
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"
    login_page = client.get("/login").get_data(as_text=True)
    assert BANNER in login_page and "qscore-demo" in login_page
    resp = client.post("/login", data={"username": "street", "password": "qscore-demo"})
    assert resp.status_code == 302
    home = client.get("/").get_data(as_text=True)
    assert BANNER in home and "示范街道" in home and "前进社区" in home
    assert client.post("/setup/demo", data={"token": setup_token}).status_code == 404  # once only


def test_demo_banner_on_every_page_including_errors(app, client):
    load_demo_street(app)
    client.post("/login", data={"username": "branch01", "password": "qscore-demo"})
    for url in ("/", "/roster", "/password", "/no-such-page"):
        resp = client.get(url, follow_redirects=True)
        assert BANNER in resp.get_data(as_text=True), url


def test_demo_password_refused_once_real_data_exists(app, client):
    load_demo_street(app)
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


def test_demo_accounts_are_disabled_once_a_real_street_is_created(app, client, runner):
    from qscore.security import hash_password

    with app.app_context():
        demo = Street(name="示范街道", demo=True)
        db.session.add(demo)
        db.session.flush()
        # A demo account whose password someone changed: the demo password rule no longer guards it.
        db.session.add(User(username="branch01", display_name="branch01", role="branch_secretary",
                            street_id=demo.id, password_hash=hash_password("changed-on-the-demo")))
        db.session.commit()
    login = {"username": "branch01", "password": "changed-on-the-demo"}
    assert client.post("/login", data=login).status_code == 302
    client.post("/logout")
    result = runner.invoke(args=["qscore", "add-org", "--street", "真实街道"])  # streets.create_street
    assert result.exit_code == 0, result.output
    resp = client.post("/login", data=login)
    assert resp.status_code == 422 and "账号已停用" in resp.get_data(as_text=True)
    with app.app_context():
        account = db.session.scalar(select(User).where(User.username == "branch01"))
        assert account is not None and account.active is False  # disabled, not deleted
        assert db.session.scalar(select(AuditLog.summary).where(AuditLog.action == "account_disabled")) == \
            "branch01: demo account, a real street was created"


# Run in a fresh interpreter: the suite itself imports qscore.demo, so only a new process shows what a server loads.
_SERVER_SCRIPT = r"""
import json, sys
from datetime import date
from qscore import create_app
from qscore.db import db
from qscore.models import Street, User
from qscore.security import hash_password

app = create_app({"TESTING": True, "SECRET_KEY": "x", "WTF_CSRF_ENABLED": False, "SQLALCHEMY_DATABASE_URI": sys.argv[1],
                  "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "FIXED_TODAY": date(2026, 5, 20),
                  "SETUP_TOKEN_FILE": sys.argv[2], "SECOND_STEP_REQUIRED_ROLES": ()})
with app.app_context():
    db.create_all()
    street = Street(name="幸福街道")
    db.session.add(street)
    db.session.flush()
    for name, pw in (("admin", "correct-horse-9"), ("shared", "qscore-demo")):
        db.session.add(User(username=name, display_name=name, role="street_admin", street_id=street.id,
                            password_hash=hash_password(pw)))
    db.session.commit()
client = app.test_client()
statuses = [client.get("/login").status_code,
            client.post("/login", data={"username": "shared", "password": "qscore-demo"}).status_code,
            client.post("/login", data={"username": "admin", "password": "correct-horse-9"}).status_code,
            client.get("/").status_code]
print(json.dumps({"statuses": statuses, "demo": "qscore.demo" in sys.modules,
                  "demo_mode": "qscore.demo_mode" in sys.modules}))
"""


def test_a_server_never_imports_the_demo_builder(tmp_path):
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run([sys.executable, "-c", _SERVER_SCRIPT, f"sqlite:///{tmp_path / 'db.sqlite3'}",
                           str(tmp_path / "setup-token")], capture_output=True, text=True, env=env, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    # The login page, the demo password refused beside real data (the check ran), a login, the home page.
    assert seen["statuses"] == [200, 422, 302, 200]
    assert seen["demo_mode"] is True and seen["demo"] is False
