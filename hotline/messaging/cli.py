"""``flask outbox work``: the outbox worker as a command (for a systemd unit)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from hotline.messaging import worker

outbox_cli = AppGroup("outbox", help="Send queued replies through Twilio.")


@outbox_cli.command("work")
@click.option("--once", is_flag=True, help="Send what is due, then exit.")
@click.option("--poll", default=worker.POLL_SECONDS, show_default=True,
              help="Seconds between passes when idle.")
def outbox_work(once: bool, poll: float) -> None:
    """Send queued replies (and replay the intake spool) until stopped."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        report = worker.run(app, once=once, poll_seconds=poll)
    except KeyboardInterrupt:
        return
    click.echo(f"sent {report.sent}, retrying {report.retrying}, failed {report.failed}, "
               f"not sent {report.not_sent}, interrupted {report.interrupted}")
