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

Invariants kept: a caller has at most one open case (the latest); earlier cases of a
returning caller are closed before the caller returns; closed cases have ``closed_at``
and a ``resolution``; ``first_response_at`` is after ``created_at``; some voice cases
need a callback; ids grow with ``created_at``, as they do in a live system.
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

import click
from flask.cli import AppGroup
from sqlalchemy import func, select, text

from hotline.auth.passwords import hash_password, new_session_token
from hotline.cases.references import new_reference
from hotline.cases.vocabularies import CLASSIFICATIONS
from hotline.cases.workflow import RESOLUTIONS
from hotline.crypto import address_index, cipher
from hotline.extensions import db
from hotline.models import User

BATCH_CASES = 20_000
TEXT_POOL_SIZE = 400
SPAN_DAYS = 730
DEMO_EMAIL_DOMAIN = "demo.hotline.invalid"
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
OPEN_STATUS_WEIGHTS = {"new": 30, "triaged": 20, "in_progress": 30, "waiting": 20}

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
                "first_response_at", "closed_at")
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
            raw = self.connection.connection.driver_connection
            raw.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)  # noqa: S608

    def _copy(self, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
        buffer = io.StringIO()
        for row in rows:
            buffer.write("\t".join(_copy_field(value) for value in row))
            buffer.write("\n")
        raw = self.connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN"  # noqa: S608
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
        self.start = now - timedelta(days=SPAN_DAYS)
        self.step = SPAN_DAYS * 86400 / max(n_cases, 1)
        self.writer = writer
        self.staff_ids = staff_ids
        self.pool = pool
        self.refs = existing_refs
        self.indexes = existing_indexes
        self.run_tag = secrets.token_hex(4)
        self.sid_counter = 0
        # (due case number, caller id, channel, language, case row index of its last case)
        self.returning: list[tuple[int, int, str, str]] = []
        self.categories = CLASSIFICATIONS["category"]
        self.caller_types = CLASSIFICATIONS["caller_type"]
        self.affiliations = CLASSIFICATIONS["affiliation"]
        self.meta_empty = "{}"
        self.meta_delivered = json.dumps({"auto_reply": False})

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
            created = self.start + timedelta(seconds=(number + rng.random()) * self.step)
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
                come_back = self.start + timedelta(seconds=returns_at * self.step)
            row, timeline = self._case_row(case_id, this_caller, channel, language, created,
                                           come_back, interaction_id)
            cases.append(row)
            interactions.extend(timeline)
            interaction_id += len(timeline)
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
        age_days = (self.now - created).total_seconds() / 86400
        if come_back is not None or (age_days > 45 and rng.random() < 0.96):
            status = "closed"
        else:
            status = _weighted(rng, OPEN_STATUS_WEIGHTS, 1)[0]
            if age_days > 3 and status == "new" and rng.random() < 0.7:
                status = "closed"
        worked = status != "new"
        first_response = (created + timedelta(seconds=rng.randint(60, 6 * 3600))
                          if worked else None)
        if first_response is not None and first_response > self.now:
            first_response = self.now
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
        callback = channel == "voice" and rng.random() < 0.3
        classified = worked or rng.random() < 0.2
        timeline = self._timeline(first_interaction_id, case_id, channel, language, created,
                                  first_response, horizon, assignee)
        updated = max(closed_at or created, timeline[-1][8] if timeline else created)
        row = (
            case_id, self._reference(), caller_id, channel, status, resolution,
            rng.choice(self.categories) if classified else None,
            rng.choice(self.caller_types) if classified else None,
            rng.choice(self.affiliations) if classified else None,
            rng.choices(("immediate", "high", "normal"), weights=(5, 20, 75))[0],
            language,
            rng.choice(self.pool.regions) if rng.random() < 0.4 else None,
            assignee, 1, callback, ts(created), ts(updated), ts(first_response), ts(closed_at),
        )
        return row, [item[:8] + (ts(item[8]),) + item[9:] for item in timeline]

    def _timeline(self, next_id: int, case_id: int, channel: str, language: str,
                  created: datetime, first_response: datetime | None, horizon: datetime,
                  assignee: int | None) -> list[tuple]:
        rng, pool = self.rng, self.pool
        bodies = pool.bodies[language]
        rows: list[tuple] = []

        def add(kind: str, chan: str | None, ext: str | None, body: str | None, meta: str,
                author: int | None, at: datetime, delivery: str | None = None) -> None:
            rows.append((next_id + len(rows), case_id, kind, chan, ext, body, meta, author,
                         at, delivery, 1 if delivery else 0))

        if channel == "voice":
            add("call", "voice", self.sid("CA"), None,
                json.dumps({"status": rng.choice(("completed", "no-answer", "busy")),
                            "duration": rng.randint(0, 900)}), None, created)
            if rng.random() < 0.4:
                add("voicemail", "voice", self.sid("RE"), rng.choice(bodies),
                    json.dumps({"duration": rng.randint(3, 180)}), None,
                    created + timedelta(seconds=30))
        else:
            add("message_in", channel, self.message_id(channel), rng.choice(bodies),
                self.meta_empty, None, created)
        if first_response is None:
            return rows
        author = assignee
        if assignee is not None:
            add("assignment", None, None, None, json.dumps({"to": assignee}), assignee,
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


def ensure_staff(n_staff: int, n_supervisors: int, now: datetime) -> tuple[list[int], int]:
    """Create (once) the demo staff and supervisors; returns staff ids and how many were new.

    Their password is a random one nobody knows: seeded accounts must not be a way in.
    """
    wanted = [(f"staff{i:02d}@{DEMO_EMAIL_DOMAIN}", "staff") for i in range(1, n_staff + 1)]
    wanted += [(f"supervisor{i:02d}@{DEMO_EMAIL_DOMAIN}", "supervisor")
               for i in range(1, n_supervisors + 1)]
    existing = set(db.session.execute(select(User.email).where(
        User.email.in_([email for email, _ in wanted]))).scalars())
    unusable = hash_password(secrets.token_urlsafe(32))
    created = 0
    languages = list(LANGUAGE_WEIGHTS)
    for number, (email, role) in enumerate(wanted):
        if email in existing:
            continue
        db.session.add(User(
            email=email, display_name=email.split("@")[0].title(), role=role,
            password_hash=unusable, session_token=new_session_token(),
            languages=",".join(languages[number % 4: number % 4 + 2]), created_at=now,
        ))
        created += 1
    db.session.commit()
    staff_ids = list(db.session.execute(select(User.id).where(
        User.email.like(f"staff%@{DEMO_EMAIL_DOMAIN}"))).scalars())
    return staff_ids, created


def seed(n_cases: int, *, n_staff: int = 20, n_supervisors: int = 3, seed_value: int | None = None,
         now: datetime | None = None, batch_cases: int = BATCH_CASES,
         progress: Callable[[SeedReport], None] | None = None) -> SeedReport:
    """Write ``n_cases`` fake cases with their callers and timelines; see the module docstring."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    rng = random.Random(seed_value)  # noqa: S311 - fake data, not secrets
    report = SeedReport()
    staff_ids, report.users = ensure_staff(n_staff, n_supervisors, now)
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
@click.option("--staff", "n_staff", type=click.IntRange(0, 500), default=20, show_default=True)
@click.option("--supervisors", "n_supervisors", type=click.IntRange(0, 50), default=3,
              show_default=True)
@click.option("--seed", "seed_value", type=int, default=None,
              help="Random seed, for repeatable data.")
@click.option("--quiet", is_flag=True, help="Print only the summary line.")
def seed_command(n_cases: int, n_staff: int, n_supervisors: int, seed_value: int | None,
                 quiet: bool) -> None:
    """Add N realistic fake cases (callers, timelines, staff) to the database."""

    def progress(report: SeedReport) -> None:
        if not quiet:
            click.echo(f"  {report.cases:>9,} cases  {report.interactions:>10,} interactions  "
                       f"{report.seconds:7.1f} s", err=True)

    report = seed(n_cases, n_staff=n_staff, n_supervisors=n_supervisors,
                  seed_value=seed_value, progress=progress)
    click.echo(f"seeded {report.cases} cases, {report.callers} callers, "
               f"{report.interactions} interactions, {report.users} new users "
               f"in {report.seconds:.1f} s")
