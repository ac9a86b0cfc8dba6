"""Shared base for our Presidio recognizers and the keyword-context helper they use.

Presidio's own context enhancer needs lemmas (our pipeline is NER-only) and can only raise
scores. Our recognizers need the opposite too: a nearby "order number" must *stop* a seven
digit run being called a phone number. So each recognizer asks :func:`nearest_context` for
the closest keyword category before a match and decides with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from control_plane.privacy.redaction.types import EntityType

# Keyword categories; the nearest keyword before a match wins. "negative" marks identifiers
# that are not personal data (order, ticket, part numbers ...).
_CONTEXT_WORDS: dict[str, str] = {
    "phone": r"area\s+code|phone|cell|cellphone|mobile|call|callback|reach|text|landline|fax|dial",
    "card": r"card|visa|mastercard|master\s+card|amex|american\s+express|discover|credit|debit",
    "ssn": r"social|ssn|s\s?s\s?n|security\s+number",
    "bank": r"account|acct|routing|aba|checking|savings|deposit|wire",
    "dob": r"born|birth|dob|d\s?o\s?b|birthday|birthdate",
    "iban": r"iban",
    "negative": (
        r"order|confirmation|ticket|case|reference|tracking|invoice|zip|extension|ext|model|"
        r"serial|part|member|group|policy|claim|po|vendor|flight|room|code|pin|warranty|"
        r"id|version|truck"
    ),
}
_CONTEXT = re.compile(
    "|".join(rf"\b(?P<{name}>{words})\b" for name, words in _CONTEXT_WORDS.items()),
    re.IGNORECASE,
)


def wordset(words: str) -> frozenset[str]:
    """A frozen set of the whitespace-separated words (keeps long word lists readable)."""
    return frozenset(words.split())


@dataclass(frozen=True, slots=True)
class Context:
    """The nearest keyword category before a match and how far back its keyword ends."""

    category: str | None
    distance: int


def nearest_context(text: str, start: int, *, window: int = 60) -> Context:
    """Return the category of the last context keyword in the window before ``start``."""
    lo = max(0, start - window)
    last: re.Match[str] | None = None
    for match in _CONTEXT.finditer(text, lo, start):
        last = match
    if last is None or last.lastgroup is None:
        return Context(None, window)
    return Context(last.lastgroup, start - last.end())


@dataclass(frozen=True, slots=True)
class Finding:
    """A span found on the normalised text, before it is mapped back."""

    type: EntityType
    start: int
    end: int
    score: float


class SpanRecognizer(EntityRecognizer):
    """A Presidio recognizer whose subclasses yield :class:`Finding` objects."""

    ENTITY_TYPES: tuple[EntityType, ...] = ()

    def __init__(self) -> None:
        super().__init__(
            supported_entities=[t.value for t in self.ENTITY_TYPES],
            name=type(self).__name__,
            supported_language="en",
        )

    def load(self) -> None:
        """Nothing to load: patterns are compiled at import."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        """Run :meth:`find` and wrap its findings as Presidio results."""
        meta = {
            RecognizerResult.RECOGNIZER_NAME_KEY: type(self).__name__,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
        }
        wanted = set(entities)
        return [
            RecognizerResult(f.type.value, f.start, f.end, f.score, recognition_metadata=meta)
            for f in self.find(text, nlp_artifacts)
            if f.type.value in wanted and f.end > f.start
        ]

    def find(self, text: str, nlp_artifacts: NlpArtifacts | None) -> Iterator[Finding]:
        """Yield the spans this recognizer finds in the normalised text."""
        raise NotImplementedError
