"""``flask --app wsgi reports …``: rebuild and check the report roll-up."""

from __future__ import annotations

import sys
import time

import click
from flask import current_app
from flask.cli import AppGroup

from hotline.extensions import db
from hotline.reports import rollup

reports_cli = AppGroup("reports", help="The supervisor report's daily and monthly roll-up.")


@reports_cli.command("rebuild")
def reports_rebuild() -> None:
    """Recompute the roll-up from the cases (case changes wait until it is done).

    Never needed in normal running: triggers keep the roll-up exact in every case
    transaction. Use it after loading cases with the triggers disabled, when
    ``reports check`` finds a difference, or after changing a ``RESPONSE_TARGET_*``
    setting (it copies the targets first, so the within-target counts follow them).
    """
    started = time.perf_counter()
    counts = rollup.rebuild(current_app.config)
    db.session.commit()
    click.echo(f"report roll-up rebuilt: {counts['report_days']} day rows, "
               f"{counts['report_facts']} month rows in {time.perf_counter() - started:.1f} s")


@reports_cli.command("check")
def reports_check() -> None:
    """Compare the roll-up with a fresh count from the cases; exit 1 on any difference."""
    found = rollup.differences(current_app.config)
    db.session.rollback()
    wrong = {table: rows for table, rows in found.items() if rows}
    if not wrong:
        click.echo("report roll-up exact: it matches a fresh count of the cases")
        return
    for table, rows in wrong.items():
        if table == "report_targets":
            click.echo("report_targets differs from the RESPONSE_TARGET_* settings "
                       "(urgency, seconds):", err=True)
        else:
            click.echo(f"{table} differs from a fresh count (stored rows without their "
                       "count, counted rows not stored; key…, count):", err=True)
        for row in rows:
            click.echo("  " + " | ".join(str(value) for value in row), err=True)
    click.echo("run `flask --app wsgi reports rebuild` to recompute it", err=True)
    sys.exit(1)
