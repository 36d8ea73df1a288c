"""Flask extension objects, created unbound and initialised in ``create_app``."""

from __future__ import annotations

import ipaddress

from flask import request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Deterministic constraint names keep migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


IPV6_BUCKET_PREFIX = 64


def address_bucket(address: str | None = None) -> str:
    """The remote address as rate limits count it: IPv4 whole, IPv6 by its /64 network.

    One machine or home commonly holds a whole IPv6 /64, so counting single IPv6
    addresses would give it 2^64 fresh buckets.
    """
    raw = address if address is not None else (request.remote_addr or "unknown")
    try:
        parsed = ipaddress.ip_address(raw)
    except ValueError:
        return raw
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_BUCKET_PREFIX}", strict=False))
    return str(parsed)


def address_key() -> str:
    """Rate-limit key of the remote address: a keyed hash (blind index), never the address.

    Every limit derived from an address uses this (the default key of ``limiter``), so
    neither the limiter's storage (Redis) nor its log lines hold a client address
    (security review, finding 11).
    """
    from hotline.crypto import cipher

    return "addr:" + cipher().blind_index("addr:" + address_bucket())[:32]


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=address_key, default_limits=[])

# Signed webhooks: all their traffic comes from a few Twilio (or Telegram) addresses, so a
# per-address limit would drop callers' messages during a burst. ``limiter.exempt`` on
# the blueprints (hotline/__init__.py) says so too; this filter also spares them the
# limiter's per-request resolution of which limits apply (~4 % of a message's CPU).
WEBHOOK_BLUEPRINTS = frozenset({"twilio_sms", "twilio_voice", "telegram"})


@limiter.request_filter
def _is_webhook() -> bool:
    return request.blueprint in WEBHOOK_BLUEPRINTS
