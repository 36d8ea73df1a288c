"""The supervisor report page and its CSV export (blueprint ``reports``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from flask import (
    Blueprint,
    Response,
    current_app,
    render_template,
    request,
    stream_with_context,
)
from flask_login import current_user

from hotline import audit
from hotline.auth.guards import staff_required
from hotline.cases.vocabularies import CHANNELS, CLASSIFICATIONS, LANGUAGES, classification_choices
from hotline.cases.workflow import RESOLUTIONS, STATUSES
from hotline.extensions import db
from hotline.reports import charts, export, rollup
from hotline.reports.params import PRESETS, ReportInputError, ReportParams, parse
from hotline.reports.queries import report

bp = Blueprint("reports", __name__, url_prefix="/reports")


def _categories() -> tuple[str, ...]:
    return classification_choices(current_app.config.get("CLASSIFICATION_VOCABULARIES"))[
        "category"]


def ordered(counts: dict[str, int], order: Iterable[str]) -> list[tuple[str, int]]:
    """``counts`` as (key, count) pairs: known keys in vocabulary order, then the rest."""
    order = list(order)
    known = [(key, counts.get(key, 0)) for key in order]
    rest = sorted((key, n) for key, n in counts.items() if key not in order)
    return known + rest


def duration(seconds: float | None) -> str:
    """A delay for people: ``45 s``, ``12 min 5 s``, ``3 h 20 min``, ``2 d 4 h``."""
    if seconds is None:
        return "—"
    whole = int(round(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def _breakdowns(data) -> list[dict]:
    stats = data.stats
    categories = _categories()
    sections = [
        ("status", "Cases by status", ordered(stats.by_status, STATUSES)),
        ("category", "Cases by category", ordered(stats.by_category, categories)),
        ("channel", "Cases by channel", ordered(stats.by_channel, CHANNELS)),
        ("language", "Cases by language", ordered(stats.by_language, LANGUAGES)),
        ("affiliation", "Cases by affiliation",
         ordered(data.by_affiliation, CLASSIFICATIONS["affiliation"])),
        ("urgency", "Cases by urgency", ordered(data.by_urgency, CLASSIFICATIONS["urgency"])),
        ("resolution", "Closed in the period, by resolution",
         ordered(data.closed_by_resolution, RESOLUTIONS)),
    ]
    return [{"key": key, "title": title, "rows": rows,
             "chart": charts.bar_chart(f"chart-{key}", title, rows)}
            for key, title, rows in sections]


@bp.get("/")
@staff_required("supervisor")
def index():
    """The report page for the chosen range and filters (default: the last 30 days)."""
    try:
        params = parse(request.args, _categories(), first_case_day=rollup.first_day)
    except ReportInputError as exc:
        return render_template("reports/index.html", error=str(exc), params=None,
                               form=request.args, **_choices()), 400
    now = datetime.now(UTC)
    data = report(params.filter, now)
    days = [(str(day["date"]), int(day["count"])) for day in data.stats.by_day]
    return render_template(
        "reports/index.html", error=None, params=params, form=params.query(), data=data,
        now=now, sections=_breakdowns(data), days=days, duration=duration,
        day_chart=charts.column_chart("chart-day", "Cases opened per day (UTC)", days,
                                      axis_label=_month_day),
        **_choices())


def _month_day(iso_day: str) -> str:
    return iso_day[5:]


def _choices() -> dict:
    return {"channels": CHANNELS, "languages": LANGUAGES, "categories": _categories(),
            "presets": PRESETS}


def _filename(params: ReportParams) -> str:
    return f"hotline-cases-{params.first_day.isoformat()}-{params.last_day.isoformat()}.csv"


@bp.get("/export.csv")
@staff_required("supervisor")
def export_csv():
    """One row per case opened in the range, streamed; every export is audited."""
    try:
        params = parse(request.args, _categories(), first_case_day=rollup.first_day)
    except ReportInputError as exc:
        return Response(str(exc) + "\n", status=400, mimetype="text/plain")
    flt = params.filter
    audit.record("report.export", actor=current_user._get_current_object(),
                 detail={**params.query(), "rows": export.count_rows(flt)})
    db.session.commit()
    return Response(
        stream_with_context(export.csv_chunks(flt)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{_filename(params)}"'},
    )
