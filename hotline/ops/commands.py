"""``flask --app wsgi keys …`` and ``flask --app wsgi retention …``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from hotline.ops import keys, retention

keys_cli = AppGroup("keys", help="Encryption keys: generate and rotate.")
retention_cli = AppGroup("retention", help="Remove identifying data of old closed cases.")


@keys_cli.command("generate")
def keys_generate() -> None:
    """Print a new Fernet key (put it FIRST in HOTLINE_ENCRYPTION_KEYS, then rotate)."""
    click.echo(keys.generate_key())


@keys_cli.command("rotate")
@click.option("--batch-size", type=click.IntRange(1, 100_000),
              default=keys.DEFAULT_BATCH_SIZE, show_default=True)
def keys_rotate(batch_size: int) -> None:
    """Re-encrypt every encrypted field under the first key; safe to re-run."""
    report = keys.rotate_all(batch_size=batch_size)
    for name, count in report.columns.items():
        click.echo(f"{name}: {count.values} values, {count.rotated} rotated, "
                   f"{count.already_current} already current, "
                   f"{count.changed_concurrently} changed meanwhile, "
                   f"{count.undecryptable} undecryptable")
    click.echo(f"rotated {report.rotated} values")
    if report.undecryptable:
        raise click.ClickException(
            f"{report.undecryptable} values open with none of the configured keys; "
            "do not remove any old key until they are explained")


@retention_cli.command("purge")
@click.option("--older-than", "days", type=int, default=None,
              help="Days since closing (default: the RETENTION_DAYS setting).")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; change nothing.")
@click.option("--batch-size", type=click.IntRange(1, 10_000),
              default=retention.DEFAULT_BATCH_SIZE, show_default=True)
@click.option("--no-vacuum", is_flag=True, help="SQLite: skip rebuilding the file afterwards.")
def retention_purge(days: int | None, dry_run: bool, batch_size: int, no_vacuum: bool) -> None:
    """Purge caller identifiers, texts and recordings of cases closed more than DAYS ago."""
    try:
        report = retention.purge(days, dry_run=dry_run, batch_size=batch_size)
    except retention.RetentionError as exc:
        raise click.ClickException(str(exc)) from exc
    verb = "would purge" if dry_run else "purged"
    click.echo(f"{verb} {report.cases} cases closed before {report.cutoff:%Y-%m-%d %H:%M} UTC: "
               f"{report.interactions} interactions ({report.bodies} with text), "
               f"{report.callers} caller identities, {report.recordings} recordings, "
               f"{report.media} media files")
    click.echo(f"{verb} {report.spool_rejected} rejected spool files older than {report.days} days")
    if report.spool_waiting_old:
        click.echo(f"{report.spool_waiting_old} spool files older than {report.days} days are "
                   "still waiting: run `flask --app wsgi intake replay`")
    if report.skipped_cases:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(report.skipped_reasons.items()))
        click.echo(f"kept {report.skipped_cases} cases for the next run ({reasons})")
    if not dry_run and not no_vacuum and retention.vacuum_sqlite():
        click.echo("SQLite file rebuilt (VACUUM); freed pages are gone")
