"""``flask --app wsgi …`` commands: users, API tokens, the audit chain; every group registered."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

from hotline import audit
from hotline.api.tokens import TOKEN_ROLES, create_token
from hotline.auth import steps
from hotline.auth.accounts import AccountError, create_account
from hotline.cases import reply_templates
from hotline.cases.vocabularies import ROLES
from hotline.channels.telegram.cli import simulate_telegram, telegram_cli
from hotline.channels.twilio.simulate import simulate_cli
from hotline.demo import demo_cli
from hotline.extensions import db
from hotline.intake.cli import intake_cli
from hotline.messaging.cli import outbox_cli
from hotline.models import User
from hotline.ops.commands import keys_cli, retention_cli
from hotline.reports.cli import reports_cli

users_cli = AppGroup("users", help="Manage staff accounts.")
tokens_cli = AppGroup("tokens", help="Manage API tokens.")
audit_cli = AppGroup("audit", help="Check the audit log.")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), default="staff", show_default=True)
@click.option("--name", "display_name", help="Display name (default: the part before @).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_create(email: str, role: str, display_name: str | None, password_stdin: bool) -> None:
    """Create a user; the password comes from a prompt or from stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user, _ = create_account(email, display_name or "", role, actor_label="cli",
                                 password=password)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"created {user.role} {user.email}; at the first sign-in: {steps.describe(user)}")


@users_cli.command("ensure-admin")
@click.option("--email", default="admin@hotline.local", show_default=True)
def users_ensure_admin(email: str) -> None:
    """Create a first admin with a one-time password when there is no user at all."""
    if db.session.execute(select(func.count()).select_from(User)).scalar_one():
        click.echo("users exist already; no admin created")
        return
    admin, password = create_account(email, "Administrator", "admin", actor_label="cli")
    reply_templates.add_starter_set()  # a fresh line starts with the approved replies
    db.session.commit()
    click.echo(f"first admin created: {email}")
    click.echo(f"one-time password:   {password}")
    click.echo(f"sign in with it at /login, then {steps.describe(admin)}")


@tokens_cli.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(TOKEN_ROLES), default="stats", show_default=True)
def tokens_create(name: str, role: str) -> None:
    """Create an API token and print it once, alone on the last line."""
    row, clear = create_token(name, role)
    audit.record("token.create", actor_label="cli", detail={"token_id": row.id, "role": role})
    db.session.commit()
    click.echo(f"token {row.id} ({role}) for {name}; it is shown only this once:")
    click.echo(clear)


@audit_cli.command("verify")
def audit_verify() -> None:
    """Check every link of the audit chain; exit 1 at the first broken row."""
    report = audit.verify_chain()
    if not report.ok:
        where = f" at event {report.broken_at}" if report.broken_at is not None else ""
        click.echo(f"audit chain BROKEN{where}: {report.reason} "
                   f"({report.checked} events verified before it)", err=True)
        sys.exit(1)
    click.echo(f"audit chain intact: {report.checked} events")
    if report.beyond_witness:
        click.echo(f"note: {report.beyond_witness} newest events are past the witness "
                   f"({audit.witness_path()}); a witness write was lost (a crash?). They "
                   "are HMAC-valid; the next append moves the witness on.")


@audit_cli.command("rechain")
@click.option("--old-key-file", type=click.Path(exists=True, dir_okay=False),
              help="The previous HOTLINE_AUDIT_KEY (after a key change): the chain must "
                   "verify under it first.")
def audit_rechain(old_key_file: str | None) -> None:
    """Re-compute the chain under the current HOTLINE_AUDIT_KEY (after changing the key)."""
    from pathlib import Path

    old_key = Path(old_key_file).read_text().strip() if old_key_file else None
    if old_key is None:
        raise click.ClickException("give --old-key-file: the chain is checked under the old "
                                   "key before it is rewritten")
    try:
        count = audit.rechain(old_key)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"audit chain rewritten under the current key: {count} events")


def register(app: Flask) -> None:
    """Attach every command group to ``app``."""
    groups = (users_cli, tokens_cli, audit_cli, intake_cli, outbox_cli, simulate_cli,
              keys_cli, retention_cli, demo_cli, telegram_cli, reports_cli)
    if "telegram" not in simulate_cli.commands:
        simulate_cli.add_command(simulate_telegram)
    for group in groups:
        app.cli.add_command(group)
