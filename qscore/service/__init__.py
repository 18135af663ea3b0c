"""Volunteer posts (奉献岗), contact households (联系户) and volunteer teams (志愿服务队).

The community keeps a list of post kinds; members declare posts (at most ``max_posts_per_member``)
and the households they keep contact with, from their booklet (pending until a secretary confirms)
or a secretary records them for the member (confirmed at once). Each month the secretary ticks who
served their post on one screen per branch: a month on duty is one Z1 entry per member, written
through ledger.record_entry with source "post"; each documented household visit is one Z2 entry,
also with source "post" (the entry's origin is the post/household record, not an inline form).

Scope is access.py's: a branch secretary their branch, a community secretary their community, the
street admin everything; a member only their own declarations. No one confirms their own record.
A household's label is private: it is shown on these pages only, never on the board or in figures.
"""
from __future__ import annotations

from flask import Blueprint
from sqlalchemy import func, select

from ..db import db
from ..models import Household, MemberPost

bp = Blueprint("service", __name__, url_prefix="/service")

# The scheme's indicators these records write (the scheme gives them no role; see the closing note).
POST_INDICATOR = "Z1"
VISIT_INDICATOR = "Z2"
MAX_POSTS_FALLBACK = 4   # until street_settings.DEFAULTS has "max_posts_per_member"
OPEN = ("pending", "confirmed")  # a declaration that counts toward the limit


def max_posts(street_id: int) -> int:
    from ..street_settings import get_setting

    try:
        return int(get_setting(street_id, "max_posts_per_member"))
    except KeyError:  # not a known setting yet
        return MAX_POSTS_FALLBACK


def open_posts(member_id: int) -> int:
    return int(db.session.scalar(select(func.count(MemberPost.id)).where(
        MemberPost.member_id == member_id, MemberPost.status.in_(OPEN))) or 0)


def open_households(member_id: int) -> int:
    return int(db.session.scalar(select(func.count(Household.id)).where(
        Household.member_id == member_id, Household.status.in_(OPEN))) or 0)


from . import community, branch, duty, declare  # noqa: E402,F401  (views register on bp)
