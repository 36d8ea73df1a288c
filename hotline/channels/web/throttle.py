"""Throttling sign-in attempts at ``/followup``: atomic counts that slow guessing without
letting a stranger shut the real visitor out.

Security review, finding 8. Before, Flask-Limiter checked the limits when a request
started and counted a refusal when it ended, so parallel wrong attempts all passed the
check; and a limit per reference let anyone who knew a reference lock its visitor out.

Now every sign-in attempt first takes a slot with one atomic upsert
(``INSERT … ON CONFLICT (bucket_key) DO UPDATE SET count = count + 1 … RETURNING count``) in
each of its buckets; an attempt over a limit is refused before the receipt is checked,
and a successful one gives its slots back. The buckets:

- per address (``FOLLOWUP_FAILURES_PER_ADDRESS``): one address guessing many references;
- per reference *and* address (``FOLLOWUP_FAILURES_PER_REFERENCE``): one address
  guessing one receipt.

There is deliberately no limit per reference alone: a stranger's wrong attempts use up
only their own addresses' slots, so the right receipt from the visitor's address still
opens the case at once. What stops a guesser with many addresses is the receipt itself
(16 digits, 53 bits, checked with argon2id): at ten guesses an hour per address, even a
million addresses need ~10^8 years on average. IPv6 addresses count per /64
(``hotline.extensions.address_bucket``), since one machine holds a whole /64.
Keys are keyed hashes (blind index); counters of past windows are reused in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import limits
from sqlalchemy import bindparam, text, update

from hotline.crypto import cipher
from hotline.database import rowcount
from hotline.extensions import db
from hotline.models import ThrottleCounter, utcnow

COUNTERS = ThrottleCounter.__table__

_TAKE = text(
    "INSERT INTO throttle_counters (bucket_key, window_start, count) "
    "VALUES (:key, :now, 1) ON CONFLICT (bucket_key) DO UPDATE SET "
    "count = CASE WHEN throttle_counters.window_start <= :cutoff THEN 1 "
    "ELSE throttle_counters.count + 1 END, "
    "window_start = CASE WHEN throttle_counters.window_start <= :cutoff THEN :now "
    "ELSE throttle_counters.window_start END "
    "RETURNING count"
).bindparams(bindparam("now", type_=COUNTERS.c.window_start.type),
             bindparam("cutoff", type_=COUNTERS.c.window_start.type))


@dataclass(frozen=True)
class Bucket:
    """One counter: its hashed key and its limit (``amount`` per ``window``)."""

    key: str
    amount: int
    window: timedelta


def bucket(scope: str, limit: str) -> Bucket:
    """The bucket of ``scope`` (a clear name, hashed here) under a Flask-Limiter string."""
    item = limits.parse(limit)
    return Bucket(cipher().blind_index("throttle|" + scope), item.amount,
                  timedelta(seconds=item.get_expiry()))


def take(buckets: list[Bucket], at: datetime | None = None) -> bool:
    """Take one slot in every bucket, atomically each; False when any is over its limit.

    All buckets are counted even when one is over (the attempt happened). The caller
    commits.
    """
    now = at or utcnow()
    allowed = True
    for item in buckets:
        count = db.session.execute(_TAKE, {"key": item.key, "now": now,
                                           "cutoff": now - item.window}).scalar_one()
        allowed = allowed and count <= item.amount
    return allowed


def give_back(buckets: list[Bucket]) -> None:
    """Return the slots a successful attempt took (the caller commits)."""
    for item in buckets:
        db.session.execute(update(ThrottleCounter)
                           .where(ThrottleCounter.bucket_key == item.key, ThrottleCounter.count > 0)
                           .values(count=ThrottleCounter.count - 1))


def forget_before(cutoff: datetime) -> int:
    """Delete counters whose window started before ``cutoff`` (retention); the count."""
    result = db.session.execute(
        ThrottleCounter.__table__.delete().where(ThrottleCounter.window_start < cutoff))
    return rowcount(result)
