"""Creating a street: the one way a real street comes into a database."""
from __future__ import annotations

from .db import db
from .models import Street
from .sessions import end_every_session


def create_street(name: str) -> Street:
    """A real (not demo) street. Every login ends: sessions opened on the demo, with its shared
    password, must not survive into the real street's data."""
    street = Street(name=name)
    db.session.add(street)
    db.session.flush()
    end_every_session()
    return street
