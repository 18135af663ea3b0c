"""Demo mode as the running app sees it: the demo's published secrets and whether its street is loaded.

The builder (qscore/demo/, with its plan and the scoring it checks) is imported only by the actions that
load the demo; a server that merely serves pages never loads it.
"""
from __future__ import annotations

from sqlalchemy import exists, select

from .db import db
from .models import Member, Street, User

DEMO_PASSWORD = "qscore-demo"
# The demo administrator's second step (qscore/second_step), published in the README so anyone can try it.
DEMO_TOTP_SECRET = "5RSYYAEI3WBO62SEUUXU7JYGO2OEGSTV"
DEMO_STREET = "示范街道"


def is_real_data_present() -> bool:
    """True when the database holds anything that is not the demo: a street not marked demo, or
    members or accounts outside a demo street."""
    demo_streets = select(Street.id).where(Street.demo.is_(True))
    return bool(
        db.session.scalar(select(exists().where(Street.demo.is_(False))))
        or db.session.scalar(select(exists().where(Member.street_id.not_in(demo_streets))))
        or db.session.scalar(select(exists().where(User.street_id.not_in(demo_streets))))
    )


def demo_loaded() -> bool:
    return bool(db.session.scalar(select(exists().where(Street.demo.is_(True)))))
