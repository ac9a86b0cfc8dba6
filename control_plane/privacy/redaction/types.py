"""Frozen value types of the redaction engine."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class EntityType(StrEnum):
    """The PII types the redactor finds; the value is the placeholder label."""

    PERSON = "PERSON"
    PHONE_NUMBER = "PHONE_NUMBER"
    EMAIL_ADDRESS = "EMAIL_ADDRESS"
    CREDIT_CARD = "CREDIT_CARD"
    US_SSN = "US_SSN"
    STREET_ADDRESS = "STREET_ADDRESS"
    DATE_OF_BIRTH = "DATE_OF_BIRTH"
    BANK_ACCOUNT = "BANK_ACCOUNT"
    IP_ADDRESS = "IP_ADDRESS"
    IBAN = "IBAN"
    # The whole segment, masked because the engine failed on it (fail closed, issue 15).
    REDACTION_FAILED = "REDACTION_FAILED"


@dataclass(frozen=True, slots=True)
class Entity:
    """One detected span; ``start``/``end`` index the original (un-normalised) text."""

    type: EntityType
    start: int
    end: int
    score: float


@dataclass(frozen=True, slots=True)
class RedactionResult:
    """The redacted text, the spans that were replaced and a count per entity type."""

    redacted: str
    entities: tuple[Entity, ...]
    counts: Mapping[str, int]

    def __reduce__(self) -> tuple[object, tuple[str, tuple[Entity, ...], dict[str, int]]]:
        """Pickle support (for worker processes): a read-only mapping is not picklable."""
        return _rebuild_result, (self.redacted, self.entities, dict(self.counts))


def _rebuild_result(
    redacted: str, entities: tuple[Entity, ...], counts: dict[str, int]
) -> RedactionResult:
    return RedactionResult(redacted, entities, MappingProxyType(counts))
