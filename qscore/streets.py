"""Creating a street: the one way a real street comes into a database."""
from __future__ import annotations

from sqlalchemy import select

from . import audit
from .db import db
from .models import Street, User
from .sessions import end_every_session


def create_street(name: str) -> Street:
    """A real (not demo) street. Every login ends: sessions opened on the demo, with its shared
    password, must not survive into the real street's data. The demo's accounts are disabled, not
    deleted (the audit log names them): one whose password was changed would still be a way in."""
    street = Street(name=name)
    db.session.add(street)
    db.session.flush()
    demo_accounts = db.session.scalars(select(User).where(
        User.active.is_(True), User.street_id.in_(select(Street.id).where(Street.demo.is_(True))))).all()
    for u in demo_accounts:
        u.active = False
        audit.record("account_disabled", u, summary=f"{u.username}: demo account, a real street was created",
                     before={"active": True}, after={"active": False})
    end_every_session()
    return street
