"""Receipts: generation, typing tolerance, hashing, and the authenticate contract."""

from __future__ import annotations

import pytest

from hotline.channels.web.receipts import (
    RECEIPT_DIGITS,
    ReceiptRefused,
    authenticate,
    format_receipt,
    hash_receipt,
    new_receipt,
    normalise_receipt,
)
from hotline.extensions import db
from hotline.intake.service import receive


def test_new_receipts_are_random_digits():
    receipts = {new_receipt() for _ in range(200)}
    assert len(receipts) == 200
    assert all(len(r) == RECEIPT_DIGITS and r.isdigit() and r.isascii() for r in receipts)


def test_format_groups_by_four():
    assert format_receipt("1234567890123456") == "1234 5678 9012 3456"


@pytest.mark.parametrize(("typed", "expected"), [
    ("1234 5678 9012 3456", "1234567890123456"),
    ("1234-5678-9012-3456", "1234567890123456"),
    (" 12345678\u00a090123456 ", "1234567890123456"),
    ("１２３４５６７８９０１２３４５６", "1234567890123456"),  # full-width digits
    ("١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦", "1234567890123456"),  # Arabic-Indic digits
    ("123456789012345", None),
    ("12345678901234567", None),
    ("1234 5678 9012 345x", None),
    ("", None),
    (None, None),
])
def test_normalise_accepts_how_people_type(typed, expected):
    assert normalise_receipt(typed) == expected


def _web_case():
    result = receive(channel="web", address="web:test-address", body="hello",
                     external_id="web-" + "a" * 30, language="en")
    return result.case


def test_authenticate_opens_the_case_with_both_halves(app_ctx):
    case = _web_case()
    receipt = new_receipt()
    case.followup_hash = hash_receipt(receipt)
    db.session.commit()
    assert authenticate(case.display_reference, format_receipt(receipt)).id == case.id
    assert authenticate(case.reference.lower(), receipt).id == case.id


@pytest.mark.parametrize("typed", [
    ("ZZZZ-ZZZZ", None), (None, "0000000000000000"), ("", ""), (None, None),
])
def test_authenticate_refuses_without_saying_why(app_ctx, typed):
    case = _web_case()
    receipt = new_receipt()
    case.followup_hash = hash_receipt(receipt)
    db.session.commit()
    reference = typed[0] if typed[0] is not None else case.display_reference
    typed_receipt = typed[1] if typed[1] is not None else receipt
    if typed == (None, None):
        typed_receipt = str(int(receipt) ^ 1).zfill(RECEIPT_DIGITS)
    with pytest.raises(ReceiptRefused) as caught:
        authenticate(reference, typed_receipt)
    assert str(caught.value) == ""


def test_a_case_without_a_receipt_cannot_be_opened(app_ctx):
    case = _web_case()
    db.session.commit()
    with pytest.raises(ReceiptRefused):
        authenticate(case.display_reference, "0" * RECEIPT_DIGITS)


def test_hash_with_old_parameters_is_upgraded_on_success(make_app):
    weak = make_app()
    with weak.app_context():
        case = _web_case()
        receipt = new_receipt()
        case.followup_hash = hash_receipt(receipt)
        db.session.commit()
        reference, old_hash = case.display_reference, case.followup_hash
    stronger = make_app(ARGON2_TIME_COST=2)
    with stronger.app_context():
        authenticate(reference, receipt)
        db.session.commit()
        case = db.session.execute(db.select(type(case))).scalar_one()
        assert case.followup_hash != old_hash and "t=2" in case.followup_hash
        assert authenticate(reference, receipt).id == case.id
