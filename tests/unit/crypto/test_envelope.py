"""Envelope encryption: data keys wrapped per subject, ciphertexts bound to their row."""

from __future__ import annotations

import pytest

from control_plane.crypto.envelope import (
    DataKey,
    EnvelopeError,
    decrypt,
    encrypt,
    generate_data_key,
    kek_id,
    unwrap_data_key,
    wrap_data_key,
)

KEK = bytes(range(32))
OTHER_KEK = bytes(range(1, 33))


def _key(subject: str = "sub_a") -> DataKey:
    return DataKey(subject_id=subject, material=generate_data_key())


def test_wrap_round_trips_and_is_bound_to_subject_and_kek() -> None:
    dek = generate_data_key()
    wrapped = wrap_data_key(KEK, dek, subject_id="sub_a")
    assert unwrap_data_key(KEK, wrapped, subject_id="sub_a").material == dek
    assert dek not in wrapped
    with pytest.raises(EnvelopeError):
        unwrap_data_key(KEK, wrapped, subject_id="sub_b")
    with pytest.raises(EnvelopeError):
        unwrap_data_key(OTHER_KEK, wrapped, subject_id="sub_a")


def test_ciphertext_is_versioned_and_bound_to_table_and_record() -> None:
    key = _key()
    blob = encrypt(key, b"hello <PERSON_1>", table="transcript_segment.redacted", record_id="r1")
    assert blob[0] == 1
    assert b"hello" not in blob
    assert decrypt(key, blob, table="transcript_segment.redacted", record_id="r1") == (
        b"hello <PERSON_1>"
    )
    for table, record in (("transcript_segment.raw", "r1"), ("transcript_segment.redacted", "r2")):
        with pytest.raises(EnvelopeError):
            decrypt(key, blob, table=table, record_id=record)
    with pytest.raises(EnvelopeError):
        decrypt(_key("sub_b"), blob, table="transcript_segment.redacted", record_id="r1")


def test_tampering_and_unknown_versions_fail() -> None:
    key = _key()
    blob = bytearray(encrypt(key, b"x" * 40, table="t", record_id="r"))
    blob[-1] ^= 1
    with pytest.raises(EnvelopeError):
        decrypt(key, bytes(blob), table="t", record_id="r")
    blob[0] = 2
    with pytest.raises(EnvelopeError, match="format"):
        decrypt(key, bytes(blob), table="t", record_id="r")


def test_nonces_are_fresh_and_ids_stable() -> None:
    key = _key()
    assert encrypt(key, b"same", table="t", record_id="r") != encrypt(
        key, b"same", table="t", record_id="r"
    )
    assert kek_id(KEK) == kek_id(bytes(KEK)) != kek_id(OTHER_KEK)
    assert len(kek_id(KEK)) == 16


def test_data_key_repr_hides_material() -> None:
    key = _key()
    assert key.material.hex() not in repr(key)
