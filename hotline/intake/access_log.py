"""Keep visitor addresses out of the development server's access log.

Werkzeug's server (``flask run``, the browser-test live server) starts every request
line with the client address. The app never logs addresses itself; this filter blanks
the one werkzeug writes. In production gunicorn writes no access log unless told to;
the README says to leave it off or use a format without ``%(h)s``.
"""

from __future__ import annotations

import logging
import re

_REQUEST_LINE = re.compile(r"^\S+ - - \[")


class AnonymousAccessLog(logging.Filter):
    """Replace the leading client address of a werkzeug request line with ``-``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and _REQUEST_LINE.match(record.msg):
            record.msg = "-" + record.msg[record.msg.index(" - - ["):]
        return True


def install() -> None:
    """Add the filter to the ``werkzeug`` logger once per process."""
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, AnonymousAccessLog) for f in logger.filters):
        logger.addFilter(AnonymousAccessLog())
