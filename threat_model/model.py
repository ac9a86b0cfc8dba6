"""Types of the threat model."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Stride(StrEnum):
    SPOOFING = "Spoofing"
    TAMPERING = "Tampering"
    REPUDIATION = "Repudiation"
    INFORMATION_DISCLOSURE = "Information disclosure"
    DENIAL_OF_SERVICE = "Denial of service"
    ELEVATION_OF_PRIVILEGE = "Elevation of privilege"


@dataclass(frozen=True)
class Threat:
    """One threat: what could go wrong, where, what stops it, and which tests prove it.

    ``tests`` are pytest node ids without parameters (``path::function``); the suite
    checks that each exists.
    """

    id: str
    title: str
    category: Stride
    asset: str
    entry_point: str
    mitigation: str
    tests: tuple[str, ...]
    references: tuple[str, ...] = ()
