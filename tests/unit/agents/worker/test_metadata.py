"""Dispatch metadata is untrusted input: exact fields, bounded sizes, strict alphabets."""

from __future__ import annotations

import json

import pytest

from control_plane.agents.worker.metadata import (
    MAX_METADATA_BYTES,
    REQUIRED_FIELDS,
    DispatchMetadata,
    InvalidDispatchMetadata,
    parse_dispatch_metadata,
)

CREDENTIAL = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ3In0.c2lnbmF0dXJl"


def make_metadata(**overrides: object) -> dict[str, object]:
    document: dict[str, object] = {
        "session_id": "sess_01HZX",
        "decision_id": "dec-42",
        "participant_identity": "subj_3f9a#phone",
        "retention_class": "standard",
        "credential": CREDENTIAL,
    }
    document.update(overrides)
    return document


def test_valid_metadata_parses_into_its_fields() -> None:
    parsed = parse_dispatch_metadata(json.dumps(make_metadata()))
    assert parsed == DispatchMetadata(
        session_id="sess_01HZX",
        decision_id="dec-42",
        participant_identity="subj_3f9a#phone",
        retention_class="standard",
        credential=CREDENTIAL,
    )


def test_credential_never_appears_in_repr() -> None:
    parsed = parse_dispatch_metadata(json.dumps(make_metadata()))
    assert CREDENTIAL not in repr(parsed)


def test_unknown_fields_are_ignored() -> None:
    parsed = parse_dispatch_metadata(json.dumps(make_metadata(extra="x")))
    assert parsed.session_id == "sess_01HZX"


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_missing_metadata_is_rejected(raw: str | None) -> None:
    with pytest.raises(InvalidDispatchMetadata, match="missing"):
        parse_dispatch_metadata(raw)


@pytest.mark.parametrize("raw", ["{", "not json", "[1, 2]", '"text"', "42", "null"])
def test_malformed_metadata_is_rejected(raw: str) -> None:
    with pytest.raises(InvalidDispatchMetadata):
        parse_dispatch_metadata(raw)


@pytest.mark.parametrize("name", REQUIRED_FIELDS)
def test_each_required_field_is_required(name: str) -> None:
    document = make_metadata()
    del document[name]
    with pytest.raises(InvalidDispatchMetadata, match=name):
        parse_dispatch_metadata(json.dumps(document))


@pytest.mark.parametrize("name", REQUIRED_FIELDS)
@pytest.mark.parametrize("value", [None, 7, ["a"], {"a": 1}, True])
def test_fields_must_be_strings(name: str, value: object) -> None:
    with pytest.raises(InvalidDispatchMetadata, match=f"{name} is not a string"):
        parse_dispatch_metadata(json.dumps(make_metadata(**{name: value})))


@pytest.mark.parametrize("name", REQUIRED_FIELDS)
def test_fields_must_not_be_empty(name: str) -> None:
    with pytest.raises(InvalidDispatchMetadata, match=f"{name} is empty"):
        parse_dispatch_metadata(json.dumps(make_metadata(**{name: ""})))


def test_oversized_metadata_is_rejected_before_parsing() -> None:
    raw = json.dumps(make_metadata(padding="x" * MAX_METADATA_BYTES))
    with pytest.raises(InvalidDispatchMetadata, match="oversized"):
        parse_dispatch_metadata(raw)


def test_deeply_nested_metadata_is_rejected() -> None:
    with pytest.raises(InvalidDispatchMetadata):
        parse_dispatch_metadata("[" * 4000 + "]" * 4000)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("credential", "a" * 5000),
        ("session_id", "s" * 129),
        ("participant_identity", "u" * 257),
        ("retention_class", "r" * 33),
    ],
)
def test_overlong_fields_are_rejected(name: str, value: str) -> None:
    with pytest.raises(InvalidDispatchMetadata, match=f"{name} is too long"):
        parse_dispatch_metadata(json.dumps(make_metadata(**{name: value})))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("session_id", "../admin"),
        ("session_id", "a/b"),
        ("session_id", "sess 1"),
        ("decision_id", "dec\n1"),
        ("participant_identity", "user\r\nX-Injected: 1"),
        ("participant_identity", " leading-space"),
        ("participant_identity", "usér"),
        ("retention_class", "Standard"),
        ("credential", "Bearer abc"),
        ("credential", "abc\ndef"),
    ],
)
def test_values_outside_the_alphabet_are_rejected(name: str, value: str) -> None:
    with pytest.raises(InvalidDispatchMetadata, match=f"{name} has invalid characters"):
        parse_dispatch_metadata(json.dumps(make_metadata(**{name: value})))


def test_rejection_reasons_never_contain_values() -> None:
    secret = "s3cr3t" * 1000
    with pytest.raises(InvalidDispatchMetadata) as caught:
        parse_dispatch_metadata(json.dumps(make_metadata(credential=secret)))
    assert "s3cr3t" not in str(caught.value)
