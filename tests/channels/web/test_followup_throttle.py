"""Security review, finding 8: follow-up sign-in limits hold under parallel attempts, and a
stranger who knows a reference cannot lock its visitor out.

Parallel attempts are threads, each with its own client (cookie, database session and
connection), released together by a barrier; on PostgreSQL they run side by side.
"""

from __future__ import annotations

import limits
from sqlalchemy import func, select

from hotline.channels.web.views import (
    FOLLOWUP_FAILURES_PER_ADDRESS,
    FOLLOWUP_FAILURES_PER_REFERENCE,
)
from hotline.extensions import db
from hotline.models import ThrottleCounter
from tests.conftest import in_parallel
from tests.web_helpers import hidden_fields, reference_and_receipt, send_contact

PARALLEL = 12


def _amount(limit: str) -> int:
    return limits.parse(limit).amount


def _attempt_job(app, reference: str, receipt: str, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    hidden = hidden_fields(client.get("/followup").get_data(as_text=True))

    def job() -> int:
        return client.post("/followup", data={**hidden, "reference": reference,
                                              "receipt": receipt}).status_code

    return job


def _web_case(app) -> tuple[str, str]:
    page = send_contact(app.test_client(), "en", message="hello").get_data(as_text=True)
    return reference_and_receipt(page)


def test_parallel_wrong_receipts_from_one_address_get_no_more_than_the_limit(app):
    reference, _ = _web_case(app)
    jobs = [_attempt_job(app, reference, "9" * 16, "198.51.100.9") for _ in range(PARALLEL)]
    results = in_parallel(jobs)
    allowed = _amount(FOLLOWUP_FAILURES_PER_REFERENCE)
    # Only ``allowed`` attempts were checked at all; the others were throttled.
    assert results.count(400) == allowed
    assert results.count(429) == PARALLEL - allowed


def test_parallel_guesses_across_references_from_one_address_get_no_more_than_the_limit(app):
    jobs = [_attempt_job(app, f"{n:04d}-0000", "9" * 16, "198.51.100.10")
            for n in range(PARALLEL)]
    results = in_parallel(jobs)
    allowed = _amount(FOLLOWUP_FAILURES_PER_ADDRESS)
    assert results.count(400) == allowed and results.count(429) == PARALLEL - allowed


def test_a_stranger_guessing_from_many_addresses_cannot_lock_the_visitor_out(app):
    reference, receipt = _web_case(app)
    jobs = [_attempt_job(app, reference, "9" * 16, f"198.51.100.{n + 20}")
            for n in range(PARALLEL)]
    assert set(in_parallel(jobs)) == {400}
    visitor = _attempt_job(app, reference, receipt, "192.0.2.44")
    assert visitor() == 303


def test_ipv6_addresses_of_one_slash_64_share_their_bucket(app):
    reference, _ = _web_case(app)
    allowed = _amount(FOLLOWUP_FAILURES_PER_REFERENCE)
    results = [_attempt_job(app, reference, "9" * 16, f"2001:db8:1:2::{n + 1:x}")()
               for n in range(allowed + 1)]
    assert results == [400] * allowed + [429]


def test_counters_are_stored_under_keyed_hashes(app):
    reference, _ = _web_case(app)
    _attempt_job(app, reference, "9" * 16, "198.51.100.99")()
    with app.app_context():
        keys = db.session.execute(select(ThrottleCounter.bucket_key)).scalars().all()
        assert db.session.execute(select(func.count()).select_from(ThrottleCounter)
                                  ).scalar_one() == 2
    assert all(len(key) == 64 and "198.51" not in key and reference not in key for key in keys)
