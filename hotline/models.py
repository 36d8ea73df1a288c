"""The data model: users, callers, cases, their timeline, the audit log and API tokens.

Caller identifiers and free text are ``EncryptedText`` columns; callers are found by
the blind index ``Caller.address_index``, never by the clear address.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.cases.ordering import QUEUE_RANK_SQL
from hotline.cases.references import format_reference
from hotline.crypto import EncryptedText
from hotline.extensions import db as _db

# Flask-SQLAlchemy builds ``db.Model`` at run time; typed ``Any`` here so that mypy accepts
# it as the base of the models (their columns are typed through ``Mapped[...]``).
db: Any = _db


def utcnow() -> datetime:
    """Timezone-aware now in UTC (stored naive-UTC-safe by the UTCDateTime type)."""
    return datetime.now(UTC)


class UTCDateTime(db.TypeDecorator):
    """Datetimes stored as UTC and always returned timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# A password_hash starting with this is no hash: no password verifies against it.
NO_PASSWORD_PREFIX = "!"  # noqa: S105 - a marker that is never a password


class User(UserMixin, db.Model):
    """A staff member, supervisor or admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16), default="staff")
    password_hash: Mapped[str] = mapped_column(String(255))
    # Rotated on password change or "log out everywhere": sessions carry it.
    session_token: Mapped[str] = mapped_column(String(64))
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    totp_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_last_counter: Mapped[int | None] = mapped_column(Integer, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    # When a one-time password stops working (null for a password the user chose).
    password_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # argon2 hashes of the last one-time passwords issued: never accepted as a new password.
    one_time_hashes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    on_duty: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    phone: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    languages: Mapped[str] = mapped_column(String(64), default="")
    # The language of this person's pages (``hotline/languages.py``); None: the
    # deployment's ``STAFF_DEFAULT_LANGUAGE``.
    ui_language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    # An IANA zone name; null: the HOTLINE_TIMEZONE default (hotline/staff_time.py).
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # A made-up account from ``demo seed``: shown as "demo" in the user list; it cannot
    # sign in unless the seed was asked for logins (``--with-logins``).
    demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # May send only approved reply templates (hotline/cases/reply_templates.py).
    approved_replies_only: Mapped[bool] = mapped_column(Boolean, default=False,
                                                        server_default=false())

    @property
    def can_sign_in_with_password(self) -> bool:
        """False for an account that holds no password at all (``NO_PASSWORD_PREFIX``)."""
        return not self.password_hash.startswith(NO_PASSWORD_PREFIX)

    def get_id(self) -> str:
        """Flask-Login identity: id plus session token, so a rotated token ends sessions."""
        return f"{self.id}:{self.session_token}"

    @property
    def language_list(self) -> list[str]:
        return [code for code in self.languages.split(",") if code]

    @property
    def is_active(self) -> bool:  # Flask-Login
        return bool(self.active)


class Caller(db.Model):
    """Someone who contacted the hotline, known only by a blind index of their address."""

    __tablename__ = "callers"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Null after a retention purge; NULLs do not collide in the unique index.
    address_index: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    address: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    address_kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    opt_out_keyword: Mapped[str | None] = mapped_column(String(32), nullable=True)
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    preferred_language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    flag: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # When this address was last due an auto-reply (hotline/channels/replies.py: the rule).
    last_auto_reply_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    cases: Mapped[list[Case]] = relationship(back_populates="caller", order_by="Case.id")


UNATTENDED_WHERE = "awaiting_staff_since IS NOT NULL AND assigned_to_id IS NOT NULL"


class Case(db.Model):
    """One contact thread with a caller, worked through the workflow."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_status_created", "status", "created_at"),
        Index("ix_cases_assigned_status", "assigned_to_id", "status"),
        Index("ix_cases_caller_created", "caller_id", "created_at"),
        Index("ix_cases_callback_created", "callback_needed", "created_at"),
        Index("ix_cases_channel_created", "channel", "created_at"),
        Index("ix_cases_language_created", "language", "created_at"),
        Index("ix_cases_category_created", "category", "created_at"),
        # The report indexes (migration 0006_reports): index-only scans on PostgreSQL.
        Index("ix_cases_created_report", "created_at", "id",
              postgresql_include=["status", "category", "channel", "language", "affiliation",
                                  "urgency", "first_response_at"]),
        Index("ix_cases_open_created", "created_at",
              postgresql_include=["channel", "language", "category", "assigned_to_id",
                                  "callback_needed"],
              postgresql_where=text("status <> 'closed'"), sqlite_where=text("status <> 'closed'")),
        Index("ix_cases_closed_report", "closed_at",
              postgresql_include=["status", "assigned_to_id", "resolution", "channel",
                                  "language", "category"]),
        Index("ix_cases_queue", "queue_rank", "created_at", "id"),
        Index("ix_cases_assignee_queue", "assigned_to_id", "queue_rank", "created_at", "id"),
        Index("ix_cases_callback_queue", "callback_needed", "queue_rank", "created_at", "id"),
        # Migration 0016: the open cases with every queue filter in the key, so filtered
        # queue pages and new-case counts are index-only reads (bound = CLOSED_RANK_MIN).
        Index("ix_cases_open_queue", "queue_rank", "created_at", "id", "assigned_to_id",
              "status", "urgency", "channel", "language", "category", "callback_needed",
              postgresql_where=text("queue_rank < 6"), sqlite_where=text("queue_rank < 6")),
        # Migration 0034: the assigned cases with a caller waiting (the unattended rule).
        Index("ix_cases_unattended", "assigned_to_id", "queue_rank", "created_at", "id",
              postgresql_where=text(UNATTENDED_WHERE), sqlite_where=text(UNATTENDED_WHERE)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(8), unique=True)
    caller_id: Mapped[int] = mapped_column(ForeignKey("callers.id"))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="new")
    resolution: Mapped[str | None] = mapped_column(String(32), nullable=True)
    category: Mapped[str | None] = mapped_column(String(32), nullable=True)
    caller_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    affiliation: Mapped[str | None] = mapped_column(String(32), nullable=True)
    urgency: Mapped[str] = mapped_column(String(16), default="normal")
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    region: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    callback_needed: Mapped[bool] = mapped_column(Boolean, default=False)
    # A staff reply did not leave (hotline/cases/reply_policy.py keeps it).
    reply_failed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    contact_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # What a web visitor typed under "how can we reach you" (encrypted; never in a body).
    contact_details: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    # argon2id hash of the web follow-up receipt; the receipt itself is never stored.
    followup_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The urgency when the first response left: stamped by a trigger as first_response_at
    # is set (migration 0035); the report judges the response against its target.
    first_response_urgency: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # The caller's first contact since the last staff action (null: no one is waiting).
    # Set by the intake, cleared by every staff action (hotline/cases/actions.py).
    awaiting_staff_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Indexed by ix_cases_closed_report (migration 0016 dropped a duplicate).
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Generated by the database from status and urgency (see hotline/cases/ordering.py).
    queue_rank: Mapped[int] = mapped_column(Integer, Computed(QUEUE_RANK_SQL))

    caller: Mapped[Caller] = relationship(back_populates="cases")
    assigned_to: Mapped[User | None] = relationship(foreign_keys=[assigned_to_id])
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id])
    interactions: Mapped[list[Interaction]] = relationship(
        back_populates="case", order_by="Interaction.id", lazy="select"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def display_reference(self) -> str:
        return format_reference(self.reference)


class ReplyTemplate(db.Model):
    """An approved reply: a short name and its text per language (encrypted)."""

    __tablename__ = "reply_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    text_ko: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    text_ru: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    text_uk: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    text_en: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)

    def text(self, language: str | None) -> str | None:
        """The text in ``language`` (None when it has none)."""
        return getattr(self, f"text_{language}", None) if language else None


class Interaction(db.Model):
    """One entry in a case's timeline."""

    __tablename__ = "interactions"
    __table_args__ = (
        UniqueConstraint("kind", "external_id", name="uq_interactions_kind_external_id"),
        Index("ix_interactions_case_id", "case_id", "id"),
        Index("ix_interactions_outbox", "delivery_status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(16), nullable=True)
    external_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    body: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Outbox state for message_out; null for everything else.
    delivery_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    send_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(255), nullable=True)

    case: Mapped[Case] = relationship(back_populates="interactions")
    author: Mapped[User | None] = relationship()


class CallLeg(db.Model):
    """One phone the line rings in a call through it (``channels/twilio/calls.py``).

    A call-back has a ``staff`` leg (the staff member's roster phone, rung first) and a
    ``caller`` leg (dialled into the conference once staff pressed 1); an ``interpreter``
    is a leg of its own; a staff member who accepts an inbound call is recorded as a
    ``staff`` leg of that call. ``interaction_id`` is the timeline entry the leg reports
    to. No number is stored here: each leg's number is read (and decrypted) when it is
    placed, from the roster or the caller.

    ``job`` belongs to the worker (``dialer``): ``place`` waits to be placed, ``placing``
    is claimed by one conditional UPDATE, ``end`` waits to be hung up. ``status`` is the
    leg's Twilio call status as last reported (a final one never moves back), or
    ``not-placed`` when Twilio was never asked or refused.
    """

    __tablename__ = "call_legs"
    __table_args__ = (
        Index("ix_call_legs_job", "job", "job_at"),
        Index("ix_call_legs_case_status", "case_id", "status"),
        Index("ix_call_legs_interaction", "interaction_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id"))
    role: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    call_sid: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    job: Mapped[str | None] = mapped_column(String(16), nullable=True)
    job_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    error: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    duration: Mapped[int | None] = mapped_column(Integer, nullable=True)

    case: Mapped[Case] = relationship()
    interaction: Mapped[Interaction] = relationship()
    user: Mapped[User | None] = relationship()


class MessageStatusEvent(db.Model):
    """One delivery-status callback from Twilio: one row per MessageSid and status."""

    __tablename__ = "message_status_events"
    __table_args__ = (UniqueConstraint("message_sid", "status", name="uq_message_status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_sid: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEvent(db.Model):
    """Append-only, hash-chained record of who did what to which case."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    actor_label: Mapped[str] = mapped_column(String(160))
    action: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True, index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class ApiToken(db.Model):
    """A bearer token for the read-only JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ServerSession(db.Model):
    """A signed-in browser session, known to the server so that it can be ended there.

    The cookie carries a random token; only its SHA-256 is stored. Deleting the row ends
    that browser's session at once (sign-out, follow-up "leave", expiry); deleting a
    user's rows ends all of theirs ("sign out everywhere"). ``kind`` is ``staff`` (with
    ``user_id``) or ``followup`` (with ``case_id``, the case signed into).
    """

    __tablename__ = "server_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True)
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ThrottleCounter(db.Model):
    """A fixed-window attempt counter (``hotline/channels/web/throttle.py``).

    ``bucket_key`` is a keyed hash of what is counted (an address bucket, a reference with an
    address bucket), never the clear value.
    """

    __tablename__ = "throttle_counters"

    bucket_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class KeyCanary(db.Model):
    """One row encrypted under the encryption key its data is written with
    (``hotline/ops/canary.py``): start-up and ``db upgrade`` refuse keys that cannot open it;
    ``keys rotate`` re-encrypts it like every other ``EncryptedText`` column."""

    __tablename__ = "key_canary"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[str] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReportTarget(db.Model):
    """The response target per urgency the report's roll-up counts against (0035).

    A copy of the ``RESPONSE_TARGET_*_MINUTES`` settings, in seconds, that the triggers
    can read; ``flask reports rebuild`` refreshes it from the settings.
    """

    __tablename__ = "report_targets"

    urgency: Mapped[str] = mapped_column(String(16), primary_key=True)
    seconds: Mapped[int] = mapped_column(Integer)


class ReportDay(db.Model):
    """Cases opened per UTC day, channel and language: the report's roll-up (0026).

    ``category`` is ``'*'`` for all cases, or a category for the classified ones;
    ``language`` is ``''`` when unset. Written only by the triggers on ``cases`` (and
    ``flask reports rebuild``); see ``hotline.reports.rollup``.
    """

    __tablename__ = "report_days"
    __table_args__ = {"sqlite_with_rowid": False}

    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    cases: Mapped[int] = mapped_column(Integer)


class ReportFact(db.Model):
    """Monthly counts per filter combination and measure: the report's roll-up (0026).

    ``channel`` / ``language`` / ``category`` are a value, ``''`` (unset) or ``'*'`` (any);
    ``measure`` is status, urgency, affiliation, category, response (bucket), resolution,
    closed_by (assignee id), or answered / within (``<urgency>|<channel>``, migration 0035:
    first responses, and those within target). Written only by the triggers on ``cases``.
    """

    __tablename__ = "report_facts"
    __table_args__ = (
        PrimaryKeyConstraint("channel", "language", "category", "month", "measure", "value",
                             postgresql_include=["n"]),
        {"sqlite_with_rowid": False},
    )

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    measure: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(32), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
