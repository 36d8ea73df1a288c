"""Field encryption, blind indexes, address normalisation, references and the workflow table."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from hotline.cases.references import ALPHABET, format_reference, new_reference, parse_reference
from hotline.cases.workflow import (
    OPEN_STATUSES,
    RESOLUTIONS,
    STATUSES,
    TRANSITIONS,
    TransitionError,
    check_transition,
)
from hotline.crypto import (
    AddressError,
    DecryptionError,
    FieldCipher,
    mask_number,
    normalise_address,
)


def test_first_key_encrypts_all_keys_decrypt():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = FieldCipher([old], "k").encrypt("секрет")
    both = FieldCipher([new, old], "k")
    assert both.decrypt(token) == "секрет"
    assert not both.is_current(token)
    rotated = both.rotate(token)
    assert both.is_current(rotated)
    assert FieldCipher([new], "k").decrypt(rotated) == "секрет"
    with pytest.raises(DecryptionError):
        FieldCipher([new], "k").decrypt(token)


def test_encryption_is_randomised_but_the_blind_index_is_stable_and_keyed():
    key = Fernet.generate_key().decode()
    cipher = FieldCipher([key], "index-one")
    assert cipher.encrypt("+79161234567") != cipher.encrypt("+79161234567")
    assert cipher.blind_index("+79161234567") == cipher.blind_index("+79161234567")
    assert cipher.blind_index("+79161234567") != FieldCipher([key], "index-two").blind_index(
        "+79161234567")
    assert "79161234567" not in cipher.blind_index("+79161234567")


@pytest.mark.parametrize(("kind", "raw", "expected"), [
    ("phone", "+7 916 123-45-67", "+79161234567"),
    ("phone", "79161234567", "+79161234567"),
    ("whatsapp", "whatsapp:+82 10-1234-5678", "+821012345678"),
    ("web", "web:abc", "web:abc"),
])
def test_addresses_normalise_to_e164(kind, raw, expected):
    assert normalise_address(kind, raw) == expected


@pytest.mark.parametrize("raw", ["", "abc", "+1", "client:bob", "whatsapp:"])
def test_bad_addresses(raw):
    with pytest.raises(AddressError):
        normalise_address("phone", raw)


def test_mask_number_shows_country_and_last_two_digits():
    assert mask_number("+79161234567") == "+7 *** *** ** 67"
    assert mask_number("garbage") == "***"


def test_references_are_random_crockford_and_forgiving_when_typed():
    refs = {new_reference() for _ in range(2000)}
    assert len(refs) == 2000
    assert all(len(r) == 8 and set(r) <= set(ALPHABET) for r in refs)
    ref = "7KQ2-M9XD".replace("-", "")
    assert format_reference(ref) == "7KQ2-M9XD"
    for typed in ("7KQ2-M9XD", "7kq2m9xd", " 7kq2 - m9xd "):
        assert parse_reference(typed) == ref
    assert parse_reference("0O1I-L000") == "00111000"
    assert parse_reference("7KQ2-M9X") is None
    assert parse_reference("7KQ2-M9XU") is None


def test_workflow_table():
    assert set(TRANSITIONS) == set(STATUSES)
    assert "closed" not in OPEN_STATUSES
    check_transition("new", "triaged")
    check_transition("in_progress", "waiting")
    check_transition("waiting", "in_progress")
    check_transition("triaged", "closed", "hoax")
    with pytest.raises(TransitionError, match="resolution"):
        check_transition("in_progress", "closed")
    with pytest.raises(TransitionError):
        check_transition("closed", "new")
    with pytest.raises(TransitionError):
        check_transition("new", "bogus")
    assert "handed_over" in RESOLUTIONS
