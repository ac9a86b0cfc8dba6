"""Properties of the spoken-number normaliser on arbitrary text (Hypothesis): it never
raises, and every normalised character maps back into the original text, in order, so a
span found on the normalised text redacts the words it came from (issue 13)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from control_plane.privacy.redaction.normalise import normalise
from tests.support.properties import PROPERTY

_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "twenty",
    "thirty",
    "ninety",
    "hundred",
    "thousand",
    "first",
    "second",
    "third",
    "twentieth",
    "oh",
    "o",
    "double",
    "triple",
    "dot",
    "point",
    "dash",
    "hyphen",
    "slash",
    "and",
    "call",
    "me",
    "at",
    "Five",
    "NINE",
    "555",
    "42",
    "-",
    ",",
    ".",
    ";",
    "\n",
    "\t",
]
TRANSCRIPTS = st.lists(
    st.sampled_from([*_WORDS, " ", "  ", "-", " - "]) | st.text(max_size=6), max_size=40
).map("".join) | st.text(max_size=200)


@PROPERTY
@given(text=TRANSCRIPTS)
def test_every_normalised_character_maps_into_the_original_in_order(text: str) -> None:
    result = normalise(text)

    assert result.original == text
    if not result.starts:  # nothing rewritten: the text is its own map
        assert result.text == text
        return
    assert len(result.starts) == len(result.ends) == len(result.text)
    assert all(0 <= s < e <= len(text) for s, e in zip(result.starts, result.ends, strict=True))
    assert list(result.starts) == sorted(result.starts)
    assert list(result.ends) == sorted(result.ends)
    # A character copied over (its span is one original character) is that character.
    for i, (s, e) in enumerate(zip(result.starts, result.ends, strict=True)):
        if e - s == 1 and not text[s].isalpha():
            assert result.text[i] == text[s]


@PROPERTY
@given(text=TRANSCRIPTS, data=st.data())
def test_any_span_of_the_normalised_text_maps_to_a_covering_span(
    text: str, data: st.DataObject
) -> None:
    result = normalise(text)
    if not result.text:
        return
    start = data.draw(st.integers(min_value=0, max_value=len(result.text) - 1))
    end = data.draw(st.integers(min_value=start + 1, max_value=len(result.text)))

    a, b = result.to_original(start, end)

    assert 0 <= a < b <= len(text)
    # Every character of the span comes from inside the mapped original span.
    if result.starts:
        assert all(a <= result.starts[i] and result.ends[i] <= b for i in range(start, end))


@PROPERTY
@given(text=st.text(alphabet=st.characters(exclude_categories=["L"]), max_size=200))
def test_text_without_letters_is_left_alone(text: str) -> None:
    assert normalise(text).text == text


@PROPERTY
@given(digits=st.lists(st.integers(min_value=0, max_value=9), min_size=1, max_size=12))
def test_spoken_digit_runs_become_the_digits(digits: list[int]) -> None:
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    text = "call " + " ".join(names[d] for d in digits) + " now"

    result = normalise(text)

    assert result.text == "call " + "".join(map(str, digits)) + " now"
    span = result.to_original(5, 5 + len(digits))
    assert text[span[0] : span[1]] == " ".join(names[d] for d in digits)
