"""Identity value types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NewType

SubjectId = NewType("SubjectId", str)
"""Pseudonymous subject id (stable per user and tenant, unlinkable after erasure)."""


class SubjectStatus(StrEnum):
    """Where a subject stands. Only ``active`` may act; the others are locked for Cedar."""

    ACTIVE = "active"
    LOCKED = "locked"
    ERASING = "erasing"  # within the erasure's transaction; then the row is gone


class AuthMethod(StrEnum):
    BEARER = "bearer"
    BROWSER = "browser"


@dataclass(frozen=True)
class Principal:
    """Who is calling, as established from a verified IdP token or browser session.

    ``subject_id`` is a keyed pseudonym of (issuer, subject): stable, unlinkable without the
    pseudonym key, and the only subject identifier the rest of the system ever sees.
    """

    subject_id: SubjectId
    tenant: str
    groups: frozenset[str]
    email_verified: bool
    amr: tuple[str, ...]
    acr: str | None
    auth_time: datetime | None
    method: AuthMethod
    browser_session: str | None = None  # the session handle for browser principals


@dataclass(frozen=True)
class VerifiedClaims:
    """The claims of a token that passed every check (never logged, never stored)."""

    issuer: str
    subject: str
    claims: dict[str, object]
