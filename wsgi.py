"""WSGI entry point: ``gunicorn wsgi:app``.

An unsafe production configuration stops the process with its one-line reason
(no traceback), e.g. ``hotline: SECRET_KEY is not set; production refuses …``; so do
encryption keys that cannot open this database (``hotline/ops/canary.py``).
"""

from config import ConfigError
from hotline import create_app
from hotline.ops import canary

try:
    app = create_app()
    canary.check(app)
except (ConfigError, canary.KeyCanaryError) as exc:
    raise SystemExit(f"hotline: {exc}") from None
