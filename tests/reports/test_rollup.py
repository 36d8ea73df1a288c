"""The report roll-up stays exact whatever writes the cases, and answers any range exactly.

The central test runs a random sequence of intakes (the SMS webhook and the intake
service) and staff actions, with cases moved back in time by hand-written SQL, then
compares every figure of the report for many ranges and filters with a count made here,
in Python, from the case rows themselves; and the roll-up tables with the views that
recount them from ``cases``. It runs on SQLite and on PostgreSQL (the suite runs on both).
"""

from __future__ import annotations

import importlib.util
import math
import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import and_, literal_column, select, text, update

from hotline.cases import actions
from hotline.cases.workflow import RESOLUTIONS, TRANSITIONS
from hotline.demo import seed
from hotline.extensions import db
from hotline.intake.service import receive
from hotline.models import Case, ReportDay, ReportFact, User, utcnow
from hotline.ops.retention import purge
from hotline.reports import buckets, rollup
from hotline.reports.queries import StatsFilter, report

UNSET = "unset"
CATEGORIES = ("surrender", "conscription", "relative", "information", "hostile", "other")
AFFILIATIONS = ("russia", "dprk", "other", "unknown")
URGENCIES = ("immediate", "high", "normal")
LANGUAGES = ("ko", "ru", "uk", "en")
MIGRATION = Path(__file__).resolve().parents[2] / "migrations" / "versions" / \
    "0026_report_rollup.py"


def _key(value: object) -> str:
    return UNSET if value is None else str(value)


def _in_scope(case: Case, scope: rollup.Scope) -> bool:
    return all(getattr(case, name) == value for name in ("channel", "language", "category")
               if (value := getattr(scope, name)))


def percentile_cont(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = p * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _seconds(since: datetime, until: datetime, scope: rollup.Scope) -> list[float]:
    """Every answered delay of the range, as the database computes it (same arithmetic)."""
    seconds = literal_column(buckets.seconds_sql(db.engine.dialect.name))
    return [float(v) for v in db.session.execute(select(seconds).where(and_(
        Case.first_response_at >= Case.created_at, Case.created_at >= since,
        Case.created_at < until, *scope.case_conditions()))).scalars()]


# The default response targets in seconds (the test app does not change them).
TARGETS = {"immediate": 300, "high": 1800, "normal": 14400}


def within_target(opened: list[Case], urgency_at_response: dict[int, str]) -> dict:
    """Answered and within-target counts per (urgency at first response, channel),
    from the urgencies the story saw when each first response was given."""
    answered: Counter = Counter()
    within: Counter = Counter()
    for c in opened:
        if c.first_response_at is None or c.first_response_at < c.created_at:
            continue
        key = (urgency_at_response[c.id], c.channel)
        answered[key] += 1
        if round((c.first_response_at - c.created_at).total_seconds()) <= TARGETS[key[0]]:
            within[key] += 1
    return {"answered": dict(answered), "within": dict(within)}


def expected_figures(cases: list[Case], since: datetime, until: datetime,
                     scope: rollup.Scope, urgency_at_response: dict[int, str] | None = None
                     ) -> dict:
    """Every figure of the report, counted here from the case rows."""
    opened = [c for c in cases if since <= c.created_at < until and _in_scope(c, scope)]
    closed = [c for c in cases if c.status == "closed" and c.closed_at is not None
              and since <= c.closed_at < until and _in_scope(c, scope)]
    days = Counter(c.created_at.astimezone(UTC).date() for c in opened)
    day, last, by_day = since.date(), (until - timedelta(microseconds=1)).date(), []
    while day <= last:
        by_day.append({"date": day.isoformat(), "count": days.get(day, 0)})
        day += timedelta(days=1)
    delays = _seconds(since, until, scope)
    median, p90 = percentile_cont(delays, 0.5), percentile_cont(delays, 0.9)

    def by(name: str) -> dict[str, int]:
        return dict(Counter(_key(getattr(c, name)) for c in opened))

    return {
        "total": len(opened), "by_status": by("status"), "by_category": by("category"),
        "by_channel": by("channel"), "by_language": by("language"), "by_day": by_day,
        "by_affiliation": by("affiliation"), "by_urgency": by("urgency"),
        "responded": len(delays),
        "median": None if median is None else round(median, 1),
        "p90": None if p90 is None else round(p90, 1),
        "closed_by_resolution": dict(Counter(_key(c.resolution) for c in closed)),
        "closed_by": dict(Counter(c.assigned_to_id for c in closed)),
        "within_target": within_target(opened, urgency_at_response or {
            c.id: c.first_response_urgency or c.urgency for c in opened}),
    }


def actual_figures(since: datetime, until: datetime, scope: rollup.Scope) -> dict:
    flt = StatsFilter(since=since, until=until, channel=scope.channel,
                      language=scope.language, category=scope.category)
    data = report(flt)
    stats = data.stats.as_api()
    return {
        "total": stats["total"], "by_status": stats["by_status"],
        "by_category": stats["by_category"], "by_channel": stats["by_channel"],
        "by_language": stats["by_language"], "by_day": stats["by_day"],
        "by_affiliation": data.by_affiliation, "by_urgency": data.by_urgency,
        "responded": data.responded, "median": stats["median_first_response_seconds"],
        "p90": data.p90_first_response_seconds,
        "closed_by_resolution": data.closed_by_resolution,
        "closed_by": {row.user_id: row.closed for row in data.staff if row.closed},
        "within_target": {"answered": data.stats.within_target.answered,
                          "within": data.stats.within_target.within},
    }


def stored_rows() -> dict[str, set[tuple]]:
    """The roll-up tables' rows (zero counts left by decrements ignored)."""
    days = db.session.execute(select(ReportDay.category, ReportDay.day, ReportDay.channel,
                                     ReportDay.language, ReportDay.cases)
                              .where(ReportDay.cases != 0)).all()
    facts = db.session.execute(select(ReportFact.channel, ReportFact.language,
                                      ReportFact.category, ReportFact.month,
                                      ReportFact.measure, ReportFact.value, ReportFact.n)
                               .where(ReportFact.n != 0)).all()
    return {"days": {tuple(r) for r in days}, "facts": {tuple(r) for r in facts}}


def assert_exact() -> None:
    assert rollup.differences() == {"report_days": [], "report_facts": []}


# --- the random sequence ---------------------------------------------------------

class Story:
    """A random but repeatable mix of what happens on the line."""

    def __init__(self, app, twilio_post, users: list[User], rng: random.Random) -> None:
        self.app, self.post, self.users, self.rng = app, twilio_post, users, rng
        self.sms_senders = [f"+7916555{n:04d}" for n in range(10)]
        self.sid = 0
        # Each answered case's urgency at the moment its first response was given.
        self.urgency_at_response: dict[int, str] = {}

    def case_ids(self) -> list[int]:
        return list(db.session.execute(select(Case.id).order_by(Case.id)).scalars())

    def step(self) -> None:
        kind = self.rng.choices(
            ("sms", "intake", "status", "classify", "assign", "reply", "callback", "backdate",
             "late"),
            weights=(6, 4, 6, 5, 3, 3, 4, 4, 3))[0]
        if kind == "sms":
            self.sid += 1
            answer = self.post("/twilio/sms", {
                "MessageSid": f"SM{self.sid:032x}", "From": self.rng.choice(self.sms_senders),
                "To": "+15005550006", "Body": self.rng.choice(("Помогите", "도와주세요", "hi")),
                "NumMedia": "0"})
            assert answer.status_code == 200
            return
        with self.app.app_context():
            if kind == "intake":
                channel = self.rng.choice(("whatsapp", "web", "voice"))
                self.sid += 1
                address = {"whatsapp": f"whatsapp:+38067{self.rng.randrange(30):07d}",
                           "web": f"web:key-{self.rng.randrange(30)}",
                           "voice": f"+4477{self.rng.randrange(30):08d}"}[channel]
                receive(channel=channel, address=address, body="x",
                        external_id=f"EX{self.sid}",
                        language=self.rng.choice((None, *LANGUAGES)))
                return
            ids = self.case_ids()
            if not ids:
                return
            case = db.session.get(Case, self.rng.choice(ids))
            actor = db.session.get(User, self.rng.choice(self.users).id)
            try:
                self._act(kind, case, actor)
            except actions.ActionError:
                db.session.rollback()
            self._note_first_responses()

    def _note_first_responses(self) -> None:
        """Remember the urgency of each case as its first response appears (the rule
        the report follows: a later change of urgency does not move it)."""
        db.session.rollback()
        rows = db.session.execute(select(Case.id, Case.urgency).where(
            Case.first_response_at.is_not(None))).all()
        for case_id, urgency in rows:
            self.urgency_at_response.setdefault(case_id, urgency)

    def _act(self, kind: str, case: Case, actor: User) -> None:
        rng = self.rng
        if kind == "status":
            target = rng.choice(sorted(TRANSITIONS[case.status]))
            actions.change_status(case, actor, case.version, target,
                                  rng.choice(RESOLUTIONS) if target == "closed" else None)
        elif kind == "classify":
            values: dict[str, str | None] = {}
            for name, choices in (("category", CATEGORIES), ("affiliation", AFFILIATIONS),
                                  ("urgency", URGENCIES), ("language", LANGUAGES)):
                if rng.random() < 0.5:
                    cleared = name in ("category", "affiliation") and rng.random() < 0.2
                    values[name] = None if cleared else rng.choice(choices)
            actions.classify(case, actor, case.version, values)
        elif kind == "assign":
            assignee = rng.choice([None, *[u.id for u in self.users]])
            actions.assign(case, actor, case.version, assignee)
        elif kind == "reply":
            actions.reply(case, actor, case.version, "We received your message.")
        elif kind == "callback":
            actions.log_callback(case, actor, case.version, rng.choice(("reached", "busy")))
        elif kind == "late":
            # Opened earlier than it was (SQL by hand): its first response comes later,
            # sometimes past its target.
            table = Case.__table__
            earlier = case.created_at - timedelta(seconds=rng.randrange(0, 6 * 3600))
            db.session.rollback()
            db.session.execute(update(table).where(table.c.id == case.id)
                               .values(created_at=earlier))
            db.session.commit()
        elif kind == "backdate":
            # SQL by hand, as an operator's fix-up would be: the triggers see it too.
            shift = timedelta(days=rng.randrange(0, 420), seconds=rng.randrange(86400))
            table = Case.__table__
            moved = {name: value - shift for name in ("created_at", "first_response_at",
                                                      "closed_at")
                     if (value := getattr(case, name)) is not None}
            db.session.rollback()
            db.session.execute(update(table).where(table.c.id == case.id).values(**moved))
            db.session.commit()


def ranges(cases: list[Case], rng: random.Random, now: datetime) -> list[tuple[datetime, datetime]]:
    """All time, whole days, whole months, ranges inside a day or a month, any instants."""
    first = min(c.created_at for c in cases)
    start = datetime.combine(first.date(), time.min, UTC)
    tomorrow = datetime.combine(now.date() + timedelta(days=1), time.min, UTC)
    out = [(start, tomorrow), (tomorrow - timedelta(days=30), tomorrow),
           (tomorrow - timedelta(days=365), tomorrow),
           (datetime(now.year, now.month, 1, tzinfo=UTC), tomorrow)]
    for _ in range(14):
        anchor = rng.choice(cases).created_at
        since = anchor - timedelta(seconds=rng.randrange(0, 40 * 86400))
        if rng.random() < 0.4:
            since = datetime.combine(since.date(), time.min, UTC)
        length = timedelta(seconds=rng.choice((3600, 20 * 3600, 86400, 5 * 86400,
                                               45 * 86400, 200 * 86400, 500 * 86400))
                           + rng.randrange(0, 86400))
        out.append((since, since + length))
    return out


SCOPES = [rollup.Scope(), rollup.Scope(channel="sms"), rollup.Scope(language="ru"),
          rollup.Scope(category="surrender"), rollup.Scope(channel="sms", language="ru"),
          rollup.Scope("whatsapp", "uk", "relative")]


@pytest.mark.parametrize("story_seed", [19, 2024])
def test_random_intakes_and_actions_keep_every_figure_exact(app, twilio_post, make_user,
                                                            story_seed):
    users = [make_user("supervisor"), make_user("staff"), make_user("admin")]
    rng = random.Random(story_seed)
    story = Story(app, twilio_post, users, rng)
    for _ in range(150):
        story.step()
    with app.app_context():
        assert_exact()
        cases = list(db.session.execute(select(Case)).scalars())
        assert len(cases) >= 15
        assert {c.status for c in cases} >= {"new", "closed"}
        now = utcnow()
        for since, until in ranges(cases, rng, now):
            for scope in SCOPES:
                assert actual_figures(since, until, scope) == expected_figures(
                    cases, since, until, scope, story.urgency_at_response), (
                        since, until, scope)
        answered = [c for c in cases if c.first_response_at is not None]
        # The story gave first responses, some late, some to cases whose urgency then
        # changed: the rule is exercised, not only the counting.
        assert len(answered) >= 3
        assert any(story.urgency_at_response[c.id] != c.urgency for c in answered)
        assert any((c.first_response_at - c.created_at).total_seconds()
                   > TARGETS[story.urgency_at_response[c.id]] for c in answered)
        before = stored_rows()
        rollup.rebuild(app.config)
        db.session.commit()
        assert stored_rows() == before


# --- each writer keeps it exact ------------------------------------------------------

def _sms(twilio_post, sid: int, sender: str = "+79161112233", body: str = "Помогите"):
    return twilio_post("/twilio/sms", {"MessageSid": f"SM{sid:032x}", "From": sender,
                                       "To": "+15005550006", "Body": body, "NumMedia": "0"})


def test_a_new_case_is_one_day_row_and_a_repeat_message_changes_nothing(app, twilio_post):
    _sms(twilio_post, 1)
    with app.app_context():
        rows = stored_rows()
        case = db.session.execute(select(Case)).scalar_one()
        assert rows["days"] == {("*", case.created_at.date(), "sms", "ru", 1)}
        assert rows["facts"] == set()  # status new, urgency normal: nothing else to count
    _sms(twilio_post, 2, body="Вы тут?")
    with app.app_context():
        assert stored_rows() == rows
        assert_exact()


def test_caller_writing_to_a_waiting_or_recently_closed_case_moves_its_counts(
        app, twilio_post, make_user):
    supervisor = make_user("supervisor")
    _sms(twilio_post, 1)
    with app.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        me = db.session.get(User, supervisor.id)
        actions.change_status(case, me, case.version, "in_progress")
        actions.change_status(case, me, case.version, "closed", "referred")
        assert_exact()
        closed = {(r[4], r[5]) for r in stored_rows()["facts"] if r[:3] == ("*", "*", "*")}
        assert ("status", "closed") in closed and ("resolution", "referred") in closed
    _sms(twilio_post, 2)  # within the reopen window: back to in_progress
    with app.app_context():
        assert db.session.execute(select(Case.status)).scalar_one() == "in_progress"
        assert_exact()
        facts = {(r[4], r[5]) for r in stored_rows()["facts"] if r[:3] == ("*", "*", "*")}
        assert ("status", "in_progress") in facts and ("resolution", "referred") not in facts


def test_retention_purge_and_key_rotation_leave_the_roll_up_alone(app, twilio_post, make_user):
    supervisor = make_user("supervisor")
    for n in range(3):
        _sms(twilio_post, n + 1, sender=f"+7916111220{n}")
    with app.app_context():
        me = db.session.get(User, supervisor.id)
        for case in db.session.execute(select(Case)).scalars().all():
            actions.change_status(case, me, case.version, "closed", "no_contact")
        db.session.execute(update(Case.__table__).values(
            closed_at=utcnow() - timedelta(days=100)))
        db.session.commit()
        before = stored_rows()
        figures = rollup.range_figures(utcnow() - timedelta(days=400), utcnow(), rollup.Scope())
        report_ = purge(30)
        assert report_.cases == 3
        assert stored_rows() == before
        assert_exact()
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert stored_rows() == before
        again = rollup.range_figures(utcnow() - timedelta(days=400), utcnow(), rollup.Scope())
        assert again.total == figures.total == 3


def test_demo_seed_is_counted_by_the_triggers(app_ctx):
    made = seed(300, n_staff=3, n_supervisors=1, seed_value=5, batch_cases=120)
    assert made.cases == 300
    assert_exact()
    assert sum(r[4] for r in stored_rows()["days"] if r[0] == "*") == 300


def test_deleting_cases_by_hand_is_counted_too(app, twilio_post):
    for n in range(2):
        _sms(twilio_post, n + 1, sender=f"+7916111330{n}")
    with app.app_context():
        case_id = db.session.execute(select(Case.id).limit(1)).scalar_one()
        db.session.execute(text("DELETE FROM interactions WHERE case_id = :id"), {"id": case_id})
        db.session.execute(text("DELETE FROM cases WHERE id = :id"), {"id": case_id})
        db.session.commit()
        assert_exact()
        assert sum(r[4] for r in stored_rows()["days"]) == 1


def test_check_finds_a_wrong_count_and_rebuild_repairs_it(app, twilio_post):
    _sms(twilio_post, 1)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["reports", "check"]).exit_code == 0
    with app.app_context():
        # As if someone loaded cases with the triggers off.
        db.session.execute(update(ReportDay.__table__).values(cases=ReportDay.cases + 5))
        db.session.commit()
    broken = runner.invoke(args=["reports", "check"])
    assert broken.exit_code == 1 and "report_days differs from a fresh count" in broken.output
    assert "stored | * |" in broken.output and "| 6" in broken.output
    assert "counted | * |" in broken.output and "| 1" in broken.output
    rebuilt = runner.invoke(args=["reports", "rebuild"])
    assert rebuilt.exit_code == 0 and "1 day rows, 0 month rows" in rebuilt.output
    assert runner.invoke(args=["reports", "check"]).exit_code == 0


# --- how a range is read ---------------------------------------------------------------

def _at(day: date, hour: int = 0) -> datetime:
    return datetime.combine(day, time(hour), UTC)


def test_up_to_today_subtracts_the_empty_future_and_all_time_the_empty_past(app, twilio_post):
    _sms(twilio_post, 1)
    with app.app_context():
        today = utcnow().date()
        month = today.replace(day=1)
        tomorrow = today + timedelta(days=1)
        plan = rollup.plan_months(_at(month), _at(tomorrow))
        if tomorrow.day != 1:  # the rest of this month is in the future: nothing to read
            assert (plan.first_month, plan.add) == (month, ())
            assert plan.subtract == ((_at(tomorrow), _at((month + timedelta(days=32))
                                                         .replace(day=1))),)
        first_case = _at(today)
        plan = rollup.plan_months(first_case, _at(tomorrow))
        if today.day > 1:
            assert plan.add == () and plan.first_month == month


def test_a_range_inside_a_month_is_read_from_the_cases():
    plan_input = (_at(date(2024, 3, 10), 13), _at(date(2024, 3, 12), 2))
    # No roll-up rows at all in these months: both ways cost nothing; inside is chosen.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rollup, "_cases_per_day", lambda months: Counter())
        plan = rollup.plan_months(*plan_input)
    assert plan.add == (plan_input,) and plan.subtract == ()
    assert plan.first_month == plan.end_month


def test_a_mostly_covered_month_is_the_month_minus_its_edge():
    busy = Counter({date(2024, 3, d): 100 for d in range(1, 32)})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rollup, "_cases_per_day", lambda months: busy)
        plan = rollup.plan_months(_at(date(2024, 3, 4)), _at(date(2024, 5, 1)))
    assert plan.first_month == date(2024, 3, 1) and plan.end_month == date(2024, 5, 1)
    assert plan.subtract == ((_at(date(2024, 3, 1)), _at(date(2024, 3, 4))),)
    assert plan.add == ()


def test_a_month_minus_its_edges_counts_exactly(app, twilio_post, make_user):
    """Most of a busy month is read as the month from the roll-up minus its two edges."""
    supervisor = make_user("supervisor")
    for n in range(7):
        _sms(twilio_post, n + 1, sender=f"+7916111550{n}")
    with app.app_context():
        me = db.session.get(User, supervisor.id)
        month = (utcnow().date().replace(day=1) - timedelta(days=40)).replace(day=1)
        table = Case.__table__
        days = (2, 10, 12, 14, 16, 18, 27)  # 2nd and 27th: outside the range below
        for n, (case, day) in enumerate(zip(
                db.session.execute(select(Case).order_by(Case.id)).scalars().all(), days,
                strict=True)):
            if n % 2:
                actions.reply(case, me, case.version, "We received your message.")
            if n % 3 == 0:
                actions.change_status(case, me, case.version, "closed", "referred")
            at = _at(month.replace(day=day), 12)
            shift = case.created_at - at
            moved = {name: value - shift for name in ("created_at", "first_response_at",
                                                      "closed_at")
                     if (value := getattr(case, name)) is not None}
            db.session.execute(update(table).where(table.c.id == case.id).values(**moved))
        db.session.commit()
        since, until = _at(month.replace(day=5)), _at(month.replace(day=25))
        plan = rollup.plan_months(since, until)
        assert plan.add == () and plan.first_month == month
        assert plan.subtract == ((_at(month), since), (until, _at(_next_month(month))))
        cases = list(db.session.execute(select(Case)).scalars())
        for scope in (rollup.Scope(), rollup.Scope(channel="sms", language="ru")):
            expected = expected_figures(cases, since, until, scope)
            assert expected["total"] == 5 and expected["closed_by_resolution"]
            assert actual_figures(since, until, scope) == expected


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def test_partial_days_of_an_api_range_are_counted_from_the_cases(app, twilio_post, make_user):
    """A local-day range (here: 09:00 to 09:00 UTC) is exact: its ends come from cases."""
    for n in range(4):
        _sms(twilio_post, n + 1, sender=f"+7916111440{n}")
    with app.app_context():
        table = Case.__table__
        ids = list(db.session.execute(select(Case.id).order_by(Case.id)).scalars())
        today = utcnow().date()
        for case_id, at in zip(ids, (_at(today - timedelta(days=2), 8),
                                     _at(today - timedelta(days=2), 10),
                                     _at(today - timedelta(days=1), 8),
                                     _at(today - timedelta(days=1), 10)), strict=True):
            db.session.execute(update(table).where(table.c.id == case_id)
                               .values(created_at=at))
        db.session.commit()
        since, until = _at(today - timedelta(days=2), 9), _at(today - timedelta(days=1), 9)
        figures = rollup.range_figures(since, until, rollup.Scope())
        assert figures.total == 2
        assert figures.by_day == Counter({today - timedelta(days=2): 1,
                                          today - timedelta(days=1): 1})


# --- the bucket rule has one definition --------------------------------------------------

def test_bucket_rule_in_python_sql_and_the_migration_agree(app_ctx):
    spec = importlib.util.spec_from_file_location("rollup_migration", MIGRATION)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    for name in ("SUB_BUCKETS", "FIRST_OCTAVE", "MAX_OCTAVE", "OVERFLOW"):
        assert getattr(migration, name) == getattr(buckets, name)
    assert migration.bucket_sql("s") == buckets.bucket_sql("s")
    for dialect in ("postgresql", "sqlite"):
        assert migration.seconds_sql(dialect) == buckets.seconds_sql(dialect)
        assert migration.whole_seconds_sql(dialect) == buckets.whole_seconds_sql(dialect)
    samples = [0, 1, 31, 32, 33, 63, 64, 100, 3599, 3600, 86399, 10**6, 2**31 - 1, 2**31,
               2**40]
    sql = buckets.bucket_sql(":s")
    for value in samples:
        stored = db.session.execute(text(f"SELECT {sql}"), {"s": value}).scalar_one()
        assert stored == buckets.bucket_of(value)
        lower = buckets.bucket_of(value)
        assert lower <= value < buckets.bucket_upper(lower)
        if 2 ** buckets.FIRST_OCTAVE <= value < buckets.OVERFLOW:
            assert buckets.bucket_upper(lower) - lower <= value / buckets.SUB_BUCKETS
