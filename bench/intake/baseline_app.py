"""Baselines for the intake benchmark, served by the same gunicorn settings as the app.

``BASELINE_MODE=bare``: check the Twilio signature and answer constant TwiML.
``BASELINE_MODE=insert``: the same, plus one INSERT of the MessageSid and body (one
transaction, through SQLAlchemy and psycopg like the app) into ``bench_baseline``.
They show what the hardware, gunicorn and the database allow before any Hotline logic.
"""

from __future__ import annotations

import os

from flask import Flask, Response, abort, request
from sqlalchemy import create_engine, text
from twilio.request_validator import RequestValidator

TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'
MODE = os.environ.get("BASELINE_MODE", "bare")
PUBLIC_BASE_URL = os.environ["PUBLIC_BASE_URL"]
VALIDATOR = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])

app = Flask(__name__)
engine = None
if MODE == "insert":
    url = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
INSERT = text("INSERT INTO bench_baseline (sid, body) VALUES (:sid, :body)")


@app.post("/twilio/sms")
def sms() -> Response:
    """Signature check, optionally one row, constant TwiML."""
    form = request.form
    signature = request.headers.get("X-Twilio-Signature", "")
    if not VALIDATOR.validate(PUBLIC_BASE_URL + request.path, form, signature):
        abort(403)
    if engine is not None:
        with engine.begin() as conn:
            conn.execute(INSERT, {"sid": form["MessageSid"], "body": form.get("Body", "")})
    return Response(TWIML, mimetype="text/xml")
