"""``flask intake replay``: put the spooled webhook requests into the database."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from hotline.intake import spool

intake_cli = AppGroup("intake", help="The intake spool.")


@intake_cli.command("replay")
@click.option("--list", "list_only", is_flag=True,
              help="Show what is waiting (and rejected) without replaying or decrypting.")
def intake_replay(list_only: bool) -> None:
    """Replay the spool into the database (idempotent; safe to run twice)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if list_only:
        files = spool.listing(app)
        for item in files:
            click.echo(f"{item.state:8}  {_age(item.age_seconds):>8}  {item.size:>8} B  "
                       f"{item.name}")
        waiting = sum(1 for item in files if item.state == "waiting")
        click.echo(f"{waiting} waiting, {len(files) - waiting} rejected "
                   f"(in {spool.spool_dir(app)})")
        return
    report = spool.replay_all(app)
    click.echo(f"replayed {report.done}, kept {report.kept} for later, "
               f"rejected {report.rejected} (see {spool.spool_dir(app) / spool.REJECTED_DIR})")
    if report.kept:
        sys.exit(1)


def _age(seconds: float) -> str:
    """A short age: ``45s``, ``12m``, ``5h``, ``3d``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
