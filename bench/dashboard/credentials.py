"""Sign-in material for the dashboard benchmark, printed as JSON.

Run with the bench app's environment (``python -m bench.dashboard.credentials``). For a
seeded staff member and a seeded supervisor it builds a session cookie the way a full
sign-in leaves it (the keys ``tests/conftest.py::login_as`` sets: the server-side session
record's token, Flask-Login's ``_user_id`` and ``_fresh``, the second factor passed, and the
sign-in and last-seen timestamps the idle and absolute lifetime checks read), signed with
the app's own session serializer, so no password or TOTP code is needed. The staff member
is put on duty (the night shift). It also makes one
API token per role, picks a case the staff member may see and notes the newest case id
(what an open dashboard polls with) and the day of the first case (where "all time" starts).
"""

from __future__ import annotations

import json

from sqlalchemy import func, select

from hotline import create_app
from hotline.api.tokens import create_token
from hotline.auth import server_sessions
from hotline.auth.guards import MFA_SESSION_KEY
from hotline.auth.lifetime import AUTH_AT_KEY, SEEN_AT_KEY, SERVER_SESSION_KEY
from hotline.cases.references import format_reference
from hotline.demo import DEMO_EMAIL_DOMAIN
from hotline.extensions import db
from hotline.models import Case, Interaction, User, utcnow


def session_cookie(app, user: User) -> str:
    """A signed session cookie value for a fully signed-in ``user`` (signed in just now),
    with the server-side session record a real sign-in opens (the caller commits)."""
    serializer = app.session_interface.get_signing_serializer(app)
    now = utcnow()
    stamp = int(now.timestamp())
    token = server_sessions.open_session(server_sessions.STAFF, now, user_id=user.id)
    return serializer.dumps({SERVER_SESSION_KEY: token, "_user_id": user.get_id(),
                             "_fresh": True, MFA_SESSION_KEY: True,
                             AUTH_AT_KEY: stamp, SEEN_AT_KEY: stamp})


def main() -> None:
    app = create_app()
    with app.app_context():
        staff = db.session.execute(select(User).where(
            User.email == f"staff01@{DEMO_EMAIL_DOMAIN}")).scalar_one()
        supervisor = db.session.execute(select(User).where(
            User.email == f"supervisor01@{DEMO_EMAIL_DOMAIN}")).scalar_one()
        # The staff member works the night shift: on duty, so the unattended cases of the
        # other demo staff (all off duty) are in their queue and unattended view, as for
        # anyone on duty. No roster phone: the line never rings a made-up account.
        staff.on_duty = True
        # A recent case of the staff member with a typical timeline (5 entries).
        count = (select(func.count(Interaction.id)).where(Interaction.case_id == Case.id)
                 .correlate(Case).scalar_subquery())
        reference = db.session.execute(
            select(Case.reference).where(Case.assigned_to_id == staff.id, count >= 5)
            .order_by(Case.id.desc()).limit(1)
        ).scalar()
        if reference is None:
            reference = db.session.execute(
                select(Case.reference).where(Case.assigned_to_id.is_(None))
                .order_by(Case.id.desc()).limit(1)).scalar_one()
        tokens = {role: create_token(f"bench-{role}", role)[1]
                  for role in ("staff", "supervisor")}
        cookies = {"staff": session_cookie(app, staff),
                   "supervisor": session_cookie(app, supervisor)}
        db.session.commit()
        latest_id = int(db.session.execute(select(func.max(Case.id))).scalar() or 0)
        first = db.session.execute(select(func.min(Case.created_at))).scalar()
        cookie_name = app.config.get("SESSION_COOKIE_NAME", "session")
        print(json.dumps({
            "cookie_name": cookie_name,
            "cookies": cookies,
            "tokens": tokens,
            "reference": format_reference(reference),
            "latest_id": latest_id,
            "first_day": (first or utcnow()).date().isoformat(),
        }))


if __name__ == "__main__":
    main()
