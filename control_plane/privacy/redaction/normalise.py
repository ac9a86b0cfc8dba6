"""Spoken-number normaliser: word-number runs become digits, with a map back to the original.

Pattern recognizers only see digits, so "five five five one two one two" would leak (see
peers-and-standards §4). :func:`normalise` rewrites runs of number words ("oh", "double five",
"twelve thirty four", "eight hundred", "twenty third") into digits and spoken separators
between numbers ("dot", "dash", "slash", "point") into symbols. Every normalised character
remembers the original span it came from, so a span found on the normalised text maps back
to a span of the original that covers all the words it was made from.

Rules: whitespace between two word-derived pieces is dropped ("five five" -> "55"); any
other gap is kept verbatim ("555 one two" -> "555 12"; "five, five" -> "5, 5"). "oh"/"o"
count as zero only next to another number word; "double"/"triple" only before a digit word;
"first"/"second" only after a tens word ("twenty first"). An ordinal ends a run.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4,
    "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
}  # fmt: skip
_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_ORDINALS = {
    "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9,
    "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
    "twentieth": 20, "thirtieth": 30,
}  # fmt: skip
_LOW_ORDINALS = {"first": 1, "second": 2}
_ZERO_WORDS = frozenset({"oh", "o"})
_REPEAT = {"double": 2, "triple": 3}
_SEPARATOR_WORDS = {"dot": ".", "point": ".", "dash": "-", "hyphen": "-", "slash": "/"}
_TOKEN = re.compile(r"[A-Za-z]+|\d+")
_JOINABLE_GAP = re.compile(r"[ \t]+|[ \t]*-[ \t]*")


@dataclass(frozen=True, slots=True)
class _Token:
    word: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Piece:
    text: str
    start: int
    end: int
    kind: str  # "digits" (verbatim), "spoken", "zero" ("oh"/"o") or "sep"


def _suffix(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


@dataclass(frozen=True, slots=True)
class NormalisedText:
    """Normalised text plus, per character, the original span it stands for."""

    original: str
    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a non-empty span of the normalised text onto the original text."""
        if not 0 <= start < end <= len(self.text):
            raise ValueError("span outside the normalised text")
        if not self.starts:
            return start, end
        return self.starts[start], self.ends[end - 1]


class _RunParser:
    """Parses one run of joinable tokens into pieces; see the module rules."""

    def __init__(self, tokens: list[_Token], text: str) -> None:
        self.tokens = tokens
        self.text = text

    def joined(self, i: int) -> bool:
        """Whether token i+1 follows token i across a joinable gap."""
        if i + 1 >= len(self.tokens):
            return False
        gap = self.text[self.tokens[i].end : self.tokens[i + 1].start]
        return _JOINABLE_GAP.fullmatch(gap) is not None

    def word(self, i: int) -> str:
        return self.tokens[i].word if i < len(self.tokens) else ""

    def is_digit_word(self, i: int) -> bool:
        w = self.word(i)
        return w in _UNITS or w in _ZERO_WORDS or w in _REPEAT or w.isdigit()

    def small(self, i: int) -> tuple[int, int] | None:
        """Parse 1..99 (unit, teen, tens [unit]) at i: (value, next index)."""
        w = self.word(i)
        if w in _UNITS:
            return _UNITS[w], i + 1
        if w in _TEENS:
            return _TEENS[w], i + 1
        if w in _TENS:
            if self.joined(i) and self.word(i + 1) in _UNITS and self.word(i + 1) != "zero":
                return _TENS[w] + _UNITS[self.word(i + 1)], i + 2
            return _TENS[w], i + 1
        return None

    def absorbable(self, i: int) -> tuple[int, int] | None:
        """A 1..99 tail after "hundred"/"thousand", unless digits are being read one by one."""
        if self.word(i) == "and" and self.joined(i):
            i += 1
        got = self.small(i)
        if got is None:
            return None
        value, nxt = got
        if self.word(i) in _UNITS and self.joined(nxt - 1) and self.is_digit_word(nxt):
            return None
        return value, nxt

    def cardinal(self, i: int) -> tuple[str, int] | None:
        """Parse a cardinal with optional hundred/thousand; returns (digits, next)."""
        got = self.small(i)
        if got is None:
            return None
        value, nxt = got
        if self.joined(nxt - 1) and self.word(nxt) == "hundred" and value < 100:
            value, nxt = value * 100, nxt + 1
            tail = self.absorbable(nxt) if self.joined(nxt - 1) else None
            if tail:
                value, nxt = value + tail[0], tail[1]
        if self.joined(nxt - 1) and self.word(nxt) == "thousand" and value < 1000:
            value, nxt = value * 1000, nxt + 1
            rest = self.cardinal_after_thousand(nxt)
            if rest:
                value, nxt = value + rest[0], rest[1]
        return str(value), nxt

    def cardinal_after_thousand(self, i: int) -> tuple[int, int] | None:
        if not self.joined(i - 1):
            return None
        if self.word(i) == "and" and self.joined(i):
            i += 1
        got = self.small(i)
        if got and self.joined(got[1] - 1) and self.word(got[1]) == "hundred" and got[0] < 10:
            value, nxt = got[0] * 100, got[1] + 1
            tail = self.absorbable(nxt) if self.joined(nxt - 1) else None
            return (value + tail[0], tail[1]) if tail else (value, nxt)
        return self.absorbable(i)

    def item(self, i: int) -> tuple[str, int, bool] | None:
        """One piece at i: (text, next index, ends_run)."""
        w = self.word(i)
        if w.isdigit():
            return w, i + 1, False
        if w in _REPEAT and self.joined(i):
            d = self.word(i + 1)
            if d in _UNITS or d in _ZERO_WORDS:
                return str(_UNITS.get(d, 0)) * _REPEAT[w], i + 2, False
            return None
        if w in _ZERO_WORDS:
            return "0", i + 1, False
        if w in _ORDINALS:
            n = _ORDINALS[w]
            return f"{n}{_suffix(n)}", i + 1, True
        if w in _TENS and self.joined(i):
            nxt = self.word(i + 1)
            n = _ORDINALS.get(nxt, _LOW_ORDINALS.get(nxt, 0))
            if 0 < n < 10:
                return f"{_TENS[w] + n}{_suffix(n)}", i + 2, True
        got = self.cardinal(i)
        return (got[0], got[1], False) if got else None

    def run(self, i: int) -> tuple[list[_Piece], int]:
        """Parse a maximal run starting at i; empty if token i starts no number."""
        pieces: list[_Piece] = []
        while True:
            got = self.item(i)
            if got is None:
                break
            text, nxt, ends = got
            w = self.word(i)
            kind = "digits" if w.isdigit() else "zero" if w in _ZERO_WORDS else "spoken"
            pieces.append(_Piece(text, self.tokens[i].start, self.tokens[nxt - 1].end, kind))
            i = nxt
            if ends or not self.joined(i - 1):
                break
            sep = _SEPARATOR_WORDS.get(self.word(i))
            if sep and self.joined(i) and self.item(i + 1) is not None:
                tok = self.tokens[i]
                pieces.append(_Piece(sep, tok.start, tok.end, "sep"))
                i += 1
        if all(p.kind in ("zero", "sep") for p in pieces):
            return [], i
        return pieces, i


def normalise(text: str) -> NormalisedText:
    """Rewrite spoken numbers to digits, keeping a per-character map to the original."""
    tokens = [_Token(m.group().lower(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
    parser = _RunParser(tokens, text)
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    i = 0
    while i < len(tokens):
        pieces, nxt = parser.run(i)
        if all(p.kind == "digits" for p in pieces):
            i = max(nxt, i + 1)
            continue
        _copy(text, pos, pieces[0].start, out, starts, ends)
        for prev, piece in itertools.pairwise(pieces):
            if prev is pieces[0]:
                _emit(prev.text, prev.start, prev.end, out, starts, ends)
            _gap(text, prev, piece, out, starts, ends)
            _emit(piece.text, piece.start, piece.end, out, starts, ends)
        if len(pieces) == 1:
            _emit(pieces[0].text, pieces[0].start, pieces[0].end, out, starts, ends)
        pos = pieces[-1].end
        i = nxt
    if not out:
        return NormalisedText(text, text, (), ())
    _copy(text, pos, len(text), out, starts, ends)
    return NormalisedText(text, "".join(out), tuple(starts), tuple(ends))


def _gap(
    text: str, a: _Piece, b: _Piece, out: list[str], starts: list[int], ends: list[int]
) -> None:
    """Emit the gap between two pieces of a run: dropped, a "-" or copied verbatim."""
    if "sep" in (a.kind, b.kind):
        return
    if a.kind == "digits" or b.kind == "digits":
        _copy(text, a.end, b.start, out, starts, ends)
    elif "-" in text[a.end : b.start]:
        _emit("-", a.end, b.start, out, starts, ends)


def _copy(text: str, a: int, b: int, out: list[str], starts: list[int], ends: list[int]) -> None:
    out.append(text[a:b])
    starts.extend(range(a, b))
    ends.extend(range(a + 1, b + 1))


def _emit(piece: str, a: int, b: int, out: list[str], starts: list[int], ends: list[int]) -> None:
    out.append(piece)
    starts.extend([a] * len(piece))
    ends.extend([b] * len(piece))
