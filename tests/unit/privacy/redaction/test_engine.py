"""Redactor results, span merging, placeholders and input limits."""

from __future__ import annotations

import pickle

import pytest

from control_plane.privacy.redaction import Entity, EntityType, PlaceholderMap, Redactor
from control_plane.privacy.redaction.errors import RedactionInputInvalid, RedactorUnavailable
from control_plane.privacy.redaction.placeholder import canonical_value
from control_plane.privacy.redaction.spans import merge_spans

T = EntityType


def test_redact_replaces_with_type_and_reports_original_offsets(redactor: Redactor) -> None:
    text = "Hi, my name is Grace Kim, call me on five five five, one two one two."
    result = redactor.redact(text)
    assert result.redacted == "Hi, my name is <PERSON>, call me on <PHONE_NUMBER>."
    assert [(e.type, text[e.start : e.end]) for e in result.entities] == [
        (T.PERSON, "Grace Kim"),
        (T.PHONE_NUMBER, "five five five, one two one two"),
    ]
    assert dict(result.counts) == {"PERSON": 1, "PHONE_NUMBER": 1}
    assert all(0 < e.score <= 1 for e in result.entities)


def test_result_is_frozen_and_picklable(redactor: Redactor) -> None:
    result = redactor.redact("my SSN is 078-05-1120")
    with pytest.raises(AttributeError):
        result.redacted = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        result.counts["US_SSN"] = 2  # type: ignore[index]
    assert pickle.loads(pickle.dumps(result)) == result  # noqa: S301  # our own bytes


def test_text_without_pii_is_returned_unchanged(redactor: Redactor) -> None:
    text = "We're open nine to five, Monday through Saturday."
    result = redactor.redact(text)
    assert (result.redacted, result.entities, dict(result.counts)) == (text, (), {})


def test_redact_many_matches_redact(redactor: Redactor) -> None:
    texts = [
        "my email is john dot smith at gmail dot com",
        "",
        "card 4111 1111 1111 1111",
        "nothing to see here",
    ]
    assert redactor.redact_many(texts) == [redactor.redact(t) for t in texts]


def test_consistent_placeholders_within_a_session(redactor: Redactor) -> None:
    session = PlaceholderMap()
    first = redactor.redact("This is Priya Raman, my number is 555-867-5309.", placeholders=session)
    second = redactor.redact(
        "Thanks Priya Raman. Sorry, call five five five, eight six seven, five three oh nine.",
        placeholders=session,
    )
    third = redactor.redact("My husband Marcus will call.", placeholders=session)
    assert first.redacted == "This is <PERSON_1>, my number is <PHONE_NUMBER_1>."
    assert "<PERSON_1>" in second.redacted
    assert "<PHONE_NUMBER_1>" in second.redacted
    assert third.redacted == "My husband <PERSON_2> will call."
    other_session = PlaceholderMap()
    assert redactor.redact("Hi Marcus.", placeholders=other_session).redacted == "Hi <PERSON_1>."


def test_placeholder_map_holds_no_raw_values() -> None:
    session = PlaceholderMap()
    assert session.placeholder_for(T.EMAIL_ADDRESS, "john dot smith at gmail dot com") == (
        "<EMAIL_ADDRESS_1>"
    )
    assert session.placeholder_for(T.EMAIL_ADDRESS, "John.Smith@gmail.com") == "<EMAIL_ADDRESS_1>"
    assert session.placeholder_for(T.PERSON, "J O H N") == session.placeholder_for(T.PERSON, "John")
    assert "john" not in repr(vars(session)).lower()
    assert len(session) == 2


def test_placeholder_map_is_bounded() -> None:
    session = PlaceholderMap(max_values=1)
    assert session.placeholder_for(T.PERSON, "Ann") == "<PERSON_1>"
    assert session.placeholder_for(T.PERSON, "Bob") == "<PERSON>"
    assert session.placeholder_for(T.PERSON, "Ann") == "<PERSON_1>"


def test_canonical_values_join_spoken_and_written_forms() -> None:
    assert canonical_value(T.PHONE_NUMBER, "five five five one two one two") == "5551212"
    assert canonical_value(T.PHONE_NUMBER, "555-1212") == "5551212"
    assert canonical_value(T.EMAIL_ADDRESS, "a dot b at c dot com") == "abccom"


def test_overlapping_spans_merge_into_their_union_with_the_best_type() -> None:
    merged = merge_spans(
        [
            Entity(T.PERSON, 10, 18, 0.85),
            Entity(T.EMAIL_ADDRESS, 10, 40, 0.9),
            Entity(T.PHONE_NUMBER, 38, 50, 0.7),
            Entity(T.US_SSN, 60, 70, 0.9),
        ]
    )
    assert merged == [Entity(T.EMAIL_ADDRESS, 10, 50, 0.9), Entity(T.US_SSN, 60, 70, 0.9)]


def test_equal_scores_prefer_the_widest_span() -> None:
    merged = merge_spans([Entity(T.PERSON, 0, 4, 0.8), Entity(T.STREET_ADDRESS, 0, 20, 0.8)])
    assert merged == [Entity(T.STREET_ADDRESS, 0, 20, 0.8)]


def test_adjacent_spans_stay_separate() -> None:
    spans = [Entity(T.PERSON, 0, 4, 0.8), Entity(T.PERSON, 4, 9, 0.8)]
    assert merge_spans(spans) == spans


@pytest.mark.parametrize("bad", [None, 42, b"bytes", ["list"]])
def test_non_string_input_is_rejected(redactor: Redactor, bad: object) -> None:
    with pytest.raises(RedactionInputInvalid, match="string"):
        redactor.redact(bad)  # type: ignore[arg-type]


def test_oversized_input_is_rejected_without_echoing_it(redactor: Redactor) -> None:
    text = "é" * 9000  # 9000 characters but 18000 UTF-8 bytes
    with pytest.raises(RedactionInputInvalid) as info:
        redactor.redact(text)
    assert "é" not in str(info.value)
    assert info.value.status == 422
    redactor.redact("a" * 16 * 1024)  # exactly at the limit is fine


def test_pipeline_is_ner_only(redactor: Redactor) -> None:
    assert redactor.pipeline == ("ner",)


def test_a_missing_model_fails_closed_without_downloading() -> None:
    with pytest.raises(RedactorUnavailable, match="not installed"):
        Redactor(model="en_core_web_nonexistent_model")
