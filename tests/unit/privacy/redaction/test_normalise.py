"""The spoken-number normaliser and its offset map back to the original text."""

from __future__ import annotations

import pytest

from control_plane.privacy.redaction.normalise import normalise

CASES = [
    ("five five five one two one two", "5551212"),
    ("my number is 555 one two one two ok", "my number is 555 1212 ok"),
    ("seven oh eight double five three one two oh four", "7085531204"),
    ("triple seven", "777"),
    ("double oh seven", "007"),
    ("twelve thirty four Elm Street", "1234 Elm Street"),
    ("eight hundred, five five five, oh one nine nine", "800, 555, 0199"),
    ("one eight hundred four six nine three two two one", "18004693221"),
    ("three thousand one hundred Sunset Blvd", "3100 Sunset Blvd"),
    ("two thousand and five", "2005"),
    ("one thousand two hundred and six dollars", "1206 dollars"),
    ("four hundred twelve south broadway", "412 south broadway"),
    ("twenty-five", "25"),
    ("twenty oh five", "2005"),
    ("oh three fifteen eighty five", "031585"),
    ("March twenty third nineteen eighty five", "March 23rd 1985"),
    ("the fourteenth of February", "the 14th of February"),
    ("one ninety two dot one sixty eight dot zero dot one", "192.168.0.1"),
    ("five five five dash six two dash one one one one", "555-62-1111"),
    ("five point nine nine percent", "5.99 percent"),
    ("nine four one, five five five", "941, 555"),
]

UNCHANGED = [
    "J O H N",  # a spelled name: "O" is a letter here, not zero
    "Oh, that's fine.",
    "double what I usually pay",
    "the first time, a second look",
    "a hundred reasons",
    "4111 1111 1111 1111",
    "",
    "john dot smith at gmail dot com",
]


@pytest.mark.parametrize(("spoken", "written"), CASES)
def test_spoken_numbers_become_digits(spoken: str, written: str) -> None:
    assert normalise(spoken).text == written


@pytest.mark.parametrize("text", UNCHANGED)
def test_text_without_spoken_numbers_is_unchanged(text: str) -> None:
    norm = normalise(text)
    assert norm.text == text
    if text:
        assert norm.to_original(0, len(text)) == (0, len(text))


@pytest.mark.parametrize(("spoken", "_written"), CASES)
def test_every_normalised_span_maps_inside_the_original(spoken: str, _written: str) -> None:
    norm = normalise(spoken)
    for start in range(len(norm.text)):
        for end in range(start + 1, len(norm.text) + 1):
            a, b = norm.to_original(start, end)
            assert 0 <= a < b <= len(spoken)


def test_a_digit_span_maps_back_to_exactly_its_words() -> None:
    text = "call me on five five five one two one two tonight"
    norm = normalise(text)
    start = norm.text.index("5551212")
    a, b = norm.to_original(start, start + 7)
    assert text[a:b] == "five five five one two one two"
    # a sub-span maps to whole words, never into the middle of one
    a, b = norm.to_original(start + 3, start + 5)
    assert text[a:b] == "one two"


def test_round_trip_original_span_normalises_to_the_same_digits() -> None:
    text = "it's four one five, two one three, eight eight four two, thanks"
    norm = normalise(text)
    start = norm.text.index("415")
    end = norm.text.index("8842") + 4
    a, b = norm.to_original(start, end)
    assert normalise(text[a:b]).text == norm.text[start:end]


def test_verbatim_text_keeps_exact_offsets_around_conversions() -> None:
    text = "Elm Street is at twelve thirty four, right?"
    norm = normalise(text)
    assert norm.text == "Elm Street is at 1234, right?"
    assert norm.to_original(0, 10) == (0, 10)
    i = norm.text.index(", right")
    assert text[slice(*norm.to_original(i, len(norm.text)))] == ", right?"


def test_out_of_range_span_is_rejected() -> None:
    norm = normalise("five five")
    with pytest.raises(ValueError, match="outside"):
        norm.to_original(0, 10)
    with pytest.raises(ValueError, match="outside"):
        norm.to_original(1, 1)
