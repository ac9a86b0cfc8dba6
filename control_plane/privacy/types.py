"""Privacy value types."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from control_plane.authz.engine import PolicySnapshot
from control_plane.config import PrivacySettings, RetentionSettings
from control_plane.crypto.keyring import KeyRing
from control_plane.privacy.redactor import TranscriptRedactor
from control_plane.risk.limiter import RateLimiter

REDACTED_FIELD = "transcript_segment.redacted"
RAW_FIELD = "transcript_segment.raw"
PLACEHOLDER_FIELD = "transcript_session.placeholders"


class Role(StrEnum):
    USER = "user"
    AGENT = "agent"


@dataclass(frozen=True)
class SegmentIn:
    """One segment as the worker sent it (already validated by the schema)."""

    role: Role
    text: str = field(repr=False)
    start_ms: int
    end_ms: int
    final: bool


@dataclass(frozen=True)
class PrivacyServices:
    """What the transcript and erasure paths need besides the transaction."""

    keys: KeyRing
    redactor: TranscriptRedactor
    policies: PolicySnapshot
    retention: RetentionSettings
    privacy: PrivacySettings
    limiter: RateLimiter
    rejection_audit_limit: str  # per worker: rejections audited (T-DOS-3)


@dataclass(frozen=True)
class TranscriptAccepted:
    session_id: str
    received: int
    stored: int
    ignored_non_final: int
    text_stored: bool
    entity_counts: Mapping[str, int]


@dataclass(frozen=True)
class FinalizeReport:
    session_id: str
    already_finalized: bool
    segments: int = 0
    rewritten: int = 0
    raw_destroyed: int = 0
    credentials_revoked: int = 0
    new_counts: Mapping[str, int] = field(default_factory=dict)
    held: bool = False
