"""A login ends on the server: after its lifetime (12 hours) the same cookie opens nothing (ASVS 3.3.1, 3.3.2)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from qscore.db import db
from qscore.models import UserSession
from qscore.models._common import utcnow


def _rows(app) -> list[UserSession]:
    with app.app_context():
        rows = db.session.scalars(select(UserSession)).all()
        db.session.expunge_all()
        return rows


def test_a_session_lives_twelve_hours_from_login(app, client, auth, org):
    assert auth.login("bs").status_code == 302
    [row] = _rows(app)
    assert timedelta(hours=11, minutes=59) < row.expires_at - row.created_at <= timedelta(hours=12)


def test_an_expired_session_is_refused_and_sent_to_login(app, client, auth, org):
    assert auth.login("bs").status_code == 302
    assert client.get("/").status_code == 200
    with app.app_context():
        db.session.execute(update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    resp = client.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    # An htmx request gets 401 and the login page to go to, never a fragment of the page.
    resp = client.get("/", headers={"HX-Request": "true"})
    assert resp.status_code == 401 and "/login" in resp.headers["HX-Redirect"]
    # Logging in again opens a new session; the old row stays expired.
    assert auth.login("bs").status_code == 302
    assert client.get("/").status_code == 200
    assert len(_rows(app)) == 2


def test_a_session_just_before_its_end_still_works(app, client, auth, org):
    assert auth.login("bs").status_code == 302
    with app.app_context():
        db.session.execute(update(UserSession).values(expires_at=utcnow() + timedelta(seconds=30)))
        db.session.commit()
    assert client.get("/").status_code == 200
