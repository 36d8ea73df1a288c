"""Rate limits kept in Redis are shared by every app server pointing at it.

Needs the local Redis at 127.0.0.1:6379 (``.ci/run`` starts it); the test fails, rather
than skips, when it is not there.
"""

from __future__ import annotations

import uuid

import redis

REDIS_URL = "redis://127.0.0.1:6379/15"
LIMIT = 4


def test_two_app_servers_share_one_login_limit(make_app):
    store = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    store.ping()
    prefix = f"hotline-test-{uuid.uuid4().hex}"
    settings = {
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": prefix,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": False,
        "LOGIN_RATE_LIMIT": f"{LIMIT} per minute",
        "WTF_CSRF_ENABLED": False,
    }
    server_a = make_app(**settings).test_client()
    server_b = make_app(**settings).test_client()
    form = {"email": "nobody@hotline.test", "password": "wrong password here"}
    statuses = []
    for attempt in range(LIMIT + 1):
        client = server_a if attempt % 2 == 0 else server_b
        statuses.append(client.post("/login", data=form).status_code)
    # Neither server alone saw more than LIMIT requests, yet together they hit the limit.
    assert 429 not in statuses[:LIMIT]
    assert statuses[LIMIT] == 429
    # The counters live in Redis (not in this process), so any other server sees them.
    keys = store.keys(f"*{prefix}*")
    assert keys
    store.delete(*keys)


def test_no_limiter_key_in_redis_holds_a_client_address(make_app, make_user):
    """Security review, finding 11: sign-in limits kept the raw address in Redis."""
    from tests.auth_flow import submit
    from tests.conftest import login_as

    store = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    prefix = f"hotline-test-{uuid.uuid4().hex}"
    app = make_app(RATELIMIT_STORAGE_URI=REDIS_URL, RATELIMIT_KEY_PREFIX=prefix,
                   RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=False)
    address = "203.0.113.77"
    environ = {"REMOTE_ADDR": address}
    client = app.test_client()
    client.environ_base.update(environ)
    page = client.get("/login").get_data(as_text=True)
    from tests.conftest import csrf_token

    client.post("/login", data={"csrf_token": csrf_token(page), "email": "x@hotline.test",
                                "password": "wrong password", "next": ""})
    staff = app.test_client()
    staff.environ_base.update(environ)
    login_as(staff, make_user("staff"))
    submit(staff, "/account/password", "/account/password",
           {"current": "wrong", "password": "x" * 20, "confirm": "x" * 20})
    visitor = app.test_client()
    visitor.environ_base.update(environ)
    form = visitor.get("/en/").get_data(as_text=True)
    visitor.post("/followup", data={"csrf_token": csrf_token(form), "reference": "ABCD-EFGH",
                                    "receipt": "1234 5678 9012 3456"})
    # (The limiter keeps the key prefix of the first app that set one, so the keys are
    # found by their hashed address, and every key in this Redis db is searched.)
    with app.app_context():
        from hotline.extensions import address_key

        with app.test_request_context(environ_base=environ):
            hashed = address_key().removeprefix("addr:")
    everything = [key.decode() for key in store.keys("*")]
    ours = [key for key in everything if hashed in key]
    try:
        assert len(ours) >= 3
        assert not any(address in key for key in everything)
    finally:
        if ours:
            store.delete(*ours)
