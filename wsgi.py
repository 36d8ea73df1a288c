"""WSGI entry point: ``gunicorn wsgi:app``.

An unsafe production configuration stops the process with its one-line reason
(no traceback), e.g. ``hotline: SECRET_KEY is not set; production refuses …``.
"""

from config import ConfigError
from hotline import create_app

try:
    app = create_app()
except ConfigError as exc:
    raise SystemExit(f"hotline: {exc}") from None
