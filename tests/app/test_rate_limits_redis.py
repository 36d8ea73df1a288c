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
