"""Regressions found by the robustness sweep on the public form's error pages."""

from hotline.channels.web.views import SUBMIT_LIMIT


def test_oversized_body_after_the_rate_limit_is_a_clean_error(make_app):
    app = make_app(WTF_CSRF_ENABLED=False)
    client = app.test_client()
    per_minute = int(SUBMIT_LIMIT.split()[0])
    for _ in range(per_minute):
        client.post("/", data={"message": "hello"})
    big = b"message=" + b"x" * (app.config["MAX_CONTENT_LENGTH"] + 100)
    response = client.post("/", data=big, content_type="application/x-www-form-urlencoded")
    assert response.status_code in (413, 429)


def test_malformed_json_body_without_csrf_token_is_a_400(client):
    response = client.post("/", data=b'{"a": 1 "b"}', content_type="application/json")
    assert response.status_code == 400
