"""``/healthz``: is the app up and does the database answer?"""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from hotline.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """200 ``{"status": "ok"}`` when the database answers, 503 otherwise."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify({"status": "unavailable", "database": "unreachable"}), 503
    finally:
        db.session.rollback()
    return jsonify({"status": "ok"})
