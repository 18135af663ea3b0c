"""GET /healthz for monitoring: the app answers and the database is reachable."""
from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .access import public
from .db import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@public
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="ok", db="error"), 503
    return jsonify(status="ok", db="ok")
