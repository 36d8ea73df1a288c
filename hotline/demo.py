"""Realistic fake data for demos and benchmarks: ``flask --app wsgi demo seed --cases N``.

Rows are written in bulk, never one ORM object at a time: ``COPY … FROM STDIN`` through
psycopg on PostgreSQL, ``executemany`` on SQLite, in batches of ``BATCH_CASES`` cases.
Each batch is one transaction that first locks the three tables (PostgreSQL) or holds
SQLite's write lock, reads the highest ids and writes explicit ids above them, then moves
the id sequences on, so the app's own inserts carry on cleanly afterwards.

Encryption. Every encrypted column holds a real Fernet token under the app's key
(``hotline.crypto.cipher()``), so the app decrypts seeded rows like any other. Caller
addresses are encrypted one by one, because each is distinct and must decrypt to the
number its blind index names. Free text (message bodies, notes, names, regions) comes
from a pool of ``TEXT_POOL_SIZE`` distinct texts per kind and language, each encrypted
once and its token reused: the fake texts are drawn from a finite phrase list anyway,
and encrypting 3–4 million bodies one by one would cost ~20 s of the one core the
seeder gets while PostgreSQL uses the other (so multiprocessing would buy little).
The only visible difference from real data is that equal seeded texts share a token.

What it looks like: a line in the middle of a night. The history spreads over up to
``MAX_SPAN_DAYS`` (fewer for small sizes, so a few hundred cases still fill the reports'
days); the last ``SHIFT_HOURS`` hold a shift's worth of contacts (at least
``MIN_SHIFT_CASES``, more when the size's daily rate brings more). A case's status follows
its age (``AGE_STATUS``): new cases are minutes to hours old, the shift's cases are being
worked, conversations of the last days wait for the caller, older cases are closed. Open
voice cases whose call reached nobody wait for a callback. New cases are unclassified;
urgency follows the category once triaged. The staff are a handful of made-up accounts
(``Demo …``, ``users.demo``) that cannot sign in unless asked (``--with-logins``: one
one-time password, then two-factor enrolment and an own password like any new account).

Invariants kept: a caller has at most one open case (the latest); earlier cases of a
returning caller are closed before the caller returns; closed cases have ``closed_at``
and a ``resolution``; ``first_response_at`` is after ``created_at``; only open voice
cases need a callback; ids grow with ``created_at``, as they do in a live system;
``awaiting_staff_since`` is what the intake and the staff actions would have left (the
first caller contact after the last staff entry, none on a closed case), so the demo staff,
who are all off duty, leave some unattended cases for whoever is on duty.
"""

from __future__ import annotations

import heapq
import io
import json
import random
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy import func, select, text

from hotline.auth import steps
from hotline.auth.passwords import generate_password, hash_password, new_session_token
from hotline.cases import timeline
from hotline.cases.references import new_reference
from hotline.cases.vocabularies import CLASSIFICATIONS
from hotline.cases.workflow import RESOLUTIONS
from hotline.crypto import address_index, cipher
from hotline.extensions import db
from hotline.models import NO_PASSWORD_PREFIX, User

BATCH_CASES = 20_000
TEXT_POOL_SIZE = 400
# History: two years at most; small sizes get a shorter one (about two cases a day), so
# the reports' days are not empty.
MAX_SPAN_DAYS = 730
MIN_SPAN_DAYS = 30
CASES_PER_DAY_SMALL = 2
# The shift going on now: its contacts are the newest cases.
SHIFT_HOURS = 8
MIN_SHIFT_CASES = 16
DEMO_EMAIL_DOMAIN = "demo.hotline.invalid"
DEFAULT_STAFF = 5
DEFAULT_SUPERVISORS = 1
# First names of the made-up staff ("Demo Mina"); supervisors get "Demo supervisor …".
DEMO_NAMES = ["Mina", "Olena", "Sergei", "Anna", "Jae-won", "Taras", "Irina", "David",
              "Yuna", "Pavlo", "Katya", "Minho"]
# Not a hash: no password verifies against it, so the account cannot sign in.
NO_LOGIN_HASH = NO_PASSWORD_PREFIX + "demo account without sign-in"
# Share of cases whose caller comes back later with a new case.
RETURNING_SHARE = 0.18

# Telegram is the main written channel of lines like this one (their sites are blocked
# where many callers live; Telegram is not), then calls, SMS, WhatsApp and the web form.
CHANNEL_WEIGHTS = {"telegram": 30, "sms": 20, "whatsapp": 15, "voice": 20, "web": 15}
LANGUAGE_WEIGHTS = {"ko": 30, "ru": 35, "uk": 20, "en": 15}
ADDRESS_KIND = {"sms": "phone", "voice": "phone", "whatsapp": "whatsapp",
                "telegram": "telegram", "web": "web"}
# How each written channel's messages are identified (web submissions: not at all) and
# the status a delivered reply reaches (the Bot API reports no delivery, only "sent").
MESSAGE_ID_PREFIX = {"sms": "SM", "whatsapp": "SM", "telegram": "tg-"}
REPLY_ID_PREFIX = {"sms": "SM", "whatsapp": "SM", "telegram": "tgm-"}
REPLY_DELIVERED = {"sms": "delivered", "whatsapp": "delivered", "telegram": "sent"}
# Status by the case's age: (up to this many hours old, weights). New cases are minutes
# to hours old; the shift's cases are being worked; the last days' conversations wait
# for the caller; everything older is closed.
AGE_STATUS: list[tuple[float, dict[str, int]]] = [
    (0.5, {"new": 90, "triaged": 6, "in_progress": 4}),
    (2, {"new": 60, "triaged": 15, "in_progress": 20, "waiting": 5}),
    (SHIFT_HOURS, {"new": 20, "triaged": 15, "in_progress": 35, "waiting": 15, "closed": 15}),
    (48, {"triaged": 2, "in_progress": 15, "waiting": 15, "closed": 68}),
    (240, {"in_progress": 4, "waiting": 8, "closed": 88}),
    (float("inf"), {"closed": 1}),
]
# What callers write about, once someone has read it (the vocabulary's other values, if
# configured, get weight 1): hostile contacts and "other" are the exception.
CATEGORY_WEIGHTS = {"surrender": 24, "conscription": 28, "relative": 26, "information": 14,
                    "hostile": 3, "other": 5}
# Urgency once a case is triaged, by category (immediate, high, normal); new cases are
# "normal" until someone reads them.
URGENCY_LEVELS = ("immediate", "high", "normal")
URGENCY_BY_CATEGORY = {"surrender": (15, 35, 50), "conscription": (4, 26, 70),
                       "relative": (2, 18, 80), "information": (0, 5, 95),
                       "hostile": (0, 2, 98), "other": (2, 10, 88)}
DEFAULT_URGENCY = (3, 15, 82)
# An open voice case whose call reached nobody waits for a callback this often.
CALLBACK_SHARE = 0.6

PHRASES = {
    "ko": ["안녕하세요, 도움이 필요합니다", "저는 군인입니다", "항복하고 싶습니다",
           "가족이 걱정됩니다", "어떻게 연락하면 됩니까", "지금은 안전합니다",
           "전화로 말하기 어렵습니다", "내일 다시 연락하겠습니다", "위치를 말할 수 없습니다"],
    "ru": ["Здравствуйте, мне нужна помощь", "Я военнослужащий", "Хочу сдаться",
           "Меня могут мобилизовать", "Мой сын на фронте", "Как с вами связаться",
           "Сейчас я в безопасности", "Не могу говорить по телефону", "Напишу завтра"],
    "uk": ["Добрий день, потрібна допомога", "Мій брат у полоні", "Як передати інформацію",
           "Я хочу здатися, що робити", "Є інформація про підрозділ", "Чи це безпечно",
           "Зателефоную ввечері", "Ми в укритті", "Дякую за відповідь"],
    "en": ["Hello, I need help", "My husband was conscripted", "How do I contact you",
           "I want information about surrender", "Is this line safe", "I cannot talk now",
           "Please call me back tonight", "I am abroad now", "Thank you for the answer"],
}
STAFF_PHRASES = ["We received your message.", "Can you tell us where you are safe to talk?",
                 "A colleague who speaks your language will call you.",
                 "Please delete this conversation if your phone is checked.",
                 "We have passed your details on as agreed."]
NOTE_PHRASES = ["Caller sounded calm; asked for written instructions.",
                "Second contact; same questions as before.",
                "Referred to partner organisation.", "Line was noisy; call back later.",
                "Possible hoax: details inconsistent.", "Relative, not the serviceman himself."]
NAMES = ["Kim", "Park", "Lee", "Ivan", "Olga", "Petro", "Oksana", "John", "Anna", "Sergei"]
REGIONS = ["Kursk", "Belgorod", "Donetsk", "Zaporizhzhia", "Kharkiv", "Primorye", "Seoul",
           "Rostov", "Moscow", "Kherson", "abroad"]

CALLER_COLUMNS = ("id", "address_index", "address", "address_kind", "name", "opted_out",
                  "preferred_language", "first_seen", "last_seen")
CASE_COLUMNS = ("id", "reference", "caller_id", "channel", "status", "resolution", "category",
                "caller_type", "affiliation", "urgency", "language", "region",
                "assigned_to_id", "version", "callback_needed", "created_at", "updated_at",
                "first_response_at", "closed_at", "awaiting_staff_since")
INTERACTION_COLUMNS = ("id", "case_id", "kind", "channel", "external_id", "body", "meta",
                       "author_id", "created_at", "delivery_status", "send_attempts")


@dataclass
class SeedReport:
    """What ``seed`` wrote and how long it took."""

    cases: int = 0
    callers: int = 0
    interactions: int = 0
    users: int = 0
    seconds: float = 0.0
    batches: int = 0
    # The demo accounts' one-time password (``with_logins`` only; shown once).
    password: str | None = None
    notes: list[str] = field(default_factory=list)


class _TextPool:
    """Distinct fake texts per kind and language, each encrypted once under the app's key."""

    def __init__(self, rng: random.Random, size: int) -> None:
        encrypt = cipher().encrypt
        self.bodies = {lang: [encrypt(self._compose(rng, words, i)) for i in range(size)]
                       for lang, words in PHRASES.items()}
        self.replies = [encrypt(self._compose(rng, STAFF_PHRASES, i)) for i in range(size)]
        self.notes = [encrypt(self._compose(rng, NOTE_PHRASES, i)) for i in range(size)]
        self.names = [encrypt(f"{rng.choice(NAMES)} {i}") for i in range(size)]
        self.regions = [encrypt(rng.choice(REGIONS)) for _ in range(size // 4 or 1)]

    @staticmethod
    def _compose(rng: random.Random, words: Sequence[str], serial: int) -> str:
        picked = rng.sample(list(words), k=min(len(words), rng.randint(1, 3)))
        return ". ".join(picked) + f" ({serial})"


class _Writer:
    """Bulk row writer for one dialect; rows are tuples in the *_COLUMNS order."""

    def __init__(self) -> None:
        self.connection = db.session.connection()
        self.dialect = self.connection.dialect.name

    def ts(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        if self.dialect == "sqlite":  # SQLAlchemy's SQLite DATETIME storage format
            return value.strftime("%Y-%m-%d %H:%M:%S.%f")
        return value.isoformat()

    def lock_and_next_ids(self) -> tuple[int, int, int]:
        if self.dialect == "postgresql":
            self.connection.execute(text(
                "LOCK TABLE callers, cases, interactions IN SHARE ROW EXCLUSIVE MODE"))
        ids = []
        for table in ("callers", "cases", "interactions"):
            ids.append(self.connection.execute(
                text(f"SELECT COALESCE(MAX(id), 0) FROM {table}")).scalar_one() + 1)  # noqa: S608
        return ids[0], ids[1], ids[2]

    def write(self, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
        if not rows:
            return
        if self.dialect == "postgresql":
            self._copy(table, columns, rows)
        else:
            marks = ", ".join("?" for _ in columns)
            raw: Any = self.connection.connection.driver_connection
            raw.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)  # noqa: S608

    def _copy(self, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
        buffer = io.StringIO()
        for row in rows:
            buffer.write("\t".join(_copy_field(value) for value in row))
            buffer.write("\n")
        raw: Any = self.connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        ) as copy:
            copy.write(buffer.getvalue())

    def finish_batch(self) -> None:
        if self.dialect == "postgresql":
            for table in ("callers", "cases", "interactions"):
                self.connection.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"))


def _copy_field(value: object) -> str:
    """One value in PostgreSQL's COPY text format (our values never hold tabs or newlines)."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        return value.replace("\\", "\\\\")
    return str(value)


def _weighted(rng: random.Random, weights: dict[str, int], k: int) -> list[str]:
    return rng.choices(list(weights), weights=list(weights.values()), k=k)


class _Generator:
    """Makes the rows of successive batches; keeps returning callers across batches."""

    def __init__(self, n_cases: int, rng: random.Random, now: datetime, writer: _Writer,
                 staff_ids: list[int], pool: _TextPool, existing_refs: set[str],
                 existing_indexes: set[str]) -> None:
        self.n = n_cases
        self.rng = rng
        self.now = now
        span_days = min(MAX_SPAN_DAYS, max(MIN_SPAN_DAYS, n_cases // CASES_PER_DAY_SMALL))
        self.start = now - timedelta(days=span_days)
        self.shift_start = now - timedelta(hours=SHIFT_HOURS)
        # The shift gets what the history's rate brings, and never fewer than a handful.
        at_rate = round(n_cases * SHIFT_HOURS / (span_days * 24))
        self.n_history = n_cases - min(n_cases, max(MIN_SHIFT_CASES, at_rate))
        self.history_step = ((self.shift_start - self.start).total_seconds()
                             / max(self.n_history, 1))
        self.shift_step = SHIFT_HOURS * 3600 / max(n_cases - self.n_history, 1)
        self.age_status = [(hours * 3600, list(weights), list(accumulate(weights.values())))
                           for hours, weights in AGE_STATUS]
        self.urgency = {category: list(accumulate(weights))
                        for category, weights in URGENCY_BY_CATEGORY.items()}
        self.default_urgency = list(accumulate(DEFAULT_URGENCY))
        self.writer = writer
        self.staff_ids = staff_ids
        self.pool = pool
        self.refs = existing_refs
        self.indexes = existing_indexes
        self.run_tag = secrets.token_hex(4)
        self.sid_counter = 0
        # (due case number, caller id, channel, language, case row index of its last case)
        self.returning: list[tuple[int, int, str, str]] = []
        self.categories = list(CLASSIFICATIONS["category"])
        self.category_weights = list(accumulate(
            CATEGORY_WEIGHTS.get(category, 1) for category in self.categories))
        self.caller_types = CLASSIFICATIONS["caller_type"]
        self.affiliations = CLASSIFICATIONS["affiliation"]
        self.meta_empty = json.dumps(timeline.message_in_meta())
        self.meta_delivered = json.dumps(timeline.message_out_meta())

    def created_at(self, number: float) -> datetime:
        """When case ``number`` (fractional: within its slot) came in; grows with it."""
        if number < self.n_history:
            return self.start + timedelta(seconds=number * self.history_step)
        return self.shift_start + timedelta(seconds=(number - self.n_history) * self.shift_step)

    def status(self, age_seconds: float) -> str:
        """A status for a case of this age (``AGE_STATUS``)."""
        for limit, statuses, cumulative in self.age_status:
            if age_seconds <= limit:
                return self.rng.choices(statuses, cum_weights=cumulative)[0]
        return "closed"

    def sid(self, prefix: str) -> str:
        self.sid_counter += 1
        return f"{prefix}{self.run_tag}{self.sid_counter:024x}"

    def message_id(self, channel: str) -> str | None:
        """An inbound message's external id on ``channel`` (None for the web form)."""
        prefix = MESSAGE_ID_PREFIX.get(channel)
        return self.sid(prefix) if prefix else None

    def address(self, kind: str, language: str) -> str:
        rng = self.rng
        if kind == "web":
            return "web-" + secrets.token_hex(16)
        if kind == "telegram":
            return str(rng.randrange(10 ** 8, 8 * 10 ** 9))  # a private chat's id
        country = {"ko": "+8210", "ru": "+79", "uk": "+38067", "en": "+4477"}[language]
        digits = {"+8210": 8, "+79": 9, "+38067": 7, "+4477": 8}[country]
        return country + str(rng.randrange(10 ** (digits - 1), 10 ** digits))

    def batch(self, first: int, count: int, ids: tuple[int, int, int]
              ) -> tuple[list[tuple], list[tuple], list[tuple]]:
        rng = self.rng
        caller_id, case_id, interaction_id = ids
        callers: list[tuple] = []
        cases: list[tuple] = []
        interactions: list[tuple] = []
        channels = _weighted(rng, CHANNEL_WEIGHTS, count)
        languages = _weighted(rng, LANGUAGE_WEIGHTS, count)
        for offset in range(count):
            number = first + offset
            created = self.created_at(number + rng.random())
            if self.returning and self.returning[0][0] <= number:
                _, this_caller, channel, language = heapq.heappop(self.returning)
            else:
                channel, language = channels[offset], languages[offset]
                this_caller = caller_id
                caller_id += 1
                callers.append(self._caller_row(this_caller, channel, language, created))
            returns_at = None
            if rng.random() < RETURNING_SHARE:
                returns_at = number + rng.randint(1, max(2, self.n // 20))
                if returns_at < self.n:
                    heapq.heappush(self.returning, (returns_at, this_caller, channel, language))
                else:
                    returns_at = None
            come_back = None
            if returns_at is not None:
                come_back = self.created_at(returns_at)
            row, entries = self._case_row(case_id, this_caller, channel, language, created,
                                          come_back, interaction_id)
            cases.append(row)
            interactions.extend(entries)
            interaction_id += len(entries)
            case_id += 1
        return callers, cases, interactions

    def _caller_row(self, caller_id: int, channel: str, language: str,
                    created: datetime) -> tuple:
        kind = ADDRESS_KIND[channel]
        while True:
            address = self.address(kind, language)
            index = address_index(kind, address)
            if index not in self.indexes:
                self.indexes.add(index)
                break
        name = self.rng.choice(self.pool.names) if self.rng.random() < 0.3 else None
        seen = self.writer.ts(created)
        return (caller_id, index, cipher().encrypt(address), kind, name, False, language,
                seen, seen)

    def _reference(self) -> str:
        while True:
            ref = new_reference()
            if ref not in self.refs:
                self.refs.add(ref)
                return ref

    def _case_row(self, case_id: int, caller_id: int, channel: str, language: str,
                  created: datetime, come_back: datetime | None,
                  first_interaction_id: int) -> tuple[tuple, list[tuple]]:
        rng, ts = self.rng, self.writer.ts
        age = (self.now - created).total_seconds()
        status = "closed" if come_back is not None else self.status(age)
        worked = status != "new"
        first_response = None
        if worked:  # answered within minutes to a few hours, and before now
            first_response = min(self.now, created + timedelta(
                seconds=rng.uniform(0.05, 1.0) * min(max(age, 60.0), 6 * 3600)))
        closed_at = resolution = None
        horizon = self.now
        if status == "closed":
            latest = min(self.now, come_back - timedelta(hours=1)) if come_back else self.now
            floor = first_response or created
            span = max((latest - floor).total_seconds(), 1.0)
            closed_at = floor + timedelta(seconds=rng.uniform(0.1, 1.0) * min(span, 20 * 86400))
            resolution = rng.choice(RESOLUTIONS)
            horizon = closed_at
        assignee = rng.choice(self.staff_ids) if worked and self.staff_ids and \
            rng.random() < 0.85 else None
        callback = channel == "voice" and status != "closed" and rng.random() < CALLBACK_SHARE
        category = (rng.choices(self.categories, cum_weights=self.category_weights)[0]
                    if worked else None)
        urgency = "normal"
        if worked:
            cumulative = self.urgency.get(category or "", self.default_urgency)
            urgency = rng.choices(URGENCY_LEVELS, cum_weights=cumulative)[0]
        # Whoever answered an unassigned case is a staff member too (they did not claim it).
        author = assignee
        if author is None and worked and self.staff_ids:
            author = self.staff_ids[case_id % len(self.staff_ids)]
        entries = self._timeline(first_interaction_id, case_id, channel, language, created,
                                 first_response, horizon, author, assignee, callback)
        updated = max(closed_at or created, entries[-1][8] if entries else created)
        # Closing is a staff action, so a closed case has no caller waiting.
        awaiting = None if status == "closed" else _awaiting_since(entries)
        row = (
            case_id, self._reference(), caller_id, channel, status, resolution,
            category,
            rng.choice(self.caller_types) if worked else None,
            rng.choice(self.affiliations) if worked else None,
            urgency,
            language,
            rng.choice(self.pool.regions) if rng.random() < 0.4 else None,
            assignee, 1, callback, ts(created), ts(updated), ts(first_response), ts(closed_at),
            ts(awaiting),
        )
        return row, [item[:8] + (ts(item[8]),) + item[9:] for item in entries]

    def _timeline(self, next_id: int, case_id: int, channel: str, language: str,
                  created: datetime, first_response: datetime | None, horizon: datetime,
                  author: int | None, assignee: int | None, callback: bool) -> list[tuple]:
        rng, pool = self.rng, self.pool
        bodies = pool.bodies[language]
        rows: list[tuple] = []

        def add(kind: str, chan: str | None, ext: str | None, body: str | None, meta: str,
                author: int | None, at: datetime, delivery: str | None = None) -> None:
            rows.append((next_id + len(rows), case_id, kind, chan, ext, body, meta, author,
                         at, delivery, 1 if delivery else 0))

        if channel == "voice":
            # A callback is waiting because the call reached nobody (maybe a voicemail).
            reached = not callback and rng.random() < 0.8
            voicemail = not reached and rng.random() < 0.6
            call_sid = self.sid("CA")
            call = timeline.call_meta(call_status="completed")
            call["language"] = language
            if reached:
                call["dial_status"] = "completed"
                call["duration"] = rng.randint(30, 900)
                if assignee is not None:
                    call["answered_by"] = assignee
            else:
                call["dial_status"] = rng.choice(("no-answer", "busy"))
            recording_sid = self.sid("RE") if voicemail else None
            if recording_sid is not None:
                call["voicemail"] = recording_sid
            add("call", "voice", call_sid, None, json.dumps(call), None, created)
            if recording_sid is not None:
                # No recording exists at Twilio for demo data: the page says so on play.
                meta = timeline.voicemail_meta(recording_url="", duration=rng.randint(3, 180),
                                               call_sid=call_sid, language=language)
                add("voicemail", "voice", recording_sid, rng.choice(bodies),
                    json.dumps(meta), None, created + timedelta(seconds=30))
        else:
            add("message_in", channel, self.message_id(channel), rng.choice(bodies),
                self.meta_empty, None, created)
        if first_response is None:
            return rows
        if assignee is not None:
            assigned = {**timeline.assignment_meta(None, None), "to": assignee}
            add("assignment", None, None, None, json.dumps(assigned), assignee,
                first_response - timedelta(seconds=30))
        reply_channel = channel if channel in REPLY_DELIVERED else None
        if reply_channel:
            add("message_out", reply_channel, self.sid(REPLY_ID_PREFIX[reply_channel]),
                rng.choice(pool.replies), self.meta_delivered, author, first_response,
                REPLY_DELIVERED[reply_channel])
        else:
            add("note", None, None, rng.choice(pool.notes), self.meta_empty, author,
                first_response)
        extra_span = max((horizon - first_response).total_seconds(), 1.0)
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
            at = first_response + timedelta(seconds=rng.uniform(0, extra_span))
            if rng.random() < 0.5 and channel != "voice":
                add("message_in", channel, self.message_id(channel), rng.choice(bodies),
                    self.meta_empty, None, at)
            else:
                add("note", None, None, rng.choice(pool.notes), self.meta_empty, author, at)
        rows.sort(key=lambda row: row[8])
        return [(next_id + i,) + row[1:] for i, row in enumerate(rows)]


def _awaiting_since(entries: list[tuple]) -> datetime | None:
    """``Case.awaiting_staff_since`` as the intake and the staff actions leave it after
    this timeline (rows in ``INTERACTION_COLUMNS`` order, oldest first): the first caller
    contact after the last entry by staff (None when staff acted last).

    The intake stamps a caller contact unless a wait is already stamped; every staff
    action clears it (``hotline/cases/actions.py``). Migration 0034's backfill computes
    the same from a stored timeline.
    """
    waiting: datetime | None = None
    for row in entries:
        kind, author, at = row[2], row[7], row[8]
        if author is not None:
            waiting = None
        elif kind in timeline.CALLER_KINDS:
            waiting = waiting or at
    return waiting


def _demo_accounts(n_staff: int, n_supervisors: int) -> list[tuple[str, str, str]]:
    """(email, role, display name) of the demo accounts: ``staff01@…`` as "Demo Mina"."""
    wanted = [(f"staff{i:02d}@{DEMO_EMAIL_DOMAIN}", "staff",
               f"Demo {DEMO_NAMES[(i - 1) % len(DEMO_NAMES)]}") for i in range(1, n_staff + 1)]
    wanted += [(f"supervisor{i:02d}@{DEMO_EMAIL_DOMAIN}", "supervisor",
                f"Demo supervisor {DEMO_NAMES[-i % len(DEMO_NAMES)]}")
               for i in range(1, n_supervisors + 1)]
    return wanted


def ensure_staff(n_staff: int, n_supervisors: int, now: datetime,
                 with_logins: bool = False) -> tuple[list[int], int, str | None]:
    """Create (once) the demo staff and supervisors, flagged ``demo``.

    Returns the staff ids, how many accounts were new, and the one-time password when
    ``with_logins`` (else None). Without logins the accounts hold no password at all
    (``NO_LOGIN_HASH``): made-up accounts must not be a way in. With logins, every demo
    account that has not chosen its own password gets one shared one-time password and
    then signs in like any new account: two-factor enrolment, then an own password.
    """
    wanted = _demo_accounts(n_staff, n_supervisors)
    existing = {user.email: user for user in db.session.execute(select(User).where(
        User.email.in_([email for email, _, _ in wanted]))).scalars()}
    password = generate_password() if with_logins else None
    login_hash = hash_password(password) if password else None
    created = 0
    languages = list(LANGUAGE_WEIGHTS)
    for number, (email, role, name) in enumerate(wanted):
        user = existing.get(email)
        if user is None:
            user = User(email=email, display_name=name, role=role, demo=True,
                        password_hash=NO_LOGIN_HASH, session_token=new_session_token(),
                        languages=",".join(languages[number % 4: number % 4 + 2]),
                        created_at=now)
            db.session.add(user)
            created += 1
        if login_hash and (user.password_hash == NO_LOGIN_HASH or user.must_change_password):
            user.password_hash = login_hash
            user.must_change_password = True
    db.session.commit()
    staff_ids = list(db.session.execute(select(User.id).where(
        User.demo.is_(True), User.role == "staff").order_by(User.id)).scalars())
    return staff_ids, created, password


def seed(n_cases: int, *, n_staff: int = DEFAULT_STAFF, n_supervisors: int = DEFAULT_SUPERVISORS,
         seed_value: int | None = None, now: datetime | None = None,
         batch_cases: int = BATCH_CASES, with_logins: bool = False,
         progress: Callable[[SeedReport], None] | None = None) -> SeedReport:
    """Write ``n_cases`` fake cases with their callers and timelines; see the module docstring."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    rng = random.Random(seed_value)  # noqa: S311 - fake data, not secrets
    report = SeedReport()
    staff_ids, report.users, report.password = ensure_staff(n_staff, n_supervisors, now,
                                                            with_logins)
    pool = _TextPool(rng, TEXT_POOL_SIZE)
    refs = _existing("SELECT reference FROM cases")
    indexes = _existing("SELECT address_index FROM callers")
    db.session.commit()
    generator = None
    first = 0
    while first < n_cases:
        count = min(batch_cases, n_cases - first)
        writer = _Writer()
        if generator is None:
            generator = _Generator(n_cases, rng, now, writer, staff_ids, pool, refs, indexes)
        generator.writer = writer
        ids = writer.lock_and_next_ids()
        callers, cases, interactions = generator.batch(first, count, ids)
        writer.write("callers", CALLER_COLUMNS, callers)
        writer.write("cases", CASE_COLUMNS, cases)
        writer.write("interactions", INTERACTION_COLUMNS, interactions)
        writer.finish_batch()
        db.session.commit()
        report.cases += len(cases)
        report.callers += len(callers)
        report.interactions += len(interactions)
        report.batches += 1
        first += count
        if progress is not None:
            report.seconds = time.perf_counter() - started
            progress(report)
    _analyse()
    report.seconds = time.perf_counter() - started
    return report


def _existing(statement: str) -> set[str]:
    """Values already taken (references, blind indexes), so new ones never collide."""
    rows = db.session.execute(text(statement)).scalars()
    return {value for value in rows if value is not None}


def _analyse() -> None:
    """Refresh planner statistics so the first queries after a big seed plan well."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE callers, cases, interactions, users"))
    else:
        connection.execute(text("ANALYZE"))
        db.session.commit()


def count_rows() -> dict[str, int]:
    """Row counts of the seeded tables (for the CLI summary and the benchmarks)."""
    out = {}
    for table in ("users", "callers", "cases", "interactions"):
        out[table] = db.session.execute(
            select(func.count()).select_from(text(table))).scalar_one()
    return out


demo_cli = AppGroup("demo", help="Fake data for demonstrations and benchmarks.")


@demo_cli.command("seed")
@click.option("--cases", "n_cases", type=click.IntRange(1, 20_000_000), required=True,
              help="How many cases to add.")
@click.option("--staff", "n_staff", type=click.IntRange(0, 500), default=DEFAULT_STAFF,
              show_default=True, help="Demo staff accounts (made up, flagged demo).")
@click.option("--supervisors", "n_supervisors", type=click.IntRange(0, 50),
              default=DEFAULT_SUPERVISORS, show_default=True)
@click.option("--with-logins", is_flag=True,
              help="Let the demo accounts sign in: one one-time password, printed once.")
@click.option("--seed", "seed_value", type=int, default=None,
              help="Random seed, for repeatable data.")
@click.option("--quiet", is_flag=True, help="Print only the summary line.")
def seed_command(n_cases: int, n_staff: int, n_supervisors: int, with_logins: bool,
                 seed_value: int | None, quiet: bool) -> None:
    """Add N realistic fake cases (callers, timelines, demo staff) to the database."""

    def progress(report: SeedReport) -> None:
        if not quiet:
            click.echo(f"  {report.cases:>9,} cases  {report.interactions:>10,} interactions  "
                       f"{report.seconds:7.1f} s", err=True)

    report = seed(n_cases, n_staff=n_staff, n_supervisors=n_supervisors,
                  seed_value=seed_value, with_logins=with_logins, progress=progress)
    click.echo(f"seeded {report.cases} cases, {report.callers} callers, "
               f"{report.interactions} interactions, {report.users} new users "
               f"in {report.seconds:.1f} s")
    accounts = [email for email, _, _ in _demo_accounts(n_staff, n_supervisors)]
    if report.password and accounts:
        click.echo(f"demo sign-in: {accounts[0]} … {accounts[-1]}")
        click.echo(f"one-time password: {report.password}")
        click.echo(f"then {steps.describe()}")
    elif accounts and not quiet:
        click.echo("the demo accounts cannot sign in (add --with-logins to let them)")
