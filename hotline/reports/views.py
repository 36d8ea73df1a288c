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
from flask_babel import gettext as _
from flask_login import current_user

from hotline import audit, staff_time
from hotline.auth.guards import staff_required
from hotline.cases.labels import label
from hotline.cases.vocabularies import (
    CHANNELS,
    CLASSIFICATIONS,
    LANGUAGE_NAMES,
    LANGUAGES,
    classification_choices,
)
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


def _breakdowns(data) -> list[dict]:
    stats = data.stats
    categories = _categories()
    sections = [
        ("status", _("Cases by status"), _("Status"), ordered(stats.by_status, STATUSES)),
        ("category", _("Cases by category"), _("Category"),
         ordered(stats.by_category, categories)),
        ("channel", _("Cases by channel"), _("Channel"), ordered(stats.by_channel, CHANNELS)),
        ("language", _("Cases by language"), _("Language"),
         ordered(stats.by_language, LANGUAGES)),
        ("affiliation", _("Cases by affiliation"), _("Affiliation"),
         ordered(data.by_affiliation, CLASSIFICATIONS["affiliation"])),
        ("urgency", _("Cases by urgency"), _("Urgency"),
         ordered(data.by_urgency, CLASSIFICATIONS["urgency"])),
        ("resolution", _("Closed in the period, by resolution"), _("Resolution"),
         ordered(data.closed_by_resolution, RESOLUTIONS)),
    ]
    result = []
    for key, title, heading, counts in sections:
        rows = [(value, _row_name(key, value), count) for value, count in counts]
        result.append({"key": key, "title": title, "heading": heading, "rows": rows,
                       "chart": charts.bar_chart(f"chart-{key}", title,
                                                 [(name, count) for _v, name, count in rows])})
    return result


def _row_name(section: str, value: str) -> str:
    """What a breakdown row is called: the language's own name, a vocabulary label."""
    if section == "language":
        return LANGUAGE_NAMES.get(value, value)
    return label(value)


@bp.get("/")
@staff_required("supervisor")
def index():
    """The report page for the chosen range and filters (default: the last 30 days)."""
    try:
        params = _parse()
    except ReportInputError as exc:
        return render_template("reports/index.html", error=str(exc), params=None,
                               form=request.args, **_choices()), 400
    now = datetime.now(UTC)
    data = report(params.filter, now, zone=params.zone)
    days = [(str(day["date"]), int(day["count"])) for day in data.days]
    return render_template(
        "reports/index.html", error=None, params=params, form=params.query(), data=data,
        now=now, sections=_breakdowns(data), days=days,
        day_chart=charts.column_chart(
            "chart-day", _("Cases opened per day (%(zone)s)", zone=data.days_zone), days,
            axis_label=_month_day),
        **_choices())


def _parse() -> ReportParams:
    """The request's report, its days read in the reader's time zone."""
    config = current_app.config
    return parse(request.args, _categories(), first_case_day=rollup.first_day,
                 zone=staff_time.select_timezone(),
                 night=(config["SHIFT_NIGHT_START"], config["SHIFT_NIGHT_END"]))


def _month_day(iso_day: str) -> str:
    return iso_day[5:]


def _choices() -> dict:
    return {"channels": CHANNELS, "languages": LANGUAGES, "categories": _categories(),
            "presets": PRESETS, "language_names": LANGUAGE_NAMES}


def _filename(params: ReportParams) -> str:
    return f"hotline-cases-{params.first_day.isoformat()}-{params.last_day.isoformat()}.csv"


@bp.get("/export.csv")
@staff_required("supervisor")
def export_csv():
    """One row per case opened in the range, streamed; every export is audited."""
    try:
        params = _parse()
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
