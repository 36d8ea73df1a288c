"""The first sign-in's steps, named once in the order ``hotline/auth/views.py`` walks them.

The views go: password (``/login``) → the second factor (``/login/two-factor``: enrolment
of an authenticator app the first time) → a new password (``/login/new-password``) when
the account holds a one-time password. Every text that tells a person what comes next
(``users ensure-admin``, the admin pages, the enrolment page) takes its wording from here,
so none can name the steps in another order; ``tests/auth/test_sign_in_steps.py`` walks the
real pages and checks that this order is the one they follow.
"""

from __future__ import annotations

from typing import Protocol

from flask_babel import lazy_gettext as _l

# Step key → what the person does, in the order the sign-in pages ask for it.
FIRST_SIGN_IN_STEPS = {
    "enrol": _l("set up two-factor sign-in (scan a QR code with an authenticator app)"),
    "new_password": _l("choose your own password"),
}


class _Account(Protocol):
    totp_confirmed: bool
    must_change_password: bool


def pending_steps(account: _Account | None = None) -> list[str]:
    """The step keys still ahead of ``account`` at its next sign-in (all for a new one)."""
    steps = []
    if account is None or not account.totp_confirmed:
        steps.append("enrol")
    if account is None or account.must_change_password:
        steps.append("new_password")
    return steps


def describe(account: _Account | None = None) -> str:
    """The pending steps numbered in their order: ``1) … 2) …`` (empty when none)."""
    return " ".join(f"{number}) {text}"
                    for number, text in enumerate(step_texts(account), start=1))


def step_texts(account: _Account | None = None) -> list[str]:
    """The pending steps' texts in order, for templates (``first_sign_in_steps(user)``)."""
    return [str(FIRST_SIGN_IN_STEPS[key]) for key in pending_steps(account)]
