"""Histogram buckets of the delay to first response, and the SQL that computes them.

The roll-up (``hotline.reports.rollup``) counts answered cases per bucket; the median and
the 90th percentile are then read *exactly*: the histogram says which bucket holds the
wanted rank, and one index read of that bucket's cases gives the value itself (see
``rollup.percentiles``). So the buckets only bound the cost of that read; they cost no
precision.

Buckets are log-linear ("HDR" style) over whole seconds ``s = floor(delay)``: one bucket
per second below ``2 * SUB_BUCKETS`` seconds, then ``SUB_BUCKETS`` equal buckets per
octave, so a bucket never spans more than 1/16 of its delay. A bucket is named by its
lower bound in seconds. Delays beyond ``2 ** MAX_OCTAVE`` seconds (68 years) share the
last bucket.

Migration ``0026_report_rollup`` carries a copy of ``bucket_sql`` and ``seconds_sql``
(its triggers and its index use them); ``tests/test_reports_rollup.py`` checks that the
copies agree.
"""

from __future__ import annotations

SUB_BUCKETS = 16
# The first octave with buckets wider than a second starts at 2 * SUB_BUCKETS seconds.
FIRST_OCTAVE = SUB_BUCKETS.bit_length()
MAX_OCTAVE = 31
OVERFLOW = 2 ** MAX_OCTAVE


def bucket_of(seconds: float) -> int:
    """The bucket (its lower bound in whole seconds) of a non-negative delay."""
    whole = int(seconds)
    if whole < 2 ** FIRST_OCTAVE:
        return whole
    if whole >= OVERFLOW:
        return OVERFLOW
    width = 2 ** (whole.bit_length() - 1 - (FIRST_OCTAVE - 1))
    return whole - whole % width


def bucket_upper(lower: int) -> float:
    """The (exclusive) upper bound in seconds of the bucket starting at ``lower``."""
    if lower >= OVERFLOW:
        return float("inf")
    if lower < 2 ** FIRST_OCTAVE:
        return float(lower + 1)
    return float(lower + 2 ** (lower.bit_length() - 1 - (FIRST_OCTAVE - 1)))


def bucket_sql(whole_seconds: str) -> str:
    """SQL for ``bucket_of`` over an integer expression (the same on both databases)."""
    parts = [f"CASE WHEN {whole_seconds} < {2 ** FIRST_OCTAVE} THEN {whole_seconds}"]
    for octave in range(FIRST_OCTAVE, MAX_OCTAVE):
        width = 2 ** (octave - (FIRST_OCTAVE - 1))
        parts.append(f" WHEN {whole_seconds} < {2 ** (octave + 1)} "
                     f"THEN {whole_seconds} - {whole_seconds} % {width}")
    parts.append(f" ELSE {OVERFLOW} END")
    return "".join(parts)


def seconds_sql(dialect: str, responded: str = "first_response_at",
                created: str = "created_at") -> str:
    """SQL for the delay in seconds (a float), as the report has always computed it.

    PostgreSQL: ``date_part`` (double precision, what ``percentile_cont`` sorts); SQLite:
    ``julianday`` arithmetic (exact to ~0.1 ms, hence figures rounded to a tenth).
    """
    if dialect == "postgresql":
        return f"date_part('epoch', {responded} - {created})"
    return f"((julianday({responded}) - julianday({created})) * 86400.0)"


def whole_seconds_sql(dialect: str, responded: str = "first_response_at",
                      created: str = "created_at") -> str:
    """SQL for ``floor(delay)`` as an integer (delays are never negative here)."""
    seconds = seconds_sql(dialect, responded, created)
    if dialect == "postgresql":
        return f"floor({seconds})::bigint"
    return f"CAST({seconds} AS INTEGER)"
