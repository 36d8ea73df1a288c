"""``flask intake replay``: put the spooled webhook requests into the database."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from hotline.intake import spool

intake_cli = AppGroup("intake", help="The intake spool.")


@intake_cli.command("replay")
def intake_replay() -> None:
    """Replay the spool into the database (idempotent; safe to run twice)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    report = spool.replay_all(app)
    click.echo(f"replayed {report.done}, kept {report.kept} for later, "
               f"rejected {report.rejected} (see {spool.spool_dir(app) / spool.REJECTED_DIR})")
    if report.kept:
        sys.exit(1)
