"""Foundation CLI: users create, users ensure-admin, tokens create, audit verify."""

from __future__ import annotations

from sqlalchemy import select

from hotline.api.tokens import authenticate
from hotline.auth.passwords import verify_password
from hotline.extensions import db
from hotline.models import User


def test_users_create_reads_the_password_from_stdin(app):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "Ola@Example.org", "--role", "supervisor", "--password-stdin"],
        input="a long enough password\n")
    assert result.exit_code == 0, result.output
    assert "a long enough password" not in result.output
    with app.app_context():
        user = db.session.execute(select(User)).scalar_one()
        assert (user.email, user.role) == ("ola@example.org", "supervisor")
        assert user.password_hash.startswith("$argon2id$")
        assert verify_password(user.password_hash, "a long enough password")


def test_users_create_prompts_for_the_password(app):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "a@example.org"], input="prompted password\nprompted password\n")
    assert result.exit_code == 0, result.output


def test_users_create_refuses_short_passwords_and_duplicates(app):
    runner = app.test_cli_runner()
    short = runner.invoke(args=["users", "create", "a@example.org", "--password-stdin"],
                          input="short\n")
    assert short.exit_code != 0 and "at least" in short.output
    runner.invoke(args=["users", "create", "a@example.org", "--password-stdin"],
                  input="a long enough password\n")
    again = runner.invoke(args=["users", "create", "a@example.org", "--password-stdin"],
                          input="a long enough password\n")
    assert again.exit_code != 0 and "exists already" in again.output


def test_ensure_admin_creates_one_admin_once(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["users", "ensure-admin"])
    assert first.exit_code == 0 and "one-time password" in first.output
    password = first.output.split("one-time password:")[1].split()[0]
    with app.app_context():
        admin = db.session.execute(select(User)).scalar_one()
        assert admin.role == "admin" and admin.must_change_password
        assert verify_password(admin.password_hash, password)
    second = runner.invoke(args=["users", "ensure-admin"])
    assert "no admin created" in second.output


def test_tokens_create_prints_the_token_alone_on_the_last_line(app):
    result = app.test_cli_runner().invoke(args=["tokens", "create", "grafana", "--role", "stats"])
    assert result.exit_code == 0
    token = result.output.strip().splitlines()[-1]
    assert " " not in token
    with app.test_request_context():
        row = authenticate(f"Bearer {token}")
        assert row is not None and row.role == "stats" and row.name == "grafana"


def test_audit_verify_reports_an_intact_chain(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["tokens", "create", "one"])
    runner.invoke(args=["tokens", "create", "two"])
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "intact: 2 events" in result.output
