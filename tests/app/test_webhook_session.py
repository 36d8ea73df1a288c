"""The Twilio and Telegram webhooks run without the cookie session; every other route keeps it."""

from __future__ import annotations

from hotline.extensions import WEBHOOK_BLUEPRINTS
from hotline.webhook_session import WEBHOOK_PREFIX
from tests.conftest import login_as

MESSAGE = {"From": "+79161234567", "To": "+15005550006", "Body": "Хочу сдаться",
           "MessageSid": "SM" + "b" * 32, "NumMedia": "0"}


def test_webhook_answer_neither_reads_nor_sets_the_session_cookie(app, client, twilio_post,
                                                                    make_user):
    login_as(client, make_user("staff"))
    response = twilio_post("/twilio/sms", MESSAGE)
    assert response.status_code == 200
    # A signed-in cookie would have had its idle stamp refreshed (Set-Cookie) and the
    # answer marked Vary: Cookie; the webhook ignores the cookie altogether.
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.vary
    # Security headers still apply to webhook answers.
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_other_routes_keep_the_signed_cookie_session(client, make_user):
    login_as(client, make_user("staff"))
    response = client.get("/dashboard/")
    assert response.status_code == 200
    assert "session=" in response.headers.get("Set-Cookie", "")
    assert "Cookie" in response.vary


def test_prefix_and_limiter_filter_cover_every_webhook_route(app):
    webhook_rules = [r for r in app.url_map.iter_rules()
                     if r.endpoint.startswith(("twilio_", "telegram."))]
    assert webhook_rules
    assert all(r.rule.startswith(WEBHOOK_PREFIX) for r in webhook_rules)
    assert {r.endpoint.split(".")[0] for r in webhook_rules} == WEBHOOK_BLUEPRINTS
