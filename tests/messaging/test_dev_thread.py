"""The development outbox thread starts with the first request and never gets in its way."""

from hotline.messaging.worker import _THREAD_KEY, stop_background_thread


def test_development_thread_starts_and_pages_still_answer(make_app):
    app = make_app(TESTING=False, OUTBOX_BACKGROUND_THREAD=True)
    try:
        client = app.test_client()
        for path in ("/healthz", "/", "/login"):
            assert client.get(path).status_code == 200, path
        assert app.extensions[_THREAD_KEY].is_alive()
    finally:
        stop_background_thread(app)
    assert not app.extensions[_THREAD_KEY].is_alive()
