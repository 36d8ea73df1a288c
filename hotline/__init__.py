"""Hotline: intake and case tracking for a 24-hour humanitarian hotline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import load_config
from hotline.crypto import EXTENSION_KEY, FieldCipher
from hotline.database import RowIdConverter, configure_engine_events, engine_options
from hotline.extensions import babel, csrf, db, limiter, login_manager, migrate
from hotline.logging_setup import configure_logging
from hotline.webhook_session import WebhookAwareSessionInterface


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application. ``config`` overrides settings read from the environment."""
    app = Flask(__name__, instance_relative_config=True,
                instance_path=(config or {}).get("INSTANCE_PATH"))
    app.config.update(load_config(config, instance_path=app.instance_path))
    app.session_interface = WebhookAwareSessionInterface()
    configure_logging(app)

    if app.config["PROXY_FIX_HOPS"]:
        hops = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    options = engine_options(app.config["SQLALCHEMY_DATABASE_URI"])
    options.update(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options

    app.extensions[EXTENSION_KEY] = FieldCipher(
        app.config["HOTLINE_ENCRYPTION_KEYS"], app.config["HOTLINE_INDEX_KEY"]
    )
    db.init_app(app)
    with app.app_context():
        configure_engine_events(db.engine)
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)

    from hotline import i18n
    from hotline.staff_time import select_timezone

    babel.init_app(app, locale_selector=i18n.select_locale,
                   timezone_selector=select_timezone)
    i18n.register(app)
    from hotline.channels import replies

    replies.warn_if_uncompiled()
    from hotline import formatting

    formatting.register(app)

    app.url_map.converters["int"] = RowIdConverter  # before any route is added
    _register_blueprints(app)

    from hotline import cli, errors, security_headers

    errors.register(app)
    security_headers.register(app)
    cli.register(app)
    return app


def _migrations_dir():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "migrations"


def _register_blueprints(app: Flask) -> None:
    from hotline.admin.replies import bp as replies_admin_bp
    from hotline.admin.views import bp as admin_bp
    from hotline.api.v1 import bp as api_bp
    from hotline.auth.session import register as register_auth
    from hotline.auth.views import bp as auth_bp
    from hotline.channels.telegram.webhook import bp as telegram_bp
    from hotline.channels.twilio.sms import bp as sms_bp
    from hotline.channels.twilio.voice import bp as voice_bp
    from hotline.channels.web.views import bp as public_bp
    from hotline.dashboard import bp as dashboard_bp
    from hotline.health import bp as health_bp
    from hotline.messaging import init_app as init_messaging
    from hotline.reports.views import bp as reports_bp
    from hotline.staff_time import register as register_staff_time

    for blueprint in (auth_bp, admin_bp, replies_admin_bp, health_bp, public_bp, sms_bp,
                      voice_bp, telegram_bp, api_bp, reports_bp, dashboard_bp):
        app.register_blueprint(blueprint)
    register_staff_time(app)
    # Webhooks are signature-checked (Telegram's: a secret header) and the API is
    # token-authenticated instead of CSRF.
    for blueprint in (sms_bp, voice_bp, telegram_bp, api_bp):
        csrf.exempt(blueprint)
    # All Twilio (and Telegram) traffic comes from a few provider addresses: a per-address
    # limit there would drop callers' messages during a broadcast burst.
    for blueprint in (sms_bp, voice_bp, telegram_bp):
        limiter.exempt(blueprint)
    register_auth(app)
    init_messaging(app)
